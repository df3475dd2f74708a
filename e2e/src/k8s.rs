//! The Kubernetes side of a scenario: NetworkNamespaces with a prefix in their status,
//! NetworkConfigurations created, edited and deleted with the operator's own types, conditions,
//! and the Events (`events.k8s.io/v1`, a stand-in CRD on the test API server) the operator emits.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kea_operator::crd::{
    NetworkConfiguration, NetworkConfigurationSpec, NetworkInterface, NetworkNamespace, NetworkNamespaceSpec,
};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::{Client, ResourceExt as _};
use serde_json::json;

use crate::wait::{Probe, eventually};

/// A client and the helpers scenarios use.
#[derive(Clone)]
pub struct K8s {
    client: Client,
    /// In a real cluster (the cluster lane), the namespaces this created: each is created before
    /// its first object. `None` on a private API server, where namespaces are plain strings.
    created_namespaces: Option<Arc<Mutex<HashSet<String>>>>,
}

/// How an NC is created: name, interfaces, optional NetworkNamespace name, provider.
#[derive(Debug, Clone)]
pub struct NcSpec {
    pub name: String,
    pub interfaces: Vec<(String, String)>,
    pub network_namespace: Option<String>,
    pub provider: String,
}

impl NcSpec {
    /// A `kea` NC named `name` without interfaces.
    pub fn new(name: &str) -> Self {
        NcSpec {
            name: name.to_string(),
            interfaces: Vec::new(),
            network_namespace: None,
            provider: "kea".into(),
        }
    }

    pub fn interface(mut self, name: &str, mac: &str) -> Self {
        self.interfaces.push((name.to_string(), mac.to_string()));
        self
    }

    pub fn network_namespace(mut self, name: &str) -> Self {
        self.network_namespace = Some(name.to_string());
        self
    }

    pub fn provider(mut self, provider: &str) -> Self {
        self.provider = provider.to_string();
        self
    }

    fn build(&self) -> NetworkConfiguration {
        NetworkConfiguration::new(
            &self.name,
            NetworkConfigurationSpec {
                cluster_name: "e2e-cluster".into(),
                datacenter_name: "e2e-dc".into(),
                supervisor_name: "e2e-supervisor".into(),
                provider: self.provider.clone(),
                network_namespace_name: self.network_namespace.clone(),
                network_interfaces: interfaces(&self.interfaces),
            },
        )
    }
}

fn interfaces(list: &[(String, String)]) -> Vec<NetworkInterface> {
    list.iter()
        .map(|(name, mac)| NetworkInterface {
            name: name.clone(),
            mac_address: mac.clone(),
        })
        .collect()
}

/// The condition `type_` of an NC's status.
pub fn condition<'a>(nc: &'a NetworkConfiguration, type_: &str) -> Option<&'a Condition> {
    nc.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)
}

/// `Ready` is True and computed from the current generation.
pub fn is_ready(nc: &NetworkConfiguration) -> bool {
    current(nc) && condition(nc, "Ready").is_some_and(|c| c.status == "True")
}

/// The status was computed from the current generation.
pub fn current(nc: &NetworkConfiguration) -> bool {
    nc.status.as_ref().and_then(|s| s.observed_generation) == nc.metadata.generation
}

/// `Ready` reason (of the current generation), or `-`.
pub fn ready_reason(nc: &NetworkConfiguration) -> String {
    condition(nc, "Ready").map_or_else(|| "-".to_string(), |c| format!("{}={}", c.status, c.reason))
}

