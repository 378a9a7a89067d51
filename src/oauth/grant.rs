//! A grant's life, as one state machine that a Durable Object per grant runs
//! one command at a time: consent → upstream sign-in → authorization code →
//! tokens → rotations → revocation.
//!
//! Serializing every command of a grant in one place is what makes the
//! guarantees hold (RFC 6749 §4.1.2 and §10.5, OAuth 2.1 §4.3.1 and §4.1.3):
//! - an authorization code is redeemed at most once, however many requests race;
//!   a second redemption revokes the tokens the first one got;
//! - a refresh token rotates exactly once; a retry with the same token within
//!   [`REFRESH_GRACE_SECS`] gets the *same* new pair (lost responses are common);
//!   presenting a spent refresh token after that is treated as theft and revokes
//!   the grant.
//!
//! The functions here are pure: they take the stored state and return the new
//! state, the answer, and the KV writes the caller must make ([`Effect`]).

use serde::{Deserialize, Serialize};

use crate::oauth::crypto::{self, CryptoError, Entropy};
use crate::oauth::error::OAuthError;
use crate::oauth::pkce::{self, CodeChallenge, CodeVerifier};
use crate::upstream::UpstreamTokens;
use crate::user::{UserContext, UserProfile};

/// How long a consent waits for the upstream sign-in (state lifetime).
pub const PENDING_TTL_SECS: u64 = 600;
/// How long an authorization code is valid (OAuth 2.1 §4.1.2: short).
pub const CODE_TTL_SECS: u64 = 120;
/// How long a retried refresh with the just-spent token gets the same answer.
pub const REFRESH_GRACE_SECS: u64 = 60;
/// How many older spent refresh tokens are remembered for theft detection.
pub const SPENT_MEMORY: usize = 16;

const CODE_PREFIX: &str = "mcpc";
const REFRESH_PREFIX: &str = "mcpr";
const ACCESS_PREFIX: &str = "mcpa";

/// What a token is, read off its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Code,
    Refresh,
    Access,
}

/// Splits `<prefix>.<grant id>.<secret>` and returns the kind and grant id.
/// Tokens carry their grant id so a request reaches the grant's serializer
/// without a storage lookup; the id is not a secret.
pub fn parse_token(token: &str) -> Option<(TokenKind, &str)> {
    let mut parts = token.splitn(3, '.');
    let kind = match parts.next()? {
        CODE_PREFIX => TokenKind::Code,
        REFRESH_PREFIX => TokenKind::Refresh,
        ACCESS_PREFIX => TokenKind::Access,
        _ => return None,
    };
    let grant_id = parts.next()?;
    let secret = parts.next()?;
    let id_ok = (16..=64).contains(&grant_id.len())
        && grant_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok || secret.len() < 32 || secret.len() > 128 {
        return None;
    }
    Some((kind, grant_id))
}

fn new_token(prefix: &str, grant_id: &str, rng: &dyn Entropy) -> Result<String, CryptoError> {
    Ok(format!(
        "{prefix}.{grant_id}.{}",
        crypto::random_secret(rng)?
    ))
}

/// The validated authorization request the user consented to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the client sent `redirect_uri` (it may be left out when exactly one is
    /// registered); only then must the token request repeat it (RFC 6749 §4.1.3).
    #[serde(default = "yes")]
    pub redirect_uri_sent: bool,
    pub scope: Vec<String>,
    /// RFC 8707 resource indicator the tokens will be bound to.
    pub resource: String,
    pub code_challenge: CodeChallenge,
    /// The client's `state`, returned to it untouched.
    pub state: Option<String>,
}

fn yes() -> bool {
    true
}

