//! MAC → NetworkConfigurations declaring it, kept current from the NC watch stream.
//!
//! Why: the "older NC owns a MAC" rule (SPEC §2.5) needs, for each reconcile, the other NCs that
//! declare the same MACs. Scanning the whole store every time is O(NCs) per reconcile — 10,000 NCs
//! would make convergence quadratic. The index answers in O(MACs of the NC).

use std::collections::{BTreeSet, HashMap, HashSet};

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use parking_lot::RwLock;

use crate::core::Mac;

use super::context::NcGuard;

#[derive(Debug, Default)]
pub struct MacIndex {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    by_mac: HashMap<Mac, HashSet<ObjectRef<NcGuard>>>,
    by_object: HashMap<ObjectRef<NcGuard>, Vec<Mac>>,
    /// Objects seen during a re-list, swapped in at its end (like the reflector's store).
    relist: Option<HashMap<ObjectRef<NcGuard>, Vec<Mac>>>,
}

fn macs_of(guard: &NcGuard) -> Vec<Mac> {
    match &guard.0 {
        Ok(nc) => {
            let set: BTreeSet<Mac> = nc
                .spec
                .network_interfaces
                .iter()
                .filter_map(|i| Mac::parse(&i.mac_address).ok())
                .collect();
            set.into_iter().collect()
        }
        Err(_) => Vec::new(),
    }
}

impl Inner {
    fn remove(&mut self, key: &ObjectRef<NcGuard>) {
        if let Some(macs) = self.by_object.remove(key) {
            for mac in macs {
                if let Some(set) = self.by_mac.get_mut(&mac) {
                    set.remove(key);
                    if set.is_empty() {
                        self.by_mac.remove(&mac);
                    }
                }
            }
        }
    }

    fn insert(&mut self, key: ObjectRef<NcGuard>, macs: Vec<Mac>) {
        self.remove(&key);
        for mac in &macs {
            self.by_mac.entry(*mac).or_default().insert(key.clone());
        }
        self.by_object.insert(key, macs);
    }
}

impl MacIndex {
    /// Feeds one watcher event (call it for every event of the NC watch, before any filtering).
    pub fn apply(&self, event: &watcher::Event<NcGuard>) {
        let mut inner = self.inner.write();
        match event {
            watcher::Event::Apply(obj) => inner.insert(ObjectRef::from_obj(obj), macs_of(obj)),
            watcher::Event::Delete(obj) => inner.remove(&ObjectRef::from_obj(obj)),
            watcher::Event::Init => inner.relist = Some(HashMap::new()),
            watcher::Event::InitApply(obj) => {
                let key = ObjectRef::from_obj(obj);
                let macs = macs_of(obj);
                inner.relist.get_or_insert_with(HashMap::new).insert(key, macs);
            }
            watcher::Event::InitDone => {
                let fresh = inner.relist.take().unwrap_or_default();
                inner.by_mac.clear();
                inner.by_object.clear();
                for (key, macs) in fresh {
                    inner.insert(key, macs);
                }
            }
        }
    }

    /// Every object declaring any of `macs`.
    pub fn declarers(&self, macs: impl IntoIterator<Item = Mac>) -> HashSet<ObjectRef<NcGuard>> {
        let inner = self.inner.read();
        macs.into_iter()
            .filter_map(|mac| inner.by_mac.get(&mac))
            .flatten()
            .cloned()
            .collect()
    }
}

/// Name for logs.
pub fn describe(guard: &NcGuard) -> String {
    format!("{}/{}", guard.namespace().unwrap_or_default(), guard.name_any())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::DeserializeGuard;

    use crate::crd::NetworkConfiguration;

    fn nc(name: &str, macs: &[&str]) -> NcGuard {
        let mut builder = NetworkConfiguration::test().named("ns", name);
        for (i, mac) in macs.iter().enumerate() {
            builder = builder.interface(&format!("eth{i}"), mac);
        }
        DeserializeGuard(Ok(builder))
    }

    fn names(set: HashSet<ObjectRef<NcGuard>>) -> Vec<String> {
        let mut names: Vec<String> = set.into_iter().map(|r| r.name).collect();
        names.sort();
        names
    }

    #[test]
    fn tracks_applies_deletes_and_relists() {
        let index = MacIndex::default();
        let a = Mac::parse("aa:00:00:00:00:01").unwrap();
        let b = Mac::parse("aa:00:00:00:00:02").unwrap();
        index.apply(&watcher::Event::Apply(nc(
            "one",
            &["AA-00-00-00-00-01", "aa:00:00:00:00:02"],
        )));
        index.apply(&watcher::Event::Apply(nc(
            "two",
            &["aa:00:00:00:00:01", "not-a-mac"],
        )));
        assert_eq!(names(index.declarers([a])), ["one", "two"]);
        // An edit that drops a MAC.
        index.apply(&watcher::Event::Apply(nc("one", &["aa:00:00:00:00:02"])));
        assert_eq!(names(index.declarers([a])), ["two"]);
        index.apply(&watcher::Event::Delete(nc("two", &[])));
        assert!(index.declarers([a]).is_empty());
        // A re-list replaces everything at its end.
        index.apply(&watcher::Event::Init);
        index.apply(&watcher::Event::InitApply(nc("three", &["aa:00:00:00:00:01"])));
        assert_eq!(
            names(index.declarers([b])),
            ["one"],
            "old view until the re-list completes"
        );
        index.apply(&watcher::Event::InitDone);
        assert!(index.declarers([b]).is_empty());
        assert_eq!(names(index.declarers([a, b])), ["three"]);
    }
}
