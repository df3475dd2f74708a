//! Polling with a deadline. Tests never sleep for an interval and hope: they poll for the condition
//! and fail with what was last seen when the deadline passes.

use std::time::{Duration, Instant};

/// One look at the world: done (with a value), or not yet (and what was seen, for the error).
#[derive(Debug)]
pub enum Probe<T> {
    Done(T),
    NotYet(String),
}

/// The condition did not hold in time.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {waited:?} waiting for {what}; last seen: {last}")]
pub struct Timeout {
    pub what: String,
    pub waited: Duration,
    pub last: String,
}

impl Timeout {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        "timeout"
    }
}

/// How often conditions are polled: fast enough to measure seconds-scale behaviour, slow enough
/// not to load the API server.
pub const POLL: Duration = Duration::from_millis(150);

/// Polls `probe` until it is done or `timeout` passes. An error from the probe ends the wait.
pub async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl AsyncFnMut() -> anyhow::Result<Probe<T>>,
) -> anyhow::Result<T> {
    let start = Instant::now();
    loop {
        let last = match probe().await? {
            Probe::Done(v) => return Ok(v),
            Probe::NotYet(seen) => seen,
        };
        if start.elapsed() >= timeout {
            return Err(Timeout {
                what: what.to_string(),
                waited: start.elapsed(),
                last,
            }
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Like [`eventually`] for a yes/no condition; `describe` says what was seen when it was no.
pub async fn until(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> anyhow::Result<Result<(), String>>,
) -> anyhow::Result<()> {
    eventually(what, timeout, async || {
        Ok(match check().await? {
            Ok(()) => Probe::Done(()),
            Err(seen) => Probe::NotYet(seen),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_value_once_done_and_reports_the_last_state_on_timeout() {
        let mut n = 0;
        let v = eventually("n to reach 3", Duration::from_secs(5), async || {
            n += 1;
            Ok(if n >= 3 {
                Probe::Done(n)
            } else {
                Probe::NotYet(format!("n={n}"))
            })
        })
        .await
        .expect("done");
        assert_eq!(v, 3);

        let err = until("never", Duration::from_millis(200), async || {
            Ok(Err("still no".into()))
        })
        .await
        .expect_err("times out");
        let text = err.to_string();
        assert!(text.contains("never") && text.contains("still no"), "{text}");
    }
}
