//! Secrets cannot print: formatting a type that carries one with `{:?}` or `{:#?}` shows
//! no secret value (issue 20). Each value is built with known secret strings, and the test
//! asserts that none of them appears in either form, as text or as the list of bytes a
//! derived `Debug` prints for a `Vec<u8>` body.

use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::oauth::grant::command::GrantCommand;
use mcp_oauth_worker::oauth::register::{register_confidential, validate, RegistrationRequest};
use mcp_oauth_worker::outbound::{OutRequest, OutResponse};
use mcp_oauth_worker::secret::Secret;
use mcp_oauth_worker::upstream::{AuthorizeParams, ExchangeParams, SignIn, UpstreamTokens};
use mcp_oauth_worker::user::UserProfile;
use serde_json::json;

/// Panics when the `{:?}` or `{:#?}` form of `value` shows any of `secrets`.
fn assert_hidden(value: &impl std::fmt::Debug, secrets: &[&str]) {
    for shown in [format!("{value:?}"), format!("{value:#?}")] {
        let compact: String = shown.chars().filter(|c| !c.is_whitespace()).collect();
        for secret in secrets {
            assert!(
                !shown.contains(secret),
                "`{secret}` is printed in:\n{shown}"
            );
            // A derived `Debug` of a byte body prints `[115, 51, ...]`.
            let bytes: Vec<String> = secret.bytes().map(|b| b.to_string()).collect();
            assert!(
                !compact.contains(&bytes.join(",")),
                "the bytes of `{secret}` are printed in:\n{shown}"
            );
        }
    }
}

const CODE: &str = "code-4f9c2a7e";
const VERIFIER: &str = "verifier-8d1b6e03";
const CLIENT_SECRET: &str = "clientsecret-77aa1c";
const ACCESS: &str = "gho-access-5e2d9b";
const REFRESH: &str = "ghr-refresh-c03f18";
const STATE: &str = "state-91b7e4";
const NONCE: &str = "nonce-2c6f0d";
const COOKIE: &str = "cookie-e8a3b5";
const BASIC: &str = "Y2xpZW50OnNlY3JldA-basic";

#[test]
fn an_outbound_request_shows_no_body_and_no_credentials() {
    let token_request = OutRequest::post_form(
        "https://idp.example/token",
        &[
            ("code", CODE),
            ("code_verifier", VERIFIER),
            ("client_secret", CLIENT_SECRET),
        ],
    )
    .header("Authorization", &format!("Basic {BASIC}"));
    assert_hidden(&token_request, &[CODE, VERIFIER, CLIENT_SECRET, BASIC]);
    let api_call = OutRequest::get("https://api.example/user")
        .header("authorization", &format!("Bearer {ACCESS}"))
        .header("Cookie", &format!("s={COOKIE}"));
    assert_hidden(&api_call, &[ACCESS, COOKIE]);
    // Still useful for debugging: what was asked of whom.
    let shown = format!("{token_request:?}");
    assert!(shown.contains("https://idp.example/token") && shown.contains("POST"));
}

#[test]
fn an_outbound_response_shows_no_body_and_no_cookie() {
    let answer = OutResponse {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Set-Cookie".into(), format!("sid={COOKIE}; Secure")),
        ],
        body: json!({"access_token": ACCESS, "refresh_token": REFRESH})
            .to_string()
            .into_bytes(),
    };
    assert_hidden(&answer, &[ACCESS, REFRESH, COOKIE]);
    assert!(format!("{answer:?}").contains("application/json"));
}

#[test]
fn upstream_tokens_and_a_sign_in_show_no_token() {
    let tokens = UpstreamTokens {
        access_token: ACCESS.into(),
        refresh_token: Some(REFRESH.into()),
        expires_at: Some(1_700_000_000),
        scope: Some("repo".into()),
    };
    assert_hidden(&tokens, &[ACCESS, REFRESH]);
    assert_eq!(tokens.access_token.secret(), ACCESS);
    let sign_in = SignIn {
        user: UserProfile {
            id: "github:1".into(),
            login: "octo".into(),
            name: None,
            email: None,
            provider: "github".into(),
        },
        tokens: tokens.clone(),
    };
    assert_hidden(&sign_in, &[ACCESS, REFRESH]);
    // The grant's encrypted props keep their shape: the bare strings.
    let stored = serde_json::to_value(&tokens).unwrap();
    assert_eq!(stored["access_token"], ACCESS);
    assert_eq!(stored["refresh_token"], REFRESH);
    let back: UpstreamTokens = serde_json::from_value(stored).unwrap();
    assert_eq!(back, tokens);
}

#[test]
fn authorize_and_exchange_params_show_no_state_code_verifier_or_nonce() {
    let authorize = AuthorizeParams {
        callback_url: "https://mcp.example/callback",
        state: STATE.into(),
        pkce_challenge: "challenge",
        nonce: NONCE.into(),
    };
    assert_hidden(&authorize, &[STATE, NONCE]);
    let exchange = ExchangeParams {
        code: CODE.into(),
        callback_url: "https://mcp.example/callback",
        pkce_verifier: VERIFIER.into(),
        nonce: NONCE.into(),
        now: 1_700_000_000,
    };
    assert_hidden(&exchange, &[CODE, VERIFIER, NONCE]);
    assert_eq!(exchange.code.secret(), CODE);
}

#[test]
fn a_reply_shows_no_body_cookie_or_redirect_query() {
    let token_reply = Reply::json(
        200,
        &json!({"access_token": ACCESS, "refresh_token": REFRESH}),
    )
    .header(
        "Set-Cookie",
        &format!("__Host-s={COOKIE}; Secure; HttpOnly"),
    );
    assert_hidden(&token_reply, &[ACCESS, REFRESH, COOKIE]);
    let redirect = Reply::redirect(&format!(
        "https://client.example/cb?code={CODE}&state={STATE}"
    ));
    assert_hidden(&redirect, &[CODE, STATE]);
    let shown = format!("{redirect:?}");
    assert!(shown.contains("302") && shown.contains("https://client.example/cb"));
}

#[test]
fn a_config_secret_shows_no_value() {
    let secret = Secret::new(CLIENT_SECRET);
    assert_hidden(&secret, &[CLIENT_SECRET]);
    assert_hidden(&Some(secret.clone()), &[CLIENT_SECRET]);
    assert_eq!(secret.expose(), CLIENT_SECRET);
}

/// Built from its JSON, as it crosses to the grant's object.
#[test]
fn a_redeem_command_shows_no_code_verifier() {
    let command: GrantCommand = serde_json::from_value(json!({
        "redeem": {
            "code": CODE,
            "client_id": "client",
            "redirect_uri": "https://client.example/cb",
            "code_verifier": VERIFIER,
            "resource": null,
        }
    }))
    .unwrap();
    assert_hidden(&command, &[CODE, VERIFIER]);
}

#[test]
fn registered_shows_no_client_secret() {
    let body = br#"{"redirect_uris": ["https://client.example/cb"], "client_name": "C"}"#;
    let validated = validate(RegistrationRequest::from_json(body).unwrap()).unwrap();
    let registered =
        register_confidential(validated, "client".into(), CLIENT_SECRET.into(), 0, 3600);
    assert_hidden(&registered, &[CLIENT_SECRET]);
    // The one place it is shown: the registration response, once.
    assert_eq!(registered.response()["client_secret"], CLIENT_SECRET);
}
