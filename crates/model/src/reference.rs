//! Deployment references (PRODUCT §2): the human name of a deployment within its project, such
//! as `dev/james/feature-x`, `preview/fix-login` or `production`.

use crate::Error;

pub const MIN_LEN: usize = 3;
pub const MAX_LEN: usize = 100;

/// Words a reference may not be, since selectors and the CLI give them other meanings.
pub const RESERVED: [&str; 10] = [
    "prod",
    "dev",
    "cloud",
    "local",
    "default",
    "name",
    "new",
    "existing",
    "deployment",
    "preview",
];

/// Whether `s` has the shape of a generated deployment name (`happy-otter-123`).
pub fn looks_like_generated_name(s: &str) -> bool {
    let mut parts = s.split('-');
    let (Some(a), Some(b), Some(n), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !a.is_empty()
        && a.bytes().all(|c| c.is_ascii_lowercase())
        && !b.is_empty()
        && b.bytes().all(|c| c.is_ascii_lowercase())
        && !n.is_empty()
        && n.bytes().all(|c| c.is_ascii_digit())
}

fn invalid(reference: &str, why: &str) -> Error {
    Error::bad_request(
        "InvalidReference",
        format!("invalid reference '{reference}': {why}"),
    )
}

/// Checks a reference against every rule, with a message for the rule it breaks.
pub fn validate(reference: &str) -> Result<(), Error> {
    let len = reference.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return Err(invalid(
            reference,
            &format!("it must be {MIN_LEN} to {MAX_LEN} characters long (it has {len})"),
        ));
    }
    if let Some(c) = reference
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '/'))
    {
        return Err(invalid(
            reference,
            &format!("'{c}' is not allowed; use ASCII letters, digits, '-' and '/'"),
        ));
    }
    if reference.starts_with('/') || reference.ends_with('/') || reference.contains("//") {
        return Err(invalid(
            reference,
            "'/' separates parts: it may not start or end the reference or appear twice in a row",
        ));
    }
    if looks_like_generated_name(&reference.to_ascii_lowercase()) {
        return Err(invalid(
            reference,
            "it looks like a generated deployment name (word-word-number), which would make selectors ambiguous",
        ));
    }
    if reference.to_ascii_lowercase().starts_with("local-") {
        return Err(invalid(
            reference,
            "references starting with 'local-' are reserved",
        ));
    }
    let lower = reference.to_ascii_lowercase();
    if RESERVED.contains(&lower.as_str()) {
        return Err(invalid(
            reference,
            "it is a reserved word (prod, dev, cloud, local, default, name, new, existing, deployment, preview)",
        ));
    }
    Ok(())
}

/// A branch name made reference-safe: any other character becomes `-`, runs of `-` collapse,
/// and the result is cut to fit after `prefix`.
pub fn sanitize(branch: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(branch.len());
    for c in branch.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '/' || c == '-' {
            c
        } else {
            '-'
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    // Collapse `//`, then trim separators from both ends so the result is a valid reference.
    while out.contains("//") {
        out = out.replace("//", "/");
    }
    let room = MAX_LEN.saturating_sub(prefix.len());
    let cut: String = out.trim_matches(['-', '/']).chars().take(room).collect();
    format!("{prefix}{}", cut.trim_end_matches(['-', '/']))
}

/// The default reference of a preview deployment for a branch: `preview/<branch made safe>`.
pub fn preview_reference(branch: &str) -> String {
    sanitize(branch, "preview/")
}

/// The default reference of a member's dev deployment: `dev/<username>`.
pub fn dev_reference(username: &str) -> String {
    sanitize(username, "dev/")
}

pub const PROD_REFERENCE: &str = "production";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn each_rule_has_its_message() {
        for ok in [
            "dev/james/feature-payment-integration",
            "production",
            "staging",
            "preview/fix-1",
            "abc",
            "Dev/X",
        ] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        let cases = [
            ("ab", "3 to 100 characters"),
            ("dev/has space", "' ' is not allowed"),
            ("dev/ünï", "'ü' is not allowed"),
            ("dev:x", "':' is not allowed"),
            ("/abc", "'/' separates parts"),
            ("abc/", "'/' separates parts"),
            ("a//b", "'/' separates parts"),
            ("happy-otter-123", "looks like a generated deployment name"),
            ("local-thing", "starting with 'local-'"),
            ("prod", "reserved word"),
            ("Default", "reserved word"),
            ("preview", "reserved word"),
            ("deployment", "reserved word"),
        ];
        for (bad, msg) in cases {
            let e = validate(bad).expect_err(bad);
            assert_eq!(e.code, "InvalidReference");
            assert!(e.message.contains(msg), "{bad}: {}", e.message);
        }
        assert!(validate(&"a".repeat(101)).is_err());
        assert!(validate(&"a".repeat(100)).is_ok());
    }

    #[test]
    fn defaults() {
        assert_eq!(
            preview_reference("feature/Login_page!!x"),
            "preview/feature/Login-page-x"
        );
        assert_eq!(dev_reference("james"), "dev/james");
        assert_eq!(preview_reference(&"x".repeat(200)).len(), 100);
        assert!(looks_like_generated_name("happy-otter-123"));
        assert!(!looks_like_generated_name("happy-otter"));
        assert!(!looks_like_generated_name("dev/happy-otter-1"));
    }

    proptest! {
        #[test]
        fn validate_never_panics(s in ".{0,120}") { let _ = validate(&s); }

        #[test]
        fn preview_references_of_real_branches_are_valid(branch in "[a-zA-Z0-9][a-zA-Z0-9/_.-]{2,150}") {
            let r = preview_reference(&branch);
            prop_assert!(r.len() <= MAX_LEN);
            prop_assert!(!r.contains("--"));
            prop_assert!(validate(&r).is_ok(), "{}", r);
        }
    }
}
