//! `KEA_CONFIG_WRITE`: after changes, `config-write` per server, debounced (SPEC §2).
//!
//! Reservations written to a server's memory are lost at its restart unless the configuration is
//! written back to its file. Writing after every change would make Kea rewrite its whole
//! configuration file per reservation, so requests within `KEA_CONFIG_WRITE_DEBOUNCE_MS` are
//! coalesced into one `config-write`. A failed write is logged and not repeated on its own: the next
//! change requests another, and a restart that lost memory reservations is detected by the health
//! task and repaired by the sweep.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::ServerId;
use super::servers::KeaServers;

/// One server's pending request.
#[derive(Debug, Default)]
pub(super) struct ConfigWriteRequest {
    dirty: AtomicBool,
    wake: Notify,
}

impl KeaServers {
    /// Asks for a `config-write` on `server` after the debounce (no-op unless `KEA_CONFIG_WRITE`).
    pub fn request_config_write(&self, server: ServerId) {
        if self.inner.config_write.is_none() {
            return;
        }
        if let Some(slot) = self.slot(server) {
            slot.config_write.dirty.store(true, Ordering::Release);
            slot.config_write.wake.notify_one();
        }
    }

    /// Starts the per-server writers; `None` when `KEA_CONFIG_WRITE` is off.
    pub fn spawn_config_writer(&self, cancel: CancellationToken) -> Option<JoinHandle<()>> {
        let debounce = self.inner.config_write?;
        let servers = self.clone();
        Some(tokio::spawn(async move {
            let writers = servers.ids().into_iter().map(|server| {
                let servers = servers.clone();
                let cancel = cancel.clone();
                async move {
                    let Some(slot) = servers.slot(server) else { return };
                    loop {
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            () = slot.config_write.wake.notified() => {}
                        }
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            () = tokio::time::sleep(debounce) => {}
                        }
                        if !slot.config_write.dirty.swap(false, Ordering::AcqRel) {
                            continue;
                        }
                        match servers.on(server, |client, _| async move { client.config_write().await }).await {
                            Ok(()) => tracing::debug!(%server, "config-write done"),
                            Err(e) => tracing::warn!(%server, category = e.category(), error = %e,
                                "config-write failed; memory reservations may be lost at a Kea restart until the next sweep"),
                        }
                    }
                }
            });
            futures::future::join_all(writers).await;
        }))
    }
}
