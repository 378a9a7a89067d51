//! Checks of an OpenID Connect ID token's claims
//! ([OpenID Connect Core 1.0 §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)).
//!
//! The signature is deliberately **not** verified. §3.1.3.7 item 6 allows this: "If the
//! ID Token is received via direct communication between the Client and the Token
//! Endpoint (which it is in this flow), the TLS server validation MAY be used to validate
//! the issuer in place of checking the token signature." We only ever read ID tokens
//! from the token endpoint's answer to our own TLS request, authenticated with our
//! client secret; an ID token from anywhere else (a browser, a query string) must never
//! be passed here. Skipping JWKS keeps an RSA implementation out of the wasm bundle.
//!
//! The claims themselves are still checked, because they bind the token to this
//! sign-in: `iss` (item 2), `aud` and `azp` (items 3–5), `exp` (item 9), `iat` (item 10)
//! and `nonce` (item 11, against replay of another sign-in's token).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::oauth_client::clean;
use super::UpstreamError;

/// Tolerated clock difference for `exp`, in seconds.
pub const EXPIRY_LEEWAY_SECS: u64 = 60;
/// How far in the future `iat` may be before the token is refused, in seconds.
pub const MAX_IAT_AHEAD_SECS: u64 = 300;
/// OpenID Connect Core §2: `sub` is at most 255 ASCII characters.
const MAX_SUB_LEN: usize = 255;

/// What an ID token must match.
#[derive(Debug, Clone, Copy)]
pub struct ClaimChecks<'a> {
    /// Accepted `iss` values, compared exactly.
    pub issuers: &'a [String],
    /// Our client id: must be in `aud` (and be `azp` when present).
    pub client_id: &'a str,
    /// The nonce we sent in the authorization request.
    pub nonce: &'a str,
    /// Unix seconds.
    pub now: u64,
}

/// The claims we use, after the checks passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdClaims {
    pub sub: String,
    pub email: Option<String>,
    /// `email_verified` was `true` (or `"true"`).
    pub email_verified: bool,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
}

fn malformed(reason: impl Into<String>) -> UpstreamError {
    UpstreamError::Malformed(format!("ID token: {}", reason.into()))
}

/// Decodes a compact JWS and checks its claims. Every failure is
/// [`UpstreamError::Malformed`]; no error text contains the token.
pub fn check_id_token(token: &str, checks: &ClaimChecks<'_>) -> Result<IdClaims, UpstreamError> {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => return Err(malformed("encrypted ID tokens (JWE) are not supported")),
        _ => return Err(malformed("not a compact JWS (header.payload.signature)")),
    }
    let header =
        decode_segment(parts[0]).ok_or_else(|| malformed("the header is not base64url JSON"))?;
    match header.get("alg").and_then(Value::as_str) {
        // OIDC Core §2: `none` only when the client asked for it at registration; we did not.
        Some("none") => return Err(malformed("unsigned (alg none)")),
        Some(_) => {}
        None => return Err(malformed("the header has no alg")),
    }
    let claims =
        decode_segment(parts[1]).ok_or_else(|| malformed("the payload is not base64url JSON"))?;

    let iss = string(&claims, "iss").ok_or_else(|| malformed("no iss"))?;
    if !checks.issuers.iter().any(|i| i == iss) {
        return Err(malformed(format!(
            "issued by '{}', not by the configured issuer '{}'",
            clean(iss, &[]),
            checks.issuers.first().map(String::as_str).unwrap_or("")
        )));
    }

    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return Err(malformed("no aud")),
    };
    if !audiences.contains(&checks.client_id) {
        return Err(malformed("its audience is another client"));
    }
    let azp = string(&claims, "azp");
    if audiences.len() > 1 && azp.is_none() {
        return Err(malformed("several audiences and no azp"));
    }
    if azp.is_some_and(|azp| azp != checks.client_id) {
        return Err(malformed("it was issued to another client (azp)"));
    }

    let exp = number(&claims, "exp").ok_or_else(|| malformed("no exp"))?;
    if checks.now >= exp.saturating_add(EXPIRY_LEEWAY_SECS) {
        return Err(malformed("it has expired"));
    }
    let iat = number(&claims, "iat").ok_or_else(|| malformed("no iat"))?;
    if iat > checks.now.saturating_add(MAX_IAT_AHEAD_SECS) {
        return Err(malformed("it was issued in the future (iat)"));
    }

    match string(&claims, "nonce") {
        Some(n) if n == checks.nonce => {}
        Some(_) => return Err(malformed("its nonce is not the one of this sign-in")),
        None => return Err(malformed("no nonce")),
    }

    let sub = string(&claims, "sub").ok_or_else(|| malformed("no sub"))?;
    if sub.is_empty() || sub.len() > MAX_SUB_LEN || !sub.chars().all(|c| c.is_ascii_graphic()) {
        return Err(malformed("sub is not 1 to 255 printable ASCII characters"));
    }

    Ok(IdClaims {
        sub: sub.to_owned(),
        email: string(&claims, "email")
            .filter(|e| !e.is_empty())
            .map(str::to_owned),
        email_verified: is_true(claims.get("email_verified")),
        name: string(&claims, "name")
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        preferred_username: string(&claims, "preferred_username")
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
    })
}

/// `true`, or the string `"true"` that some providers (and older Google tokens) send.
pub(crate) fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn decode_segment(segment: &str) -> Option<Map<String, Value>> {
    // Some encoders keep the padding that JWS (RFC 7515 §2) leaves out.
    let bytes = URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn string<'m>(claims: &'m Map<String, Value>, name: &str) -> Option<&'m str> {
    claims.get(name).and_then(Value::as_str)
}

/// A NumericDate (RFC 7519 §2): seconds, possibly with a fraction.
fn number(claims: &Map<String, Value>, name: &str) -> Option<u64> {
    let n = claims.get(name)?.as_number()?;
    n.as_u64()
        .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}
