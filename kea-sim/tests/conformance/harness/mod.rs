//! The conformance harness shared by `tests/conformance.rs` and `tests/differential.rs`.
#![allow(
    dead_code,
    reason = "compiled into two test crates; each uses a different part"
)]

pub mod case;
pub mod http;
pub mod normalize;
pub mod ops;
pub mod runner;
pub mod sim;
pub mod target;
