//! Failure injection: what can go wrong between a client and Kea, per server, scoped to one
//! command or all, for the next N requests or with a seeded probability.
//!
//! Faults are plain data (serde) so the admin API can set them: `{"command": "reservation-add",
//! "times": 3, "action": {"type": "http-status", "status": 503}}`.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::store::DbOutage;

/// What happens to a request hit by a fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FaultAction {
    /// Answer normally after `ms` plus a uniform jitter in `0..=jitter_ms`.
    Latency {
        /// Fixed delay.
        ms: u64,
        /// Maximum extra random delay.
        #[serde(default)]
        jitter_ms: u64,
    },
    /// Never answer (the connection stays open).
    Hang,
    /// Send part of the answer, then reset the connection (TCP RST).
    Reset,
    /// Answer with this HTTP status and the body Kea's HTTP layer uses for it
    /// (`{ "result": 503, "text": "Service Unavailable" }`; 401 also sends `WWW-Authenticate`).
    HttpStatus {
        /// 401, 403, 500, 503, ...
        status: u16,
    },
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// HTTP 200 with the JSON answer cut in half (Content-Length of the cut body).
    Truncated,
    /// Answer `[ { "result": R, "text": T } ]` without running the command.
    KeaResult {
        /// Result code.
        result: i64,
        /// Text.
        text: String,
        /// Optional arguments.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        arguments: Option<serde_json::Value>,
    },
    /// The daemon restarts while handling the request (the connection is reset; memory state
    /// is lost; it is back after `downtime_ms`).
    Restart {
        /// How long the server stays down.
        #[serde(default)]
        downtime_ms: u64,
    },
    /// Reset this connection and refuse new ones (listener closed) for `duration_ms`, or until
    /// the server is brought up again.
    Refuse {
        /// How long connections are refused (`None`: until `up`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// Cut the HA link (for `duration_ms`, or until healed); the request itself is answered.
    Partition {
        /// How long the partition lasts (`None`: until healed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// Take the hosts database away (for `duration_ms`, or until cleared); the request itself
    /// then meets the outage.
    DbOutage {
        /// Down (fast failures) or hang (no answers).
        #[serde(default = "default_outage")]
        mode: DbOutage,
        /// How long it lasts (`None`: until cleared).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
}

fn default_outage() -> DbOutage {
    DbOutage::Down
}

impl FaultAction {
    /// Short label used in the request log.
    pub fn label(&self) -> String {
        match self {
            FaultAction::Latency { ms, .. } => format!("latency:{ms}ms"),
            FaultAction::Hang => "hang".into(),
            FaultAction::Reset => "reset".into(),
            FaultAction::HttpStatus { status } => format!("http-status:{status}"),
            FaultAction::Garbage => "garbage".into(),
            FaultAction::Truncated => "truncated".into(),
            FaultAction::KeaResult { result, .. } => format!("kea-result:{result}"),
            FaultAction::Restart { .. } => "restart".into(),
            FaultAction::Refuse { .. } => "refuse".into(),
            FaultAction::Partition { .. } => "partition".into(),
            FaultAction::DbOutage { .. } => "db-outage".into(),
        }
    }

    fn is_terminal(&self) -> bool {
        !matches!(
            self,
            FaultAction::Latency { .. } | FaultAction::Partition { .. } | FaultAction::DbOutage { .. }
        )
    }
}

/// A fault and its trigger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// Only requests for this command (`None`: every request, including unparsable ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Only the next N matching requests (`None`: until cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Apply to each matching request with this probability (0..=1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Seed of the probability and jitter draws (deterministic runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// What to do.
    pub action: FaultAction,
}

impl Fault {
    /// A fault on every request until cleared.
    pub fn new(action: FaultAction) -> Self {
        Fault {
            command: None,
            times: None,
            probability: None,
            seed: None,
            action,
        }
    }

    /// Fixed latency.
    pub fn latency(d: Duration) -> Self {
        Self::new(FaultAction::Latency {
            ms: d.as_millis() as u64,
            jitter_ms: 0,
        })
    }

    /// Latency with jitter.
    pub fn latency_jitter(fixed: Duration, jitter: Duration) -> Self {
        Self::new(FaultAction::Latency {
            ms: fixed.as_millis() as u64,
            jitter_ms: jitter.as_millis() as u64,
        })
    }

    /// Never answer.
    pub fn hang() -> Self {
        Self::new(FaultAction::Hang)
    }

    /// Reset mid-response.
    pub fn reset() -> Self {
        Self::new(FaultAction::Reset)
    }

    /// An HTTP status with Kea's body for it.
    pub fn http_status(status: u16) -> Self {
        Self::new(FaultAction::HttpStatus { status })
    }

    /// A non-JSON body.
    pub fn garbage() -> Self {
        Self::new(FaultAction::Garbage)
    }

    /// A truncated JSON body.
    pub fn truncated() -> Self {
        Self::new(FaultAction::Truncated)
    }

    /// A forced Kea answer.
    pub fn kea_result(result: i64, text: &str) -> Self {
        Self::new(FaultAction::KeaResult {
            result,
            text: text.to_string(),
            arguments: None,
        })
    }

    /// A restart with this downtime.
    pub fn restart(downtime: Duration) -> Self {
        Self::new(FaultAction::Restart {
            downtime_ms: downtime.as_millis() as u64,
        })
    }

    /// Refuse connections for a while (`None`: until brought up).
    pub fn refuse(duration: Option<Duration>) -> Self {
        Self::new(FaultAction::Refuse {
            duration_ms: duration.map(|d| d.as_millis() as u64),
        })
    }

    /// Partition the HA pair for a while (`None`: until healed).
    pub fn partition(duration: Option<Duration>) -> Self {
        Self::new(FaultAction::Partition {
            duration_ms: duration.map(|d| d.as_millis() as u64),
        })
    }

    /// A hosts database outage (`None`: until cleared).
    pub fn db_outage(mode: DbOutage, duration: Option<Duration>) -> Self {
        Self::new(FaultAction::DbOutage {
            mode,
            duration_ms: duration.map(|d| d.as_millis() as u64),
        })
    }

    /// Scope to one command.
    pub fn on_command(mut self, command: &str) -> Self {
        self.command = Some(command.to_string());
        self
    }

    /// Only the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Apply with a probability, drawn from a seeded generator.
    pub fn with_probability(mut self, p: f64, seed: u64) -> Self {
        self.probability = Some(p);
        self.seed = Some(seed);
        self
    }
}

/// A fault as listed by the admin API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultView {
    /// Id (for removal).
    pub id: u64,
    /// The fault.
    pub fault: Fault,
    /// Matching requests left (`None`: unlimited).
    pub remaining: Option<u32>,
    /// How many times it was applied.
    pub applied: u64,
}

