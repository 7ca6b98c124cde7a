//! Authentication: turns the credential a request carries into a [`Principal`]. Every route
//! resolves its caller here; nothing else reads tokens.

use crate::{Control, internal};
use berth_model::{Error, token};
use berth_store::User;

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person, through their access token.
    Member(User),
}

impl Principal {
    /// How the caller is named in audit events.
    pub fn actor(&self) -> String {
        match self {
            Principal::Member(u) => u.username.clone(),
        }
    }
}

/// Splits an `Authorization` header value into its credential: `Bearer <t>` or `Convex <t>`.
pub fn credential_from_header(value: &str) -> Result<&str, Error> {
    let value = value.trim();
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("Convex "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    token.ok_or_else(|| {
        Error::unauthenticated(
            "the Authorization header must be 'Bearer <access token>'; log in with `berth login`",
        )
    })
}

impl Control {
    /// Resolves a credential to its principal, or a 401 that says why.
    pub async fn authenticate(&self, credential: &str) -> Result<Principal, Error> {
        let hash = token::hash(credential);
        let found = self
            .store
            .access_token_by_hash(&hash)
            .await
            .map_err(internal("look up access token"))?;
        let Some((tok, user)) = found.filter(|(t, _)| token::verify(credential, &t.token_hash))
        else {
            return Err(Error::unauthenticated(
                "the access token is not valid (revoked, mistyped or from another server); log in again with `berth login`",
            ));
        };
        let now = self.now();
        if tok.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::unauthenticated(
                "the access token has expired; log in again with `berth login`",
            ));
        }
        self.store
            .touch_access_token(tok.id, now)
            .await
            .map_err(internal("record token use"))?;
        Ok(Principal::Member(user))
    }

    /// The caller's identity and teams (`GET /v1/me`).
    pub async fn me(&self, p: &Principal) -> Result<berth_api::Me, Error> {
        let Principal::Member(user) = p;
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
        })
    }
}
