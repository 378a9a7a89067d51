//! Upstream identity providers: who signs users in. One trait, several providers
//! (the built-in development page, GitHub, Google, any OpenID Connect provider).
//!
//! The authorization server only talks to [`IdentityProvider`]; each provider
//! turns an upstream authorization code into a [`SignIn`]: the user's profile
//! and the upstream tokens, which are then stored only encrypted in the grant.

use std::rc::Rc;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::http::HttpError;
use crate::outbound::{HttpClient, LocalBoxFuture};
use crate::secret::Secret;
use crate::user::UserProfile;

/// A borrowed secret of one sign-in (our `state`, the upstream code, our PKCE verifier, the
/// nonce): `Debug` prints `[redacted]`, the value is read only through
/// [`SecretStr::secret`]. Built with `.into()` from a `&str`.
#[derive(Clone, Copy)]
pub struct SecretStr<'a>(&'a str);

impl<'a> SecretStr<'a> {
    pub fn new(value: &'a str) -> SecretStr<'a> {
        SecretStr(value)
    }
    /// The value itself: only where it must be sent or checked.
    pub fn secret(&self) -> &'a str {
        self.0
    }
}

impl<'a> From<&'a str> for SecretStr<'a> {
    fn from(value: &'a str) -> SecretStr<'a> {
        SecretStr(value)
    }
}

impl std::fmt::Debug for SecretStr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// An access or refresh token the provider issued to us: `Debug` prints
/// `UpstreamToken([redacted])`, the value is read only through [`UpstreamToken::secret`],
/// `==` compares in constant time. Serialized as the bare string (the grant's encrypted
/// props keep their shape).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UpstreamToken(String);

impl UpstreamToken {
    pub fn new(value: impl Into<String>) -> UpstreamToken {
        UpstreamToken(value.into())
    }
    /// The value itself: only where it must be sent.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl From<&str> for UpstreamToken {
    fn from(value: &str) -> UpstreamToken {
        UpstreamToken(value.to_owned())
    }
}

impl From<String> for UpstreamToken {
    fn from(value: String) -> UpstreamToken {
        UpstreamToken(value)
    }
}

impl std::fmt::Debug for UpstreamToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamToken([redacted])")
    }
}

impl PartialEq for UpstreamToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for UpstreamToken {}

/// What the authorization server asks of a provider's authorization endpoint.
#[derive(Debug, Clone)]
pub struct AuthorizeParams<'a> {
    /// Our `/callback` URL, registered at the provider.
    pub callback_url: &'a str,
    /// Our single-use state for this sign-in.
    pub state: SecretStr<'a>,
    /// PKCE S256 challenge towards the provider (used where the provider supports it).
    /// Public by design (it travels in the browser's URL); the verifier is the secret.
    pub pkce_challenge: &'a str,
    /// OpenID Connect nonce (used by OIDC providers, ignored by others).
    pub nonce: SecretStr<'a>,
}

/// What the callback hands to [`IdentityProvider::exchange`].
#[derive(Debug, Clone)]
pub struct ExchangeParams<'a> {
    pub code: SecretStr<'a>,
    pub callback_url: &'a str,
    pub pkce_verifier: SecretStr<'a>,
    pub nonce: SecretStr<'a>,
    /// Unix seconds.
    pub now: u64,
}

/// Tokens the provider issued to us for this user. Kept only inside the grant's
/// encrypted props; never returned to MCP clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTokens {
    pub access_token: UpstreamToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<UpstreamToken>,
    /// Unix seconds when the access token expires, when the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl UpstreamTokens {
    pub fn access_secret(&self) -> Secret {
        Secret::new(self.access_token.secret())
    }
}

/// A completed upstream sign-in.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub user: UserProfile,
    pub tokens: UpstreamTokens,
}

/// Why an upstream step failed. Descriptions never contain tokens or secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The user (or the provider on their behalf) declined.
    #[error("sign-in was declined at the identity provider: {0}")]
    Denied(String),
    /// The provider answered with an OAuth error (bad code, bad client, ...).
    #[error("the identity provider refused: {0}")]
    Provider(String),
    /// The provider refused to refresh: the user revoked access or the refresh
    /// token expired. The user must sign in again.
    #[error("the identity provider no longer accepts this sign-in: {0}")]
    Revoked(String),
    /// No answer (DNS, TLS, connection, timeout).
    #[error("the identity provider could not be reached: {0}")]
    Network(String),
    /// An answer we could not understand or that failed validation.
    #[error("the identity provider sent an unexpected answer: {0}")]
    Malformed(String),
    /// This deployment is not configured for the provider.
    #[error("{0}")]
    Config(String),
}

/// An upstream identity provider.
pub trait IdentityProvider {
    /// `dev`, `github`, `google` or `oidc`; becomes [`UserProfile::provider`].
    fn kind(&self) -> &'static str;

    /// Where to send the user's browser to sign in.
    fn authorize_url(&self, params: &AuthorizeParams<'_>) -> String;

    /// Turns the code from the callback into a user and upstream tokens.
    fn exchange<'a>(
        &'a self,
        http: &'a dyn HttpClient,
        params: ExchangeParams<'a>,
    ) -> LocalBoxFuture<'a, Result<SignIn, UpstreamError>>;

    /// Refreshes upstream tokens that expire at or before `now + margin`.
    /// `Ok(None)`: nothing to do (not near expiry, or the provider's tokens do not
    /// expire). `Err(Revoked)`: the user must sign in again.
    fn refresh<'a>(
        &'a self,
        http: &'a dyn HttpClient,
        tokens: &'a UpstreamTokens,
        now: u64,
    ) -> LocalBoxFuture<'a, Result<Option<UpstreamTokens>, UpstreamError>>;
}

/// Builds the deployment's identity provider, only when a flow needs it: a
/// consent page is shown even while an OpenID provider's discovery is down,
/// and a refresh whose upstream tokens are far from their expiry builds
/// nothing. The sign-in flows and the grant objects both ask through it.
pub trait ProviderSource {
    /// The provider, or why it cannot be built now (a 503 while discovery is
    /// down, a configuration error).
    fn provider(&self) -> LocalBoxFuture<'_, Result<Rc<dyn IdentityProvider>, HttpError>>;
}

/// Upstream tokens are refreshed when they expire within this many seconds.
pub const REFRESH_MARGIN_SECS: u64 = 300;

pub mod dev;
pub mod github;
pub mod google;
pub mod id_token;
mod oauth_client;
pub mod oidc;
pub mod settings;
