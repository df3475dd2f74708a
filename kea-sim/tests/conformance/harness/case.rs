//! The conformance case format (JSON files in `tests/conformance/cases/`).
//!
//! A file holds a list of cases. A case names its environment (`setup`), then a sequence of steps:
//! Kea commands, raw HTTP requests, and environment actions (restart, daemon stop/start...). Every
//! request step carries `expect`, the answer real Kea 3.0 gave when the case was recorded
//! (`just conformance-record` rewrites it), already normalized (see `normalize.rs`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// One file of cases.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// What the cases in this file are about.
    #[serde(default)]
    pub description: String,
    /// `kea-dhcp4 -V` (first word) of the Kea that recorded the expectations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_with: Option<String>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub setup: Setup,
    pub steps: Vec<Step>,
}

/// What the case runs against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// kea-dhcp4 with a direct HTTP control socket.
    #[default]
    Dhcp4,
    /// A Control Agent in front of kea-dhcp4 (unix socket).
    Ca,
    /// A hot-standby HA pair (steps choose a partner with `on`).
    HaPair,
}

/// TLS on the control socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tls {
    /// HTTPS, client certificates optional.
    Optional,
    /// HTTPS with `cert-required`: mutual TLS.
    Required,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Setup {
    #[serde(default)]
    pub kind: Kind,
    /// A file name in `tests/conformance/configs/` (without `.json`) or an inline `{"Dhcp4": ...}`.
    #[serde(default = "default_config")]
    pub config: Value,
    /// Basic auth on the control socket (user `admin`, password `conformance`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auth: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// A PostgreSQL hosts database: the config's `"hosts-database": "${PGSQL}"` is filled in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub database: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            kind: Kind::Dhcp4,
            config: default_config(),
            auth: false,
            tls: None,
            database: false,
        }
    }
}

fn default_config() -> Value {
    Value::String("base".into())
}

/// Basic auth credentials the `auth: true` setups use.
pub const AUTH_USER: &str = "admin";
pub const AUTH_PASSWORD: &str = "conformance";

/// Which partner of an HA pair a step talks to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Partner {
    #[default]
    Primary,
    Secondary,
}

fn is_primary(p: &Partner) -> bool {
    *p == Partner::Primary
}

/// An environment action between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Graceful restart of the server (same config file).
    Restart,
    /// Control Agent: stop the dhcp4 daemon behind it.
    DaemonStop,
    /// Control Agent: start the dhcp4 daemon again.
    DaemonStart,
}

/// A raw HTTP request, for Kea's HTTP-level answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpRequest {
    #[serde(default = "post")]
    pub method: String,
    /// The Content-Type header; absent = `application/json`, `null` = no header at all.
    #[serde(
        default = "json_type",
        deserialize_with = "nullable",
        skip_serializing_if = "is_json_type"
    )]
    pub content_type: Option<String>,
    #[serde(default)]
    pub body: String,
    /// Send the setup's basic-auth credentials (default true).
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub auth: bool,
    /// Credentials to send instead of the setup's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<(String, String)>,
    /// Present the client certificate on a TLS setup (default true).
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub client_cert: bool,
    /// Extra headers, sent as given (for example an explicit `Content-Length: 0`: the HTTP client
    /// omits the header for an empty body, and Kea answers the two differently).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
}

fn post() -> String {
    "POST".into()
}
fn yes() -> bool {
    true
}
fn json_type() -> Option<String> {
    Some("application/json".into())
}
fn is_json_type(v: &Option<String>) -> bool {
    v.as_deref() == Some("application/json")
}

/// `null` → None, absent → the default, a string → Some.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// The `service` field: absent → `["dhcp4"]` (what every client sends); `null` → omitted.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Service {
    #[default]
    Default,
    Omit,
    Value(Value),
}

impl Service {
    fn is_default(&self) -> bool {
        *self == Service::Default
    }
}

impl Serialize for Service {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Service::Default => s.serialize_none(),
            Service::Omit => s.serialize_unit(),
            Service::Value(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Service {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Null => Service::Omit,
            v => Service::Value(v),
        })
    }
}

/// One step of a case.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Step {
    #[serde(default, skip_serializing_if = "is_primary")]
    pub on: Partner,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Service::is_default")]
    pub service: Service,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The recorded, normalized answer (absent until recorded; actions have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Answer>,
}

impl Step {
    /// The request this step sends, or `None` for an action.
    pub fn request(&self) -> Option<HttpRequest> {
        if let Some(http) = &self.http {
            return Some(http.clone());
        }
        let command = self.command.as_ref()?;
        let mut body = serde_json::Map::new();
        body.insert("command".into(), Value::String(command.clone()));
        match &self.service {
            Service::Default => {
                body.insert("service".into(), serde_json::json!(["dhcp4"]));
            }
            Service::Omit => {}
            Service::Value(v) => {
                body.insert("service".into(), v.clone());
            }
        }
        if let Some(args) = &self.arguments {
            body.insert("arguments".into(), args.clone());
        }
        Some(HttpRequest {
            method: post(),
            content_type: json_type(),
            body: Value::Object(body).to_string(),
            auth: true,
            credentials: None,
            client_cert: true,
            headers: Vec::new(),
        })
    }

    /// A one-line description for diffs.
    pub fn describe(&self) -> String {
        let on = if self.on == Partner::Secondary {
            " (on secondary)"
        } else {
            ""
        };
        if let Some(a) = self.action {
            return format!("action {a:?}{on}");
        }
        match self.request() {
            Some(r) if self.http.is_some() => format!(
                "HTTP {} content-type={:?} headers={:?} auth={} client-cert={} body={:?}{on}",
                r.method, r.content_type, r.headers, r.auth, r.client_cert, r.body
            ),
            Some(r) => format!("{}{on}", r.body),
            None => "empty step".into(),
        }
    }
}

/// What came back for one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    /// An HTTP answer: status and body (parsed JSON, or the raw text when not JSON).
    Http { status: u16, body: Value },
    /// No HTTP answer: `tls-handshake` (refused by TLS), `connection` (refused, reset, timeout).
    Failed { error: String },
}

/// The folder holding `cases/` and `configs/`.
pub fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// Every case file, sorted by name, with its path.
pub fn load_all() -> Result<Vec<(PathBuf, CaseFile)>, String> {
    let dir = conformance_dir().join("cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let file: CaseFile = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok((p, file))
        })
        .collect()
}

/// Writes a case file back (recording), pretty-printed with a trailing newline.
pub fn save(path: &Path, file: &CaseFile) -> Result<(), String> {
    let text = serde_json::to_string_pretty(file).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// The starting Dhcp4 config of a case (`{"Dhcp4": ...}`).
pub fn resolve_config(setup: &Setup) -> Result<Value, String> {
    match &setup.config {
        Value::String(name) => {
            let p = conformance_dir().join("configs").join(format!("{name}.json"));
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
        }
        inline @ Value::Object(_) => Ok(inline.clone()),
        other => Err(format!(
            "setup.config must be a config name or an object, got {other}"
        )),
    }
}
