//! GitHub as the upstream identity provider (an OAuth app, or a GitHub App acting for
//! users), following GitHub's "Authorizing OAuth apps" web application flow.
//!
//! GitHub is OAuth 2.0 with quirks this module absorbs:
//! - the token endpoint answers form-encoded unless asked for JSON (we ask, and still
//!   read either), and reports errors with HTTP 200 and an `error` field
//!   (`bad_verification_code`, `incorrect_client_credentials`, `redirect_uri_mismatch`);
//! - there is no ID token: the user comes from `GET /user`, and when their email is
//!   private, from `GET /user/emails` (the primary, verified one);
//! - OAuth app tokens do not expire; GitHub App user tokens expire after 8 hours
//!   and come with a refresh token, which is single-use (rotated on every refresh);
//! - PKCE (S256 only) has been accepted since July 2025; we always send it.
//!
//! Who the user is: `github:<numeric id>` (logins can be renamed, ids cannot).

use serde_json::Value;

use super::oauth_client::{json_object, send, ClientAuth, OAuthErrorAnswer, TokenClient};
use super::{
    AuthorizeParams, ExchangeParams, IdentityProvider, SignIn, UpstreamError, UpstreamTokens,
};
use crate::config::upstream::GitHubSettings;
use crate::outbound::{HttpClient, LocalBoxFuture, OutRequest, OutResponse};
use crate::user::UserProfile;

/// GitHub's API refuses requests without a User-Agent.
pub const USER_AGENT: &str = "mcp-oauth-worker";
/// The REST API version we were written against.
pub const API_VERSION: &str = "2022-11-28";

/// Signs users in with GitHub (`kind` `github`).
#[derive(Debug, Clone)]
pub struct GitHubProvider {
    client: TokenClient,
    scopes: String,
    allow_signup: bool,
    authorize_url: String,
    api_url: String,
}

impl GitHubProvider {
    pub fn new(settings: GitHubSettings) -> GitHubProvider {
        GitHubProvider {
            client: TokenClient {
                token_url: settings.token_url,
                client_id: settings.client_id,
                client_secret: settings.client_secret,
                auth: ClientAuth::Post,
            },
            scopes: settings.scopes,
            allow_signup: settings.allow_signup,
            authorize_url: settings.authorize_url,
            api_url: settings.api_url.trim_end_matches('/').to_owned(),
        }
    }

    fn api_get(&self, path: &str, token: &str) -> OutRequest {
        OutRequest::get(format!("{}{path}", self.api_url))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Accept", "application/vnd.github+json")
            .header("User-Agent", USER_AGENT)
            .header("X-GitHub-Api-Version", API_VERSION)
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
                    ("code", p.code.secret()),
                    ("redirect_uri", p.callback_url),
                    ("code_verifier", p.pkce_verifier.secret()),
                ],
            )
            .await
            .or_refused(OAuthErrorAnswer::into_exchange_error)?;
        let token = answer.access_token.clone();
        let secrets = [token.as_str()];

        let response = send(http, self.api_get("/user", &token), &secrets).await?;
        let user = json_object(&expect_ok(response, "/user")?, "GitHub's /user answer")?;
        let id = user.get("id").and_then(Value::as_u64).ok_or_else(|| {
            UpstreamError::Malformed("GitHub's /user answer has no numeric id".into())
        })?;
        let text = |k: &str| {
            user.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let login = text("login")
            .ok_or_else(|| UpstreamError::Malformed("GitHub's /user answer has no login".into()))?;
        // The profile's email is the one the user made public, which GitHub only
        // allows for a verified address; otherwise ask for the primary one.
        let email = match text("email") {
            Some(email) => Some(email),
            None => self.primary_email(http, &token).await,
        };
        Ok(SignIn {
            user: UserProfile {
                id: format!("github:{id}"),
                login,
                name: text("name"),
                email,
                provider: "github".into(),
            },
            tokens: answer.into_tokens(p.now),
        })
    }

    /// The primary, verified address from `GET /user/emails` (needs `user:email`).
    /// Any failure just means no email.
    async fn primary_email(&self, http: &dyn HttpClient, token: &str) -> Option<String> {
        let response = send(http, self.api_get("/user/emails", token), &[token])
            .await
            .ok()?;
        if !(200..300).contains(&response.status) {
            return None;
        }
        let list: Vec<Value> = serde_json::from_slice(&response.body).ok()?;
        list.iter()
            .find(|e| {
                e.get("primary").and_then(Value::as_bool) == Some(true)
                    && e.get("verified").and_then(Value::as_bool) == Some(true)
            })
            .and_then(|e| e.get("email").and_then(Value::as_str))
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
    }
}

fn expect_ok(response: OutResponse, path: &str) -> Result<OutResponse, UpstreamError> {
    match response.status {
        200..=299 => Ok(response),
        status => Err(UpstreamError::Provider(format!(
            "GitHub answered HTTP {status} to GET {path} with the new token"
        ))),
    }
}

impl IdentityProvider for GitHubProvider {
    fn kind(&self) -> &'static str {
        "github"
    }

    fn authorize_url(&self, p: &AuthorizeParams<'_>) -> String {
        crate::urls::append_query(
            &self.authorize_url,
            &[
                ("client_id", self.client.client_id.as_str()),
                ("redirect_uri", p.callback_url),
                ("scope", self.scopes.as_str()),
                ("state", p.state.secret()),
                (
                    "allow_signup",
                    if self.allow_signup { "true" } else { "false" },
                ),
                ("code_challenge", p.pkce_challenge),
                ("code_challenge_method", "S256"),
            ],
        )
    }

    fn exchange<'a>(
        &'a self,
        http: &'a dyn HttpClient,
        params: ExchangeParams<'a>,
    ) -> LocalBoxFuture<'a, Result<SignIn, UpstreamError>> {
        Box::pin(self.sign_in(http, params))
    }

    /// OAuth app tokens have no `expires_at` and never need refreshing. Expiring
    /// GitHub App user tokens are refreshed with `grant_type=refresh_token`; GitHub
    /// rotates the refresh token, and `bad_refresh_token` means signing in again.
    fn refresh<'a>(
        &'a self,
        http: &'a dyn HttpClient,
        tokens: &'a UpstreamTokens,
        now: u64,
    ) -> LocalBoxFuture<'a, Result<Option<UpstreamTokens>, UpstreamError>> {
        Box::pin(self.client.refresh(http, tokens, now, &[]))
    }
}
