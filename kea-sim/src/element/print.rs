//! Kea's two writers: the compact form of every HTTP answer (`Element::str()`, whose SHA-256 is
//! also `config-hash-get`) and the indented form `config-write` puts in the file.

use std::fmt::Write as _;

use super::{Element, Value};

/// `Element::toJSON`: `{ "a": 1, "b": [ 1, 2 ] }`, empty containers as `{  }` and `[  ]`.
pub fn compact(e: &Element, out: &mut String) {
    match &e.value {
        Value::List(items) => {
            out.push_str("[ ");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                compact(item, out);
            }
            out.push_str(" ]");
        }
        Value::Map(m) => {
            out.push_str("{ ");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                // Kea does not escape map keys.
                out.push('"');
                out.push_str(k);
                out.push_str("\": ");
                compact(v, out);
            }
            out.push_str(" }");
        }
        _ => scalar(e, out),
    }
}

/// `isc::data::prettyPrint` with indent 0 and step 2.
pub fn pretty(e: &Element) -> String {
    let mut out = String::new();
    pretty0(e, &mut out, 0, 2);
    out
}

fn pretty0(e: &Element, out: &mut String, indent: usize, step: usize) {
    match &e.value {
        Value::List(items) => {
            if items.is_empty() {
                out.push_str("[ ]");
                return;
            }
            let complex = matches!(items[0].value, Value::List(_) | Value::Map(_));
            out.push('[');
            out.push(if complex { '\n' } else { ' ' });
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(if complex { ",\n" } else { ", " });
                }
                if complex {
                    out.extend(std::iter::repeat_n(' ', indent + step));
                }
                pretty0(item, out, indent + step, step);
            }
            if complex {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', indent));
            } else {
                out.push(' ');
            }
            out.push(']');
        }
        Value::Map(m) => {
            if m.is_empty() {
                out.push_str("{ }");
                return;
            }
            out.push_str("{\n");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                out.extend(std::iter::repeat_n(' ', indent + step));
                out.push('"');
                out.push_str(k);
                out.push_str("\": ");
                pretty0(v, out, indent + step, step);
            }
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
            out.push('}');
        }
        _ => scalar(e, out),
    }
}

fn scalar(e: &Element, out: &mut String) {
    match &e.value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Real(f) => out.push_str(&format_double(*f)),
        Value::Str(s) => escape_string(s, out),
        Value::List(_) | Value::Map(_) => compact(e, out),
    }
}

/// `StringElement::toJSON`: the usual escapes, and every byte below 0x20, 0x7f or above 0x7f
/// (Kea reads bytes as `signed char`) as `\u00xx`.
fn escape_string(s: &str, out: &mut String) {
    out.push('"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b if !(0x20..0x7f).contains(&b) => {
                let _ = write!(out, "\\u{b:04x}");
            }
            b => out.push(b as char),
        }
    }
    out.push('"');
}

/// `DoubleElement::toJSON`: C++ stream default formatting (`%g`, six significant digits),
/// then `.0` appended when the text has no `.`, `e` or `E`.
pub fn format_double(f: f64) -> String {
    let mut s = format_g6(f);
    if !s.contains(['.', 'e', 'E']) {
        s.push_str(".0");
    }
    s
}

fn format_g6(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    const P: i32 = 6;
    // The exponent after rounding to P significant digits decides the style.
    let sci = format!("{:.*e}", (P - 1) as usize, f);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..P).contains(&exp) {
        let m = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (P - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{f:.decimals$}")).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::parse_request;

    fn kea(text: &str) -> String {
        parse_request(text.as_bytes()).unwrap().to_kea_string()
    }

    #[test]
    fn compact_matches_kea_answers() {
        assert_eq!(kea(r#"{"b":[],"a":{}}"#), r#"{ "a": {  }, "b": [  ] }"#);
        assert_eq!(
            kea(r#"[{"result":0,"text":"x"}]"#),
            r#"[ { "result": 0, "text": "x" } ]"#
        );
        assert_eq!(kea(r#"{"z":[1,2],"n":1.5}"#), r#"{ "n": 1.5, "z": [ 1, 2 ] }"#);
    }

    #[test]
    fn doubles_print_like_iostreams() {
        assert_eq!(format_double(0.0), "0.0");
        assert_eq!(format_double(0.25), "0.25");
        assert_eq!(format_double(0.875), "0.875");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(100.0), "100.0");
        assert_eq!(format_double(123456789.0), "1.23457e+08");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1e-05");
        assert_eq!(format_double(1.2345678), "1.23457");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(999999.5), "1e+06");
    }

    #[test]
    fn non_ascii_bytes_are_escaped_one_by_one() {
        assert_eq!(Element::str("café").to_kea_string(), r#""caf\u00c3\u00a9""#);
        assert_eq!(Element::str("a\"b\n").to_kea_string(), r#""a\"b\n""#);
    }

    #[test]
    fn pretty_matches_config_write() {
        let e = parse_request(br#"{"Dhcp4":{"a":[],"b":["x","y"],"c":[{"d":1}],"e":{}}}"#).unwrap();
        let expected = "{\n  \"Dhcp4\": {\n    \"a\": [ ],\n    \"b\": [ \"x\", \"y\" ],\n    \"c\": [\n      {\n        \"d\": 1\n      }\n    ],\n    \"e\": { }\n  }\n}";
        assert_eq!(pretty(&e), expected);
    }
}
