//! HTTP control sockets: listen address, basic authentication and TLS, as Kea reads them
//! (`HttpCommandConfig`, `BasicHttpAuthConfig`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path as FsPath, PathBuf};

use base64::Engine as _;

use super::ConfigError;
use super::walk::{Path, as_list, as_map, opt_bool, opt_int, opt_str};
use crate::element::Element;

/// Kea's default HTTP control socket address.
pub const DEFAULT_SOCKET: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);

/// kea-dhcp4's default authentication realm (`DEFAULT_AUTHENTICATION_REALM` as the daemon sets it).
pub const DHCP4_REALM: &str = "kea-dhcpv4-server";

/// Passwords Kea refuses (`DefaultCredentials`).
const DEFAULT_CREDENTIALS: [&str; 3] = ["keatest", "1234", "*****"];

/// Basic HTTP authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicAuth {
    /// Realm sent in `WWW-Authenticate`.
    pub realm: String,
    /// Accepted credentials: base64 of `user:password`, with the user name.
    pub credentials: Vec<(String, String)>,
}

impl BasicAuth {
    /// Build from user/password pairs.
    pub fn new(realm: &str, clients: &[(String, String)]) -> Self {
        let engine = base64::engine::general_purpose::STANDARD;
        BasicAuth {
            realm: realm.to_string(),
            credentials: clients
                .iter()
                .map(|(u, p)| (engine.encode(format!("{u}:{p}")), u.clone()))
                .collect(),
        }
    }

    /// `BasicHttpAuthConfig::checkAuth` on an `Authorization` header value.
    pub fn accepts(&self, header: Option<&str>) -> bool {
        if self.credentials.is_empty() {
            return true;
        }
        let Some(value) = header else {
            return false;
        };
        let value = value.trim_matches([' ', '\t', '\n']);
        if value.len() < 8 || !value.is_char_boundary(5) || !value[..5].eq_ignore_ascii_case("basic") {
            return false;
        }
        let cred = value[5..].trim_matches([' ', '\t', '\n']);
        self.credentials.iter().any(|(c, _)| c == cred)
    }
}

/// TLS files of an HTTPS control socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA file (or directory) used to verify client certificates.
    pub trust_anchor: PathBuf,
    /// Server certificate chain (PEM).
    pub cert_file: PathBuf,
    /// Server private key (PEM).
    pub key_file: PathBuf,
    /// Whether clients must present a certificate.
    pub cert_required: bool,
}

/// One HTTP or HTTPS control socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlSocket {
    /// Listen address.
    pub addr: SocketAddr,
    /// Basic authentication, if configured.
    pub auth: Option<BasicAuth>,
    /// TLS, if configured.
    pub tls: Option<TlsFiles>,
    /// Extra response headers (`http-headers`).
    pub headers: Vec<(String, String)>,
}

impl Default for ControlSocket {
    fn default() -> Self {
        ControlSocket {
            addr: DEFAULT_SOCKET,
            auth: None,
            tls: None,
            headers: Vec::new(),
        }
    }
}

fn read_first_token(
    dir: Option<&str>,
    file: &str,
    base: Option<&FsPath>,
    path: &Path,
) -> Result<String, ConfigError> {
    let full = match dir {
        Some(d) => FsPath::new(d).join(file.trim_start_matches('/')),
        None if FsPath::new(file).is_absolute() => PathBuf::from(file),
        None => base.map_or_else(|| PathBuf::from(file), |b| b.join(file)),
    };
    let text = std::fs::read_to_string(&full)
        .map_err(|e| path.err(format!("Expected a file at path '{}' ({e})", full.display())))?;
    Ok(text.split_whitespace().next().unwrap_or("").to_string())
}

