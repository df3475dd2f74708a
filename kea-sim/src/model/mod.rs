//! The data Kea keeps: identifiers, host reservations, leases, subnets, option data.

pub mod host;
pub mod ident;
pub mod lease;
pub mod options;
pub mod subnet;

pub use host::{Host, HostView};
pub use ident::{IdentType, Identifier};
pub use lease::{Lease, LeaseOrigin, LeaseView};
pub use subnet::{Pool, Subnet};
