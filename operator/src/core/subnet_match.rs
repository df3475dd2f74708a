//! Which Kea subnet a NetworkNamespace prefix maps to, on one server (SPEC §2.3).
//!
//! The rule: the Kea subnet that *contains* the prefix wins, the longest such subnet if several nest.
//! When no single subnet contains it (a prefix spread over the subnets of a shared network), the
//! interface's address decides: the subnet that contains that address and overlaps the prefix.
//!
//! Call it per server with that server's subnet list (ids differ between HA partners). The caller
//! caches lists; on [`SubnetMatchError::NotFound`] it refreshes the list once and asks again.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::model::{Subnet, SubnetId};

/// Why no subnet could be chosen. Both are `SubnetNotFound` for status (SPEC §3): the operator's view of
/// the Kea configuration does not fit the NetworkNamespace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetMatchError {
    #[error("{}", not_found_text(*prefix, *address))]
    NotFound {
        prefix: Ipv4Net,
        address: Option<Ipv4Addr>,
    },
    #[error(
        "Kea subnets {} match the prefix {prefix} equally well; make the Kea configuration unambiguous",
        ids_text(ids)
    )]
    Ambiguous { prefix: Ipv4Net, ids: Vec<SubnetId> },
}

impl SubnetMatchError {
    pub fn category(&self) -> &'static str {
        match self {
            SubnetMatchError::NotFound { .. } => "subnet_not_found",
            SubnetMatchError::Ambiguous { .. } => "subnet_ambiguous",
        }
    }
}

fn not_found_text(prefix: Ipv4Net, address: Option<Ipv4Addr>) -> String {
    match address {
        None => format!("no Kea subnet contains the NetworkNamespace prefix {prefix}"),
        Some(addr) => format!(
            "no Kea subnet contains the NetworkNamespace prefix {prefix}, and no subnet overlapping it contains {addr}"
        ),
    }
}

fn ids_text(ids: &[SubnetId]) -> String {
    ids.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(", ")
}

/// How a prefix maps to subnets on one server, before any address is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixSubnets<'a> {
    /// One subnet contains the prefix: every address of the prefix lives there.
    Single(&'a Subnet),
    /// No subnet contains the prefix: each address picks its subnet ([`match_subnet`] with the address).
    PerAddress,
    /// The longest containing subnets are several (duplicate configuration).
    Ambiguous(SubnetMatchError),
}

/// Classifies a prefix against one server's subnets (the prefix's host bits are ignored).
pub fn prefix_subnets(subnets: &[Subnet], prefix: Ipv4Net) -> PrefixSubnets<'_> {
    let prefix = prefix.trunc();
    match longest(subnets, |s| s.prefix.contains(&prefix)) {
        Longest::One(subnet) => PrefixSubnets::Single(subnet),
        Longest::None => PrefixSubnets::PerAddress,
        Longest::Tie(ids) => PrefixSubnets::Ambiguous(SubnetMatchError::Ambiguous { prefix, ids }),
    }
}

/// The subnet for an interface: the one containing the prefix, else (shared network) the one that
/// contains `address` and overlaps the prefix.
pub fn match_subnet(
    subnets: &[Subnet],
    prefix: Ipv4Net,
    address: Option<Ipv4Addr>,
) -> Result<&Subnet, SubnetMatchError> {
    let prefix = prefix.trunc();
    match prefix_subnets(subnets, prefix) {
        PrefixSubnets::Single(subnet) => return Ok(subnet),
        PrefixSubnets::Ambiguous(err) => return Err(err),
        PrefixSubnets::PerAddress => {}
    }
    let not_found = SubnetMatchError::NotFound { prefix, address };
    let Some(addr) = address else {
        return Err(not_found);
    };
    // For CIDR blocks "overlap" means one contains the other; none contains the prefix here.
    match longest(subnets, |s| {
        s.prefix.contains(&addr) && prefix.contains(&s.prefix)
    }) {
        Longest::One(subnet) => Ok(subnet),
        Longest::None => Err(not_found),
        Longest::Tie(ids) => Err(SubnetMatchError::Ambiguous { prefix, ids }),
    }
}

enum Longest<'a> {
    None,
    One(&'a Subnet),
    Tie(Vec<SubnetId>),
}

