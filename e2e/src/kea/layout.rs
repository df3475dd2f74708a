//! The Kea configuration every lane serves: the same subnets, pools and one configured reservation,
//! so scenarios and the invariant checker know which subnet an address belongs to.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_json::{Value, json};

/// One Kea subnet and its pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubnetDef {
    pub id: u32,
    pub prefix: Ipv4Net,
    pub pool_first: Ipv4Addr,
    pub pool_last: Ipv4Addr,
}

/// Subnet 1 (`10.100.0.0/16`): most scenarios. Subnet 2 (`10.101.0.0/16`): a NetworkNamespace
/// moved to another prefix. Pools hold about 1000 addresses: the 500-interface NC fits.
/// Subnet 3 (`10.102.0.0/16`): the convergence benchmark, whose pool holds 65,000 addresses
/// (10,000 NCs × 2 interfaces, and more with `--ncs`).
pub fn subnets() -> [SubnetDef; 3] {
    [
        SubnetDef {
            id: 1,
            prefix: Ipv4Net::new(Ipv4Addr::new(10, 100, 0, 0), 16).expect("valid /16"),
            pool_first: Ipv4Addr::new(10, 100, 1, 10),
            pool_last: Ipv4Addr::new(10, 100, 4, 250),
        },
        SubnetDef {
            id: 2,
            prefix: Ipv4Net::new(Ipv4Addr::new(10, 101, 0, 0), 16).expect("valid /16"),
            pool_first: Ipv4Addr::new(10, 101, 1, 10),
            pool_last: Ipv4Addr::new(10, 101, 4, 250),
        },
        SubnetDef {
            id: 3,
            prefix: Ipv4Net::new(Ipv4Addr::new(10, 102, 0, 0), 16).expect("valid /16"),
            pool_first: Ipv4Addr::new(10, 102, 0, 10),
            pool_last: Ipv4Addr::new(10, 102, 255, 250),
        },
    ]
}

/// The prefix of subnet 1, what most NetworkNamespaces carry.
pub const PREFIX_1: &str = "10.100.0.0/16";
/// The prefix of subnet 2.
pub const PREFIX_2: &str = "10.101.0.0/16";
/// The prefix of subnet 3 (the benchmark's).
pub const PREFIX_3: &str = "10.102.0.0/16";

/// A reservation in the configuration file: a host the operator never owned and must never touch.
pub const CONFIG_HOST_MAC: &str = "02:00:00:00:00:01";
pub const CONFIG_HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 100, 5, 1);

/// The subnet holding `ip`.
pub fn subnet_of(ip: Ipv4Addr) -> Option<SubnetDef> {
    subnets().into_iter().find(|s| s.prefix.contains(&ip))
}

/// The Kea subnet a NetworkNamespace prefix selects: the longest Kea subnet containing it.
pub fn subnet_for_prefix(prefix: Ipv4Net) -> Option<SubnetDef> {
    subnets()
        .into_iter()
        .filter(|s| s.prefix.contains(&prefix))
        .max_by_key(|s| s.prefix.prefix_len())
}

/// The `Dhcp4` object without control sockets and hooks (each lane adds its own).
pub fn dhcp4_base() -> Value {
    let subnets: Vec<Value> = subnets()
        .iter()
        .map(|s| {
            let mut subnet = json!({
                "id": s.id,
                "subnet": s.prefix.to_string(),
                "pools": [{"pool": format!("{} - {}", s.pool_first, s.pool_last)}],
            });
            if s.id == 1 {
                subnet["reservations"] = json!([{
                    "hw-address": CONFIG_HOST_MAC,
                    "ip-address": CONFIG_HOST_IP.to_string(),
                    "hostname": "printer"
                }]);
            }
            subnet
        })
        .collect();
    json!({
        "interfaces-config": {"interfaces": []},
        "lease-database": {"type": "memfile", "persist": false},
        "valid-lifetime": 4000,
        "subnet4": subnets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_map_to_the_longest_containing_subnet() {
        let p: Ipv4Net = "10.100.7.0/24".parse().expect("net");
        assert_eq!(subnet_for_prefix(p).map(|s| s.id), Some(1));
        assert_eq!(
            subnet_for_prefix(PREFIX_2.parse().expect("net")).map(|s| s.id),
            Some(2)
        );
        assert_eq!(subnet_for_prefix("192.168.0.0/24".parse().expect("net")), None);
        // A prefix wider than every subnet lies in none.
        assert_eq!(subnet_for_prefix("10.0.0.0/8".parse().expect("net")), None);
        assert_eq!(subnet_of(CONFIG_HOST_IP).map(|s| s.id), Some(1));
        let base = dhcp4_base();
        assert_eq!(base["subnet4"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            subnet_for_prefix(PREFIX_3.parse().expect("net")).map(|s| s.id),
            Some(3)
        );
    }
}
