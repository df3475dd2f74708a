//! Kea's JSON data model (`isc::data::Element`), reproduced closely enough that answers are
//! byte-for-byte the ones Kea 3.0.4 prints.
//!
//! Kea differs from ordinary JSON libraries in ways a client can see: maps are sorted by key
//! (a `std::map`), every parsed value remembers the line and column where it started and many
//! error texts quote that position (`(<string>:1:118)`), integers beyond `i64` become 128-bit
//! "bigints", doubles print with six significant digits, and non-ASCII bytes are escaped as
//! `\u00XX` one byte at a time. The sub-modules mirror Kea's reader and writers.

pub mod parse;
pub mod print;

use std::collections::BTreeMap;
use std::fmt;

pub use parse::{JsonError, parse_config_text, parse_request, parse_wire};

/// Which reader produced an element: Kea prints it in positions (`<string>:1:5`, `<wire>:0:16`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// Built by the server itself (Kea prints `:0:0`).
    #[default]
    None,
    /// Parsed from an HTTP request body (`Element::fromJSON(std::string)`).
    String,
    /// Parsed from a forwarded command (`Element::fromWire`, as behind a Control Agent).
    Wire,
    /// Parsed from a configuration file.
    File,
}

/// Where a parsed element started, as Kea records it (`Element::Position`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// The reader that produced the element.
    pub origin: Origin,
    /// Line (1-based for request bodies, 0 for wire text).
    pub line: u32,
    /// Column as Kea counts it (see [`parse`]).
    pub col: u32,
}

impl Pos {
    /// True when Kea would append the position to a type error (`throwTypeError`).
    pub fn is_set(&self) -> bool {
        self.origin != Origin::None || self.line != 0 || self.col != 0
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = match self.origin {
            Origin::None => "",
            Origin::String => "<string>",
            Origin::Wire => "<wire>",
            Origin::File => "<config>",
        };
        write!(f, "{file}:{}:{}", self.line, self.col)
    }
}

/// A JSON value with Kea's types.
#[derive(Clone, Debug)]
pub enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A 64-bit integer (Kea's `IntElement`).
    Int(i64),
    /// An integer that does not fit 64 bits (Kea's `BigIntElement`).
    BigInt(i128),
    /// A double (Kea's `DoubleElement`).
    Real(f64),
    /// A string (bytes Kea would keep verbatim; kept here as UTF-8).
    Str(String),
    /// A list.
    List(Vec<Element>),
    /// A map, sorted by key like Kea's `std::map`.
    Map(BTreeMap<String, Element>),
}

/// A value plus the position it was parsed at.
#[derive(Clone, Debug)]
pub struct Element {
    /// The value.
    pub value: Value,
    /// Where it was read (or [`Pos::default`] for values the server builds).
    pub pos: Pos,
}

impl PartialEq for Element {
    /// Positions are not part of equality: two answers are equal when their values are.
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::BigInt(a), Value::BigInt(b)) => a == b,
            (Value::Real(a), Value::Real(b)) => a.to_bits() == b.to_bits() || a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => false,
        }
    }
}

/// An error raised by an accessor on the wrong element type, worded like Kea's `TypeError`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TypeError(pub String);

impl TypeError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        "type"
    }
}

impl Element {
    /// A value built by the server (no position).
    pub fn new(value: Value) -> Self {
        Element {
            value,
            pos: Pos::default(),
        }
    }

    /// `null`
    pub fn null() -> Self {
        Self::new(Value::Null)
    }

    /// A string element.
    pub fn str(s: impl Into<String>) -> Self {
        Self::new(Value::Str(s.into()))
    }

    /// An integer element.
    pub fn int(i: i64) -> Self {
        Self::new(Value::Int(i))
    }

    /// A boolean element.
    pub fn bool(b: bool) -> Self {
        Self::new(Value::Bool(b))
    }

    /// A double element.
    pub fn real(f: f64) -> Self {
        Self::new(Value::Real(f))
    }

    /// A list element.
    pub fn list(items: Vec<Element>) -> Self {
        Self::new(Value::List(items))
    }

    /// An empty map element.
    pub fn map() -> Self {
        Self::new(Value::Map(BTreeMap::new()))
    }

    /// A map element from pairs.
    pub fn map_of<const N: usize>(pairs: [(&str, Element); N]) -> Self {
        let mut m = BTreeMap::new();
        for (k, v) in pairs {
            m.insert(k.to_string(), v);
        }
        Self::new(Value::Map(m))
    }

    /// Kea's `Element::typeToName` for this element.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::BigInt(_) => "bigint",
            Value::Real(_) => "real",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    fn type_error(&self, what: &str) -> TypeError {
        if self.pos.is_set() {
            TypeError(format!("{what} in ({})", self.pos))
        } else {
            TypeError(what.to_string())
        }
    }

    /// The string value, or Kea's `stringValue() called on non-string Element` error.
    pub fn string_value(&self) -> Result<&str, TypeError> {
        match &self.value {
            Value::Str(s) => Ok(s),
            _ => Err(self.type_error("stringValue() called on non-string Element")),
        }
    }

    /// The integer value, or Kea's `intValue()` type error.
    pub fn int_value(&self) -> Result<i64, TypeError> {
        match self.value {
            Value::Int(i) => Ok(i),
            _ => Err(self.type_error("intValue() called on non-integer Element")),
        }
    }

