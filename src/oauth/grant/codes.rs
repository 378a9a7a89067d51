//! From consent to tokens: the upstream state (created when the user approves,
//! single use, about 10 minutes), the authorization code (single use, two
//! minutes) and its redemption (RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2).

use serde::{Deserialize, Serialize};

use super::revoke::end_grant;
use super::rotation::mint;
use super::state::{
    invalid_grant, new_token, plausible_id, seal_props, AuthorizationRequest, CodeState,
    GrantError, GrantState, Keys, Pending, Props, StateProblem, Step, TokenPair, CODE_PREFIX,
    CODE_TTL_SECS, PENDING_TTL_SECS,
};
use crate::oauth::crypto::{self, purpose, Entropy};
use crate::oauth::error::OAuthError;
use crate::oauth::pkce::{self, CodeVerifier};
use crate::oauth::types::{AuthCode, StateToken, UpstreamVerifier};

/// Starts a grant when the user approves the consent page. Returns the
/// upstream state token (`<grant id>.<secret>`) that the browser carries to the
/// identity provider and back.
pub fn begin(
    existing: Option<GrantState>,
    grant_id: &str,
    request: AuthorizationRequest,
    upstream_verifier: UpstreamVerifier,
    (nonce, hold_until): (String, u64),
    now: u64,
    rng: &dyn Entropy,
) -> Step<StateToken> {
    if existing.is_some() {
        // The grant id is the consent form's: a form posted again begins
        // nothing (and a collision of random ids is never a takeover).
        return Step::fail(existing, GrantError::State(StateProblem::ConsentUsed));
    }
    let state_token = match crypto::random_secret(rng) {
        Ok(secret) => format!("{grant_id}.{secret}"),
        Err(e) => return Step::fail(None, e.into()),
    };
    let state = GrantState {
        id: grant_id.to_owned(),
        request,
        created_at: now,
        pending: Some(Pending {
            state_hash: crypto::hash_token(&state_token),
            expires_at: now + PENDING_TTL_SECS,
            upstream_verifier,
            nonce,
            taken: false,
        }),
        user_id: None,
        props: None,
        code: None,
        refresh: None,
        previous: None,
        spent: Vec::new(),
        access: Vec::new(),
        expires_at: (now + PENDING_TTL_SECS).max(hold_until),
        revoked_at: None,
        pending_effects: Vec::new(),
        indexed: false,
        hold_until,
    };
    Step::ok(Some(state), StateToken::new(state_token), Vec::new())
}

/// The grant id a state token belongs to.
pub fn grant_of_state(state_token: &str) -> Option<&str> {
    let (id, secret) = state_token.split_once('.')?;
    (plausible_id(id) && (32..=128).contains(&secret.len())).then_some(id)
}

/// What the callback needs to finish the upstream sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TakenState {
    pub request: AuthorizationRequest,
    pub upstream_verifier: UpstreamVerifier,
    pub nonce: String,
}

/// The callback consumes the state: exactly once, before it expires.
pub fn take_state(
    existing: Option<GrantState>,
    state_token: &StateToken,
    now: u64,
) -> Step<TakenState> {
    let Some(mut state) = existing else {
        return Step::fail(None, GrantError::State(StateProblem::Unknown));
    };
    let Some(pending) = state.pending.as_mut() else {
        return Step::fail(Some(state), GrantError::State(StateProblem::Completed));
    };
    if !crypto::ct_eq(
        &pending.state_hash,
        &crypto::hash_token(state_token.secret()),
    ) {
        return Step::fail(Some(state), GrantError::State(StateProblem::Unknown));
    }
    if pending.taken {
        return Step::fail(Some(state), GrantError::State(StateProblem::Used));
    }
    if now > pending.expires_at {
        return Step::fail(Some(state), GrantError::State(StateProblem::Expired));
    }
    pending.taken = true;
    let taken = TakenState {
        request: state.request.clone(),
        upstream_verifier: pending.upstream_verifier.clone(),
        nonce: pending.nonce.clone(),
    };
    Step::ok(Some(state), taken, Vec::new())
}

