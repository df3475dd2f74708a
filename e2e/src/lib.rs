//! End-to-end harness and scenarios (see docs/testing.md).
