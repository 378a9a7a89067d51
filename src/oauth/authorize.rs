//! The authorization request (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1, RFC 7636 §4.3,
//! RFC 8707 §2) and the consent that answers it.
//!
//! Validation runs in the order that decides *where* an error may be shown
//! (RFC 6749 §4.1.2.1): until the client and its redirect URI are known to be
//! good, errors are rendered on our own page and never redirected; after that,
//! they go back to the client with `error`, `state` and `iss` (RFC 9207).

use serde::Deserialize;

use crate::oauth::error::OAuthError;
use crate::oauth::grant::AuthorizationRequest;
use crate::oauth::pkce::CodeChallenge;
use crate::oauth::redirect::redirect_uri_matches;
use crate::oauth::register::Client;
use crate::user::{ALL_SCOPES, SCOPE_MCP};

/// Longest `state` we carry back to a client.
pub const MAX_STATE_LEN: usize = 2048;

/// The query parameters of `GET /authorize`, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeQuery {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
}

impl AuthorizeQuery {
    /// Parses a query string. RFC 6749 §3.1: parameters must not repeat.
    pub fn parse(query: &str) -> Result<AuthorizeQuery, AuthorizeError> {
        serde_urlencoded::from_str(query).map_err(|e| {
            AuthorizeError::Local(format!("The authorization request is malformed ({e})."))
        })
    }
}

/// Where an authorization error is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// On our own error page: the client or redirect URI cannot be trusted.
    Local(String),
    /// Back to the client's redirect URI.
    Redirect {
        redirect_uri: String,
        error: OAuthError,
        state: Option<String>,
    },
}

/// Validates an authorization request against the registered client and the
/// resource this server protects.
pub fn validate(
    query: &AuthorizeQuery,
    client: Option<&Client>,
    now: u64,
    resource: &str,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let local = |m: &str| Err(AuthorizeError::Local(m.to_owned()));
    if query.client_id.as_deref().is_none_or(str::is_empty) {
        return local("The authorization request has no client_id.");
    }
    let Some(client) = client.filter(|c| !c.is_expired(now)) else {
        return local("The application that sent you here is not registered with this server (or its registration expired). Reconnect it from the application.");
    };
    let redirect_uri = match query.redirect_uri.as_deref() {
        Some(uri) => uri.to_owned(),
        // RFC 6749 §3.1.2.3: optional only when exactly one URI is registered.
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return local("The authorization request has no redirect_uri."),
    };
    if !redirect_uri_matches(&client.redirect_uris, &redirect_uri) {
        return local("The redirect_uri of this request is not registered for this application, so this server will not send you there.");
    }

    // From here on the redirect URI is trusted.
    let state = query.state.clone().filter(|s| !s.is_empty());
    let fail = |error: OAuthError, state: Option<String>| {
        Err(AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            state,
        })
    };
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return fail(OAuthError::invalid_request("state is too long"), None);
    }
    match query.response_type.as_deref() {
        Some("code") => {}
        None => {
            return fail(
                OAuthError::invalid_request("response_type is required"),
                state,
            )
        }
        Some(_) => {
            return fail(
                OAuthError::unsupported_response_type("only response_type=code is supported"),
                state,
            )
        }
    }
    let code_challenge = match CodeChallenge::from_request(
        query.code_challenge.as_deref(),
        query.code_challenge_method.as_deref(),
    ) {
        Ok(c) => c,
        Err(e) => return fail(e, state),
    };
    let scope = match requested_scope(query.scope.as_deref(), client) {
        Ok(s) => s,
        Err(e) => return fail(e, state),
    };
    let resource = match query.resource.as_deref() {
        None => resource.to_owned(),
        Some(r) if crate::oauth::metadata::same_resource(r, resource) => r.to_owned(),
        Some(_) => {
            return fail(
                OAuthError::invalid_target(format!(
                    "this server only issues tokens for {resource} (or its /sse alias)"
                )),
                state,
            )
        }
    };
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        redirect_uri_sent: query.redirect_uri.is_some(),
        scope,
        resource,
        code_challenge,
        state,
    })
}

/// The scopes to grant: the requested ones (all when none are named), always
/// with the base `mcp` scope. A scope this server does not know is dropped,
/// not refused (RFC 6749 §3.3 lets the server grant less than asked, and the
/// token response's `scope` then says what was granted): clients ask for
/// `openid profile email` (Goose), `offline_access` (refresh tokens are always
/// issued here) or a copy of another server's scopes, and a refusal would be a
/// dead end for their users. A known scope the client did not register is
/// still refused: the client said what it would ask for.
fn requested_scope(raw: Option<&str>, client: &Client) -> Result<Vec<String>, OAuthError> {
    let registered: Option<Vec<&str>> = client
        .scope
        .as_deref()
        .map(|s| s.split_whitespace().collect());
    let mut scope: Vec<String> = Vec::new();
    let requested: Vec<&str> = match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => registered.clone().unwrap_or_else(|| ALL_SCOPES.to_vec()),
        Some(list) => list.split_whitespace().collect(),
    };
    for s in requested {
        if !ALL_SCOPES.contains(&s) {
            continue;
        }
        if registered.as_ref().is_some_and(|r| !r.contains(&s)) {
            return Err(OAuthError::invalid_scope(format!(
                "scope '{s}' was not registered for this client"
            )));
        }
        if !scope.iter().any(|x| x == s) {
            scope.push(s.to_owned());
        }
    }
    if !scope.iter().any(|s| s == SCOPE_MCP) {
        scope.insert(0, SCOPE_MCP.to_owned());
    }
    Ok(scope)
}

/// How long a consent page may stay open before it must be reloaded.
pub const CONSENT_TTL_SECS: u64 = 900;
