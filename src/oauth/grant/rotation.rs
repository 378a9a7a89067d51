//! Refresh-token rotation (OAuth 2.1 §4.3.1, RFC 6749 §6, RFC 9700 §4.14.2).
//!
//! A refresh runs in two halves, so the grant's object can refresh the upstream
//! provider's tokens between them while it still holds the grant:
//! 1. [`start`] checks the presented token against the state: a retry within
//!    the grace window gets the same pair back, a spent token ends the grant, a
//!    current one yields the grant key and the decrypted props ([`Ready`]);
//! 2. [`finish`] rotates: new access and refresh tokens, new props if the
//!    upstream tokens changed, all in one new state; or [`refuse`] ends the grant
//!    when the sign-in is no longer acceptable (user removed, upstream refused).

use super::access::AccessRecord;
use super::revoke::end_grant;
use super::state::{
    invalid_grant, new_token, open_props, seal_props, Effect, GrantError, GrantState, Keys,
    PreviousRefresh, Props, RefreshState, Step, TokenPair, ACCESS_PREFIX, REFRESH_GRACE_SECS,
    REFRESH_PREFIX, SPENT_MEMORY,
};
use crate::keys;
use crate::oauth::crypto::{self, purpose, Entropy};
use crate::oauth::error::OAuthError;
use crate::oauth::types::{AccessToken, RefreshToken};

/// What the token endpoint presents with `grant_type=refresh_token`.
pub struct RefreshRequest<'a> {
    pub refresh_token: &'a RefreshToken,
    pub client_id: &'a str,
    /// Requested scope; may only narrow the grant's (RFC 6749 §6).
    pub scope: Option<Vec<String>>,
    pub resource: Option<&'a str>,
}

/// A refresh whose token is current: what [`finish`] needs.
pub struct Ready {
    pub state: GrantState,
    pub grant_key: [u8; 32],
    /// The grant's decrypted props: the user and the upstream tokens.
    pub props: Props,
    pub scope: Vec<String>,
}

/// The first half of a refresh.
// Short-lived and moved once; boxing either half buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Start {
    /// Decided without rotating: theft, or an error.
    Done(Step<TokenPair>),
    /// A retry within the grace window: the pair it gets back, once
    /// [`replay`] has checked the sign-in policy again.
    Replay(GrantState, TokenPair),
    Ready(Ready),
}

const INVALID: &str = "refresh token is invalid, expired or revoked";

