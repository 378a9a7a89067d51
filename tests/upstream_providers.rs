//! Upstream identity providers (GitHub, Google, generic OpenID Connect) against a fake
//! HTTP client that records every request and replays answers shaped like the ones
//! GitHub and Google really send.

mod common;

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use common::http::{out_response, FakeHttp};
use mcp_oauth_worker::config::{ConfigError, ProviderKind};
use mcp_oauth_worker::outbound::{OutRequest, OutResponse};
use mcp_oauth_worker::upstream::github::GitHubProvider;
use mcp_oauth_worker::upstream::google::GoogleProvider;
use mcp_oauth_worker::upstream::oidc::{
    discover, discovery_failed, DiscoveryDocument, OidcProvider, DISCOVERY_RETRY_SECS,
};
use mcp_oauth_worker::upstream::settings::{
    settings_for, GitHubSettings, GoogleSettings, OidcSettings, UpstreamSettings,
};
use mcp_oauth_worker::upstream::{
    AuthorizeParams, ExchangeParams, IdentityProvider, SignIn, UpstreamError, UpstreamTokens,
    REFRESH_MARGIN_SECS,
};

// ---------------------------------------------------------------------------------------
// Fixtures

const CLIENT_SECRET: &str = "cs-very-secret-0123456789abcdef";
const CODE: &str = "auth-code-6c7e42f292c6912e";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CALLBACK: &str = "https://mcp.example.com/callback";
const STATE: &str = "st-123";
const NONCE: &str = "n-0S6_WzA2Mj";
const NOW: u64 = 1_750_000_000;

const GH_TOKEN: &str = "gho_16C7e42F292c6912E7710c838347Ae178B4a";
const GOOGLE_CLIENT: &str = "1234987819200-abc.apps.googleusercontent.com";
const GOOGLE_ACCESS: &str = "ya29.a0AfH6SMBx-access";
const GOOGLE_REFRESH: &str = "1//0gRefreshTokenValue";
const GOOGLE_SUB: &str = "110169484474386276334";

fn response(status: u16, content_type: &str, body: &str) -> Result<OutResponse, String> {
    out_response(status, content_type, body)
}

fn json_answer(status: u16, body: Value) -> Result<OutResponse, String> {
    response(status, "application/json; charset=utf-8", &body.to_string())
}

fn header<'r>(request: &'r OutRequest, name: &str) -> Option<&'r str> {
    request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn form(request: &OutRequest) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(request.body.as_deref().unwrap_or_default()).unwrap()
}

fn form_map(request: &OutRequest) -> HashMap<String, String> {
    form(request).into_iter().collect()
}

/// The query of `url` as ordered pairs, and the URL without it.
fn split_query(url: &str) -> (String, Vec<(String, String)>) {
    let parsed = url::Url::parse(url).unwrap();
    let pairs = parsed.query_pairs().into_owned().collect();
    let mut base = parsed.clone();
    base.set_query(None);
    (base.to_string(), pairs)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn authorize_params() -> AuthorizeParams<'static> {
    AuthorizeParams {
        callback_url: CALLBACK,
        state: STATE.into(),
        pkce_challenge: CHALLENGE,
        nonce: NONCE.into(),
    }
}

fn exchange_params() -> ExchangeParams<'static> {
    ExchangeParams {
        code: CODE.into(),
        callback_url: CALLBACK,
        pkce_verifier: VERIFIER.into(),
        nonce: NONCE.into(),
        now: NOW,
    }
}

fn exchange(provider: &dyn IdentityProvider, http: &FakeHttp) -> Result<SignIn, UpstreamError> {
    pollster::block_on(provider.exchange(http, exchange_params()))
}

fn refresh(
    provider: &dyn IdentityProvider,
    http: &FakeHttp,
    tokens: &UpstreamTokens,
    now: u64,
) -> Result<Option<UpstreamTokens>, UpstreamError> {
    pollster::block_on(provider.refresh(http, tokens, now))
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn github_settings() -> GitHubSettings {
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

fn google_settings(extra: &[(&str, &str)]) -> GoogleSettings {
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

fn github() -> GitHubProvider {
    GitHubProvider::new(github_settings())
}

fn google() -> GoogleProvider {
    GoogleProvider::new(google_settings(&[]))
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A compact JWS with the given claims; the signature is never checked.
fn id_token(claims: &Value) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk",
        b64(&json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})),
        b64(claims)
    )
}

