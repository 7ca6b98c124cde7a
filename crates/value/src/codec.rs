//! `convex_encoded_json` (PROTOCOL §3): JSON for null, booleans, strings, arrays and finite
//! numbers; `{"$integer": base64 LE}` for int64; `{"$float": base64 LE}` for NaN, ±Infinity and
//! -0; `{"$bytes": base64}` for bytes; objects with sorted keys.

use crate::Value;
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

pub const MAX_DEPTH: usize = 16;
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
pub const MAX_FIELD_NAME: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

/// Field names: printable ASCII, not starting with `$`, at most 1024 characters.
pub fn validate_field_name(name: &str) -> Result<(), DecodeError> {
    if name.is_empty() {
        return err("field names may not be empty");
    }
    if name.len() > MAX_FIELD_NAME {
        return err(format!(
            "field name '{}…' is longer than {MAX_FIELD_NAME} characters",
            &name[..32]
        ));
    }
    if name.starts_with('$') {
        return err(format!("field name '{name}' may not start with '$'"));
    }
    if let Some(c) = name.chars().find(|c| !(' '..='~').contains(c)) {
        return err(format!(
            "field name '{name}' contains '{}', which is not printable ASCII",
            c.escape_default()
        ));
    }
    Ok(())
}

/// Encodes a value as `convex_encoded_json`.
pub fn encode(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Float64(f) => {
            if f.is_finite() && !(*f == 0.0 && f.is_sign_negative()) {
                number(*f)
            } else {
                single("$float", STANDARD.encode(f.to_le_bytes()))
            }
        }
        Value::Int64(i) => single("$integer", STANDARD.encode(i.to_le_bytes())),
        Value::Bytes(b) => single("$bytes", STANDARD.encode(b)),
        Value::Array(a) => Json::Array(a.iter().map(encode).collect()),
        Value::Object(o) => Json::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), encode(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// A finite float as a JSON number, written the way JavaScript writes it: whole numbers
/// without a fraction (`10`, not `10.0`). A plain JSON number always decodes as float64.
fn number(f: f64) -> Json {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Json::Number((f as i64).into())
    } else {
        serde_json::Number::from_f64(f)
            .map(Json::Number)
            .unwrap_or(Json::Null)
    }
}

fn single(k: &str, v: String) -> Json {
    let mut m = Map::new();
    m.insert(k.into(), Json::String(v));
    Json::Object(m)
}

/// Decodes `convex_encoded_json`, checking nesting and field names.
pub fn decode(j: &Json) -> Result<Value, DecodeError> {
    decode_at(j, 0)
}

