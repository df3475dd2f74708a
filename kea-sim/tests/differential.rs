//! Differential testing: random command sequences (valid and invalid) run on fresh real Kea 3.0 and
//! kea-sim side by side; their normalized answers must be identical. proptest shrinks a
//! failing sequence to a minimal one.
//!
//! Runs in the real lane (real Kea present; required with `REQUIRE_REAL_ENV=1`) with a fixed budget:
//! `DIFFERENTIAL_CASES` sequences (default 32) of up to 25 requests.

#[path = "conformance/harness/mod.rs"]
mod harness;

use harness::case::{Action, Case, Partner};
use harness::http::Endpoint;
use harness::normalize::Substitutions;
use harness::ops::{Op, case_of, op};
use harness::runner::{CaseRun, json_diff, run_case};
use harness::sim::Sim;
use harness::target::{RealKea, Target};
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn budget() -> u32 {
    std::env::var("DIFFERENTIAL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

/// A readable account of where two runs of the same sequence differ.
fn differences(ops: &[Op], a: &CaseRun, b: &CaseRun, names: (&str, &str)) -> Option<String> {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            let mut out = String::new();
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if x == y {
                    continue;
                }
                let (x, y) = (
                    serde_json::to_value(x).unwrap_or_default(),
                    serde_json::to_value(y).unwrap_or_default(),
                );
                let mut d = Vec::new();
                json_diff(&x, &y, "answer", &mut d);
                out.push_str(&format!(
                    "step {i} {:?}:\n    ({} = expected, {} = got)\n",
                    ops[i], names.0, names.1
                ));
                for line in d {
                    out.push_str(&format!("    {line}\n"));
                }
            }
            (!out.is_empty()).then_some(out)
        }
        (a, b) => Some(format!("a run failed: {} = {a:?}, {} = {b:?}", names.0, names.1)),
    }
}

/// Compares `A` and `B` on `cases` random sequences (each on fresh servers); Err is proptest's
/// report of the shrunk, minimal failing sequence.
fn check<A: Target, B: Target>(cases: u32) -> Result<(), String> {
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 200,
        // Sequences are reported in full on failure; no regression file beside a `#[path]` module.
        failure_persistence: None,
        ..Config::default()
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let result = runner.run(&proptest::collection::vec(op(), 1..25), |ops| {
        let case = case_of("differential", &ops);
        let (a, b) = rt.block_on(async { tokio::join!(run_case::<A>(&case), run_case::<B>(&case)) });
        match differences(&ops, &a, &b, (A::NAME, B::NAME)) {
            None => Ok(()),
            Some(d) => Err(TestCaseError::fail(d)),
        }
    });
    result.map_err(|e| e.to_string())
}

/// Runs the comparison over the budget; panics with the minimal failing sequence.
fn run_property<A: Target, B: Target>(label: &str) {
    if let Err(e) = check::<A, B>(budget()) {
        panic!("{label}: {e}");
    }
    eprintln!("{label}: {} random sequences identical", budget());
}

/// Two fresh real Kea servers given the same sequence answer identically after normalization: the
/// normalization leaves nothing volatile, so any kea-sim difference is a real one.
#[test]
fn real_kea_is_deterministic_after_normalization() {
    if let Err(e) = RealKea::available() {
        testenv::skip_or_fail(&e);
        return;
    }
    run_property::<RealKea, RealKea>("real Kea vs real Kea");
}

/// kea-sim answers every random sequence exactly as real Kea does.
#[test]
fn kea_sim_matches_real_kea_on_random_sequences() {
    if let Err(e) = RealKea::available() {
        testenv::skip_or_fail(&e);
        return;
    }
    run_property::<RealKea, Sim>("real Kea vs kea-sim");
}

/// kea-sim forced to answer `reservation-add` wrongly: stands in for a simulator bug.
struct BrokenSim(Sim);

impl Target for BrokenSim {
    const NAME: &'static str = "kea-sim with a forced wrong result";

    async fn start(case: &Case, config: serde_json::Value) -> Result<Self, String> {
        let sim = Sim::start(case, config).await?;
        sim.inject(kea_sim::Fault::kea_result(3, "Host not found.").on_command("reservation-add"));
        Ok(BrokenSim(sim))
    }

    fn endpoint(&self, on: Partner) -> Result<Endpoint, String> {
        self.0.endpoint(on)
    }

    async fn act(&mut self, action: Action, on: Partner) -> Result<(), String> {
        self.0.act(action, on).await
    }

    fn substitutions(&self) -> Substitutions {
        self.0.substitutions()
    }
}

/// The comparison catches a wrong answer and shrinks the sequence to the one request that shows it.
#[test]
fn a_differing_simulator_is_caught_and_shrunk() {
    if let Err(e) = RealKea::available() {
        testenv::skip_or_fail(&e);
        return;
    }
    let failure = check::<RealKea, BrokenSim>(64).expect_err("a forced wrong result must be detected");
    assert!(failure.contains("ReservationAdd"), "{failure}");
    assert!(failure.contains("minimal failing input"), "{failure}");
    // Shrunk: the minimal sequence is a single reservation-add.
    assert_eq!(
        failure.matches("ReservationAdd {").count(),
        2,
        "one op in the input and one in the diff: {failure}"
    );
}