/// Parse an `authentication` map. Relative credential files are read from `directory`, or
/// from the configuration file's directory when that is not set.
pub fn parse_auth(
    e: &Element,
    path: &Path,
    default_realm: &str,
    base: Option<&FsPath>,
) -> Result<BasicAuth, ConfigError> {
    as_map(e, path)?;
    if let Some(t) = opt_str(e, "type", path)?
        && t != "basic"
    {
        return Err(path.key("type").err(format!(
            "only basic HTTP authentication is supported: type is '{t}' not 'basic'"
        )));
    }
    let realm = opt_str(e, "realm", path)?.unwrap_or(default_realm).to_string();
    let directory = opt_str(e, "directory", path)?;
    let mut clients = Vec::new();
    if let Some(list) = e.field("clients") {
        let lp = path.key("clients");
        for (i, c) in as_list(list, &lp)?.iter().enumerate() {
            let cp = lp.idx(i);
            as_map(c, &cp)?;
            let password = opt_str(c, "password", &cp)?;
            if let Some(p) = password
                && DEFAULT_CREDENTIALS.contains(&p)
            {
                return Err(cp.key("password").err("password must not be a default one"));
            }
            let password_file = opt_str(c, "password-file", &cp)?;
            if password.is_some() && password_file.is_some() {
                return Err(cp.err("password and password-file are mutually exclusive"));
            }
            let user = opt_str(c, "user", &cp)?;
            let user_file = opt_str(c, "user-file", &cp)?;
            if user.is_some() && user_file.is_some() {
                return Err(cp.err("user and user-file are mutually exclusive"));
            }
            let (user, password) = match (user, user_file, password, password_file) {
                (None, None, _, Some(pf)) => {
                    let content = read_first_token(directory, pf, base, &cp.key("password-file"))?;
                    let (u, p) = content.split_once(':').ok_or_else(|| {
                        cp.key("password-file")
                            .err(format!("can't find the user id part in password-file '{pf}'"))
                    })?;
                    (u.to_string(), p.to_string())
                }
                (None, None, _, None) => return Err(cp.err("user is required in clients items")),
                (u, uf, p, pf) => {
                    let user = match (u, uf) {
                        (Some(u), _) => u.to_string(),
                        (None, Some(f)) => read_first_token(directory, f, base, &cp.key("user-file"))?,
                        (None, None) => String::new(),
                    };
                    if user.is_empty() {
                        return Err(cp.key("user").err("user must not be empty"));
                    }
                    if user.contains(':') {
                        return Err(cp
                            .key("user")
                            .err(format!("user must not contain a ':': '{user}'")));
                    }
                    let password = match (p, pf) {
                        (Some(p), _) => p.to_string(),
                        (None, Some(f)) => read_first_token(directory, f, base, &cp.key("password-file"))?,
                        (None, None) => String::new(),
                    };
                    (user, password)
                }
            };
            clients.push((user, password));
        }
    }
    Ok(BasicAuth::new(&realm, &clients))
}

/// Parse the TLS members of a socket map (all three files or none, as Kea requires).
pub fn parse_tls(
    e: &Element,
    path: &Path,
    https: bool,
    base: Option<&FsPath>,
) -> Result<Option<TlsFiles>, ConfigError> {
    let ca = opt_str(e, "trust-anchor", path)?.filter(|s| !s.is_empty());
    let cert = opt_str(e, "cert-file", path)?.filter(|s| !s.is_empty());
    let key = opt_str(e, "key-file", path)?.filter(|s| !s.is_empty());
    let required = opt_bool(e, "cert-required", path)?.unwrap_or(true);
    let resolve = |p: &str| {
        let pb = PathBuf::from(p);
        match base {
            Some(b) if pb.is_relative() => b.join(pb),
            _ => pb,
        }
    };
    match (ca, cert, key) {
        (None, None, None) => {
            if https {
                Err(path.err("no TLS setup for a HTTPS control socket"))
            } else {
                Ok(None)
            }
        }
        (Some(ca), Some(cert), Some(key)) => Ok(Some(TlsFiles {
            trust_anchor: resolve(ca),
            cert_file: resolve(cert),
            key_file: resolve(key),
            cert_required: required,
        })),
        (None, _, _) => Err(path
            .key("trust-anchor")
            .err("trust-anchor parameter is missing or empty: all or none of TLS parameters must be set")),
        (_, None, _) => Err(path
            .key("cert-file")
            .err("cert-file parameter is missing or empty: all or none of TLS parameters must be set")),
        (_, _, None) => Err(path
            .key("key-file")
            .err("key-file parameter is missing or empty: all or none of TLS parameters must be set")),
    }
}

