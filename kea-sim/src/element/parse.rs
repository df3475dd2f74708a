//! Kea's hand-written JSON reader (`Element::fromJSON`), reproduced for two reasons: it decides
//! which request bodies are answered with HTTP 400 (it is laxer and stricter than RFC 8259 in
//! places: a trailing comma in a list is fine, `\u` escapes other than `\u00XX` are not), and it
//! assigns the positions that Kea quotes in error texts. Positions follow Kea's counting
//! exactly, including its quirks (an empty map's closing brace is not counted).

use std::collections::BTreeMap;

use super::{Element, Origin, Pos, Value};

/// Kea's `MAX_NESTING_LEVEL`.
const MAX_NESTING: u32 = 100;

/// A body Kea's reader refuses (the HTTP layer answers 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {line}:{col}")]
pub struct JsonError {
    /// What went wrong (Kea's wording where it has one).
    pub message: String,
    /// Line of the error.
    pub line: u32,
    /// Column of the error.
    pub col: u32,
}

impl JsonError {
    /// Bounded label for logs and metrics.
    pub fn category(&self) -> &'static str {
        "json"
    }
}

/// Parse an HTTP request body as Kea does (`<string>` positions, trailing data refused).
pub fn parse_request(text: &[u8]) -> Result<Element, JsonError> {
    let mut r = Reader::new(text, Origin::String, 1, 1);
    let e = r.element(MAX_NESTING)?;
    r.skip_ws();
    if r.peek().is_some() {
        return Err(r.err("Extra data"));
    }
    Ok(e)
}

/// Parse a forwarded command as Kea's `Element::fromWire` does (`<wire>` positions from 0:0).
pub fn parse_wire(text: &[u8]) -> Result<Element, JsonError> {
    let mut r = Reader::new(text, Origin::Wire, 0, 0);
    r.element(MAX_NESTING)
}

/// Parse a configuration file: Kea's file reader also accepts `#`, `//` and `/* */` comments.
pub fn parse_config_text(text: &str) -> Result<Element, JsonError> {
    let stripped = strip_comments(text);
    let mut r = Reader::new(stripped.as_bytes(), Origin::File, 1, 1);
    let e = r.element(MAX_NESTING)?;
    r.skip_ws();
    if r.peek().is_some() {
        return Err(r.err("Extra data"));
    }
    Ok(e)
}

/// Replace comments outside strings with spaces so line and column numbers stay meaningful.
fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            out.push(c);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1]);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_str = true;
                out.push(c);
                i += 1;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                out.extend_from_slice(b"  ");
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    out.push(if b[i] == b'\n' { b'\n' } else { b' ' });
                    i += 1;
                }
                if i < b.len() {
                    out.extend_from_slice(b"  ");
                    i += 2;
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Kea's `WHITESPACE` set.
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t')
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
    origin: Origin,
    line: u32,
    /// Kea's `pos`: the column of the next character to read.
    pos: u32,
}

impl<'a> Reader<'a> {
    fn new(text: &'a [u8], origin: Origin, line: u32, pos: u32) -> Self {
        Reader {
            text,
            at: 0,
            origin,
            line,
            pos,
        }
    }

    fn err(&self, message: &str) -> JsonError {
        JsonError {
            message: message.to_string(),
            line: self.line,
            col: self.pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn get(&mut self) -> Option<u8> {
        let c = self.peek();
        if c.is_some() {
            self.at += 1;
        }
        c
    }

    fn position(&self, col: u32) -> Pos {
        Pos {
            origin: self.origin,
            line: self.line,
            col,
        }
    }

    /// `skipChars(in, WHITESPACE, line, pos)`.
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if !is_ws(c) {
                break;
            }
            if c == b'\n' {
                self.line += 1;
                self.pos = 1;
            } else {
                self.pos += 1;
            }
            self.at += 1;
        }
    }

    /// `skipTo(in, file, line, pos, chars, WHITESPACE)`: returns the separator found.
    fn skip_to(&mut self, chars: &[u8]) -> Result<u8, JsonError> {
        let mut c = self.get();
        self.pos += 1;
        while let Some(ch) = c {
            if ch == b'\n' {
                self.pos = 1;
                self.line += 1;
            }
            if is_ws(ch) {
                c = self.get();
                self.pos += 1;
            } else if chars.contains(&ch) {
                while let Some(n) = self.peek() {
                    if !is_ws(n) {
                        break;
                    }
                    if n == b'\n' {
                        self.pos = 1;
                        self.line += 1;
                    } else {
                        self.pos += 1;
                    }
                    self.at += 1;
                }
                return Ok(ch);
            } else {
                return Err(self.err(&format!(
                    "'{}' read, one of \"{}\" expected",
                    ch as char,
                    String::from_utf8_lossy(chars)
                )));
            }
        }
        Err(self.err(&format!(
            "EOF read, one of \"{}\" expected",
            String::from_utf8_lossy(chars)
        )))
    }

