//! Any OpenID Connect provider, with the authorization code flow and PKCE.
//!
//! - [OpenID Connect Discovery 1.0 §4](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig):
//!   the provider's endpoints come from `{issuer}/.well-known/openid-configuration`,
//!   whose `issuer` must equal ours exactly (§4.3).
//! - [OpenID Connect Core 1.0 §3.1.2.1](https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest):
//!   the authorization request, with `nonce`; PKCE S256 ([RFC 7636](https://datatracker.ietf.org/doc/html/rfc7636)).
//! - §3.1.3: the token request; §3.1.3.7: the ID token checks ([`super::id_token`]).
//! - §5.3: the UserInfo endpoint, asked only when the ID token carries no email;
//!   its `sub` must equal the ID token's (§5.3.4).
//!
//! Google is this same code with fixed endpoints ([`super::google`]).
//!
//! Who the user is: `<kind>:<sub>` (`sub` is the only stable, unique identifier, §5.7).
//! The login shown and matched against `ALLOWED_USERS` is the email only when the
//! provider says it is verified, otherwise `sub`: `preferred_username` may be chosen
//! freely by users at many providers, so it is only used as a display name.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::id_token::{check_id_token, is_true, ClaimChecks};
use super::oauth_client::{json_object, send, ClientAuth, OAuthErrorAnswer, TokenClient};
use super::{
    AuthorizeParams, ExchangeParams, IdentityProvider, SignIn, UpstreamError, UpstreamTokens,
};
use crate::config::upstream::{check_endpoint_url, OidcSettings};
use crate::outbound::{HttpClient, LocalBoxFuture, OutRequest};
use crate::secret::Secret;
use crate::user::UserProfile;

/// The path a discovery document lives at, below the issuer.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The parts of a provider's discovery document we use. Serializable so that the
/// shell can cache it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryDocument {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// Absent means `client_secret_basic` (Discovery §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// Fetches and checks `issuer`'s discovery document.
///
/// Errors: `Network` (no answer), `Config` (no document there, or it names another
/// issuer: `OIDC_ISSUER` is then wrong), `Provider` (another HTTP error), `Malformed`
/// (not a usable document, or endpoints that are not absolute https URLs).
pub async fn discover(
    http: &dyn HttpClient,
    issuer: &str,
) -> Result<DiscoveryDocument, UpstreamError> {
    check_endpoint_url(issuer)
        .map_err(|reason| UpstreamError::Config(format!("OIDC_ISSUER is invalid: {reason}")))?;
    // Discovery §4.1: a trailing slash of the issuer is removed before appending the path.
    let url = format!("{}{DISCOVERY_PATH}", issuer.trim_end_matches('/'));
    let request = OutRequest::get(url.as_str()).header("Accept", "application/json");
    let response = send(http, request, &[]).await?;
    match response.status {
        200..=299 => {}
        404 | 410 => {
            return Err(UpstreamError::Config(format!(
            "there is no OpenID Connect discovery document at {url} (HTTP {}); check OIDC_ISSUER",
            response.status
        )))
        }
        status => {
            return Err(UpstreamError::Provider(format!(
                "the discovery document at {url} answered HTTP {status}"
            )))
        }
    }
    let object = json_object(&response, "the discovery document")?;
    let doc: DiscoveryDocument = serde_json::from_value(Value::Object(object)).map_err(|e| {
        UpstreamError::Malformed(format!("the discovery document is incomplete ({e})"))
    })?;
    if doc.issuer != issuer {
        return Err(UpstreamError::Config(format!(
            "the discovery document names the issuer '{}', but OIDC_ISSUER is '{issuer}'; set OIDC_ISSUER to exactly the provider's issuer",
            super::oauth_client::clean(&doc.issuer, &[])
        )));
    }
    let endpoints = [
        ("authorization_endpoint", Some(&doc.authorization_endpoint)),
        ("token_endpoint", Some(&doc.token_endpoint)),
        ("userinfo_endpoint", doc.userinfo_endpoint.as_ref()),
    ];
    for (field, value) in endpoints {
        if let Some(value) = value {
            check_endpoint_url(value).map_err(|reason| {
                UpstreamError::Malformed(format!("the discovery document's {field}: {reason}"))
            })?;
        }
    }
    Ok(doc)
}

/// How long a client is asked to wait after discovery failed, and how long the
/// shell waits before fetching the document again.
pub const DISCOVERY_RETRY_SECS: u64 = 30;

/// What a failed discovery means for the request that needed it: the provider
/// is temporarily unavailable (503 `temporarily_unavailable` with `Retry-After`),
/// and a line for the operator's log. Whatever the provider said goes to the log
/// line only, never to a client or a browser.
pub fn discovery_failed(why: &UpstreamError) -> (crate::http::HttpError, String) {
    (
        crate::http::HttpError::Unavailable {
            retry_after: DISCOVERY_RETRY_SECS,
        },
        format!("OIDC_ISSUER discovery failed: {why}"),
    )
}

/// An OpenID Connect provider (also the engine of [`super::google::GoogleProvider`]).
#[derive(Debug, Clone)]
pub struct OidcProvider {
    kind: &'static str,
    client: TokenClient,
    scopes: String,
    authorize_url: String,
    userinfo_url: Option<String>,
    /// Accepted `iss` values, the configured one first.
    issuers: Vec<String>,
    /// Provider-specific authorization parameters (Google's `access_type`).
    extra_authorize: Vec<(&'static str, &'static str)>,
}

/// Everything that makes one OpenID Connect provider.
pub(crate) struct OidcEndpoints {
    pub kind: &'static str,
    pub issuers: Vec<String>,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: String,
    pub authorize_url: String,
    pub token_url: String,
    pub userinfo_url: Option<String>,
    pub auth: ClientAuth,
    pub extra_authorize: Vec<(&'static str, &'static str)>,
}

