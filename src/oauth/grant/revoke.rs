//! Ending a grant: revocation (RFC 7009), theft, code replay, a sign-in that is
//! no longer acceptable. All end the same way, in [`end_grant`].

use super::{Effect, GrantState, Step};
use crate::oauth::crypto;
use crate::oauth::store::keys as store_keys;
use crate::oauth::types::AnyToken;

/// Ends the grant: no token of it works any more. Returns the KV deletions of
/// its access records. Keeps the first revocation time.
pub(crate) fn end_grant(state: &mut GrantState, now: u64) -> Vec<Effect> {
    let effects = state
        .access
        .iter()
        .map(|(hash, _)| Effect::Delete {
            key: store_keys::access(hash),
        })
        .collect();
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
