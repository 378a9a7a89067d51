//! Read-only questions to a grant: is it live and what is it (the account page,
//! the admin API), and is this token of it live (RFC 7662 introspection). They
//! change nothing, so the object stores nothing for them. Both answer with one
//! type, [`GrantView`] (one decoder fewer in the bundle).

use serde::{Deserialize, Serialize};

use super::state::{parse_token, GrantState, TokenKind};
use crate::oauth::crypto;
use crate::oauth::types::AnyToken;

/// A live grant, or a live token of it. On the wire it is a JSON array
/// ([`Wire`]): a tuple decoder is much smaller than a named-field one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Wire", into = "Wire")]
pub struct GrantView {
    pub client_id: String,
    pub user_id: String,
    pub scope: Vec<String>,
    /// The RFC 8707 resource (the token audience).
    pub resource: String,
    /// The host of the redirect URI the grant was issued for.
    pub redirect_host: String,
    /// For a grant: when it was created. For a token: when it was issued (RFC
    /// 7662 `iat`; 0 when not known, for tokens issued before it was kept).
    pub issued_at: u64,
    /// When the refresh token was last rotated; `None` if it never was.
    pub last_refreshed_at: Option<u64>,
    /// For a grant: when it ends unless refreshed before. For a token: its expiry.
    pub expires_at: u64,
    /// For a token: `refresh_token` or `access_token` (RFC 7662 §2.2 leaves
    /// the values open; these are the RFC 8693 names). `None` for a grant.
    pub token_type: Option<String>,
}

/// [`GrantView`]'s fields, in order.
#[derive(Serialize, Deserialize)]
struct Wire(
    String,
    String,
    Vec<String>,
    String,
    String,
    u64,
    Option<u64>,
    u64,
    Option<String>,
);

impl From<Wire> for GrantView {
    fn from(w: Wire) -> GrantView {
        GrantView {
            client_id: w.0,
            user_id: w.1,
            scope: w.2,
            resource: w.3,
            redirect_host: w.4,
            issued_at: w.5,
            last_refreshed_at: w.6,
            expires_at: w.7,
            token_type: w.8,
        }
    }
}

impl From<GrantView> for Wire {
    fn from(v: GrantView) -> Wire {
        Wire(
            v.client_id,
            v.user_id,
            v.scope,
            v.resource,
            v.redirect_host,
            v.issued_at,
            v.last_refreshed_at,
            v.expires_at,
            v.token_type,
        )
    }
}

fn live(state: &GrantState, now: u64) -> bool {
    state.revoked_at.is_none()
        && state.user_id.is_some()
        && state.refresh.is_some()
        && now < state.expires_at
}

fn view(
    state: &GrantState,
    issued_at: u64,
    expires_at: u64,
    token_type: Option<&str>,
) -> Option<GrantView> {
    let refresh = state.refresh.as_ref()?;
    Some(GrantView {
        client_id: state.request.client_id.clone(),
        user_id: state.user_id.clone()?,
        scope: state.request.scope.clone(),
        resource: state.request.resource.clone(),
        redirect_host: crate::oauth::redirect::redirect_host(&state.request.redirect_uri),
        issued_at,
        last_refreshed_at: (refresh.generation > 0 && refresh.issued_at > 0)
            .then_some(refresh.issued_at),
        expires_at,
        token_type: token_type.map(str::to_owned),
    })
}

/// The grant's status, or `None` when it is not live (unknown, not yet
/// redeemed, ended, expired).
pub fn status(state: Option<&GrantState>, now: u64) -> Option<GrantView> {
    let state = state.filter(|s| live(s, now))?;
    view(state, state.created_at, state.expires_at, None)
}

/// Whether `token` is a live token of this grant. The current refresh token
/// only: a refresh token rotated away is not live, even within the grace
/// window that answers a retry. For an access token, the grant vouches only
/// that it is not revoked and not expired; its scope is in its KV record.
pub fn introspect(state: Option<&GrantState>, token: &AnyToken, now: u64) -> Option<GrantView> {
    let state = state.filter(|s| live(s, now))?;
    let (kind, grant_id) = parse_token(token.secret())?;
    if grant_id != state.id {
        return None;
    }
    let hash = crypto::hash_token(token.secret());
    match kind {
        TokenKind::Refresh => {
            let refresh = state.refresh.as_ref()?;
            if !crypto::ct_eq(&refresh.hash, &hash) {
                return None;
            }
            view(
                state,
                refresh.issued_at,
                state.expires_at,
                Some("refresh_token"),
            )
        }
        TokenKind::Access => {
            let (_, exp) = state
                .access
                .iter()
                .find(|(h, exp)| *exp > now && crypto::ct_eq(h, &hash))?;
            view(state, 0, *exp, Some("access_token"))
        }
        TokenKind::Code => None,
    }
}
