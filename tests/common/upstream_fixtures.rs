//! Fixtures of the upstream identity provider tests (GitHub, Google, generic
//! OpenID Connect): settings from a fake environment, the parameters of a sign-in,
//! and answers shaped like the ones GitHub and Google really send, for the fake
//! HTTP client of `common::http`.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::http::{out_response, FakeHttp};
use mcp_oauth_worker::config::ProviderKind;
use mcp_oauth_worker::outbound::{OutRequest, OutResponse};
use mcp_oauth_worker::upstream::github::GitHubProvider;
use mcp_oauth_worker::upstream::google::GoogleProvider;
use mcp_oauth_worker::upstream::settings::{
    settings_for, GitHubSettings, GoogleSettings, UpstreamSettings,
};
use mcp_oauth_worker::upstream::{
    AuthorizeParams, ExchangeParams, IdentityProvider, SignIn, UpstreamError, UpstreamTokens,
};

pub const CLIENT_SECRET: &str = "cs-very-secret-0123456789abcdef";
pub const CODE: &str = "auth-code-6c7e42f292c6912e";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const CALLBACK: &str = "https://mcp.example.com/callback";
pub const STATE: &str = "st-123";
pub const NONCE: &str = "n-0S6_WzA2Mj";
pub const NOW: u64 = 1_750_000_000;

pub const GH_TOKEN: &str = "gho_16C7e42F292c6912E7710c838347Ae178B4a";
pub const GOOGLE_CLIENT: &str = "1234987819200-abc.apps.googleusercontent.com";
pub const GOOGLE_ACCESS: &str = "ya29.a0AfH6SMBx-access";
pub const GOOGLE_REFRESH: &str = "1//0gRefreshTokenValue";
pub const GOOGLE_SUB: &str = "110169484474386276334";

pub fn response(status: u16, content_type: &str, body: &str) -> Result<OutResponse, String> {
    out_response(status, content_type, body)
}

pub fn json_answer(status: u16, body: Value) -> Result<OutResponse, String> {
    response(status, "application/json; charset=utf-8", &body.to_string())
}

pub fn header<'r>(request: &'r OutRequest, name: &str) -> Option<&'r str> {
    request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub fn form(request: &OutRequest) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(request.body.as_deref().unwrap_or_default()).unwrap()
}

pub fn form_map(request: &OutRequest) -> HashMap<String, String> {
    form(request).into_iter().collect()
}

/// The query of `url` as ordered pairs, and the URL without it.
pub fn split_query(url: &str) -> (String, Vec<(String, String)>) {
    let parsed = url::Url::parse(url).unwrap();
    let pairs = parsed.query_pairs().into_owned().collect();
    let mut base = parsed.clone();
    base.set_query(None);
    (base.to_string(), pairs)
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn authorize_params() -> AuthorizeParams<'static> {
    AuthorizeParams {
        callback_url: CALLBACK,
        state: STATE.into(),
        pkce_challenge: CHALLENGE,
        nonce: NONCE.into(),
    }
}

pub fn exchange_params() -> ExchangeParams<'static> {
    ExchangeParams {
        code: CODE.into(),
        callback_url: CALLBACK,
        pkce_verifier: VERIFIER.into(),
        nonce: NONCE.into(),
        now: NOW,
    }
}

pub fn exchange(provider: &dyn IdentityProvider, http: &FakeHttp) -> Result<SignIn, UpstreamError> {
    pollster::block_on(provider.exchange(http, exchange_params()))
}

pub fn refresh(
    provider: &dyn IdentityProvider,
    http: &FakeHttp,
    tokens: &UpstreamTokens,
    now: u64,
) -> Result<Option<UpstreamTokens>, UpstreamError> {
    pollster::block_on(provider.refresh(http, tokens, now))
}

pub fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

pub fn github_settings() -> GitHubSettings {
    match settings_for(
        ProviderKind::GitHub,
        env(&[
            ("GITHUB_CLIENT_ID", "Iv1.8a61f9b3a7aba766"),
            ("GITHUB_CLIENT_SECRET", CLIENT_SECRET),
        ]),
    ) {
        Ok(Some(UpstreamSettings::GitHub(s))) => s,
        other => panic!("{other:?}"),
    }
}

pub fn google_settings(extra: &[(&str, &str)]) -> GoogleSettings {
    let mut vars = vec![
        ("GOOGLE_CLIENT_ID", GOOGLE_CLIENT),
        ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
    ];
    vars.extend_from_slice(extra);
    match settings_for(ProviderKind::Google, env(&vars)) {
        Ok(Some(UpstreamSettings::Google(s))) => s,
        other => panic!("{other:?}"),
    }
}

pub fn github() -> GitHubProvider {
    GitHubProvider::new(github_settings())
}

pub fn google() -> GoogleProvider {
    GoogleProvider::new(google_settings(&[]))
}

pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A compact JWS with the given claims; the signature is never checked.
pub fn id_token(claims: &Value) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk",
        b64(&json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})),
        b64(claims)
    )
}

/// Claims as Google writes them.
pub fn google_claims() -> Value {
    json!({
        "iss": "https://accounts.google.com",
        "azp": GOOGLE_CLIENT,
        "aud": GOOGLE_CLIENT,
        "sub": GOOGLE_SUB,
        "email": "ada@example.com",
        "email_verified": true,
        "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
        "nonce": NONCE,
        "name": "Ada Lovelace",
        "picture": "https://lh3.googleusercontent.com/a/photo",
        "given_name": "Ada",
        "iat": NOW - 5,
        "exp": NOW + 3595
    })
}

pub fn google_token_answer(claims: &Value) -> Result<OutResponse, String> {
    json_answer(
        200,
        json!({
            "access_token": GOOGLE_ACCESS,
            "expires_in": 3599,
            "refresh_token": GOOGLE_REFRESH,
            "scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
            "token_type": "Bearer",
            "id_token": id_token(claims)
        }),
    )
}

pub fn github_user(email: Value) -> Result<OutResponse, String> {
    json_answer(
        200,
        json!({
            "login": "octocat",
            "id": 583231,
            "node_id": "MDQ6VXNlcjU4MzIzMQ==",
            "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
            "type": "User",
            "name": "The Octocat",
            "company": "@github",
            "email": email,
            "created_at": "2011-01-25T18:44:36Z"
        }),
    )
}

pub fn github_token_json() -> Result<OutResponse, String> {
    json_answer(
        200,
        json!({"access_token": GH_TOKEN, "token_type": "bearer", "scope": "read:user,user:email"}),
    )
}

pub const ISSUER: &str = "https://id.example.com/realms/main";

pub fn google_tokens(expires_at: u64, refresh_token: Option<&str>) -> UpstreamTokens {
    UpstreamTokens {
        access_token: GOOGLE_ACCESS.into(),
        refresh_token: refresh_token.map(Into::into),
        expires_at: Some(expires_at),
        scope: Some("openid email".into()),
    }
}
