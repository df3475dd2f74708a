//! Exponential backoff with jitter (SPEC §3: 100 ms initial, ×2, at most 30 s, 5 attempts).
//!
//! "Equal jitter": the n-th delay lies in `[d/2, d]` with `d = min(initial × factorⁿ, max)`. Half of
//! the delay is guaranteed, so a struggling Kea gets breathing room; the random half spreads the
//! retries of many reconciles that failed together.

use std::time::Duration;

use rand::Rng;

use crate::config::RetryConfig;

/// The retry schedule of one call.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    config: RetryConfig,
}

impl Backoff {
    pub fn new(config: RetryConfig) -> Self {
        Backoff { config }
    }

    /// Attempts per call, the first included.
    pub fn attempts(&self) -> u32 {
        self.config.attempts.max(1)
    }

    /// The delay before retry number `retry` (0 = the wait after the first attempt), without jitter.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let initial = self.config.initial.as_secs_f64();
        let factor = self.config.factor.max(1.0);
        let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
        let seconds = (initial * factor.powi(exponent)).min(self.config.max_delay.as_secs_f64());
        Duration::try_from_secs_f64(seconds).unwrap_or(self.config.max_delay)
    }

    /// The jittered delay before retry number `retry`.
    pub fn delay(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(retry);
        let half = ceiling / 2;
        half + half.mul_f64(rng.random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn schedule_doubles_up_to_the_cap() {
        let b = Backoff::new(RetryConfig::default());
        let ceilings: Vec<u128> = (0..12).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(
            ceilings,
            vec![
                100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000
            ]
        );
        assert_eq!(b.attempts(), 5);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_within_half_and_full_ceiling() {
        let b = Backoff::new(RetryConfig::default());
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut distinct = std::collections::BTreeSet::new();
        for retry in 0..6 {
            for _ in 0..200 {
                let d = b.delay(retry, &mut rng);
                let c = b.ceiling(retry);
                assert!(d >= c / 2 && d <= c, "{d:?} outside [{:?}, {c:?}]", c / 2);
                distinct.insert(d);
            }
        }
        assert!(distinct.len() > 100, "jitter must vary the delays");
    }
}
