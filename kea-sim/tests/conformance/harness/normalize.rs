//! THE one place where volatile parts of Kea answers are normalized before comparison.
//!
//! Everything not listed here must match exactly. Rules, applied to every answer body:
//!
//! | what | where | replaced by |
//! |---|---|---|
//! | process id | key `pid` (status-get) | `"<pid>"` |
//! | seconds since start / last reload | keys `uptime`, `reload` (status-get) | `"<uptime>"`, `"<reload>"` |
//! | lease client-last-transaction time | key `cltt` (lease4-*) | `"<cltt>"` |
//! | config hashes | key `hash` (config-hash-get, config-get) | `"<hash>"` |
//! | ports chosen at run time | keys `socket-port`, `http-port`; `port` of a `postgresql` database | `"<port>"` |
//! | CPU-dependent thread count | key `thread-pool-size` in status-get | `"<threads>"` |
//! | HA timestamps and clock skew | keys `date-time`, `clock-skew`, `age` | `"<time>"` |
//! | version strings | version-get `text` and `arguments.extended`; build-report `text` | `"<version>"`, `"<extended>"` |
//! | written file size | config-write `arguments.size` (depends on path lengths) | `"<size>"` |
//! | the running config file | any string containing its path (config-write, its errors) | `<config-file>` |
//! | per-run directories | any string containing a target's state directory | `<state>` in its place |
//!
//! The recorded Kea version is kept in each case file (`recorded_with`) and printed by the runner,
//! so a version change is reported plainly instead of being hidden by the `<version>` rule.

use serde_json::Value;

/// Placeholders for the strings one target's run introduced (its state directories).
#[derive(Debug, Clone, Default)]
pub struct Substitutions {
    pairs: Vec<(String, &'static str)>,
}

impl Substitutions {
    /// Every occurrence of `path` in a string becomes `<state>`.
    pub fn state_dir(&mut self, path: impl Into<String>) {
        let path = path.into();
        if !path.is_empty() {
            self.pairs.push((path, "<state>"));
            // Longest first, so nested directories are replaced whole.
            self.pairs.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        }
    }

    /// Every occurrence of the config file's path becomes `<config-file>` (targets name it differently).
    pub fn config_file(&mut self, path: impl Into<String>) {
        let path = path.into();
        if !path.is_empty() {
            self.pairs.push((path, "<config-file>"));
            self.pairs.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        }
    }

    fn apply(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (from, to) in &self.pairs {
            out = out.replace(from.as_str(), to);
        }
        out
    }
}

/// Normalizes the answer `body` to `command` (None for raw HTTP steps).
pub fn normalize(command: Option<&str>, body: &Value, subs: &Substitutions) -> Value {
    let mut v = walk(body, subs);
    if let Some(cmd) = command {
        for element in elements_mut(&mut v) {
            per_command(cmd, element);
        }
    }
    v
}

/// The answer elements: a Kea answer is an array of per-service objects (or one object).
fn elements_mut(v: &mut Value) -> Vec<&mut Value> {
    match v {
        Value::Array(items) => items.iter_mut().collect(),
        other => vec![other],
    }
}

fn per_command(cmd: &str, element: &mut Value) {
    let Value::Object(m) = element else { return };
    match cmd {
        "version-get" => {
            if m.contains_key("text") {
                m.insert("text".into(), Value::String("<version>".into()));
            }
            if let Some(Value::Object(args)) = m.get_mut("arguments")
                && args.contains_key("extended")
            {
                args.insert("extended".into(), Value::String("<extended>".into()));
            }
        }
        "build-report" if m.get("result") == Some(&Value::from(0)) => {
            m.insert("text".into(), Value::String("<version>".into()));
        }
        "config-write" => {
            if let Some(Value::Object(args)) = m.get_mut("arguments")
                && args.contains_key("size")
            {
                args.insert("size".into(), Value::String("<size>".into()));
            }
        }
        _ => {}
    }
}

fn walk(v: &Value, subs: &Substitutions) -> Value {
    match v {
        Value::String(s) => Value::String(subs.apply(s)),
        Value::Array(items) => Value::Array(items.iter().map(|i| walk(i, subs)).collect()),
        Value::Object(m) => {
            let is_pg = m.get("type").and_then(Value::as_str) == Some("postgresql");
            Value::Object(
                m.iter()
                    .map(|(k, val)| {
                        let placeholder = match k.as_str() {
                            "pid" => Some("<pid>"),
                            "uptime" => Some("<uptime>"),
                            "reload" => Some("<reload>"),
                            "cltt" => Some("<cltt>"),
                            "hash" => Some("<hash>"),
                            "socket-port" | "http-port" => Some("<port>"),
                            "port" if is_pg => Some("<port>"),
                            "thread-pool-size" if val.is_number() && val != &Value::from(0) => {
                                Some("<threads>")
                            }
                            "date-time" | "clock-skew" | "age" => Some("<time>"),
                            _ => None,
                        };
                        let new = match placeholder {
                            Some(p) if !val.is_object() && !val.is_array() => Value::String(p.into()),
                            _ => walk(val, subs),
                        };
                        (k.clone(), new)
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volatile_fields_are_replaced_and_the_rest_kept() {
        let mut subs = Substitutions::default();
        subs.state_dir("/tmp/testenv/kea-abc");
        let body = json!([{"result": 0, "text": "Configuration written to /tmp/testenv/kea-abc/k.json successful",
            "arguments": {"pid": 12, "uptime": 3, "reload": 3, "size": 10, "filename": "/tmp/testenv/kea-abc/k.json",
                          "leases": [{"cltt": 1700000000, "ip-address": "10.0.0.1"}]}}]);
        let n = normalize(Some("config-write"), &body, &subs);
        assert_eq!(
            n[0]["text"],
            json!("Configuration written to <state>/k.json successful")
        );
        assert_eq!(n[0]["arguments"]["pid"], json!("<pid>"));
        assert_eq!(n[0]["arguments"]["size"], json!("<size>"));
        assert_eq!(n[0]["arguments"]["filename"], json!("<state>/k.json"));
        assert_eq!(n[0]["arguments"]["leases"][0]["cltt"], json!("<cltt>"));
        assert_eq!(n[0]["arguments"]["leases"][0]["ip-address"], json!("10.0.0.1"));
        assert_eq!(n[0]["result"], json!(0));
    }
}
