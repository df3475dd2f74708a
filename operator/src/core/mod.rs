//! The pure, IO-free core of the operator: domain types, MAC normalization, subnet matching, lease
//! selection, reconcile planning and error classification. Nothing here talks to Kea or Kubernetes,
//! so all of it is unit- and property-testable without a runtime.

pub mod mac;
pub mod model;

pub use mac::{Mac, MacError};
pub use model::{Host, HostSource, Lease, Subnet, SubnetId};
