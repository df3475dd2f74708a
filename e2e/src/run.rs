//! Running one scenario in the lane `E2E_LANE` names: timing, and the REQUIRE_REAL_ENV rule for a
//! missing environment (fail in CI, skip with the reason elsewhere).

use std::time::Instant;

use testenv::MissingEnvironment as _;

use crate::lane::Lane;
use crate::world::WorldError;

/// Runs `scenario` in the lane of `E2E_LANE`; panics (fails the test) on an error.
pub async fn scenario(name: &str, scenario: impl AsyncFnOnce(Lane) -> anyhow::Result<()>) {
    testenv::certs::install_crypto_provider();
    let lane = match Lane::from_env() {
        Ok(lane) => lane,
        Err(e) => panic!("{e}"),
    };
    let start = Instant::now();
    eprintln!("e2e[{lane}] {name}: start");
    if let Err(err) = scenario(lane).await {
        if let Some(world) = err.downcast_ref::<WorldError>()
            && world.is_missing_environment()
        {
            testenv::skip_or_fail(world);
            return;
        }
        panic!(
            "e2e[{lane}] {name} failed after {:.1}s: {err:#}",
            start.elapsed().as_secs_f64()
        );
    }
}
