//! Expirations as users type them (`in 7 days`, `12h`, RFC 3339, `none`), read at a fixed now.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    const NOW: i64 = 1_800_000_000_000;
    match berth_model::expiration::parse(text, NOW) {
        Err(e) => assert!(!e.message.is_empty()),
        Ok(_) => {}
    }
    let _ = berth_model::expiration::parse_rfc3339(text);
});
