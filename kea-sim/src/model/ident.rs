//! Host identifiers and the text formats Kea reads and prints for them.
//!
//! Kea has three different readers (and a client sees each in a different command):
//! reservations accept `'quoted text'`, colon- or space-separated hex with one or two digits per
//! octet, or plain hex with an optional `0x`; `lease4-*` hardware addresses accept only the
//! colon form (`aabb…` is "invalid format of the decoded string"); client identifiers accept the
//! formatted hex forms. And three writers: `aa:bb` (hardware addresses, DUIDs, lease client-ids),
//! `AABB` (host client-id, circuit-id, flex-id) and `hwaddr=AABB` (duplicate messages).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Kea's `Host::IdentifierType`, in Kea's enum order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentType {
    /// `hw-address`
    HwAddress,
    /// `duid`
    Duid,
    /// `circuit-id`
    CircuitId,
    /// `client-id`
    ClientId,
    /// `flex-id`
    FlexId,
}

impl IdentType {
    /// Every type, sorted by name (the order Kea lists them in errors).
    pub const SORTED_NAMES: &'static str = "circuit-id, client-id, duid, flex-id, hw-address";

    /// The parameter name (`hw-address`, ...).
    pub fn name(self) -> &'static str {
        match self {
            IdentType::HwAddress => "hw-address",
            IdentType::Duid => "duid",
            IdentType::CircuitId => "circuit-id",
            IdentType::ClientId => "client-id",
            IdentType::FlexId => "flex-id",
        }
    }

    /// Parse a parameter name (`Host::getIdentifierType`).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "hw-address" => IdentType::HwAddress,
            "duid" => IdentType::Duid,
            "circuit-id" => IdentType::CircuitId,
            "client-id" => IdentType::ClientId,
            "flex-id" => IdentType::FlexId,
            _ => return None,
        })
    }

    /// The prefix of `Host::getIdentifierAsText` (`hwaddr=...`).
    pub fn text_prefix(self) -> &'static str {
        match self {
            IdentType::HwAddress => "hwaddr",
            IdentType::Duid => "duid",
            IdentType::CircuitId => "circuit-id",
            IdentType::ClientId => "client-id",
            IdentType::FlexId => "flex-id",
        }
    }

    /// `Host::getIdentifierMaxLength`.
    pub fn max_len(self) -> usize {
        match self {
            IdentType::HwAddress => 20,
            IdentType::Duid => 130,
            IdentType::ClientId => 255,
            IdentType::CircuitId | IdentType::FlexId => 128,
        }
    }

    /// A compact tag for hashing.
    pub fn tag(self) -> u8 {
        self as u8
    }
}

/// `isc::util::str::trim` (blanks are space, tab and newline).
fn trim_blanks(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n'])
}

/// `quotedStringToBinary`: `'text'` becomes its bytes; anything else gives an empty vector.
pub fn quoted_string_to_binary(s: &str) -> Vec<u8> {
    let t = trim_blanks(s);
    if t.len() > 1 && t.starts_with('\'') && t.ends_with('\'') {
        trim_blanks(&t[1..t.len() - 1]).as_bytes().to_vec()
    } else {
        Vec::new()
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `decodeSeparatedHexString`: octets of one or two hex digits between separators.
pub fn decode_separated_hex(s: &str, sep: u8) -> Result<Vec<u8>, String> {
    let parts: Vec<&[u8]> = s.as_bytes().split(|&b| b == sep).collect();
    let mut out = Vec::with_capacity(parts.len());
    for part in &parts {
        if parts.len() > 1 && part.is_empty() {
            return Err(format!(
                "two consecutive separators ('{}') specified in a decoded string '{s}'",
                sep as char
            ));
        } else if part.len() > 2 {
            return Err(format!("invalid format of the decoded string '{s}'"));
        } else if !part.is_empty() {
            let mut v = 0u8;
            for &c in *part {
                let Some(d) = hex_val(c) else {
                    return Err(format!(
                        "'{}' is not a valid hexadecimal digit in decoded string '{s}'",
                        c as char
                    ));
                };
                v = (v << 4) | d;
            }
            out.push(v);
        }
    }
    Ok(out)
}

/// `decodeFormattedHexString`: colon-separated, space-separated or plain (optional `0x`) hex.
pub fn decode_formatted_hex(s: &str) -> Result<Vec<u8>, String> {
    if s.contains(':') {
        decode_separated_hex(s, b':')
    } else if s.contains(' ') {
        decode_separated_hex(s, b' ')
    } else {
        let body = if s.len() > 2 && s.starts_with("0x") {
            &s[2..]
        } else {
            s
        };
        let odd = !s.len().is_multiple_of(2);
        let mut digits: Vec<u8> = Vec::with_capacity(body.len() + 1);
        if odd {
            digits.push(0);
        }
        for &c in body.as_bytes() {
            // The base16 decoder skips whitespace and refuses anything else.
            if matches!(c, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
                continue;
            }
            match hex_val(c) {
                Some(d) => digits.push(d),
                None => return Err(format!("'{s}' is not a valid string of hexadecimal digits")),
            }
        }
        if !digits.len().is_multiple_of(2) {
            return Err(format!("'{s}' is not a valid string of hexadecimal digits"));
        }
        Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
    }
}

/// `HWAddr::fromText`: colon-separated hex only (so `aabbccddeeff` is refused).
pub fn hwaddr_from_text(s: &str) -> Result<Vec<u8>, String> {
    let v = decode_separated_hex(s, b':')?;
    if v.len() > 20 {
        return Err("address vector size exceeds MAX_HWADDR_LEN".into());
    }
    Ok(v)
}

/// `Host::setIdentifier(text, name)`: the identifier of a reservation.
pub fn host_identifier_from_text(kind: IdentType, s: &str) -> Result<Vec<u8>, String> {
    if s.is_empty() {
        return Err("empty host identifier used".into());
    }
    let mut bin = quoted_string_to_binary(s);
    if bin.is_empty() {
        bin = decode_formatted_hex(s).map_err(|_| format!("invalid host identifier value '{s}'"))?;
    }
    if bin.len() > kind.max_len() {
        return Err(format!(
            "too long client identifier type {} length {}",
            kind.name(),
            bin.len()
        ));
    }
    if bin.is_empty() {
        // An identifier that decodes to nothing (e.g. "''") is refused when the host is built.
        return Err("invalid client identifier length 0".into());
    }
    Ok(bin)
}

/// Lower-case colon-separated hex (`HWAddr::toText(false)`, `DUID::toText`).
pub fn to_colon_hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, byte) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// Upper-case hex without separators (`encodeHex`).
pub fn to_upper_hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for byte in b {
        let _ = write!(s, "{byte:02X}");
    }
    s
}