/// The decrypted contents of a grant: who the user is and their upstream tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Props {
    pub user: UserProfile,
    pub upstream: Option<UpstreamTokens>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    state_hash: String,
    expires_at: u64,
    /// PKCE verifier and nonce towards the upstream provider (server-side only).
    upstream_verifier: String,
    nonce: String,
    /// Set once the callback took the state; the sign-in may then complete once.
    taken: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CodeState {
    hash: String,
    expires_at: u64,
    wrapped_key: String,
    redeemed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefreshState {
    hash: String,
    wrapped_key: String,
    generation: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PreviousRefresh {
    hash: String,
    grace_until: u64,
    /// The pair issued for it, sealed under a key derived from the spent token,
    /// so only its holder can replay it.
    replay: String,
}

/// Everything the grant's Durable Object stores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantState {
    pub id: String,
    pub request: AuthorizationRequest,
    pub created_at: u64,
    pending: Option<Pending>,
    /// The signed-in user's id, once known (not secret; used for the KV index).
    pub user_id: Option<String>,
    /// `Props` sealed with the grant key.
    props: Option<String>,
    code: Option<CodeState>,
    refresh: Option<RefreshState>,
    previous: Option<PreviousRefresh>,
    spent: Vec<String>,
    /// Hashes and expiry of access tokens that may still be live (for revocation).
    access: Vec<(String, u64)>,
    /// Unix seconds after which nothing of this grant is valid.
    pub expires_at: u64,
    pub revoked_at: Option<u64>,
}

/// A KV write the caller must make after storing the new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Put {
        key: String,
        value: String,
        ttl: u64,
    },
    Delete {
        key: String,
    },
}

/// Issued tokens (RFC 6749 §5.1).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub scope: Vec<String>,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenPair {
    /// The JSON body of a successful token response.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "scope": self.scope.join(" "),
        })
    }
}

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
}

/// A grant's entry in the KV index `grant:<user id>:<grant id>` (no secrets).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantSummary {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: Vec<String>,
    pub resource: String,
    pub created_at: u64,
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

pub fn access_key(token_hash: &str) -> String {
    format!("access:{token_hash}")
}

pub fn grant_index_key(user_id: &str, grant_id: &str) -> String {
    format!("grant:{}:{grant_id}", index_safe(user_id))
}

pub fn grant_index_prefix(user_id: &str) -> String {
    format!("grant:{}:", index_safe(user_id))
}

/// User ids contain `:` (`github:42`); keep the index key unambiguous.
fn index_safe(user_id: &str) -> String {
    user_id.replace('%', "%25").replace(':', "%3A")
}

/// Secrets and lifetimes the machine needs; passed in, never stored.
pub struct Keys<'a> {
    pub server_secret: &'a str,
    pub access_ttl: u64,
    pub refresh_ttl: u64,
}

/// Why a grant command failed, as the token endpoint reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// An RFC 6749 error to return to the client.
    #[error("{0}")]
    OAuth(OAuthError),
    /// The callback's state is unknown, spent, expired or from another sign-in.
    #[error("{0}")]
    State(&'static str),
    #[error("internal error")]
    Internal,
}

impl From<CryptoError> for GrantError {
    fn from(_: CryptoError) -> Self {
        GrantError::Internal
    }
}

fn invalid_grant(description: &str) -> GrantError {
    GrantError::OAuth(OAuthError::invalid_grant(description))
}

/// The outcome of a command: the state to store (or `None` to delete it), the
/// answer, and the KV writes to make after the state is stored.
pub struct Step<T> {
    pub state: Option<GrantState>,
    pub result: Result<T, GrantError>,
    pub effects: Vec<Effect>,
}

impl<T> Step<T> {
    fn fail(state: Option<GrantState>, error: GrantError) -> Step<T> {
        Step {
            state,
            result: Err(error),
            effects: Vec::new(),
        }
    }
}

/// Starts a grant when the user approves the consent page. Returns the
/// upstream state token (`<grant id>.<secret>`) that the browser carries to the
/// identity provider and back.
pub fn begin(
    existing: Option<GrantState>,
    grant_id: &str,
    request: AuthorizationRequest,
    upstream_verifier: String,
    nonce: String,
    now: u64,
    rng: &dyn Entropy,
) -> Step<String> {
    if existing.is_some() {
        return Step::fail(existing, GrantError::Internal);
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
        expires_at: now + PENDING_TTL_SECS,
        revoked_at: None,
    };
    Step {
        state: Some(state),
        result: Ok(state_token),
        effects: Vec::new(),
    }
}

