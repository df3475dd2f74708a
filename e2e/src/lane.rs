//! Which lane a run is: where Kea and the operator run. Scenarios are written once and take the lane
//! as a parameter; the justfile recipes set `E2E_LANE`.

use std::fmt;

/// The variable the lane recipes set (`local`, `real-kea`, `containers`, `cluster`).
pub const LANE_VAR: &str = "E2E_LANE";

/// Where Kea and the operator run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// A kea-sim pair process and the operator binary as host processes (`just e2e-local`).
    Local,
    /// A real Kea 3.0.4 hot-standby pair in the provisioned root filesystem (`just e2e-real-kea`).
    RealKea,
    /// The kea-sim and operator images on a Docker network (`just e2e-containers`).
    Containers,
    /// A kind cluster with the chart installed (`just e2e`, machines with internet only).
    Cluster,
}

/// `E2E_LANE` holds no lane this suite knows.
#[derive(Debug, thiserror::Error)]
#[error("{LANE_VAR}={0:?} is not a lane; expected local, real-kea, containers or cluster")]
pub struct UnknownLane(pub String);

impl UnknownLane {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        "unknown-lane"
    }
}

impl Lane {
    /// The lane named by `E2E_LANE`; `local` when unset.
    pub fn from_env() -> Result<Lane, UnknownLane> {
        match std::env::var(LANE_VAR) {
            Err(_) => Ok(Lane::Local),
            Ok(v) => Lane::parse(&v),
        }
    }

    pub fn parse(text: &str) -> Result<Lane, UnknownLane> {
        match text.trim() {
            "" | "local" => Ok(Lane::Local),
            "real-kea" => Ok(Lane::RealKea),
            "containers" => Ok(Lane::Containers),
            "cluster" | "kind" => Ok(Lane::Cluster),
            other => Err(UnknownLane(other.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Local => "local",
            Lane::RealKea => "real-kea",
            Lane::Containers => "containers",
            Lane::Cluster => "cluster",
        }
    }

    /// Whether Kea is kea-sim, so its faults (latency, 5xx, resets, garbage), request log and DHCP
    /// simulation are there. Real Kea only has process-level faults (SIGSTOP, kill, restart).
    pub fn has_sim_faults(self) -> bool {
        !matches!(self, Lane::RealKea)
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_parse_from_their_names_and_unknown_ones_are_refused() {
        for lane in [Lane::Local, Lane::RealKea, Lane::Containers, Lane::Cluster] {
            assert_eq!(Lane::parse(lane.as_str()).expect("own name"), lane);
        }
        assert_eq!(Lane::parse("").expect("empty"), Lane::Local);
        assert_eq!(Lane::parse("kind").expect("alias"), Lane::Cluster);
        let err = Lane::parse("staging").expect_err("unknown");
        assert!(err.to_string().contains("real-kea"), "{err}");
        assert!(Lane::Local.has_sim_faults() && !Lane::RealKea.has_sim_faults());
    }
}
