//! The resource server's side of OAuth (RFC 6750, RFC 9728 §5.1, MCP
//! authorization): reading the bearer token of a /mcp request and the 401
//! challenge that tells a client where to authorize.

use crate::config::Config;
use crate::http::Reply;
use crate::isolate::{Accepted, Isolate};
use crate::keys;
use crate::oauth::crypto;
use crate::oauth::error::OAuthError;
use crate::oauth::grant::{self, AccessError, TokenKind};
use crate::oauth::metadata;
use crate::oauth::store::{Store, StoreError};
use crate::secret::Secret;
use crate::user::{UserContext, UserProfile, ALL_SCOPES, SCOPE_MCP};

/// What the `Authorization` header of a request holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bearer<'a> {
    /// No `Authorization` header.
    Missing,
    /// A header that is not `Bearer <token>`.
    Malformed,
    Token(&'a str),
}

/// Reads `Authorization: Bearer <token>` (RFC 6750 §2.1; the scheme is
/// case-insensitive). Tokens in query strings or bodies are never looked at.
pub fn bearer(header: Option<&str>) -> Bearer<'_> {
    let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return Bearer::Missing;
    };
    let Some((scheme, token)) = header.split_once(' ') else {
        return Bearer::Malformed;
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Bearer::Malformed;
    }
    Bearer::Token(token)
}

/// The static `AUTH_TOKEN` matches (constant time). A mismatch is not an error:
/// the token is then checked as an OAuth access token.
pub fn is_static_token(token: &str, configured: Option<&Secret>) -> bool {
    configured.is_some_and(|s| crypto::ct_eq(token, s.expose()))
}

/// The caller behind the static `AUTH_TOKEN`: a script, with every scope and no
/// upstream account.
pub fn static_token_user() -> UserContext {
    UserContext {
        user: UserProfile {
            id: "static:auth-token".into(),
            login: "auth-token".into(),
            name: Some("Static token (AUTH_TOKEN)".into()),
            email: None,
            provider: "static".into(),
        },
        scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
        client_id: None,
        upstream_token: None,
    }
}

/// `401` with the challenge of the MCP authorization spec: where the Protected
/// Resource Metadata is, which scopes to ask for, and, when a token was sent,
/// `error="invalid_token"` (RFC 6750 §3.1; no error when none was sent).
pub fn unauthorized(resource_metadata_url: &str, problem: Option<&str>) -> Reply {
    let error = problem.map(|p| ("invalid_token", p));
    let body = match problem {
        Some(p) => serde_json::json!({ "error": "invalid_token", "error_description": p }),
        None => {
            serde_json::json!({ "error": "unauthorized", "error_description": "this MCP server needs an OAuth access token (Authorization: Bearer ...)" })
        }
    };
    Reply::json(401, &body)
        .header(
            "WWW-Authenticate",
            &metadata::www_authenticate(resource_metadata_url, error),
        )
        .no_store()
}

/// Who is calling `/mcp` (RFC 6750 §2.1): the static `AUTH_TOKEN`, or an access
/// token checked against its record, one KV read and no write (integrity,
/// expiry, audience per RFC 8707, the base scope; see `grant::access`), or no
/// read when this isolate accepted the same token for the same resource within
/// `config.mcp_cache_ttl` seconds (the rules are [`Isolate::keep_accepted_token`]'s).
pub async fn authenticate(
    store: &dyn Store,
    isolate: &Isolate,
    config: &Config,
    issuer: &str,
    authorization: Option<&str>,
    now: u64,
) -> Result<UserContext, NotAuthenticated> {
    let token = match bearer(authorization) {
        Bearer::Missing => return Err(Refusal::NoToken.into()),
        Bearer::Malformed => return Err(Refusal::Malformed.into()),
        Bearer::Token(t) => t,
    };
    if is_static_token(token, config.auth_token.as_ref()) {
        return Ok(static_token_user());
    }
    // Not shaped like our access tokens: not worth a read.
    let grant_id = match grant::parse_token(token) {
        Some((TokenKind::Access, grant_id)) => grant_id,
        _ => return Err(Refusal::Token(AccessError::Invalid).into()),
    };
    let key = keys::access(&crypto::hash_token(token));
    // One protected resource with two URLs (`/mcp` and `/sse`): see `same_resource`.
    let resource = metadata::mcp_resource(issuer);
    if let Some(user) = isolate.accepted_token(&key, &resource, now) {
        return Ok(user);
    }
    let since = isolate.access_mark();
    let record = store.get(&key).await?;
    let (user, expires_at) = grant::access::check(
        record.as_deref(),
        token,
        &[resource.as_str()],
        now,
        &config.keyring,
    )
    .map_err(Refusal::Token)?;
    let accepted = Accepted {
        resource,
        grant_id: grant_id.to_owned(),
        user: user.clone(),
    };
    isolate.keep_accepted_token(since, &key, accepted, expires_at, config.mcp_cache_ttl, now);
    Ok(user)
}

/// Why [`authenticate`] let no caller in.
#[derive(Debug)]
pub enum NotAuthenticated {
    /// The client's to hear (see [`refuse`]).
    Refused(Refusal),
    /// A storage fault: not the client's.
    Storage(StoreError),
}

