//! Settings of the upstream identity provider, read from the Worker's vars and secrets
//! with the rest of [`super::Config`] (its `upstream` field), once per isolate.
//!
//! Same rules as [`super::Config::from_lookup`]: values are trimmed, an empty
//! value counts as absent, and every missing or malformed value becomes one
//! [`ConfigError`] that names the variable and says how to set it. A secret's value
//! is never part of an error.
//!
//! | variable | default |
//! |---|---|
//! | `GITHUB_CLIENT_ID` | required |
//! | `GITHUB_CLIENT_SECRET` (secret) | required |
//! | `GITHUB_SCOPES` | `read:user user:email` |
//! | `GITHUB_ALLOW_SIGNUP` | `true` |
//! | `GITHUB_AUTHORIZE_URL` | `https://github.com/login/oauth/authorize` |
//! | `GITHUB_TOKEN_URL` | `https://github.com/login/oauth/access_token` |
//! | `GITHUB_API_URL` | `https://api.github.com` |
//! | `GOOGLE_CLIENT_ID` | required |
//! | `GOOGLE_CLIENT_SECRET` (secret) | required |
//! | `GOOGLE_SCOPES` | `openid email profile` (must contain `openid`) |
//! | `GOOGLE_OFFLINE` | `true` |
//! | `GOOGLE_AUTHORIZE_URL` | `https://accounts.google.com/o/oauth2/v2/auth` |
//! | `GOOGLE_TOKEN_URL` | `https://oauth2.googleapis.com/token` |
//! | `GOOGLE_USERINFO_URL` | `https://openidconnect.googleapis.com/v1/userinfo` |
//! | `GOOGLE_ISSUER` | `https://accounts.google.com` |
//! | `OIDC_ISSUER` | required |
//! | `OIDC_CLIENT_ID` | required |
//! | `OIDC_CLIENT_SECRET` (secret) | required |
//! | `OIDC_SCOPES` | `openid email profile` (must contain `openid`) |
//!
//! URLs must be absolute `https://` URLs; plain `http://` is accepted only for loopback
//! hosts (`localhost`, `127.0.0.0/8`, `[::1]`), so local mock providers work.

use super::error::ConfigError;
use crate::secret::Secret;

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

/// The default GitHub scopes: enough to identify the user and read their verified email.
///
/// `repo` is deliberately not in the default. The `list_github_repos` tool then sees
/// public repositories only. To list private repositories too, set
/// `GITHUB_SCOPES="read:user user:email repo"`; note that GitHub has no read-only scope
/// for private repositories, so `repo` grants read *and write* access to all of them.
/// A GitHub App (fine-grained "Contents: read-only") is the narrower alternative; its
/// user tokens ignore scopes and may expire, which `upstream::github` handles.
pub const GITHUB_DEFAULT_SCOPES: &str = "read:user user:email";
pub const GITHUB_DEFAULT_AUTHORIZE_URL: &str = "https://github.com/login/oauth/authorize";
pub const GITHUB_DEFAULT_TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
pub const GITHUB_DEFAULT_API_URL: &str = "https://api.github.com";

/// OpenID Connect scopes asking for an ID token with the user's email and name.
pub const OIDC_DEFAULT_SCOPES: &str = "openid email profile";
pub const GOOGLE_DEFAULT_AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const GOOGLE_DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const GOOGLE_DEFAULT_USERINFO_URL: &str = "https://openidconnect.googleapis.com/v1/userinfo";
/// Google's issuer. Google also issues ID tokens with `iss` = `accounts.google.com`
/// (no scheme); both are accepted when this default is in use.
pub const GOOGLE_DEFAULT_ISSUER: &str = "https://accounts.google.com";

/// Settings of the configured upstream provider.
#[derive(Debug, Clone)]
pub enum UpstreamSettings {
    GitHub(GitHubSettings),
    Google(GoogleSettings),
    Oidc(OidcSettings),
}

/// A GitHub OAuth app (or GitHub App acting for users).
#[derive(Debug, Clone)]
pub struct GitHubSettings {
    pub client_id: String,
    pub client_secret: Secret,
    /// Space-separated.
    pub scopes: String,
    /// Whether GitHub offers signing up during the flow (`allow_signup`).
    pub allow_signup: bool,
    pub authorize_url: String,
    pub token_url: String,
    /// REST API base, without trailing slash.
    pub api_url: String,
}

/// Google, as an OpenID Connect provider with fixed endpoints (no discovery fetch).
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    pub client_id: String,
    pub client_secret: Secret,
    /// Space-separated; always contains `openid`.
    pub scopes: String,
    /// Ask for a refresh token (`access_type=offline&prompt=consent`).
    pub offline: bool,
    pub authorize_url: String,
    pub token_url: String,
    pub userinfo_url: String,
    pub issuer: String,
}

