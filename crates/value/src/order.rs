//! The total order of values (PROTOCOL §3): undefined < null < int64 < float64 < boolean <
//! string < bytes < array < object. Floats order by value with NaN last; arrays and objects
//! lexicographically.

use crate::Value;
use std::cmp::Ordering;

fn rank(v: Option<&Value>) -> u8 {
    match v {
        None => 0,
        Some(Value::Null) => 1,
        Some(Value::Int64(_)) => 2,
        Some(Value::Float64(_)) => 3,
        Some(Value::Boolean(_)) => 4,
        Some(Value::String(_)) => 5,
        Some(Value::Bytes(_)) => 6,
        Some(Value::Array(_)) => 7,
        Some(Value::Object(_)) => 8,
    }
}

/// Compares two values; `None` is `undefined` (a missing field).
pub fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Int64(x)), Some(Value::Int64(y))) => x.cmp(y),
        (Some(Value::Float64(x)), Some(Value::Float64(y))) => {
            x.total_cmp(y).then(Ordering::Equal).pipe_nan(*x, *y)
        }
        (Some(Value::Boolean(x)), Some(Value::Boolean(y))) => x.cmp(y),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bytes(x)), Some(Value::Bytes(y))) => x.cmp(y),
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for (p, q) in x.iter().zip(y) {
                let o = compare(Some(p), Some(q));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            for ((ka, va), (kb, vb)) in x.iter().zip(y) {
                let o = ka.cmp(kb).then_with(|| compare(Some(va), Some(vb)));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

trait NanLast {
    fn pipe_nan(self, x: f64, y: f64) -> Ordering;
}

impl NanLast for Ordering {
    /// `total_cmp` puts negative NaN first; berth puts every NaN last and treats -0 == 0.
    fn pipe_nan(self, x: f64, y: f64) -> Ordering {
        match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => x.partial_cmp(&y).unwrap_or(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn type_order_and_values() {
        let ordered = [
            None,
            Some(Value::Null),
            Some(Value::Int64(-5)),
            Some(Value::Int64(3)),
            Some(Value::Float64(-1.0)),
            Some(Value::Float64(2.5)),
            Some(Value::Float64(f64::NAN)),
            Some(Value::Boolean(false)),
            Some(Value::Boolean(true)),
            Some(Value::String("a".into())),
            Some(Value::String("b".into())),
            Some(Value::Bytes(vec![0])),
            Some(Value::Array(vec![])),
            Some(Value::Array(vec![Value::Null])),
            Some(Value::Object(BTreeMap::new())),
        ];
        for w in ordered.windows(2) {
            assert_eq!(
                compare(w[0].as_ref(), w[1].as_ref()),
                Ordering::Less,
                "{:?} < {:?}",
                w[0],
                w[1]
            );
        }
        assert_eq!(
            compare(Some(&Value::Float64(0.0)), Some(&Value::Float64(-0.0))),
            Ordering::Equal
        );
    }
}