/// The grant id a state token belongs to.
pub fn grant_of_state(state_token: &str) -> Option<&str> {
    let (id, secret) = state_token.split_once('.')?;
    let ok = (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && (32..=128).contains(&secret.len());
    ok.then_some(id)
}

/// What the callback needs to finish the upstream sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TakenState {
    pub request: AuthorizationRequest,
    pub upstream_verifier: String,
    pub nonce: String,
}

/// The callback consumes the state: exactly once, before it expires.
pub fn take_state(existing: Option<GrantState>, state_token: &str, now: u64) -> Step<TakenState> {
    let Some(mut state) = existing else {
        return Step::fail(
            None,
            GrantError::State(
                "this sign-in is unknown or has expired; start again from your MCP client",
            ),
        );
    };
    let Some(pending) = state.pending.as_mut() else {
        return Step::fail(
            Some(state),
            GrantError::State(
                "this sign-in was already completed; start again from your MCP client",
            ),
        );
    };
    if !crypto::ct_eq(&pending.state_hash, &crypto::hash_token(state_token)) {
        return Step::fail(
            Some(state),
            GrantError::State(
                "this sign-in is unknown or has expired; start again from your MCP client",
            ),
        );
    }
    if pending.taken {
        return Step::fail(
            Some(state),
            GrantError::State(
                "this sign-in link was already used; start again from your MCP client",
            ),
        );
    }
    if now > pending.expires_at {
        return Step::fail(
            Some(state),
            GrantError::State(
                "this sign-in took too long and expired; start again from your MCP client",
            ),
        );
    }
    pending.taken = true;
    let taken = TakenState {
        request: state.request.clone(),
        upstream_verifier: pending.upstream_verifier.clone(),
        nonce: pending.nonce.clone(),
    };
    Step {
        state: Some(state),
        result: Ok(taken),
        effects: Vec::new(),
    }
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
) -> Step<String> {
    let Some(mut state) = existing else {
        return Step::fail(
            None,
            GrantError::State("this sign-in is unknown or has expired"),
        );
    };
    let ready = matches!(&state.pending, Some(p) if p.taken)
        && state.code.is_none()
        && state.revoked_at.is_none();
    if !ready {
        return Step::fail(
            Some(state),
            GrantError::State("this sign-in cannot be completed twice"),
        );
    }
    let issued = (|| -> Result<(String, String, String), GrantError> {
        let grant_key = crypto::random_bytes::<32>(rng)?;
        let plain = serde_json::to_vec(props).map_err(|_| GrantError::Internal)?;
        let sealed = crypto::seal(&grant_key, &plain, state.id.as_bytes(), rng)?;
        let code = new_token(CODE_PREFIX, &state.id, rng)?;
        let wrapped = crypto::wrap_key(keys.server_secret, &code, &grant_key, &state.id, rng)?;
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
    state.expires_at = now + CODE_TTL_SECS;
    Step {
        state: Some(state),
        result: Ok(code),
        effects: Vec::new(),
    }
}

/// What the token endpoint presents with `grant_type=authorization_code`.
pub struct CodeRedemption<'a> {
    pub code: &'a str,
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
    let presented = crypto::hash_token(input.code);
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
            GrantError::OAuth(OAuthError::invalid_request(
                "code_verifier is required (PKCE)",
            )),
        );
    };
    let verifier = match CodeVerifier::new(verifier) {
        Ok(v) => v,
        Err(e) => return Step::fail(Some(state), GrantError::OAuth(e)),
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
                GrantError::OAuth(OAuthError::invalid_target(
                    "resource does not match the authorization request",
                )),
            );
        }
    }
    let grant_key =
        match crypto::unwrap_key(keys.server_secret, input.code, &code.wrapped_key, &state.id) {
            Ok(k) => k,
            Err(e) => return Step::fail(Some(state), e.into()),
        };
    let scope = state.request.scope.clone();
    match mint(&mut state, &grant_key, scope, None, now, keys, rng) {
        Ok((pair, effects)) => Step {
            state: Some(state),
            result: Ok(pair),
            effects,
        },
        Err(e) => Step::fail(Some(state), e),
    }
}

