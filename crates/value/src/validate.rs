//! Checks values against validators in their JSON form (PROTOCOL §5): `{type: "string"}`,
//! `{type: "object", value: {field: {fieldType, optional}}}`, `array`, `record`, `union`,
//! `literal`, `id`, and the scalars.

use crate::{Value, compare, decode};
use serde_json::Value as Json;

/// The arguments object of a call (PROTOCOL §2): an object, or an array holding exactly one;
/// missing or `null` means `{}`.
pub fn arguments(args: Option<Json>) -> Result<Json, &'static str> {
    const BAD: &str = "args must be an object, or an array holding exactly one object";
    let value = match args {
        None | Some(Json::Null) => return Ok(Json::Object(Default::default())),
        Some(Json::Array(mut a)) if a.len() == 1 => a.remove(0),
        Some(Json::Array(_)) => return Err(BAD),
        Some(v) => v,
    };
    if value.is_object() {
        Ok(value)
    } else {
        Err(BAD)
    }
}

/// `Err` says where and why the value does not match.
pub fn check(
    value: &Value,
    validator: &Json,
    path: &str,
    table_of: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let ty = validator
        .get("type")
        .and_then(Json::as_str)
        .unwrap_or("any");
    let mismatch = |expected: &str| {
        Err(format!(
            "Value does not match validator.\nPath: {}\nValue: {}\nValidator: {expected}",
            if path.is_empty() {
                "(the arguments)"
            } else {
                path
            },
            show(value)
        ))
    };
    match (ty, value) {
        ("any", _) => Ok(()),
        ("null", Value::Null) => Ok(()),
        ("number", Value::Float64(_)) => Ok(()),
        ("bigint" | "int64", Value::Int64(_)) => Ok(()),
        ("boolean", Value::Boolean(_)) => Ok(()),
        ("string", Value::String(_)) => Ok(()),
        ("bytes", Value::Bytes(_)) => Ok(()),
        ("id", Value::String(s)) => {
            let table = validator
                .get("tableName")
                .and_then(Json::as_str)
                .unwrap_or_default();
            match table_of(s) {
                Some(t) if t == table => Ok(()),
                _ => mismatch(&format!("v.id(\"{table}\")")),
            }
        }
        ("literal", v) => {
            let expected = validator.get("value").map(decode).and_then(Result::ok);
            if expected
                .as_ref()
                .is_some_and(|e| compare(Some(e), Some(v)).is_eq())
            {
                Ok(())
            } else {
                mismatch(&format!(
                    "v.literal({})",
                    validator
                        .get("value")
                        .map(Json::to_string)
                        .unwrap_or_default()
                ))
            }
        }
        ("array", Value::Array(items)) => {
            let inner = validator.get("value").cloned().unwrap_or(Json::Null);
            for (i, item) in items.iter().enumerate() {
                check(item, &inner, &format!("{path}[{i}]"), table_of)?;
            }
            Ok(())
        }
        ("object", Value::Object(fields)) => {
            let empty = serde_json::Map::new();
            let shape = validator
                .get("value")
                .and_then(Json::as_object)
                .unwrap_or(&empty);
            for (name, spec) in shape {
                let optional = spec
                    .get("optional")
                    .and_then(Json::as_bool)
                    .unwrap_or(false);
                let field_type = spec.get("fieldType").cloned().unwrap_or(Json::Null);
                match fields.get(name) {
                    Some(v) => check(v, &field_type, &format!("{path}.{name}"), table_of)?,
                    None if optional => {}
                    None => {
                        return Err(format!(
                            "Object is missing the required field `{name}`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\nPath: {}",
                            if path.is_empty() {
                                "(the arguments)"
                            } else {
                                path
                            }
                        ));
                    }
                }
            }
            if let Some(extra) = fields.keys().find(|k| !shape.contains_key(*k)) {
                return Err(format!(
                    "Object contains extra field `{extra}` that is not in the validator.\nPath: {}",
                    if path.is_empty() {
                        "(the arguments)"
                    } else {
                        path
                    }
                ));
            }
            Ok(())
        }
        ("record", Value::Object(fields)) => {
            let keys = validator.get("keys").cloned().unwrap_or(Json::Null);
            let values = validator
                .get("values")
                .and_then(|v| v.get("fieldType"))
                .cloned()
                .unwrap_or(Json::Null);
            for (k, v) in fields {
                check(
                    &Value::String(k.clone()),
                    &keys,
                    &format!("{path}.{k} (key)"),
                    table_of,
                )?;
                check(v, &values, &format!("{path}.{k}"), table_of)?;
            }
            Ok(())
        }
        ("union", v) => {
            let members = validator
                .get("value")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            if members.iter().any(|m| check(v, m, path, table_of).is_ok()) {
                Ok(())
            } else {
                mismatch("a union of validators, none of which matches")
            }
        }
        (other, _) => mismatch(&format!("v.{other}()")),
    }
}