/// Claims as Google writes them.
fn google_claims() -> Value {
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

fn google_token_answer(claims: &Value) -> Result<OutResponse, String> {
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

fn github_user(email: Value) -> Result<OutResponse, String> {
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

fn github_token_json() -> Result<OutResponse, String> {
    json_answer(
        200,
        json!({"access_token": GH_TOKEN, "token_type": "bearer", "scope": "read:user,user:email"}),
    )
}

// ---------------------------------------------------------------------------------------
// Settings

#[test]
fn the_dev_provider_needs_no_upstream_settings() {
    assert!(matches!(
        settings_for(ProviderKind::Dev, env(&[])),
        Ok(None)
    ));
}

#[test]
fn github_settings_default_to_github_com_without_the_repo_scope() {
    let s = github_settings();
    assert_eq!(s.scopes, "read:user user:email");
    assert!(s.allow_signup);
    assert_eq!(s.authorize_url, "https://github.com/login/oauth/authorize");
    assert_eq!(s.token_url, "https://github.com/login/oauth/access_token");
    assert_eq!(s.api_url, "https://api.github.com");
}

#[test]
fn github_settings_accept_scopes_and_loopback_mock_urls() {
    let s = settings_for(
        ProviderKind::GitHub,
        env(&[
            ("GITHUB_CLIENT_ID", "id"),
            ("GITHUB_CLIENT_SECRET", CLIENT_SECRET),
            ("GITHUB_SCOPES", "read:user, user:email,repo"),
            ("GITHUB_ALLOW_SIGNUP", "false"),
            (
                "GITHUB_TOKEN_URL",
                "http://127.0.0.1:8080/login/oauth/access_token",
            ),
            ("GITHUB_API_URL", "http://localhost:8080/api/"),
        ]),
    )
    .unwrap();
    let Some(UpstreamSettings::GitHub(s)) = s else {
        panic!("{s:?}")
    };
    assert_eq!(s.scopes, "read:user user:email repo");
    assert!(!s.allow_signup);
    assert_eq!(
        s.token_url,
        "http://127.0.0.1:8080/login/oauth/access_token"
    );
    assert_eq!(s.api_url, "http://localhost:8080/api");
}

#[test]
fn a_missing_client_secret_says_to_use_wrangler_secret_put() {
    let e = settings_for(ProviderKind::GitHub, env(&[("GITHUB_CLIENT_ID", "id")])).unwrap_err();
    assert!(matches!(
        e,
        ConfigError::Missing {
            name: "GITHUB_CLIENT_SECRET",
            ..
        }
    ));
    let text = e.to_string();
    assert!(
        text.contains("npx wrangler secret put GITHUB_CLIENT_SECRET"),
        "{text}"
    );
    assert!(text.contains(".dev.vars"), "{text}");
}

#[test]
fn a_missing_client_id_says_to_use_vars_in_wrangler_toml() {
    for (kind, name) in [
        (ProviderKind::GitHub, "GITHUB_CLIENT_ID"),
        (ProviderKind::Google, "GOOGLE_CLIENT_ID"),
    ] {
        let e = settings_for(kind, env(&[])).unwrap_err();
        assert_eq!(e.variable(), name);
        let text = e.to_string();
        assert!(
            text.contains("[vars]") && text.contains("wrangler.toml"),
            "{text}"
        );
    }
    let e = settings_for(
        ProviderKind::Oidc,
        env(&[("OIDC_CLIENT_ID", "c"), ("OIDC_CLIENT_SECRET", "s")]),
    )
    .unwrap_err();
    assert!(matches!(
        e,
        ConfigError::Missing {
            name: "OIDC_ISSUER",
            ..
        }
    ));
}

#[test]
fn blank_values_count_as_missing() {
    let e = settings_for(
        ProviderKind::GitHub,
        env(&[("GITHUB_CLIENT_ID", "id"), ("GITHUB_CLIENT_SECRET", "   ")]),
    )
    .unwrap_err();
    assert_eq!(e.variable(), "GITHUB_CLIENT_SECRET");
}

#[test]
fn urls_must_be_https_except_on_loopback() {
    for (name, bad) in [
        ("GITHUB_TOKEN_URL", "http://github.example.com/token"),
        ("GITHUB_AUTHORIZE_URL", "/login/oauth/authorize"),
        ("GITHUB_API_URL", "ftp://api.github.com"),
    ] {
        let e = settings_for(
            ProviderKind::GitHub,
            env(&[
                ("GITHUB_CLIENT_ID", "id"),
                ("GITHUB_CLIENT_SECRET", CLIENT_SECRET),
                (name, bad),
            ]),
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
        assert_eq!(e.variable(), name);
        assert!(e.to_string().contains("[vars]"), "{e}");
    }
}

#[test]
fn google_settings_default_to_offline_access_and_google_endpoints() {
    let s = google_settings(&[]);
    assert_eq!(s.scopes, "openid email profile");
    assert!(s.offline);
    assert_eq!(
        s.authorize_url,
        "https://accounts.google.com/o/oauth2/v2/auth"
    );
    assert_eq!(s.token_url, "https://oauth2.googleapis.com/token");
    assert_eq!(
        s.userinfo_url,
        "https://openidconnect.googleapis.com/v1/userinfo"
    );
    assert_eq!(s.issuer, "https://accounts.google.com");
    assert!(!google_settings(&[("GOOGLE_OFFLINE", "false")]).offline);
}

#[test]
fn openid_connect_scopes_must_contain_openid() {
    let e = settings_for(
        ProviderKind::Google,
        env(&[
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
            ("GOOGLE_SCOPES", "email profile"),
        ]),
    )
    .unwrap_err();
    assert_eq!(e.variable(), "GOOGLE_SCOPES");
    assert!(e.to_string().contains("openid"), "{e}");
    let e = settings_for(
        ProviderKind::Oidc,
        env(&[
            ("OIDC_ISSUER", "https://id.example.com"),
            ("OIDC_CLIENT_ID", "id"),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("OIDC_SCOPES", "profile"),
        ]),
    )
    .unwrap_err();
    assert_eq!(e.variable(), "OIDC_SCOPES");
}

#[test]
fn booleans_and_issuers_are_validated() {
    let e = settings_for(
        ProviderKind::Google,
        env(&[
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
            ("GOOGLE_OFFLINE", "maybe"),
        ]),
    )
    .unwrap_err();
    assert_eq!(e.variable(), "GOOGLE_OFFLINE");
    assert!(e.to_string().contains("'maybe'"), "{e}");
    for bad in [
        "https://id.example.com?tenant=1",
        "http://id.example.com",
        "id.example.com",
    ] {
        let e = settings_for(
            ProviderKind::Oidc,
            env(&[
                ("OIDC_ISSUER", bad),
                ("OIDC_CLIENT_ID", "id"),
                ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.variable(), "OIDC_ISSUER", "{bad}");
    }
}

#[test]
fn settings_never_show_the_client_secret() {
    let shown = format!("{:?}", github_settings());
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
    // Even an error about another variable in the same environment.
    let e = settings_for(
        ProviderKind::Google,
        env(&[
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
            ("GOOGLE_TOKEN_URL", "http://oauth2.example.com"),
        ]),
    )
    .unwrap_err();
    assert!(!e.to_string().contains(CLIENT_SECRET));
    assert!(!format!("{e:?}").contains(CLIENT_SECRET));
}

// ---------------------------------------------------------------------------------------
// GitHub

#[test]
fn github_authorize_url_has_exactly_the_web_flow_parameters() {
    let (base, query) = split_query(&github().authorize_url(&authorize_params()));
    assert_eq!(base, "https://github.com/login/oauth/authorize");
    assert_eq!(
        query,
        pairs(&[
            ("client_id", "Iv1.8a61f9b3a7aba766"),
            ("redirect_uri", CALLBACK),
            ("scope", "read:user user:email"),
            ("state", STATE),
            ("allow_signup", "true"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
    );
}

#[test]
fn github_exchange_posts_the_code_asks_for_json_and_reads_the_user() {
    let http = FakeHttp::new(vec![
        github_token_json(),
        github_user(json!("octocat@github.com")),
    ]);
    let sign_in = exchange(&github(), &http).unwrap();
    assert_eq!(http.unused(), 0);

    let requests = http.requests();
    let token = &requests[0];
    assert_eq!(token.method, "POST");
    assert_eq!(token.url, "https://github.com/login/oauth/access_token");
    assert_eq!(header(token, "Accept"), Some("application/json"));
    assert_eq!(
        header(token, "Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        form_map(token),
        HashMap::from(
            [
                ("client_id", "Iv1.8a61f9b3a7aba766"),
                ("client_secret", CLIENT_SECRET),
                ("code", CODE),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        )
    );

    let user = &requests[1];
    assert_eq!(user.method, "GET");
    assert_eq!(user.url, "https://api.github.com/user");
    assert_eq!(
        header(user, "Authorization"),
        Some(format!("Bearer {GH_TOKEN}").as_str())
    );
    assert_eq!(header(user, "Accept"), Some("application/vnd.github+json"));
    assert_eq!(header(user, "User-Agent"), Some("mcp-oauth-worker"));
    assert_eq!(header(user, "X-GitHub-Api-Version"), Some("2022-11-28"));

    assert_eq!(sign_in.user.id, "github:583231");
    assert_eq!(sign_in.user.login, "octocat");
    assert_eq!(sign_in.user.name.as_deref(), Some("The Octocat"));
    assert_eq!(sign_in.user.email.as_deref(), Some("octocat@github.com"));
    assert_eq!(sign_in.user.provider, "github");
    assert_eq!(
        sign_in.tokens,
        UpstreamTokens {
            access_token: GH_TOKEN.into(),
            refresh_token: None,
            expires_at: None,
            scope: Some("read:user user:email".into()),
        }
    );
}

#[test]
fn github_form_encoded_token_answers_are_understood() {
    let http = FakeHttp::new(vec![
        response(
            200,
            "application/x-www-form-urlencoded; charset=utf-8",
            &format!("access_token={GH_TOKEN}&scope=read%3Auser%2Cuser%3Aemail&token_type=bearer"),
        ),
        github_user(json!("octocat@github.com")),
    ]);
    let sign_in = exchange(&github(), &http).unwrap();
    assert_eq!(sign_in.tokens.access_token.secret(), GH_TOKEN);
    assert_eq!(
        sign_in.tokens.scope.as_deref(),
        Some("read:user user:email")
    );
}

#[test]
fn github_errors_reported_with_http_200_are_provider_errors() {
    let http = FakeHttp::new(vec![json_answer(
        200,
        json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"
        }),
    )]);
    let e = exchange(&github(), &http).unwrap_err();
    assert_eq!(
        e,
        UpstreamError::Provider(
            "bad_verification_code (The code passed is incorrect or expired.)".into()
        )
    );
    // No /user request after a failed exchange.
    assert_eq!(http.requests().len(), 1);

    let http = FakeHttp::new(vec![response(
        200,
        "application/x-www-form-urlencoded",
        "error=incorrect_client_credentials&error_description=The+client_id+and%2For+client_secret+passed+are+incorrect.",
    )]);
    let e = exchange(&github(), &http).unwrap_err();
    assert!(
        matches!(&e, UpstreamError::Provider(d) if d.starts_with("incorrect_client_credentials")),
        "{e:?}"
    );
}

#[test]
fn access_denied_is_a_declined_sign_in() {
    let http = FakeHttp::new(vec![json_answer(
        200,
        json!({"error": "access_denied", "error_description": "The user has denied your application access."}),
    )]);
    assert!(matches!(
        exchange(&github(), &http),
        Err(UpstreamError::Denied(_))
    ));
}

#[test]
fn a_private_github_email_is_read_from_user_emails() {
    let http = FakeHttp::new(vec![
        github_token_json(),
        github_user(Value::Null),
        json_answer(
            200,
            json!([
                {"email": "old@example.com", "verified": true, "primary": false, "visibility": null},
                {"email": "unverified@example.com", "verified": false, "primary": false, "visibility": null},
                {"email": "octocat@github.com", "verified": true, "primary": true, "visibility": "private"}
            ]),
        ),
    ]);
    let sign_in = exchange(&github(), &http).unwrap();
    let emails = &http.requests()[2];
    assert_eq!(emails.url, "https://api.github.com/user/emails");
    assert_eq!(
        header(emails, "Authorization"),
        Some(format!("Bearer {GH_TOKEN}").as_str())
    );
    assert_eq!(sign_in.user.email.as_deref(), Some("octocat@github.com"));
}

#[test]
fn an_unverified_primary_email_or_a_failing_emails_call_leaves_no_email() {
    let http = FakeHttp::new(vec![
        github_token_json(),
        github_user(Value::Null),
        json_answer(
            200,
            json!([{"email": "octocat@github.com", "verified": false, "primary": true}]),
        ),
    ]);
    assert_eq!(exchange(&github(), &http).unwrap().user.email, None);

    for failure in [
        json_answer(
            404,
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
        ),
        Err("connection reset".to_owned()),
        response(200, "text/html", "<html>oops</html>"),
    ] {
        let http = FakeHttp::new(vec![github_token_json(), github_user(Value::Null), failure]);
        let sign_in = exchange(&github(), &http).unwrap();
        assert_eq!(sign_in.user.email, None);
        assert_eq!(sign_in.user.login, "octocat");
    }
}

#[test]
fn a_refused_github_user_call_fails_the_sign_in() {
    let http = FakeHttp::new(vec![
        github_token_json(),
        json_answer(
            401,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
        ),
    ]);
    assert!(matches!(
        exchange(&github(), &http),
        Err(UpstreamError::Provider(_))
    ));
    let http = FakeHttp::new(vec![
        github_token_json(),
        json_answer(200, json!({"login": "octocat", "id": "583231"})),
    ]);
    assert!(matches!(
        exchange(&github(), &http),
        Err(UpstreamError::Malformed(_))
    ));
}

#[test]
fn no_answer_is_a_network_error_and_html_is_malformed() {
    let http = FakeHttp::new(vec![Err("dns error: github.com".into())]);
    assert!(matches!(
        exchange(&github(), &http),
        Err(UpstreamError::Network(_))
    ));
    let http = FakeHttp::new(vec![response(
        200,
        "text/html; charset=utf-8",
        "<!DOCTYPE html><html><body>Whoa there!</body></html>",
    )]);
    assert!(matches!(
        exchange(&github(), &http),
        Err(UpstreamError::Malformed(_))
    ));
    let http = FakeHttp::new(vec![json_answer(200, json!({"token_type": "bearer"}))]);
    assert!(matches!(
        exchange(&github(), &http),
        Err(UpstreamError::Malformed(_))
    ));
}

#[test]
fn github_oauth_app_tokens_never_need_refreshing() {
    let http = FakeHttp::new(vec![]);
    let tokens = UpstreamTokens {
        access_token: GH_TOKEN.into(),
        refresh_token: None,
        expires_at: None,
        scope: None,
    };
    assert_eq!(refresh(&github(), &http, &tokens, NOW), Ok(None));
    assert!(http.requests().is_empty());
}

#[test]
fn expiring_github_app_tokens_are_refreshed_and_rotated() {
    let http = FakeHttp::new(vec![
        json_answer(
            200,
            json!({
                "access_token": "ghu_first",
                "expires_in": 28800,
                "refresh_token": "ghr_first",
                "refresh_token_expires_in": 15897600,
                "scope": "",
                "token_type": "bearer"
            }),
        ),
        github_user(json!("octocat@github.com")),
        json_answer(
            200,
            json!({
                "access_token": "ghu_second",
                "expires_in": 28800,
                "refresh_token": "ghr_second",
                "refresh_token_expires_in": 15897600,
                "scope": "",
                "token_type": "bearer"
            }),
        ),
    ]);
    let tokens = exchange(&github(), &http).unwrap().tokens;
    assert_eq!(tokens.expires_at, Some(NOW + 28800));
    assert_eq!(
        tokens.refresh_token.as_ref().map(|t| t.secret()),
        Some("ghr_first")
    );

    // Hours before expiry: nothing to do.
    assert_eq!(refresh(&github(), &http, &tokens, NOW + 3600), Ok(None));
    assert_eq!(http.requests().len(), 2);

    let later = NOW + 28800 - 60;
    let fresh = refresh(&github(), &http, &tokens, later).unwrap().unwrap();
    let request = &http.requests()[2];
    assert_eq!(request.url, "https://github.com/login/oauth/access_token");
    assert_eq!(header(request, "Accept"), Some("application/json"));
    let fields = form_map(request);
    assert_eq!(fields["grant_type"], "refresh_token");
    assert_eq!(fields["refresh_token"], "ghr_first");
    assert_eq!(fields["client_id"], "Iv1.8a61f9b3a7aba766");
    assert_eq!(fields["client_secret"], CLIENT_SECRET);
    assert_eq!(fresh.access_token.secret(), "ghu_second");
    assert_eq!(
        fresh.refresh_token.as_ref().map(|t| t.secret()),
        Some("ghr_second")
    );
    assert_eq!(fresh.expires_at, Some(later + 28800));
}

#[test]
fn a_bad_github_refresh_token_means_signing_in_again() {
    let http = FakeHttp::new(vec![json_answer(
        200,
        json!({"error": "bad_refresh_token", "error_description": "The refresh token passed is incorrect or expired."}),
    )]);
    let tokens = UpstreamTokens {
        access_token: "ghu_x".into(),
        refresh_token: Some("ghr_x".into()),
        expires_at: Some(NOW),
        scope: None,
    };
    assert!(matches!(
        refresh(&github(), &http, &tokens, NOW),
        Err(UpstreamError::Revoked(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Google

#[test]
fn google_authorize_url_asks_for_openid_with_nonce_pkce_and_offline_access() {
    let (base, query) = split_query(&google().authorize_url(&authorize_params()));
    assert_eq!(base, "https://accounts.google.com/o/oauth2/v2/auth");
    assert_eq!(
        query,
        pairs(&[
            ("response_type", "code"),
            ("client_id", GOOGLE_CLIENT),
            ("redirect_uri", CALLBACK),
            ("scope", "openid email profile"),
            ("state", STATE),
            ("nonce", NONCE),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("prompt", "consent"),
        ])
    );

    let online = GoogleProvider::new(google_settings(&[("GOOGLE_OFFLINE", "false")]));
    let (_, query) = split_query(&online.authorize_url(&authorize_params()));
    assert!(query
        .iter()
        .all(|(k, _)| k != "access_type" && k != "prompt"));
}

#[test]
fn google_exchange_checks_the_id_token_and_builds_the_profile() {
    let http = FakeHttp::new(vec![google_token_answer(&google_claims())]);
    let sign_in = exchange(&google(), &http).unwrap();

    let requests = http.requests();
    assert_eq!(
        requests.len(),
        1,
        "the ID token had an email: no userinfo call"
    );
    let token = &requests[0];
    assert_eq!(token.method, "POST");
    assert_eq!(token.url, "https://oauth2.googleapis.com/token");
    assert_eq!(header(token, "Accept"), Some("application/json"));
    assert_eq!(header(token, "Authorization"), None);
    assert_eq!(
        form(token),
        pairs(&[
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
            ("client_id", GOOGLE_CLIENT),
            ("client_secret", CLIENT_SECRET),
        ])
    );

    assert_eq!(sign_in.user.id, format!("google:{GOOGLE_SUB}"));
    assert_eq!(sign_in.user.login, "ada@example.com");
    assert_eq!(sign_in.user.email.as_deref(), Some("ada@example.com"));
    assert_eq!(sign_in.user.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(sign_in.user.provider, "google");
    assert_eq!(google().kind(), "google");
    assert_eq!(sign_in.tokens.access_token.secret(), GOOGLE_ACCESS);
    assert_eq!(
        sign_in.tokens.refresh_token.as_ref().map(|t| t.secret()),
        Some(GOOGLE_REFRESH)
    );
    assert_eq!(sign_in.tokens.expires_at, Some(NOW + 3599));
}

#[test]
fn google_bare_issuer_is_accepted_and_exp_has_a_small_leeway() {
    let mut claims = google_claims();
    claims["iss"] = json!("accounts.google.com");
    claims["exp"] = json!(NOW - 30);
    let http = FakeHttp::new(vec![google_token_answer(&claims)]);
    assert!(exchange(&google(), &http).is_ok());
}

#[test]
fn id_tokens_that_fail_a_claim_check_are_malformed() {
    let mut cases: Vec<(&str, String)> = Vec::new();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = google_claims();
        f(&mut c);
        id_token(&c)
    };
    cases.push((
        "wrong iss",
        with(&|c| c["iss"] = json!("https://evil.example.com")),
    ));
    cases.push(("no iss", with(&|c| c["iss"] = Value::Null)));
    cases.push((
        "wrong aud",
        with(&|c| {
            c["aud"] = json!("other-client.apps.googleusercontent.com");
            c["azp"] = json!("other-client.apps.googleusercontent.com");
        }),
    ));
    cases.push((
        "several audiences, no azp",
        with(&|c| {
            c["aud"] = json!([GOOGLE_CLIENT, "other"]);
            c.as_object_mut().unwrap().remove("azp");
        }),
    ));
    cases.push((
        "azp is another client",
        with(&|c| c["azp"] = json!("other")),
    ));
    cases.push(("expired", with(&|c| c["exp"] = json!(NOW - 61))));
    cases.push(("no exp", with(&|c| c["exp"] = Value::Null)));
    cases.push((
        "issued in the future",
        with(&|c| c["iat"] = json!(NOW + 3600)),
    ));
    cases.push((
        "wrong nonce",
        with(&|c| c["nonce"] = json!("another-nonce")),
    ));
    cases.push(("no nonce", with(&|c| c["nonce"] = Value::Null)));
    cases.push(("empty sub", with(&|c| c["sub"] = json!(""))));
    cases.push(("not a JWS", "not-a-jwt".into()));
    cases.push(("JWE", "a.b.c.d.e".into()));
    cases.push((
        "payload not base64",
        format!("{}.!!!.sig", b64(&json!({"alg": "RS256"}))),
    ));
    cases.push((
        "payload not an object",
        format!("{}.{}.sig", b64(&json!({"alg": "RS256"})), b64(&json!([1]))),
    ));
    cases.push((
        "alg none",
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none"})),
            b64(&google_claims())
        ),
    ));

    for (what, token) in cases {
        let http = FakeHttp::new(vec![json_answer(
            200,
            json!({"access_token": GOOGLE_ACCESS, "expires_in": 3599, "token_type": "Bearer", "id_token": token}),
        )]);
        match exchange(&google(), &http) {
            Err(UpstreamError::Malformed(reason)) => {
                assert!(!reason.contains(GOOGLE_ACCESS), "{what}: {reason}");
            }
            other => panic!("{what}: expected Malformed, got {other:?}"),
        }
    }

    // And the same claims pass when nothing is changed, so the cases above test one thing.
    let http = FakeHttp::new(vec![google_token_answer(&google_claims())]);
    assert!(exchange(&google(), &http).is_ok());
}

#[test]
fn a_token_answer_without_id_token_is_malformed() {
    let http = FakeHttp::new(vec![json_answer(
        200,
        json!({"access_token": GOOGLE_ACCESS, "expires_in": 3599, "token_type": "Bearer"}),
    )]);
    assert!(matches!(
        exchange(&google(), &http),
        Err(UpstreamError::Malformed(_))
    ));
}

#[test]
fn without_an_email_claim_the_userinfo_endpoint_is_asked() {
    let mut claims = google_claims();
    let c = claims.as_object_mut().unwrap();
    c.remove("email");
    c.remove("email_verified");
    c.remove("name");
    let http = FakeHttp::new(vec![
        google_token_answer(&claims),
        json_answer(
            200,
            json!({"sub": GOOGLE_SUB, "email": "ada@example.com", "email_verified": true, "name": "Ada L."}),
        ),
    ]);
    let sign_in = exchange(&google(), &http).unwrap();
    let info = &http.requests()[1];
    assert_eq!(info.method, "GET");
    assert_eq!(info.url, "https://openidconnect.googleapis.com/v1/userinfo");
    assert_eq!(
        header(info, "Authorization"),
        Some(format!("Bearer {GOOGLE_ACCESS}").as_str())
    );
    assert_eq!(sign_in.user.email.as_deref(), Some("ada@example.com"));
    assert_eq!(sign_in.user.name.as_deref(), Some("Ada L."));

    // UserInfo about someone else is refused (OpenID Connect Core §5.3.4).
    let http = FakeHttp::new(vec![
        google_token_answer(&claims),
        json_answer(
            200,
            json!({"sub": "someone-else", "email": "eve@example.com", "email_verified": true}),
        ),
    ]);
    assert!(matches!(
        exchange(&google(), &http),
        Err(UpstreamError::Malformed(_))
    ));

    // An unreachable UserInfo endpoint is not fatal.
    let http = FakeHttp::new(vec![google_token_answer(&claims), Err("timeout".into())]);
    let sign_in = exchange(&google(), &http).unwrap();
    assert_eq!(sign_in.user.email, None);
    assert_eq!(sign_in.user.login, GOOGLE_SUB);
}

#[test]
fn an_unverified_email_is_neither_the_login_nor_the_email() {
    let mut claims = google_claims();
    claims["email_verified"] = json!(false);
    let http = FakeHttp::new(vec![google_token_answer(&claims)]);
    let sign_in = exchange(&google(), &http).unwrap();
    assert_eq!(sign_in.user.email, None);
    assert_eq!(sign_in.user.login, GOOGLE_SUB);
}

#[test]
fn google_token_errors_map_to_provider_and_denied() {
    let http = FakeHttp::new(vec![json_answer(
        400,
        json!({"error": "invalid_grant", "error_description": "Bad Request"}),
    )]);
    assert_eq!(
        exchange(&google(), &http).unwrap_err(),
        UpstreamError::Provider("invalid_grant (Bad Request)".into())
    );
    let http = FakeHttp::new(vec![json_answer(400, json!({"error": "access_denied"}))]);
    assert_eq!(
        exchange(&google(), &http).unwrap_err(),
        UpstreamError::Denied("access_denied".into())
    );
    let http = FakeHttp::new(vec![response(
        500,
        "text/html",
        "<html><title>Error 500 (Server Error)!!1</title></html>",
    )]);
    assert!(matches!(
        exchange(&google(), &http),
        Err(UpstreamError::Provider(_))
    ));
    let http = FakeHttp::new(vec![response(
        200,
        "text/html",
        "<html>captive portal</html>",
    )]);
    assert!(matches!(
        exchange(&google(), &http),
        Err(UpstreamError::Malformed(_))
    ));
    let http = FakeHttp::new(vec![Err("tls handshake failed".into())]);
    assert!(matches!(
        exchange(&google(), &http),
        Err(UpstreamError::Network(_))
    ));
}

fn google_tokens(expires_at: u64, refresh_token: Option<&str>) -> UpstreamTokens {
    UpstreamTokens {
        access_token: GOOGLE_ACCESS.into(),
        refresh_token: refresh_token.map(Into::into),
        expires_at: Some(expires_at),
        scope: Some("openid email".into()),
    }
}

#[test]
fn google_tokens_are_refreshed_only_near_expiry_and_keep_the_refresh_token() {
    let http = FakeHttp::new(vec![json_answer(
        200,
        json!({
            "access_token": "ya29.fresh",
            "expires_in": 3599,
            "scope": "openid https://www.googleapis.com/auth/userinfo.email",
            "token_type": "Bearer",
            "id_token": id_token(&google_claims())
        }),
    )]);
    let far = google_tokens(NOW + REFRESH_MARGIN_SECS + 1, Some(GOOGLE_REFRESH));
    assert_eq!(refresh(&google(), &http, &far, NOW), Ok(None));
    assert!(http.requests().is_empty());

    let near = google_tokens(NOW + REFRESH_MARGIN_SECS, Some(GOOGLE_REFRESH));
    let fresh = refresh(&google(), &http, &near, NOW).unwrap().unwrap();
    let request = &http.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "https://oauth2.googleapis.com/token");
    assert_eq!(
        form(request),
        pairs(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", GOOGLE_REFRESH),
            ("client_id", GOOGLE_CLIENT),
            ("client_secret", CLIENT_SECRET),
        ])
    );
    assert_eq!(fresh.access_token.secret(), "ya29.fresh");
    assert_eq!(
        fresh.refresh_token.as_ref().map(|t| t.secret()),
        Some(GOOGLE_REFRESH)
    );
    assert_eq!(fresh.expires_at, Some(NOW + 3599));
}

#[test]
fn invalid_grant_on_refresh_means_revoked() {
    let http = FakeHttp::new(vec![json_answer(
        400,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
    )]);
    let tokens = google_tokens(NOW - 10, Some(GOOGLE_REFRESH));
    assert_eq!(
        refresh(&google(), &http, &tokens, NOW),
        Err(UpstreamError::Revoked(
            "invalid_grant (Token has been expired or revoked.)".into()
        ))
    );
    // A misconfigured client is not the user's doing.
    let http = FakeHttp::new(vec![json_answer(
        401,
        json!({"error": "invalid_client", "error_description": "Unauthorized"}),
    )]);
    assert!(matches!(
        refresh(&google(), &http, &tokens, NOW),
        Err(UpstreamError::Provider(_))
    ));
}

#[test]
fn without_a_refresh_token_expired_tokens_are_revoked_and_others_used_up() {
    let http = FakeHttp::new(vec![]);
    assert!(matches!(
        refresh(&google(), &http, &google_tokens(NOW, None), NOW),
        Err(UpstreamError::Revoked(_))
    ));
    assert_eq!(
        refresh(&google(), &http, &google_tokens(NOW + 60, None), NOW),
        Ok(None)
    );
    assert!(http.requests().is_empty());
}

// ---------------------------------------------------------------------------------------
// Generic OpenID Connect

const ISSUER: &str = "https://id.example.com/realms/main";

fn discovery(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": "https://id.example.com/realms/main/protocol/openid-connect/auth",
        "token_endpoint": "https://id.example.com/realms/main/protocol/openid-connect/token",
        "userinfo_endpoint": "https://id.example.com/realms/main/protocol/openid-connect/userinfo",
        "jwks_uri": "https://id.example.com/realms/main/protocol/openid-connect/certs",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"]
    })
}

fn oidc_settings() -> OidcSettings {
    match settings_for(
        ProviderKind::Oidc,
        env(&[
            ("OIDC_ISSUER", ISSUER),
            ("OIDC_CLIENT_ID", "mcp-worker"),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
        ]),
    ) {
        Ok(Some(UpstreamSettings::Oidc(s))) => s,
        other => panic!("{other:?}"),
    }
}

fn oidc_claims() -> Value {
    json!({
        "iss": ISSUER, "aud": "mcp-worker", "sub": "f1c3b2a0-7d1e-4c55-9d0e-2b1c0e5f7a91",
        "exp": NOW + 300, "iat": NOW, "nonce": NONCE,
        "email": "grace@example.com", "email_verified": true,
        "preferred_username": "grace"
    })
}

#[test]
fn discovery_fetches_the_well_known_document_of_the_issuer() {
    let http = FakeHttp::new(vec![json_answer(200, discovery(ISSUER))]);
    let doc = pollster::block_on(discover(&http, ISSUER)).unwrap();
    let request = &http.requests()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.url,
        "https://id.example.com/realms/main/.well-known/openid-configuration"
    );
    assert_eq!(doc.issuer, ISSUER);
    assert_eq!(
        doc.token_endpoint,
        "https://id.example.com/realms/main/protocol/openid-connect/token"
    );

    // A trailing slash is removed before the path is appended (Discovery §4.1).
    let http = FakeHttp::new(vec![json_answer(200, discovery("https://id.example.com/"))]);
    pollster::block_on(discover(&http, "https://id.example.com/")).unwrap();
    assert_eq!(
        http.requests()[0].url,
        "https://id.example.com/.well-known/openid-configuration"
    );
}

#[test]
fn discovery_refuses_another_issuer_insecure_endpoints_and_bad_answers() {
    let run = |answer: Result<OutResponse, String>| {
        let http = FakeHttp::new(vec![answer]);
        pollster::block_on(discover(&http, ISSUER))
    };
    assert!(matches!(
        run(json_answer(200, discovery(&format!("{ISSUER}/")))),
        Err(UpstreamError::Config(_))
    ));
    let mut insecure = discovery(ISSUER);
    insecure["token_endpoint"] = json!("http://id.example.com/token");
    assert!(matches!(
        run(json_answer(200, insecure)),
        Err(UpstreamError::Malformed(_))
    ));
    let mut incomplete = discovery(ISSUER);
    incomplete.as_object_mut().unwrap().remove("token_endpoint");
    assert!(matches!(
        run(json_answer(200, incomplete)),
        Err(UpstreamError::Malformed(_))
    ));
    assert!(matches!(
        run(json_answer(404, json!({"error": "not found"}))),
        Err(UpstreamError::Config(_))
    ));
    assert!(matches!(
        run(response(200, "text/html", "<html></html>")),
        Err(UpstreamError::Malformed(_))
    ));
    assert!(matches!(
        run(response(200, "application/json", &" ".repeat(65 * 1024))),
        Err(UpstreamError::Malformed(_))
    ));
    assert!(matches!(
        run(Err("connection refused".into())),
        Err(UpstreamError::Network(_))
    ));
}

#[test]
fn a_failed_discovery_is_a_temporary_503_that_hides_the_providers_words() {
    let leaky = response(500, "text/plain", "db password is hunter2 at 10.0.0.7");
    let http = FakeHttp::new(vec![leaky]);
    let why = pollster::block_on(discover(&http, ISSUER)).unwrap_err();
    for why in [
        why,
        UpstreamError::Network("tls: internal.example:8443".into()),
    ] {
        let (error, log) = discovery_failed(&why);
        let reply = error.to_reply();
        assert_eq!(reply.status, 503);
        assert_eq!(
            reply.header_value("Retry-After"),
            Some(DISCOVERY_RETRY_SECS.to_string().as_str())
        );
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
        let text = String::from_utf8(reply.body.clone()).unwrap();
        for secret in ["hunter2", "10.0.0.7", "internal.example", "500"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(log.contains("discovery failed"), "{log}");
    }
}

#[test]
fn a_discovered_provider_uses_basic_auth_by_default_and_signs_in() {
    let doc: DiscoveryDocument = serde_json::from_value(discovery(ISSUER)).unwrap();
    let provider = OidcProvider::new(oidc_settings(), doc);
    assert_eq!(provider.kind(), "oidc");
    let (base, query) = split_query(&provider.authorize_url(&authorize_params()));
    assert_eq!(
        base,
        "https://id.example.com/realms/main/protocol/openid-connect/auth"
    );
    assert!(query.contains(&("nonce".into(), NONCE.into())));
    assert!(query.iter().all(|(k, _)| k != "access_type"));

    let http = FakeHttp::new(vec![json_answer(
        200,
        json!({"access_token": "at-1", "expires_in": 300, "refresh_token": "rt-1",
               "token_type": "Bearer", "id_token": id_token(&oidc_claims())}),
    )]);
    let sign_in = exchange(&provider, &http).unwrap();
    let request = &http.requests()[0];
    // client_secret_basic (the default when discovery lists no method): the secret is
    // in the Authorization header only.
    let basic = header(request, "Authorization").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(decoded, format!("mcp-worker:{CLIENT_SECRET}").into_bytes());
    assert!(!form_map(request).contains_key("client_secret"));
    assert!(!form_map(request).contains_key("client_id"));

    assert_eq!(sign_in.user.id, "oidc:f1c3b2a0-7d1e-4c55-9d0e-2b1c0e5f7a91");
    assert_eq!(sign_in.user.login, "grace@example.com");
    assert_eq!(sign_in.user.name.as_deref(), Some("grace"));
    assert_eq!(sign_in.user.provider, "oidc");
    assert_eq!(sign_in.tokens.expires_at, Some(NOW + 300));
}

#[test]
fn client_secret_post_is_used_when_the_provider_lists_it() {
    let mut doc = discovery(ISSUER);
    doc["token_endpoint_auth_methods_supported"] = json!([
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt"
    ]);
    let doc: DiscoveryDocument = serde_json::from_value(doc).unwrap();
    let provider = OidcProvider::new(oidc_settings(), doc);
    let http = FakeHttp::new(vec![json_answer(
        200,
        json!({"access_token": "at-1", "token_type": "Bearer", "id_token": id_token(&oidc_claims())}),
    )]);
    exchange(&provider, &http).unwrap();
    let request = &http.requests()[0];
    assert_eq!(header(request, "Authorization"), None);
    assert_eq!(form_map(request)["client_secret"], CLIENT_SECRET);
}

#[test]
fn settings_connect_discovers_and_builds_the_configured_provider() {
    let settings = settings_for(
        ProviderKind::Oidc,
        env(&[
            ("OIDC_ISSUER", ISSUER),
            ("OIDC_CLIENT_ID", "mcp-worker"),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
        ]),
    )
    .unwrap()
    .unwrap();
    assert_eq!(settings.issuer_to_discover(), Some(ISSUER));
    assert!(matches!(
        settings.clone().provider(None),
        Err(UpstreamError::Config(_))
    ));
    let http = FakeHttp::new(vec![json_answer(200, discovery(ISSUER))]);
    let provider = pollster::block_on(settings.connect(&http)).unwrap();
    assert_eq!(provider.kind(), "oidc");

    let github = UpstreamSettings::GitHub(github_settings());
    assert_eq!(github.issuer_to_discover(), None);
    assert_eq!(github.provider(None).unwrap().kind(), "github");
    let http = FakeHttp::new(vec![]);
    let google = pollster::block_on(UpstreamSettings::Google(google_settings(&[])).connect(&http));
    assert_eq!(google.unwrap().kind(), "google");
    assert!(http.requests().is_empty());
}

// ---------------------------------------------------------------------------------------
// Secrets stay out of errors

#[test]
fn no_error_text_contains_the_client_secret_a_code_or_a_token() {
    let secrets = [
        CLIENT_SECRET,
        CODE,
        VERIFIER,
        GH_TOKEN,
        GOOGLE_ACCESS,
        GOOGLE_REFRESH,
    ];
    // What each request carries, as a careless provider or network layer might quote it.
    let echo = format!("client_secret={CLIENT_SECRET} code={CODE} code_verifier={VERIFIER}");
    let refresh_echo = format!("client_secret={CLIENT_SECRET} refresh_token={GOOGLE_REFRESH}");
    let mut errors: Vec<UpstreamError> = Vec::new();

    // Providers that echo what we sent in their error descriptions.
    for status in [200, 400] {
        let http = FakeHttp::new(vec![json_answer(
            status,
            json!({"error": echo.clone(), "error_description": echo.clone()}),
        )]);
        errors.push(exchange(&github(), &http).unwrap_err());
        let http = FakeHttp::new(vec![json_answer(
            status,
            json!({"error": "invalid_grant", "error_description": echo.clone()}),
        )]);
        errors.push(exchange(&google(), &http).unwrap_err());
        let http = FakeHttp::new(vec![json_answer(
            status,
            json!({"error": "invalid_grant", "error_description": refresh_echo.clone()}),
        )]);
        errors.push(
            refresh(
                &google(),
                &http,
                &google_tokens(NOW, Some(GOOGLE_REFRESH)),
                NOW,
            )
            .unwrap_err(),
        );
    }
    // A network layer that quotes the request.
    let http = FakeHttp::new(vec![Err(format!("connection reset while sending {echo}"))]);
    errors.push(exchange(&github(), &http).unwrap_err());
    let http = FakeHttp::new(vec![
        github_token_json(),
        Err(format!("reset: Bearer {GH_TOKEN}")),
    ]);
    errors.push(exchange(&github(), &http).unwrap_err());
    let http = FakeHttp::new(vec![Err(format!("reset while sending {refresh_echo}"))]);
    errors.push(
        refresh(
            &google(),
            &http,
            &google_tokens(NOW, Some(GOOGLE_REFRESH)),
            NOW,
        )
        .unwrap_err(),
    );
    // A token type we refuse, a token answer without id_token, a bad ID token.
    for answer in [
        json!({"access_token": GOOGLE_ACCESS, "token_type": "mac"}),
        json!({"access_token": GOOGLE_ACCESS, "token_type": "Bearer", "refresh_token": GOOGLE_REFRESH}),
    ] {
        let http = FakeHttp::new(vec![json_answer(200, answer)]);
        errors.push(exchange(&google(), &http).unwrap_err());
    }
    let mut claims = google_claims();
    claims["nonce"] = json!("other");
    let http = FakeHttp::new(vec![google_token_answer(&claims)]);
    errors.push(exchange(&google(), &http).unwrap_err());

    assert_eq!(errors.len(), 12);
    for error in errors {
        let shown = format!("{error} {error:?}");
        for secret in secrets {
            assert!(!shown.contains(secret), "{secret} leaked in: {shown}");
        }
    }
}