/// An identifier as stored in a host.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identifier {
    /// The kind of identifier.
    pub kind: IdentType,
    /// Its bytes.
    pub bytes: Box<[u8]>,
}

impl Identifier {
    /// Build from parts.
    pub fn new(kind: IdentType, bytes: impl Into<Box<[u8]>>) -> Self {
        Identifier {
            kind,
            bytes: bytes.into(),
        }
    }

    /// The value as Kea's `Host::toElement4` prints it.
    pub fn display_value(&self) -> String {
        match self.kind {
            IdentType::HwAddress | IdentType::Duid => to_colon_hex(&self.bytes),
            IdentType::CircuitId | IdentType::ClientId | IdentType::FlexId => to_upper_hex(&self.bytes),
        }
    }

    /// `Host::getIdentifierAsText` (`hwaddr=AABBCC...`).
    pub fn as_text(&self) -> String {
        if self.bytes.is_empty() {
            format!("{}=(null)", self.kind.text_prefix())
        } else {
            format!("{}={}", self.kind.text_prefix(), to_upper_hex(&self.bytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservation_identifiers_accept_keas_forms() {
        let mac = vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x03];
        for form in [
            "aa:bb:cc:dd:ee:03",
            "AA:BB:CC:DD:EE:03",
            "aabbccddee03",
            "0xaabbccddee03",
            "aa bb cc dd ee 03",
        ] {
            assert_eq!(
                host_identifier_from_text(IdentType::HwAddress, form).unwrap(),
                mac,
                "{form}"
            );
        }
        assert_eq!(
            host_identifier_from_text(IdentType::HwAddress, "a:bb").unwrap(),
            vec![0x0a, 0xbb]
        );
        assert_eq!(
            host_identifier_from_text(IdentType::FlexId, "'myid'").unwrap(),
            b"myid".to_vec()
        );
        assert_eq!(
            host_identifier_from_text(IdentType::HwAddress, "abc").unwrap(),
            vec![0x0a, 0xbc]
        );
        for bad in ["aa-bb-cc", "zz:zz", "aa::bb", "aaa:bb"] {
            assert_eq!(
                host_identifier_from_text(IdentType::HwAddress, bad).unwrap_err(),
                format!("invalid host identifier value '{bad}'")
            );
        }
    }

    #[test]
    fn lease_hw_addresses_need_colons() {
        assert_eq!(hwaddr_from_text("AA:bb:01").unwrap(), vec![0xaa, 0xbb, 0x01]);
        assert_eq!(hwaddr_from_text("").unwrap(), Vec::<u8>::new());
        assert_eq!(
            hwaddr_from_text("aabbcc000001").unwrap_err(),
            "invalid format of the decoded string 'aabbcc000001'"
        );
        assert_eq!(
            hwaddr_from_text("aa:").unwrap_err(),
            "two consecutive separators (':') specified in a decoded string 'aa:'"
        );
        assert_eq!(
            hwaddr_from_text("ax:bb").unwrap_err(),
            "'x' is not a valid hexadecimal digit in decoded string 'ax:bb'"
        );
    }

    #[test]
    fn client_ids_use_formatted_hex() {
        assert_eq!(decode_formatted_hex("01:aa:bb").unwrap(), vec![1, 0xaa, 0xbb]);
        assert_eq!(
            decode_formatted_hex("z").unwrap_err(),
            "'z' is not a valid string of hexadecimal digits"
        );
    }

    #[test]
    fn printing_matches_kea() {
        let id = Identifier::new(IdentType::ClientId, vec![1u8, 0xaa, 0xbb]);
        assert_eq!(id.display_value(), "01AABB");
        assert_eq!(id.as_text(), "client-id=01AABB");
        let hw = Identifier::new(IdentType::HwAddress, vec![0xaau8, 0x0b]);
        assert_eq!(hw.display_value(), "aa:0b");
    }
}
