//! Any JSON text through the `convex_encoded_json` codec: decoding never panics, and whatever
//! decodes encodes back to the same JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match berth_value::decode(&json) {
        Err(e) => assert!(!e.0.is_empty(), "a refusal must say why"),
        Ok(v) => {
            let encoded = berth_value::encode(&v);
            let again = berth_value::decode(&encoded).expect("what berth encodes, it decodes");
            assert_eq!(berth_value::encode(&again), encoded);
            let _ = berth_value::export_json(&v);
        }
    }
});