/// Any OpenID Connect provider; its endpoints come from discovery
/// (`upstream::oidc::discover`).
///
/// For refresh tokens, most providers want the `offline_access` scope: add it to
/// `OIDC_SCOPES` (e.g. `openid email profile offline_access`).
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// Exactly as configured; compared byte for byte with the discovery document
    /// and the ID token's `iss`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Space-separated; always contains `openid`.
    pub scopes: String,
}

impl UpstreamSettings {
    /// The issuer whose discovery document the provider needs (generic OpenID
    /// Connect only).
    pub fn issuer_to_discover(&self) -> Option<&str> {
        match self {
            UpstreamSettings::Oidc(s) => Some(&s.issuer),
            _ => None,
        }
    }
}

/// Reads the settings of `kind`'s provider; `None` for the built-in development provider.
pub fn settings_for(
    kind: ProviderKind,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<UpstreamSettings>, ConfigError> {
    let env = Env(&lookup);
    Ok(match kind {
        ProviderKind::Dev => None,
        ProviderKind::GitHub => Some(UpstreamSettings::GitHub(GitHubSettings {
            client_id: env.required_var(
                "GITHUB_CLIENT_ID",
                "Create an OAuth app at https://github.com/settings/developers with the callback URL <your origin>/callback and copy its Client ID.",
            )?,
            client_secret: env.required_secret(
                "GITHUB_CLIENT_SECRET",
                "Generate a client secret on the page of your GitHub OAuth app.",
            )?,
            scopes: env.scopes("GITHUB_SCOPES", GITHUB_DEFAULT_SCOPES, false)?,
            allow_signup: env.boolean("GITHUB_ALLOW_SIGNUP", true)?,
            authorize_url: env.url("GITHUB_AUTHORIZE_URL", GITHUB_DEFAULT_AUTHORIZE_URL)?,
            token_url: env.url("GITHUB_TOKEN_URL", GITHUB_DEFAULT_TOKEN_URL)?,
            api_url: env
                .url("GITHUB_API_URL", GITHUB_DEFAULT_API_URL)?
                .trim_end_matches('/')
                .to_owned(),
        })),
        ProviderKind::Google => Some(UpstreamSettings::Google(GoogleSettings {
            client_id: env.required_var(
                "GOOGLE_CLIENT_ID",
                "Create an OAuth client ID of type \"Web application\" at https://console.cloud.google.com/apis/credentials with the redirect URI <your origin>/callback.",
            )?,
            client_secret: env.required_secret(
                "GOOGLE_CLIENT_SECRET",
                "It is shown with the OAuth client ID in the Google Cloud console.",
            )?,
            scopes: env.scopes("GOOGLE_SCOPES", OIDC_DEFAULT_SCOPES, true)?,
            offline: env.boolean("GOOGLE_OFFLINE", true)?,
            authorize_url: env.url("GOOGLE_AUTHORIZE_URL", GOOGLE_DEFAULT_AUTHORIZE_URL)?,
            token_url: env.url("GOOGLE_TOKEN_URL", GOOGLE_DEFAULT_TOKEN_URL)?,
            userinfo_url: env.url("GOOGLE_USERINFO_URL", GOOGLE_DEFAULT_USERINFO_URL)?,
            issuer: env.issuer("GOOGLE_ISSUER", Some(GOOGLE_DEFAULT_ISSUER))?,
        })),
        ProviderKind::Oidc => Some(UpstreamSettings::Oidc(OidcSettings {
            issuer: env.issuer("OIDC_ISSUER", None)?,
            client_id: env.required_var(
                "OIDC_CLIENT_ID",
                "Register this server as a confidential client (authorization code flow) at your OpenID provider with the redirect URI <your origin>/callback.",
            )?,
            client_secret: env.required_secret(
                "OIDC_CLIENT_SECRET",
                "Your OpenID provider shows it with the client registration.",
            )?,
            scopes: env.scopes("OIDC_SCOPES", OIDC_DEFAULT_SCOPES, true)?,
        })),
    })
}

fn secret_hint(name: &str) -> String {
    format!("Set it with `npx wrangler secret put {name}` (locally: add it to .dev.vars).")
}

fn var_hint(name: &str) -> String {
    format!("Set {name} under [vars] in wrangler.toml (locally: in .dev.vars).")
}

struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn required_var(&self, name: &'static str, how: &str) -> Result<String, ConfigError> {
        self.get(name).ok_or_else(|| ConfigError::Missing {
            name,
            hint: format!("{how} {}", var_hint(name)),
        })
    }

    fn required_secret(&self, name: &'static str, how: &str) -> Result<Secret, ConfigError> {
        self.get(name)
            .map(Secret::new)
            .ok_or_else(|| ConfigError::Missing {
                name,
                hint: format!("{how} {}", secret_hint(name)),
            })
    }

    /// Space- or comma-separated scopes, normalized to single spaces.
    fn scopes(
        &self,
        name: &'static str,
        default: &str,
        need_openid: bool,
    ) -> Result<String, ConfigError> {
        let raw = self.get(name).unwrap_or_else(|| default.to_owned());
        let scopes: Vec<&str> = raw
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(bad) = scopes
            .iter()
            .find(|s| s.chars().any(|c| c.is_control() || c == '"' || c == '\\'))
        {
            return Err(ConfigError::Invalid {
                name,
                reason: format!("'{}' is not a valid scope", bad.escape_debug()),
                hint: format!("Give space-separated scopes, or leave it unset for '{default}'."),
            });
        }
        if need_openid && !scopes.contains(&"openid") {
            return Err(ConfigError::Invalid {
                name,
                reason: "it does not contain the scope openid, without which the provider sends no ID token".into(),
                hint: format!("Add openid, or leave it unset for '{default}'. {}", var_hint(name)),
            });
        }
        Ok(scopes.join(" "))
    }

    fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::Invalid {
                    name,
                    reason: format!("'{}' is not true or false", v.escape_debug()),
                    hint: format!(
                        "Use true or false, or leave it unset for {default}. {}",
                        var_hint(name)
                    ),
                }),
            },
        }
    }

    fn url(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        match self.get(name) {
            None => Ok(default.to_owned()),
            Some(raw) => check_endpoint_url(&raw)
                .map(|()| raw)
                .map_err(|reason| ConfigError::Invalid {
                    name,
                    reason,
                    hint: format!(
                        "Use an absolute https:// URL (http:// only on localhost), or leave it unset for {default}. {}",
                        var_hint(name)
                    ),
                }),
        }
    }

    /// An issuer is kept exactly as written (it is compared byte for byte), but it
    /// must be a URL without query or fragment (OpenID Connect Discovery §2).
    fn issuer(&self, name: &'static str, default: Option<&str>) -> Result<String, ConfigError> {
        let raw = match (self.get(name), default) {
            (Some(raw), _) => raw,
            (None, Some(default)) => return Ok(default.to_owned()),
            (None, None) => {
                return Err(ConfigError::Missing {
                    name,
                    hint: format!(
                        "Give the issuer URL of your OpenID provider, e.g. https://login.example.com/realms/main (its /.well-known/openid-configuration must be reachable). {}",
                        var_hint(name)
                    ),
                })
            }
        };
        let checked = check_endpoint_url(&raw).and_then(|()| {
            let uri = crate::urls::Url::parse(&raw).map_err(|_| format!("'{raw}' is not a URL"))?;
            if uri.query().is_some() {
                return Err(format!(
                    "'{raw}' has a query, which an issuer must not have"
                ));
            }
            Ok(())
        });
        checked.map(|()| raw).map_err(|reason| ConfigError::Invalid {
            name,
            reason,
            hint: format!(
                "Use the issuer exactly as the provider's discovery document spells it (https://, no query). {}",
                var_hint(name)
            ),
        })
    }
}

