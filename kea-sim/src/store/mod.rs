//! Indexed state: host reservations (memory and database sources) and leases.

pub mod hostdb;
pub mod hosts;
pub mod leases;

pub use hostdb::{DbOutage, HostDb, HostDbRegistry};
pub use hosts::{DB_DUPLICATE, HostId, HostStore};
pub use leases::LeaseStore;