/// What the token endpoint presents with `grant_type=refresh_token`.
pub struct RefreshRequest<'a> {
    pub refresh_token: &'a str,
    pub client_id: &'a str,
    /// Requested scope; may only narrow the grant's (RFC 6749 §6).
    pub scope: Option<Vec<String>>,
    pub resource: Option<&'a str>,
    /// New props, when the caller refreshed the upstream tokens first.
    pub new_props: Option<Props>,
}

/// Rotates a refresh token (OAuth 2.1 §4.3.1). See the module docs for the policy.
pub fn refresh(
    existing: Option<GrantState>,
    input: RefreshRequest<'_>,
    now: u64,
    keys: &Keys<'_>,
    rng: &dyn Entropy,
) -> Step<TokenPair> {
    let Some(mut state) = existing else {
        return Step::fail(
            None,
            invalid_grant("refresh token is invalid, expired or revoked"),
        );
    };
    if state.revoked_at.is_some() || now > state.expires_at {
        return Step::fail(
            Some(state),
            invalid_grant("refresh token is invalid, expired or revoked"),
        );
    }
    if input.client_id != state.request.client_id {
        return Step::fail(
            Some(state),
            invalid_grant("refresh token was issued to another client"),
        );
    }
    let presented = crypto::hash_token(input.refresh_token);

    // A retry with the token that was just rotated: same answer, within the grace window.
    if let Some(prev) = state.previous.clone() {
        if crypto::ct_eq(&prev.hash, &presented) {
            if now <= prev.grace_until {
                let key = crypto::wrapping_key(keys.server_secret, input.refresh_token);
                let replay = crypto::open(&key, &prev.replay, state.id.as_bytes())
                    .ok()
                    .and_then(|raw| serde_json::from_slice::<TokenPair>(&raw).ok());
                return match replay {
                    Some(pair) => Step {
                        state: Some(state),
                        result: Ok(pair),
                        effects: Vec::new(),
                    },
                    None => Step::fail(Some(state), GrantError::Internal),
                };
            }
            return theft(state, now);
        }
    }
    if state.spent.iter().any(|h| crypto::ct_eq(h, &presented)) {
        return theft(state, now);
    }
    let current = state
        .refresh
        .clone()
        .filter(|r| crypto::ct_eq(&r.hash, &presented));
    let Some(current) = current else {
        return Step::fail(
            Some(state),
            invalid_grant("refresh token is invalid, expired or revoked"),
        );
    };
    if let Some(resource) = input.resource {
        if !crate::oauth::metadata::same_resource(resource, &state.request.resource) {
            return Step::fail(
                Some(state),
                GrantError::OAuth(OAuthError::invalid_target(
                    "resource does not match the grant",
                )),
            );
        }
    }
    let scope = match input.scope {
        None => state.request.scope.clone(),
        Some(requested) => {
            if let Some(extra) = requested.iter().find(|s| !state.request.scope.contains(s)) {
                return Step::fail(
                    Some(state),
                    GrantError::OAuth(OAuthError::invalid_scope(format!(
                        "scope '{extra}' was not granted; a refresh may only narrow the scope"
                    ))),
                );
            }
            requested
        }
    };
    let grant_key = match crypto::unwrap_key(
        keys.server_secret,
        input.refresh_token,
        &current.wrapped_key,
        &state.id,
    ) {
        Ok(k) => k,
        Err(e) => return Step::fail(Some(state), e.into()),
    };
    if let Some(props) = &input.new_props {
        let sealed = serde_json::to_vec(props)
            .map_err(|_| GrantError::Internal)
            .and_then(|plain| {
                crypto::seal(&grant_key, &plain, state.id.as_bytes(), rng).map_err(GrantError::from)
            });
        match sealed {
            Ok(s) => state.props = Some(s),
            Err(e) => return Step::fail(Some(state), e),
        }
    }
    match mint(
        &mut state,
        &grant_key,
        scope,
        Some(input.refresh_token),
        now,
        keys,
        rng,
    ) {
        Ok((pair, effects)) => Step {
            state: Some(state),
            result: Ok(pair),
            effects,
        },
        Err(e) => Step::fail(Some(state), e),
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

/// Issues a new access and refresh token. `spent` is the refresh token being
/// rotated, if any.
fn mint(
    state: &mut GrantState,
    grant_key: &[u8; 32],
    scope: Vec<String>,
    spent: Option<&str>,
    now: u64,
    keys: &Keys<'_>,
    rng: &dyn Entropy,
) -> Result<(TokenPair, Vec<Effect>), GrantError> {
    let access = new_token(ACCESS_PREFIX, &state.id, rng)?;
    let refresh = new_token(REFRESH_PREFIX, &state.id, rng)?;
    let props = state.props.clone().ok_or(GrantError::Internal)?;
    let user_id = state.user_id.clone().ok_or(GrantError::Internal)?;
    let access_hash = crypto::hash_token(&access);
    let mut record = AccessRecord {
        grant_id: state.id.clone(),
        client_id: state.request.client_id.clone(),
        user_id: user_id.clone(),
        scope: scope.clone(),
        resource: state.request.resource.clone(),
        expires_at: now + keys.access_ttl,
        wrapped_key: String::new(),
        props,
    };
    record.wrapped_key = crypto::wrap_key(
        keys.server_secret,
        &access,
        grant_key,
        &record.binding(),
        rng,
    )?;
    let pair = TokenPair {
        access_token: access,
        refresh_token: refresh.clone(),
        expires_in: keys.access_ttl,
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
        let replay_key = crypto::wrapping_key(keys.server_secret, spent);
        let plain = serde_json::to_vec(&pair).map_err(|_| GrantError::Internal)?;
        state.previous = Some(PreviousRefresh {
            hash: old.hash,
            grace_until: now + REFRESH_GRACE_SECS,
            replay: crypto::seal(&replay_key, &plain, state.id.as_bytes(), rng)?,
        });
    }
    state.refresh = Some(RefreshState {
        hash: crypto::hash_token(&refresh),
        wrapped_key: crypto::wrap_key(keys.server_secret, &refresh, grant_key, &state.id, rng)?,
        generation,
    });
    state.expires_at = now + keys.refresh_ttl;
    state.access.retain(|(_, exp)| *exp > now);
    state.access.push((access_hash.clone(), record.expires_at));

    let summary = GrantSummary {
        grant_id: state.id.clone(),
        client_id: state.request.client_id.clone(),
        user_id: user_id.clone(),
        scope: state.request.scope.clone(),
        resource: state.request.resource.clone(),
        created_at: state.created_at,
    };
    let effects = vec![
        Effect::Put {
            key: access_key(&access_hash),
            value: serde_json::to_string(&record).map_err(|_| GrantError::Internal)?,
            ttl: keys.access_ttl,
        },
        Effect::Put {
            key: grant_index_key(&user_id, &state.id),
            value: serde_json::to_string(&summary).map_err(|_| GrantError::Internal)?,
            ttl: keys.refresh_ttl,
        },
    ];
    Ok((pair, effects))
}

/// Ends the grant: no token of it works any more. Returns the KV deletions of its
/// access records and index entry. Keeps the first revocation time.
fn end_grant(state: &mut GrantState, now: u64) -> Vec<Effect> {
    let effects = revoke_effects(state);
    state.revoked_at.get_or_insert(now);
    state.access.clear();
    state.refresh = None;
    state.previous = None;
    effects
}

fn revoke_effects(state: &GrantState) -> Vec<Effect> {
    let mut effects: Vec<Effect> = state
        .access
        .iter()
        .map(|(hash, _)| Effect::Delete {
            key: access_key(hash),
        })
        .collect();
    if let Some(user) = &state.user_id {
        effects.push(Effect::Delete {
            key: grant_index_key(user, &state.id),
        });
    }
    effects
}

/// Ends the grant (RFC 7009 §2.1: revoking either token ends all of the grant's
/// tokens). `client_id` must be the grant's client; anything else is ignored
/// silently, as RFC 7009 §2.2 asks for unknown tokens.
pub fn revoke(existing: Option<GrantState>, token: &str, client_id: &str, now: u64) -> Step<()> {
    let Some(mut state) = existing else {
        return Step {
            state: None,
            result: Ok(()),
            effects: Vec::new(),
        };
    };
    let hash = crypto::hash_token(token);
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
        return Step {
            state: Some(state),
            result: Ok(()),
            effects: Vec::new(),
        };
    }
    let effects = end_grant(&mut state, now);
    Step {
        state: Some(state),
        result: Ok(()),
        effects,
    }
}

/// Decrypts a grant's props with a refresh token (before a rotation, so the
/// caller can refresh upstream tokens). `None` when the token is not current.
pub fn props_for_refresh(
    state: &GrantState,
    refresh_token: &str,
    keys: &Keys<'_>,
) -> Option<Props> {
    let current = state.refresh.as_ref()?;
    if state.revoked_at.is_some()
        || !crypto::ct_eq(&current.hash, &crypto::hash_token(refresh_token))
    {
        return None;
    }
    let key = crypto::unwrap_key(
        keys.server_secret,
        refresh_token,
        &current.wrapped_key,
        &state.id,
    )
    .ok()?;
    let plain = crypto::open(&key, state.props.as_ref()?, state.id.as_bytes()).ok()?;
    serde_json::from_slice(&plain).ok()
}

/// Why an access token was not accepted at /mcp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("the access token is invalid, expired or revoked")]
    Invalid,
    #[error("the access token was issued for another resource")]
    WrongResource,
}

