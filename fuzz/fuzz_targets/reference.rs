//! Deployment references: validation, and branch names made into preview references, which
//! are either valid or refused.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = berth_model::reference::validate(text) {
        assert!(!e.message.is_empty());
    }
    let preview = berth_model::reference::preview_reference(text);
    let _ = berth_model::reference::validate(&preview);
    let _ = berth_model::reference::looks_like_generated_name(text);
});
