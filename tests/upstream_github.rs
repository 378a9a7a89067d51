//! The GitHub provider against a fake HTTP client that records every request and replays answers shaped like the real ones: the authorize URL,
//! the code exchange and the user (and its e-mail) it reads, GitHub's errors,
//! and refreshing the tokens of GitHub Apps.

mod common;

use std::collections::HashMap;

use serde_json::{json, Value};

use common::http::FakeHttp;
use common::upstream_fixtures::*;
use mcp_oauth_worker::upstream::{IdentityProvider, UpstreamError, UpstreamTokens};

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
