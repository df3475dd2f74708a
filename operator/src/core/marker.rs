//! The ownership marker this operator stores in a host's `user-context` (SPEC §2.5):
//!
//! ```json
//! {"kea-operator": {"v": 1, "instance": "prod", "owner": "tenant-a/vm-1", "uid": "…", "interface": "eth0"}}
//! ```
//!
//! Kea itself is the record of what the operator wrote (the platform's schema may prune our status), so
//! every decision to change or delete a host starts here: only hosts carrying this instance's marker are
//! ever deleted or replaced. Reading is tolerant — a `user-context` that is not ours, not an object, or
//! an unreadable/unknown-version marker is simply "not ours" — and writing keeps every other key of an
//! existing `user-context`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::Host;

/// The `user-context` key holding the marker.
pub const MARKER_KEY: &str = "kea-operator";
/// Marker format version written and understood.
pub const MARKER_VERSION: u64 = 1;

/// Who owns a host: this operator installation (`instance`), the NC (`owner` = `<ns>/<name>`, `uid`)
/// and which of its interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OwnerMarker {
    pub instance: String,
    pub owner: String,
    pub uid: String,
    pub interface: String,
}

/// What a `user-context` says about ownership, before comparing with an NC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerRead {
    /// No `user-context`, or one without our key: a host written by someone else (or the Go operator).
    Absent,
    /// Our key is there but unreadable, of another version, or the `user-context` is not an object.
    /// Never touched: we cannot tell whose it is, and we must not lose what is stored there.
    Malformed,
    Present(OwnerMarker),
}

/// A host's ownership relative to one NC of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// This instance, this NC (same uid).
    Ours,
    /// This instance, another NC (or an earlier NC of the same name: uids differ).
    OursOtherNc { uid: String, owner: String },
    /// Another installation of the operator sharing this Kea.
    ForeignInstance { instance: String },
    /// No marker at all (humans, other tools, the Go operator).
    Unmarked,
    /// Unreadable marker or non-object `user-context`.
    Malformed,
}

impl Ownership {
    /// Whether a host with this ownership may be changed or deleted by this instance at all.
    pub fn is_this_instance(&self) -> bool {
        matches!(self, Ownership::Ours | Ownership::OursOtherNc { .. })
    }
}

#[derive(Deserialize)]
struct WireMarker {
    v: u64,
    instance: String,
    owner: String,
    uid: String,
    interface: String,
}

impl OwnerMarker {
    pub fn new(instance: &str, owner: &str, uid: &str, interface: &str) -> Self {
        OwnerMarker {
            instance: instance.into(),
            owner: owner.into(),
            uid: uid.into(),
            interface: interface.into(),
        }
    }

    /// The marker object stored under [`MARKER_KEY`].
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "v": MARKER_VERSION,
            "instance": self.instance,
            "owner": self.owner,
            "uid": self.uid,
            "interface": self.interface,
        })
    }

    /// Reads the marker from a host's `user-context`.
    pub fn read(user_context: Option<&Value>) -> MarkerRead {
        let map = match user_context {
            None | Some(Value::Null) => return MarkerRead::Absent,
            Some(Value::Object(map)) => map,
            Some(_) => return MarkerRead::Malformed,
        };
        let Some(raw) = map.get(MARKER_KEY) else {
            return MarkerRead::Absent;
        };
        match serde_json::from_value::<WireMarker>(raw.clone()) {
            Ok(w) if w.v == MARKER_VERSION => MarkerRead::Present(OwnerMarker {
                instance: w.instance,
                owner: w.owner,
                uid: w.uid,
                interface: w.interface,
            }),
            _ => MarkerRead::Malformed,
        }
    }

    /// The `user-context` to write: `existing` with our key set, every other key kept. An existing
    /// non-object context cannot carry our key; callers never reach here with one (such hosts are
    /// [`Ownership::Malformed`] and left alone), and a fresh object is returned for safety.
    pub fn merge_into(&self, existing: Option<&Value>) -> Value {
        let mut map = match existing {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        map.insert(MARKER_KEY.into(), self.to_json());
        Value::Object(map)
    }
}

/// Ownership of a `user-context` for the NC `uid` of `instance`.
pub fn classify(user_context: Option<&Value>, instance: &str, uid: &str) -> Ownership {
    match OwnerMarker::read(user_context) {
        MarkerRead::Absent => Ownership::Unmarked,
        MarkerRead::Malformed => Ownership::Malformed,
        MarkerRead::Present(m) if m.instance != instance => {
            Ownership::ForeignInstance { instance: m.instance }
        }
        MarkerRead::Present(m) if m.uid == uid => Ownership::Ours,
        MarkerRead::Present(m) => Ownership::OursOtherNc {
            uid: m.uid,
            owner: m.owner,
        },
    }
}

