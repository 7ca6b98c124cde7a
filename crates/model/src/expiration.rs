//! Expirations as people write them (PRODUCT §4): `none`/`never`; `in N units`; `45s`, `30m`,
//! `12h`, `7d`, `2w`; an RFC 3339 timestamp; Unix seconds or milliseconds.

use crate::{Error, duration, time::Millis};

pub const ACCEPTED_FORMS: &str = "'none' or 'never', 'in N seconds|minutes|hours|days|weeks' (e.g. 'in 7 days'), \
a short duration ('45s', '30m', '12h', '7d', '2w'), an RFC 3339 timestamp ('2026-12-01T00:00:00Z'), \
or Unix seconds or milliseconds";

/// What an expiration text asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    /// No expiration (clear it).
    Never,
    /// Expire at this instant.
    At(Millis),
}

fn refuse(text: &str, why: &str) -> Error {
    Error::bad_request(
        "InvalidExpiration",
        format!("invalid expiration '{text}': {why}; accepted forms: {ACCEPTED_FORMS}"),
    )
}

/// Parses `text` relative to `now`. Range is checked separately by [`check_range`].
pub fn parse(text: &str, now: Millis) -> Result<Expiration, Error> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    if lower == "none" || lower == "never" {
        return Ok(Expiration::Never);
    }
    if let Some(rest) = lower.strip_prefix("in ") {
        let ms = duration::parse_ms(rest)
            .filter(|_| rest.trim().contains(|c: char| c.is_ascii_alphabetic()));
        return match ms {
            Some(ms) => now
                .checked_add(ms)
                .map(Expiration::At)
                .ok_or_else(|| refuse(text, "it is too far away")),
            None => Err(refuse(text, "the duration after 'in' is not understood")),
        };
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = t
            .parse()
            .map_err(|_| refuse(text, "the number is too large"))?;
        // Unix seconds until the year 5138; anything larger is milliseconds.
        let ms = if n < 100_000_000_000 {
            n.checked_mul(1000)
        } else {
            Some(n)
        };
        return ms
            .map(Expiration::At)
            .ok_or_else(|| refuse(text, "the number is too large"));
    }
    if let Some(ms) = duration::parse_ms(t).filter(|_| !t.contains(' ')) {
        return now
            .checked_add(ms)
            .map(Expiration::At)
            .ok_or_else(|| refuse(text, "it is too far away"));
    }
    if let Some(ms) = parse_rfc3339(t) {
        return Ok(Expiration::At(ms));
    }
    Err(refuse(text, "it is not in a form berth understands"))
}

/// Refuses an instant outside `[now + min, now + max]`.
pub fn check_range(
    text: &str,
    at: Millis,
    now: Millis,
    min_ms: i64,
    max_ms: i64,
) -> Result<(), Error> {
    if at < now.saturating_add(min_ms) {
        return Err(refuse(
            text,
            &format!(
                "it must be at least {} from now",
                duration::format_ms(min_ms)
            ),
        ));
    }
    if at > now.saturating_add(max_ms) {
        return Err(refuse(
            text,
            &format!(
                "it must be at most {} from now",
                duration::format_ms(max_ms)
            ),
        ));
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, also with a space or lowercase `t`/`z`.
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 3)];
        millis = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let m = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *sign == b'+' { m } else { -m }
        }
        _ => return None,
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    Some(secs * 1000 + millis)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's civil-to-days algorithm.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: Millis = 1_795_000_000_000;
    const H: i64 = 3_600_000;
    const D: i64 = 24 * H;

    #[test]
    fn every_form() {
        let cases: &[(&str, Expiration)] = &[
            ("none", Expiration::Never),
            ("Never", Expiration::Never),
            ("in 7 days", Expiration::At(NOW + 7 * D)),
            ("in 1 day", Expiration::At(NOW + D)),
            ("in 2 seconds", Expiration::At(NOW + 2000)),
            ("in 30 minutes", Expiration::At(NOW + 30 * 60_000)),
            ("in 12 hours", Expiration::At(NOW + 12 * H)),
            ("in 2 weeks", Expiration::At(NOW + 14 * D)),
            ("in 1 week", Expiration::At(NOW + 7 * D)),
            ("45s", Expiration::At(NOW + 45_000)),
            ("30m", Expiration::At(NOW + 30 * 60_000)),
            ("12h", Expiration::At(NOW + 12 * H)),
            ("7d", Expiration::At(NOW + 7 * D)),
            ("2w", Expiration::At(NOW + 14 * D)),
            ("2026-12-01T00:00:00Z", Expiration::At(1_796_083_200_000)),
            (
                "2026-12-01T02:00:00+02:00",
                Expiration::At(1_796_083_200_000),
            ),
            (
                "2026-12-01T00:00:00.250Z",
                Expiration::At(1_796_083_200_250),
            ),
            ("1796083200", Expiration::At(1_796_083_200_000)),
            ("1796083200000", Expiration::At(1_796_083_200_000)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text, NOW).as_ref(), Ok(want), "{text}");
        }
        for bad in [
            "",
            "soon",
            "in",
            "in days",
            "in 7",
            "7 days ago",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "-5",
            "in -5 days",
            "tomorrow",
        ] {
            let e = parse(bad, NOW).expect_err(bad);
            assert_eq!(e.code, "InvalidExpiration");
            assert!(e.message.contains("accepted forms"), "{bad}");
        }
    }

    #[test]
    fn range() {
        assert!(check_range("x", NOW + 31 * 60_000, NOW, 30 * 60_000, 365 * D).is_ok());
        let e = check_range("in 1 minute", NOW + 60_000, NOW, 30 * 60_000, 365 * D).unwrap_err();
        assert!(e.message.contains("at least 30m"), "{}", e.message);
        let e = check_range("in 2 years", NOW + 730 * D, NOW, 30 * 60_000, 365 * D).unwrap_err();
        assert!(e.message.contains("at most 1y"), "{}", e.message);
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") { let _ = parse(&s, NOW); }

        #[test]
        fn relative_forms_round_trip(n in 1i64..10_000, unit in prop::sample::select(vec![("second", 1000i64), ("minute", 60_000), ("hour", H), ("day", D), ("week", 7 * D)])) {
            let text = format!("in {n} {}s", unit.0);
            prop_assert_eq!(parse(&text, NOW), Ok(Expiration::At(NOW + n * unit.1)));
        }

        #[test]
        fn rfc3339_round_trips(ms in 0i64..4_000_000_000_000) {
            let secs = ms / 1000;
            let days = secs / 86_400;
            let rem = secs % 86_400;
            let (y, m, d) = civil(days);
            let text = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, ms % 1000);
            prop_assert_eq!(parse_rfc3339(&text), Some(ms));
        }
    }

    fn civil(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }
}
