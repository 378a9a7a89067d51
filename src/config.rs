//! Typed settings, read from the Worker's vars and secrets. The shell parses them
//! once per isolate and keeps the result (see `cloudflare::load_config`).
//!
//! Parsing is pure: [`Config::from_lookup`] takes a function that returns the raw
//! value of a variable, so native tests can feed it any environment. Every bad or
//! missing setting becomes one [`ConfigError`] that names the variable and says how
//! to set it; nothing here panics.
//!
//! By subject: the server's own settings here; single-value parsers in
//! `values`; the client admission policy in `admission`; the upstream identity
//! provider's settings in `upstream` (also reachable as `crate::upstream::settings`).

use values::{list, optional_token, parse_origin, parse_public_url, seconds};

mod admission;
mod error;
pub mod upstream;
mod values;

pub use crate::secret::Secret;
pub use error::ConfigError;
use error::{secret_hint, var_hint};
pub use upstream::{ProviderKind, UpstreamSettings};
pub use values::MIN_SECRET_LEN;

/// Everything the Worker needs to know about its deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// The public origin (`https://host`) when set; otherwise the origin of each
    /// request is used, which is right for workers.dev and for local development.
    pub public_url: Option<String>,
    pub provider: ProviderKind,
    /// Server-wide secret: signs cookies and is mixed into every key that wraps a
    /// grant's encryption key, so a KV dump alone never decrypts anything.
    pub secret_key: Secret,
    pub access_token_ttl: u64,
    pub refresh_token_ttl: u64,
    /// How long a dynamically registered client stays valid.
    pub client_ttl: u64,
    /// `MCP_CACHE_TTL`: how long an isolate trusts an access token it accepted
    /// and a session it used at `/mcp` without reading storage again (0: never),
    /// so how late a revocation or a session's end can reach other isolates.
    pub mcp_cache_ttl: u64,
    /// `MCP_CONFORMANCE=on`: the MCP conformance suite's fixtures (tools, resources and
    /// prompts named `test_*`, `test://...`) are listed and callable. Off by default.
    pub mcp_conformance: bool,
    /// Origins allowed to call /mcp from a browser, besides our own.
    pub allowed_origins: Vec<String>,
    /// When non-empty, only these users (login or email, ASCII case-insensitive) may sign in.
    pub allowed_users: Vec<String>,
    /// Optional static bearer token for scripts.
    pub auth_token: Option<Secret>,
    /// `ADMIN_TOKEN`: enables the admin API and lets its holder introspect any
    /// token. Unset: the admin routes answer 404.
    pub admin_token: Option<Secret>,
    /// `SECRET_KEY` and, during a rotation, `SECRET_KEY_PREVIOUS`: values made
    /// with either are accepted, new ones are made with `SECRET_KEY`.
    pub keyring: crate::oauth::crypto::Keyring,
    /// Absolute lifetime of a grant, however often it is refreshed.
    pub grant_max_lifetime: u64,
    /// `CLIENT_POLICY`, `ALLOWED_CLIENTS`, `REGISTRATION`: which clients may
    /// connect (see `oauth::policy`).
    pub admission: crate::oauth::policy::Admission,
    /// The settings of `provider` (`None` for the development provider), parsed
    /// with the rest. An error here is kept rather than refusing the whole
    /// configuration: metadata, `/mcp` and everything but signing in still
    /// work, while `/health` and each sign-in say which variable is wrong.
    pub upstream: Result<Option<UpstreamSettings>, ConfigError>,
}

/// Longest `ACCESS_TOKEN_TTL`: 30 days (README "Long-lived access tokens").
pub const MAX_ACCESS_TOKEN_TTL: u64 = 30 * 86_400;

impl Config {
    /// Reads every setting through `lookup`, which returns a variable's raw value
    /// or `None` when it is absent. Empty values count as absent.
    pub fn from_lookup<F>(lookup: F) -> Result<Config, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let public_url = match get("PUBLIC_URL") {
            None => None,
            Some(raw) => Some(parse_public_url(&raw)?),
        };

