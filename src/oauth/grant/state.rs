//! A grant's state as its object stores it ([`GrantState`]), what a step
//! returns ([`Step`], its KV effects: [`Effect`]), the secrets and lifetimes
//! it is given ([`Keys`]), its errors ([`GrantError`]), and the token shapes
//! (`<prefix>.<grant id>.<secret>`, [`parse_token`]) every file of `grant/`
//! shares.

use serde::{Deserialize, Serialize};

use crate::oauth::crypto::{self, CryptoError, Entropy, Keyring};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::pkce::CodeChallenge;
use crate::oauth::types::{AccessToken, RefreshToken, UpstreamVerifier};
use crate::upstream::UpstreamTokens;
use crate::user::UserProfile;

/// How long a consent waits for the upstream sign-in (state lifetime).
pub const PENDING_TTL_SECS: u64 = 600;
/// How long an authorization code is valid (OAuth 2.1 §4.1.2: short).
pub const CODE_TTL_SECS: u64 = 120;
/// How long a retried refresh with the just-spent token gets the same answer.
pub const REFRESH_GRACE_SECS: u64 = 60;
/// How many older spent refresh tokens are remembered for theft detection.
pub const SPENT_MEMORY: usize = 16;

pub(crate) const CODE_PREFIX: &str = "mcpc";
pub(crate) const REFRESH_PREFIX: &str = "mcpr";
pub(crate) const ACCESS_PREFIX: &str = "mcpa";

/// What a token is, read off its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Code,
    Refresh,
    Access,
}

/// Whether `id` has the shape of the ids we issue (base64url, 16 to 64 characters).
pub fn plausible_id(id: &str) -> bool {
    (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
    if !plausible_id(grant_id) || secret.len() < 32 || secret.len() > 128 {
        return None;
    }
    Some((kind, grant_id))
}

pub(crate) fn new_token(
    prefix: &str,
    grant_id: &str,
    rng: &dyn Entropy,
) -> Result<String, CryptoError> {
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
pub(crate) struct Pending {
    pub(crate) state_hash: String,
    pub(crate) expires_at: u64,
    /// PKCE verifier and nonce towards the upstream provider (server-side only,
    /// single use, gone once the code is issued).
    pub(crate) upstream_verifier: UpstreamVerifier,
    pub(crate) nonce: String,
    /// Set once the callback took the state; the sign-in may then complete once.
    pub(crate) taken: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CodeState {
    pub(crate) hash: String,
    pub(crate) expires_at: u64,
    pub(crate) wrapped_key: String,
    pub(crate) redeemed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RefreshState {
    pub(crate) hash: String,
    pub(crate) wrapped_key: String,
    pub(crate) generation: u32,
    /// When this refresh token was issued (0 in states stored before it was kept).
    #[serde(default)]
    pub(crate) issued_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PreviousRefresh {
    pub(crate) hash: String,
    pub(crate) grace_until: u64,
    /// The pair issued for it, sealed under a key derived from the spent token,
    /// so only its holder can replay it.
    pub(crate) replay: String,
}

/// Everything the grant's Durable Object stores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantState {
    pub id: String,
    pub request: AuthorizationRequest,
    pub created_at: u64,
    pub(crate) pending: Option<Pending>,
    /// The signed-in user's id, once known (not secret).
    pub user_id: Option<String>,
    /// `Props` sealed with the grant key.
    pub(crate) props: Option<String>,
    pub(crate) code: Option<CodeState>,
    pub(crate) refresh: Option<RefreshState>,
    pub(crate) previous: Option<PreviousRefresh>,
    pub(crate) spent: Vec<String>,
    /// Hashes and expiry of access tokens that may still be live (for revocation).
    pub(crate) access: Vec<(String, u64)>,
    /// Unix seconds after which nothing of this grant is valid.
    pub expires_at: u64,
    pub revoked_at: Option<u64>,
    /// KV effects of a committed transition that are not known to be applied
    /// yet. Stored with the state they belong to, applied after it, and retried
    /// (by the next command and by the object's alarm) until they are.
    #[serde(default)]
    pub pending_effects: Vec<Effect>,
    /// Whether the grant is listed in its user's and client's index
    /// (`oauth::index`): set when the code is redeemed, cleared when the
    /// removals are queued.
    #[serde(default)]
    pub indexed: bool,
    /// Until when the consent form that began this grant is valid: the object
    /// is kept at least that long (as a trace, if the sign-in was abandoned),
    /// so posting the same form again begins nothing (single-use consent).
    #[serde(default)]
    pub hold_until: u64,
}

impl GrantState {
    /// When the grant ends at the latest, however often it is refreshed.
    pub fn hard_expiry(&self, keys: &Keys<'_>) -> u64 {
        self.created_at.saturating_add(keys.max_lifetime)
    }
}

/// A KV write the caller must make after storing the new state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Put {
        key: String,
        value: String,
        ttl: u64,
    },
    Delete {
        key: String,
    },
    /// A change to a grant index object (`user:<id>` or `client:<id>`); not a
    /// KV write. Applied after the state is stored, retried like deletes.
    /// (The index's name, the change.) A tuple: a smaller decoder.
    Index(String, crate::oauth::index::IndexCommand),
}

impl Effect {
    pub fn is_index(&self) -> bool {
        matches!(self, Effect::Index(..))
    }
}

/// Issued tokens (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    pub access_token: AccessToken,
    pub refresh_token: RefreshToken,
    pub expires_in: u64,
    pub scope: Vec<String>,
}

impl TokenPair {
    /// The JSON body of a successful token response.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "access_token": self.access_token.secret(),
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token.secret(),
            "scope": self.scope.join(" "),
        })
    }
}