    /// `Element::fromJSON(in, file, line, pos, level)`.
    fn element(&mut self, level: u32) -> Result<Element, JsonError> {
        if level == 0 {
            return Err(self.err("fromJSON elements nested too deeply"));
        }
        self.skip_ws();
        let Some(c) = self.get() else {
            return Err(self.err("nothing read"));
        };
        self.pos += 1;
        match c {
            b'0'..=b'9' | b'-' | b'+' | b'.' => {
                self.at -= 1;
                self.pos -= 1;
                self.number()
            }
            b't' | b'f' => {
                self.at -= 1;
                self.pos -= 1;
                self.boolean()
            }
            b'n' => {
                self.at -= 1;
                self.pos -= 1;
                self.null()
            }
            b'"' => {
                self.at -= 1;
                self.pos -= 1;
                let start = self.pos;
                let s = self.string()?;
                Ok(Element {
                    value: Value::Str(s),
                    pos: self.position(start),
                })
            }
            b'[' => self.list(level),
            b'{' => self.map(level),
            other => Err(self.err(&format!("error: unexpected character {}", other as char))),
        }
    }

    fn number(&mut self) -> Result<Element, JsonError> {
        let start = self.pos;
        let begin = self.at;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E') {
                self.at += 1;
            } else {
                break;
            }
        }
        let text = std::str::from_utf8(&self.text[begin..self.at]).unwrap_or("");
        self.pos += (self.at - begin) as u32;
        let pos = self.position(start);
        if text.contains(['.', 'e', 'E']) {
            return text
                .parse::<f64>()
                .ok()
                .filter(|_| !text.ends_with(['e', 'E', '+', '-']))
                .map(|f| Element {
                    value: Value::Real(f),
                    pos,
                })
                .ok_or_else(|| {
                    self.err(&format!(
                        "Number overflow while trying to cast '{text}' to double"
                    ))
                });
        }
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Element {
                value: Value::Int(i),
                pos,
            });
        }
        text.parse::<i128>()
            .map(|i| Element {
                value: Value::BigInt(i),
                pos,
            })
            .map_err(|_| self.err(&format!("Number overflow while trying to cast '{text}' to int64")))
    }

    fn word(&mut self) -> String {
        let begin = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.at += 1;
        }
        self.pos += (self.at - begin) as u32;
        String::from_utf8_lossy(&self.text[begin..self.at]).into_owned()
    }

    fn boolean(&mut self) -> Result<Element, JsonError> {
        let start = self.pos;
        let w = self.word();
        let pos = self.position(start);
        match w.as_str() {
            "true" => Ok(Element {
                value: Value::Bool(true),
                pos,
            }),
            "false" => Ok(Element {
                value: Value::Bool(false),
                pos,
            }),
            _ => Err(JsonError {
                message: format!("Bad boolean value: {w}"),
                line: self.line,
                col: start,
            }),
        }
    }

    fn null(&mut self) -> Result<Element, JsonError> {
        let start = self.pos;
        let w = self.word();
        if w == "null" {
            Ok(Element {
                value: Value::Null,
                pos: self.position(start),
            })
        } else {
            Err(JsonError {
                message: format!("Bad null value: {w}"),
                line: self.line,
                col: start,
            })
        }
    }

    /// `strFromStringstream`: newlines inside strings do not advance the line (as in Kea).
    fn string(&mut self) -> Result<String, JsonError> {
        let mut out: Vec<u8> = Vec::new();
        let mut c = self.get();
        self.pos += 1;
        if c == Some(b'"') {
            c = self.get();
            self.pos += 1;
        } else {
            return Err(self.err("String expected"));
        }
        while let Some(mut ch) = c {
            if ch == b'"' {
                break;
            }
            if ch == b'\\' {
                match self.peek() {
                    Some(b'"') => ch = b'"',
                    Some(b'/') => ch = b'/',
                    Some(b'\\') => ch = b'\\',
                    Some(b'b') => ch = 0x08,
                    Some(b'f') => ch = 0x0c,
                    Some(b'n') => ch = b'\n',
                    Some(b'r') => ch = b'\r',
                    Some(b't') => ch = b'\t',
                    Some(b'u') => {
                        self.at += 1;
                        self.pos += 1;
                        if self.peek() != Some(b'0') {
                            return Err(self.err("Unsupported unicode escape"));
                        }
                        self.at += 1;
                        self.pos += 1;
                        if self.peek() != Some(b'0') {
                            return Err(self.err("Unsupported unicode escape"));
                        }
                        self.at += 1;
                        self.pos += 1;
                        let hi = self
                            .peek()
                            .and_then(hex_digit)
                            .ok_or_else(|| self.err("Not hexadecimal in unicode escape"))?;
                        self.at += 1;
                        self.pos += 1;
                        let lo = self
                            .peek()
                            .and_then(hex_digit)
                            .ok_or_else(|| self.err("Not hexadecimal in unicode escape"))?;
                        ch = (hi << 4) | lo;
                    }
                    _ => return Err(self.err("Bad escape")),
                }
                // Drop the escaped character (or the last hex digit).
                self.at += 1;
                self.pos += 1;
            }
            out.push(ch);
            c = self.get();
            self.pos += 1;
        }
        if c.is_none() {
            return Err(self.err("Unterminated string"));
        }
        Ok(String::from_utf8(out).unwrap_or_else(|e| {
            // Bytes that are not UTF-8 (only reachable through `\u0080`..`\u00ff` escapes or raw
            // bytes): keep each as the code point of the same value.
            e.into_bytes().iter().map(|&b| b as char).collect()
        }))
    }

    fn list(&mut self, level: u32) -> Result<Element, JsonError> {
        let pos = self.position(self.pos);
        let mut items = Vec::new();
        self.skip_ws();
        let mut c = 0u8;
        while c != b']' {
            if self.peek() != Some(b']') {
                items.push(self.element(level - 1)?);
                c = self.skip_to(b",]")?;
            } else {
                self.at += 1;
                self.pos += 1;
                c = b']';
            }
        }
        Ok(Element {
            value: Value::List(items),
            pos,
        })
    }

    fn map(&mut self, level: u32) -> Result<Element, JsonError> {
        let pos = self.position(self.pos);
        let mut m = BTreeMap::new();
        self.skip_ws();
        match self.peek() {
            None => return Err(self.err("Unterminated map, <string> or } expected")),
            // Kea skips the closing brace of an empty map without counting it.
            Some(b'}') => self.at += 1,
            Some(_) => {
                let mut c = 0u8;
                while c != b'}' {
                    let key = self.string()?;
                    self.skip_to(b":")?;
                    let value = self.element(level - 1)?;
                    m.insert(key, value);
                    c = self.skip_to(b",}")?;
                }
            }
        }
        Ok(Element {
            value: Value::Map(m),
            pos,
        })
    }
}

