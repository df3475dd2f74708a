//! A circuit breaker per server (SPEC §3): after `failures` consecutive failed calls it opens and
//! refuses calls for `reset`; then it is half-open and admits `half_open_requests` trial calls; that
//! many successes close it, any failure opens it again.
//!
//! A *call* is one logical operation with its retries (the caller records its final outcome once),
//! so a burst of retries cannot open the breaker by itself. Time is `tokio::time::Instant`, so tests
//! drive it with paused time.

use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::time::Instant;

use crate::config::BreakerConfig;

/// The breaker's state, as exported in metrics (`0` closed, `1` half-open, `2` open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    pub fn as_gauge(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half-open",
            BreakerState::Open => "open",
        }
    }
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { admitted: u32, succeeded: u32 },
}

/// One server's breaker.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

/// Admission to send a call. Record its outcome with [`Permit::record`]; dropping it unrecorded (a
/// cancelled call) gives a half-open trial slot back.
#[must_use = "record the call's outcome"]
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    trial: bool,
    recorded: bool,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Breaker {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// The state now (an expired open period reads as half-open).
    pub fn state(&self) -> BreakerState {
        match *self.state.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether a call would be admitted now (without taking a slot).
    pub fn would_admit(&self) -> bool {
        match *self.state.lock() {
            State::Closed { .. } => true,
            State::Open { until } => Instant::now() >= until,
            State::HalfOpen { admitted, .. } => admitted < self.config.half_open_requests,
        }
    }

    /// Admits a call, or says how long until the next trial.
    pub fn try_acquire(&self) -> Result<Permit<'_>, Duration> {
        let mut state = self.state.lock();
        let now = Instant::now();
        let trial = match *state {
            State::Closed { .. } => false,
            State::Open { until } if now < until => return Err(until - now),
            State::Open { .. } => {
                *state = State::HalfOpen {
                    admitted: 1,
                    succeeded: 0,
                };
                true
            }
            State::HalfOpen { ref mut admitted, .. } => {
                if *admitted >= self.config.half_open_requests {
                    // All trial slots are taken; their outcome decides. Ask again shortly.
                    return Err(Duration::ZERO);
                }
                *admitted += 1;
                true
            }
        };
        Ok(Permit {
            breaker: self,
            trial,
            recorded: false,
        })
    }

    fn record(&self, success: bool, trial: bool) {
        let mut state = self.state.lock();
        let open = State::Open {
            until: Instant::now() + self.config.reset,
        };
        *state = match (&*state, success) {
            (State::Closed { .. }, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) => {
                let failures = failures + 1;
                if failures >= self.config.failures {
                    open
                } else {
                    State::Closed { failures }
                }
            }
            (State::HalfOpen { admitted, succeeded }, true) if trial => {
                let succeeded = succeeded + 1;
                if succeeded >= self.config.half_open_requests {
                    State::Closed { failures: 0 }
                } else {
                    State::HalfOpen {
                        admitted: *admitted,
                        succeeded,
                    }
                }
            }
            (State::HalfOpen { .. }, false) => open,
            // A call admitted while closed that ends after the breaker opened (or a stale trial)
            // does not change the newer state.
            (State::HalfOpen { admitted, succeeded }, true) => State::HalfOpen {
                admitted: *admitted,
                succeeded: *succeeded,
            },
            (State::Open { until }, _) => State::Open { until: *until },
        };
    }

    fn release_trial(&self) {
        if let State::HalfOpen { admitted, .. } = &mut *self.state.lock() {
            *admitted = admitted.saturating_sub(1);
        }
    }
}

impl Permit<'_> {
    /// Records the call's final outcome: `false` when the server failed (see
    /// [`KeaError::is_server_failure`](super::KeaError::is_server_failure)).
    pub fn record(mut self, success: bool) {
        self.recorded = true;
        self.breaker.record(success, self.trial);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded && self.trial {
            self.breaker.release_trial();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig {
            failures: 5,
            reset: Duration::from_secs(60),
            half_open_requests: 3,
        })
    }

    fn fail(b: &Breaker, n: usize) {
        for _ in 0..n {
            b.try_acquire().unwrap().record(false);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_five_consecutive_failures_and_fails_fast() {
        let b = breaker();
        fail(&b, 4);
        b.try_acquire().unwrap().record(true);
        fail(&b, 4);
        assert_eq!(b.state(), BreakerState::Closed, "a success resets the count");
        fail(&b, 1);
        assert_eq!(b.state(), BreakerState::Open);
        let wait = b.try_acquire().unwrap_err();
        assert_eq!(wait, Duration::from_secs(60));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(b.try_acquire().unwrap_err(), Duration::from_secs(1));
        assert!(!b.would_admit());
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_admits_three_trials_and_closes_after_three_successes() {
        let b = breaker();
        fail(&b, 5);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let p1 = b.try_acquire().unwrap();
        let p2 = b.try_acquire().unwrap();
        let p3 = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_err(), "only three trials");
        p1.record(true);
        p2.record(true);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        p3.record(true);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_trial_reopens_for_a_full_period() {
        let b = breaker();
        fail(&b, 5);
        tokio::time::advance(Duration::from_secs(61)).await;
        let trial = b.try_acquire().unwrap();
        trial.record(false);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.try_acquire().unwrap_err(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_trial_gives_its_slot_back() {
        let b = breaker();
        fail(&b, 5);
        tokio::time::advance(Duration::from_secs(60)).await;
        let held: Vec<_> = (0..3).map(|_| b.try_acquire().unwrap()).collect();
        assert!(b.try_acquire().is_err());
        drop(held);
        assert!(b.try_acquire().is_ok());
    }
}
