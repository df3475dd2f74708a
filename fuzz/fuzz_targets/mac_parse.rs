//! MAC normalization (SPEC §2.1) on arbitrary text: never panics, and whatever it accepts is the
//! canonical form and parses back to itself.
#![no_main]

use kea_operator::core::Mac;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(mac) = Mac::parse(text) {
        let canonical = mac.to_string();
        assert_eq!(canonical.len(), 17);
        assert_eq!(Mac::parse(&canonical), Ok(mac));
        assert_eq!(canonical, canonical.to_ascii_lowercase());
    }
});