fn hex_digit(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos_of(e: &Element, key: &str) -> String {
        e.field(key).map(|v| v.pos.to_string()).unwrap_or_default()
    }

    #[test]
    fn positions_match_kea_for_a_request_body() {
        // Measured on Kea 3.0.4: the string value starts at column 118, the empty map's
        // position is the column after its opening brace.
        let body = br#"{"command":"reservation-add","arguments":{"reservation":{"subnet-id":1,"hw-address":"aa:bb:cc:dd:ee:02","ip-address":"10.100.2"},"operation-target":"memory"}}"#;
        let e = parse_request(body).unwrap();
        let res = e.field("arguments").unwrap().field("reservation").unwrap();
        assert_eq!(pos_of(res, "ip-address"), "<string>:1:118");
        let empty = parse_request(br#"{"command":"reservation-get","arguments":{}}"#).unwrap();
        assert_eq!(pos_of(&empty, "arguments"), "<string>:1:43");
    }

    #[test]
    fn positions_count_lines() {
        let body =
            b"{\"command\":\"x\",\"arguments\":{\"reservation\":{\"subnet-id\":1,\n  \"hw-address\":12}}}";
        let e = parse_request(body).unwrap();
        let res = e.field("arguments").unwrap().field("reservation").unwrap();
        assert_eq!(pos_of(res, "hw-address"), "<string>:2:16");
    }

    #[test]
    fn wire_positions_start_at_zero() {
        let e =
            parse_wire(br#"{ "arguments": { "subnet-id": "x" }, "command": "reservation-get" }"#).unwrap();
        let args = e.field("arguments").unwrap();
        assert_eq!(args.pos.to_string(), "<wire>:0:16");
        assert_eq!(pos_of(args, "subnet-id"), "<wire>:0:30");
    }

    #[test]
    fn kea_quirks_are_kept() {
        assert!(
            parse_request(b"[1,2,]").is_ok(),
            "trailing comma in a list is accepted"
        );
        assert!(parse_request(br#"{"a":1,}"#).is_err(), "but not in a map");
        assert!(parse_request(br#""\u0041""#).is_ok());
        assert!(parse_request(br#""\u0141""#).is_err(), "only \\u00XX escapes");
        assert!(parse_request(b"   ").is_err(), "nothing read");
        assert!(parse_request(b"{} x").is_err(), "extra data");
        assert!(parse_request(b"+5").is_ok());
        assert_eq!(
            parse_request(b"99999999999999999999").unwrap().type_name(),
            "bigint"
        );
        assert_eq!(parse_request(b"1.50").unwrap().type_name(), "real");
        assert!(parse_request(b"tru").is_err());
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        let e = parse_request(br#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(e.field("a").and_then(Element::as_int), Some(2));
    }

    #[test]
    fn config_comments_are_ignored() {
        let e = parse_config_text("# c\n{ // x\n \"a\": /* y */ 1 }").unwrap();
        assert_eq!(e.field("a").and_then(Element::as_int), Some(1));
    }

    #[test]
    fn escaped_utf8_bytes_reassemble() {
        let e = parse_request(br#""caf\u00c3\u00a9""#).unwrap();
        assert_eq!(e.as_str(), Some("café"));
    }
}
