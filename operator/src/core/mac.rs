//! MAC address normalization (SPEC §2.1).
//!
//! Kea refuses `AA:..`, `aa-..` and `aabb..` in `lease4-get-by-hw-address` (measured), so every MAC is
//! normalized before it reaches a request: lowercase, `-` → `:`, and then it must match
//! `^([0-9a-f]{2}:){5}[0-9a-f]{2}$`. A MAC without separators is rejected rather than guessed at,
//! as the seed requires.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A normalized MAC address (`aa:bb:cc:dd:ee:ff`). Constructing one is the only way to validate a MAC,
/// so a malformed address can never reach a Kea request.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac([u8; 6]);

/// Why a MAC address was refused; the message tells the user the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    #[error("MAC address is empty; expected six hex pairs separated by ':' or '-', e.g. aa:bb:cc:dd:ee:ff")]
    Empty,
    #[error(
        "MAC address {0:?} has no separators; write it as six hex pairs separated by ':' or '-', e.g. aa:bb:cc:dd:ee:ff"
    )]
    NoSeparators(String),
    #[error(
        "MAC address {0:?} is not valid; expected six hex pairs separated by ':' or '-', e.g. aa:bb:cc:dd:ee:ff"
    )]
    Invalid(String),
}

impl MacError {
    /// Bounded label for metrics and status reasons.
    pub fn category(&self) -> &'static str {
        match self {
            MacError::Empty => "empty",
            MacError::NoSeparators(_) => "no_separators",
            MacError::Invalid(_) => "invalid",
        }
    }
}

impl Mac {
    pub const fn from_octets(octets: [u8; 6]) -> Self {
        Mac(octets)
    }

    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Normalize and validate a user-supplied MAC (SPEC §2.1).
    pub fn parse(input: &str) -> Result<Self, MacError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(MacError::Empty);
        }
        // Truncate what we echo back so a hostile spec cannot bloat status messages.
        let shown = || trimmed.chars().take(64).collect::<String>();
        let normalized = trimmed.to_ascii_lowercase().replace('-', ":");
        if !normalized.contains(':')
            && normalized.len() == 12
            && normalized.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(MacError::NoSeparators(shown()));
        }
        let bytes = normalized.as_bytes();
        if bytes.len() != 17 {
            return Err(MacError::Invalid(shown()));
        }
        let mut octets = [0u8; 6];
        for (i, octet) in octets.iter_mut().enumerate() {
            let at = i * 3;
            if i < 5 && bytes[at + 2] != b':' {
                return Err(MacError::Invalid(shown()));
            }
            let hi = hex(bytes[at]).ok_or_else(|| MacError::Invalid(shown()))?;
            let lo = hex(bytes[at + 1]).ok_or_else(|| MacError::Invalid(shown()))?;
            *octet = hi << 4 | lo;
        }
        Ok(Mac(octets))
    }
}

/// Lowercase hex only: `parse` lowercases first, and the validity regex admits nothing else.
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl FromStr for Mac {
    type Err = MacError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mac::parse(s)
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Mac::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalizes_the_seed_examples() {
        assert_eq!(
            Mac::parse("AA:BB:CC:DD:EE:FF").unwrap().to_string(),
            "aa:bb:cc:dd:ee:ff"
        );
        assert_eq!(
            Mac::parse("aa-bb-cc-dd-ee-ff").unwrap().to_string(),
            "aa:bb:cc:dd:ee:ff"
        );
        assert_eq!(
            Mac::parse(" Aa-bB:cc-DD:ee-ff ").unwrap().to_string(),
            "aa:bb:cc:dd:ee:ff"
        );
    }

    #[test]
    fn rejects_without_separators_with_a_hint() {
        let err = Mac::parse("AABBCCDDEEFF").unwrap_err();
        assert_eq!(err, MacError::NoSeparators("AABBCCDDEEFF".into()));
        assert!(err.to_string().contains("aa:bb:cc:dd:ee:ff"));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "  ",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:fg",
            "aa.bb.cc.dd.ee.ff",
            "aabb:ccdd:eeff",
            "a:bb:cc:dd:ee:fff",
            "ää:bb:cc:dd:ee:ff",
            "+a:bb:cc:dd:ee:ff",
        ] {
            assert!(Mac::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn long_input_is_truncated_in_the_error() {
        let long = "x".repeat(10_000);
        let msg = Mac::parse(&long).unwrap_err().to_string();
        assert!(msg.len() < 300);
    }

    proptest! {
        #[test]
        fn display_roundtrips(octets in any::<[u8; 6]>()) {
            let mac = Mac::from_octets(octets);
            prop_assert_eq!(Mac::parse(&mac.to_string()).unwrap(), mac);
            prop_assert_eq!(Mac::parse(&mac.to_string().to_uppercase().replace(':', "-")).unwrap(), mac);
        }

        #[test]
        fn parse_never_panics_and_output_matches_regex(s in "\\PC{0,40}") {
            if let Ok(mac) = Mac::parse(&s) {
                let text = mac.to_string();
                prop_assert_eq!(text.len(), 17);
                let well_formed = text.bytes().enumerate().all(|(i, b)| {
                    if i % 3 == 2 { b == b':' } else { b.is_ascii_hexdigit() && !b.is_ascii_uppercase() }
                });
                prop_assert!(well_formed, "not normalized: {}", text);
            }
        }
    }
}