fn decode_at(j: &Json, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return err(format!(
            "the value is nested more than {MAX_DEPTH} levels deep"
        ));
    }
    Ok(match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::String(s) => Value::String(s.clone()),
        Json::Number(n) => match n.as_f64() {
            Some(f) => Value::Float64(f),
            None => return err(format!("the number {n} is not a float64")),
        },
        Json::Array(a) => Value::Array(
            a.iter()
                .map(|x| decode_at(x, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(o) => {
            if o.len() == 1
                && let Some((k, v)) = o.iter().next()
                && let Some(special) = decode_special(k, v)?
            {
                return Ok(special);
            }
            let mut out = BTreeMap::new();
            for (k, v) in o {
                validate_field_name(k)?;
                out.insert(k.clone(), decode_at(v, depth + 1)?);
            }
            Value::Object(out)
        }
    })
}

fn decode_special(k: &str, v: &Json) -> Result<Option<Value>, DecodeError> {
    let text = || match v {
        Json::String(s) => Ok(s.as_str()),
        _ => err(format!("{k} must hold a base64 string")),
    };
    let bytes8 = |what: &str| -> Result<[u8; 8], DecodeError> {
        let raw = STANDARD
            .decode(text()?)
            .map_err(|e| DecodeError(format!("{what}: invalid base64 ({e})")))?;
        raw.try_into()
            .map_err(|_| DecodeError(format!("{what} must hold exactly 8 bytes")))
    };
    Ok(Some(match k {
        "$integer" => Value::Int64(i64::from_le_bytes(bytes8("$integer")?)),
        "$float" => Value::Float64(f64::from_le_bytes(bytes8("$float")?)),
        "$bytes" => Value::Bytes(
            STANDARD
                .decode(text()?)
                .map_err(|e| DecodeError(format!("$bytes: invalid base64 ({e})")))?,
        ),
        _ => return Ok(None),
    }))
}

/// The lossy `json` export: int64 as a decimal string, bytes as base64, NaN/Infinity as strings.
pub fn export_json(v: &Value) -> Json {
    match v {
        Value::Int64(i) => Json::String(i.to_string()),
        Value::Bytes(b) => Json::String(STANDARD.encode(b)),
        Value::Float64(f) if f.is_nan() => Json::String("NaN".into()),
        Value::Float64(f) if f.is_infinite() => {
            Json::String(if *f > 0.0 { "Infinity" } else { "-Infinity" }.into())
        }
        Value::Float64(f) => number(*f),
        Value::Array(a) => Json::Array(a.iter().map(export_json).collect()),
        Value::Object(o) => {
            Json::Object(o.iter().map(|(k, v)| (k.clone(), export_json(v))).collect())
        }
        other => encode(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn exact_encodings() {
        assert_eq!(
            encode(&Value::Int64(1)),
            json!({"$integer": "AQAAAAAAAAA="})
        );
        assert_eq!(
            encode(&Value::Int64(-1)),
            json!({"$integer": "//////////8="})
        );
        assert_eq!(encode(&Value::Float64(1.5)), json!(1.5));
        assert_eq!(
            encode(&Value::Float64(-0.0)),
            json!({"$float": "AAAAAAAAAIA="})
        );
        assert_eq!(
            encode(&Value::Float64(f64::INFINITY)),
            json!({"$float": "AAAAAAAA8H8="})
        );
        assert_eq!(
            encode(&Value::Float64(f64::NEG_INFINITY)),
            json!({"$float": "AAAAAAAA8P8="})
        );
        assert_eq!(
            encode(&Value::Float64(f64::NAN)),
            json!({"$float": "AAAAAAAA+H8="})
        );
        assert_eq!(
            encode(&Value::Bytes(vec![1, 2, 3])),
            json!({"$bytes": "AQID"})
        );
        let obj = decode(&json!({"b": 1, "a": [null, true, "s"]})).unwrap();
        assert_eq!(
            serde_json::to_string(&encode(&obj)).unwrap(),
            r#"{"a":[null,true,"s"],"b":1}"#
        );
        assert_eq!(encode(&Value::Float64(2.5)), json!(2.5));
        assert_eq!(
            decode(&json!(3)).unwrap(),
            Value::Float64(3.0),
            "a plain number is float64"
        );
        assert_eq!(export_json(&Value::Int64(7)), json!("7"));
        assert_eq!(export_json(&Value::Float64(f64::NAN)), json!("NaN"));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(decode(&json!({"$integer": "AQ=="})).is_err());
        assert!(decode(&json!({"$integer": 5})).is_err());
        assert!(decode(&json!({"$bytes": "!!"})).is_err());
        assert!(
            decode(&json!({"$other": 1})).is_err(),
            "$ field names are refused"
        );
        assert!(decode(&json!({"a\u{1}": 1})).is_err());
        let mut deep = json!(1);
        for _ in 0..20 {
            deep = json!([deep]);
        }
        assert!(decode(&deep).unwrap_err().0.contains("nested"));
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Int64),
            any::<f64>().prop_map(Value::Float64),
            any::<bool>().prop_map(Value::Boolean),
            ".{0,8}".prop_map(Value::String),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_][a-z0-9_]{0,6}", inner, 0..4)
                    .prop_map(Value::Object),
            ]
        })
    }

    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Float64(x), Value::Float64(y)) => {
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
            }
            _ => a == b,
        }
    }

    proptest! {
        #[test]
        fn round_trips(v in value()) {
            let text = serde_json::to_string(&encode(&v)).unwrap();
            let back = decode(&serde_json::from_str(&text).unwrap()).unwrap();
            prop_assert!(same(&v, &back), "{:?} -> {} -> {:?}", v, text, back);
        }

        #[test]
        fn decode_never_panics(s in ".{0,64}") {
            if let Ok(j) = serde_json::from_str::<Json>(&s) { let _ = decode(&j); }
        }
    }
}
