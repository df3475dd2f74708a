//! Starting etcd and the API server with fresh data, certificates and a kubeconfig.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use super::{KubeError, audit, binaries, io_err};
use crate::certs::TestCa;
use crate::ports::{PortLease, free_ports};
use crate::process::{ManagedProcess, ProcessSpec, log_tail, reap_orphans, record_owner, record_process};

/// How long the API server may take to serve its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The files and addresses of one server (what the shared state file stores).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServerFiles {
    pub dir: PathBuf,
    pub url: String,
    pub kubeconfig: PathBuf,
    pub ca: PathBuf,
    pub audit_log: PathBuf,
    pub etcd_port: u16,
    pub etcd_peer_port: u16,
    pub api_port: u16,
}

/// The client identity of the test's own kubeconfig (a cluster admin through its group).
pub(crate) const CLIENT_USER: &str = "testenv-admin";

/// The identity of the under-test kubeconfig (see [`super::KubeEnv::under_test_kubeconfig_path`]).
pub const UNDER_TEST_USER: &str = "testenv-under-test";

/// File name of the under-test kubeconfig in the server directory.
pub(crate) const UNDER_TEST_KUBECONFIG: &str = "kubeconfig-under-test";

/// A kubeconfig for `url` with a client certificate for `user`.
fn kubeconfig_text(url: &str, ca_pem: &str, user: &str, cert: &crate::certs::CertPem) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testenv\n  cluster:\n    server: {url}\n    certificate-authority-data: {}\ncontexts:\n- name: testenv\n  context:\n    cluster: testenv\n    user: {user}\ncurrent-context: testenv\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(ca_pem),
        b64(&cert.cert),
        b64(&cert.key)
    )
}

/// Writes certificates, the audit policy and the kubeconfigs into `dir`.
pub(crate) fn prepare(
    dir: &Path,
    ports: &[PortLease],
    extra_ips: &[IpAddr],
) -> Result<ServerFiles, KubeError> {
    let write = |name: &str, text: &str| -> Result<PathBuf, KubeError> {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(io_err(&p))?;
        Ok(p)
    };
    let ca = TestCa::new("testenv kube ca")?;
    let serving = ca.server_cert("testenv-apiserver", extra_ips)?;
    let client = ca.client_cert(CLIENT_USER, Some("system:masters"))?;
    let ca_path = write("ca.crt", ca.cert_pem())?;
    write("serving.crt", &serving.cert)?;
    write("serving.key", &serving.key)?;
    write("audit-policy.yaml", audit::POLICY)?;
    // The server wants kubeconfigs for delegated authn/authz and its own client; nothing answers
    // there, and `--authentication-skip-lookup` plus the system:masters bypass make that fine.
    write(
        "dummy.kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: none\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\ncontexts:\n- name: none\n  context:\n    cluster: none\n    user: none\ncurrent-context: none\nusers:\n- name: none\n  user: {}\n",
    )?;
    let url = format!("https://127.0.0.1:{}", ports[2].port());
    let kubeconfig = write(
        "kubeconfig",
        &kubeconfig_text(&url, ca.cert_pem(), CLIENT_USER, &client),
    )?;
    // A second identity for the program under test (an operator), so the audit log tells its
    // requests from the test's own. Same group: this server has no RBAC to evaluate.
    let under_test = ca.client_cert(UNDER_TEST_USER, Some("system:masters"))?;
    write(
        UNDER_TEST_KUBECONFIG,
        &kubeconfig_text(&url, ca.cert_pem(), UNDER_TEST_USER, &under_test),
    )?;
    Ok(ServerFiles {
        dir: dir.to_path_buf(),
        url,
        kubeconfig,
        ca: ca_path,
        audit_log: dir.join("audit.log"),
        etcd_port: ports[0].port(),
        etcd_peer_port: ports[1].port(),
        api_port: ports[2].port(),
    })
}

