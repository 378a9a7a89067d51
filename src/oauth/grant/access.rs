//! The access-token record `/mcp` reads (one KV read, no write) and the checks
//! it makes: integrity, expiry, audience (RFC 8707) and the base scope.

use serde::{Deserialize, Serialize};

use super::state::{open_props, parse_token, Props, TokenKind};
use crate::oauth::crypto::{purpose, Keyring};
use crate::user::{UserContext, SCOPE_MCP};

/// The record behind an access token, in KV under `access:<hash>`: everything
/// /mcp needs in one read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessRecord {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: Vec<String>,
    pub resource: String,
    pub expires_at: u64,
    /// The grant key wrapped by this access token.
    pub wrapped_key: String,
    /// `Props` sealed with the grant key.
    pub props: String,
    /// When the token was issued (RFC 7662 `iat`); 0 in records written
    /// before it was kept. Informational, so not part of the binding.
    #[serde(default)]
    pub issued_at: u64,
}

impl AccessRecord {
    /// What the wrapped key is bound to (AEAD associated data): every field that
    /// decides what the token may do. Written out field by field, with lengths,
    /// so no two records share a binding.
    pub fn binding(&self) -> String {
        let mut out = String::new();
        let scope = self.scope.join(" ");
        let expires = self.expires_at.to_string();
        for part in [
            &self.grant_id,
            &self.client_id,
            &self.user_id,
            &scope,
            &self.resource,
            &expires,
        ] {
            out.push_str(&part.len().to_string());
            out.push(':');
            out.push_str(part);
        }
        out
    }
}

/// Why an access token was not accepted at /mcp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("the access token is invalid, expired or revoked")]
    Invalid,
    #[error("the access token was issued for another resource")]
    WrongResource,
    /// RFC 6750 §3.1: valid, but without the base scope this server requires.
    #[error("the access token lacks the scope '{SCOPE_MCP}'")]
    MissingScope,
}

/// The record of a live access token, and the grant key it unwraps; `None`
/// for anything else (no record, another token's, edited, expired).
pub fn open_record(
    record: Option<&str>,
    token: &str,
    now: u64,
    ring: &Keyring,
) -> Option<(AccessRecord, [u8; 32])> {
    let record: AccessRecord = record.and_then(|r| serde_json::from_str(r).ok())?;
    match parse_token(token) {
        Some((TokenKind::Access, grant)) if grant == record.grant_id => {}
        _ => return None,
    }
    // The record's fields are bound into the wrapped key: an edited record (a wider
    // scope, a later expiry, another resource) does not unwrap. A record that no
    // key of ours opens is invalid, never a fault.
    let key = ring
        .unwrap_key(
            token,
            &record.wrapped_key,
            purpose::WRAP_ACCESS,
            &record.binding(),
        )
        .ok()?;
    (now < record.expires_at).then_some((record, key))
}

/// Checks an access token against its record and decrypts the user context.
/// `resources` are the resource URLs this endpoint answers for.
pub fn authenticate(
    record: Option<&str>,
    token: &str,
    resources: &[&str],
    now: u64,
    ring: &Keyring,
) -> Result<UserContext, AccessError> {
    check(record, token, resources, now, ring).map(|(user, _)| user)
}

/// [`authenticate`], with when the token expires (what a cache of checked
/// tokens may not outlive).
pub fn check(
    record: Option<&str>,
    token: &str,
    resources: &[&str],
    now: u64,
    ring: &Keyring,
) -> Result<(UserContext, u64), AccessError> {
    let (record, key) = open_record(record, token, now, ring).ok_or(AccessError::Invalid)?;
    // RFC 8707: only tokens minted for this resource are accepted here (its
    // `/mcp` and `/sse` URLs name one resource: `metadata::same_resource`).
    if !resources
        .iter()
        .any(|r| crate::oauth::metadata::same_resource(r, &record.resource))
    {
        return Err(AccessError::WrongResource);
    }
    if !record.scope.iter().any(|s| s == SCOPE_MCP) {
        return Err(AccessError::MissingScope);
    }
    let props: Props =
        open_props(&key, &record.props, &record.grant_id).map_err(|_| AccessError::Invalid)?;
    let user = UserContext {
        upstream_token: props.upstream.as_ref().map(|u| u.access_secret()),
        user: props.user,
        scopes: record.scope,
        client_id: Some(record.client_id),
    };
    Ok((user, record.expires_at))
}
