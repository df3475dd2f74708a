//! Kubernetes objects of a test: NetworkConfigurations, NetworkNamespaces, Events, and waiting for
//! an NC to reach a state.

use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kea_operator::core::annotation::{ANNOTATION, Reservations};
use kea_operator::crd::{InterfaceStatus, NetworkConfiguration, NetworkNamespace};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::World;
use super::wait::{DEADLINE, until};

/// A `kea` NC named `name` in the world's namespace, without the server-owned metadata the
/// builders fill in (uid, creation time, generation).
pub fn nc(world: &World, name: &str) -> NetworkConfiguration {
    let mut nc = NetworkConfiguration::test().named(&world.ns, name);
    nc.metadata.uid = None;
    nc.metadata.creation_timestamp = None;
    nc.metadata.generation = None;
    nc
}

/// The condition `type_` of an NC's status.
pub fn condition<'a>(nc: &'a NetworkConfiguration, type_: &str) -> Option<&'a Condition> {
    nc.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)
}

/// `(status, reason)` of a condition, for assertions.
pub fn condition_state(nc: &NetworkConfiguration, type_: &str) -> Option<(String, String)> {
    condition(nc, type_).map(|c| (c.status.clone(), c.reason.clone()))
}

/// The status entry of interface `name`.
pub fn interface<'a>(nc: &'a NetworkConfiguration, name: &str) -> &'a InterfaceStatus {
    nc.status
        .as_ref()
        .and_then(|s| s.network_interfaces.iter().find(|i| i.name == name))
        .unwrap_or_else(|| panic!("no status for interface {name}: {}", describe(nc)))
}

/// The NC's reservations annotation, parsed.
pub fn annotation(nc: &NetworkConfiguration) -> Reservations {
    let raw = nc.metadata.annotations.as_ref().and_then(|a| a.get(ANNOTATION));
    let parsed = Reservations::parse(raw.map(String::as_str));
    assert!(
        parsed.problem.is_none(),
        "annotation unreadable: {:?}",
        parsed.problem
    );
    parsed.reservations
}

/// Ready=True, ServersInSync=True, for the current generation.
pub fn is_converged(nc: &NetworkConfiguration) -> bool {
    let ok = |t| condition_state(nc, t).is_some_and(|(s, _)| s == "True");
    let status = nc.status.as_ref();
    ok("Ready")
        && ok("ServersInSync")
        && status.is_some_and(|s| s.observed_generation == nc.metadata.generation)
}

/// A one-line dump for failure messages.
pub fn describe(nc: &NetworkConfiguration) -> String {
    format!(
        "finalizers={:?} annotations={:?} deletion={:?} generation={:?} status={}",
        nc.metadata.finalizers,
        nc.metadata.annotations,
        nc.metadata.deletion_timestamp,
        nc.metadata.generation,
        serde_json::to_string(&nc.status).unwrap_or_default()
    )
}

impl World {
    pub async fn create_nc(&self, nc: NetworkConfiguration) -> NetworkConfiguration {
        self.ncs()
            .create(&PostParams::default(), &nc)
            .await
            .unwrap_or_else(|e| panic!("create NC: {e}"))
    }

    pub async fn get_nc(&self, name: &str) -> Option<NetworkConfiguration> {
        self.ncs().get_opt(name).await.expect("get NC")
    }

    /// Changes an NC (read, edit, replace; retried on 409 since the operator writes it too).
    pub async fn edit_nc(
        &self,
        name: &str,
        edit: impl Fn(&mut NetworkConfiguration),
    ) -> NetworkConfiguration {
        for _ in 0..20 {
            let mut nc = self.ncs().get(name).await.expect("get NC to edit");
            edit(&mut nc);
            match self.ncs().replace(name, &PostParams::default(), &nc).await {
                Ok(written) => return written,
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => panic!("replace NC {name}: {e}"),
            }
        }
        panic!("NC {name} kept changing under the edit");
    }

