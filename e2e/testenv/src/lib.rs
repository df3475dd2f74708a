//! Real test environments: real ISC Kea 3.0.4 and a real Kubernetes API server, started from tests.
