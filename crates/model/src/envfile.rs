//! Reading and editing dotenv files (`.env.local`) the way a person would by hand: a key is
//! changed in place, every other line and comment is kept byte for byte, and a new key is
//! appended at the end.

/// The value of `key`, unquoted, without a trailing ` # comment`.
pub fn get(text: &str, key: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let (k, v) = split(line)?;
        (k == key).then(|| unquote(v))
    })
}

/// `text` with `key` set to `value` (and an optional trailing comment). The first line that
/// sets `key` is replaced; later duplicates are removed; the rest is kept as it was.
pub fn set(text: &str, key: &str, value: &str, comment: Option<&str>) -> String {
    let new_line = match comment {
        Some(c) => format!("{key}={value} # {c}"),
        None => format!("{key}={value}"),
    };
    let mut out = String::with_capacity(text.len() + new_line.len() + 1);
    let mut done = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if split(body).is_some_and(|(k, _)| k == key) {
            if !done {
                out.push_str(&new_line);
                out.push_str(&line[body.len()..]);
                done = true;
            }
            continue;
        }
        out.push_str(line);
    }
    if !done {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&new_line);
        out.push('\n');
    }
    out
}

/// `text` without any line that sets `key`.
pub fn remove(text: &str, key: &str) -> String {
    text.split_inclusive('\n')
        .filter(|line| split(line.trim_end_matches(['\n', '\r'])).is_none_or(|(k, _)| k != key))
        .collect()
}

fn split(line: &str) -> Option<(&str, &str)> {
    let l = line.trim_start();
    if l.starts_with('#') {
        return None;
    }
    let l = l.strip_prefix("export ").unwrap_or(l);
    let (k, v) = l.split_once('=')?;
    let k = k.trim();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((k, v))
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v
            .strip_prefix(q)
            .and_then(|r| r.find(q).map(|end| &r[..end]))
        {
            return inner.to_string();
        }
    }
    match v.find(" #") {
        Some(i) => v[..i].trim_end().to_string(),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_values() {
        let t = "# comment\nA=1\nexport B=\"two # not a comment\"\nC=x # team: t\nD='q'\n";
        assert_eq!(get(t, "A").as_deref(), Some("1"));
        assert_eq!(get(t, "B").as_deref(), Some("two # not a comment"));
        assert_eq!(get(t, "C").as_deref(), Some("x"));
        assert_eq!(get(t, "D").as_deref(), Some("q"));
        assert_eq!(get(t, "E"), None);
    }

    #[test]
    fn edits_in_place() {
        let t = "# top\nA=1\r\nKEEP=me   # spaced\nA=dup\n";
        let out = set(t, "A", "2", Some("note"));
        assert_eq!(out, "# top\nA=2 # note\r\nKEEP=me   # spaced\n");
        assert_eq!(set("X=1", "Y", "2", None), "X=1\nY=2\n");
        assert_eq!(set("", "Y", "2", None), "Y=2\n");
        assert_eq!(remove("A=1\nB=2\n", "A"), "B=2\n");
    }

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Z_]{1,6}=[a-z0-9 #]{0,10}",
            "# [ -~]{0,20}",
            "[ -~]{0,20}",
            Just(String::new()),
        ]
    }

    proptest! {
        #[test]
        fn set_is_idempotent_and_keeps_other_lines(lines in proptest::collection::vec(line(), 0..8), v in "[a-z0-9:-]{1,12}") {
            let text = lines.join("\n");
            let once = set(&text, "CONVEX_DEPLOYMENT", &v, Some("team: t"));
            prop_assert_eq!(&set(&once, "CONVEX_DEPLOYMENT", &v, Some("team: t")), &once);
            prop_assert_eq!(get(&once, "CONVEX_DEPLOYMENT"), Some(v));
            let kept: Vec<&str> = text.lines().filter(|l| split(l).is_none_or(|(k, _)| k != "CONVEX_DEPLOYMENT")).collect();
            let after: Vec<&str> = once.lines().filter(|l| split(l).is_none_or(|(k, _)| k != "CONVEX_DEPLOYMENT")).collect();
            prop_assert_eq!(kept, after);
        }
    }
}
