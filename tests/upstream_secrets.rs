//! No error of any upstream provider (GitHub, Google, generic OpenID Connect)
//! carries the client secret, a code or a token, tested against a fake HTTP client that records every request and replays answers shaped like the real ones.

mod common;

use serde_json::json;

use common::http::FakeHttp;
use common::upstream_fixtures::*;
use mcp_oauth_worker::upstream::UpstreamError;

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
