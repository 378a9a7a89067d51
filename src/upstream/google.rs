//! Google as the upstream identity provider: the OpenID Connect code of [`super::oidc`]
//! with Google's fixed endpoints, so signing in needs no discovery fetch.
//!
//! Google specifics (Google Identity, "OpenID Connect" and "Using OAuth 2.0 for Web
//! Server Applications"):
//! - a refresh token is only issued with `access_type=offline`, and again on later
//!   sign-ins only with `prompt=consent` (`GOOGLE_OFFLINE`, on by default);
//! - ID tokens carry `iss` either as `https://accounts.google.com` or as
//!   `accounts.google.com`; both are accepted for Google's real issuer;
//! - refresh answers omit `refresh_token`: the old one stays valid and is kept;
//!   `invalid_grant` means the user revoked access (or the token lapsed).

use super::oauth_client::ClientAuth;
use super::oidc::{OidcEndpoints, OidcProvider};
use super::{
    AuthorizeParams, ExchangeParams, IdentityProvider, SignIn, UpstreamError, UpstreamTokens,
};
use crate::config::upstream::{GoogleSettings, GOOGLE_DEFAULT_ISSUER};
use crate::outbound::{HttpClient, LocalBoxFuture};

/// The issuer Google also writes into ID tokens, without scheme.
const GOOGLE_BARE_ISSUER: &str = "accounts.google.com";

/// Signs users in with their Google account (`kind` `google`, ids `google:<sub>`).
#[derive(Debug, Clone)]
pub struct GoogleProvider(OidcProvider);

impl GoogleProvider {
    pub fn new(settings: GoogleSettings) -> GoogleProvider {
        let mut issuers = vec![settings.issuer.clone()];
        if settings.issuer == GOOGLE_DEFAULT_ISSUER {
            issuers.push(GOOGLE_BARE_ISSUER.to_owned());
        }
        let extra_authorize = if settings.offline {
            vec![("access_type", "offline"), ("prompt", "consent")]
        } else {
            Vec::new()
        };
        GoogleProvider(OidcProvider::from_endpoints(OidcEndpoints {
            kind: "google",
            issuers,
            client_id: settings.client_id,
            client_secret: settings.client_secret,
            scopes: settings.scopes,
            authorize_url: settings.authorize_url,
            token_url: settings.token_url,
            userinfo_url: Some(settings.userinfo_url),
            auth: ClientAuth::Post,
            extra_authorize,
        }))
    }
}

impl IdentityProvider for GoogleProvider {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }

    fn authorize_url(&self, params: &AuthorizeParams<'_>) -> String {
        self.0.authorize_url(params)
    }

    fn exchange<'a>(
        &'a self,
        http: &'a dyn HttpClient,
        params: ExchangeParams<'a>,
    ) -> LocalBoxFuture<'a, Result<SignIn, UpstreamError>> {
        self.0.exchange(http, params)
    }

    fn refresh<'a>(
        &'a self,
        http: &'a dyn HttpClient,
        tokens: &'a UpstreamTokens,
        now: u64,
    ) -> LocalBoxFuture<'a, Result<Option<UpstreamTokens>, UpstreamError>> {
        self.0.refresh(http, tokens, now)
    }
}