/// Secrets, lifetimes and policy the machine needs; passed in, never stored.
pub struct Keys<'a> {
    pub ring: &'a Keyring,
    pub access_ttl: u64,
    pub refresh_ttl: u64,
    /// Absolute lifetime of a grant from its creation, refreshes or not.
    pub max_lifetime: u64,
}

/// Why the callback's state was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateProblem {
    /// Unknown, expired and forgotten, or not this grant's.
    Unknown,
    /// The sign-in already finished.
    Completed,
    /// The state was already taken by an earlier callback.
    Used,
    /// The state expired.
    Expired,
    /// The code cannot be issued (twice, or after the grant ended).
    CannotComplete,
    /// The consent form that would begin the grant was already used.
    ConsentUsed,
}

impl StateProblem {
    /// What the person in the browser reads.
    pub fn message(self) -> &'static str {
        match self {
            StateProblem::Unknown => {
                "This sign-in is unknown or has expired. Start again from your MCP client."
            }
            StateProblem::Completed => {
                "This sign-in was already completed. Start again from your MCP client."
            }
            StateProblem::Used => {
                "This sign-in link was already used. Start again from your MCP client."
            }
            StateProblem::Expired => {
                "This sign-in took too long and expired. Start again from your MCP client."
            }
            StateProblem::CannotComplete => {
                "This sign-in cannot be completed twice. Start again from your MCP client."
            }
            StateProblem::ConsentUsed => {
                "This consent form was already sent. Start again from your MCP client."
            }
        }
    }
}

/// Why a grant command failed. Crosses the object boundary as JSON, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum GrantError {
    /// An RFC 6749 error to return to the client.
    #[error("{error}: {description}")]
    OAuth { error: String, description: String },
    /// The callback's state is unknown, spent, expired or from another sign-in.
    #[error("{}", .0.message())]
    State(StateProblem),
    /// The identity provider or the grant's storage could not be reached;
    /// nothing was committed that the retry cannot complete: retry later.
    #[error("the identity provider or storage could not be reached")]
    Unavailable,
    /// A fault of ours (storage, randomness, a state that no longer decodes).
    #[error("internal error")]
    Internal,
}

impl GrantError {
    pub fn oauth(e: OAuthError) -> GrantError {
        GrantError::OAuth {
            error: e.code.as_str().to_owned(),
            description: e.description,
        }
    }

    /// The error as the token endpoint reports it.
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            GrantError::OAuth { error, description } => {
                OAuthError::new(ErrorCode::parse(error), description.clone())
            }
            GrantError::State(p) => OAuthError::invalid_grant(p.message()),
            GrantError::Unavailable => OAuthError::temporarily_unavailable(
                "the identity provider or this server's storage could not be reached; try again",
            ),
            GrantError::Internal => OAuthError::server_error("the grant could not be processed"),
        }
    }
}

impl From<CryptoError> for GrantError {
    fn from(_: CryptoError) -> Self {
        GrantError::Internal
    }
}

pub(crate) fn invalid_grant(description: &str) -> GrantError {
    GrantError::oauth(OAuthError::invalid_grant(description))
}

/// The outcome of a command: the state to store (or `None` to delete it), the
/// answer, and the KV writes to make after the state is stored.
pub struct Step<T> {
    pub state: Option<GrantState>,
    pub result: Result<T, GrantError>,
    pub effects: Vec<Effect>,
}

impl<T> Step<T> {
    pub(crate) fn ok(state: Option<GrantState>, value: T, effects: Vec<Effect>) -> Step<T> {
        Step {
            state,
            result: Ok(value),
            effects,
        }
    }

    pub(crate) fn fail(state: Option<GrantState>, error: GrantError) -> Step<T> {
        Step {
            state,
            result: Err(error),
            effects: Vec::new(),
        }
    }
}

/// Seals props with a grant key.
pub(crate) fn seal_props(
    grant_key: &[u8; 32],
    props: &Props,
    grant_id: &str,
    rng: &dyn Entropy,
) -> Result<String, GrantError> {
    let plain = serde_json::to_vec(props).map_err(|_| GrantError::Internal)?;
    Ok(crypto::seal(
        grant_key,
        &plain,
        crypto::purpose::PROPS,
        grant_id,
        rng,
    )?)
}

/// Opens props sealed with a grant key.
pub(crate) fn open_props(
    grant_key: &[u8; 32],
    sealed: &str,
    grant_id: &str,
) -> Result<Props, GrantError> {
    let plain = crypto::open(grant_key, sealed, crypto::purpose::PROPS, grant_id)?;
    crate::http::json_from_bytes(&plain).ok_or(GrantError::Internal)
}
