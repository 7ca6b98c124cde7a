//! Authentication: turns the credential a request carries into a [`Principal`]. Every route
//! resolves its caller here; nothing else reads tokens or keys.

use crate::{Control, internal};
use berth_model::{
    Error,
    deploy_key::{self, KeyShape, ParsedKey},
    token,
};
use berth_store::{DeployKeyRecord, KeyKind, User};

/// A deploy key that authenticated, with what it names.
#[derive(Debug, Clone)]
pub struct KeyPrincipal {
    pub key: DeployKeyRecord,
    /// The key without its secret (`dev:happy-otter-123|…`), for messages.
    pub shown: String,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person, through their access token.
    Member(User),
    /// A deployment key: everything on one deployment, nothing else.
    DeploymentKey(KeyPrincipal),
    /// A preview deploy key: the preview deployments of one project, nothing else.
    PreviewKey(KeyPrincipal),
}

impl Principal {
    /// How the caller is named in audit events and as a deployment's creator.
    pub fn actor(&self) -> String {
        match self {
            Principal::Member(u) => u.username.clone(),
            Principal::DeploymentKey(k) | Principal::PreviewKey(k) => {
                format!("deploy key '{}'", k.key.name)
            }
        }
    }

    /// The person behind a member credential; a deploy key is refused with a 403 that says
    /// `what` needs a member's login.
    pub fn member(&self, what: &str) -> Result<&User, Error> {
        match self {
            Principal::Member(u) => Ok(u),
            Principal::DeploymentKey(k) | Principal::PreviewKey(k) => {
                Err(Error::forbidden(format!(
                    "{} is a deploy key and cannot {what}; that needs a member's access token (`berth login`)",
                    k.shown
                )))
            }
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        match self {
            Principal::Member(u) => Some(u.id),
            _ => None,
        }
    }
}

/// Splits an `Authorization` header value into its credential: `Bearer <t>` or `Convex <t>`.
pub fn credential_from_header(value: &str) -> Result<&str, Error> {
    let value = value.trim();
    let token = value.split_once(' ').and_then(|(scheme, rest)| {
        (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("convex"))
            .then(|| rest.trim())
    });
    let token = token.filter(|t| !t.is_empty());
    token.ok_or_else(|| {
        Error::unauthenticated(
            "the Authorization header must be 'Bearer <access token or deploy key>'; log in with `berth login`",
        )
    })
}

/// Failed authentications allowed per source address in one window.
pub const MAX_AUTH_FAILURES: u32 = 20;
/// The window, in milliseconds.
pub const AUTH_FAILURE_WINDOW_MS: i64 = 60_000;

/// Failed authentications per source address, to slow down guessing: after
/// [`MAX_AUTH_FAILURES`] in a window, the source is refused (429) whatever it sends until the
/// window ends. Guessing a 256-bit secret is hopeless anyway; this keeps floods of bad
/// credentials from costing lookups and filling logs.
#[derive(Default)]
pub struct AuthFailures {
    by_source: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, (i64, u32)>>,
}

impl AuthFailures {
    /// Refuses a source that has failed too often in the current window.
    pub fn check(&self, source: std::net::IpAddr, now: i64) -> Result<(), Error> {
        let Ok(map) = self.by_source.lock() else {
            return Ok(());
        };
        match map.get(&source) {
            Some((start, count))
                if *count >= MAX_AUTH_FAILURES && now - start < AUTH_FAILURE_WINDOW_MS =>
            {
                let wait = (start + AUTH_FAILURE_WINDOW_MS - now + 999) / 1000;
                Err(Error::new(
                    berth_model::ErrorKind::RateLimited,
                    "TooManyAuthFailures",
                    format!(
                        "{MAX_AUTH_FAILURES} failed authentications from {source} in the last minute; wait {wait} s, then use a valid access token or deploy key"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failure of `source`.
    pub fn record(&self, source: std::net::IpAddr, now: i64) {
        let Ok(mut map) = self.by_source.lock() else {
            return;
        };
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now - *start < AUTH_FAILURE_WINDOW_MS);
        }
        let entry = map.entry(source).or_insert((now, 0));
        if now - entry.0 >= AUTH_FAILURE_WINDOW_MS {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

fn invalid_token() -> Error {
    Error::unauthenticated(
        "the access token is not valid (revoked, mistyped or from another server); log in again with `berth login`",
    )
}

impl Control {
    /// [`Control::authenticate`], for a request from `source`: refused at once while the source
    /// has failed too often, and every 401 counted against it.
    pub async fn authenticate_from(
        &self,
        source: Option<std::net::IpAddr>,
        credential: &str,
    ) -> Result<Principal, Error> {
        let now = self.now();
        if let Some(ip) = source {
            self.auth_failures.check(ip, now)?;
        }
        let result = self.authenticate(credential).await;
        if let (Some(ip), Err(e)) = (source, &result)
            && e.kind == berth_model::ErrorKind::Unauthenticated
        {
            self.auth_failures.record(ip, now);
        }
        result
    }

    /// Resolves a credential to its principal, or a 401 that says why.
    pub async fn authenticate(&self, credential: &str) -> Result<Principal, Error> {
        if credential.starts_with(token::ACCESS_TOKEN_PREFIX) {
            return self.authenticate_member(credential).await;
        }
        match deploy_key::parse(credential) {
            KeyShape::Key(ParsedKey::Deployment {
                deployment_type,
                name,
                secret,
            }) if secret.starts_with(token::ACCESS_TOKEN_PREFIX) => {
                self.authenticate_member_key(deployment_type, &name, &secret)
                    .await
            }
            KeyShape::Key(k) => self.authenticate_key(&k).await,
            KeyShape::MissingSecret(prefix) => Err(deploy_key::missing_secret_error(&prefix)),
            KeyShape::NotAKey => Err(invalid_token()),
        }
    }

    /// `<type>:<name>|<access token>`: the key `/api/deployment/authorize_*` hands a member for
    /// Convex's CLI. It acts as the member, and only while the named deployment is theirs to see.
    async fn authenticate_member_key(
        &self,
        deployment_type: berth_model::DeploymentType,
        name: &str,
        access_token: &str,
    ) -> Result<Principal, Error> {
        let member = self.authenticate_member(access_token).await?;
        let a = self.deployment_access(&member, name).await?;
        if a.deployment.deployment_type != deployment_type {
            return Err(Error::unauthenticated(format!(
                "the key names a {deployment_type} deployment '{name}', but '{name}' is a {} deployment; run the CLI's command again to get a fresh key",
                a.deployment.deployment_type
            )));
        }
        Ok(member)
    }

    async fn authenticate_member(&self, credential: &str) -> Result<Principal, Error> {
        let found = self
            .store
            .access_token_by_hash(&token::hash(credential))
            .await
            .map_err(internal("look up access token"))?;
        let Some((tok, user)) = found.filter(|(t, _)| token::verify(credential, &t.token_hash))
        else {
            return Err(invalid_token());
        };
        let now = self.now();
        if tok.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::unauthenticated(
                "the access token has expired; log in again with `berth login`",
            ));
        }
        if self.should_touch(false, tok.id, now) {
            self.store
                .touch_access_token(tok.id, now)
                .await
                .map_err(internal("record token use"))?;
        }
        Ok(Principal::Member(user))
    }

    async fn authenticate_key(&self, k: &ParsedKey) -> Result<Principal, Error> {
        let shown = k.redacted();
        let invalid = || {
            Error::unauthenticated(format!(
                "the deploy key {shown} is not valid: it was revoked, its deployment was deleted, or it was mistyped; ask for a new one (`berth deployment token create` or `berth deploy-key create`)"
            ))
        };
        let record = self
            .store
            .deploy_key_by_hash(&token::hash(k.secret()))
            .await
            .map_err(internal("look up deploy key"))?
            .filter(|r| token::verify(k.secret(), &r.secret_hash))
            .ok_or_else(invalid)?;
        // The visible prefix must name what the key really opens.
        let matches = match (k, record.kind) {
            (
                ParsedKey::Deployment {
                    deployment_type,
                    name,
                    ..
                },
                KeyKind::Deployment,
            ) => match record.deployment_id {
                Some(id) => self
                    .deployment_record(name)
                    .await?
                    .is_some_and(|d| d.id == id && d.deployment_type == *deployment_type),
                None => false,
            },
            (ParsedKey::Preview { team, project, .. }, KeyKind::Preview) => {
                let t = self
                    .store
                    .team_by_id(record.team_id)
                    .await
                    .map_err(internal("look up team"))?;
                let p = self
                    .store
                    .project_by_id(record.project_id)
                    .await
                    .map_err(internal("look up project"))?;
                t.is_some_and(|t| &t.slug == team) && p.is_some_and(|p| &p.slug == project)
            }
            _ => false,
        };
        if !matches {
            return Err(invalid());
        }
        let now = self.now();
        if record.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::unauthenticated(format!(
                "the deploy key {shown} ('{}') has expired; ask for a new one",
                record.name
            )));
        }
        if self.should_touch(true, record.id, now) {
            self.store
                .touch_deploy_key(record.id, now)
                .await
                .map_err(internal("record key use"))?;
        }
        let kp = KeyPrincipal { key: record, shown };
        Ok(match kp.key.kind {
            KeyKind::Deployment => Principal::DeploymentKey(kp),
            KeyKind::Preview => Principal::PreviewKey(kp),
        })
    }

    /// The caller's identity (`GET /v1/me`): a member with their teams, or a deploy key with
    /// what it opens.
    pub async fn me(&self, p: &Principal) -> Result<berth_api::Me, Error> {
        match p {
            Principal::Member(user) => {
                let mut teams = Vec::new();
                for t in self
                    .store
                    .list_teams(Some(user.id))
                    .await
                    .map_err(internal("list teams"))?
                {
                    if let Some(role) = self
                        .store
                        .membership(t.id, user.id)
                        .await
                        .map_err(internal("read membership"))?
                    {
                        teams.push(berth_api::TeamRole { team: t.slug, role });
                    }
                }
                Ok(berth_api::Me {
                    username: user.username.clone(),
                    server_admin: user.server_admin,
                    teams,
                    deploy_key: None,
                })
            }
            Principal::DeploymentKey(k) | Principal::PreviewKey(k) => Ok(berth_api::Me {
                username: p.actor(),
                server_admin: false,
                teams: vec![],
                deploy_key: Some(k.shown.clone()),
            }),
        }
    }
}
