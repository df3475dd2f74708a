//! The chart's RBAC rules against what the operator did (SPEC §7): every request the operator made
//! (from the API server's audit log) must be granted by a rule, and every rule should be used.
//!
//! The rules are read from the chart's golden render (`charts/kea-operator/tests/golden/rbac.yaml`,
//! kept equal to `helm template` by `just chart`): the ClusterRole applies everywhere, the Role only
//! in the release namespace ([`crate::operator::POD_NAMESPACE`] is the same `kea-system`).

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use testenv::kube::AuditEvent;

/// Rules a run may leave unused, and why. Anything else unused is a finding.
pub const JUSTIFIED_UNUSED: &[(&str, &str, &str)] = &[
    (
        "networkconfigurations/finalizers",
        "update",
        "authorization-only: the OwnerReferencesPermissionEnforcement admission plugin checks it when an \
         object gets an ownerReference with blockOwnerDeletion to an NC; no request goes to this path",
    ),
    (
        "networkconfigurations/status",
        "get",
        "read only after a status write met a 409 (read-modify-write in operator/src/controller/kube_io.rs; \
         the request sequence is tested by kube_io::tests::a_status_conflict_is_read_again_and_rendered_from_the_fresh_status): \
         a run uses it only when another write raced the operator's",
    ),
];

/// What a request did, as RBAC sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Access {
    pub verb: String,
    pub group: String,
    /// `resource` or `resource/subresource`.
    pub resource: String,
    /// Namespace of the request (`None` for cluster-wide list/watch).
    pub namespace: Option<String>,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        write!(f, "{} {group}/{}", self.verb, self.resource)?;
        if let Some(ns) = &self.namespace {
            write!(f, " in {ns}")?;
        }
        Ok(())
    }
}

impl Access {
    /// The access of an audit event.
    pub fn from_audit(e: &AuditEvent) -> Access {
        Access {
            verb: e.verb.clone(),
            group: e.group.clone(),
            resource: match &e.subresource {
                Some(sub) => format!("{}/{sub}", e.resource),
                None => e.resource.clone(),
            },
            namespace: e.namespace.clone(),
        }
    }

    /// Without the namespace: the unit RBAC rules are compared in.
    pub fn kind(&self) -> (String, String, String) {
        (self.verb.clone(), self.group.clone(), self.resource.clone())
    }
}

/// One rule of the chart with where it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
    /// `None`: a ClusterRole rule; `Some(ns)`: a Role rule in `ns`.
    pub namespace: Option<String>,
}

impl Rule {
    fn matches(&self, verb: &str, group: &str, resource: &str) -> bool {
        let any = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x == v);
        any(&self.api_groups, group) && any(&self.resources, resource) && any(&self.verbs, verb)
    }

    /// Whether the rule grants `a` (a Role only in its namespace).
    pub fn grants(&self, a: &Access) -> bool {
        self.matches(&a.verb, &a.group, &a.resource)
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| a.namespace.as_deref() == Some(ns.as_str()))
    }
}

/// The chart's rules could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{0}")]
    Parse(String),
}

