//! `.env.local` editing: setting a key on any file text is readable back, idempotent, and keeps
//! every other key as it was.
#![no_main]
use berth_model::envfile::{get, remove, set};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str, &str)| {
    let (text, key, value) = input;
    let key_ok = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    let value_ok = !value.contains(['\n', '\r', '#', '"', '\'']) && value.trim() == value;
    let once = set(text, key, value, None);
    let twice = set(&once, key, value, None);
    if key_ok && value_ok {
        assert_eq!(get(&once, key).as_deref(), Some(value), "set then get");
        assert_eq!(once, twice, "set is idempotent");
        let other = "BERTH_FUZZ_OTHER";
        if key != other {
            assert_eq!(get(text, other), get(&once, other), "other keys are kept");
        }
    }
    let removed = remove(&once, key);
    if key_ok {
        assert_eq!(get(&removed, key), None);
    }
});
