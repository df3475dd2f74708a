//! Which lease gives an interface its address when no reservation of ours exists yet (SPEC §2.4).
//!
//! Input is what `lease4-get-by-hw-address` returned on the active server. Only a *current* lease counts
//! (state 0 and `cltt + valid-lft` in the future: Kea keeps expired-but-not-reclaimed leases in state 0),
//! only one whose address lies in the NetworkNamespace prefix (a lease from another network is not this
//! NC's business), and among those the newest (`cltt`).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::mac::Mac;
use super::model::Lease;

/// The newest current lease of `mac` inside `prefix` at `now` (epoch seconds), if any.
///
/// Ties on `cltt` are broken by the higher address so the choice never depends on Kea's answer order.
pub fn select_lease(leases: &[Lease], mac: Mac, prefix: Ipv4Net, now: u64) -> Option<&Lease> {
    leases
        .iter()
        .filter(|l| l.hw_address == mac && l.is_current(now) && prefix.contains(&l.ip_address))
        .max_by_key(|l| (l.cltt, l.ip_address))
}

/// Convenience for the planner: just the address.
pub fn leased_address(leases: &[Lease], mac: Mac, prefix: Ipv4Net, now: u64) -> Option<Ipv4Addr> {
    select_lease(leases, mac, prefix, now).map(|l| l.ip_address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::SubnetId;

    const MAC: Mac = Mac::from_octets([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01]);

    fn lease(ip: &str, cltt: u64, valid: u64, state: u32) -> Lease {
        Lease {
            ip_address: ip.parse().unwrap(),
            hw_address: MAC,
            subnet_id: SubnetId(1),
            cltt,
            valid_lft: valid,
            state,
            hostname: None,
        }
    }

    fn prefix() -> Ipv4Net {
        "10.100.1.0/24".parse().unwrap()
    }

    #[test]
    fn newest_current_lease_in_the_prefix_wins() {
        let leases = [
            lease("10.100.1.5", 1000, 3600, 0),
            lease("10.100.1.9", 2000, 3600, 0),
        ];
        assert_eq!(
            leased_address(&leases, MAC, prefix(), 2500),
            "10.100.1.9".parse().ok()
        );
    }

    #[test]
    fn expired_but_unreclaimed_leases_are_ignored() {
        // State 0 but cltt + valid-lft is in the past: Kea has not reclaimed it yet.
        let leases = [
            lease("10.100.1.9", 1000, 100, 0),
            lease("10.100.1.5", 900, 3600, 0),
        ];
        assert_eq!(
            leased_address(&leases, MAC, prefix(), 1200),
            "10.100.1.5".parse().ok()
        );
        assert_eq!(leased_address(&leases, MAC, prefix(), 4600), None);
    }

    #[test]
    fn declined_released_and_reclaimed_leases_are_ignored() {
        let leases = [
            lease("10.100.1.5", 1000, 3600, 1),
            lease("10.100.1.6", 1000, 3600, 2),
            lease("10.100.1.7", 1000, 3600, 3),
        ];
        assert_eq!(select_lease(&leases, MAC, prefix(), 1500), None);
    }

    #[test]
    fn leases_outside_the_prefix_are_ignored() {
        let leases = [
            lease("10.200.0.5", 3000, 3600, 0),
            lease("10.100.1.5", 1000, 3600, 0),
        ];
        assert_eq!(
            leased_address(&leases, MAC, prefix(), 3100),
            "10.100.1.5".parse().ok()
        );
    }

    #[test]
    fn leases_of_other_macs_are_ignored() {
        let mut other = lease("10.100.1.5", 1000, 3600, 0);
        other.hw_address = Mac::from_octets([1, 2, 3, 4, 5, 6]);
        assert_eq!(select_lease(&[other], MAC, prefix(), 1500), None);
    }

    #[test]
    fn equal_cltt_is_broken_deterministically() {
        let a = [
            lease("10.100.1.5", 1000, 3600, 0),
            lease("10.100.1.9", 1000, 3600, 0),
        ];
        let b = [
            lease("10.100.1.9", 1000, 3600, 0),
            lease("10.100.1.5", 1000, 3600, 0),
        ];
        assert_eq!(
            leased_address(&a, MAC, prefix(), 1500),
            leased_address(&b, MAC, prefix(), 1500)
        );
    }

    #[test]
    fn huge_lifetimes_do_not_overflow() {
        let leases = [lease("10.100.1.5", u64::MAX - 1, u64::MAX, 0)];
        assert!(select_lease(&leases, MAC, prefix(), u64::MAX - 1).is_some());
    }
}