fn parse_headers(e: &Element, path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let Some(list) = e.field("http-headers") else {
        return Ok(Vec::new());
    };
    let lp = path.key("http-headers");
    let mut out = Vec::new();
    for (i, h) in as_list(list, &lp)?.iter().enumerate() {
        let hp = lp.idx(i);
        as_map(h, &hp)?;
        let name = opt_str(h, "name", &hp)?.ok_or_else(|| hp.err("missing parameter 'name'"))?;
        let value = opt_str(h, "value", &hp)?.ok_or_else(|| hp.err("missing parameter 'value'"))?;
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

/// Parse one entry of `control-sockets` (or the Kea 2.x `control-socket`). Unix sockets yield
/// `None`: they matter only behind a Control Agent.
pub fn parse_socket(
    e: &Element,
    path: &Path,
    base: Option<&FsPath>,
) -> Result<Option<ControlSocket>, ConfigError> {
    as_map(e, path)?;
    let kind = opt_str(e, "socket-type", path)?.unwrap_or("http");
    let https = match kind {
        "http" => false,
        "https" => true,
        "unix" => return Ok(None),
        other => {
            return Err(path.key("socket-type").err(format!(
                "unsupported 'socket-type' '{other}' not 'http' or 'https'"
            )));
        }
    };
    if e.field("socket-name").is_some() {
        return Err(path.key("socket-name").err(format!(
            "parameter 'socket-name' is not supported by {} control sockets",
            if https { "HTTPS" } else { "HTTP" }
        )));
    }
    let ip = match opt_str(e, "socket-address", path)? {
        Some(a) => a.parse::<IpAddr>().map_err(|_| {
            path.key("socket-address")
                .err(format!("failed to convert '{a}' to address"))
        })?,
        None => DEFAULT_SOCKET.ip(),
    };
    let port = opt_int(e, "socket-port", path, 0, 65535)?.unwrap_or(8000);
    let auth = match e.field("authentication") {
        Some(a) => Some(parse_auth(a, &path.key("authentication"), DHCP4_REALM, base)?),
        None => None,
    };
    let tls = parse_tls(e, path, https, base)?;
    let headers = parse_headers(e, path)?;
    Ok(Some(ControlSocket {
        addr: SocketAddr::new(ip, port as u16),
        auth,
        tls,
        headers,
    }))
}

/// The Control Agent's own settings (`Control-agent`).
#[derive(Clone, Debug, PartialEq)]
pub struct AgentConfig {
    /// The CA's HTTP socket.
    pub socket: ControlSocket,
    /// The `Control-agent` map as given (for `config-get`).
    pub raw: Element,
}

/// Parse a `Control-agent` map.
pub fn parse_agent(e: &Element, path: &Path, base: Option<&FsPath>) -> Result<AgentConfig, ConfigError> {
    as_map(e, path)?;
    let host = opt_str(e, "http-host", path)?.unwrap_or("127.0.0.1");
    let ip = host.parse::<IpAddr>().map_err(|_| {
        path.key("http-host")
            .err(format!("failed to convert '{host}' to address"))
    })?;
    let port = opt_int(e, "http-port", path, 0, 65535)?.unwrap_or(8000);
    let auth = match e.field("authentication") {
        Some(a) => Some(parse_auth(
            a,
            &path.key("authentication"),
            "kea-control-agent",
            base,
        )?),
        None => None,
    };
    let tls = parse_tls(e, path, false, base)?;
    let headers = parse_headers(e, path)?;
    Ok(AgentConfig {
        socket: ControlSocket {
            addr: SocketAddr::new(ip, port as u16),
            auth,
            tls,
            headers,
        },
        raw: e.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::parse_request;

    #[test]
    fn basic_auth_checks_like_kea() {
        let a = BasicAuth::new("r", &[("admin".into(), "adminpw".into())]);
        assert!(a.accepts(Some("Basic YWRtaW46YWRtaW5wdw==")));
        assert!(a.accepts(Some("basic    YWRtaW46YWRtaW5wdw==  ")));
        assert!(!a.accepts(Some("Bearer YWRtaW46YWRtaW5wdw==")));
        assert!(!a.accepts(None));
        assert!(!a.accepts(Some("Basic")));
    }

    #[test]
    fn default_passwords_are_refused() {
        let e = parse_request(br#"{"clients":[{"user":"a","password":"1234"}]}"#).unwrap();
        let err = parse_auth(&e, &Path::root("auth"), "", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "auth.clients[0].password: password must not be a default one"
        );
    }

    #[test]
    fn password_files_are_read_from_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "secret\n").unwrap();
        std::fs::write(dir.path().join("both"), "ops:pw2").unwrap();
        let text = format!(
            r#"{{"directory":"{}","clients":[{{"user":"a","password-file":"pw"}},{{"password-file":"both"}}]}}"#,
            dir.path().display()
        );
        let e = parse_request(text.as_bytes()).unwrap();
        let auth = parse_auth(&e, &Path::root("auth"), "", None).unwrap();
        assert_eq!(auth.credentials[0].1, "a");
        assert_eq!(auth.credentials[1].1, "ops");
        assert!(auth.accepts(Some(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("a:secret")
        ))));
    }

    #[test]
    fn tls_needs_all_three_files() {
        let e = parse_request(br#"{"socket-type":"https","cert-file":"c"}"#).unwrap();
        let err = parse_socket(&e, &Path::root("s"), None).unwrap_err();
        assert!(
            err.to_string().contains("trust-anchor parameter is missing"),
            "{err}"
        );
        let e = parse_request(br#"{"socket-type":"https"}"#).unwrap();
        assert!(
            parse_socket(&e, &Path::root("s"), None)
                .unwrap_err()
                .to_string()
                .contains("no TLS setup")
        );
    }
}
