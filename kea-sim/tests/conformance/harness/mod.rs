//! The conformance harness shared by `tests/conformance.rs` and `tests/differential.rs`.

pub mod case;
pub mod http;
pub mod normalize;
pub mod runner;
pub mod target;
