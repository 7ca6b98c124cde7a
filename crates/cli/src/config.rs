//! The CLI's login: `$BERTH_HOME/config.json` (default `~/.berth`), mode 0600.

use crate::error::{CliError, CliResult};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a login stores. `accessToken` is the same key Convex's CLI uses.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("username", &self.username)
            .finish()
    }
}

/// `$BERTH_HOME`, else `~/.berth`.
pub fn berth_home() -> PathBuf {
    if let Some(h) = std::env::var_os("BERTH_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".berth")
}

pub fn config_path() -> PathBuf {
    berth_home().join("config.json")
}

/// The saved login, if any.
pub fn load() -> CliResult<Option<Config>> {
    let path = config_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            CliError::failed(format!(
                "{} is not valid JSON ({e}); fix it or run `berth logout` and log in again",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::failed(format!("read {}: {e}", path.display()))),
    }
}

/// Saves the login with mode 0600, creating `$BERTH_HOME` (mode 0700).
pub fn save(config: &Config) -> CliResult<PathBuf> {
    let path = config_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::failed(format!("create {}: {e}", dir.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    let text = serde_json::to_string_pretty(config)
        .map_err(|e| CliError::failed(format!("encode the login: {e}")))?;
    berth_control::bootstrap::write_private_file(&path, &format!("{text}\n"))
        .map_err(|e| CliError::failed(format!("write {}: {e}", path.display())))?;
    Ok(path)
}

/// Removes the saved login; true when there was one.
pub fn remove() -> CliResult<bool> {
    let path = config_path();
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CliError::failed(format!("remove {}: {e}", path.display()))),
    }
}
