//! Typed settings, read from the Worker's vars and secrets. The shell parses them
//! once per isolate and keeps the result (see `cloudflare::load_config`).
//!
//! Parsing is pure: [`Config::from_lookup`] takes a function that returns the raw
//! value of a variable, so native tests can feed it any environment. Every bad or
//! missing setting becomes one [`ConfigError`] that names the variable and says how
//! to set it; nothing here panics.

use std::fmt;

/// The upstream identity provider that signs users in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// The built-in development sign-in page; only answers on loopback hosts.
    Dev,
    GitHub,
    Google,
    /// Any OpenID Connect provider, configured by its issuer URL.
    Oidc,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Dev => "dev",
            ProviderKind::GitHub => "github",
            ProviderKind::Google => "google",
            ProviderKind::Oidc => "oidc",
        }
    }
}

/// A secret string. `Debug` never prints it; the value is reached only through
/// [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

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
}

/// Longest `ACCESS_TOKEN_TTL`: 30 days (README "Long-lived access tokens").
pub const MAX_ACCESS_TOKEN_TTL: u64 = 30 * 86_400;

/// A setting is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set. {hint}")]
    Missing { name: &'static str, hint: String },
    #[error("{name} is invalid: {reason}. {hint}")]
    Invalid {
        name: &'static str,
        reason: String,
        hint: String,
    },
}

impl ConfigError {
    /// The variable this error is about.
    pub fn variable(&self) -> &'static str {
        match self {
            ConfigError::Missing { name, .. } | ConfigError::Invalid { name, .. } => name,
        }
    }
}

/// Shortest accepted `SECRET_KEY`, in characters (32 random characters carry well
/// over 128 bits even from a small alphabet).
pub const MIN_SECRET_LEN: usize = 32;

/// An optional bearer-token secret (`AUTH_TOKEN`, `ADMIN_TOKEN`): unset, or at
/// least [`MIN_SECRET_LEN`] characters.
fn optional_token(
    name: &'static str,
    value: Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) if v.chars().count() < MIN_SECRET_LEN => Err(ConfigError::Invalid {
            name,
            reason: format!("it is shorter than {MIN_SECRET_LEN} characters"),
            hint: format!(
                "Leave it unset or use `openssl rand -hex 32`. {}",
                secret_hint(name)
            ),
        }),
        Some(v) => Ok(Some(Secret::new(v))),
    }
}

fn secret_hint(name: &str) -> String {
    format!(
        "Set it with `npx wrangler secret put {name}` (locally: add it to .dev.vars, see .dev.vars.example)."
    )
}

fn var_hint(name: &str) -> String {
    format!("Set it under [vars] in wrangler.toml (locally: in .dev.vars, see .dev.vars.example); {name} is documented in .dev.vars.example.")
}

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

        let admission = admission(&get)?;

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
        })
    }
}

/// `CLIENT_POLICY`, `ALLOWED_CLIENTS` and `REGISTRATION`.
fn admission<G>(get: &G) -> Result<crate::oauth::policy::Admission, ConfigError>
where
    G: Fn(&str) -> Option<String>,
{
    use crate::oauth::policy::{Admission, ClientPattern, ClientPolicy};
    let policy = match get("CLIENT_POLICY").map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("open") => ClientPolicy::Open,
        Some("listed") => ClientPolicy::Listed,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "CLIENT_POLICY",
                reason: format!("'{other}' is not a policy"),
                hint: "Use open (every client may ask to connect, the default) or listed (metadata-document clients must match ALLOWED_CLIENTS).".into(),
            })
        }
    };
    let allowed_clients = list(get("ALLOWED_CLIENTS"))
        .iter()
        .map(|entry| {
            ClientPattern::parse(entry).map_err(|reason| ConfigError::Invalid {
                name: "ALLOWED_CLIENTS",
                reason,
                hint: "Give a comma-separated list of client_id URLs (https://claude.ai/oauth/claude-code-client-metadata) or patterns ending in /* (https://chatgpt.com/oauth/*, https://*.example.com/*).".into(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if policy == ClientPolicy::Open && !allowed_clients.is_empty() {
        return Err(ConfigError::Invalid {
            name: "ALLOWED_CLIENTS",
            reason: "it is set, but CLIENT_POLICY is open, so it would have no effect".into(),
            hint:
                "Set CLIENT_POLICY=listed to admit only these clients, or remove ALLOWED_CLIENTS."
                    .into(),
        });
    }
    let registration = match get("REGISTRATION")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("on") => true,
        Some("off") => false,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "REGISTRATION",
                reason: format!("'{other}' is neither on nor off"),
                hint: "Use on (dynamic client registration at /register, the default) or off."
                    .into(),
            })
        }
    };
    Ok(Admission {
        policy,
        allowed_clients,
        registration,
    })
}

