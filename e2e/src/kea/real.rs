//! The real-Kea lane's Kea: a real Kea 3.0.4 hot-standby pair (testenv's [`HaPair`]), faults at the
//! process level only: kill and start (connections refused; memory lost), SIGSTOP (hung), restart.

use std::net::Ipv4Addr;

use async_trait::async_trait;
use testenv::kea::{HaPair, KeaBuilder, KeaClient, KeaProcess};

use super::{AddressPool, BackendError, KeaAuth, KeaBackend, KeaHost, Role, SimControl, api, layout};

/// The credentials the auth scenario configures on real Kea (testenv's pair builder takes a plain
/// function, so they are fixed here; the scenario reads them from [`KeaAuth`]).
pub const AUTH_USER: &str = "kea-operator";
pub const AUTH_PASSWORD: &str = "e2e-right-password";

fn with_auth(b: KeaBuilder) -> KeaBuilder {
    b.basic_auth(AUTH_USER, AUTH_PASSWORD)
}

/// A real Kea HA pair.
pub struct RealPair {
    pair: HaPair,
    down: [bool; 2],
    /// SIGSTOPped: it would never answer, so leases go to the other server only.
    hung: [bool; 2],
    pool: AddressPool,
}

impl RealPair {
    /// Starts the pair with the layout's subnets; `auth` must be the fixed credentials above.
    pub async fn start(auth: Option<&KeaAuth>) -> Result<RealPair, BackendError> {
        let mut builder = HaPair::builder().config(layout::dhcp4_base());
        if let Some(a) = auth {
            if a.user != AUTH_USER || a.password != AUTH_PASSWORD {
                return Err(BackendError::Unsupported(
                    "credentials other than real::AUTH_USER/AUTH_PASSWORD",
                ));
            }
            builder = builder.each(with_auth);
        }
        Ok(RealPair {
            pair: builder.start().await?,
            down: [false; 2],
            hung: [false; 2],
            pool: AddressPool::default(),
        })
    }

    fn server(&self, role: Role) -> &KeaProcess {
        match role {
            Role::Primary => &self.pair.primary,
            Role::Secondary => &self.pair.secondary,
        }
    }

    fn server_mut(&mut self, role: Role) -> &mut KeaProcess {
        match role {
            Role::Primary => &mut self.pair.primary,
            Role::Secondary => &mut self.pair.secondary,
        }
    }

    fn client(&self, role: Role) -> Result<&KeaClient, BackendError> {
        self.server(role)
            .client()
            .ok_or(BackendError::Unsupported("a Kea without an HTTP control socket"))
    }
}

#[async_trait]
impl KeaBackend for RealPair {
    fn describe(&self) -> String {
        format!(
            "real Kea HA pair at {} and {}",
            self.pair.primary.url(),
            self.pair.secondary.url()
        )
    }

    fn operator_urls(&self) -> (String, String) {
        (
            self.pair.primary.url().to_string(),
            self.pair.secondary.url().to_string(),
        )
    }

    async fn give_lease(&mut self, mac: &str, subnet_id: u32) -> Result<Ipv4Addr, BackendError> {
        loop {
            let ip = self.pool.next(subnet_id)?;
            let mut added = false;
            for role in Role::BOTH {
                if !self.down[role as usize] && !self.hung[role as usize] {
                    added |= api::add_lease(self.client(role)?, ip, mac, subnet_id).await?;
                }
            }
            if added {
                return Ok(ip);
            }
        }
    }

    async fn hosts(&self, role: Role) -> Result<Vec<KeaHost>, BackendError> {
        api::list_hosts(self.client(role)?).await
    }

    async fn add_host(&self, role: Role, host: &KeaHost) -> Result<(), BackendError> {
        api::add_host(self.client(role)?, host).await
    }

    async fn set_down(&mut self, role: Role, down: bool) -> Result<(), BackendError> {
        if down {
            self.server_mut(role).kill();
        } else {
            self.server_mut(role).start().await?;
        }
        self.down[role as usize] = down;
        Ok(())
    }

    async fn set_hung(&mut self, role: Role, hung: bool) -> Result<(), BackendError> {
        self.server(role).pause(hung);
        self.hung[role as usize] = hung;
        Ok(())
    }

    async fn restart(&mut self, role: Role) -> Result<(), BackendError> {
        Ok(self.server_mut(role).restart().await?)
    }

    fn sim(&self) -> Option<&SimControl> {
        None
    }

    fn log_tail(&self, lines: usize) -> String {
        let tail = |k: &KeaProcess| {
            let logs = k.logs();
            let all: Vec<&str> = logs.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        };
        format!(
            "real Kea primary log:\n{}\nreal Kea secondary log:\n{}",
            tail(&self.pair.primary),
            tail(&self.pair.secondary)
        )
    }
}
