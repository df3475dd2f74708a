//! The simulated hosts database (Kea's `hosts-database` with PostgreSQL or MySQL).
//!
//! kea-sim never connects to the configured database: it keeps the hosts in process. The
//! database outlives a server restart, and two simulated servers whose configurations name
//! the same database (type, host, port, name) share one instance, as two Kea servers sharing a
//! PostgreSQL database see each other's writes at once.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::hosts::HostStore;

/// How the database is unavailable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbOutage {
    /// Connections fail fast (PostgreSQL stopped): Kea reports the loss and, depending on
    /// `on-fail`, exits or keeps serving without the database.
    Down,
    /// The database accepts connections but never answers (PostgreSQL paused): Kea's whole
    /// control socket stops answering.
    Hang,
}

/// One simulated hosts database.
#[derive(Debug)]
pub struct HostDb {
    identity: String,
    /// The hosts (locked briefly, never across an await).
    pub hosts: Mutex<HostStore>,
    outage: Mutex<Option<DbOutage>>,
}

impl HostDb {
    /// A new empty database.
    pub fn new(identity: impl Into<String>) -> Self {
        HostDb {
            identity: identity.into(),
            hosts: Mutex::new(HostStore::new()),
            outage: Mutex::new(None),
        }
    }

    /// `type://host:port/name`, the key two configurations share a database by.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The current outage, if any.
    pub fn outage(&self) -> Option<DbOutage> {
        *self.outage.lock()
    }

    /// Start or end an outage.
    pub fn set_outage(&self, outage: Option<DbOutage>) {
        *self.outage.lock() = outage;
    }
}

/// Databases by identity, so servers of one process configured alike share one.
#[derive(Debug, Default)]
pub struct HostDbRegistry {
    dbs: Mutex<HashMap<String, Weak<HostDb>>>,
}

impl HostDbRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The database with this identity, created on first use.
    pub fn get_or_create(&self, identity: &str) -> Arc<HostDb> {
        let mut dbs = self.dbs.lock();
        if let Some(db) = dbs.get(identity).and_then(Weak::upgrade) {
            return db;
        }
        let db = Arc::new(HostDb::new(identity));
        dbs.insert(identity.to_string(), Arc::downgrade(&db));
        db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_identity_shares_one_database() {
        let r = HostDbRegistry::new();
        let a = r.get_or_create("postgresql://127.0.0.1:5432/kea");
        let b = r.get_or_create("postgresql://127.0.0.1:5432/kea");
        let c = r.get_or_create("postgresql://127.0.0.1:5432/other");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        a.set_outage(Some(DbOutage::Down));
        assert_eq!(b.outage(), Some(DbOutage::Down));
    }
}
