//! The `kea.vitistack.io/reservations` annotation: per server, the (subnet-id, MAC, IP) this NC has
//! reserved (SPEC §1).
//!
//! Why an annotation: the platform's CRD schema prunes status fields it does not know, but no schema
//! prunes annotations. It tells the reconcile where hosts of a MAC that has since left the spec are (so
//! they are deleted, SPEC §2.6), keeps reservations sticky across a wiped server, and gives the sweep
//! each NC's desired addresses without a lease lookup.
//!
//! It is a hint written by us, not a source of truth: every host is still read and its marker checked
//! before anything is changed. So parsing is tolerant — unreadable text or entries are dropped with a
//! [`ParsedAnnotation::problem`] to log — and rendering is deterministic (sorted, compact), so an
//! unchanged set never causes a write.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::mac::Mac;
use super::model::{ServerId, SubnetId};

/// The annotation key on the NetworkConfiguration.
pub const ANNOTATION: &str = "kea.vitistack.io/reservations";
const VERSION: u64 = 1;

/// One reservation the NC holds on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reserved {
    #[serde(rename = "subnetId")]
    pub subnet_id: SubnetId,
    pub mac: Mac,
    pub ip: Ipv4Addr,
}

/// The annotation's content: per server, a set of reservations (no empty sets are kept, so equality is
/// equality of content).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reservations {
    by_server: BTreeMap<ServerId, BTreeSet<Reserved>>,
}

/// Result of reading the annotation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedAnnotation {
    pub reservations: Reservations,
    /// Set when (part of) the text was unreadable and ignored; log it. The sweep is the backstop for
    /// hosts an unreadable annotation would have pointed to.
    pub problem: Option<String>,
}

impl Reservations {
    /// Reads the annotation value (`None` when the annotation is absent).
    pub fn parse(raw: Option<&str>) -> ParsedAnnotation {
        let Some(raw) = raw else {
            return ParsedAnnotation::default();
        };
        let value: Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(e) => return problem(format!("is not JSON ({e}); treated as empty")),
        };
        let Value::Object(map) = value else {
            return problem("is not a JSON object; treated as empty".into());
        };
        match map.get("v").and_then(Value::as_u64) {
            Some(VERSION) => {}
            _ => {
                return problem(format!(
                    "has no or an unknown version (expected \"v\": {VERSION}); treated as empty"
                ));
            }
        }
        let mut out = Reservations::default();
        let mut skipped = 0usize;
        for (key, entries) in &map {
            if key == "v" {
                continue;
            }
            let Some(server) = ServerId::parse(key) else {
                skipped += 1;
                continue;
            };
            let Value::Array(entries) = entries else {
                skipped += 1;
                continue;
            };
            for entry in entries {
                match serde_json::from_value::<Reserved>(entry.clone()) {
                    Ok(r) => {
                        out.insert(server, r);
                    }
                    Err(_) => skipped += 1,
                }
            }
        }
        let problem = (skipped > 0).then(|| format!("{ANNOTATION}: {skipped} unreadable part(s) ignored"));
        ParsedAnnotation {
            reservations: out,
            problem,
        }
    }

    /// Deterministic compact JSON: `{"v":1,"primary":[{"subnetId":1,"mac":"…","ip":"…"}],…}`, servers and
    /// entries sorted, empty servers left out.
    pub fn render(&self) -> String {
        let mut map = serde_json::Map::new();
        map.insert("v".into(), VERSION.into());
        for (server, entries) in &self.by_server {
            if entries.is_empty() {
                continue;
            }
            let list: Vec<Value> = entries
                .iter()
                .map(|r| serde_json::json!({"subnetId": r.subnet_id.0, "mac": r.mac.to_string(), "ip": r.ip.to_string()}))
                .collect();
            map.insert(server.as_str().into(), Value::Array(list));
        }
        Value::Object(map).to_string()
    }

    pub fn is_empty(&self) -> bool {
        self.by_server.values().all(BTreeSet::is_empty)
    }

    /// Returns whether the entry was new.
    pub fn insert(&mut self, server: ServerId, reserved: Reserved) -> bool {
        self.by_server.entry(server).or_default().insert(reserved)
    }

    /// Removes every entry of `server` for (subnet, MAC).
    pub fn remove(&mut self, server: ServerId, subnet_id: SubnetId, mac: Mac) {
        if let Some(set) = self.by_server.get_mut(&server) {
            set.retain(|r| !(r.subnet_id == subnet_id && r.mac == mac));
            if set.is_empty() {
                self.by_server.remove(&server);
            }
        }
    }

    /// Replaces every entry of `server` with `entries`.
    pub fn set_server(&mut self, server: ServerId, entries: impl IntoIterator<Item = Reserved>) {
        let set: BTreeSet<Reserved> = entries.into_iter().collect();
        if set.is_empty() {
            self.by_server.remove(&server);
        } else {
            self.by_server.insert(server, set);
        }
    }

    /// The entries of one server, sorted.
    pub fn server(&self, server: ServerId) -> impl Iterator<Item = &Reserved> {
        self.by_server.get(&server).into_iter().flatten()
    }

    /// Every (server, entry), sorted.
    pub fn iter(&self) -> impl Iterator<Item = (ServerId, &Reserved)> {
        self.by_server
            .iter()
            .flat_map(|(s, set)| set.iter().map(move |r| (*s, r)))
    }

    /// Addresses recorded for `mac` on `server`.
    pub fn addresses(&self, server: ServerId, mac: Mac) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.server(server).filter(move |r| r.mac == mac).map(|r| r.ip)
    }
}

