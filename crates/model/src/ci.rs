//! What a CI environment says about a build (PRODUCT §8): the branch a preview is for, the
//! platform and commit for the default deploy message, and whether it is a production build.

/// The branch from the CI environment, in PRODUCT §8's order. `get` reads one variable.
pub fn branch(get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let set = |k: &str| get(k).is_some_and(|v| !v.is_empty());
    let val = |k: &str| get(k).filter(|v| !v.is_empty());
    if set("VERCEL") {
        return val("VERCEL_GIT_COMMIT_REF");
    }
    if set("NETLIFY") {
        return val("HEAD");
    }
    if set("CF_PAGES") || set("WORKERS_CI") {
        return val("CF_PAGES_BRANCH").or_else(|| val("WORKERS_CI_BRANCH"));
    }
    if set("CI") {
        return val("GITHUB_HEAD_REF").or_else(|| val("CI_COMMIT_REF_NAME"));
    }
    None
}

/// The CI platform running this build.
pub fn platform(get: &dyn Fn(&str) -> Option<String>) -> Option<&'static str> {
    let set = |k: &str| get(k).is_some_and(|v| !v.is_empty());
    [
        ("GITHUB_ACTIONS", "GitHub Actions"),
        ("VERCEL", "Vercel"),
        ("NETLIFY", "Netlify"),
        ("CF_PAGES", "Cloudflare Pages"),
        ("WORKERS_CI", "Cloudflare Workers"),
        ("GITLAB_CI", "GitLab CI"),
        ("CIRCLECI", "CircleCI"),
        ("BUILDKITE", "Buildkite"),
    ]
    .into_iter()
    .find(|(k, _)| set(k))
    .map(|(_, name)| name)
    .or_else(|| set("CI").then_some("CI"))
}

/// The commit being built, shortened to 7 characters.
pub fn short_sha(get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    [
        "GITHUB_SHA",
        "VERCEL_GIT_COMMIT_SHA",
        "COMMIT_REF",
        "CF_PAGES_COMMIT_SHA",
        "WORKERS_CI_COMMIT_SHA",
        "CI_COMMIT_SHA",
    ]
    .into_iter()
    .find_map(|k| get(k).filter(|v| !v.is_empty()))
    .map(|s| s.chars().take(7).collect())
}

/// `Deployed from <platform> • <short sha>`, as far as the environment tells.
pub fn default_message(get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let platform = platform(get)?;
    Some(match short_sha(get) {
        Some(sha) => format!("Deployed from {platform} • {sha}"),
        None => format!("Deployed from {platform}"),
    })
}

/// Why this is not a production build, when the environment says so.
pub fn non_production_build(get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let val = |k: &str| get(k).unwrap_or_default();
    if !val("VERCEL").is_empty()
        && !val("VERCEL_ENV").is_empty()
        && val("VERCEL_ENV") != "production"
    {
        return Some(format!("VERCEL_ENV={}", val("VERCEL_ENV")));
    }
    if !val("NETLIFY").is_empty() && !val("CONTEXT").is_empty() && val("CONTEXT") != "production" {
        return Some(format!("CONTEXT={}", val("CONTEXT")));
    }
    if !val("GITHUB_HEAD_REF").is_empty() {
        return Some(format!(
            "a GitHub pull request build (GITHUB_HEAD_REF={})",
            val("GITHUB_HEAD_REF")
        ));
    }
    if val("GITHUB_EVENT_NAME") == "pull_request" {
        return Some("a GitHub pull request build (GITHUB_EVENT_NAME=pull_request)".into());
    }
    if !val("CI_MERGE_REQUEST_IID").is_empty() {
        return Some(format!(
            "a GitLab merge request build (CI_MERGE_REQUEST_IID={})",
            val("CI_MERGE_REQUEST_IID")
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn branches_in_the_documented_order() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: &[Case] = &[
            (
                &[
                    ("VERCEL", "1"),
                    ("VERCEL_GIT_COMMIT_REF", "feat/v"),
                    ("CI", "1"),
                    ("GITHUB_HEAD_REF", "gh"),
                ],
                Some("feat/v"),
            ),
            (&[("NETLIFY", "true"), ("HEAD", "feat/n")], Some("feat/n")),
            (
                &[("CF_PAGES", "1"), ("CF_PAGES_BRANCH", "feat/cf")],
                Some("feat/cf"),
            ),
            (
                &[("WORKERS_CI", "1"), ("WORKERS_CI_BRANCH", "feat/w")],
                Some("feat/w"),
            ),
            (
                &[("CI", "true"), ("GITHUB_HEAD_REF", "feat/gh")],
                Some("feat/gh"),
            ),
            (
                &[("CI", "true"), ("CI_COMMIT_REF_NAME", "feat/gl")],
                Some("feat/gl"),
            ),
            (&[("GITHUB_HEAD_REF", "no-ci-flag")], None),
            (&[], None),
        ];
        for (vars, want) in cases {
            assert_eq!(branch(&env(vars)).as_deref(), *want, "{vars:?}");
        }
    }

    #[test]
    fn messages_and_production_builds() {
        let gh = env(&[
            ("CI", "true"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", "1a2b3c4d5e6f"),
        ]);
        assert_eq!(
            default_message(&gh).as_deref(),
            Some("Deployed from GitHub Actions • 1a2b3c4")
        );
        assert_eq!(default_message(&env(&[])), None);
        assert!(
            non_production_build(&env(&[("VERCEL", "1"), ("VERCEL_ENV", "preview")])).is_some()
        );
        assert!(
            non_production_build(&env(&[("VERCEL", "1"), ("VERCEL_ENV", "production")])).is_none()
        );
        assert!(
            non_production_build(&env(&[("NETLIFY", "true"), ("CONTEXT", "deploy-preview")]))
                .is_some()
        );
        assert!(non_production_build(&env(&[("GITHUB_HEAD_REF", "feat")])).is_some());
        assert!(non_production_build(&env(&[("GITHUB_EVENT_NAME", "push")])).is_none());
    }
}
