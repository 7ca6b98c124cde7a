//! Deployment selectors (PRODUCT §6): a deployment name; `team:project:inner`; `project:inner`;
//! or `inner`, where `inner` is `dev`, `prod` or a reference.

use crate::{Error, reference::looks_like_generated_name};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inner {
    /// The caller's default dev deployment.
    Dev,
    /// The project's default production deployment.
    Prod,
    Reference(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Name(String),
    /// `team` and `project` are `None` when the selector leaves them to the current project.
    InProject {
        team: Option<String>,
        project: Option<String>,
        inner: Inner,
    },
}

fn inner(s: &str) -> Inner {
    match s {
        "dev" => Inner::Dev,
        "prod" => Inner::Prod,
        r => Inner::Reference(r.to_string()),
    }
}

/// Parses a selector. Parts may not be empty.
pub fn parse(text: &str) -> Result<Selector, Error> {
    let t = text.trim();
    let bad = |why: &str| {
        Error::bad_request(
            "InvalidSelector",
            format!(
                "invalid deployment selector '{text}': {why}; use a deployment name (happy-otter-123), team:project:ref, project:ref, ref, dev or prod"
            ),
        )
    };
    let parts: Vec<&str> = t.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("a part is empty"));
    }
    match parts.as_slice() {
        [one] if looks_like_generated_name(one) => Ok(Selector::Name(one.to_string())),
        [one] => Ok(Selector::InProject {
            team: None,
            project: None,
            inner: inner(one),
        }),
        [project, r] => Ok(Selector::InProject {
            team: None,
            project: Some(project.to_string()),
            inner: inner(r),
        }),
        [team, project, r] => Ok(Selector::InProject {
            team: Some(team.to_string()),
            project: Some(project.to_string()),
            inner: inner(r),
        }),
        _ => Err(bad("it has more than three ':'-separated parts")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_form() {
        let r = |s: &str| Inner::Reference(s.into());
        assert_eq!(
            parse("happy-otter-123").unwrap(),
            Selector::Name("happy-otter-123".into())
        );
        assert_eq!(
            parse("dev").unwrap(),
            Selector::InProject {
                team: None,
                project: None,
                inner: Inner::Dev
            }
        );
        assert_eq!(
            parse("prod").unwrap(),
            Selector::InProject {
                team: None,
                project: None,
                inner: Inner::Prod
            }
        );
        assert_eq!(
            parse("dev/james/x").unwrap(),
            Selector::InProject {
                team: None,
                project: None,
                inner: r("dev/james/x")
            }
        );
        assert_eq!(
            parse("web:staging").unwrap(),
            Selector::InProject {
                team: None,
                project: Some("web".into()),
                inner: r("staging")
            }
        );
        assert_eq!(
            parse("acme:web:dev").unwrap(),
            Selector::InProject {
                team: Some("acme".into()),
                project: Some("web".into()),
                inner: Inner::Dev
            }
        );
        for bad in ["", ":", "a::b", "a:b:c:d", "web:"] {
            assert_eq!(parse(bad).unwrap_err().code, "InvalidSelector", "{bad}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,60}") { let _ = parse(&s); }

        #[test]
        fn full_selectors_round_trip(t in "[a-z0-9-]{3,10}", p in "[a-z0-9-]{3,10}", r in "[a-zA-Z0-9/-]{3,30}") {
            let sel = parse(&format!("{t}:{p}:{r}")).unwrap();
            let Selector::InProject { team, project, inner: i } = sel else { panic!() };
            prop_assert_eq!(team.as_deref(), Some(t.as_str()));
            prop_assert_eq!(project.as_deref(), Some(p.as_str()));
            prop_assert_eq!(i, inner(&r));
        }
    }
}
