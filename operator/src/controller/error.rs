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
    /// The API server refused a write made with an older resourceVersion: the reconcile worked from
    /// a copy the watch had not refreshed yet (typically our own previous writes). Not a failure:
    /// the reconcile runs again on the fresh object.
    pub fn is_stale_read(&self) -> bool {
        matches!(self, Error::Kube(kube::Error::Api(status)) if status.code == 409)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> Error {
        Error::Kube(kube::Error::Api(
            kube::core::Status::failure("refused", "Conflict")
                .with_code(code)
                .boxed(),
        ))
    }

    #[test]
    fn only_a_409_from_a_write_is_a_stale_read() {
        assert!(api(409).is_stale_read());
        assert_eq!(api(409).category(), "kubernetes_conflict");
        assert!(!api(500).is_stale_read());
        assert!(!api(404).is_stale_read());
        // Our own retries of the status gave up: a real failure, counted.
        assert!(!Error::StatusConflict("ns/nc".into()).is_stale_read());
    }
}
