//! Pieces the builders add to a Kea configuration: control sockets, authentication, TLS, hooks.

use serde_json::{Map, Value, json};

use super::KeaError;
use crate::certs::{CertPem, TestCa};

/// Directory of the hook libraries inside the root filesystem.
pub const HOOKS_DIR: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks";

/// Kea hook libraries the tests use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    LeaseCmds,
    HostCmds,
    SubnetCmds,
    Ha,
    Pgsql,
}

impl Hook {
    /// The three command hooks the operator needs (a builder's default).
    pub const COMMANDS: [Hook; 3] = [Hook::LeaseCmds, Hook::HostCmds, Hook::SubnetCmds];

    /// The library's file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Hook::LeaseCmds => "libdhcp_lease_cmds.so",
            Hook::HostCmds => "libdhcp_host_cmds.so",
            Hook::SubnetCmds => "libdhcp_subnet_cmds.so",
            Hook::Ha => "libdhcp_ha.so",
            Hook::Pgsql => "libdhcp_pgsql.so",
        }
    }

    /// The library's path inside the chroot, as written in `hooks-libraries`.
    pub fn library_path(self) -> String {
        format!("{HOOKS_DIR}/{}", self.file_name())
    }
}

/// HTTP basic authentication credentials for a control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub user: String,
    pub password: String,
}

impl BasicAuth {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        BasicAuth {
            user: user.into(),
            password: password.into(),
        }
    }

    /// Kea's `authentication` object (inline password: fine for throw-away test servers).
    pub(crate) fn to_kea(&self) -> Value {
        json!({"type": "basic", "realm": "kea-testenv",
               "clients": [{"user": self.user, "password": self.password}]})
    }
}

/// TLS for a control socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsOptions {
    /// Kea's `cert-required`: refuse clients without a certificate signed by the CA (mTLS).
    pub cert_required: bool,
}

/// Certificates made for one TLS socket: what a test needs to connect.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// The CA that signed the server and client certificates (the client's trust anchor).
    pub ca_pem: String,
    /// The server's certificate (SANs 127.0.0.1 and localhost).
    pub server: CertPem,
    /// A client certificate the server accepts (for mTLS).
    pub client: CertPem,
    pub cert_required: bool,
}

impl TlsMaterial {
    pub(crate) fn generate(cert_required: bool) -> Result<Self, KeaError> {
        let ca = TestCa::new("testenv kea ca")?;
        Ok(TlsMaterial {
            ca_pem: ca.cert_pem().to_string(),
            server: ca.server_cert("kea", &[])?,
            client: ca.client_cert("kea-client", None)?,
            cert_required,
        })
    }
}

/// Accepts `{"Dhcp4": {...}}` or the bare inner object; returns the inner object.
pub(crate) fn dhcp4_object(config: Value) -> Result<Map<String, Value>, KeaError> {
    let inner = match config {
        Value::Object(mut m) if m.contains_key("Dhcp4") => m.remove("Dhcp4").unwrap_or(Value::Null),
        other => other,
    };
    match inner {
        Value::Object(m) => Ok(m),
        other => Err(KeaError::Config(format!(
            "Dhcp4 must be a JSON object, got {other}"
        ))),
    }
}

/// Appends `socket` to `control-sockets`, creating the list.
pub(crate) fn push_control_socket(dhcp4: &mut Map<String, Value>, socket: Value) -> Result<(), KeaError> {
    let list = dhcp4
        .entry("control-sockets")
        .or_insert_with(|| Value::Array(Vec::new()));
    match list {
        Value::Array(items) => {
            items.push(socket);
            Ok(())
        }
        _ => Err(KeaError::Config("control-sockets must be a list".into())),
    }
}

/// Adds `hooks` to `hooks-libraries` unless a library with the same file name is already listed.
pub(crate) fn add_hooks(
    dhcp4: &mut Map<String, Value>,
    hooks: &[(Hook, Option<Value>)],
) -> Result<(), KeaError> {
    let list = dhcp4
        .entry("hooks-libraries")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(items) = list else {
        return Err(KeaError::Config("hooks-libraries must be a list".into()));
    };
    for (hook, parameters) in hooks {
        let present = items.iter().any(|lib| {
            lib.get("library")
                .and_then(Value::as_str)
                .is_some_and(|p| p.ends_with(hook.file_name()))
        });
        if !present {
            let mut lib = json!({"library": hook.library_path()});
            if let (Some(p), Value::Object(m)) = (parameters, &mut lib) {
                m.insert("parameters".into(), p.clone());
            }
            items.push(lib);
        }
    }
    Ok(())
}