fn list(raw: Option<String>) -> Vec<String> {
    raw.map(|r| {
        r.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

fn seconds<G>(
    get: &G,
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError>
where
    G: Fn(&str) -> Option<String>,
{
    let Some(raw) = get(name) else {
        return Ok(default);
    };
    let invalid = |reason: String| {
        ConfigError::Invalid {
        name,
        reason,
        hint: format!("Give a whole number of seconds between {min} and {max}, or leave it unset for {default}."),
    }
    };
    let value: u64 = raw
        .parse()
        .map_err(|_| invalid(format!("'{raw}' is not a whole number of seconds")))?;
    if value < min || value > max {
        return Err(invalid(format!("{value} is out of range")));
    }
    Ok(value)
}

/// `PUBLIC_URL` must be a bare origin: scheme and host (and port), nothing else,
/// because it becomes the OAuth `issuer`, which clients compare byte for byte.
fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    parse_origin(raw).map_err(|reason| ConfigError::Invalid {
        name: "PUBLIC_URL",
        reason,
        hint: "Use the origin users reach the Worker at, e.g. https://my-mcp.example.workers.dev (no path, no trailing slash), or leave it unset to use each request's origin.".into(),
    })
}

fn parse_origin(raw: &str) -> Result<String, String> {
    let uri = crate::urls::parse_strict(raw, &format!("'{raw}'"))
        .map_err(|_| format!("'{raw}' is not a URL"))?;
    let scheme = uri.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(format!("'{raw}' must start with https:// or http://"));
    }
    if uri.host_str().is_none_or(str::is_empty) {
        return Err(format!("'{raw}' has no host"));
    }
    if !uri.username().is_empty() || uri.password().is_some() {
        return Err(format!("'{raw}' must not contain credentials"));
    }
    if uri.path() != "/" || uri.query().is_some() || uri.fragment().is_some() {
        return Err(format!(
            "'{raw}' must be an origin without path, query or fragment"
        ));
    }
    // RFC 6454 serialisation: lowercase, default port left out, IDN as punycode.
    Ok(uri.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn minimal_development_settings_parse_with_defaults() {
        let c =
            Config::from_lookup(env(&[("UPSTREAM_PROVIDER", "dev"), ("SECRET_KEY", KEY)])).unwrap();
        assert_eq!(c.provider, ProviderKind::Dev);
        assert_eq!(c.public_url, None);
        assert_eq!(c.access_token_ttl, 3600);
        assert_eq!(c.refresh_token_ttl, 30 * 86_400);
        assert_eq!(c.client_ttl, 90 * 86_400);
        assert!(c.allowed_origins.is_empty() && c.allowed_users.is_empty());
        assert!(c.auth_token.is_none());
    }

    #[test]
    fn missing_provider_names_the_variable_and_the_choices() {
        let e = Config::from_lookup(env(&[("SECRET_KEY", KEY)])).unwrap_err();
        assert_eq!(e.variable(), "UPSTREAM_PROVIDER");
        let msg = e.to_string();
        assert!(msg.contains("UPSTREAM_PROVIDER is not set"), "{msg}");
        assert!(msg.contains("dev, github, google, oidc"), "{msg}");
    }

    #[test]
    fn unknown_provider_is_invalid() {
        let e = Config::from_lookup(env(&[("UPSTREAM_PROVIDER", "gitlab"), ("SECRET_KEY", KEY)]))
            .unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Invalid {
                name: "UPSTREAM_PROVIDER",
                ..
            }
        ));
        assert!(e.to_string().contains("'gitlab'"));
    }

    #[test]
    fn missing_secret_key_says_how_to_set_it() {
        let e = Config::from_lookup(env(&[("UPSTREAM_PROVIDER", "dev")])).unwrap_err();
        assert_eq!(e.variable(), "SECRET_KEY");
        assert!(e.to_string().contains("wrangler secret put SECRET_KEY"));
    }

    #[test]
    fn short_secret_key_is_refused_without_echoing_it() {
        let e = Config::from_lookup(env(&[
            ("UPSTREAM_PROVIDER", "dev"),
            ("SECRET_KEY", "hunter2"),
        ]))
        .unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Invalid {
                name: "SECRET_KEY",
                ..
            }
        ));
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn blank_values_count_as_missing() {
        let e = Config::from_lookup(env(&[("UPSTREAM_PROVIDER", "  "), ("SECRET_KEY", KEY)]))
            .unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Missing {
                name: "UPSTREAM_PROVIDER",
                ..
            }
        ));
    }

    #[test]
    fn ttls_must_be_whole_seconds_in_range() {
        for (value, fragment) in [
            ("abc", "not a whole number"),
            ("-5", "not a whole number"),
            ("10", "out of range"),
            ("999999999", "out of range"),
        ] {
            let e = Config::from_lookup(env(&[
                ("UPSTREAM_PROVIDER", "dev"),
                ("SECRET_KEY", KEY),
                ("ACCESS_TOKEN_TTL", value),
            ]))
            .unwrap_err();
            assert_eq!(e.variable(), "ACCESS_TOKEN_TTL");
            assert!(e.to_string().contains(fragment), "{value}: {e}");
        }
        let c = Config::from_lookup(env(&[
            ("UPSTREAM_PROVIDER", "dev"),
            ("SECRET_KEY", KEY),
            ("ACCESS_TOKEN_TTL", "900"),
        ]))
        .unwrap();
        assert_eq!(c.access_token_ttl, 900);
    }

    #[test]
    fn mcp_conformance_is_off_unless_on() {
        let with = |v: Option<&str>| {
            let mut vars = vec![("UPSTREAM_PROVIDER", "dev"), ("SECRET_KEY", KEY)];
            vars.extend(v.map(|v| ("MCP_CONFORMANCE", v)));
            Config::from_lookup(env(&vars))
        };
        assert!(!with(None).unwrap().mcp_conformance);
        assert!(!with(Some("off")).unwrap().mcp_conformance);
        assert!(with(Some("on")).unwrap().mcp_conformance);
        let err = with(Some("yes")).unwrap_err();
        assert_eq!(err.variable(), "MCP_CONFORMANCE");
    }

    #[test]
    fn mcp_cache_ttl_is_0_to_60_seconds_default_5() {
        let with = |v: Option<&str>| {
            let mut vars = vec![("UPSTREAM_PROVIDER", "dev"), ("SECRET_KEY", KEY)];
            vars.extend(v.map(|v| ("MCP_CACHE_TTL", v)));
            Config::from_lookup(env(&vars))
        };
        assert_eq!(with(None).unwrap().mcp_cache_ttl, 5);
        assert_eq!(with(Some("0")).unwrap().mcp_cache_ttl, 0);
        assert_eq!(with(Some("60")).unwrap().mcp_cache_ttl, 60);
        let e = with(Some("61")).unwrap_err();
        assert_eq!(e.variable(), "MCP_CACHE_TTL");
    }

    #[test]
    fn public_url_is_normalized_to_an_origin_and_paths_are_refused() {
        let c = Config::from_lookup(env(&[
            ("UPSTREAM_PROVIDER", "dev"),
            ("SECRET_KEY", KEY),
            ("PUBLIC_URL", "https://Mcp.Example.com/"),
        ]))
        .unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://mcp.example.com"));
        for bad in [
            "https://x.example/mcp",
            "ftp://x.example",
            "not a url",
            "https://u:p@x.example",
        ] {
            let e = Config::from_lookup(env(&[
                ("UPSTREAM_PROVIDER", "dev"),
                ("SECRET_KEY", KEY),
                ("PUBLIC_URL", bad),
            ]))
            .unwrap_err();
            assert_eq!(e.variable(), "PUBLIC_URL", "{bad}");
        }
    }

    #[test]
    fn lists_are_comma_separated_and_users_are_case_insensitive() {
        let c = Config::from_lookup(env(&[
            ("UPSTREAM_PROVIDER", "github"),
            ("SECRET_KEY", KEY),
            ("ALLOWED_USERS", " Octocat , ada@example.com ,"),
            (
                "ALLOWED_ORIGINS",
                "https://a.example, http://localhost:6274",
            ),
        ]))
        .unwrap();
        assert_eq!(c.allowed_users, vec!["octocat", "ada@example.com"]);
        assert_eq!(
            c.allowed_origins,
            vec!["https://a.example", "http://localhost:6274"]
        );
        let e = Config::from_lookup(env(&[
            ("UPSTREAM_PROVIDER", "dev"),
            ("SECRET_KEY", KEY),
            ("ALLOWED_ORIGINS", "https://a.example/path"),
        ]))
        .unwrap_err();
        assert_eq!(e.variable(), "ALLOWED_ORIGINS");
    }

    #[test]
    fn access_token_ttl_goes_up_to_30_days() {
        let with = |v: &str| {
            Config::from_lookup(env(&[
                ("UPSTREAM_PROVIDER", "dev"),
                ("SECRET_KEY", KEY),
                ("ACCESS_TOKEN_TTL", v),
            ]))
        };
        assert_eq!(with("2592000").unwrap().access_token_ttl, 30 * 86_400);
        assert_eq!(with("2592001").unwrap_err().variable(), "ACCESS_TOKEN_TTL");
    }

    #[test]
    fn client_policy_settings_parse_and_bad_ones_name_their_variable() {
        use crate::oauth::policy::ClientPolicy;
        let with = |pairs: &[(&str, &str)]| {
            let mut vars = vec![("UPSTREAM_PROVIDER", "dev"), ("SECRET_KEY", KEY)];
            vars.extend_from_slice(pairs);
            Config::from_lookup(env(&vars))
        };
        let c = with(&[]).unwrap();
        assert_eq!(c.admission.policy, ClientPolicy::Open);
        assert!(c.admission.registration);
        let c = with(&[
            ("CLIENT_POLICY", "Listed"),
            (
                "ALLOWED_CLIENTS",
                "https://chatgpt.com/oauth/*, https://claude.ai/oauth/claude-code-client-metadata",
            ),
            ("REGISTRATION", "off"),
        ])
        .unwrap();
        assert_eq!(c.admission.policy, ClientPolicy::Listed);
        assert_eq!(c.admission.allowed_clients.len(), 2);
        assert!(!c.admission.registration);
        for (pairs, name) in [
            (&[("CLIENT_POLICY", "closed")][..], "CLIENT_POLICY"),
            (&[("REGISTRATION", "maybe")][..], "REGISTRATION"),
            (
                &[("CLIENT_POLICY", "listed"), ("ALLOWED_CLIENTS", "*")][..],
                "ALLOWED_CLIENTS",
            ),
            (
                &[
                    ("CLIENT_POLICY", "listed"),
                    ("ALLOWED_CLIENTS", "https://*/*"),
                ][..],
                "ALLOWED_CLIENTS",
            ),
            // Set without the policy that reads it.
            (
                &[("ALLOWED_CLIENTS", "https://chatgpt.com/oauth/*")][..],
                "ALLOWED_CLIENTS",
            ),
        ] {
            let e = with(pairs).unwrap_err();
            assert_eq!(e.variable(), name, "{pairs:?}");
            assert!(e.to_string().starts_with(name), "{e}");
        }
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let c = Config::from_lookup(env(&[
            ("UPSTREAM_PROVIDER", "dev"),
            ("SECRET_KEY", KEY),
            ("AUTH_TOKEN", KEY),
        ]))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains(KEY), "{shown}");
        assert!(shown.contains("Secret([redacted])"));
    }
}
