//! Secrets: generated from the OS random source (256 bits), shown once, stored as SHA-256
//! hashes, compared in constant time. A [`Secret`] never prints itself in `Debug`.

use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Member access tokens start with this, so that they are recognisable in a config file and
/// by secret scanners.
pub const ACCESS_TOKEN_PREFIX: &str = "berth_at_";

/// A secret held in memory; `Debug` shows only that it is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// 256 random bits from the OS, base64url without padding (43 characters).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is not something a server can recover from.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the OS random source is unavailable");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh member access token.
pub fn new_access_token() -> Secret {
    Secret(format!("{ACCESS_TOKEN_PREFIX}{}", random_secret()))
}

/// The stored form of a secret: lowercase hex SHA-256.
pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `secret` hashes to `stored`, compared in constant time.
pub fn verify(secret: &str, stored: &str) -> bool {
    hash(secret).as_bytes().ct_eq(stored.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_verify() {
        let a = new_access_token();
        let b = new_access_token();
        assert_ne!(a, b);
        assert!(a.expose().starts_with(ACCESS_TOKEN_PREFIX));
        assert_eq!(a.expose().len(), ACCESS_TOKEN_PREFIX.len() + 43);
        let h = hash(a.expose());
        assert!(verify(a.expose(), &h));
        assert!(!verify(b.expose(), &h));
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
