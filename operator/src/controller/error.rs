//! Failures of a reconcile that the status cannot absorb: Kubernetes API calls (finalizers,
//! annotation, status) and objects the API server should never produce. Kea failures do not end up
//! here: they are recorded per interface and server in the status and decide the requeue.

use crate::core::planner::MissingMetadata;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    MissingMetadata(#[from] MissingMetadata),
    #[error("status of {0} kept changing under concurrent writers; retrying")]
    StatusConflict(String),
}

impl Error {
    /// Bounded label (`kea_operator_reconciliation_errors_total{error_type}`).
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(status)) if status.code == 409 => "kubernetes_conflict",
            Error::Kube(_) => "kubernetes",
            Error::MissingMetadata(_) => "missing_metadata",
            Error::StatusConflict(_) => "kubernetes_conflict",
        }
    }
}
