//! The controller's integration-test harness: the operator runs in process (`run_with`) against the
//! run's shared Kubernetes API server (one namespace per test, so tests run in parallel) and a
//! kea-sim HA pair of the test's own.
//!
//! - [`World`]: the API server, the test's namespace, the Kea pair; object helpers in [`objects`].
//! - [`Operator`]: one in-process operator with short timings ([`operator`]).
//! - [`kea`]: what the Kea servers hold and were sent, with the exact owner marker.
//! - [`wait`]: polling with deadlines (tests never sleep for a default interval).
// Test support: each test crate uses a part of it, and a failed setup panics like a test does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod kea;
pub mod objects;
pub mod operator;
pub mod platform;
pub mod wait;

use kea_operator::crd::{NetworkConfiguration, NetworkNamespace, crd_yaml};
use kea_sim::{KeaSim, KeaSimBuilder, KeaSimPair, KeaSimPairBuilder};
use kube::Api;
use testenv::kube::{KubeEnv, KubeError};

pub use operator::Operator;

/// `KEA_OPERATOR_INSTANCE` of every operator the tests start.
pub const INSTANCE: &str = "test";

/// The primary's subnet for `10.100.0.0/16` (the pool the devices draw from).
pub const PRIMARY_SUBNET: u32 = 1;
/// The secondary's id for the same network: HA partners may number subnets differently, so every
/// test exercises the per-server subnet resolution.
pub const SECONDARY_SUBNET: u32 = 11;
/// A second network (`10.200.0.0/16`) for prefix changes: ids 2 and 12.
pub const PRIMARY_SUBNET_B: u32 = 2;
pub const SECONDARY_SUBNET_B: u32 = 12;

/// The NetworkNamespace prefix inside subnet A's pool.
pub const PREFIX_A: &str = "10.100.1.0/24";
/// The NetworkNamespace prefix inside subnet B's pool.
pub const PREFIX_B: &str = "10.200.1.0/24";

fn server(a: u32, b: u32) -> KeaSimBuilder {
    KeaSim::builder()
        .subnet(a, "10.100.0.0/16")
        .pool(a, "10.100.1.10 - 10.100.1.200")
        .subnet(b, "10.200.0.0/16")
        .pool(b, "10.200.1.10 - 10.200.1.200")
}

/// The default pair: two networks, numbered differently on each server.
pub fn pair_builder() -> KeaSimPairBuilder {
    pair_builder_with(|b, _, _| b)
}

/// The default pair with more configuration per server: `extra(builder, subnet A's id on that
/// server, is_primary)` (reservations in the configuration, seeded leases, …).
pub fn pair_builder_with(extra: impl Fn(KeaSimBuilder, u32, bool) -> KeaSimBuilder) -> KeaSimPairBuilder {
    KeaSimPair::builder()
        .primary(extra(
            server(PRIMARY_SUBNET, PRIMARY_SUBNET_B),
            PRIMARY_SUBNET,
            true,
        ))
        .secondary(extra(
            server(SECONDARY_SUBNET, SECONDARY_SUBNET_B),
            SECONDARY_SUBNET,
            false,
        ))
}

/// Logs of the operator under test go to the test's output (shown by nextest when a test fails).
/// `RUST_LOG` overrides the default filter.
pub fn init_tracing() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,kea_operator=info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_test_writer()
        .try_init();
}

/// One test's world: an API server, a namespace nobody else uses, a Kea pair.
pub struct World {
    pub env: KubeEnv,
    pub client: kube::Client,
    pub ns: String,
    pub pair: KeaSimPair,
}

impl World {
    /// The shared API server with our CRDs, a fresh namespace and the default pair.
    pub async fn start(prefix: &str) -> Result<World, KubeError> {
        Self::start_with(prefix, pair_builder()).await
    }

    pub async fn start_with(prefix: &str, pair: KeaSimPairBuilder) -> Result<World, KubeError> {
        testenv::certs::install_crypto_provider();
        init_tracing();
        let env = KubeEnv::shared().await?;
        env.apply_crds_yaml(&crd_yaml()).await?;
        Self::on(env, prefix, pair).await
    }

    /// A world on a server the caller prepared (its CRDs already applied).
    pub async fn on(env: KubeEnv, prefix: &str, pair: KeaSimPairBuilder) -> Result<World, KubeError> {
        testenv::certs::install_crypto_provider();
        init_tracing();
        let client = env.client().await?;
        let ns = env.namespace(prefix);
        let pair = pair.start().await;
        Ok(World {
            env,
            client,
            ns,
            pair,
        })
    }

    pub fn primary(&self) -> &KeaSim {
        self.pair.primary()
    }

    pub fn secondary(&self) -> &KeaSim {
        self.pair.secondary()
    }

    pub fn ncs(&self) -> Api<NetworkConfiguration> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    pub fn nns(&self) -> Api<NetworkNamespace> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Starts an operator watching this world's namespace with the short test timings and `flags`
    /// (`("--dry-run", "true")`, …) overriding them.
    pub async fn operator(&self, flags: &[(&str, &str)]) -> Operator {
        Operator::start(self, flags).await
    }

    /// A device obtains a lease from the pair (replicated to the partner); returns its address.
    pub fn acquire(&self, mac: &str, primary_subnet: u32) -> std::net::Ipv4Addr {
        self.pair
            .dhcp_acquire(mac, Some(primary_subnet))
            .unwrap_or_else(|e| panic!("DHCP acquire for {mac}: {e}"))
    }
}
