//! Deployment selectors (`name`, `team:project:ref`, `project:ref`, `ref`, `dev`, `prod`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = berth_model::selector::parse(text) {
        assert!(!e.message.is_empty());
    }
});
