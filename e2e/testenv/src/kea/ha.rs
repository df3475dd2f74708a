//! A hot-standby HA pair of real kea-dhcp4 servers on loopback.
//!
//! Each server's HA listener (`peers[].url`) gets its own free port, distinct from its control
//! socket: with multi-threading on (Kea 3.0's default) the HA hook opens a dedicated listener there.

use serde_json::{Value, json};

use super::KeaError;
use super::config::{Hook, default_dhcp4};
use super::dhcp4::{KeaBuilder, KeaProcess};
use crate::ports::free_ports;

/// Builds an [`HaPair`].
#[derive(Debug, Clone)]
pub struct HaPairBuilder {
    config: Value,
    heartbeat_delay_ms: u64,
    max_response_delay_ms: u64,
    customize: Option<fn(KeaBuilder) -> KeaBuilder>,
}

impl Default for HaPairBuilder {
    fn default() -> Self {
        HaPairBuilder {
            config: default_dhcp4(),
            heartbeat_delay_ms: 1000,
            max_response_delay_ms: 3000,
            customize: None,
        }
    }
}

impl HaPairBuilder {
    /// The Dhcp4 configuration both servers start from (the HA hook is added per server).
    pub fn config(mut self, config: Value) -> Self {
        self.config = config;
        self
    }

    /// HA timing (defaults 1000 ms heartbeat, 3000 ms max response delay).
    pub fn timing(mut self, heartbeat_delay_ms: u64, max_response_delay_ms: u64) -> Self {
        self.heartbeat_delay_ms = heartbeat_delay_ms;
        self.max_response_delay_ms = max_response_delay_ms;
        self
    }

    /// Applies `f` to each server's builder (auth, TLS...).
    pub fn each(mut self, f: fn(KeaBuilder) -> KeaBuilder) -> Self {
        self.customize = Some(f);
        self
    }

    /// Starts both servers (primary `server1`, standby `server2`).
    pub async fn start(self) -> Result<HaPair, KeaError> {
        let ha_ports = free_ports(2)?;
        let peers = json!([
            {"name": "server1", "url": format!("http://127.0.0.1:{}/", ha_ports[0].port()),
             "role": "primary", "auto-failover": true},
            {"name": "server2", "url": format!("http://127.0.0.1:{}/", ha_ports[1].port()),
             "role": "standby", "auto-failover": true},
        ]);
        let mut servers = Vec::with_capacity(2);
        for this in ["server1", "server2"] {
            let params = json!({"high-availability": [{
                "this-server-name": this,
                "mode": "hot-standby",
                "heartbeat-delay": self.heartbeat_delay_ms,
                "max-response-delay": self.max_response_delay_ms,
                "max-ack-delay": 5000,
                "max-unacked-clients": 0,
                "peers": peers,
            }]});
            let mut builder = KeaProcess::builder()
                .name(if this == "server1" {
                    "ha-primary"
                } else {
                    "ha-standby"
                })
                .config(self.config.clone())
                .hooks(&[Hook::LeaseCmds, Hook::HostCmds, Hook::SubnetCmds])
                .hook_with(Hook::Ha, params);
            if let Some(f) = self.customize {
                builder = f(builder);
            }
            servers.push(builder.start().await?);
        }
        let secondary = servers.pop();
        let primary = servers.pop();
        match (primary, secondary) {
            (Some(primary), Some(secondary)) => Ok(HaPair {
                primary,
                secondary,
                _ha_ports: ha_ports,
            }),
            _ => Err(KeaError::Config("HA pair did not start two servers".into())),
        }
    }
}

/// A running hot-standby pair.
#[derive(Debug)]
pub struct HaPair {
    pub primary: KeaProcess,
    pub secondary: KeaProcess,
    _ha_ports: Vec<crate::ports::PortLease>,
}

impl HaPair {
    pub fn builder() -> HaPairBuilder {
        HaPairBuilder::default()
    }

    /// Waits until `ha-heartbeat` reports `state` (for example `hot-standby`) on both servers.
    pub async fn wait_state(&self, state: &str, timeout: std::time::Duration) -> Result<(), KeaError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let mut all = true;
            for s in [&self.primary, &self.secondary] {
                let answer = s.command("ha-heartbeat", None).await?;
                all &= answer["arguments"]["state"].as_str() == Some(state);
            }
            if all {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(KeaError::Config(format!(
                    "HA pair not in state {state} after {timeout:?}"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
