//! The daemon's own commands: `list-commands`, `version-get`, `status-get`, `build-report`,
//! `config-get`, `config-hash-get`, `config-write`.

use std::time::SystemTime;

use ring::digest;

use super::answer::{CmdError, CmdResult, answer, code};
use crate::element::Element;
use crate::model::ident::to_upper_hex;
use crate::server::{ConfigFile, Node};

/// `version-get` text.
pub const VERSION: &str = "3.0.4";
/// `version-get` extended text of kea-dhcp4 (as the Debian package prints it).
pub const EXTENDED_VERSION: &str = "3.0.4 (3.0.4 (tarball))\npremium: no\nlinked with:\n- log4cplus 2.1.2\n- OpenSSL 3.6.5 29 Sep 2026\nlease backends:\n- Memfile backend 3.0";
/// Extra `version-get` lines when the PostgreSQL hook is loaded.
pub const PGSQL_BACKENDS: &str = "\n- PostgreSQL backend 29.0, library 180006\nhost backends:\n- PostgreSQL backend 29.0, library 180006\nforensic backends:\n- PostgreSQL backend 29.0, library 180006";
/// `version-get` extended text of the Control Agent.
pub const CA_EXTENDED_VERSION: &str =
    "3.0.4 (3.0.4 (tarball))\npremium: no\nlinked with:\n- log4cplus 2.1.2\n- OpenSSL 3.6.5 29 Sep 2026";

/// `build-report` text.
pub const BUILD_REPORT: &str = "        Kea source configure results:\n     -=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-\n \n Package:\n   Name:               kea\n   Version:            3.0.4\n   Extended version:   3.0.4 (tarball)\n   Version type:       stable\n   OS Family:          Linux\n \n   Prefix:             /usr\n   Hooks directory:    /usr/lib/x86_64-linux-gnu/kea/hooks\n   Premium hooks:      no\n \n Meson Version:        1.11.1\n Meson info:           share/kea/meson-info\n Build Options:        -Dbuildtype=plain -Dwrap_mode=nodownload -Dprefix=/usr -Dsysconfdir=/etc -Dlocalstatedir=/var -Dlibdir=lib/x86_64-linux-gnu -Dpython.bytecompile=-1 -Dauto_features=enabled -Drunstatedir=/run -Dnetconf=disabled -Dkrb5=disabled -Dcrypto=openssl -Dmysql=enabled -Dpostgresql=enabled\n \n C++ Compiler:\n   CXX:                c++\n   CXX_ID:             gcc\n   CXX_VERSION:        c++ (Debian 16.2.0-1) 16.2.0\n   CXX_STANDARD:       202002\n   CXX_ARGS:           -g -O2 -ffile-prefix-map=/build/reproducible-path/isc-kea-3.0.4=. -fstack-protector-strong -fstack-clash-protection -Wformat -Werror=format-security -fcf-protection -Wdate-time -D_FORTIFY_SOURCE=2\n   LD_ID:              ld.bfd\n   LD_ARGS:            -Wl,-z,relro -Wl,-z,now -g -O2 -ffile-prefix-map=/build/reproducible-path/isc-kea-3.0.4=. -fstack-protector-strong -fstack-clash-protection -Wformat -Werror=format-security -fcf-protection -Wdate-time -D_FORTIFY_SOURCE=2\n \n Python:\n   PYTHON:             /usr/bin/python3\n   PYTHON_VERSION:     3.14.7\n   PKGPYTHONDIR:       /usr/lib/python3/dist-packages/kea\n \n Boost:                1_90\n \n OpenSSL:              OpenSSL 3.6.3 9 Jun 2026\n \n Log4cplus:            2.1.2\n \n Flex:                 /usr/bin/flex\n Bison:                /usr/bin/bison\n \n MySQL:                3.4.9\n \n PostgreSQL:           18.6\n \n Netconf:              no\n \n Google Test:          no\n \n Kerberos5 GSS-API:    no\n \n Developer:\n   Tests:              disabled\n   Fuzzing:            disabled\n   Valgrind:           no\n   AFL:                no\n";

/// `version-get`.
pub fn version_get(extended: &str) -> CmdResult {
    Ok(answer(
        code::SUCCESS,
        VERSION,
        Some(Element::map_of([("extended", Element::str(extended))])),
    ))
}

/// `build-report`.
pub fn build_report() -> CmdResult {
    Ok(answer(code::SUCCESS, BUILD_REPORT, None))
}

/// `BaseCommandMgr::getHash`: SHA-256 of the compact text, upper-case hex.
pub fn config_hash(config: &Element) -> String {
    to_upper_hex(digest::digest(&digest::SHA256, config.to_kea_string().as_bytes()).as_ref())
}

