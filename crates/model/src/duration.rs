//! Durations as people write them on a command line: `45s`, `30m`, `12h`, `7d`, `2w`, `1y`,
//! `500ms`, or with words (`10 seconds`, `1 day`). Used by server flags such as
//! `--reap-interval` and by expirations.

use crate::Error;

const UNITS: &[(&[&str], i64)] = &[
    (&["ms", "millisecond", "milliseconds"], 1),
    (&["s", "sec", "secs", "second", "seconds"], 1_000),
    (&["m", "min", "mins", "minute", "minutes"], 60_000),
    (&["h", "hr", "hrs", "hour", "hours"], 3_600_000),
    (&["d", "day", "days"], 86_400_000),
    (&["w", "week", "weeks"], 604_800_000),
    (&["y", "year", "years"], 365 * 86_400_000),
];

/// Parses a duration into milliseconds. `None` when the text is not of the form
/// `<number><unit>` or `<number> <unit>`.
pub fn parse_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return None;
    }
    let n: i64 = num.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let factor = UNITS
        .iter()
        .find(|(names, _)| names.contains(&unit.as_str()))?
        .1;
    n.checked_mul(factor)
}

/// Like [`parse_ms`], with an error that names the flag and the accepted forms.
pub fn parse_flag(flag: &str, text: &str) -> Result<i64, Error> {
    parse_ms(text).ok_or_else(|| {
        Error::bad_request(
            "InvalidDuration",
            format!(
                "invalid {flag} '{text}': write a number and a unit, e.g. 500ms, 45s, 30m, 12h, 7d, 2w or 1y"
            ),
        )
    })
}

/// Renders milliseconds the short way (`90000` -> `90s`, `1800000` -> `30m`).
pub fn format_ms(ms: i64) -> String {
    for (names, factor) in UNITS.iter().rev() {
        if ms != 0 && ms % factor == 0 {
            return format!("{}{}", ms / factor, names[0]);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        for (text, ms) in [
            ("45s", 45_000),
            ("30m", 1_800_000),
            ("12h", 43_200_000),
            ("7d", 604_800_000),
            ("2w", 1_209_600_000),
            ("1y", 31_536_000_000),
            ("500ms", 500),
            ("10 seconds", 10_000),
            ("1 day", 86_400_000),
            (" 3 Hours ", 10_800_000),
        ] {
            assert_eq!(parse_ms(text), Some(ms), "{text}");
        }
        for bad in [
            "",
            "s",
            "10",
            "10 parsecs",
            "-5s",
            "1.5h",
            "99999999999999999999s",
        ] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
        assert!(
            parse_flag("--reap-interval", "soon")
                .unwrap_err()
                .message
                .contains("--reap-interval")
        );
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") { let _ = parse_ms(&s); }

        #[test]
        fn format_round_trips(ms in 1i64..1_000_000_000_000) {
            prop_assert_eq!(parse_ms(&format_ms(ms)), Some(ms));
        }
    }
}
