//! Deploy keys as they arrive in headers and environment variables: classified without panic,
//! and the redacted form never carries the secret.
#![no_main]
use berth_model::deploy_key::{KeyShape, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match parse(text) {
        KeyShape::Key(k) => {
            let shown = k.redacted();
            assert!(shown.ends_with("|…"));
            assert!(!shown.contains('|') || shown.find('|') == Some(shown.len() - "|…".len()));
        }
        KeyShape::MissingSecret(prefix) => {
            assert!(!berth_model::deploy_key::missing_secret_error(&prefix).message.is_empty());
        }
        KeyShape::NotAKey => {}
    }
});
