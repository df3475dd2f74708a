//! The pure, IO-free core of the operator: domain types, MAC normalization, subnet matching, lease
//! selection, reconcile planning and error classification. Nothing here talks to Kea or Kubernetes,
//! so all of it is unit- and property-testable without a runtime.

pub mod annotation;
pub mod error_class;
pub mod lease_select;
pub mod mac;
pub mod marker;
pub mod model;
pub mod namespace;
pub mod planner;
pub mod status;
pub mod subnet_match;
pub mod sweep;

pub use mac::{Mac, MacError};
pub use model::{Host, HostSource, Lease, ServerId, Subnet, SubnetId};
