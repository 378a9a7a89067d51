//! Ending a grant: revocation (RFC 7009), theft, code replay, a sign-in that is
//! no longer acceptable. All end the same way, in [`end_grant`].

use super::state::{Effect, GrantState, Keys, Step};
use crate::keys;
use crate::oauth::crypto;
use crate::oauth::index::IndexCommand;
use crate::oauth::types::AnyToken;

/// Ends the grant: no token of it works any more. Returns the KV deletions of
/// its access records. Keeps the first revocation time.
pub(crate) fn end_grant(state: &mut GrantState, now: u64) -> Vec<Effect> {
    let mut effects: Vec<Effect> = state
        .access
        .iter()
        .map(|(hash, _)| Effect::Delete {
            key: keys::access(hash),
        })
        .collect();
    effects.extend(unindex(state));
    state.revoked_at.get_or_insert(now);
    state.access.clear();
    state.refresh = None;
    state.previous = None;
    state.code = None;
    effects
}

/// Ends the grant (RFC 7009 §2.1: revoking either token ends all of the grant's
/// tokens). `client_id` must be the grant's client; anything else is ignored
/// silently, as RFC 7009 §2.2 asks for unknown tokens.
pub fn revoke(
    existing: Option<GrantState>,
    token: &AnyToken,
    client_id: &str,
    now: u64,
) -> Step<()> {
    let Some(mut state) = existing else {
        return Step::ok(None, (), Vec::new());
    };
    let hash = crypto::hash_token(token.secret());
    let known = state
        .refresh
        .as_ref()
        .is_some_and(|r| crypto::ct_eq(&r.hash, &hash))
        || state.access.iter().any(|(h, _)| crypto::ct_eq(h, &hash))
        || state
            .previous
            .as_ref()
            .is_some_and(|p| crypto::ct_eq(&p.hash, &hash));
    if !known || state.request.client_id != client_id || state.revoked_at.is_some() {
        return Step::ok(Some(state), (), Vec::new());
    }
    let effects = end_grant(&mut state, now);
    Step::ok(Some(state), (), effects)
}

/// The index entries of a grant that just became live (its code was redeemed).
pub(crate) fn index_adds(state: &mut GrantState, keys: &Keys<'_>) -> Vec<Effect> {
    let Some(user_id) = state.user_id.clone() else {
        return Vec::new();
    };
    let add = || IndexCommand::Add(state.id.clone(), state.hard_expiry(keys));
    let out = vec![
        Effect::Index(keys::user_index(&user_id), add()),
        Effect::Index(keys::client_index(&state.request.client_id), add()),
    ];
    state.indexed = true;
    out
}

/// The removals of a grant from its indexes, once (when it ends or expires).
pub(crate) fn unindex(state: &mut GrantState) -> Vec<Effect> {
    if !std::mem::take(&mut state.indexed) {
        return Vec::new();
    }
    let remove = || IndexCommand::Remove(state.id.clone());
    let mut out = vec![Effect::Index(
        keys::client_index(&state.request.client_id),
        remove(),
    )];
    if let Some(user_id) = &state.user_id {
        out.insert(0, Effect::Index(keys::user_index(user_id), remove()));
    }
    out
}

/// Ends the grant on behalf of its user (the account page) or an operator
/// (`user_id` is `None`): no token needed. Answers whether a grant of that
/// user was there to end; ending an ended grant again changes nothing.
pub fn end_by_owner(existing: Option<GrantState>, user_id: Option<&str>, now: u64) -> Step<bool> {
    let Some(mut state) = existing else {
        return Step::ok(None, false, Vec::new());
    };
    let owned = match user_id {
        None => true,
        Some(u) => state.user_id.as_deref() == Some(u),
    };
    if !owned {
        return Step::ok(Some(state), false, Vec::new());
    }
    let effects = if state.revoked_at.is_some() && !state.indexed {
        Vec::new()
    } else {
        end_grant(&mut state, now)
    };
    Step::ok(Some(state), true, effects)
}
