//! Redeeming an authorization code at the grant's object: single use (RFC 6749
//! §4.1.2), PKCE (RFC 7636 §4.6), the client, redirect URI and resource it is
//! bound to (RFC 6749 §4.1.3, RFC 8707), its lifetime and the granted scope.
//! Each test names the rule it checks.

mod common;

use common::grant_harness::*;
use mcp_oauth_worker::oauth::grant::{AccessError, AccessRecord, CODE_TTL_SECS};

#[test]
fn a_code_is_single_use_and_a_second_redemption_revokes_the_first_tokens() {
    // RFC 6749 §4.1.2 / OAuth 2.1 §4.1.3.
    let h = Harness::new();
    let code = h.code();
    let pair = h.redeem(&code).unwrap();
    assert!(h.record(pair.access_token.secret()).is_some());

    h.advance(1);
    assert_eq!(oauth_error(h.redeem(&code)), "invalid_grant");
    assert!(
        h.record(pair.access_token.secret()).is_none(),
        "the access record is deleted"
    );
    assert_eq!(
        h.authenticate(pair.access_token.secret()).unwrap_err(),
        AccessError::Invalid
    );
    assert_eq!(
        oauth_error(h.refresh(pair.refresh_token.secret())),
        "invalid_grant"
    );
}

#[test]
fn a_wrong_pkce_verifier_is_invalid_grant_and_burns_the_code() {
    // RFC 7636 §4.6.
    let h = Harness::new();
    let code = h.code();
    let wrong = h.redeem_as(
        &code,
        CLIENT,
        Some(REDIRECT),
        Some(OTHER_VERIFIER),
        Some(RESOURCE),
    );
    assert_eq!(oauth_error(wrong), "invalid_grant");
    assert_eq!(
        oauth_error(h.redeem(&code)),
        "invalid_grant",
        "the right verifier comes too late"
    );
    assert_eq!(h.access_records(), 0);
}

#[test]
fn a_missing_verifier_is_invalid_request() {
    let h = Harness::new();
    let code = h.code();
    let missing = h.redeem_as(&code, CLIENT, Some(REDIRECT), None, Some(RESOURCE));
    assert_eq!(oauth_error(missing), "invalid_request");
    assert_eq!(h.access_records(), 0);
}

#[test]
fn a_malformed_verifier_is_invalid_request() {
    // RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
    for bad in [
        "short",
        &"a".repeat(129),
        "dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk",
    ] {
        let h = Harness::new();
        let code = h.code();
        let result = h.redeem_as(&code, CLIENT, Some(REDIRECT), Some(bad), Some(RESOURCE));
        assert_eq!(oauth_error(result), "invalid_request", "{bad}");
    }
}

#[test]
fn a_code_issued_to_another_client_is_invalid_grant() {
    let h = Harness::new();
    let code = h.code();
    let result = h.redeem_as(
        &code,
        OTHER_CLIENT,
        Some(REDIRECT),
        Some(VERIFIER),
        Some(RESOURCE),
    );
    assert_eq!(oauth_error(result), "invalid_grant");
    assert_eq!(h.access_records(), 0);
}

#[test]
fn the_redirect_uri_must_be_identical_to_the_authorization_request() {
    // OAuth 2.1 §4.1.3.
    for presented in [
        Some("https://app.example/callback/"),
        Some("https://evil.example/callback"),
        None,
    ] {
        let h = Harness::new();
        let code = h.code();
        let result = h.redeem_as(&code, CLIENT, presented, Some(VERIFIER), Some(RESOURCE));
        assert_eq!(oauth_error(result), "invalid_grant", "{presented:?}");
    }
}

#[test]
fn a_resource_other_than_the_authorized_one_is_invalid_target() {
    // RFC 8707 §2.2.
    let h = Harness::new();
    let code = h.code();
    let result = h.redeem_as(
        &code,
        CLIENT,
        Some(REDIRECT),
        Some(VERIFIER),
        Some("https://other.example/mcp"),
    );
    assert_eq!(oauth_error(result), "invalid_target");
    assert_eq!(h.access_records(), 0);
}

#[test]
fn omitting_the_resource_binds_the_tokens_to_the_authorized_one() {
    let h = Harness::new();
    let code = h.code();
    let pair = h
        .redeem_as(&code, CLIENT, Some(REDIRECT), Some(VERIFIER), None)
        .unwrap();
    let record: AccessRecord =
        serde_json::from_str(&h.record(pair.access_token.secret()).unwrap()).unwrap();
    assert_eq!(record.resource, RESOURCE);
}

#[test]
fn a_code_expires_after_code_ttl() {
    let h = Harness::new();
    let code = h.code();
    h.advance(CODE_TTL_SECS + 1);
    assert_eq!(oauth_error(h.redeem(&code)), "invalid_grant");

    let h = Harness::new();
    let code = h.code();
    h.advance(CODE_TTL_SECS - 1);
    assert!(
        h.redeem(&code).is_ok(),
        "still valid just before the end of its lifetime"
    );
}

#[test]
fn a_guessed_code_for_the_grant_neither_works_nor_burns_the_real_one() {
    let h = Harness::new();
    let code = h.code();
    let guess = format!("mcpc.{}.{}", h.grant_id, "A".repeat(43));
    assert_eq!(oauth_error(h.redeem(&guess)), "invalid_grant");
    assert!(h.redeem(&code).is_ok());
}

#[test]
fn a_code_for_an_unknown_grant_is_invalid_grant() {
    let h = Harness::new();
    let code = format!("mcpc.{}.{}", h.grant_id, "A".repeat(43));
    assert_eq!(oauth_error(h.redeem(&code)), "invalid_grant");
    assert!(h.state().is_none());
}

#[test]
fn the_granted_scope_is_the_consented_one() {
    let h = Harness::new();
    let code = h.code_for(request_with_scope(&["mcp"]));
    let pair = h.redeem(&code).unwrap();
    assert_eq!(pair.scope, vec!["mcp"]);
    assert_eq!(
        h.authenticate(pair.access_token.secret()).unwrap().scopes,
        vec!["mcp"]
    );
}