    pub async fn delete_nc(&self, name: &str) {
        self.ncs()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("delete NC {name}: {e}"));
    }

    /// Creates a NetworkNamespace and, when given, sets its `status.ipv4Prefix`.
    pub async fn create_nn(&self, name: &str, prefix: Option<&str>) -> NetworkNamespace {
        let nn = NetworkNamespace::test().named(&self.ns, name).without_prefix();
        let mut nn_create = nn.clone();
        nn_create.metadata.uid = None;
        self.nns()
            .create(&PostParams::default(), &nn_create)
            .await
            .unwrap_or_else(|e| panic!("create NN {name}: {e}"));
        self.set_prefix(name, prefix).await
    }

    /// Sets (or clears) a NetworkNamespace's `status.ipv4Prefix` through the status subresource.
    pub async fn set_prefix(&self, name: &str, prefix: Option<&str>) -> NetworkNamespace {
        let patch = json!({ "status": { "ipv4Prefix": prefix } });
        self.nns()
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("set prefix of NN {name}: {e}"))
    }

    /// Waits until NC `name` satisfies `check` (which explains what it saw when not).
    pub async fn wait_nc(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&NetworkConfiguration) -> Result<(), String>,
    ) -> NetworkConfiguration {
        self.wait_nc_within(name, what, DEADLINE, check).await
    }

    /// Waits until the NC is Ready (reserved on the active server) while `ServersInSync` is False
    /// for `reason` (the partner did not take it).
    pub async fn wait_ready_out_of_sync(&self, name: &str, reason: &str) -> NetworkConfiguration {
        let what = format!("Ready, ServersInSync=False {reason}");
        self.wait_nc(name, &what, |nc| {
            let ready = condition_state(nc, "Ready");
            let sync = condition_state(nc, "ServersInSync");
            (ready == Some(("True".into(), "Reserved".into()))
                && sync == Some(("False".into(), reason.into())))
            .then_some(())
            .ok_or_else(|| format!("{ready:?} {sync:?}"))
        })
        .await
    }

    pub async fn wait_nc_within(
        &self,
        name: &str,
        what: &str,
        deadline: Duration,
        check: impl Fn(&NetworkConfiguration) -> Result<(), String>,
    ) -> NetworkConfiguration {
        until(&format!("NC {name}: {what}"), deadline, async || {
            let nc = self.get_nc(name).await.ok_or("the NC does not exist")?;
            check(&nc).map_err(|why| format!("{why}; {}", describe(&nc)))?;
            Ok(nc)
        })
        .await
    }

    /// Waits until NC `name` is Ready and in sync for its current generation.
    pub async fn wait_converged(&self, name: &str) -> NetworkConfiguration {
        self.wait_nc(name, "Ready and ServersInSync", |nc| {
            is_converged(nc)
                .then_some(())
                .ok_or_else(|| "not converged".into())
        })
        .await
    }

    /// Waits until the Ready condition has `reason` (and status `ready`) for the current generation.
    pub async fn wait_ready_reason(&self, name: &str, ready: bool, reason: &str) -> NetworkConfiguration {
        let want = (
            if ready { "True" } else { "False" }.to_string(),
            reason.to_string(),
        );
        self.wait_nc(name, &format!("Ready={} reason {reason}", want.0), |nc| {
            let current = nc.status.as_ref().and_then(|s| s.observed_generation) == nc.metadata.generation;
            (current && condition_state(nc, "Ready").as_ref() == Some(&want))
                .then_some(())
                .ok_or_else(|| "not yet".into())
        })
        .await
    }

    pub async fn wait_gone(&self, name: &str) {
        until(&format!("NC {name} to be gone"), DEADLINE, async || {
            match self.get_nc(name).await {
                None => Ok(()),
                Some(nc) => Err(describe(&nc)),
            }
        })
        .await
    }

    /// Events (events.k8s.io/v1) about object `name` in the world's namespace: (type, reason, note).
    pub async fn events_for(&self, name: &str) -> Vec<(String, String, String)> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.ns);
        let list = api.list(&Default::default()).await.expect("list Events");
        list.items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .map(|e| {
                (
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Waits for an Event about `name` with `reason` whose note contains `needle`.
    pub async fn wait_event(&self, name: &str, reason: &str, needle: &str) -> (String, String, String) {
        until(
            &format!("an Event {reason} about {name} mentioning {needle:?}"),
            DEADLINE,
            async || {
                let events = self.events_for(name).await;
                events
                    .iter()
                    .find(|(_, r, note)| r == reason && note.contains(needle))
                    .cloned()
                    .ok_or_else(|| format!("{events:?}"))
            },
        )
        .await
    }
}

/// The annotation an NC should carry: `(server, subnet, MAC, IP)` entries.
pub fn reservations(
    entries: &[(kea_operator::core::ServerId, u32, &str, std::net::Ipv4Addr)],
) -> Reservations {
    use kea_operator::core::annotation::Reserved;
    use kea_operator::core::{Mac, SubnetId};
    let mut out = Reservations::default();
    for (server, subnet, mac, ip) in entries {
        out.insert(
            *server,
            Reserved {
                subnet_id: SubnetId(*subnet),
                mac: Mac::parse(mac).expect("test MAC"),
                ip: *ip,
            },
        );
    }
    out
}

/// Whether the NC carries our finalizer.
pub fn has_finalizer(nc: &NetworkConfiguration) -> bool {
    nc.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == kea_operator::crd::FINALIZER))
}
