//! The first start (PRODUCT §5): team `default`, project `default`, server admin `admin`, and the
//! admin's token in `<data-dir>/admin-token` (mode 0600). Later starts reuse all of it. If the
//! token file was lost (or this is another server on a shared database), a new admin token is
//! issued beside the existing ones and written there.

use crate::Control;
use berth_model::token::{self, Secret};
use berth_store::Bootstrap;
use std::{io::Write, path::Path};

pub const ADMIN_USERNAME: &str = "admin";
pub const DEFAULT_TEAM: &str = "default";
pub const DEFAULT_PROJECT: &str = "default";
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
const ADMIN_TOKEN_NAME: &str = "admin-token";

/// What bootstrapping found or did.
#[derive(Debug)]
pub struct Bootstrapped {
    /// The admin's access token, as kept in the token file.
    pub admin_token: Secret,
    /// True on the very first start of this data directory.
    pub first_start: bool,
    /// True when the token file was missing or stale and a new admin token was issued.
    pub token_reissued: bool,
}

/// Writes `contents` to `path` with mode 0600, atomically (write a sibling, then rename).
pub fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    #[cfg(unix)]
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    std::fs::rename(&tmp, path)
}

impl Control {
    /// Creates the first team, project and admin once; on later starts checks that the admin
    /// token file still holds a valid token, issuing a new one if not.
    pub async fn bootstrap(&self, data_dir: &Path) -> Result<Bootstrapped, String> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| format!("create {}: {e}", data_dir.display()))?;
        let token_path = data_dir.join(ADMIN_TOKEN_FILE);
        let fresh = token::new_access_token();
        let first_start = self
            .store
            .bootstrap(&Bootstrap {
                admin_username: ADMIN_USERNAME.into(),
                admin_token_hash: token::hash(fresh.expose()),
                team_slug: DEFAULT_TEAM.into(),
                project_slug: DEFAULT_PROJECT.into(),
                plan: self.config.default_plan,
                now: self.now(),
            })
            .await
            .map_err(|e| format!("create the first team, project and admin: {e}"))?;
        if first_start {
            write_private_file(&token_path, &format!("{}\n", fresh.expose()))
                .map_err(|e| format!("write {}: {e}", token_path.display()))?;
            return Ok(Bootstrapped {
                admin_token: fresh,
                first_start,
                token_reissued: false,
            });
        }
        if let Ok(text) = std::fs::read_to_string(&token_path) {
            let existing = Secret::new(text.trim());
            let valid = self
                .store
                .access_token_by_hash(&token::hash(existing.expose()))
                .await
                .map_err(|e| format!("check the admin token: {e}"))?
                .is_some();
            if valid {
                return Ok(Bootstrapped {
                    admin_token: existing,
                    first_start,
                    token_reissued: false,
                });
            }
        }
        let reset = self
            .store
            // Alone on its store, the server replaces the lost token; on a shared database each
            // server's token has its own name, so other servers keep theirs.
            .reset_tokens(
                ADMIN_USERNAME,
                &if self.store.single_writer() {
                    ADMIN_TOKEN_NAME.to_string()
                } else {
                    format!("{ADMIN_TOKEN_NAME}-{}", self.now())
                },
                &token::hash(fresh.expose()),
                self.now(),
            )
            .await
            .map_err(|e| format!("reissue the admin token: {e}"))?;
        if !reset {
            return Err(format!(
                "the user '{ADMIN_USERNAME}' is missing from this data directory"
            ));
        }
        write_private_file(&token_path, &format!("{}\n", fresh.expose()))
            .map_err(|e| format!("write {}: {e}", token_path.display()))?;
        tracing::warn!(path = %token_path.display(), "the admin token file was missing or stale; issued a new admin token");
        Ok(Bootstrapped {
            admin_token: fresh,
            first_start,
            token_reissued: true,
        })
    }
}