/// The etcd and API server process specs for `files`.
pub(crate) fn specs(
    files: &ServerFiles,
    all_addresses: bool,
    die_with_parent: bool,
) -> Result<[ProcessSpec; 2], KubeError> {
    let (apiserver, etcd) = binaries()?;
    let d = |name: &str| files.dir.join(name).display().to_string();
    let client_url = format!("http://127.0.0.1:{}", files.etcd_port);
    let peer_url = format!("http://127.0.0.1:{}", files.etcd_peer_port);
    let etcd_spec = ProcessSpec {
        name: "etcd".into(),
        program: etcd,
        args: [
            "--data-dir",
            &d("etcd"),
            "--listen-client-urls",
            &client_url,
            "--advertise-client-urls",
            &client_url,
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
            "--initial-cluster",
            &format!("default={peer_url}"),
            "--unsafe-no-fsync",
            "--log-level",
            "warn",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        env: vec![],
        cwd: Some(files.dir.clone()),
        log: files.dir.join("etcd.log"),
        die_with_parent,
        user: None,
    };
    let api_spec = ProcessSpec {
        name: "apiextensions-apiserver".into(),
        program: apiserver,
        args: [
            "--etcd-servers", &client_url,
            "--etcd-prefix", "/testenv",
            "--secure-port", &files.api_port.to_string(),
            "--bind-address", if all_addresses { "0.0.0.0" } else { "127.0.0.1" },
            "--tls-cert-file", &d("serving.crt"),
            "--tls-private-key-file", &d("serving.key"),
            "--client-ca-file", &d("ca.crt"),
            "--authentication-skip-lookup",
            "--authentication-kubeconfig", &d("dummy.kubeconfig"),
            "--authorization-kubeconfig", &d("dummy.kubeconfig"),
            "--kubeconfig", &d("dummy.kubeconfig"),
            "--disable-admission-plugins",
            "NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,MutatingAdmissionPolicy",
            "--enable-priority-and-fairness=false",
            "--audit-log-path", &d("audit.log"),
            "--audit-policy-file", &d("audit-policy.yaml"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        env: vec![],
        cwd: Some(files.dir.clone()),
        log: files.dir.join("apiserver.log"),
        die_with_parent,
        user: None,
    };
    Ok([etcd_spec, api_spec])
}

/// Waits until the API server lists CRDs for the kubeconfig's client; fails early when a process dies.
pub(crate) async fn wait_ready(
    files: &ServerFiles,
    procs: &mut [&mut ManagedProcess],
) -> Result<(), KubeError> {
    crate::certs::install_crypto_provider();
    let started = Instant::now();
    loop {
        for p in procs.iter_mut() {
            if let Some(status) = p.exit_status() {
                return Err(KubeError::Exited {
                    what: p.name().to_string(),
                    status: status.to_string(),
                    tail: log_tail(p.log_path(), 30),
                });
            }
        }
        let last = match try_list(files).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if started.elapsed() > READY_TIMEOUT {
            return Err(KubeError::NotReady {
                what: "apiextensions-apiserver".into(),
                secs: READY_TIMEOUT.as_secs(),
                last,
                tail: log_tail(&files.dir.join("apiserver.log"), 30),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn try_list(files: &ServerFiles) -> Result<(), String> {
    let kubeconfig = kube::config::Kubeconfig::read_from(&files.kubeconfig).map_err(|e| e.to_string())?;
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| e.to_string())?;
    let client = kube::Client::try_from(config).map_err(|e| e.to_string())?;
    let api: Api<CustomResourceDefinition> = Api::all(client);
    api.list(&ListParams::default().limit(1))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A server owned by one test: killed, and its directory removed, on drop.
#[derive(Debug)]
pub(crate) struct PrivateServer {
    apiserver: ManagedProcess,
    etcd: ManagedProcess,
    files: ServerFiles,
    _ports: Vec<PortLease>,
    dir: Option<TempDir>,
}

impl PrivateServer {
    pub(crate) async fn start(extra_ips: &[IpAddr]) -> Result<Self, KubeError> {
        binaries()?;
        let base = std::env::temp_dir().join("testenv-kube");
        std::fs::create_dir_all(&base).map_err(io_err(&base))?;
        reap_orphans(&base);
        let dir = tempfile::Builder::new()
            .prefix("private-")
            .tempdir_in(&base)
            .map_err(io_err(&base))?;
        record_owner(dir.path()).map_err(io_err(dir.path()))?;
        let ports = free_ports(3)?;
        let files = prepare(dir.path(), &ports, extra_ips)?;
        let [etcd_spec, api_spec] = specs(&files, !extra_ips.is_empty(), true)?;
        let started = Instant::now();
        let mut etcd = ManagedProcess::spawn(&etcd_spec)?;
        let _ = record_process(dir.path(), etcd.pid());
        let mut apiserver = ManagedProcess::spawn(&api_spec)?;
        let _ = record_process(dir.path(), apiserver.pid());
        wait_ready(&files, &mut [&mut etcd, &mut apiserver]).await?;
        eprintln!(
            "testenv: private Kubernetes API server {} ready in {:?}",
            files.url,
            started.elapsed()
        );
        Ok(PrivateServer {
            apiserver,
            etcd,
            files,
            _ports: ports,
            dir: Some(dir),
        })
    }

    pub(crate) fn files(&self) -> &ServerFiles {
        &self.files
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.apiserver.kill();
        self.etcd.kill();
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            eprintln!(
                "testenv: test failed; API server files kept in {}\n{}",
                kept.display(),
                log_tail(&kept.join("apiserver.log"), 20)
            );
        }
    }
}