#[derive(Debug)]
struct Active {
    id: u64,
    fault: Fault,
    remaining: Option<u32>,
    rng: StdRng,
    applied: u64,
}

/// What the faults decided for one request.
#[derive(Debug, Default)]
pub struct Decision {
    /// Total added latency.
    pub latency: Duration,
    /// The action that replaces the normal answer, if any.
    pub terminal: Option<FaultAction>,
    /// Actions with side effects that leave the request to be answered (partition, outage).
    pub side_effects: Vec<FaultAction>,
    /// Labels of every fault applied.
    pub labels: Vec<String>,
}

/// The faults of one server.
#[derive(Debug, Default)]
pub struct FaultEngine {
    active: Vec<Active>,
    next_id: u64,
}

impl FaultEngine {
    /// Add a fault; returns its id.
    pub fn add(&mut self, fault: Fault) -> u64 {
        self.next_id += 1;
        let rng = match fault.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::seed_from_u64(rand::random()),
        };
        self.active.push(Active {
            id: self.next_id,
            remaining: fault.times,
            fault,
            rng,
            applied: 0,
        });
        self.next_id
    }

    /// Remove one fault.
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.active.len();
        self.active.retain(|a| a.id != id);
        before != self.active.len()
    }

    /// Remove every fault.
    pub fn clear(&mut self) {
        self.active.clear();
    }

    /// The active faults.
    pub fn list(&self) -> Vec<FaultView> {
        self.active
            .iter()
            .map(|a| FaultView {
                id: a.id,
                fault: a.fault.clone(),
                remaining: a.remaining,
                applied: a.applied,
            })
            .collect()
    }

    /// True when no fault is active (the hot path skips the engine then).
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// Decide for one request.
    pub fn decide(&mut self, command: Option<&str>) -> Decision {
        let mut d = Decision::default();
        for a in &mut self.active {
            if a.fault.command.as_deref().is_some_and(|c| Some(c) != command) {
                continue;
            }
            if a.remaining == Some(0) {
                continue;
            }
            if let Some(p) = a.fault.probability
                && a.rng.random::<f64>() >= p
            {
                continue;
            }
            if let Some(r) = &mut a.remaining {
                *r -= 1;
            }
            a.applied += 1;
            let action = a.fault.action.clone();
            d.labels.push(action.label());
            match &action {
                FaultAction::Latency { ms, jitter_ms } => {
                    let jitter = if *jitter_ms > 0 {
                        a.rng.random_range(0..=*jitter_ms)
                    } else {
                        0
                    };
                    d.latency += Duration::from_millis(ms + jitter);
                }
                _ if action.is_terminal() => {
                    if d.terminal.is_none() {
                        d.terminal = Some(action);
                    }
                }
                _ => d.side_effects.push(action),
            }
        }
        self.active.retain(|a| a.remaining != Some(0));
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_counted_faults_run_out() {
        let mut e = FaultEngine::default();
        e.add(Fault::http_status(503).on_command("reservation-add").times(2));
        assert!(e.decide(Some("reservation-get")).terminal.is_none());
        assert_eq!(
            e.decide(Some("reservation-add")).terminal,
            Some(FaultAction::HttpStatus { status: 503 })
        );
        assert!(e.decide(Some("reservation-add")).terminal.is_some());
        assert!(e.decide(Some("reservation-add")).terminal.is_none());
        assert!(e.is_empty());
    }

    #[test]
    fn probability_is_reproducible_with_a_seed() {
        let run = || {
            let mut e = FaultEngine::default();
            e.add(Fault::hang().with_probability(0.3, 42));
            (0..200)
                .map(|_| e.decide(None).terminal.is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let hits = a.iter().filter(|x| **x).count();
        assert!((30..=90).contains(&hits), "{hits} hits of 200 at p=0.3");
    }

    #[test]
    fn latencies_add_up_and_jitter_stays_in_bounds() {
        let mut e = FaultEngine::default();
        e.add(Fault::latency(Duration::from_millis(10)));
        e.add(
            Fault::latency_jitter(Duration::from_millis(5), Duration::from_millis(5))
                .with_probability(1.0, 7),
        );
        for _ in 0..50 {
            let d = e.decide(Some("x"));
            assert!(d.latency >= Duration::from_millis(15) && d.latency <= Duration::from_millis(20));
            assert!(d.terminal.is_none());
        }
    }

    #[test]
    fn serde_shape_is_stable() {
        let f = Fault::http_status(503).on_command("reservation-add").times(3);
        let j = serde_json::to_value(&f).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"command": "reservation-add", "times": 3, "action": {"type": "http-status", "status": 503}})
        );
        let back: Fault = serde_json::from_value(j).unwrap();
        assert_eq!(back, f);
        let db: Fault = serde_json::from_value(serde_json::json!({"action": {"type": "db-outage"}})).unwrap();
        assert_eq!(
            db.action,
            FaultAction::DbOutage {
                mode: DbOutage::Down,
                duration_ms: None
            }
        );
    }
}