/// An HTTP(S) control socket object for Kea 3.0 (`control-sockets` entry, or Control Agent top level).
pub(crate) fn http_socket(
    port: u16,
    auth: Option<&BasicAuth>,
    tls: Option<(&TlsMaterial, &str)>,
) -> Map<String, Value> {
    let mut s = Map::new();
    s.insert(
        "socket-type".into(),
        json!(if tls.is_some() { "https" } else { "http" }),
    );
    s.insert("socket-address".into(), json!("127.0.0.1"));
    s.insert("socket-port".into(), json!(port));
    if let Some(auth) = auth {
        s.insert("authentication".into(), auth.to_kea());
    }
    if let Some((tls, dir)) = tls {
        s.extend(tls_params(tls, dir));
    }
    s
}

/// TLS parameters pointing at the PEM files written to `dir` (a chroot path).
pub(crate) fn tls_params(tls: &TlsMaterial, dir: &str) -> Map<String, Value> {
    let mut s = Map::new();
    s.insert("trust-anchor".into(), json!(format!("{dir}/ca.pem")));
    s.insert("cert-file".into(), json!(format!("{dir}/server.pem")));
    s.insert("key-file".into(), json!(format!("{dir}/server-key.pem")));
    s.insert("cert-required".into(), json!(tls.cert_required));
    s
}

/// Writes the TLS PEM files named by [`tls_params`] into `host_dir`.
pub(crate) fn write_tls_files(tls: &TlsMaterial, host_dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::write(host_dir.join("ca.pem"), &tls.ca_pem)?;
    std::fs::write(host_dir.join("server.pem"), &tls.server.cert)?;
    std::fs::write(host_dir.join("server-key.pem"), &tls.server.key)?;
    std::fs::write(host_dir.join("client.pem"), &tls.client.cert)?;
    std::fs::write(host_dir.join("client-key.pem"), &tls.client.key)
}

/// A small working Dhcp4 config: no DHCP interfaces, in-memory leases, one subnet with a pool.
pub fn default_dhcp4() -> Value {
    json!({
        "interfaces-config": {"interfaces": []},
        "lease-database": {"type": "memfile", "persist": false},
        "subnet4": [{"id": 1, "subnet": "10.100.0.0/16", "pools": [{"pool": "10.100.1.10 - 10.100.1.200"}]}]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_are_added_once_and_parameters_kept() {
        let mut m = dhcp4_object(json!({"Dhcp4": {"hooks-libraries": [
            {"library": "/elsewhere/libdhcp_lease_cmds.so"}]}}))
        .expect("object");
        add_hooks(
            &mut m,
            &[(Hook::LeaseCmds, None), (Hook::Ha, Some(json!({"x": 1})))],
        )
        .expect("hooks");
        let libs = m["hooks-libraries"].as_array().expect("list");
        assert_eq!(libs.len(), 2);
        assert_eq!(libs[1]["library"], json!(Hook::Ha.library_path()));
        assert_eq!(libs[1]["parameters"], json!({"x": 1}));
    }

    #[test]
    fn non_object_configs_are_refused() {
        assert!(dhcp4_object(json!([1])).is_err());
        assert!(dhcp4_object(json!({"Dhcp4": 3})).is_err());
    }

    #[test]
    fn https_socket_has_tls_files_and_auth() {
        let tls = TlsMaterial::generate(true).expect("certs");
        let s = http_socket(1234, Some(&BasicAuth::new("u", "p")), Some((&tls, "/tmp/x")));
        assert_eq!(s["socket-type"], json!("https"));
        assert_eq!(s["cert-required"], json!(true));
        assert_eq!(s["trust-anchor"], json!("/tmp/x/ca.pem"));
        assert_eq!(s["authentication"]["clients"][0]["user"], json!("u"));
    }
}
