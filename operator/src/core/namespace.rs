//! Which NetworkNamespace, and so which IPv4 prefix, an NC uses (SPEC §1, §2.2).
//!
//! `spec.networkNamespaceName` names one in the NC's namespace; without it the namespace must hold
//! exactly one. The caller passes the NetworkNamespaces it knows (a reflector store); this module only
//! decides, so the rule is testable without an API server.

use ipnet::Ipv4Net;

use crate::crd::NetworkNamespace;

/// Why no prefix is available. Each maps to its own condition reason (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("{}", not_found_text(namespace, name.as_deref()))]
    NotFound { namespace: String, name: Option<String> },
    #[error(
        "namespace {namespace} holds several NetworkNamespaces ({}); set spec.networkNamespaceName to choose one",
        names.join(", ")
    )]
    Ambiguous { namespace: String, names: Vec<String> },
    #[error("NetworkNamespace {namespace}/{name} has {detail}")]
    NotReady {
        namespace: String,
        name: String,
        detail: String,
    },
}

fn not_found_text(namespace: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("NetworkNamespace {namespace}/{name} not found"),
        None => format!("no NetworkNamespace in namespace {namespace}"),
    }
}

impl PrefixError {
    pub fn category(&self) -> &'static str {
        match self {
            PrefixError::NotFound { .. } => "network_namespace_not_found",
            PrefixError::Ambiguous { .. } => "network_namespace_ambiguous",
            PrefixError::NotReady { .. } => "prefix_not_ready",
        }
    }
}

/// The chosen NetworkNamespace and its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPrefix {
    /// Name of the NetworkNamespace (an NN change re-queues the NCs that resolved to it).
    pub name: String,
    /// The network, host bits cleared.
    pub prefix: Ipv4Net,
}

/// Picks the NetworkNamespace for an NC in `namespace` whose spec names `wanted` (empty counts as
/// unset, as the platform omits it), among `candidates` (others' namespaces are ignored).
pub fn resolve_prefix<'a>(
    namespace: &str,
    wanted: Option<&str>,
    candidates: impl IntoIterator<Item = &'a NetworkNamespace>,
) -> Result<ResolvedPrefix, PrefixError> {
    let wanted = wanted.map(str::trim).filter(|w| !w.is_empty());
    let in_namespace: Vec<&NetworkNamespace> = candidates
        .into_iter()
        .filter(|nn| nn.metadata.namespace.as_deref() == Some(namespace))
        .collect();
    let name_of = |nn: &NetworkNamespace| nn.metadata.name.clone().unwrap_or_default();
    let chosen = match wanted {
        Some(wanted) => in_namespace
            .into_iter()
            .find(|nn| nn.metadata.name.as_deref() == Some(wanted))
            .ok_or_else(|| PrefixError::NotFound {
                namespace: namespace.into(),
                name: Some(wanted.into()),
            })?,
        None => match in_namespace.as_slice() {
            [] => {
                return Err(PrefixError::NotFound {
                    namespace: namespace.into(),
                    name: None,
                });
            }
            [one] => *one,
            several => {
                let mut names: Vec<String> = several.iter().map(|nn| name_of(nn)).collect();
                names.sort();
                return Err(PrefixError::Ambiguous {
                    namespace: namespace.into(),
                    names,
                });
            }
        },
    };
    let name = name_of(chosen);
    let not_ready = |detail: String| PrefixError::NotReady {
        namespace: namespace.into(),
        name: name.clone(),
        detail,
    };
    let raw = chosen
        .status
        .as_ref()
        .and_then(|s| s.ipv4_prefix.as_deref())
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| not_ready("no status.ipv4Prefix yet".into()))?;
    let prefix: Ipv4Net = raw.parse().map_err(|_| {
        let shown: String = raw.chars().take(64).collect();
        not_ready(format!("status.ipv4Prefix {shown:?}, which is not an IPv4 CIDR"))
    })?;
    Ok(ResolvedPrefix {
        name,
        prefix: prefix.trunc(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nn(ns: &str, name: &str, prefix: Option<&str>) -> NetworkNamespace {
        let nn = NetworkNamespace::test().named(ns, name);
        match prefix {
            Some(p) => nn.prefix(p),
            None => nn.without_prefix(),
        }
    }

    #[test]
    fn named_network_namespace_is_used() {
        let nns = [
            nn("a", "one", Some("10.1.0.0/24")),
            nn("a", "two", Some("10.2.0.0/24")),
        ];
        let got = resolve_prefix("a", Some("two"), &nns).unwrap();
        assert_eq!(
            got,
            ResolvedPrefix {
                name: "two".into(),
                prefix: "10.2.0.0/24".parse().unwrap()
            }
        );
    }

    #[test]
    fn without_a_name_the_only_network_namespace_is_used() {
        let nns = [
            nn("a", "one", Some("10.1.0.0/24")),
            nn("b", "other", Some("10.9.0.0/24")),
        ];
        assert_eq!(resolve_prefix("a", None, &nns).unwrap().name, "one");
        assert_eq!(
            resolve_prefix("a", Some(""), &nns).unwrap().name,
            "one",
            "empty name counts as unset"
        );
    }

    #[test]
    fn none_in_the_namespace_is_network_namespace_not_found() {
        let nns = [nn("b", "other", Some("10.9.0.0/24"))];
        let err = resolve_prefix("a", None, &nns).unwrap_err();
        assert_eq!(
            err,
            PrefixError::NotFound {
                namespace: "a".into(),
                name: None
            }
        );
        let err = resolve_prefix("a", Some("other"), &nns).unwrap_err();
        assert_eq!(
            err.to_string(),
            "NetworkNamespace a/other not found",
            "another namespace's NN is not used"
        );
    }

    #[test]
    fn several_without_a_name_is_ambiguous_network_namespace() {
        let nns = [
            nn("a", "zeta", Some("10.1.0.0/24")),
            nn("a", "alpha", Some("10.2.0.0/24")),
        ];
        let err = resolve_prefix("a", None, &nns).unwrap_err();
        assert_eq!(
            err,
            PrefixError::Ambiguous {
                namespace: "a".into(),
                names: vec!["alpha".into(), "zeta".into()]
            }
        );
        assert!(err.to_string().contains("spec.networkNamespaceName"));
    }

    #[test]
    fn missing_or_invalid_prefix_is_prefix_not_ready() {
        for (prefix, expect) in [
            (None, "no status.ipv4Prefix"),
            (Some(""), "no status.ipv4Prefix"),
            (Some("10.1.0.0"), "not an IPv4 CIDR"),
            (Some("fd00::/64"), "not an IPv4 CIDR"),
            (Some("garbage"), "not an IPv4 CIDR"),
        ] {
            let err = resolve_prefix("a", None, &[nn("a", "one", prefix)]).unwrap_err();
            assert_eq!(err.category(), "prefix_not_ready");
            assert!(err.to_string().contains(expect), "{prefix:?}: {err}");
        }
    }

    #[test]
    fn host_bits_are_cleared() {
        let got = resolve_prefix("a", None, &[nn("a", "one", Some(" 10.1.0.77/24 "))]).unwrap();
        assert_eq!(got.prefix.to_string(), "10.1.0.0/24");
    }
}
