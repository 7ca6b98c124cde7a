//! The one printer: human messages to stderr, results to stdout; with `--json`, results are the
//! management API's own JSON shapes and errors are `{"code", "message"}` on stderr.

use crate::error::CliError;
use serde::Serialize;
use std::io::Write;

pub struct Out {
    pub json: bool,
}

impl Out {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// A message for people (stderr), shown in every mode.
    pub fn info(&self, msg: impl AsRef<str>) {
        let _ = writeln!(std::io::stderr(), "{}", msg.as_ref());
    }

    /// Progress of long work, on stderr: rewritten in place on a terminal; elsewhere (a CI log)
    /// a line at most every 5 s. `done` ends it.
    pub fn progress(&self, state: &mut Progress, msg: impl AsRef<str>) {
        use std::io::IsTerminal;
        let mut err = std::io::stderr();
        if err.is_terminal() {
            let _ = write!(err, "\r{}\x1b[K", msg.as_ref());
            let _ = err.flush();
            state.shown = true;
        } else if state
            .last_line
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(5))
        {
            let _ = writeln!(err, "{}", msg.as_ref());
            state.last_line = Some(std::time::Instant::now());
        }
    }

    /// Ends a progress line on a terminal.
    pub fn progress_done(&self, state: &Progress) {
        if state.shown {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }

    /// A result: JSON on stdout with `--json`, else `human` on stdout.
    pub fn result<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        let text = if self.json {
            serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into())
        } else {
            human(value)
        };
        if !text.is_empty() {
            let _ = writeln!(std::io::stdout(), "{text}");
        }
    }

    pub fn error(&self, e: &CliError) {
        if self.json {
            let body = serde_json::json!({"code": e.code().unwrap_or(match e {
                CliError::Usage(_) => "UsageError",
                _ => "Failed",
            }), "message": e.to_string()});
            let _ = writeln!(std::io::stderr(), "{body}");
        } else {
            let _ = writeln!(std::io::stderr(), "error: {e}");
        }
    }
}

/// What a progress display has shown so far.
#[derive(Debug, Default)]
pub struct Progress {
    shown: bool,
    last_line: Option<std::time::Instant>,
}

/// `1234567` as `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Renders rows as an aligned table with a header.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_uppercase()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

/// `1764140000000` -> `2025-11-26 06:53 UTC`.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_formats() {
        assert_eq!(super::time(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::time(1_764_140_000_000), "2025-11-26 06:53 UTC");
    }
}