/// A short description of an NC's status for timeout messages.
pub fn describe(nc: &NetworkConfiguration) -> String {
    let status = nc.status.as_ref();
    let ifaces: Vec<String> = status
        .map(|s| {
            s.network_interfaces
                .iter()
                .map(|i| format!("{}:{:?}:{:?}", i.name, i.state, i.ipv4_address))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{} gen {:?} observed {:?} phase {:?} Ready {} interfaces {:?} finalizers {:?} deleting {}",
        nc.name_any(),
        nc.metadata.generation,
        status.and_then(|s| s.observed_generation),
        status.and_then(|s| s.phase),
        ready_reason(nc),
        ifaces,
        nc.metadata.finalizers,
        nc.metadata.deletion_timestamp.is_some()
    )
}

impl K8s {
    pub fn new(client: Client) -> Self {
        K8s {
            client,
            created_namespaces: None,
        }
    }

    /// For a real cluster: namespaces are created on first use.
    pub fn creating_namespaces(client: Client) -> Self {
        K8s {
            client,
            created_namespaces: Some(Arc::default()),
        }
    }

    /// Makes sure namespace `ns` exists (a real cluster only; nothing to do elsewhere).
    pub async fn ensure_namespace(&self, ns: &str) -> Result<(), kube::Error> {
        let Some(created) = &self.created_namespaces else {
            return Ok(());
        };
        if created.lock().map(|c| c.contains(ns)).unwrap_or(false) {
            return Ok(());
        }
        crate::cluster::ensure_namespace(&self.client, ns).await?;
        if let Ok(mut c) = created.lock() {
            c.insert(ns.to_string());
        }
        Ok(())
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn ncs(&self, ns: &str) -> Api<NetworkConfiguration> {
        Api::namespaced(self.client.clone(), ns)
    }

    pub fn nns(&self, ns: &str) -> Api<NetworkNamespace> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Creates NetworkNamespace `name`; with `prefix`, writes `status.ipv4Prefix` (status
    /// subresource, as the platform does).
    pub async fn create_nn(&self, ns: &str, name: &str, prefix: Option<&str>) -> anyhow::Result<()> {
        let nn = NetworkNamespace::new(name, NetworkNamespaceSpec::default());
        self.ensure_namespace(ns).await?;
        self.nns(ns).create(&PostParams::default(), &nn).await?;
        if let Some(p) = prefix {
            self.set_nn_prefix(ns, name, p).await?;
        }
        Ok(())
    }

    /// Sets `status.ipv4Prefix` of a NetworkNamespace.
    pub async fn set_nn_prefix(&self, ns: &str, name: &str, prefix: &str) -> anyhow::Result<()> {
        self.nns(ns)
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"ipv4Prefix": prefix}})),
            )
            .await?;
        Ok(())
    }

    /// Creates an NC.
    pub async fn create_nc(&self, ns: &str, spec: &NcSpec) -> anyhow::Result<NetworkConfiguration> {
        self.ensure_namespace(ns).await?;
        Ok(self.ncs(ns).create(&PostParams::default(), &spec.build()).await?)
    }

    /// Creates an NC from raw JSON, sent as written (a typed object would fill in defaults and
    /// hide a missing field from the schema).
    pub async fn create_raw(
        &self,
        ns: &str,
        object: serde_json::Value,
    ) -> Result<DynamicObject, kube::Error> {
        let gvk = GroupVersionKind::gvk("vitistack.io", "v1alpha1", "NetworkConfiguration");
        let resource = ApiResource::from_gvk_with_plural(&gvk, "networkconfigurations");
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &resource);
        let object: DynamicObject = serde_json::from_value(object).map_err(kube::Error::SerdeError)?;
        self.ensure_namespace(ns).await?;
        api.create(&PostParams::default(), &object).await
    }

    /// Replaces `spec.networkInterfaces` (JSON merge patch: the list is replaced whole).
    pub async fn set_interfaces(&self, ns: &str, name: &str, list: &[(&str, &str)]) -> anyhow::Result<()> {
        let list: Vec<(String, String)> = list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        self.ncs(ns)
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"networkInterfaces": interfaces(&list)}})),
            )
            .await?;
        Ok(())
    }

    /// Starts the deletion of an NC (the finalizer keeps it until the operator cleaned up).
    pub async fn delete_nc(&self, ns: &str, name: &str) -> anyhow::Result<()> {
        self.ncs(ns).delete(name, &DeleteParams::default()).await?;
        Ok(())
    }

    pub async fn get_nc(&self, ns: &str, name: &str) -> anyhow::Result<Option<NetworkConfiguration>> {
        Ok(self.ncs(ns).get_opt(name).await?)
    }

    pub async fn list_ncs(&self, ns: &str) -> anyhow::Result<Vec<NetworkConfiguration>> {
        Ok(self.ncs(ns).list(&ListParams::default()).await?.items)
    }

    pub async fn list_nns(&self, ns: &str) -> anyhow::Result<Vec<NetworkNamespace>> {
        Ok(self.nns(ns).list(&ListParams::default()).await?.items)
    }

    /// Events in `ns` (the operator emits them in the NC's namespace).
    pub async fn events(&self, ns: &str) -> anyhow::Result<Vec<Event>> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), ns);
        Ok(api.list(&ListParams::default()).await?.items)
    }

    /// Events with `reason` whose regarding object is NC `name` (any NC when `None`).
    pub async fn events_for(&self, ns: &str, name: Option<&str>, reason: &str) -> anyhow::Result<Vec<Event>> {
        Ok(self
            .events(ns)
            .await?
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .filter(|e| name.is_none_or(|n| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(n)))
            .collect())
    }

    /// Waits until NC `name` satisfies `pred`; returns it.
    pub async fn wait_nc(
        &self,
        ns: &str,
        name: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&NetworkConfiguration) -> bool,
    ) -> anyhow::Result<NetworkConfiguration> {
        let api = self.ncs(ns);
        eventually(&format!("NC {ns}/{name}: {what}"), timeout, async || {
            Ok(match api.get_opt(name).await? {
                Some(nc) if pred(&nc) => Probe::Done(nc),
                Some(nc) => Probe::NotYet(describe(&nc)),
                None => Probe::NotYet("absent".into()),
            })
        })
        .await
    }

    /// Waits until NC `name` is Ready (current generation).
    pub async fn wait_ready(
        &self,
        ns: &str,
        name: &str,
        timeout: Duration,
    ) -> anyhow::Result<NetworkConfiguration> {
        self.wait_nc(ns, name, "Ready", timeout, is_ready).await
    }

    /// Waits until every NC in `ns` named in `names` is Ready.
    pub async fn wait_all_ready(&self, ns: &str, names: &[String], timeout: Duration) -> anyhow::Result<()> {
        let api = self.ncs(ns);
        eventually(
            &format!("{} NCs in {ns} Ready", names.len()),
            timeout,
            async || {
                let list = api.list(&ListParams::default()).await?.items;
                let not_ready: Vec<String> = names
                    .iter()
                    .filter(|n| !list.iter().any(|nc| &nc.name_any() == *n && is_ready(nc)))
                    .cloned()
                    .collect();
                Ok(if not_ready.is_empty() {
                    Probe::Done(())
                } else {
                    let sample = list
                        .iter()
                        .find(|nc| not_ready.contains(&nc.name_any()))
                        .map(describe)
                        .unwrap_or_default();
                    Probe::NotYet(format!("{} not ready, e.g. {sample}", not_ready.len()))
                })
            },
        )
        .await
    }

    /// Waits until NC `name` is gone (finalizer released).
    pub async fn wait_gone(&self, ns: &str, name: &str, timeout: Duration) -> anyhow::Result<()> {
        let api = self.ncs(ns);
        eventually(&format!("NC {ns}/{name} to be gone"), timeout, async || {
            Ok(match api.get_opt(name).await? {
                None => Probe::Done(()),
                Some(nc) => Probe::NotYet(describe(&nc)),
            })
        })
        .await
    }
}