fn show(v: &Value) -> String {
    let s = crate::encode(v).to_string();
    if s.len() > 200 {
        format!("{}…", &s[..200])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(j: Json) -> Value {
        decode(&j).unwrap()
    }

    #[test]
    fn objects_fields_and_unions() {
        let validator = json!({"type": "object", "value": {
            "author": {"fieldType": {"type": "string"}, "optional": false},
            "n": {"fieldType": {"type": "union", "value": [{"type": "number"}, {"type": "null"}]}, "optional": true}
        }});
        let none = |_: &str| None;
        assert!(check(&v(json!({"author": "a"})), &validator, "", &none).is_ok());
        assert!(check(&v(json!({"author": "a", "n": null})), &validator, "", &none).is_ok());
        let e = check(&v(json!({"author": 3})), &validator, "", &none).unwrap_err();
        assert!(
            e.contains("Path: .author") && e.contains("v.string()"),
            "{e}"
        );
        let e = check(&v(json!({})), &validator, "", &none).unwrap_err();
        assert!(e.contains("missing the required field `author`"), "{e}");
        let e = check(&v(json!({"author": "a", "x": 1})), &validator, "", &none).unwrap_err();
        assert!(e.contains("extra field `x`"), "{e}");
        assert!(
            check(
                &v(json!({"$integer": "AQAAAAAAAAA="})),
                &json!({"type": "bigint"}),
                "",
                &none
            )
            .is_ok()
        );
        assert!(
            check(
                &v(json!("a")),
                &json!({"type": "literal", "value": "a"}),
                "",
                &none
            )
            .is_ok()
        );
        assert!(
            check(
                &v(json!("b")),
                &json!({"type": "literal", "value": "a"}),
                "",
                &none
            )
            .is_err()
        );
        assert!(
            check(
                &v(json!([1, 2])),
                &json!({"type": "array", "value": {"type": "number"}}),
                "",
                &none
            )
            .is_ok()
        );
    }
}

#[cfg(test)]
mod fuzz_tests {
    use super::*;
    use proptest::prelude::*;

    /// Any JSON, up to a few levels deep.
    fn json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<f64>().prop_map(|f| serde_json::json!(f)),
            any::<i64>().prop_map(|i| serde_json::json!(i)),
            "[$a-z_]{0,6}".prop_map(Json::String),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                proptest::collection::btree_map("[$a-z_]{0,6}", inner, 0..4)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Validators as `v.*` produces them, with some nonsense mixed in.
    fn validator() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            prop_oneof![
                Just("string"),
                Just("number"),
                Just("float64"),
                Just("bigint"),
                Just("int64"),
                Just("boolean"),
                Just("bytes"),
                Just("null"),
                Just("any"),
                Just("nonsense")
            ]
            .prop_map(|t| serde_json::json!({"type": t})),
            "[a-z]{0,4}".prop_map(|t| serde_json::json!({"type": "id", "tableName": t})),
            json().prop_map(|v| serde_json::json!({"type": "literal", "value": v})),
            json(),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                inner
                    .clone()
                    .prop_map(|v| serde_json::json!({"type": "array", "value": v})),
                proptest::collection::vec(inner.clone(), 0..3)
                    .prop_map(|v| serde_json::json!({"type": "union", "value": v})),
                proptest::collection::btree_map("[a-z]{1,4}", (inner.clone(), any::<bool>()), 0..3)
                    .prop_map(|m| {
                        let fields: serde_json::Map<String, Json> = m
                            .into_iter()
                            .map(|(k, (t, o))| {
                                (k, serde_json::json!({"fieldType": t, "optional": o}))
                            })
                            .collect();
                        serde_json::json!({"type": "object", "value": fields})
                    }),
                (inner.clone(), inner).prop_map(|(k, v)| serde_json::json!({
                    "type": "record", "keys": k, "values": {"fieldType": v, "optional": false}
                })),
            ]
        })
    }

    proptest! {
        /// Whatever a client sends as arguments, against whatever validator a function
        /// declares: a clean answer, never a panic, and every refusal says something.
        #[test]
        fn call_arguments_never_panic(args in proptest::option::of(json()), v in validator()) {
            match arguments(args) {
                Err(e) => prop_assert!(!e.is_empty()),
                Ok(obj) => {
                    prop_assert!(obj.is_object());
                    match decode(&obj) {
                        Err(e) => prop_assert!(!e.0.is_empty()),
                        Ok(value) => {
                            if let Err(e) = check(&value, &v, "", &|_| None) {
                                prop_assert!(!e.is_empty());
                            }
                        }
                    }
                }
            }
        }
    }
}
