//! A `private_key_jwt` client assertion (RFC 7523 §2.2 and §3): the compact
//! JWS read (RS256 or ES256 only, no `crit`), the claim rules (`iss` = `sub` =
//! `client_id`, our `aud`, a short `exp`, a `jti`), and the key of the
//! client's set that verifies it. The authentication that uses them is
//! `oauth::client_auth`'s; the signature is checked by the platform.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// An assertion's `exp` may be at most this far ahead (RFC 7523 §3 "short").
pub const MAX_ASSERTION_LIFETIME_SECS: u64 = 300;

/// Clock skew tolerated on `iat`/`nbf`.
pub const CLOCK_SKEW_SECS: u64 = 60;

/// Longest assertion read.
pub const MAX_ASSERTION_LEN: usize = 8 * 1024;

/// RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A JWS algorithm this server verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAlg {
    Rs256,
    Es256,
}

impl SigAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            SigAlg::Rs256 => "RS256",
            SigAlg::Es256 => "ES256",
        }
    }
}

/// A compact JWS, parsed but not yet verified.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub alg: SigAlg,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub signed: String,
    pub signature: Vec<u8>,
}

fn b64(part: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "the client_assertion is not base64url".to_owned())
}

/// Parses a compact JWS (RFC 7515 §7.1) whose `alg` is RS256 or ES256.
pub fn parse_assertion(jwt: &str) -> Result<Assertion, String> {
    if jwt.len() > MAX_ASSERTION_LEN {
        return Err("the client_assertion is too long".into());
    }
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the client_assertion is not a signed JWT (header.payload.signature)".into());
    };
    let header: Value = serde_json::from_slice(&b64(h)?)
        .map_err(|_| "the client_assertion header is not JSON".to_owned())?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => SigAlg::Rs256,
        Some("ES256") => SigAlg::Es256,
        Some(other) => {
            return Err(format!(
                "the client_assertion algorithm '{}' is not supported; use RS256 or ES256",
                other.chars().take(16).collect::<String>()
            ))
        }
        None => return Err("the client_assertion header has no alg".into()),
    };
    if header.get("crit").is_some() {
        return Err(
            "the client_assertion header has critical extensions this server does not understand"
                .into(),
        );
    }
    let kid = header.get("kid").and_then(Value::as_str).map(str::to_owned);
    let Value::Object(claims) = serde_json::from_slice(&b64(p)?)
        .map_err(|_| "the client_assertion payload is not JSON".to_owned())?
    else {
        return Err("the client_assertion payload is not a JSON object".into());
    };
    let signature = b64(s)?;
    if signature.is_empty() {
        return Err("the client_assertion is not signed".into());
    }
    Ok(Assertion {
        alg,
        kid,
        claims,
        signed: format!("{h}.{p}"),
        signature,
    })
}

fn number(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, String> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| format!("the client_assertion's {name} is not a number")),
    }
}

/// RFC 7523 §3's claim rules: `iss` = `sub` = `client_id`, `aud` one of
/// `audiences`, `exp` in the future and at most
/// [`MAX_ASSERTION_LIFETIME_SECS`] ahead, `nbf`/`iat` not in the future, a `jti`.
/// Returns the `jti` and `exp`.
pub fn check_claims(
    a: &Assertion,
    client_id: &str,
    audiences: &[&str],
    now: u64,
) -> Result<(String, u64), String> {
    let claim = |name: &str| a.claims.get(name).and_then(Value::as_str);
    if claim("iss") != Some(client_id) {
        return Err("the client_assertion's iss must be the client_id".into());
    }
    if claim("sub") != Some(client_id) {
        return Err("the client_assertion's sub must be the client_id".into());
    }
    let aud_ok = match a.claims.get("aud") {
        Some(Value::String(s)) => audiences.contains(&s.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .any(|v| v.as_str().is_some_and(|s| audiences.contains(&s))),
        _ => false,
    };
    if !aud_ok {
        return Err(format!(
            "the client_assertion's aud must be this token endpoint ({})",
            audiences.first().copied().unwrap_or_default()
        ));
    }
    let Some(exp) = number(&a.claims, "exp")? else {
        return Err("the client_assertion has no exp".into());
    };
    if exp <= now {
        return Err("the client_assertion has expired".into());
    }
    if exp > now + MAX_ASSERTION_LIFETIME_SECS {
        return Err(format!(
            "the client_assertion's exp is more than {MAX_ASSERTION_LIFETIME_SECS} seconds ahead"
        ));
    }
    for name in ["nbf", "iat"] {
        if number(&a.claims, name)?.is_some_and(|t| t > now + CLOCK_SKEW_SECS) {
            return Err(format!("the client_assertion's {name} is in the future"));
        }
    }
    let jti = match claim("jti") {
        Some(j) if !j.is_empty() && j.len() <= 256 => j.to_owned(),
        _ => return Err("the client_assertion has no usable jti".into()),
    };
    Ok((jti, exp))
}

/// The key in `jwks` that can verify `alg` (by `kid` when the assertion names
/// one, else the only suitable key).
pub fn select_key(jwks: &Value, alg: SigAlg, kid: Option<&str>) -> Result<Value, String> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "the client's JWKS has no keys array".to_owned())?;
    let suitable = |k: &&Value| {
        let s = |n: &str| k.get(n).and_then(Value::as_str);
        let kty_ok = match alg {
            SigAlg::Rs256 => s("kty") == Some("RSA"),
            SigAlg::Es256 => s("kty") == Some("EC") && s("crv") == Some("P-256"),
        };
        kty_ok
            && s("use").is_none_or(|u| u == "sig")
            && s("alg").is_none_or(|x| x == alg.as_str())
            && kid.is_none_or(|want| s("kid") == Some(want))
    };
    let found: Vec<&Value> = keys.iter().filter(suitable).collect();
    match found.as_slice() {
        [one] => Ok(public_part(one, alg)),
        [] => Err(match kid {
            Some(k) => format!(
                "the client's JWKS has no {} key with kid '{}'",
                alg.as_str(),
                k.chars().take(64).collect::<String>()
            ),
            None => format!("the client's JWKS has no {} key", alg.as_str()),
        }),
        _ => {
            Err("the client's JWKS has several suitable keys and the assertion names no kid".into())
        }
    }
}

/// Only the public members, so a stray private part is never handed on.
fn public_part(jwk: &Value, alg: SigAlg) -> Value {
    let members: &[&str] = match alg {
        SigAlg::Rs256 => &["kty", "n", "e"],
        SigAlg::Es256 => &["kty", "crv", "x", "y"],
    };
    let mut out = Map::new();
    for m in members {
        if let Some(v) = jwk.get(*m) {
            out.insert((*m).to_owned(), v.clone());
        }
    }
    Value::Object(out)
}
