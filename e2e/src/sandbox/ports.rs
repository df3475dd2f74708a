//! The sandbox's ports: fixed and documented by default (so the README's URLs work as printed), or
//! free ones for a second sandbox or a test (`--free-ports`). The Kubernetes API server always takes
//! a free port: its kubeconfig is printed.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};

use testenv::ports::{PortLease, free_port};

use super::SandboxError;

/// Kea control socket of the primary: the one `kea-sim/examples/kea-dhcp4.json` names.
pub const KEA_PRIMARY: u16 = 8000;
/// kea-sim's admin API (kea-sim's own default).
pub const ADMIN: u16 = 8001;
/// Kea control socket of the secondary (the HA partner).
pub const KEA_SECONDARY: u16 = 8002;
/// The operator's `/healthz`, `/readyz` and `/metrics` (the port of its default `HTTP_ADDR`).
pub const OPERATOR_HTTP: u16 = 8080;

/// The four loopback ports of a sandbox.
#[derive(Debug)]
pub struct PortPlan {
    pub kea_primary: u16,
    pub kea_secondary: u16,
    pub admin: u16,
    pub operator_http: u16,
    // Free ports stay reserved (testenv's lock files) while the sandbox runs.
    _leases: Vec<PortLease>,
}

impl PortPlan {
    /// The documented ports; refused with the port's use when one is taken.
    pub fn fixed() -> Result<PortPlan, SandboxError> {
        for (port, what) in [
            (KEA_PRIMARY, "the primary Kea socket"),
            (ADMIN, "kea-sim's admin API"),
            (KEA_SECONDARY, "the secondary Kea socket"),
            (OPERATOR_HTTP, "the operator's /metrics"),
        ] {
            // A bind probe: whatever holds the port (another sandbox, `just kea-sim`) is refused
            // here with a clear message instead of a child process failing with "address in use".
            if TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_err() {
                return Err(SandboxError::PortInUse { port, what });
            }
        }
        Ok(PortPlan {
            kea_primary: KEA_PRIMARY,
            kea_secondary: KEA_SECONDARY,
            admin: ADMIN,
            operator_http: OPERATOR_HTTP,
            _leases: Vec::new(),
        })
    }

    /// Four free ports, reserved until the plan is dropped.
    pub fn free() -> Result<PortPlan, SandboxError> {
        let leases = (0..4).map(|_| free_port()).collect::<Result<Vec<_>, _>>()?;
        Ok(PortPlan {
            kea_primary: leases[0].port(),
            kea_secondary: leases[1].port(),
            admin: leases[2].port(),
            operator_http: leases[3].port(),
            _leases: leases,
        })
    }

    /// Every port, for the "nothing is left listening" check after a stop.
    pub fn all(&self) -> [u16; 4] {
        [
            self.kea_primary,
            self.kea_secondary,
            self.admin,
            self.operator_http,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_plans_hold_four_distinct_ports_and_a_taken_fixed_port_is_named() {
        let plan = PortPlan::free().expect("free ports");
        let mut ports = plan.all().to_vec();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 4);
        // Whatever the machine runs, a fixed plan either gets every documented port or names the
        // one in use; hold one to force the second case.
        let held = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, KEA_PRIMARY));
        match (held, PortPlan::fixed()) {
            (Ok(_listener), Err(SandboxError::PortInUse { port, .. })) => assert_eq!(port, KEA_PRIMARY),
            (Ok(_listener), other) => panic!("a held port must be refused: {other:?}"),
            // Someone else holds 8000 already: the plan must be refused all the same.
            (Err(_), result) => assert!(result.is_err(), "{result:?}"),
        }
    }
}
