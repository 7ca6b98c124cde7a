//! Team and project slugs: `[a-z0-9-]`, 3 to 64 characters, no leading or trailing `-`.

use crate::Error;

pub const MIN_LEN: usize = 3;
pub const MAX_LEN: usize = 64;

/// Checks a team or project slug; `what` ("team", "project") names it in the message.
pub fn validate(what: &str, slug: &str) -> Result<(), Error> {
    let bad = |why: String| {
        Err(Error::bad_request(
            "InvalidSlug",
            format!("invalid {what} slug '{slug}': {why}"),
        ))
    };
    if slug.len() < MIN_LEN || slug.len() > MAX_LEN {
        return bad(format!("it must be {MIN_LEN} to {MAX_LEN} characters long"));
    }
    if let Some(c) = slug
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        return bad(format!(
            "'{c}' is not allowed; use lowercase letters, digits and '-'"
        ));
    }
    if slug.starts_with('-') || slug.ends_with('-') {
        return bad("it may not start or end with '-'".into());
    }
    Ok(())
}

/// Turns a display name into a slug candidate ("My Project!" -> "my-project").
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    trimmed
        .chars()
        .take(MAX_LEN)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_refuses() {
        for ok in ["default", "abc", "my-team-2", &"a".repeat(64)] {
            assert!(validate("team", ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("ab", "3 to 64"),
            ("Team", "'T' is not allowed"),
            ("a_b", "'_' is not allowed"),
            ("-abc", "start or end"),
            ("abc-", "start or end"),
        ] {
            let err = validate("team", bad).unwrap_err();
            assert!(err.message.contains(why), "{bad}: {}", err.message);
            assert_eq!(err.code, "InvalidSlug");
        }
        assert!(validate("team", &"a".repeat(65)).is_err());
    }

    #[test]
    fn slugify_examples() {
        assert_eq!(slugify("My Project!"), "my-project");
        assert_eq!(slugify("  web  app "), "web-app");
    }

    proptest! {
        #[test]
        fn slugify_output_is_valid_or_short(name in ".{0,100}") {
            let s = slugify(&name);
            prop_assert!(s.len() < MIN_LEN || validate("project", &s).is_ok());
        }
    }
}
