//! The scenarios in the lane `E2E_LANE` names. They need built binaries (or images) and real
//! environments, so they are ignored by a plain `cargo test`; the lanes run them:
//! `just e2e-local`, `just e2e-real-kea`, `just e2e-containers`, and `just e2e` on kind
//! (docs/testing.md, "End-to-end").

use e2e::run::scenario;
use e2e::scenarios as s;

const WHY: &str = "e2e: run through just e2e-local / e2e-real-kea / e2e-containers";

macro_rules! scenarios {
    ($($name:ident => $module:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "e2e: run through just e2e-local / e2e-real-kea / e2e-containers"]
        async fn $name() {
            let _ = WHY;
            scenario(stringify!($module), s::$module::run).await;
        }
    )*};
}

scenarios! {
    s00_harness => harness,
    s01_happy_path => happy_path,
    s02_lease_later => lease_later,
    s03_spec_edits => spec_edits,
    s04_cleanup => cleanup,
    s05_failover => failover,
    s06_flaky => flaky,
    s07_auth => auth,
    s08_kea_restart => kea_restart,
    s09_conflicts => conflicts,
    s10_leader_election => leader_election,
    s11_crash_consistency => crash_consistency,
    s12_bad_input => bad_input,
    s13_rbac => rbac,
}