/// Whether `raw` is acceptable as an endpoint of a provider: an absolute `https` URL
/// (plain `http` only on loopback hosts), without credentials or fragment.
/// The error describes the problem and may quote `raw` (never a secret).
pub(crate) fn check_endpoint_url(raw: &str) -> Result<(), String> {
    let uri = crate::urls::parse_strict(raw, &format!("'{raw}'"))
        .map_err(|_| format!("'{raw}' is not an absolute URL"))?;
    let Some(host) = uri
        .host()
        .filter(|h| !matches!(h, crate::urls::Host::Domain("")))
    else {
        return Err(format!("'{raw}' has no host"));
    };
    match uri.scheme() {
        "https" => {}
        // Operator-configured: a loopback mock provider is fine (not client-chosen).
        "http" if crate::urls::is_loopback(&host) => {}
        "http" => {
            return Err(format!(
                "'{raw}' uses plain http, which is allowed only for localhost"
            ))
        }
        _ => return Err(format!("'{raw}' must start with https://")),
    }
    if !uri.username().is_empty() || uri.password().is_some() {
        return Err(format!("'{raw}' must not contain credentials"));
    }
    if uri.fragment().is_some() {
        return Err(format!("'{raw}' must not have a #fragment"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_need_https_except_on_loopback() {
        for ok in [
            "https://example.com/x",
            "http://127.0.0.1:8080/token",
            "http://localhost/a",
            "http://[::1]:9/",
            "https://example.com/a?b=c",
        ] {
            assert_eq!(check_endpoint_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://example.com/token",
            "ftp://example.com",
            "/relative",
            "https://u:p@example.com/",
            "https://example.com/#f",
            "http://127.0.0.1.example.com/",
        ] {
            assert!(check_endpoint_url(bad).is_err(), "{bad}");
        }
    }
}