impl OidcProvider {
    /// A generic provider (`kind` `oidc`) from its settings and the document
    /// [`discover`] returned for `settings.issuer`.
    ///
    /// The client authenticates with `client_secret_post` when the provider lists it
    /// (it avoids the form-encoding ambiguity of Basic credentials), otherwise with
    /// `client_secret_basic`, the default every provider must support.
    pub fn new(settings: OidcSettings, doc: DiscoveryDocument) -> OidcProvider {
        let post = doc
            .token_endpoint_auth_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|m| m == "client_secret_post"));
        OidcProvider::from_endpoints(OidcEndpoints {
            kind: "oidc",
            issuers: vec![settings.issuer],
            client_id: settings.client_id,
            client_secret: settings.client_secret,
            scopes: settings.scopes,
            authorize_url: doc.authorization_endpoint,
            token_url: doc.token_endpoint,
            userinfo_url: doc.userinfo_endpoint,
            auth: if post {
                ClientAuth::Post
            } else {
                ClientAuth::Basic
            },
            extra_authorize: Vec::new(),
        })
    }

    pub(crate) fn from_endpoints(e: OidcEndpoints) -> OidcProvider {
        OidcProvider {
            kind: e.kind,
            client: TokenClient {
                token_url: e.token_url,
                client_id: e.client_id,
                client_secret: e.client_secret,
                auth: e.auth,
            },
            scopes: e.scopes,
            authorize_url: e.authorize_url,
            userinfo_url: e.userinfo_url,
            issuers: e.issuers,
            extra_authorize: e.extra_authorize,
        }
    }

    async fn sign_in(
        &self,
        http: &dyn HttpClient,
        p: ExchangeParams<'_>,
    ) -> Result<SignIn, UpstreamError> {
        let answer = self
            .client
            .request(
                http,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", p.code.secret()),
                    ("redirect_uri", p.callback_url),
                    ("code_verifier", p.pkce_verifier.secret()),
                ],
            )
            .await
            .or_refused(OAuthErrorAnswer::into_exchange_error)?;
        let id_token = answer.id_token.clone().ok_or_else(|| {
            UpstreamError::Malformed(
                "the token endpoint sent no id_token (is openid among the scopes?)".into(),
            )
        })?;
        let claims = check_id_token(
            &id_token,
            &ClaimChecks {
                issuers: &self.issuers,
                client_id: &self.client.client_id,
                nonce: p.nonce.secret(),
                now: p.now,
            },
        )?;
        let mut email = claims.email.clone().filter(|_| claims.email_verified);
        let mut name = claims.name.clone();
        if claims.email.is_none() {
            if let Some(info) = self
                .userinfo(http, &answer.access_token, &claims.sub)
                .await?
            {
                email = info.email;
                name = name.or(info.name);
            }
        }
        let user = UserProfile {
            id: format!("{}:{}", self.kind, claims.sub),
            login: email.clone().unwrap_or_else(|| claims.sub.clone()),
            name: name.or(claims.preferred_username),
            email,
            provider: self.kind.to_owned(),
        };
        Ok(SignIn {
            user,
            tokens: answer.into_tokens(p.now),
        })
    }

    /// Asks the UserInfo endpoint for a verified email and a name. Failing to get an
    /// answer is not fatal (the sign-in goes on without email); an answer about
    /// another user is.
    async fn userinfo(
        &self,
        http: &dyn HttpClient,
        access_token: &str,
        sub: &str,
    ) -> Result<Option<UserInfo>, UpstreamError> {
        let Some(url) = &self.userinfo_url else {
            return Ok(None);
        };
        let request = OutRequest::get(url.as_str())
            .header("Authorization", &format!("Bearer {access_token}"))
            .header("Accept", "application/json");
        let Ok(response) = send(http, request, &[access_token]).await else {
            return Ok(None);
        };
        if !(200..300).contains(&response.status) {
            return Ok(None);
        }
        let Ok(info) = json_object(&response, "the UserInfo answer") else {
            return Ok(None);
        };
        if info.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(UpstreamError::Malformed(
                "the UserInfo endpoint answered for another subject than the ID token".into(),
            ));
        }
        let text = |k: &str| {
            info.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(Some(UserInfo {
            email: text("email").filter(|_| is_true(info.get("email_verified"))),
            name: text("name"),
        }))
    }
}

struct UserInfo {
    email: Option<String>,
    name: Option<String>,
}

impl IdentityProvider for OidcProvider {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn authorize_url(&self, p: &AuthorizeParams<'_>) -> String {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.client.client_id.as_str()),
            ("redirect_uri", p.callback_url),
            ("scope", self.scopes.as_str()),
            ("state", p.state.secret()),
            ("nonce", p.nonce.secret()),
            ("code_challenge", p.pkce_challenge),
            ("code_challenge_method", "S256"),
        ];
        params.extend(self.extra_authorize.iter().copied());
        crate::urls::append_query(&self.authorize_url, &params)
    }

    fn exchange<'a>(
        &'a self,
        http: &'a dyn HttpClient,
        params: ExchangeParams<'a>,
    ) -> LocalBoxFuture<'a, Result<SignIn, UpstreamError>> {
        Box::pin(self.sign_in(http, params))
    }

    fn refresh<'a>(
        &'a self,
        http: &'a dyn HttpClient,
        tokens: &'a UpstreamTokens,
        now: u64,
    ) -> LocalBoxFuture<'a, Result<Option<UpstreamTokens>, UpstreamError>> {
        Box::pin(self.client.refresh(http, tokens, now, &[]))
    }
}
