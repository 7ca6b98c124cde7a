//! Index keys: values encoded as bytes whose byte order is the order of values ([`compare`]).
//! A key is a tuple of components, each self-delimiting, so a key's bytes start with the bytes of
//! any prefix tuple, and the keys that extend a prefix are exactly those in
//! `[prefix, prefix ++ 0xFF)` ([`prefix_end`]): no component starts with `0xFF`.
//!
//! Each component is a type tag in the order of types (undefined < null < int64 < float64 <
//! boolean < string < bytes < array < object), then:
//! - int64: 8 bytes big-endian with the sign bit flipped;
//! - float64: 8 bytes big-endian of the bits, sign-flipped for positives and inverted for
//!   negatives; `-0` as `0`; every NaN as all ones, after `+inf`;
//! - string, bytes: the bytes with `0x00` written `0x00 0xFF`, then `0x00 0x00`;
//! - array: its elements' components, then `0x00`;
//! - object: per field `0x01`, the name as a string body, the value's component; then `0x00`.
//!
//! [`compare`]: crate::compare

use crate::Value;

const UNDEFINED: u8 = 0x01;
const NULL: u8 = 0x02;
const INT64: u8 = 0x03;
const FLOAT64: u8 = 0x04;
const FALSE: u8 = 0x05;
const TRUE: u8 = 0x06;
const STRING: u8 = 0x07;
const BYTES: u8 = 0x08;
const ARRAY: u8 = 0x09;
const OBJECT: u8 = 0x0a;

/// Appends the component of `v` (`None` is undefined: a missing field) to `out`.
pub fn push_component(out: &mut Vec<u8>, v: Option<&Value>) {
    match v {
        None => out.push(UNDEFINED),
        Some(Value::Null) => out.push(NULL),
        Some(Value::Int64(i)) => {
            out.push(INT64);
            out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
        }
        Some(Value::Float64(f)) => {
            out.push(FLOAT64);
            out.extend_from_slice(&float_bits(*f).to_be_bytes());
        }
        Some(Value::Boolean(b)) => out.push(if *b { TRUE } else { FALSE }),
        Some(Value::String(s)) => {
            out.push(STRING);
            push_escaped(out, s.as_bytes());
        }
        Some(Value::Bytes(b)) => {
            out.push(BYTES);
            push_escaped(out, b);
        }
        Some(Value::Array(items)) => {
            out.push(ARRAY);
            for item in items {
                push_component(out, Some(item));
            }
            out.push(0x00);
        }
        Some(Value::Object(fields)) => {
            out.push(OBJECT);
            for (name, value) in fields {
                out.push(0x01);
                push_escaped(out, name.as_bytes());
                push_component(out, Some(value));
            }
            out.push(0x00);
        }
    }
}

fn float_bits(f: f64) -> u64 {
    if f.is_nan() {
        return u64::MAX;
    }
    let f = if f == 0.0 { 0.0 } else { f };
    let bits = f.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits ^ (1 << 63)
    }
}

fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0x00 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0x00, 0x00]);
}

/// The key of a tuple of values.
pub fn key<'a>(values: impl IntoIterator<Item = Option<&'a Value>>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        push_component(&mut out, v);
    }
    out
}

/// The exclusive end of the keys that start with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    end.push(0xff);
    end
}

/// The smallest key after `key`: where a scan continues past it in ascending order.
pub fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0x00);
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Int64),
            prop_oneof![
                any::<f64>(),
                Just(0.0),
                Just(-0.0),
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
            ]
            .prop_map(Value::Float64),
            any::<bool>().prop_map(Value::Boolean),
            "[a\u{0}b]{0,4}".prop_map(Value::String),
            proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(255u8)], 0..4)
                .prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[a\u{0}b]{0,2}", inner, 0..3)
                    .prop_map(Value::Object),
            ]
        })
    }

    fn tuple() -> impl Strategy<Value = Vec<Option<Value>>> {
        proptest::collection::vec(proptest::option::weighted(0.9, value()), 1..3)
    }

    fn compare_tuples(a: &[Option<Value>], b: &[Option<Value>]) -> std::cmp::Ordering {
        for (x, y) in a.iter().zip(b) {
            let o = compare(x.as_ref(), y.as_ref());
            if o.is_ne() {
                return o;
            }
        }
        a.len().cmp(&b.len())
    }

    proptest! {
        #[test]
        fn byte_order_is_value_order(a in tuple(), b in tuple()) {
            let (ka, kb) = (key(a.iter().map(Option::as_ref)), key(b.iter().map(Option::as_ref)));
            prop_assert_eq!(ka.cmp(&kb), compare_tuples(&a, &b), "{:?} {:?}", ka, kb);
        }

        #[test]
        fn a_prefix_covers_exactly_the_tuples_that_extend_it(a in tuple(), b in tuple()) {
            let prefix = key(a.iter().map(Option::as_ref));
            let mut longer = a.clone();
            longer.extend(b.iter().cloned());
            let k = key(longer.iter().map(Option::as_ref));
            prop_assert!(k >= prefix && k < prefix_end(&prefix));
            let other = key(b.iter().map(Option::as_ref));
            let extends = b.len() >= a.len()
                && compare_tuples(&a, &b[..a.len()]).is_eq();
            prop_assert_eq!(other >= prefix && other < prefix_end(&prefix), extends);
        }
    }

    #[test]
    fn fixed_points() {
        let k = |v: Value| key([Some(&v)]);
        assert_eq!(k(Value::Float64(-0.0)), k(Value::Float64(0.0)));
        assert!(k(Value::Float64(f64::NAN)) > k(Value::Float64(f64::INFINITY)));
        assert!(k(Value::Int64(i64::MAX)) < k(Value::Float64(f64::NEG_INFINITY)));
        assert!(key([None]) < k(Value::Null));
        assert!(k(Value::String("a".into())) < k(Value::String("a\0".into())));
        assert!(k(Value::Object(BTreeMap::new())) > k(Value::Array(vec![])));
        assert!(successor(&k(Value::Null)) > k(Value::Null));
    }
}
