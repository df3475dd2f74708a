//! Per-MAC locks: two NetworkConfigurations that declare the same MAC, and the sweep, never write
//! that MAC's hosts at the same time (the controller runtime only serializes reconciles of one
//! object). Locks are taken in MAC order, so two holders of overlapping sets cannot deadlock.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::core::Mac;

/// Entries are dropped once nobody holds or waits for them, above this many.
const PRUNE_ABOVE: usize = 1024;

#[derive(Debug, Default)]
pub struct MacLocks {
    locks: Mutex<HashMap<Mac, Arc<AsyncMutex<()>>>>,
}

/// Held locks; released on drop.
#[derive(Debug)]
pub struct MacGuard {
    _guards: Vec<OwnedMutexGuard<()>>,
}

impl MacLocks {
    /// Locks every MAC of `macs` (duplicates are fine), in ascending order.
    pub async fn lock(&self, macs: impl IntoIterator<Item = Mac>) -> MacGuard {
        let wanted: BTreeSet<Mac> = macs.into_iter().collect();
        let mutexes: Vec<Arc<AsyncMutex<()>>> = {
            let mut locks = self.locks.lock();
            if locks.len() > PRUNE_ABOVE {
                locks.retain(|_, m| Arc::strong_count(m) > 1);
            }
            wanted
                .iter()
                .map(|mac| locks.entry(*mac).or_default().clone())
                .collect()
        };
        let mut guards = Vec::with_capacity(mutexes.len());
        for mutex in mutexes {
            guards.push(mutex.lock_owned().await);
        }
        MacGuard { _guards: guards }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn mac(n: u8) -> Mac {
        Mac::from_octets([0, 0, 0, 0, 0, n])
    }

    #[tokio::test]
    async fn overlapping_sets_serialize_and_disjoint_sets_do_not() {
        let locks = Arc::new(MacLocks::default());
        let held = locks.lock([mac(1), mac(2)]).await;
        // Disjoint: immediate.
        let other = tokio::time::timeout(Duration::from_millis(100), locks.lock([mac(3)])).await;
        assert!(other.is_ok());
        // Overlapping (in the other order): waits until the first is released.
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.lock([mac(2), mac(1)]).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(held);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn unused_entries_are_pruned() {
        let locks = MacLocks::default();
        for n in 0..=255u8 {
            for m in 0..5u8 {
                drop(locks.lock([Mac::from_octets([0, 0, 0, 0, m, n])]).await);
            }
        }
        drop(locks.lock([mac(1)]).await);
        assert!(locks.locks.lock().len() <= PRUNE_ABOVE + 1);
    }
}