/// After the upstream sign-in: seals the props with a new grant key and issues
/// the authorization code. Each authorization is a new grant with a new key, so
/// re-authorizing always stores fresh upstream credentials.
pub fn issue_code(
    existing: Option<GrantState>,
    props: &Props,
    now: u64,
    keys: &Keys<'_>,
    rng: &dyn Entropy,
) -> Step<AuthCode> {
    let Some(mut state) = existing else {
        return Step::fail(None, GrantError::State(StateProblem::Unknown));
    };
    let ready = matches!(&state.pending, Some(p) if p.taken)
        && state.code.is_none()
        && state.revoked_at.is_none();
    if !ready {
        return Step::fail(Some(state), GrantError::State(StateProblem::CannotComplete));
    }
    let issued = (|| -> Result<(String, String, String), GrantError> {
        let grant_key = crypto::random_bytes::<32>(rng)?;
        let sealed = seal_props(&grant_key, props, &state.id, rng)?;
        let code = new_token(CODE_PREFIX, &state.id, rng)?;
        let wrapped = keys
            .ring
            .wrap_key(&code, &grant_key, purpose::WRAP_CODE, &state.id, rng)?;
        Ok((sealed, code, wrapped))
    })();
    let (sealed, code, wrapped) = match issued {
        Ok(v) => v,
        Err(e) => return Step::fail(Some(state), e),
    };
    state.pending = None;
    state.user_id = Some(props.user.id.clone());
    state.props = Some(sealed);
    state.code = Some(CodeState {
        hash: crypto::hash_token(&code),
        expires_at: now + CODE_TTL_SECS,
        wrapped_key: wrapped,
        redeemed: false,
    });
    state.expires_at = (now + CODE_TTL_SECS).max(state.hold_until);
    Step::ok(Some(state), AuthCode::new(code), Vec::new())
}

/// What the token endpoint presents with `grant_type=authorization_code`.
pub struct CodeRedemption<'a> {
    pub code: &'a AuthCode,
    /// The authenticated (or, for public clients, identified) client.
    pub client_id: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub resource: Option<&'a str>,
}

/// Redeems the authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2).
pub fn redeem_code(
    existing: Option<GrantState>,
    input: &CodeRedemption<'_>,
    now: u64,
    keys: &Keys<'_>,
    rng: &dyn Entropy,
) -> Step<TokenPair> {
    let Some(mut state) = existing else {
        return Step::fail(
            None,
            invalid_grant("authorization code is invalid or expired"),
        );
    };
    let presented = crypto::hash_token(input.code.secret());
    let code = state
        .code
        .clone()
        .filter(|c| crypto::ct_eq(&c.hash, &presented));
    let Some(code) = code else {
        return Step::fail(
            Some(state),
            invalid_grant("authorization code is invalid or expired"),
        );
    };
    if code.redeemed || state.revoked_at.is_some() {
        // RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for.
        let effects = end_grant(&mut state, now);
        return Step {
            state: Some(state),
            result: Err(invalid_grant(
                "authorization code was already used; the tokens issued for it are revoked",
            )),
            effects,
        };
    }
    // A code presented by another client is refused without spending it: a thief
    // holding the code must not be able to lock out the client it belongs to.
    if input.client_id != state.request.client_id {
        return Step::fail(
            Some(state),
            invalid_grant("authorization code was issued to another client"),
        );
    }
    // Otherwise the code is spent by this attempt whatever happens next: a wrong
    // verifier must not be retried against the same code.
    if let Some(c) = state.code.as_mut() {
        c.redeemed = true;
    }
    if now > code.expires_at {
        return Step::fail(Some(state), invalid_grant("authorization code has expired"));
    }
    let request = &state.request;
    // RFC 6749 §4.1.3: redirect_uri must repeat the authorization request's, when it had one.
    let redirect_ok = match input.redirect_uri {
        Some(uri) => uri == request.redirect_uri,
        None => !request.redirect_uri_sent,
    };
    if !redirect_ok {
        return Step::fail(
            Some(state),
            invalid_grant("redirect_uri does not match the authorization request"),
        );
    }
    let Some(verifier) = input.code_verifier else {
        return Step::fail(
            Some(state),
            GrantError::oauth(OAuthError::invalid_request(
                "code_verifier is required (PKCE)",
            )),
        );
    };
    let verifier = match CodeVerifier::new(verifier) {
        Ok(v) => v,
        Err(e) => return Step::fail(Some(state), GrantError::oauth(e)),
    };
    if !pkce::verify(&verifier, &request.code_challenge) {
        return Step::fail(
            Some(state),
            invalid_grant("code_verifier does not match the code_challenge"),
        );
    }
    if let Some(resource) = input.resource {
        if !crate::oauth::metadata::same_resource(resource, &request.resource) {
            return Step::fail(
                Some(state),
                GrantError::oauth(OAuthError::invalid_target(
                    "resource does not match the authorization request",
                )),
            );
        }
    }
    // A code that no key of ours opens (SECRET_KEY rotated without keeping the
    // previous one) is simply not valid: the client authorizes again.
    let Ok(grant_key) = keys.ring.unwrap_key(
        input.code.secret(),
        &code.wrapped_key,
        purpose::WRAP_CODE,
        &state.id,
    ) else {
        return Step::fail(
            Some(state),
            invalid_grant("authorization code is invalid or expired"),
        );
    };
    let scope = state.request.scope.clone();
    match mint(&mut state, &grant_key, scope, None, now, keys, rng) {
        Ok((pair, mut effects)) => {
            // The grant is live: list it for its user and its client.
            effects.extend(super::revoke::index_adds(&mut state, keys));
            Step::ok(Some(state), pair, effects)
        }
        Err(e) => Step::fail(Some(state), e),
    }
}
