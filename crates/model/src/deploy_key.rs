//! Deploy keys (PRODUCT §5): `<type>:<deployment-name>|<secret>` opens one deployment;
//! `preview:<team>:<project>|<secret>` opens the previews of one project. The part after `|` is
//! the secret; only its hash is stored.

use crate::{DeploymentType, Error, token};

/// What a credential string says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedKey {
    Deployment {
        deployment_type: DeploymentType,
        name: String,
        secret: String,
    },
    Preview {
        team: String,
        project: String,
        secret: String,
    },
}

impl ParsedKey {
    pub fn secret(&self) -> &str {
        match self {
            ParsedKey::Deployment { secret, .. } | ParsedKey::Preview { secret, .. } => secret,
        }
    }

    /// The key without its secret, safe to show: `dev:happy-otter-123|…`.
    pub fn redacted(&self) -> String {
        match self {
            ParsedKey::Deployment {
                deployment_type,
                name,
                ..
            } => format!("{deployment_type}:{name}|…"),
            ParsedKey::Preview { team, project, .. } => format!("preview:{team}:{project}|…"),
        }
    }
}

/// How a credential looks, before any lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyShape {
    Key(ParsedKey),
    /// `dev:happy-otter-123` with nothing after it: the `|secret` part was lost, usually to a
    /// shell that read `|` as a pipe.
    MissingSecret(String),
    /// Not a deploy key at all.
    NotAKey,
}

/// Classifies a credential string.
pub fn parse(credential: &str) -> KeyShape {
    let c = credential.trim();
    let (prefix, secret) = match c.split_once('|') {
        Some((p, s)) => (p, Some(s)),
        None => (c, None),
    };
    let parts: Vec<&str> = prefix.split(':').collect();
    let shaped = match parts.as_slice() {
        [ty, name] => {
            ty.parse::<DeploymentType>().is_ok()
                && crate::reference::looks_like_generated_name(name)
        }
        ["preview", team, project] => !team.is_empty() && !project.is_empty(),
        _ => false,
    };
    if !shaped {
        return KeyShape::NotAKey;
    }
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return KeyShape::MissingSecret(prefix.to_string());
    };
    match parts.as_slice() {
        [ty, name] => match ty.parse() {
            Ok(deployment_type) => KeyShape::Key(ParsedKey::Deployment {
                deployment_type,
                name: name.to_string(),
                secret: secret.to_string(),
            }),
            Err(_) => KeyShape::NotAKey,
        },
        [_, team, project] => KeyShape::Key(ParsedKey::Preview {
            team: team.to_string(),
            project: project.to_string(),
            secret: secret.to_string(),
        }),
        _ => KeyShape::NotAKey,
    }
}

/// The 401 for a key whose secret went missing.
pub fn missing_secret_error(prefix: &str) -> Error {
    Error::unauthenticated(format!(
        "'{prefix}' is a deploy key without its secret: the part after '|' is missing, most likely because a shell read '|' as a pipe; quote the whole key, e.g. CONVEX_DEPLOY_KEY='{prefix}|...'"
    ))
}

/// A fresh deployment key for `name` of type `ty`.
pub fn new_deployment_key(ty: DeploymentType, name: &str) -> token::Secret {
    token::Secret::new(format!("{ty}:{name}|{}", token::random_secret()))
}

/// A fresh preview deploy key for a project.
pub fn new_preview_key(team: &str, project: &str) -> token::Secret {
    token::Secret::new(format!(
        "preview:{team}:{project}|{}",
        token::random_secret()
    ))
}

/// Key names: 1 to 64 of letters, digits, `-`, `_`, `.`.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(
            "InvalidKeyName",
            format!("invalid key name '{name}': use 1 to 64 letters, digits, '-', '_' or '.'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shapes() {
        assert_eq!(
            parse("dev:happy-otter-123|abc"),
            KeyShape::Key(ParsedKey::Deployment {
                deployment_type: DeploymentType::Dev,
                name: "happy-otter-123".into(),
                secret: "abc".into()
            })
        );
        assert!(matches!(
            parse("prod:calm-cat-100|x"),
            KeyShape::Key(ParsedKey::Deployment {
                deployment_type: DeploymentType::Prod,
                ..
            })
        ));
        assert!(matches!(
            parse("preview:happy-otter-123|x"),
            KeyShape::Key(ParsedKey::Deployment {
                deployment_type: DeploymentType::Preview,
                ..
            })
        ));
        assert_eq!(
            parse("preview:acme:web|s3cret"),
            KeyShape::Key(ParsedKey::Preview {
                team: "acme".into(),
                project: "web".into(),
                secret: "s3cret".into()
            })
        );
        assert_eq!(
            parse("dev:happy-otter-123"),
            KeyShape::MissingSecret("dev:happy-otter-123".into())
        );
        assert_eq!(
            parse("dev:happy-otter-123|"),
            KeyShape::MissingSecret("dev:happy-otter-123".into())
        );
        assert_eq!(
            parse("preview:acme:web"),
            KeyShape::MissingSecret("preview:acme:web".into())
        );
        for not in [
            "berth_at_x",
            "garbage",
            "",
            "dev:notaname|x",
            "staging:happy-otter-1|x",
            "a:b:c:d|x",
        ] {
            assert_eq!(parse(not), KeyShape::NotAKey, "{not}");
        }
        let k = new_deployment_key(DeploymentType::Dev, "happy-otter-123");
        let KeyShape::Key(parsed) = parse(k.expose()) else {
            panic!()
        };
        assert_eq!(parsed.redacted(), "dev:happy-otter-123|…");
        assert_eq!(parsed.secret().len(), 43, "256 bits");
        assert!(
            missing_secret_error("dev:happy-otter-123")
                .message
                .contains("quote the whole key")
        );
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,80}") { let _ = parse(&s); }

        #[test]
        fn generated_keys_round_trip(team in "[a-z0-9-]{3,12}", project in "[a-z0-9-]{3,12}") {
            let k = new_preview_key(&team, &project);
            let KeyShape::Key(ParsedKey::Preview { team: t, project: p, secret }) = parse(k.expose()) else { panic!() };
            prop_assert_eq!((t, p), (team, project));
            prop_assert_eq!(secret.len(), 43);
        }
    }
}
