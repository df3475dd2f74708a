//! What the sandbox applies: one NetworkNamespace and three NetworkConfigurations chosen so the first
//! run shows the operator's main states — reserved interfaces, an invalid MAC that does not block the
//! others (`InvalidMac`), and a device that obtains its lease only after its NC exists
//! (`WaitingForLease`, then `Reserved`).
//!
//! The prefix lies in subnet 1 of `kea-sim/examples/kea-dhcp4.json` (`10.100.0.0/16`) and covers its
//! pool (`10.100.1.10 - 10.100.1.200`), so kea-sim's DHCP simulation hands out addresses the operator
//! accepts as leases inside the prefix.

use kea_operator::crd::{NetworkConfiguration, NetworkConfigurationSpec, NetworkInterface};

use crate::invariants::normalize_mac;

/// The Kubernetes namespace of the samples (the API server needs no Namespace object: see testenv).
pub const NAMESPACE: &str = "demo";
/// The NetworkNamespace every sample NC resolves to (the only one in [`NAMESPACE`]).
pub const NETWORK_NAMESPACE: &str = "lab";
/// Its `status.ipv4Prefix`.
pub const PREFIX: &str = "10.100.1.0/24";
/// The Kea subnet of the example configuration that contains [`PREFIX`].
pub const KEA_SUBNET_ID: u32 = 1;
/// The operator's instance name: the owner marker of every reservation it writes.
pub const INSTANCE: &str = "demo";
/// The namespace of the operator's leader Lease (what `POD_NAMESPACE` is in a cluster).
pub const OPERATOR_NAMESPACE: &str = "kea-system";

/// When the device behind an interface obtains its DHCP lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseTiming {
    /// Before the NC is created: the operator reserves it on its first reconcile.
    Before,
    /// Only after the operator reported the interface `WaitingForLease`.
    Later,
    /// Never: the MAC is invalid, so no device and nothing in Kea.
    Never,
}

/// One declared interface of a sample NC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleInterface {
    pub name: &'static str,
    /// As written in the spec (not necessarily normalized: that is part of the show).
    pub mac: &'static str,
    pub lease: LeaseTiming,
}

impl SampleInterface {
    /// The MAC as the operator normalizes it (lowercase, `:`), `None` when invalid.
    pub fn normalized_mac(&self) -> Option<String> {
        normalize_mac(self.mac)
    }
}

/// One sample NetworkConfiguration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleNc {
    pub name: &'static str,
    pub interfaces: Vec<SampleInterface>,
}

impl SampleNc {
    /// The object to create (provider `kea`, no explicit NetworkNamespace: the only one is used).
    pub fn object(&self) -> NetworkConfiguration {
        NetworkConfiguration::new(
            self.name,
            NetworkConfigurationSpec {
                cluster_name: "demo-cluster".into(),
                datacenter_name: "demo-dc".into(),
                supervisor_name: "demo-supervisor".into(),
                provider: "kea".into(),
                network_namespace_name: None,
                network_interfaces: self
                    .interfaces
                    .iter()
                    .map(|i| NetworkInterface {
                        name: i.name.into(),
                        mac_address: i.mac.into(),
                    })
                    .collect(),
            },
        )
    }
}

/// The three sample NCs: 3 × 2 interfaces, one invalid MAC, one late lease.
pub fn network_configurations() -> Vec<SampleNc> {
    let iface = |name, mac, lease| SampleInterface { name, mac, lease };
    vec![
        SampleNc {
            name: "web-1",
            interfaces: vec![
                iface("eth0", "02:00:00:00:10:01", LeaseTiming::Before),
                // Upper case and dashes: the operator normalizes before it talks to Kea.
                iface("eth1", "02-00-00-00-10-0A", LeaseTiming::Before),
            ],
        },
        SampleNc {
            name: "db-1",
            interfaces: vec![
                iface("eth0", "02:00:00:00:20:01", LeaseTiming::Before),
                iface("eth1", "02:00:00:00:20:02", LeaseTiming::Later),
            ],
        },
        SampleNc {
            name: "edge-1",
            interfaces: vec![
                iface("eth0", "02:00:00:00:30:01", LeaseTiming::Before),
                // A typo (five octets): InvalidMac, and eth0 is still reserved.
                iface("mgmt", "02:00:00:00:30", LeaseTiming::Never),
            ],
        },
    ]
}

/// The NC the printed "try it" commands create by hand (`kubectl create --raw -f app-1.json`): its
/// device has no lease until the user gives it one through kea-sim's admin API.
pub fn try_it_nc() -> SampleNc {
    SampleNc {
        name: "app-1",
        interfaces: vec![SampleInterface {
            name: "eth0",
            mac: "02:00:00:00:40:01",
            lease: LeaseTiming::Later,
        }],
    }
}

/// Every interface with a valid MAC, with its NC's name.
pub fn valid_interfaces(ncs: &[SampleNc]) -> Vec<(&'static str, &SampleInterface)> {
    ncs.iter()
        .flat_map(|nc| nc.interfaces.iter().map(move |i| (nc.name, i)))
        .filter(|(_, i)| i.normalized_mac().is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_samples_show_every_state_the_demo_promises() {
        let ncs = network_configurations();
        let all: Vec<&SampleInterface> = ncs.iter().flat_map(|nc| &nc.interfaces).collect();
        assert_eq!(ncs.len(), 3);
        assert_eq!(all.len(), 6);
        // Exactly the interfaces without a lease source have invalid MACs.
        for i in &all {
            assert_eq!(
                i.normalized_mac().is_none(),
                i.lease == LeaseTiming::Never,
                "{i:?}"
            );
        }
        assert_eq!(all.iter().filter(|i| i.lease == LeaseTiming::Later).count(), 1);
        assert_eq!(valid_interfaces(&ncs).len(), 5);
        // MACs are distinct once normalized (one device per interface).
        let mut macs: Vec<String> = all.iter().filter_map(|i| i.normalized_mac()).collect();
        macs.sort();
        macs.dedup();
        assert_eq!(macs.len(), 5);
        assert_eq!(
            ncs[0].interfaces[1].normalized_mac().as_deref(),
            Some("02:00:00:00:10:0a")
        );
    }

    #[test]
    fn the_prefix_lies_in_the_example_configs_subnet_and_covers_its_pool() {
        let prefix: ipnet::Ipv4Net = PREFIX.parse().expect("prefix");
        let text =
            std::fs::read_to_string(crate::artifacts::repo_root().join("kea-sim/examples/kea-dhcp4.json"))
                .expect("example config");
        // The example has `//` comments (kea-sim and Kea accept them); drop them for serde_json.
        let json: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let config: serde_json::Value = serde_json::from_str(&json).expect("example config is JSON");
        let subnet = config["Dhcp4"]["subnet4"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["id"] == KEA_SUBNET_ID))
            .expect("subnet 1");
        let net: ipnet::Ipv4Net = subnet["subnet"].as_str().expect("cidr").parse().expect("cidr");
        assert!(net.contains(&prefix));
        let pool = subnet["pools"][0]["pool"].as_str().expect("pool");
        let (first, last) = pool.split_once('-').expect("range");
        for end in [first, last] {
            let ip: std::net::Ipv4Addr = end.trim().parse().expect("address");
            assert!(prefix.contains(&ip), "{ip} outside {prefix}");
        }
        let nc = network_configurations()[0].object();
        assert_eq!(nc.spec.provider, "kea");
        assert_eq!(nc.spec.network_interfaces.len(), 2);
    }
}
