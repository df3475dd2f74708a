//! Typed access to configuration elements that reports errors with the JSON path.

use crate::element::{Element, Value};

use super::ConfigError;

/// A JSON path being walked (`Dhcp4.subnet4[0].pools[1]`).
#[derive(Clone, Debug)]
pub struct Path(pub String);

impl Path {
    /// The root path.
    pub fn root(name: &str) -> Self {
        Path(name.to_string())
    }

    /// A map member.
    pub fn key(&self, k: &str) -> Path {
        Path(format!("{}.{k}", self.0))
    }

    /// A list item.
    pub fn idx(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    /// An error at this path.
    pub fn err(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.0.clone(),
            message: message.into(),
        }
    }
}

fn expect<'a>(e: &'a Element, path: &Path, what: &str, ok: bool) -> Result<&'a Element, ConfigError> {
    if ok {
        Ok(e)
    } else {
        Err(path.err(format!("expected {what}, got {}", e.type_name())))
    }
}

/// The element as a map.
pub fn as_map<'a>(
    e: &'a Element,
    path: &Path,
) -> Result<&'a std::collections::BTreeMap<String, Element>, ConfigError> {
    match &e.value {
        Value::Map(m) => Ok(m),
        _ => Err(path.err(format!("expected a map, got {}", e.type_name()))),
    }
}

/// The element as a list.
pub fn as_list<'a>(e: &'a Element, path: &Path) -> Result<&'a [Element], ConfigError> {
    match &e.value {
        Value::List(l) => Ok(l),
        _ => Err(path.err(format!("expected a list, got {}", e.type_name()))),
    }
}

/// An optional string member.
pub fn opt_str<'a>(m: &'a Element, key: &str, path: &Path) -> Result<Option<&'a str>, ConfigError> {
    match m.field(key) {
        None => Ok(None),
        Some(v) => {
            let p = path.key(key);
            expect(v, &p, "a string", v.as_str().is_some()).map(|v| v.as_str())
        }
    }
}

/// An optional integer member within a range.
pub fn opt_int(m: &Element, key: &str, path: &Path, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
    match m.field(key) {
        None => Ok(None),
        Some(v) => {
            let p = path.key(key);
            let i = expect(v, &p, "an integer", v.as_int().is_some())?
                .as_int()
                .unwrap_or_default();
            if i < min || i > max {
                return Err(p.err(format!("value {i} is out of range ({min} - {max})")));
            }
            Ok(Some(i))
        }
    }
}

/// An optional boolean member.
pub fn opt_bool(m: &Element, key: &str, path: &Path) -> Result<Option<bool>, ConfigError> {
    match m.field(key) {
        None => Ok(None),
        Some(v) => match v.value {
            Value::Bool(b) => Ok(Some(b)),
            _ => Err(path
                .key(key)
                .err(format!("expected a boolean, got {}", v.type_name()))),
        },
    }
}

/// Refuse keys outside `allowed`, naming the first unknown one (Kea's parser refuses them too).
pub fn only_keys(m: &Element, allowed: &[&str], path: &Path, context: &str) -> Result<(), ConfigError> {
    if let Value::Map(map) = &m.value {
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(path
                    .key(k)
                    .err(format!("got unexpected keyword \"{k}\" in {context} map")));
            }
        }
    }
    Ok(())
}
