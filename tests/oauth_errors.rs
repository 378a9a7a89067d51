//! OAuth errors, a pure leaf of the authorization server. the exact RFC 6749 error codes and
//! bodies, their statuses and challenges, and error redirects with `state` and
//! `iss` (RFC 6749 §4.1.2.1, RFC 9207). Each test names the rule it checks.

mod common;

use common::body_json;
use serde_json::json;

use mcp_oauth_worker::oauth::error::{ErrorCode, OAuthError};
use mcp_oauth_worker::urls::append_query;

#[test]
fn error_codes_are_the_exact_rfc_strings() {
    let expected = [
        (OAuthError::invalid_request("x"), "invalid_request"),
        (OAuthError::invalid_client("x"), "invalid_client"),
        (OAuthError::invalid_grant("x"), "invalid_grant"),
        (OAuthError::unauthorized_client("x"), "unauthorized_client"),
        (
            OAuthError::unsupported_grant_type("x"),
            "unsupported_grant_type",
        ),
        (OAuthError::invalid_scope("x"), "invalid_scope"),
        (OAuthError::invalid_target("x"), "invalid_target"),
        (OAuthError::access_denied("x"), "access_denied"),
        (
            OAuthError::unsupported_response_type("x"),
            "unsupported_response_type",
        ),
        (OAuthError::server_error("x"), "server_error"),
        (
            OAuthError::temporarily_unavailable("x"),
            "temporarily_unavailable",
        ),
        (
            OAuthError::invalid_redirect_uri("x"),
            "invalid_redirect_uri",
        ),
        (
            OAuthError::invalid_client_metadata("x"),
            "invalid_client_metadata",
        ),
        (OAuthError::invalid_token("x"), "invalid_token"),
        (OAuthError::insufficient_scope("x"), "insufficient_scope"),
    ];
    for (error, code) in expected {
        assert_eq!(error.code.as_str(), code);
    }
    assert_eq!(
        ErrorCode::Extension("slow_down".into()).as_str(),
        "slow_down"
    );
}

#[test]
fn rfc6749_5_2_error_body_is_exactly_error_and_description() {
    let reply = OAuthError::invalid_grant("authorization code has expired").to_json_reply();
    assert_eq!(reply.status, 400);
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        r#"{"error":"invalid_grant","error_description":"authorization code has expired"}"#
    );
    assert_eq!(reply.header_value("content-type"), Some("application/json"));
}

#[test]
fn rfc6749_5_1_error_responses_are_not_cached() {
    let reply = OAuthError::invalid_request("x").to_json_reply();
    assert_eq!(reply.header_value("cache-control"), Some("no-store"));
    assert_eq!(reply.header_value("pragma"), Some("no-cache"));
}

#[test]
fn status_is_400_except_for_client_token_and_server_conditions() {
    let status = |e: OAuthError| e.to_json_reply().status;
    assert_eq!(status(OAuthError::invalid_request("x")), 400);
    assert_eq!(status(OAuthError::invalid_scope("x")), 400);
    assert_eq!(status(OAuthError::invalid_target("x")), 400);
    assert_eq!(status(OAuthError::invalid_client_metadata("x")), 400);
    assert_eq!(status(OAuthError::invalid_client("x")), 401);
    assert_eq!(status(OAuthError::invalid_token("x")), 401);
    assert_eq!(status(OAuthError::insufficient_scope("x")), 403);
    assert_eq!(status(OAuthError::server_error("x")), 500);
    assert_eq!(status(OAuthError::temporarily_unavailable("x")), 503);
}

#[test]
fn invalid_client_after_basic_auth_carries_a_basic_challenge() {
    let e = OAuthError::invalid_client("client authentication failed");
    let with = e.to_json_reply_for_basic_auth();
    assert_eq!(with.status, 401);
    assert_eq!(
        with.header_value("www-authenticate"),
        Some("Basic realm=\"oauth\"")
    );
    assert_eq!(
        body_json(&with),
        json!({"error": "invalid_client", "error_description": "client authentication failed"})
    );
    // Without a Basic attempt there is no challenge to answer.
    assert_eq!(e.to_json_reply().header_value("www-authenticate"), None);
    // Other errors never get one.
    let other = OAuthError::invalid_grant("x").to_json_reply_for_basic_auth();
    assert_eq!(other.header_value("www-authenticate"), None);
}

#[test]
fn rfc6749_4_1_2_1_error_redirect_adds_error_description_state_and_iss() {
    let e = OAuthError::access_denied("the user denied access");
    assert_eq!(
        e.redirect_location(
            "https://claude.ai/api/mcp/auth_callback",
            Some("xyz"),
            "https://mcp.example.com"
        ),
        "https://claude.ai/api/mcp/auth_callback?error=access_denied&error_description=the+user+denied+access&state=xyz&iss=https%3A%2F%2Fmcp.example.com"
    );
}

#[test]
fn error_redirect_without_state_omits_it() {
    let e = OAuthError::invalid_scope("scope 'admin' is not supported");
    let loc = e.redirect_location(
        "cursor://anysphere.cursor-mcp/oauth/callback",
        None,
        "https://i",
    );
    assert_eq!(
        loc,
        "cursor://anysphere.cursor-mcp/oauth/callback?error=invalid_scope&error_description=scope+%27admin%27+is+not+supported&iss=https%3A%2F%2Fi"
    );
}

#[test]
fn rfc6749_3_1_2_existing_query_is_retained_unchanged() {
    let loc = append_query(
        "https://app.example/cb?tenant=a%2Fb&x=1",
        &[("code", "c&d"), ("state", "s t")],
    );
    assert_eq!(
        loc,
        "https://app.example/cb?tenant=a%2Fb&x=1&code=c%26d&state=s+t"
    );
}

#[test]
fn state_is_percent_encoded_so_it_cannot_inject_parameters() {
    let loc = append_query("https://a.example/cb", &[("state", "x&code=evil#frag")]);
    assert_eq!(loc, "https://a.example/cb?state=x%26code%3Devil%23frag");
}

#[test]
fn private_use_scheme_without_authority_is_not_rewritten() {
    let loc = append_query("com.example.app:/oauth2redirect", &[("code", "abc")]);
    assert_eq!(loc, "com.example.app:/oauth2redirect?code=abc");
}

#[test]
fn descriptions_never_carry_quotes_or_line_breaks() {
    let e = OAuthError::invalid_request("bad \"value\"\r\nX-Injected: 1");
    assert_eq!(e.description, "bad 'value'  X-Injected: 1");
    assert_eq!(e.to_string(), e.description);
}