/// Seconds since `t`.
pub fn seconds_since(t: SystemTime) -> i64 {
    SystemTime::now()
        .duration_since(t)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `config-get`.
pub fn config_get(node: &Node) -> CmdResult {
    let cfg = node.config();
    let mut config = cfg.effective(&node.read().memory);
    let hash = config_hash(&config);
    config.set("hash", Element::str(hash));
    Ok(answer(code::SUCCESS, "", Some(config)))
}

/// `config-hash-get`.
pub fn config_hash_get(node: &Node) -> CmdResult {
    let cfg = node.config();
    let config = cfg.effective(&node.read().memory);
    Ok(answer(
        code::SUCCESS,
        "",
        Some(Element::map_of([("hash", Element::str(config_hash(&config)))])),
    ))
}

fn parent_dir(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    }
}

/// `config-write`: pretty-printed configuration into the configuration file (or another file
/// of the same directory).
pub fn config_write(node: &Node, args: Option<&Element>) -> CmdResult {
    let mut filename = String::new();
    if let Some(a) = args {
        if !a.is_map() {
            return Err(CmdError::error("Argument must be a map"));
        }
        if let Some(f) = a.field("filename") {
            filename = f
                .as_str()
                .ok_or_else(|| CmdError::error("passed parameter 'filename' is not a string"))?
                .to_string();
        }
    }
    let current = node.config_file().name();
    if filename.is_empty() {
        filename = current.clone();
    } else {
        let stem_empty = filename
            .rsplit('/')
            .next()
            .is_none_or(|f| f.split('.').next().unwrap_or("").is_empty());
        if stem_empty {
            return Err(CmdError::error(format!(
                "not allowed to write config into {filename}: config file:{filename} is missing file name"
            )));
        }
        if parent_dir(&current) != parent_dir(&filename) {
            if parent_dir(&filename).is_empty() {
                filename = format!("{}{filename}", parent_dir(&current));
            } else {
                return Err(CmdError::error(format!(
                    "not allowed to write config into {filename}: file {filename} must be in the same directory as the config file ({current})"
                )));
            }
        }
    }
    let cfg = node.config();
    let text = cfg.written_text(&node.read().memory);
    let written = match node.config_file() {
        ConfigFile::Disk(_) => node.write_config_file(&filename, &text),
        ConfigFile::Memory { name, .. } if name == filename => node.write_config_file(&filename, &text),
        ConfigFile::Memory { .. } => Ok(text.len()),
    };
    let size = written.map_err(|_| {
        CmdError::error(format!(
            "Error during config-write: Unable to open file {filename} for writing"
        ))
    })?;
    let args = Element::map_of([
        ("filename", Element::str(filename.clone())),
        ("size", Element::int(size as i64)),
    ]);
    Ok(answer(
        code::SUCCESS,
        &format!("Configuration written to {filename} successful"),
        Some(args),
    ))
}

/// `status-get`.
pub fn status_get(node: &Node) -> CmdResult {
    let cfg = node.config();
    let (pid, started) = {
        let st = node.read();
        (st.pid, st.started)
    };
    let up = seconds_since(started);
    let mut m = Element::map();
    m.set("pid", Element::int(i64::from(pid)));
    m.set("uptime", Element::int(up));
    m.set("reload", Element::int(up));
    let mt = cfg.dhcp4().field("multi-threading");
    let mt_enabled = mt
        .and_then(|m| m.field("enable-multi-threading"))
        .and_then(|v| match v.value {
            crate::element::Value::Bool(b) => Some(b),
            _ => None,
        });
    if mt_enabled.unwrap_or(true) {
        let threads = mt
            .and_then(|m| m.field("thread-pool-size"))
            .and_then(Element::as_int)
            .filter(|t| *t > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get() as i64));
        let queue = mt
            .and_then(|m| m.field("packet-queue-size"))
            .and_then(Element::as_int)
            .unwrap_or(64);
        m.set("multi-threading-enabled", Element::bool(true));
        m.set("thread-pool-size", Element::int(threads));
        m.set("packet-queue-size", Element::int(queue));
        m.set(
            "packet-queue-statistics",
            Element::list(vec![Element::real(0.0), Element::real(0.0), Element::real(0.0)]),
        );
    } else {
        m.set("multi-threading-enabled", Element::bool(false));
    }
    m.set("sockets", Element::map_of([("status", Element::str("ready"))]));
    let disabled = node.disabled_by_db(&cfg);
    let globally_disabled = !disabled.is_empty();
    m.set(
        "dhcp-state",
        Element::map_of([
            (
                "disabled-by-db-connection",
                Element::list(disabled.into_iter().map(Element::int).collect()),
            ),
            ("disabled-by-local-command", Element::list(vec![])),
            ("disabled-by-remote-command", Element::list(vec![])),
            ("disabled-by-user", Element::bool(false)),
            ("globally-disabled", Element::bool(globally_disabled)),
        ]),
    );
    if let Some(ha) = crate::ha::status_section(node) {
        m.set("high-availability", ha);
    }
    Ok(answer(code::SUCCESS, "", Some(m)))
}