impl RbacError {
    /// Bounded label for logs.
    pub fn category(&self) -> &'static str {
        match self {
            RbacError::Read { .. } => "read",
            RbacError::Parse(_) => "parse",
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    #[serde(default)]
    api_groups: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    verbs: Vec<String>,
}

#[derive(Deserialize)]
struct RawMeta {
    namespace: Option<String>,
}

#[derive(Deserialize)]
struct RawObject {
    kind: String,
    metadata: RawMeta,
    #[serde(default)]
    rules: Vec<RawRule>,
}

/// The rules of every ClusterRole and Role in a rendered manifest.
pub fn parse_rules(yaml: &str) -> Result<Vec<Rule>, RbacError> {
    let mut rules = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
        let value = serde_yaml_ng::Value::deserialize(doc).map_err(|e| RbacError::Parse(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let obj: RawObject = serde_yaml_ng::from_value(value).map_err(|e| RbacError::Parse(e.to_string()))?;
        let namespace = match obj.kind.as_str() {
            "ClusterRole" => None,
            "Role" => Some(obj.metadata.namespace.unwrap_or_default()),
            _ => continue,
        };
        rules.extend(obj.rules.into_iter().map(|r| Rule {
            api_groups: r.api_groups,
            resources: r.resources,
            verbs: r.verbs,
            namespace: namespace.clone(),
        }));
    }
    Ok(rules)
}

/// The chart's rules from its golden render.
pub fn chart_rules() -> Result<Vec<Rule>, RbacError> {
    let path = crate::artifacts::repo_root().join("charts/kea-operator/tests/golden/rbac.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| RbacError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse_rules(&text)
}

/// Accesses no rule grants.
pub fn ungranted<'a>(rules: &[Rule], used: impl IntoIterator<Item = &'a Access>) -> Vec<Access> {
    let mut out: Vec<Access> = used
        .into_iter()
        .filter(|a| !rules.iter().any(|r| r.grants(a)))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `(resource, verb)` pairs of the rules that no access used, each with its justification if any.
pub fn unused<'a>(
    rules: &[Rule],
    used: impl IntoIterator<Item = &'a Access> + Clone,
) -> Vec<(String, String, Option<&'static str>)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for group in &rule.api_groups {
            for resource in &rule.resources {
                for verb in &rule.verbs {
                    let hit = used.clone().into_iter().any(|a| {
                        &a.verb == verb && &a.group == group && &a.resource == resource && rule.grants(a)
                    });
                    if !hit {
                        out.insert((format!("{group}/{resource}"), verb.clone()));
                    }
                }
            }
        }
    }
    out.into_iter()
        .map(|(resource, verb)| {
            let why = JUSTIFIED_UNUSED
                .iter()
                .find(|(r, v, _)| resource.ends_with(&format!("/{r}")) && *v == verb)
                .map(|(_, _, why)| *why);
            (resource, verb, why)
        })
        .collect()
}

/// Reads the accesses other scenarios of this run recorded (files under `dir`).
pub fn recorded(dir: &Path) -> Vec<Access> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<Vec<Access>>(&t).ok())
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(verb: &str, group: &str, resource: &str, ns: Option<&str>) -> Access {
        Access {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            namespace: ns.map(str::to_string),
        }
    }

    #[test]
    fn the_golden_rbac_parses_and_grants_what_spec_7_lists() {
        let rules = chart_rules().expect("golden rbac");
        let grants = |a: &Access| rules.iter().any(|r| r.grants(a));
        assert!(grants(&access(
            "watch",
            "vitistack.io",
            "networkconfigurations",
            None
        )));
        assert!(grants(&access(
            "update",
            "vitistack.io",
            "networkconfigurations/status",
            Some("t")
        )));
        assert!(grants(&access("create", "events.k8s.io", "events", Some("t"))));
        assert!(grants(&access(
            "update",
            "coordination.k8s.io",
            "leases",
            Some("kea-system")
        )));
        // The Role is namespaced: a Lease elsewhere is not granted.
        assert!(!grants(&access(
            "update",
            "coordination.k8s.io",
            "leases",
            Some("default")
        )));
        assert!(!grants(&access(
            "delete",
            "vitistack.io",
            "networkconfigurations",
            Some("t")
        )));
        assert!(
            !grants(&access("create", "", "events", Some("t"))),
            "core events are not granted"
        );
    }

    #[test]
    fn ungranted_and_unused_are_computed_per_verb() {
        let rules = parse_rules(
            "kind: ClusterRole\nmetadata: {name: x}\nrules:\n- apiGroups: [g]\n  resources: [r, networkconfigurations/finalizers]\n  verbs: [get, update]\n---\nkind: Role\nmetadata: {name: y, namespace: n}\nrules:\n- apiGroups: [c]\n  resources: [leases]\n  verbs: [get]\n",
        )
        .expect("parse");
        let used = [
            access("get", "g", "r", Some("a")),
            access("get", "c", "leases", Some("n")),
            access("list", "g", "r", None),
        ];
        assert_eq!(ungranted(&rules, &used), vec![access("list", "g", "r", None)]);
        let unused = unused(&rules, &used);
        let names: Vec<(String, String)> = unused.iter().map(|(r, v, _)| (r.clone(), v.clone())).collect();
        assert_eq!(
            names,
            vec![
                ("g/networkconfigurations/finalizers".into(), "get".into()),
                ("g/networkconfigurations/finalizers".into(), "update".into()),
                ("g/r".into(), "update".into()),
            ]
        );
        assert!(unused[1].2.is_some(), "finalizers update is justified");
        assert!(unused[0].2.is_none(), "finalizers get is not");
        assert!(unused[2].2.is_none());
    }
}
