//! The API server's audit log (JSON lines, level Metadata), parsed into what tests compare against
//! RBAC rules: who did which verb on which resource.

use std::path::Path;

use serde::Deserialize;

use super::{KubeError, io_err};

/// One audited request (stage `ResponseComplete`, or `ResponseStarted` for long-running watches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub verb: String,
    /// API group ("" for the core group).
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub user: String,
    pub code: Option<u16>,
    pub stage: String,
    pub uri: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(default)]
    stage: String,
    #[serde(default)]
    verb: String,
    #[serde(default)]
    request_uri: String,
    #[serde(default)]
    user: RawUser,
    object_ref: Option<RawRef>,
    response_status: Option<RawStatus>,
}

#[derive(Deserialize, Default)]
struct RawUser {
    #[serde(default)]
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRef {
    #[serde(default)]
    resource: String,
    namespace: Option<String>,
    name: Option<String>,
    #[serde(default)]
    api_group: String,
    #[serde(default)]
    api_version: String,
    subresource: Option<String>,
}

#[derive(Deserialize)]
struct RawStatus {
    code: Option<u16>,
}

/// Parses one audit log line; `None` for lines without an object reference (discovery, /version).
pub fn parse_line(line: &str) -> Option<AuditEvent> {
    let raw: Raw = serde_json::from_str(line).ok()?;
    let complete = raw.stage == "ResponseComplete" || (raw.stage == "ResponseStarted" && raw.verb == "watch");
    if !complete {
        return None;
    }
    let r = raw.object_ref?;
    Some(AuditEvent {
        verb: raw.verb,
        group: r.api_group,
        version: r.api_version,
        resource: r.resource,
        subresource: r.subresource,
        namespace: r.namespace,
        name: r.name,
        user: raw.user.username,
        code: raw.response_status.and_then(|s| s.code),
        stage: raw.stage,
        uri: raw.request_uri,
    })
}

pub(super) fn read(path: &Path) -> Result<Vec<AuditEvent>, KubeError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    Ok(text.lines().filter_map(parse_line).collect())
}

/// The audit policy the servers run with: metadata of every request, no RequestReceived stage.
pub(super) const POLICY: &str = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [\"RequestReceived\"]\nrules:\n- level: Metadata\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_status_patch() {
        let line = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","stage":"ResponseComplete","requestURI":"/apis/vitistack.io/v1alpha1/namespaces/ns1/networkconfigurations/a/status","verb":"patch","user":{"username":"testenv-admin","groups":["system:masters"]},"objectRef":{"resource":"networkconfigurations","namespace":"ns1","name":"a","apiGroup":"vitistack.io","apiVersion":"v1alpha1","subresource":"status"},"responseStatus":{"code":200}}"#;
        let e = parse_line(line).expect("event");
        assert_eq!(e.verb, "patch");
        assert_eq!(e.group, "vitistack.io");
        assert_eq!(e.subresource.as_deref(), Some("status"));
        assert_eq!(e.namespace.as_deref(), Some("ns1"));
        assert_eq!(e.user, "testenv-admin");
        assert_eq!(e.code, Some(200));
    }

    #[test]
    fn skips_incomplete_stages_and_non_resource_requests() {
        assert!(
            parse_line(r#"{"stage":"ResponseStarted","verb":"get","objectRef":{"resource":"x"}}"#).is_none()
        );
        assert!(parse_line(r#"{"stage":"ResponseComplete","verb":"get","requestURI":"/version"}"#).is_none());
        assert!(parse_line("not json").is_none());
    }
}