fn problem(text: String) -> ParsedAnnotation {
    ParsedAnnotation {
        reservations: Reservations::default(),
        problem: Some(format!("{ANNOTATION} {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(subnet: u32, mac_last: u8, ip: &str) -> Reserved {
        Reserved {
            subnet_id: SubnetId(subnet),
            mac: Mac::from_octets([0xaa, 0, 0, 0, 0, mac_last]),
            ip: ip.parse().unwrap(),
        }
    }

    #[test]
    fn renders_deterministically_whatever_the_insertion_order() {
        let mut a = Reservations::default();
        a.insert(ServerId::Secondary, r(7, 2, "10.0.0.2"));
        a.insert(ServerId::Primary, r(1, 2, "10.0.0.2"));
        a.insert(ServerId::Primary, r(1, 1, "10.0.0.1"));
        let mut b = Reservations::default();
        b.insert(ServerId::Primary, r(1, 1, "10.0.0.1"));
        b.insert(ServerId::Primary, r(1, 2, "10.0.0.2"));
        b.insert(ServerId::Secondary, r(7, 2, "10.0.0.2"));
        assert_eq!(a.render(), b.render());
        insta::assert_snapshot!(a.render());
    }

    #[test]
    fn round_trips() {
        let mut a = Reservations::default();
        a.insert(ServerId::Primary, r(1, 1, "10.0.0.1"));
        a.insert(ServerId::Secondary, r(3, 1, "10.0.0.1"));
        let parsed = Reservations::parse(Some(&a.render()));
        assert_eq!(
            parsed,
            ParsedAnnotation {
                reservations: a,
                problem: None
            }
        );
    }

    #[test]
    fn absent_annotation_is_empty_without_a_problem() {
        assert_eq!(Reservations::parse(None), ParsedAnnotation::default());
        assert_eq!(Reservations::default().render(), r#"{"v":1}"#);
        assert!(Reservations::default().is_empty());
    }

    #[test]
    fn garbage_is_treated_as_empty_and_said_so() {
        for raw in ["", "not json", "[1,2]", "{}", r#"{"v":2,"primary":[]}"#, "null"] {
            let parsed = Reservations::parse(Some(raw));
            assert!(parsed.reservations.is_empty(), "{raw}");
            assert!(
                parsed.problem.as_deref().is_some_and(|p| p.contains(ANNOTATION)),
                "{raw}: {:?}",
                parsed.problem
            );
        }
    }

    #[test]
    fn unreadable_entries_are_dropped_and_the_rest_kept() {
        let raw = r#"{"v":1,"primary":[{"subnetId":1,"mac":"AA:00:00:00:00:01","ip":"10.0.0.1"},{"subnetId":1,"mac":"nope","ip":"10.0.0.2"}],"tertiary":[],"secondary":"x"}"#;
        let parsed = Reservations::parse(Some(raw));
        assert_eq!(
            parsed.reservations.iter().count(),
            1,
            "the valid entry (MAC normalized) is kept"
        );
        assert_eq!(
            parsed.reservations.server(ServerId::Primary).next(),
            Some(&r(1, 1, "10.0.0.1"))
        );
        assert!(
            parsed
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("3 unreadable")),
            "{:?}",
            parsed.problem
        );
    }

    #[test]
    fn remove_drops_every_entry_of_the_key() {
        let mut a = Reservations::default();
        a.insert(ServerId::Primary, r(1, 1, "10.0.0.1"));
        a.insert(ServerId::Primary, r(1, 1, "10.0.0.9"));
        a.insert(ServerId::Primary, r(2, 1, "10.0.0.1"));
        a.remove(
            ServerId::Primary,
            SubnetId(1),
            Mac::from_octets([0xaa, 0, 0, 0, 0, 1]),
        );
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            vec![(ServerId::Primary, &r(2, 1, "10.0.0.1"))]
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(raw in "\\PC{0,200}") {
            let _ = Reservations::parse(Some(&raw));
        }

        #[test]
        fn render_parse_round_trip(entries in proptest::collection::vec((any::<bool>(), 0u32..5, any::<[u8; 6]>(), any::<u32>()), 0..12)) {
            let mut a = Reservations::default();
            for (primary, subnet, mac, ip) in entries {
                let server = if primary { ServerId::Primary } else { ServerId::Secondary };
                a.insert(server, Reserved { subnet_id: SubnetId(subnet), mac: Mac::from_octets(mac), ip: Ipv4Addr::from(ip) });
            }
            let parsed = Reservations::parse(Some(&a.render()));
            prop_assert_eq!(parsed.problem, None);
            prop_assert_eq!(parsed.reservations.render(), a.render());
        }
    }
}
