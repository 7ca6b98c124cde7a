//! A function call's arguments against a function's validator, both from the fuzzer (two JSON
//! documents separated by a NUL byte): arguments normalized, decoded and checked without panic,
//! and every refusal says why.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |b| *b == 0);
    let args = parts
        .next()
        .and_then(|a| serde_json::from_slice::<serde_json::Value>(a).ok());
    let validator = parts
        .next()
        .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
        .unwrap_or(serde_json::json!({"type": "any"}));
    match berth_value::validate::arguments(args) {
        Err(e) => assert!(!e.is_empty()),
        Ok(obj) => match berth_value::decode(&obj) {
            Err(e) => assert!(!e.0.is_empty()),
            Ok(value) => {
                if let Err(e) = berth_value::validate::check(&value, &validator, "", &|_| None) {
                    assert!(!e.is_empty());
                }
            }
        },
    }
});
