//! The Google provider against a fake HTTP client that records every request and replays answers shaped like the real ones: the authorize URL
//! (OpenID, nonce, PKCE, offline access), the ID token's checks, the userinfo
//! fallback, Google's errors, and refreshing near expiry.

mod common;

use serde_json::{json, Value};

use common::http::FakeHttp;
use common::upstream_fixtures::*;
use mcp_oauth_worker::upstream::google::GoogleProvider;
use mcp_oauth_worker::upstream::{IdentityProvider, UpstreamError, REFRESH_MARGIN_SECS};

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