/// The matching subnet with the longest prefix; several distinct ids at that length are a tie.
fn longest<'a>(subnets: &'a [Subnet], matches: impl Fn(&Subnet) -> bool) -> Longest<'a> {
    let candidates: Vec<&Subnet> = subnets.iter().filter(|s| matches(s)).collect();
    let Some(best_len) = candidates.iter().map(|s| s.prefix.prefix_len()).max() else {
        return Longest::None;
    };
    let mut best: Vec<&Subnet> = candidates
        .into_iter()
        .filter(|s| s.prefix.prefix_len() == best_len)
        .collect();
    best.sort_by_key(|s| s.id);
    best.dedup_by_key(|s| s.id);
    match best.as_slice() {
        [one] => Longest::One(one),
        _ => Longest::Tie(best.iter().map(|s| s.id).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn subnet(id: u32, prefix: &str) -> Subnet {
        Subnet {
            id: SubnetId(id),
            prefix: prefix.parse().unwrap(),
            shared_network: None,
        }
    }

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn the_subnet_containing_the_prefix_is_chosen() {
        let subnets = [subnet(1, "10.100.0.0/16"), subnet(2, "10.200.0.0/16")];
        let got = match_subnet(&subnets, net("10.100.1.0/24"), None).unwrap();
        assert_eq!(got.id, SubnetId(1));
    }

    #[test]
    fn the_longest_containing_subnet_wins() {
        let subnets = [
            subnet(1, "10.0.0.0/8"),
            subnet(2, "10.100.0.0/16"),
            subnet(3, "10.100.1.0/25"),
        ];
        assert_eq!(
            match_subnet(&subnets, net("10.100.1.0/24"), None).unwrap().id,
            SubnetId(2)
        );
        assert_eq!(
            match_subnet(&subnets, net("10.100.1.0/24"), "10.100.1.5".parse().ok())
                .unwrap()
                .id,
            SubnetId(2)
        );
    }

    #[test]
    fn a_prefix_equal_to_the_subnet_matches() {
        let subnets = [subnet(7, "10.100.1.0/24")];
        assert_eq!(
            match_subnet(&subnets, net("10.100.1.0/24"), None).unwrap().id,
            SubnetId(7)
        );
    }

    #[test]
    fn host_bits_in_the_prefix_are_ignored() {
        let subnets = [subnet(7, "10.100.1.0/24")];
        assert_eq!(
            match_subnet(&subnets, net("10.100.1.77/24"), None).unwrap().id,
            SubnetId(7)
        );
    }

    #[test]
    fn a_subnet_inside_the_prefix_alone_does_not_contain_it() {
        let subnets = [subnet(1, "10.100.1.0/25")];
        let err = match_subnet(&subnets, net("10.100.1.0/24"), None).unwrap_err();
        assert_eq!(
            err,
            SubnetMatchError::NotFound {
                prefix: net("10.100.1.0/24"),
                address: None
            }
        );
        assert!(err.to_string().contains("10.100.1.0/24"));
    }

    #[test]
    fn shared_network_fallback_uses_the_subnet_holding_the_lease_address() {
        let mut a = subnet(1, "10.100.1.0/25");
        a.shared_network = Some("floor-1".into());
        let mut b = subnet(2, "10.100.1.128/25");
        b.shared_network = Some("floor-1".into());
        let subnets = [a, b, subnet(3, "10.200.0.0/16")];
        let prefix = net("10.100.1.0/24");
        assert_eq!(prefix_subnets(&subnets, prefix), PrefixSubnets::PerAddress);
        assert_eq!(
            match_subnet(&subnets, prefix, "10.100.1.200".parse().ok())
                .unwrap()
                .id,
            SubnetId(2)
        );
        assert_eq!(
            match_subnet(&subnets, prefix, "10.100.1.3".parse().ok())
                .unwrap()
                .id,
            SubnetId(1)
        );
    }

    #[test]
    fn shared_network_fallback_needs_the_subnet_to_overlap_the_prefix() {
        // 10.200.0.0/16 contains the address but has nothing to do with the prefix.
        let subnets = [subnet(1, "10.100.1.0/25"), subnet(3, "10.200.0.0/16")];
        let err = match_subnet(&subnets, net("10.100.1.0/24"), "10.200.0.9".parse().ok()).unwrap_err();
        assert!(matches!(err, SubnetMatchError::NotFound { address: Some(_), .. }));
        assert!(err.to_string().contains("10.200.0.9"), "{err}");
    }

    #[test]
    fn duplicate_subnets_are_ambiguous_with_their_ids() {
        let subnets = [subnet(4, "10.100.0.0/16"), subnet(9, "10.100.0.0/16")];
        let err = match_subnet(&subnets, net("10.100.1.0/24"), None).unwrap_err();
        assert_eq!(
            err,
            SubnetMatchError::Ambiguous {
                prefix: net("10.100.1.0/24"),
                ids: vec![SubnetId(4), SubnetId(9)]
            }
        );
        assert!(err.to_string().contains("4, 9"));
        assert_eq!(err.category(), "subnet_ambiguous");
    }

    #[test]
    fn the_same_subnet_listed_twice_is_not_ambiguous() {
        // config-get lists a shared network's subnets apart from the top-level ones; a careless merge
        // could list one twice.
        let subnets = [subnet(4, "10.100.0.0/16"), subnet(4, "10.100.0.0/16")];
        assert_eq!(
            match_subnet(&subnets, net("10.100.1.0/24"), None).unwrap().id,
            SubnetId(4)
        );
    }

    #[test]
    fn no_subnets_is_not_found() {
        assert!(matches!(
            match_subnet(&[], net("10.0.0.0/24"), None),
            Err(SubnetMatchError::NotFound { .. })
        ));
    }

    proptest! {
        #[test]
        fn a_match_always_contains_the_prefix_or_the_address(
            raw in proptest::collection::vec((any::<u32>(), 8u8..=30, 1u32..50), 0..8),
            prefix_addr in any::<u32>(), prefix_len in 8u8..=30, addr in proptest::option::of(any::<u32>()),
        ) {
            let subnets: Vec<Subnet> = raw.iter().map(|(a, len, id)| Subnet {
                id: SubnetId(*id), prefix: Ipv4Net::new(Ipv4Addr::from(*a), *len).unwrap().trunc(), shared_network: None,
            }).collect();
            let prefix = Ipv4Net::new(Ipv4Addr::from(prefix_addr), prefix_len).unwrap().trunc();
            let address = addr.map(Ipv4Addr::from);
            if let Ok(found) = match_subnet(&subnets, prefix, address) {
                let contains_prefix = found.prefix.contains(&prefix);
                let holds_address = address.is_some_and(|a| found.prefix.contains(&a) && prefix.contains(&found.prefix));
                prop_assert!(contains_prefix || holds_address);
                if contains_prefix {
                    // Longest: no other containing subnet is longer.
                    prop_assert!(subnets.iter().filter(|s| s.prefix.contains(&prefix)).all(|s| s.prefix.prefix_len() <= found.prefix.prefix_len()));
                }
            }
        }
    }
}