/// Checks an access token against its record (the one KV read of /mcp) and
/// decrypts the user context.
pub fn authenticate(
    record: Option<&str>,
    token: &str,
    resource: &str,
    now: u64,
    server_secret: &str,
) -> Result<UserContext, AccessError> {
    let record: AccessRecord = record
        .and_then(|r| serde_json::from_slice(r.as_bytes()).ok())
        .ok_or(AccessError::Invalid)?;
    match parse_token(token) {
        Some((TokenKind::Access, grant)) if grant == record.grant_id => {}
        _ => return Err(AccessError::Invalid),
    }
    if now >= record.expires_at {
        return Err(AccessError::Invalid);
    }
    // RFC 8707: only tokens minted for this resource are accepted here.
    if !crate::oauth::metadata::same_resource(&record.resource, resource) {
        return Err(AccessError::WrongResource);
    }
    // The record's fields are bound into the wrapped key: an edited record (a wider
    // scope, a later expiry, another resource) does not unwrap.
    let key = crypto::unwrap_key(server_secret, token, &record.wrapped_key, &record.binding())
        .map_err(|_| AccessError::Invalid)?;
    let plain = crypto::open(&key, &record.props, record.grant_id.as_bytes())
        .map_err(|_| AccessError::Invalid)?;
    let props: Props = serde_json::from_slice(&plain).map_err(|_| AccessError::Invalid)?;
    Ok(UserContext {
        upstream_token: props.upstream.as_ref().map(|u| u.access_secret()),
        user: props.user,
        scopes: record.scope,
        client_id: Some(record.client_id),
    })
}
