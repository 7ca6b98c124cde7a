//! The management API client: finds the server and the credential, sends JSON, and turns the
//! server's `{"code", "message"}` answers into [`CliError`]s.

use crate::{
    args::Global,
    config,
    error::{CliError, CliResult},
};
use berth_model::deploy_key::{KeyShape, ParsedKey};
use serde::{Serialize, de::DeserializeOwned};

pub struct Client {
    http: reqwest::Client,
    pub base: String,
    token: Option<String>,
}

/// The deploy key in `CONVEX_DEPLOY_KEY`: the process environment, then `.env.local`, then `.env`.
/// A key whose secret was lost (`dev:happy-otter-123` alone) is an error that says so.
pub fn deploy_key() -> CliResult<Option<ParsedKey>> {
    let raw = std::env::var("CONVEX_DEPLOY_KEY")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| dotenv_value(".env.local", "CONVEX_DEPLOY_KEY"))
        .or_else(|| dotenv_value(".env", "CONVEX_DEPLOY_KEY"));
    let Some(raw) = raw else { return Ok(None) };
    match berth_model::deploy_key::parse(&raw) {
        KeyShape::Key(k) => Ok(Some(k)),
        KeyShape::MissingSecret(prefix) => Err(CliError::usage(format!(
            "CONVEX_DEPLOY_KEY: {}",
            berth_model::deploy_key::missing_secret_error(&prefix).message
        ))),
        KeyShape::NotAKey => Err(CliError::usage(
            "CONVEX_DEPLOY_KEY does not hold a deploy key (expected '<type>:<deployment>|<secret>' or 'preview:<team>:<project>|<secret>'); fix or remove it",
        )),
    }
}

fn raw_key(k: &ParsedKey) -> String {
    match k {
        ParsedKey::Deployment {
            deployment_type,
            name,
            secret,
        } => format!("{deployment_type}:{name}|{secret}"),
        ParsedKey::Preview {
            team,
            project,
            secret,
        } => format!("preview:{team}:{project}|{secret}"),
    }
}

/// Reads `KEY` from a dotenv file in the current folder, if present.
pub fn dotenv_value(file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    berth_model::envfile::get(&text, key)
}

/// The server's URL: `--url`, else `BERTH_URL` (environment, then `.env.local`), else the login.
pub fn server_url(global: &Global, login: Option<&config::Config>) -> CliResult<String> {
    let url = global
        .url
        .clone()
        .or_else(|| std::env::var("BERTH_URL").ok().filter(|s| !s.is_empty()))
        .or_else(|| dotenv_value(".env.local", "BERTH_URL"))
        .or_else(|| login.and_then(|c| c.url.clone()));
    let url = url.map(|u| u.trim().trim_end_matches('/').to_string()).ok_or_else(|| {
        CliError::usage(
            "no berth server to talk to: pass --url, set BERTH_URL, or log in with `berth login --url <server>`",
        )
    })?;
    check_url(&url)?;
    Ok(url)
}

/// The CLI speaks plain HTTP: refuse what it cannot reach, saying why.
fn check_url(url: &str) -> CliResult {
    if url.starts_with("https://") {
        return Err(CliError::usage(format!(
            "{url}: this berth CLI speaks plain HTTP only; use the server's http:// address (see docs/DECISIONS.md)"
        )));
    }
    if !url.starts_with("http://") || url.len() <= "http://".len() {
        return Err(CliError::usage(format!(
            "'{url}' is not a server URL; write it with its scheme, e.g. http://{url}"
        )));
    }
    Ok(())
}

impl Client {
    pub fn new(base: String, token: Option<String>) -> CliResult<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("berth-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::failed(format!("set up the HTTP client: {e}")))?;
        Ok(Self { http, base, token })
    }

    /// A client with the caller's credential (PRODUCT §6): a deployment key in
    /// `CONVEX_DEPLOY_KEY` wins over the login (`BERTH_ACCESS_TOKEN`, else the saved login); a
    /// preview deploy key is used when there is no login.
    pub fn from_login(global: &Global) -> CliResult<Self> {
        Self::connect(global, false)
    }

    /// Like [`from_login`](Self::from_login), for commands only a member may run (keys, teams,
    /// members, projects): the login wins over a deploy key in the folder.
    pub fn for_member(global: &Global) -> CliResult<Self> {
        Self::connect(global, true)
    }

    fn connect(global: &Global, member_first: bool) -> CliResult<Self> {
        let login = config::load()?;
        let base = server_url(global, login.as_ref())?;
        let from_env = std::env::var("BERTH_ACCESS_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        let key = deploy_key()?;
        let key_wins = !member_first && matches!(key, Some(ParsedKey::Deployment { .. }));
        let saved = match login {
            // The saved token goes only to the server it was issued by.
            Some(c) if from_env.is_none() && !key_wins => match (&c.url, c.access_token) {
                (Some(u), Some(t)) if u.trim_end_matches('/') == base => Some(t),
                (Some(_), Some(_)) if key.is_some() => None,
                (Some(u), Some(_)) => {
                    return Err(CliError::usage(format!(
                        "your login is for {u}, but this command targets {base} (from --url, BERTH_URL or .env.local); log in there with `berth login --url {base}` or set BERTH_ACCESS_TOKEN"
                    )));
                }
                (None, t) => t,
                (_, None) => None,
            },
            _ => None,
        };
        let member = from_env.or(saved);
        let token = match (key, member) {
            (Some(_), Some(m)) if member_first => Some(m),
            (Some(k @ ParsedKey::Deployment { .. }), _) => Some(raw_key(&k)),
            (Some(k @ ParsedKey::Preview { .. }), None) => Some(raw_key(&k)),
            (_, Some(m)) => Some(m),
            (None, None) => None,
        };
        if token.is_none() {
            return Err(CliError::usage(
                "you are not logged in: run `berth login --url <server> --token <access token>`, set BERTH_ACCESS_TOKEN, or put a deploy key in CONVEX_DEPLOY_KEY",
            ));
        }
        Self::new(base, token)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> CliResult<T> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> CliResult<T> {
        self.send(self.http.patch(format!("{}{path}", self.base)).json(body))
            .await
    }

    async fn send<T: DeserializeOwned>(&self, mut req: reqwest::RequestBuilder) -> CliResult<T> {
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| {
            CliError::failed(format!(
                "could not reach the berth server at {} ({}); is `berth serve` running there?",
                self.base,
                root_cause(&e)
            ))
        })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| CliError::failed(format!("read the answer from {}: {e}", self.base)))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                CliError::failed(format!(
                    "the server at {} answered something this CLI does not understand ({e}); are the CLI and server the same version?",
                    self.base
                ))
            });
        }
        match serde_json::from_slice::<berth_api::ErrorBody>(&bytes) {
            Ok(body) => Err(CliError::Api {
                status: status.as_u16(),
                code: body.code,
                message: body.message,
            }),
            Err(_) => Err(CliError::failed(format!(
                "the server at {} answered HTTP {status} without an error body; is it a berth server?",
                self.base
            ))),
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
