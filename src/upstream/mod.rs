//! Upstream identity providers: who signs users in. One trait, several providers
//! (the built-in development page, GitHub, Google, any OpenID Connect provider).
//!
//! The authorization server only talks to [`IdentityProvider`]; each provider
//! turns an upstream authorization code into a [`SignIn`]: the user's profile
//! and the upstream tokens, which are then stored only encrypted in the grant.

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::http::HttpError;
use crate::outbound::{HttpClient, LocalBoxFuture};
use crate::user::UserProfile;

/// What the authorization server asks of a provider's authorization endpoint.
#[derive(Debug, Clone)]
pub struct AuthorizeParams<'a> {
    /// Our `/callback` URL, registered at the provider.
    pub callback_url: &'a str,
    /// Our single-use state for this sign-in.
    pub state: &'a str,
    /// PKCE S256 challenge towards the provider (used where the provider supports it).
    pub pkce_challenge: &'a str,
    /// OpenID Connect nonce (used by OIDC providers, ignored by others).
    pub nonce: &'a str,
}

/// What the callback hands to [`IdentityProvider::exchange`].
#[derive(Debug, Clone)]
pub struct ExchangeParams<'a> {
    pub code: &'a str,
    pub callback_url: &'a str,
    pub pkce_verifier: &'a str,
    pub nonce: &'a str,
    /// Unix seconds.
    pub now: u64,
}

/// Tokens the provider issued to us for this user. Kept only inside the grant's
/// encrypted props; never returned to MCP clients.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTokens {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Unix seconds when the access token expires, when the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl std::fmt::Debug for UpstreamTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTokens")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

impl UpstreamTokens {
    pub fn access_secret(&self) -> Secret {
        Secret::new(self.access_token.clone())
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
