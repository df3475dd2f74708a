//! One scenario's world: a private API server (the operator watches every namespace, so scenarios
//! never share one), the NC/NN CRDs, a Kea pair of the lane, the operator replicas, and the oracle
//! the invariants are checked against. Dropped without [`World::finish`] (a failure), it prints
//! the operators' and Kea's last log lines and where the full logs are.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kea_operator::crd::{NetworkConfiguration, NetworkNamespace};
use kube::api::{Api, ListParams};
use testenv::kube::KubeEnv;

use crate::apiserver::ApiServer;
use crate::cluster::{Cluster, ClusterError};
use crate::docker;
use crate::invariants::{self, Observed, Oracle, normalize_mac};
use crate::k8s::K8s;
use crate::kea::{BackendError, KeaAuth, KeaBackend, KeaHost, Role};
use crate::lane::Lane;
use crate::operator::container::{ContainerLaunch, FILES_DIR};
use crate::operator::pod::PodLaunch;
use crate::operator::{Launch, Operator, OperatorConfig, OperatorError};
use crate::rbac::{self, Access};
use crate::wait::{Probe, eventually};

/// Why a world could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error(transparent)]
    Kube(#[from] testenv::kube::KubeError),
    #[error(transparent)]
    Kea(#[from] BackendError),
    #[error(transparent)]
    Operator(#[from] OperatorError),
    #[error(transparent)]
    Docker(#[from] docker::DockerError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{0}")]
    Missing(String),
    #[error("cannot prepare {path}: {message}")]
    Io { path: String, message: String },
}

impl WorldError {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        match self {
            WorldError::Kube(_) => "kube",
            WorldError::Kea(_) => "kea",
            WorldError::Operator(_) => "operator",
            WorldError::Docker(_) => "docker",
            WorldError::Cluster(_) => "cluster",
            WorldError::Missing(_) => "missing",
            WorldError::Io { .. } => "io",
        }
    }
}

impl testenv::MissingEnvironment for WorldError {
    fn is_missing_environment(&self) -> bool {
        match self {
            WorldError::Kube(e) => e.is_missing_environment(),
            WorldError::Kea(e) => e.is_missing_environment(),
            WorldError::Operator(e) => e.is_missing_environment(),
            WorldError::Missing(_) => true,
            WorldError::Cluster(e) => matches!(
                e,
                ClusterError::Config(_) | ClusterError::NoChart | ClusterError::NoAuditLog
            ),
            WorldError::Docker(_) | WorldError::Io { .. } => false,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WorldError + '_ {
    move |e| WorldError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Options of a world.
#[derive(Debug, Clone, Default)]
pub struct WorldOptions {
    /// Basic authentication on Kea's control sockets.
    pub kea_auth: Option<KeaAuth>,
}

/// Where a run keeps its logs: `E2E_RUN_DIR`, else `$TMPDIR/kea-operator-e2e/<lane>`.
pub fn run_dir(lane: Lane) -> PathBuf {
    std::env::var_os("E2E_RUN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("kea-operator-e2e").join(lane.as_str()))
}

/// `n` scaled by `E2E_SCALE` (default 1): CI runs the counts of the issue, a long local run more.
pub fn scaled(n: usize) -> usize {
    let scale: f64 = std::env::var("E2E_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(1.0);
    ((n as f64) * scale).round().max(1.0) as usize
}

/// A scenario's environment.
pub struct World {
    pub lane: Lane,
    pub name: String,
    pub dir: PathBuf,
    pub kube: ApiServer,
    pub k8s: K8s,
    /// The scenario's main namespace.
    pub ns: String,
    pub kea: Box<dyn KeaBackend>,
    pub oracle: Oracle,
    pub operators: Vec<Operator>,
    network: Option<docker::Network>,
    finished: bool,
    started: Instant,
}

impl World {
    /// Starts the API server, the CRDs and the lane's Kea; records the hosts Kea starts with as
    /// foreign. No operator yet: see [`Self::start_operator`].
    pub async fn start(lane: Lane, name: &str, options: WorldOptions) -> Result<World, WorldError> {
        let started = Instant::now();
        let dir = run_dir(lane).join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("files")).map_err(io_err(&dir))?;
        let auth = options.kea_auth.as_ref();
        let ns = testenv::kube::namespace_name(name);
        let (kube, kea, network): (ApiServer, Box<dyn KeaBackend>, Option<docker::Network>) = match lane {
            Lane::Local => {
                let kube = KubeEnv::start_private().await?;
                let kea = crate::kea::sim::SimPair::start(&dir, auth).await?;
                (ApiServer::Private(Box::new(kube)), Box::new(kea), None)
            }
            Lane::RealKea => {
                let kube = KubeEnv::start_private().await?;
                let kea = crate::kea::real::RealPair::start(auth).await?;
                (ApiServer::Private(Box::new(kube)), Box::new(kea), None)
            }
            Lane::Containers => {
                let tag = image_tag();
                if !docker::available() {
                    return Err(WorldError::Missing("no Docker engine answers here".into()));
                }
                for image in ["kea-operator", "kea-sim"] {
                    if !docker::image_present(&format!("{image}:{tag}")) {
                        return Err(WorldError::Missing(format!(
                            "image {image}:{tag} is not built; run `just images` (nothing can be pulled here)"
                        )));
                    }
                }
                let net_name = format!("e2e-{}-{:04x}", short(name), rand::random::<u16>());
                let network = docker::Network::create(&net_name)?;
                let kube = KubeEnv::builder()
                    .extra_ips(&[network.gateway])
                    .start_private()
                    .await?;
                let kea = crate::kea::containers::ContainerPair::start(&net_name, &tag, &dir, auth).await?;
                (ApiServer::Private(Box::new(kube)), Box::new(kea), Some(network))
            }
            Lane::Cluster => {
                // Scenarios take turns in one cluster: first what an earlier one left goes.
                let cluster = Cluster::connect().await?;
                cluster.reset().await?;
                crate::cluster::ensure_namespace(cluster.client(), &ns)
                    .await
                    .map_err(ClusterError::from)?;
                let image = format!("kea-sim:{}", image_tag());
                let kea =
                    crate::kea::sim::SimPair::start_in_cluster(&cluster, &ns, &image, &dir, auth).await?;
                (ApiServer::Cluster(Box::new(cluster)), Box::new(kea), None)
            }
        };
        let k8s = match &kube {
            ApiServer::Private(env) => {
                env.apply_crds_yaml(&kea_operator::crd::crd_yaml()).await?;
                K8s::new(env.client().await?)
            }
            // The chart installed the CRDs: the cluster serves those.
            ApiServer::Cluster(c) => K8s::creating_namespaces(c.client().clone()),
        };
        let mut oracle = Oracle {
            instance: format!("e2e-{}", short(name)),
            ..Default::default()
        };
        for role in Role::BOTH {
            oracle.foreign.insert(role, kea.hosts(role).await?);
        }
        eprintln!(
            "e2e[{lane}] {name}: world ready in {:?}: API server {}, {}; logs in {}",
            started.elapsed(),
            kube.url(),
            kea.describe(),
            dir.display()
        );
        Ok(World {
            lane,
            name: name.to_string(),
            dir,
            kube,
            k8s,
            ns,
            kea,
            oracle,
            operators: Vec::new(),
            network,
            finished: false,
            started,
        })
    }

    /// The operator's configuration for this world (Kea URLs, instance; test timings).
    pub fn operator_config(&self) -> OperatorConfig {
        let (primary, secondary) = self.kea.operator_urls();
        OperatorConfig::new(&primary, Some(&secondary), &self.oracle.instance)
    }

    /// Writes `contents` to a file every operator of this world can read; returns its path as
    /// the operator sees it (a host path, or the mounted path in a container or pod).
    pub async fn operator_file(&self, name: &str, contents: &str) -> Result<String, WorldError> {
        if let Some(cluster) = self.kube.cluster() {
            cluster.put_file(name, contents).await?;
            return Ok(format!("{FILES_DIR}/{name}"));
        }
        let path = self.dir.join("files").join(name);
        // Written then renamed, as a Secret volume updates: readers never see half a file.
        let tmp = self.dir.join("files").join(format!(".{name}.tmp"));
        std::fs::write(&tmp, contents).map_err(io_err(&tmp))?;
        docker::make_readable(&self.dir.join("files")).map_err(io_err(&path))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        Ok(match self.lane {
            Lane::Containers => format!("{FILES_DIR}/{name}"),
            _ => path.display().to_string(),
        })
    }

    /// How long a changed [`Self::operator_file`] may take to reach a running operator: at once
    /// for a host file or a bind mount; a mounted Secret is refreshed by the kubelet within its
    /// sync period (one minute by default) plus its cache's lifetime.
    pub fn file_update_delay(&self) -> Duration {
        match self.lane {
            Lane::Cluster => Duration::from_secs(120),
            _ => Duration::ZERO,
        }
    }

    async fn launch(&self) -> Result<Launch, WorldError> {
        if let Some(cluster) = self.kube.cluster() {
            return Ok(Launch::Pod(Box::new(PodLaunch {
                client: cluster.client().clone(),
                template: cluster.template().clone(),
                scenario: self.name.clone(),
            })));
        }
        let kubeconfig = self
            .kube
            .under_test_kubeconfig_path()
            .ok_or_else(|| WorldError::Missing("no kubeconfig for an operator process".into()))?;
        match (&self.network, self.lane) {
            (Some(network), Lane::Containers) => {
                let text = std::fs::read_to_string(&kubeconfig).map_err(io_err(&kubeconfig))?;
                // The container reaches the API server at the network's gateway, which the serving
                // certificate names (KubeEnv::builder().extra_ips).
                let text = text.replace("https://127.0.0.1:", &format!("https://{}:", network.gateway));
                self.operator_file("kubeconfig", &text).await?;
                Ok(Launch::Container(ContainerLaunch {
                    image: ("kea-operator".into(), image_tag()),
                    network: network.name.clone(),
                    files: self.dir.join("files"),
                }))
            }
            _ => Ok(Launch::Process { kubeconfig }),
        }
    }

    /// Starts an operator replica with `config` and waits until it is ready; returns its index.
    pub async fn start_operator(&mut self, config: OperatorConfig) -> anyhow::Result<usize> {
        let index = self.start_operator_unready(config).await?;
        self.operators[index].wait_ready(Duration::from_secs(30)).await?;
        Ok(index)
    }

    /// Starts an operator replica without waiting for readiness.
    pub async fn start_operator_unready(&mut self, config: OperatorConfig) -> Result<usize, WorldError> {
        let name = format!("operator-{}", self.operators.len());
        let op = Operator::start(&name, config, self.launch().await?, &self.dir).await?;
        self.operators.push(op);
        Ok(self.operators.len() - 1)
    }

    /// The first replica.
    pub fn operator(&self) -> &Operator {
        &self.operators[0]
    }

    pub fn operator_mut(&mut self) -> &mut Operator {
        &mut self.operators[0]
    }

    /// A device obtains a lease in `subnet_id` (recorded for the invariants).
    pub async fn give_lease(&mut self, mac: &str, subnet_id: u32) -> anyhow::Result<Ipv4Addr> {
        let ip = self.kea.give_lease(mac, subnet_id).await?;
        let key = normalize_mac(mac).unwrap_or_else(|| mac.to_ascii_lowercase());
        self.oracle.leases.entry(key).or_default().push(ip);
        Ok(ip)
    }

    /// Adds a host the operator does not own to `role` (recorded: it must never change).
    pub async fn add_foreign_host(&mut self, role: Role, host: KeaHost) -> anyhow::Result<()> {
        self.kea.add_host(role, &host).await?;
        self.oracle.foreign.entry(role).or_default().push(host);
        Ok(())
    }

    /// The NCs, NNs (every namespace) and every server's hosts, now.
    pub async fn observe(&self) -> anyhow::Result<Observed> {
        let client = self.k8s.client().clone();
        let ncs = Api::<NetworkConfiguration>::all(client.clone())
            .list(&ListParams::default())
            .await?
            .items;
        let nns = Api::<NetworkNamespace>::all(client)
            .list(&ListParams::default())
            .await?
            .items;
        let mut hosts = BTreeMap::new();
        for role in Role::BOTH {
            hosts.insert(role, self.kea.hosts(role).await?);
        }
        Ok(Observed { ncs, nns, hosts })
    }

    /// Waits until the invariants hold (SPEC §10); fails with the violations left at the deadline.
    pub async fn converge(&self, timeout: Duration) -> anyhow::Result<()> {
        eventually("the invariants to hold", timeout, async || {
            let observed = self.observe().await?;
            let violations = invariants::check(&self.oracle, &observed);
            Ok(if violations.is_empty() {
                Probe::Done(())
            } else {
                let n = violations.len();
                let first: Vec<String> = violations.into_iter().take(15).collect();
                Probe::NotYet(format!("{n} violations:\n  {}", first.join("\n  ")))
            })
        })
        .await
    }

    /// What the operator's identity did on the API server, as RBAC sees it.
    pub fn operator_accesses(&self) -> anyhow::Result<Vec<Access>> {
        let user = self.kube.operator_user();
        let mut out: Vec<Access> = self
            .kube
            .audit_events()?
            .iter()
            .filter(|e| e.user == user)
            .map(Access::from_audit)
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Ends a scenario: invariants, every request of the operator granted by the chart's RBAC
    /// (recorded for the RBAC scenario's whole-run check), no panic in any operator log.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        self.converge(Duration::from_secs(60)).await?;
        let accesses = self.operator_accesses()?;
        let rules = rbac::chart_rules()?;
        let missing = rbac::ungranted(&rules, &accesses);
        anyhow::ensure!(
            missing.is_empty(),
            "the operator made requests the chart's RBAC does not grant: {}",
            missing
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let audit_dir = run_dir(self.lane).join("audit");
        std::fs::create_dir_all(&audit_dir)?;
        std::fs::write(
            audit_dir.join(format!("{}.json", self.name)),
            serde_json::to_string(&accesses)?,
        )?;
        for op in &self.operators {
            let panics = op.panics();
            anyhow::ensure!(
                panics.is_empty(),
                "operator {} panicked: {}",
                op.name(),
                panics.join("\n")
            );
        }
        if let Some(cluster) = self.kube.cluster() {
            // The next scenario would remove them too; a passed one leaves the cluster clean.
            cluster.reset().await?;
        }
        self.finished = true;
        eprintln!(
            "e2e[{}] {}: passed in {:.1}s",
            self.lane,
            self.name,
            self.started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Ends a world that is not a scenario (the benchmark's lower-bound run): no invariants, no
    /// failure report.
    pub fn dismiss(mut self) {
        self.finished = true;
    }

    /// Seconds since the world started (for scenario logs).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        eprintln!(
            "e2e[{}] {}: FAILED after {:.1}s; logs in {}",
            self.lane,
            self.name,
            self.started.elapsed().as_secs_f64(),
            self.dir.display()
        );
        for op in &self.operators {
            eprintln!(
                "--- {} (last 40 lines of {}) ---\n{}",
                op.name(),
                op.log_path().display(),
                op.log_tail(40)
            );
        }
        eprintln!("--- Kea ---\n{}", self.kea.log_tail(15));
    }
}

/// The image tag the containers lane runs (`E2E_IMAGE_TAG`, default `dev`: what `just images` builds).
pub fn image_tag() -> String {
    std::env::var("E2E_IMAGE_TAG").unwrap_or_else(|_| "dev".into())
}

/// A name short enough for Docker networks, containers and the instance marker.
fn short(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(20)
        .collect()
}
