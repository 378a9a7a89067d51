//! Read-only questions to a grant: is it live and what is it (the account page,
//! the admin API), and is this token of it live (RFC 7662 introspection). They
//! change nothing, so the object stores nothing for them.

use serde::{Deserialize, Serialize};

use super::{parse_token, GrantState, TokenKind};
use crate::oauth::crypto;
use crate::oauth::types::AnyToken;

/// What a live grant is, now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantStatus {
    pub client_id: String,
    pub user_id: String,
    pub scope: Vec<String>,
    pub resource: String,
    pub created_at: u64,
    /// When the refresh token was last rotated; `None` if it never was.
    pub last_refreshed_at: Option<u64>,
    /// When the grant ends unless it is refreshed before.
    pub expires_at: u64,
}

fn live(state: &GrantState, now: u64) -> bool {
    state.revoked_at.is_none()
        && state.user_id.is_some()
        && state.refresh.is_some()
        && now < state.expires_at
}

/// The grant's status, or `None` when it is not live (unknown, not yet
/// redeemed, ended, expired).
pub fn status(state: Option<&GrantState>, now: u64) -> Option<GrantStatus> {
    let state = state.filter(|s| live(s, now))?;
    let refresh = state.refresh.as_ref()?;
    Some(GrantStatus {
        client_id: state.request.client_id.clone(),
        user_id: state.user_id.clone()?,
        scope: state.request.scope.clone(),
        resource: state.request.resource.clone(),
        created_at: state.created_at,
        last_refreshed_at: (refresh.generation > 0 && refresh.issued_at > 0)
            .then_some(refresh.issued_at),
        expires_at: state.expires_at,
    })
}

/// A live token, as RFC 7662 §2.2 describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub client_id: String,
    pub sub: String,
    pub scope: Vec<String>,
    pub aud: String,
    pub exp: u64,
    /// 0 when not known (a token issued before issue times were kept).
    pub iat: u64,
    /// `refresh_token` or `access_token` (RFC 7662 §2.2 leaves the values open;
    /// the RFC 8693 token type names are the common choice).
    pub token_type: String,
}

/// Whether `token` is a live token of this grant. The current refresh token
/// only: a refresh token rotated away is not live, even within the grace
/// window that answers a retry. For an access token, the grant vouches only
/// that it is not revoked and not expired; its scope is in its KV record.
pub fn introspect(state: Option<&GrantState>, token: &AnyToken, now: u64) -> Option<TokenInfo> {
    let state = state.filter(|s| live(s, now))?;
    let (kind, grant_id) = parse_token(token.secret())?;
    if grant_id != state.id {
        return None;
    }
    let hash = crypto::hash_token(token.secret());
    let (exp, iat, token_type) = match kind {
        TokenKind::Refresh => {
            let refresh = state.refresh.as_ref()?;
            if !crypto::ct_eq(&refresh.hash, &hash) {
                return None;
            }
            (state.expires_at, refresh.issued_at, "refresh_token")
        }
        TokenKind::Access => {
            let (_, exp) = state
                .access
                .iter()
                .find(|(h, exp)| *exp > now && crypto::ct_eq(h, &hash))?;
            (*exp, 0, "access_token")
        }
        TokenKind::Code => return None,
    };
    Some(TokenInfo {
        client_id: state.request.client_id.clone(),
        sub: state.user_id.clone()?,
        scope: state.request.scope.clone(),
        aud: state.request.resource.clone(),
        exp,
        iat,
        token_type: token_type.to_owned(),
    })
}