/// Checks the presented refresh token (see the module docs).
pub fn start(
    existing: Option<GrantState>,
    input: &RefreshRequest<'_>,
    now: u64,
    keys: &Keys<'_>,
) -> Start {
    let fail = |state, e| Start::Done(Step::fail(state, e));
    let Some(state) = existing else {
        return fail(None, invalid_grant(INVALID));
    };
    if state.revoked_at.is_some() || now >= state.expires_at {
        return fail(Some(state), invalid_grant(INVALID));
    }
    if input.client_id != state.request.client_id {
        return fail(
            Some(state),
            invalid_grant("refresh token was issued to another client"),
        );
    }
    let token = input.refresh_token.secret();
    let presented = crypto::hash_token(token);

    // A retry with the token that was just rotated: same answer, within the grace window.
    if let Some(prev) = state.previous.clone() {
        if crypto::ct_eq(&prev.hash, &presented) {
            if now > prev.grace_until {
                return Start::Done(theft(state, now));
            }
            let replay = keys
                .ring
                .open_for_token(token, &prev.replay, purpose::REPLAY, &state.id)
                .ok()
                .and_then(|raw| crate::http::json_from_bytes::<TokenPair>(&raw));
            return match replay {
                Some(pair) => Start::Replay(state, pair),
                // Sealed under a key no longer held: not valid, not a fault.
                None => fail(Some(state), invalid_grant(INVALID)),
            };
        }
    }
    if state.spent.iter().any(|h| crypto::ct_eq(h, &presented)) {
        return Start::Done(theft(state, now));
    }
    let current = state
        .refresh
        .clone()
        .filter(|r| crypto::ct_eq(&r.hash, &presented));
    let Some(current) = current else {
        return fail(Some(state), invalid_grant(INVALID));
    };
    if now >= state.hard_expiry(keys) {
        let mut state = state;
        let effects = end_grant(&mut state, now);
        return Start::Done(Step {
            state: Some(state),
            result: Err(invalid_grant(
                "this grant reached its maximum lifetime; authorize again",
            )),
            effects,
        });
    }
    if let Some(resource) = input.resource {
        if !crate::oauth::metadata::same_resource(resource, &state.request.resource) {
            return fail(
                Some(state),
                GrantError::oauth(OAuthError::invalid_target(
                    "resource does not match the grant",
                )),
            );
        }
    }
    let scope = match &input.scope {
        None => state.request.scope.clone(),
        Some(requested) if requested.is_empty() => {
            return fail(
                Some(state),
                GrantError::oauth(OAuthError::invalid_scope(
                    "scope may not be empty; leave it out to keep the granted scope",
                )),
            );
        }
        Some(requested) => {
            if let Some(extra) = requested.iter().find(|s| !state.request.scope.contains(s)) {
                return fail(
                    Some(state),
                    GrantError::oauth(OAuthError::invalid_scope(format!(
                        "scope '{extra}' was not granted; a refresh may only narrow the scope"
                    ))),
                );
            }
            requested.clone()
        }
    };
    // A token that no key of ours opens (SECRET_KEY rotated without keeping the
    // previous one) is not valid: the client authorizes again.
    let Ok(grant_key) = keys.ring.unwrap_key(
        token,
        &current.wrapped_key,
        purpose::WRAP_REFRESH,
        &state.id,
    ) else {
        return fail(Some(state), invalid_grant(INVALID));
    };
    // Props that do not open under the key their token unwrapped are a fault:
    // fail closed, never treat them as absent.
    let props = match state.props.as_deref() {
        Some(sealed) => match open_props(&grant_key, sealed, &state.id) {
            Ok(p) => p,
            Err(e) => return fail(Some(state), e),
        },
        None => return fail(Some(state), GrantError::Internal),
    };
    Start::Ready(Ready {
        state,
        grant_key,
        props,
        scope,
    })
}

/// A retry within the grace window gets the pair it was answered before, but
/// only while the grant may still be used: its maximum lifetime not reached,
/// and its user still allowed to sign in (`ALLOWED_USERS`), as for any refresh.
pub fn replay(
    state: GrantState,
    pair: TokenPair,
    now: u64,
    keys: &Keys<'_>,
    allowed_users: &[String],
) -> Step<TokenPair> {
    if now >= state.hard_expiry(keys) {
        let mut state = state;
        let effects = end_grant(&mut state, now);
        return Step {
            state: Some(state),
            result: Err(invalid_grant(
                "this grant reached its maximum lifetime; authorize again",
            )),
            effects,
        };
    }
    // The props open with the key the replayed (current) refresh token wraps.
    let user = state
        .refresh
        .as_ref()
        .and_then(|r| {
            keys.ring
                .unwrap_key(
                    pair.refresh_token.secret(),
                    &r.wrapped_key,
                    purpose::WRAP_REFRESH,
                    &state.id,
                )
                .ok()
        })
        .and_then(|key| open_props(&key, state.props.as_deref()?, &state.id).ok())
        .map(|p| p.user);
    match user {
        Some(user) if crate::user::user_allowed(allowed_users, &user) => {
            Step::ok(Some(state), pair, Vec::new())
        }
        Some(_) => {
            let mut state = state;
            let effects = end_grant(&mut state, now);
            Step {
                state: Some(state),
                result: Err(invalid_grant(
                    "this user is no longer allowed to sign in to this server",
                )),
                effects,
            }
        }
        None => Step::fail(Some(state), invalid_grant(INVALID)),
    }
}

/// The second half: rotates, with `new_props` when the upstream tokens changed.
pub fn finish(
    ready: Ready,
    spent: &RefreshToken,
    new_props: Option<&Props>,
    now: u64,
    keys: &Keys<'_>,
    rng: &dyn Entropy,
) -> Step<TokenPair> {
    let Ready {
        mut state,
        grant_key,
        scope,
        ..
    } = ready;
    if let Some(props) = new_props {
        match seal_props(&grant_key, props, &state.id, rng) {
            Ok(sealed) => state.props = Some(sealed),
            Err(e) => return Step::fail(Some(state), e),
        }
    }
    match mint(&mut state, &grant_key, scope, Some(spent), now, keys, rng) {
        Ok((pair, mut effects)) => {
            // A grant from before the index existed is listed at its first
            // refresh (once; later refreshes never touch the index).
            if !state.indexed {
                effects.extend(super::revoke::index_adds(&mut state, keys));
            }
            Step::ok(Some(state), pair, effects)
        }
        Err(e) => Step::fail(Some(state), e),
    }
}

