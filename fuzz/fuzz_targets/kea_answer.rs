//! Any bytes a Kea server (or anything pretending to be one) may send as an HTTP 200 body: parsing
//! and classifying must never panic, and every failure must be a typed error with a bounded category.
#![no_main]

use kea_operator::kea::parse_answer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_answer(data) {
        Ok(answer) => {
            if answer.result != 0 {
                let error = answer.into_error("reservation-add");
                assert!(!error.category().is_empty());
                let _ = error.requeue_class();
                let _ = error.to_string();
            }
        }
        Err(error) => {
            assert_eq!(error.category(), "protocol", "{error}");
        }
    }
});
