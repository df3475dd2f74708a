//! kea-sim conformance against real Kea 3.0: every case in `tests/conformance/cases/` replayed
//! against the recorded real-Kea answers.
//!
//! - Always: every case replayed against kea-sim in process must give the recorded answers, and the
//!   case files are checked for consistency (names, configs, every request recorded).
//! - Real lane (real Kea present; required with `REQUIRE_REAL_ENV=1`): live real Kea must still
//!   give the recorded answers, so the recordings cannot drift from reality.
//! - `CONFORMANCE_RECORD=1` (`just conformance-record`): re-record every case from real Kea instead.
//!
//! `CONFORMANCE_FILTER=<substring>` limits the cases; `CONFORMANCE_JOBS` sets the parallelism.

#[path = "conformance/harness/mod.rs"]
mod harness;

use harness::case::load_all;
use harness::runner::{record_all, replay_all};
use harness::sim::Sim;
use harness::target::RealKea;

fn recorded_versions() -> Vec<String> {
    let mut v: Vec<String> = load_all()
        .expect("case files")
        .into_iter()
        .filter_map(|(_, f)| f.recorded_with)
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn case_files_are_complete_and_numerous() {
    let files = load_all().expect("case files parse");
    let cases: usize = files.iter().map(|(_, f)| f.cases.len()).sum();
    assert!(cases >= 120, "at least 120 conformance cases, found {cases}");
    let mut names = std::collections::HashSet::new();
    for (path, file) in &files {
        for case in &file.cases {
            assert!(
                names.insert(case.name.clone()),
                "duplicate case name {}",
                case.name
            );
            harness::case::resolve_config(&case.setup).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            for (i, step) in case.steps.iter().enumerate() {
                let is_request = step.request().is_some();
                assert_eq!(
                    is_request,
                    step.expect.is_some(),
                    "{} / {} step {i}: every request has a recorded answer, actions none",
                    path.display(),
                    case.name
                );
            }
        }
    }
    eprintln!(
        "conformance: {cases} cases in {} files, recorded with Kea {:?}",
        files.len(),
        recorded_versions()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kea_sim_gives_the_recorded_answers() {
    let recorded = recorded_versions();
    let report = replay_all::<Sim>().await.expect("cases load");
    eprintln!("conformance: recorded with Kea {recorded:?}");
    report.print("kea-sim");
    assert!(
        report.failures.is_empty(),
        "kea-sim differs from real Kea {recorded:?} in {} of {} cases (listed above)",
        report.failures.len(),
        report.cases
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kea_gives_the_recorded_answers() {
    if let Err(e) = RealKea::available() {
        testenv::skip_or_fail(&e);
        return;
    }
    let rootfs = testenv::kea::KeaRootfs::locate().expect("located above");
    let running = rootfs.version_number().expect("kea-dhcp4 -V");
    if std::env::var("CONFORMANCE_RECORD").is_ok_and(|v| v == "1") {
        let n = record_all::<RealKea>(&running)
            .await
            .unwrap_or_else(|e| panic!("recording failed: {e}"));
        eprintln!("conformance: recorded {n} cases from real Kea {running}");
        return;
    }
    let recorded = recorded_versions();
    eprintln!("conformance: recorded with Kea {recorded:?}, running Kea {running}");
    let report = replay_all::<RealKea>().await.expect("cases load");
    report.print(&format!("real Kea {running}"));
    if recorded != [running.clone()] {
        eprintln!(
            "conformance: the recordings come from Kea {recorded:?} but Kea {running} runs here; \
             re-record with `just conformance-record` after checking the differences above"
        );
    }
    assert!(
        report.failures.is_empty(),
        "real Kea differs from the recordings in {} cases",
        report.failures.len()
    );
}
