//! The per-server subnet cache (SPEC §2.3). Subnet ids may differ between HA partners, so every
//! server has its own list. Refreshed on a miss (no subnet holds a prefix), when Kea says a subnet is
//! not configured or an address is outside it, and after the server restarted or reloaded its
//! configuration. `config-hash-get` is no signal: it changes with every reservation (measured).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::core::{ServerId, Subnet};
use crate::kea::{KeaError, KeaServers};

/// A miss refreshes at most this often per server, so NCs whose prefix matches no subnet cannot turn
/// every reconcile into a `subnet4-list`.
const MISS_REFRESH_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
struct Entry {
    subnets: Arc<Vec<Subnet>>,
    fetched: Instant,
}

#[derive(Debug, Default)]
pub struct SubnetCache {
    entries: Mutex<HashMap<ServerId, Entry>>,
}

impl SubnetCache {
    /// The server's subnets, fetched when not cached.
    pub async fn get(&self, kea: &KeaServers, server: ServerId) -> Result<Arc<Vec<Subnet>>, KeaError> {
        if let Some(entry) = self.entries.lock().get(&server) {
            return Ok(entry.subnets.clone());
        }
        self.fetch(kea, server).await
    }

    /// Fetches again when the cached list is older than the miss interval; returns the list to use.
    pub async fn refresh_on_miss(
        &self,
        kea: &KeaServers,
        server: ServerId,
    ) -> Result<Arc<Vec<Subnet>>, KeaError> {
        let recent = self
            .entries
            .lock()
            .get(&server)
            .filter(|e| e.fetched.elapsed() < MISS_REFRESH_EVERY)
            .map(|e| e.subnets.clone());
        match recent {
            Some(subnets) => Ok(subnets),
            None => self.fetch(kea, server).await,
        }
    }

    /// Forgets the server's list: the next `get` fetches it.
    pub fn invalidate(&self, server: ServerId) {
        self.entries.lock().remove(&server);
    }

    async fn fetch(&self, kea: &KeaServers, server: ServerId) -> Result<Arc<Vec<Subnet>>, KeaError> {
        let list = kea
            .on(server, |client, _| async move { client.subnets().await })
            .await?;
        let subnets = Arc::new(list.subnets);
        tracing::debug!(%server, count = subnets.len(), "subnet list fetched");
        self.entries.lock().insert(
            server,
            Entry {
                subnets: subnets.clone(),
                fetched: Instant::now(),
            },
        );
        Ok(subnets)
    }
}
