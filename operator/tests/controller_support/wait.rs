//! Polling with deadlines: the operator is asynchronous, so tests wait for a state, never for a time.

use std::time::Duration;

use tokio::time::Instant;

/// How long a state the operator reaches at once (one reconcile, one requeue) may take.
pub const DEADLINE: Duration = Duration::from_secs(20);
/// Between two looks.
const POLL: Duration = Duration::from_millis(100);

/// Polls `check` until it returns `Some`, or panics after `deadline` naming `what` and the last
/// thing `describe` said about the state.
pub async fn until<T>(
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => {
                if start.elapsed() > deadline {
                    panic!("timed out after {deadline:?} waiting for {what}; last seen: {last}");
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Checks that `check` keeps holding for `period` (a negative assertion: something must *not*
/// happen while the operator has every chance to do it).
pub async fn holds(what: &str, period: Duration, mut check: impl AsyncFnMut() -> Result<(), String>) {
    let start = Instant::now();
    while start.elapsed() < period {
        if let Err(broken) = check().await {
            panic!("{what} stopped holding after {:?}: {broken}", start.elapsed());
        }
        tokio::time::sleep(POLL).await;
    }
}