impl From<Refusal> for NotAuthenticated {
    fn from(refusal: Refusal) -> Self {
        NotAuthenticated::Refused(refusal)
    }
}

impl From<StoreError> for NotAuthenticated {
    fn from(fault: StoreError) -> Self {
        NotAuthenticated::Storage(fault)
    }
}

/// Why [`admit`] let no caller in.
#[derive(Debug)]
pub enum NotAdmitted {
    /// The answer to send instead (401, 403 or 429).
    Answer(Reply),
    /// A storage fault (the shell answers 500).
    Storage(StoreError),
}

/// The resource server's checks for one `/mcp` request, in one call: the caller, or the
/// answer to send instead (401 with the challenge, 403 `insufficient_scope` for a token
/// without the base scope, or 429 once this address (`ip`, `CF-Connecting-IP`) has presented
/// refused tokens too often; a request without any token is discovery and never counted).
#[allow(clippy::too_many_arguments)]
pub async fn admit(
    store: &dyn Store,
    isolate: &Isolate,
    counters: &dyn crate::ratelimit::Counters,
    config: &Config,
    issuer: &str,
    resource_metadata_url: &str,
    authorization: Option<&str>,
    ip: Option<&str>,
    now: u64,
) -> Result<UserContext, NotAdmitted> {
    let refusal = match authenticate(store, isolate, config, issuer, authorization, now).await {
        Ok(user) => return Ok(user),
        Err(NotAuthenticated::Storage(fault)) => return Err(NotAdmitted::Storage(fault)),
        Err(NotAuthenticated::Refused(refusal)) => refusal,
    };
    let presented = !matches!(refusal, Refusal::NoToken);
    if let Some(check) = crate::ratelimit::bearer_failure_check(ip, presented) {
        if counters.over(std::slice::from_ref(&check)).await {
            let refused = crate::ratelimit::refused(crate::routes::Route::Mcp);
            return Err(NotAdmitted::Answer(refused));
        }
    }
    Err(NotAdmitted::Answer(refuse(resource_metadata_url, &refusal)))
}

/// Why a request to `/mcp` is not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header: the client has not authorized yet.
    NoToken,
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
    /// A bearer token that was checked and refused.
    Token(AccessError),
}

/// The reply to a refused request (RFC 6750 §3.1, MCP authorization): 401 with
/// the challenge, or 403 `insufficient_scope` for a valid token without the
/// base scope.
pub fn refuse(resource_metadata_url: &str, refusal: &Refusal) -> Reply {
    match refusal {
        Refusal::NoToken => unauthorized(resource_metadata_url, None),
        Refusal::Malformed => unauthorized(
            resource_metadata_url,
            Some("the Authorization header must be 'Bearer <token>'"),
        ),
        Refusal::Token(AccessError::MissingScope) => {
            let error = OAuthError::insufficient_scope(AccessError::MissingScope.to_string());
            error.to_json_reply().header(
                "WWW-Authenticate",
                &metadata::insufficient_scope_challenge(resource_metadata_url, SCOPE_MCP),
            )
        }
        Refusal::Token(e) => unauthorized(
            resource_metadata_url,
            Some(match e {
                AccessError::WrongResource => "the access token was issued for another resource",
                _ => "the access token is invalid, expired or revoked",
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_come_only_from_the_authorization_header() {
        assert_eq!(bearer(None), Bearer::Missing);
        assert_eq!(bearer(Some("  ")), Bearer::Missing);
        assert_eq!(bearer(Some("Bearer abc")), Bearer::Token("abc"));
        assert_eq!(bearer(Some("bearer abc")), Bearer::Token("abc"));
        assert_eq!(bearer(Some("Basic abc")), Bearer::Malformed);
        assert_eq!(bearer(Some("Bearer")), Bearer::Malformed);
        assert_eq!(bearer(Some("Bearer a b")), Bearer::Malformed);
    }

    #[test]
    fn a_request_without_a_token_gets_a_challenge_without_error() {
        let r = unauthorized("https://h/.well-known/oauth-protected-resource/mcp", None);
        assert_eq!(r.status, 401);
        let h = r.header_value("WWW-Authenticate").unwrap();
        assert!(h.starts_with("Bearer "), "{h}");
        assert!(
            h.contains(r#"resource_metadata="https://h/.well-known/oauth-protected-resource/mcp""#),
            "{h}"
        );
        assert!(h.contains(r#"scope="mcp github:repos""#), "{h}");
        assert!(!h.contains("error="), "{h}");
        assert!(!h.contains("offline_access"));
    }

    #[test]
    fn a_bad_token_gets_invalid_token() {
        let r = unauthorized(
            "https://h/m",
            Some("the access token is invalid, expired or revoked"),
        );
        let h = r.header_value("WWW-Authenticate").unwrap();
        assert!(h.contains(r#"error="invalid_token""#), "{h}");
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["error"], "invalid_token");
    }

    #[test]
    fn the_static_token_is_compared_exactly() {
        let s = Secret::new("0123456789abcdef0123456789abcdef");
        assert!(is_static_token(
            "0123456789abcdef0123456789abcdef",
            Some(&s)
        ));
        assert!(!is_static_token(
            "0123456789abcdef0123456789abcdeX",
            Some(&s)
        ));
        assert!(!is_static_token("0123456789abcdef0123456789abcdef", None));
    }
}