impl Host {
    /// The marker of this host, if it is a readable one.
    pub fn marker(&self) -> Option<OwnerMarker> {
        match OwnerMarker::read(self.user_context.as_ref()) {
            MarkerRead::Present(m) => Some(m),
            MarkerRead::Absent | MarkerRead::Malformed => None,
        }
    }

    /// The marker if it belongs to `instance`: the only hosts the operator may ever change.
    pub fn instance_marker(&self, instance: &str) -> Option<OwnerMarker> {
        self.marker().filter(|m| m.instance == instance)
    }

    /// [`classify`] applied to this host.
    pub fn ownership(&self, instance: &str, uid: &str) -> Ownership {
        classify(self.user_context.as_ref(), instance, uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn marker() -> OwnerMarker {
        OwnerMarker::new("prod", "tenant-a/vm-1", "uid-1", "eth0")
    }

    #[test]
    fn marker_round_trips_through_user_context() {
        let ctx = marker().merge_into(None);
        assert_eq!(
            ctx,
            json!({"kea-operator": {"v": 1, "instance": "prod", "owner": "tenant-a/vm-1", "uid": "uid-1", "interface": "eth0"}})
        );
        assert_eq!(OwnerMarker::read(Some(&ctx)), MarkerRead::Present(marker()));
    }

    #[test]
    fn writing_the_marker_keeps_other_user_context_keys() {
        let existing = json!({"site": "oslo", "kea-operator": {"v": 1, "instance": "old"}, "n": [1, 2]});
        let ctx = marker().merge_into(Some(&existing));
        assert_eq!(ctx["site"], "oslo");
        assert_eq!(ctx["n"], json!([1, 2]));
        assert_eq!(ctx["kea-operator"]["instance"], "prod");
    }

    #[test]
    fn classify_distinguishes_ours_other_nc_foreign_instance_and_unmarked() {
        let ctx = marker().merge_into(None);
        assert_eq!(classify(Some(&ctx), "prod", "uid-1"), Ownership::Ours);
        assert_eq!(
            classify(Some(&ctx), "prod", "uid-2"),
            Ownership::OursOtherNc {
                uid: "uid-1".into(),
                owner: "tenant-a/vm-1".into()
            }
        );
        assert_eq!(
            classify(Some(&ctx), "staging", "uid-1"),
            Ownership::ForeignInstance {
                instance: "prod".into()
            }
        );
        assert_eq!(classify(None, "prod", "uid-1"), Ownership::Unmarked);
        assert_eq!(
            classify(Some(&json!({"site": "x"})), "prod", "uid-1"),
            Ownership::Unmarked
        );
        assert_eq!(classify(Some(&Value::Null), "prod", "uid-1"), Ownership::Unmarked);
    }

    #[test]
    fn garbage_markers_are_not_ours_and_not_adoptable() {
        for ctx in [
            json!("a string"),
            json!([1, 2]),
            json!({"kea-operator": "yes"}),
            json!({"kea-operator": {"v": 1, "instance": "prod"}}),
            json!({"kea-operator": {"v": 2, "instance": "prod", "owner": "a/b", "uid": "uid-1", "interface": "e"}}),
            json!({"kea-operator": {"v": "1", "instance": "prod", "owner": "a/b", "uid": "uid-1", "interface": "e"}}),
            json!({"kea-operator": {"v": 1, "instance": 7, "owner": "a/b", "uid": "uid-1", "interface": "e"}}),
        ] {
            let got = classify(Some(&ctx), "prod", "uid-1");
            assert_eq!(got, Ownership::Malformed, "{ctx}");
            assert!(!got.is_this_instance());
        }
    }

    #[test]
    fn unknown_fields_inside_our_marker_are_tolerated() {
        let ctx = json!({"kea-operator": {"v": 1, "instance": "prod", "owner": "a/b", "uid": "u", "interface": "e", "extra": true}});
        assert_eq!(classify(Some(&ctx), "prod", "u"), Ownership::Ours);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z-]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("kea-operator".to_string()),
                        "[a-z]{1,6}".prop_map(String::from)
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn reading_never_panics_and_merging_keeps_foreign_keys(ctx in arb_json()) {
            let _ = classify(Some(&ctx), "prod", "uid-1");
            let merged = marker().merge_into(Some(&ctx));
            prop_assert_eq!(OwnerMarker::read(Some(&merged)), MarkerRead::Present(marker()));
            if let Value::Object(before) = &ctx {
                for (k, v) in before {
                    if k != MARKER_KEY {
                        prop_assert_eq!(merged.get(k), Some(v));
                    }
                }
            }
        }
    }
}
