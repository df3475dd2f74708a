//! A local TCP port that reaches a pod's port through the API server (`pods/portforward`), so the
//! harness's ordinary HTTP clients (kea-sim's admin client, the Kea client, the operator's
//! `/metrics`) work unchanged against pods in the cluster.
//!
//! Each accepted connection opens its own port-forward to the pod *by name*: a pod deleted and
//! created again under the same name (an operator restarted by a scenario) is reached again without
//! a new local port, and a pod that is not there yet fails that one connection (the caller's wait
//! loop retries), as `kubectl port-forward` would not.

use std::net::SocketAddr;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A listening local port forwarding to `pod:port`; stops when dropped.
#[derive(Debug)]
pub struct Forward {
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl Forward {
    /// Listens on `127.0.0.1:<free port>` and forwards every connection to `port` of pod `pod`.
    pub async fn start(pods: Api<Pod>, pod: &str, port: u16) -> std::io::Result<Forward> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let local = listener.local_addr()?;
        let pod = pod.to_string();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (pods, pod) = (pods.clone(), pod.clone());
                tokio::spawn(async move {
                    // A failed forward closes the local connection: the client sees a reset and retries.
                    let _ = bridge(pods, &pod, port, conn).await;
                });
            }
        });
        Ok(Forward { local, task })
    }

    /// `http://127.0.0.1:<local port>` (with a trailing slash when `slash`).
    pub fn url(&self, slash: bool) -> String {
        format!("http://{}{}", self.local, if slash { "/" } else { "" })
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn bridge(pods: Api<Pod>, pod: &str, port: u16, mut conn: TcpStream) -> anyhow::Result<()> {
    let mut forwarder = pods.portforward(pod, &[port]).await?;
    let mut upstream = forwarder
        .take_stream(port)
        .ok_or_else(|| anyhow::anyhow!("port-forward to {pod}:{port} gave no stream"))?;
    tokio::io::copy_bidirectional(&mut conn, &mut upstream).await?;
    drop(upstream);
    forwarder.join().await?;
    Ok(())
}