/// Ends the grant instead of rotating: the sign-in behind it is no longer
/// acceptable (`why` says to the client what happened).
pub fn refuse(ready: Ready, why: &str, now: u64) -> Step<TokenPair> {
    let mut state = ready.state;
    let effects = end_grant(&mut state, now);
    Step {
        state: Some(state),
        result: Err(invalid_grant(why)),
        effects,
    }
}

/// Reuse of a spent refresh token: someone else holds a copy. End the grant.
fn theft(mut state: GrantState, now: u64) -> Step<TokenPair> {
    let effects = end_grant(&mut state, now);
    Step {
        state: Some(state),
        result: Err(invalid_grant(
            "refresh token was already used; the grant is revoked",
        )),
        effects,
    }
}

/// Issues a new access and refresh token, and returns the one KV write it
/// needs (the access-token record). `spent` is the refresh token being rotated.
pub(crate) fn mint(
    state: &mut GrantState,
    grant_key: &[u8; 32],
    scope: Vec<String>,
    spent: Option<&RefreshToken>,
    now: u64,
    keys: &Keys<'_>,
    rng: &dyn Entropy,
) -> Result<(TokenPair, Vec<Effect>), GrantError> {
    let access = new_token(ACCESS_PREFIX, &state.id, rng)?;
    let refresh = new_token(REFRESH_PREFIX, &state.id, rng)?;
    let props = state.props.clone().ok_or(GrantError::Internal)?;
    let user_id = state.user_id.clone().ok_or(GrantError::Internal)?;
    let hard_expiry = state.hard_expiry(keys);
    // Nothing outlives the grant's absolute lifetime.
    let access_expires = (now + keys.access_ttl).min(hard_expiry);
    let access_hash = crypto::hash_token(&access);
    let mut record = AccessRecord {
        grant_id: state.id.clone(),
        client_id: state.request.client_id.clone(),
        user_id,
        scope: scope.clone(),
        resource: state.request.resource.clone(),
        expires_at: access_expires,
        wrapped_key: String::new(),
        props,
        issued_at: now,
    };
    record.wrapped_key = keys.ring.wrap_key(
        &access,
        grant_key,
        purpose::WRAP_ACCESS,
        &record.binding(),
        rng,
    )?;
    let pair = TokenPair {
        access_token: AccessToken::new(access),
        refresh_token: RefreshToken::new(refresh.clone()),
        expires_in: access_expires.saturating_sub(now),
        scope,
    };

    let generation = state.refresh.as_ref().map_or(0, |r| r.generation + 1);
    if let (Some(spent), Some(old)) = (spent, state.refresh.take()) {
        if let Some(prev) = state.previous.take() {
            state.spent.push(prev.hash);
            if state.spent.len() > SPENT_MEMORY {
                state.spent.remove(0);
            }
        }
        let plain = serde_json::to_vec(&pair).map_err(|_| GrantError::Internal)?;
        state.previous = Some(PreviousRefresh {
            hash: old.hash,
            grace_until: now + REFRESH_GRACE_SECS,
            replay: keys.ring.seal_for_token(
                spent.secret(),
                &plain,
                purpose::REPLAY,
                &state.id,
                rng,
            )?,
        });
    }
    state.refresh = Some(RefreshState {
        hash: crypto::hash_token(&refresh),
        wrapped_key: keys.ring.wrap_key(
            &refresh,
            grant_key,
            purpose::WRAP_REFRESH,
            &state.id,
            rng,
        )?,
        generation,
        issued_at: now,
    });
    state.expires_at = (now + keys.refresh_ttl).min(hard_expiry);
    state.access.retain(|(_, exp)| *exp > now);
    state.access.push((access_hash.clone(), record.expires_at));

    let value = serde_json::to_string(&record).map_err(|_| GrantError::Internal)?;
    let effects = vec![Effect::Put {
        key: keys::access(&access_hash),
        value,
        ttl: access_expires.saturating_sub(now),
    }];
    Ok((pair, effects))
}