        let provider = match get("UPSTREAM_PROVIDER").as_deref() {
            None => {
                return Err(ConfigError::Missing {
                    name: "UPSTREAM_PROVIDER",
                    hint: format!(
                        "Choose one of dev, github, google, oidc. {}",
                        var_hint("UPSTREAM_PROVIDER")
                    ),
                })
            }
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "dev" => ProviderKind::Dev,
                "github" => ProviderKind::GitHub,
                "google" => ProviderKind::Google,
                "oidc" => ProviderKind::Oidc,
                other => {
                    return Err(ConfigError::Invalid {
                        name: "UPSTREAM_PROVIDER",
                        reason: format!("'{other}' is not a known provider"),
                        hint: "Choose one of dev, github, google, oidc.".into(),
                    })
                }
            },
        };

        let secret_key = match get("SECRET_KEY") {
            None => {
                return Err(ConfigError::Missing {
                    name: "SECRET_KEY",
                    hint: format!(
                        "Generate one with `openssl rand -hex 32`. {}",
                        secret_hint("SECRET_KEY")
                    ),
                })
            }
            Some(v) if v.chars().count() < MIN_SECRET_LEN => {
                return Err(ConfigError::Invalid {
                    name: "SECRET_KEY",
                    reason: format!(
                        "it has {} characters; at least {MIN_SECRET_LEN} are required",
                        v.chars().count()
                    ),
                    hint: format!(
                        "Generate one with `openssl rand -hex 32`. {}",
                        secret_hint("SECRET_KEY")
                    ),
                })
            }
            Some(v) => Secret::new(v),
        };

        let secret_key_previous = match get("SECRET_KEY_PREVIOUS") {
            None => None,
            Some(v) if v.chars().count() < MIN_SECRET_LEN => {
                return Err(ConfigError::Invalid {
                    name: "SECRET_KEY_PREVIOUS",
                    reason: format!(
                        "it has {} characters; at least {MIN_SECRET_LEN} are required",
                        v.chars().count()
                    ),
                    hint: format!(
                    "Set it to the SECRET_KEY you are rotating away from, or leave it unset. {}",
                    secret_hint("SECRET_KEY_PREVIOUS")
                ),
                })
            }
            Some(v) => Some(v),
        };
        let keyring =
            crate::oauth::crypto::Keyring::new(secret_key.expose(), secret_key_previous.as_deref());

        let access_token_ttl = seconds(&get, "ACCESS_TOKEN_TTL", 3600, 60, MAX_ACCESS_TOKEN_TTL)?;
        let refresh_token_ttl =
            seconds(&get, "REFRESH_TOKEN_TTL", 30 * 86_400, 3600, 365 * 86_400)?;
        let client_ttl = seconds(&get, "CLIENT_TTL", 90 * 86_400, 3600, 3650 * 86_400)?;
        let mcp_cache_ttl = seconds(&get, "MCP_CACHE_TTL", 5, 0, 60)?;
        let mcp_conformance =
            match get("MCP_CONFORMANCE").as_deref().map(str::trim) {
                None | Some("") | Some("off") => false,
                Some("on") => true,
                Some(other) => return Err(ConfigError::Invalid {
                    name: "MCP_CONFORMANCE",
                    reason: format!("{other:?} is neither on nor off"),
                    hint: "Set MCP_CONFORMANCE=on only to run the MCP conformance suite; leave it \
                           unset (off) in production."
                        .into(),
                }),
            };
        let grant_max_lifetime =
            seconds(&get, "GRANT_MAX_LIFETIME", 90 * 86_400, 3600, 3650 * 86_400)?;

        let allowed_origins = list(get("ALLOWED_ORIGINS"))
            .into_iter()
            .map(|o| {
                parse_origin(&o).map_err(|reason| ConfigError::Invalid {
                    name: "ALLOWED_ORIGINS",
                    reason,
                    hint: "Give a comma-separated list of origins such as https://example.com."
                        .into(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let allowed_users = list(get("ALLOWED_USERS"))
            .into_iter()
            .map(|u| u.to_ascii_lowercase())
            .collect();
        let auth_token = optional_token("AUTH_TOKEN", get("AUTH_TOKEN"))?;
        // Enables the admin API; unset, its routes answer 404.
        let admin_token = optional_token("ADMIN_TOKEN", get("ADMIN_TOKEN"))?;

        let admission = admission::admission(&get)?;
        let upstream = upstream::settings_for(provider, &lookup);

        Ok(Config {
            admission,
            public_url,
            provider,
            secret_key,
            access_token_ttl,
            refresh_token_ttl,
            client_ttl,
            mcp_cache_ttl,
            mcp_conformance,
            allowed_origins,
            allowed_users,
            auth_token,
            admin_token,
            keyring,
            grant_max_lifetime,
            upstream,
        })
    }
}

#[cfg(test)]
mod tests;
