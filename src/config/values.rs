//! Parsers of single values shared by the settings: lists, durations, origins,
//! and optional bearer-token secrets.

use super::error::{secret_hint, ConfigError};
use crate::secret::Secret;

/// Shortest accepted `SECRET_KEY`, in characters (32 random characters carry well
/// over 128 bits even from a small alphabet).
pub const MIN_SECRET_LEN: usize = 32;

/// An optional bearer-token secret (`AUTH_TOKEN`, `ADMIN_TOKEN`): unset, or at
/// least [`MIN_SECRET_LEN`] characters.
pub(super) fn optional_token(
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

pub(super) fn list(raw: Option<String>) -> Vec<String> {
    raw.map(|r| {
        r.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

pub(super) fn seconds<G>(
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
pub(super) fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    parse_origin(raw).map_err(|reason| ConfigError::Invalid {
        name: "PUBLIC_URL",
        reason,
        hint: "Use the origin users reach the Worker at, e.g. https://my-mcp.example.workers.dev (no path, no trailing slash), or leave it unset to use each request's origin.".into(),
    })
}

pub(super) fn parse_origin(raw: &str) -> Result<String, String> {
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