    /// The boolean value, or Kea's `boolValue()` type error.
    pub fn bool_value(&self) -> Result<bool, TypeError> {
        match self.value {
            Value::Bool(b) => Ok(b),
            _ => Err(self.type_error("boolValue() called on non-Bool Element")),
        }
    }

    /// The list items, or Kea's `listValue()` type error.
    pub fn list_value(&self) -> Result<&[Element], TypeError> {
        match &self.value {
            Value::List(l) => Ok(l),
            _ => Err(self.type_error("listValue() called on non-list Element")),
        }
    }

    /// The map entries, or Kea's `mapValue()` type error.
    pub fn map_value(&self) -> Result<&BTreeMap<String, Element>, TypeError> {
        match &self.value {
            Value::Map(m) => Ok(m),
            _ => Err(self.type_error("mapValue() called on non-map Element")),
        }
    }

    /// `Element::get(string)`: the entry, or a type error when this is not a map.
    pub fn get(&self, key: &str) -> Result<Option<&Element>, TypeError> {
        match &self.value {
            Value::Map(m) => Ok(m.get(key)),
            _ => Err(self.type_error("get(string) called on a non-map Element")),
        }
    }

    /// `Element::contains(string)`.
    pub fn contains(&self, key: &str) -> Result<bool, TypeError> {
        match &self.value {
            Value::Map(m) => Ok(m.contains_key(key)),
            _ => Err(self.type_error("contains(string) called on a non-map Element")),
        }
    }

    /// `Element::size()` for lists (maps answer their length too, as in Kea).
    pub fn size(&self) -> Result<usize, TypeError> {
        match &self.value {
            Value::List(l) => Ok(l.len()),
            Value::Map(m) => Ok(m.len()),
            _ => Err(self.type_error("size() called on a non-list Element")),
        }
    }

    /// Map entry without type checking (None for non-maps).
    pub fn field(&self, key: &str) -> Option<&Element> {
        match &self.value {
            Value::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// True for a map.
    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// True for a list.
    pub fn is_list(&self) -> bool {
        matches!(self.value, Value::List(_))
    }

    /// The string if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer if this is an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    /// Insert or replace a map entry (no-op on non-maps, which the server never builds).
    pub fn set(&mut self, key: &str, value: Element) {
        if let Value::Map(m) = &mut self.value {
            m.insert(key.to_string(), value);
        }
    }

    /// Remove a map entry.
    pub fn remove(&mut self, key: &str) -> Option<Element> {
        match &mut self.value {
            Value::Map(m) => m.remove(key),
            _ => None,
        }
    }

    /// Mutable map access.
    pub fn map_mut(&mut self) -> Option<&mut BTreeMap<String, Element>> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Append to a list (no-op on non-lists).
    pub fn push(&mut self, value: Element) {
        if let Value::List(l) = &mut self.value {
            l.push(value);
        }
    }

    /// Kea's compact text (`Element::str()`), used for HTTP answers and config hashes.
    pub fn to_kea_string(&self) -> String {
        let mut out = String::with_capacity(128);
        print::compact(self, &mut out);
        out
    }

    /// Kea's pretty text (`prettyPrint`), used by `config-write`.
    pub fn to_pretty_string(&self) -> String {
        print::pretty(self)
    }

    /// Drop positions recursively (stored values must not quote the request they came from).
    pub fn without_positions(mut self) -> Self {
        self.clear_positions();
        self
    }

    fn clear_positions(&mut self) {
        self.pos = Pos::default();
        match &mut self.value {
            Value::List(l) => l.iter_mut().for_each(Element::clear_positions),
            Value::Map(m) => m.values_mut().for_each(Element::clear_positions),
            _ => {}
        }
    }

    /// Convert to `serde_json::Value` (bigints beyond u64/i64 become strings; non-finite doubles null).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::BigInt(i) => {
                if let Ok(u) = u64::try_from(*i) {
                    J::from(u)
                } else {
                    J::String(i.to_string())
                }
            }
            Value::Real(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::List(l) => J::Array(l.iter().map(Element::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// Convert from `serde_json::Value` (numbers keep their integer or double nature).
    pub fn from_json(v: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        let value = match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::BigInt(i128::from(u))
                } else {
                    Value::Real(n.as_f64().unwrap_or(0.0))
                }
            }
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::List(a.iter().map(Element::from_json).collect()),
            J::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Element::from_json(v)))
                    .collect(),
            ),
        };
        Element::new(value)
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_kea_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_errors_quote_the_position_only_when_known() {
        let built = Element::int(5);
        assert_eq!(
            built.string_value().unwrap_err().0,
            "stringValue() called on non-string Element"
        );
        let parsed = parse_request(br#"{"a": 5}"#).unwrap();
        let a = parsed.field("a").unwrap();
        assert_eq!(
            a.string_value().unwrap_err().0,
            "stringValue() called on non-string Element in (<string>:1:7)"
        );
    }

    #[test]
    fn json_round_trip_keeps_kinds() {
        let j = serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {"c": u64::MAX}});
        let e = Element::from_json(&j);
        assert_eq!(e.to_json(), j);
        assert_eq!(e.field("b").unwrap().field("c").unwrap().type_name(), "bigint");
    }

    #[test]
    fn equality_ignores_positions() {
        let a = parse_request(br#"{"x": [1, {"y": "z"}]}"#).unwrap();
        let b = Element::from_json(&serde_json::json!({"x": [1, {"y": "z"}]}));
        assert_eq!(a, b);
        assert_ne!(a.pos, b.pos);
    }
}
