//! Access tokens and their KV records: resource binding (RFC 8707), expiry,
//! records that cannot be edited, tampered with or opened without the server
//! secret and their own token, and the user context they yield. Each test names the rule it checks.

mod common;

use common::grant_harness::*;
use mcp_oauth_worker::oauth::crypto::Keyring;
use mcp_oauth_worker::oauth::grant::{self, AccessError, Props};

fn tamper(record: &str, field: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(record).unwrap();
    let text = value[field].as_str().unwrap().to_owned();
    let mut bytes = text.into_bytes();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    value[field] = serde_json::Value::String(String::from_utf8(bytes).unwrap());
    value.to_string()
}

#[test]
fn a_token_for_another_resource_is_wrong_resource() {
    // RFC 8707: the audience is checked.
    let h = Harness::new();
    let pair = h.tokens();
    let record = h.record(pair.access_token.secret());
    let record = record.as_deref();
    let result = grant::authenticate(
        record,
        pair.access_token.secret(),
        &["https://other.example/mcp"],
        h.now(),
        &ring(),
    );
    assert_eq!(result.unwrap_err(), AccessError::WrongResource);
}

#[test]
fn an_access_token_expires_after_its_lifetime() {
    let h = Harness::new();
    let pair = h.tokens();
    h.advance(ACCESS_TTL - 1);
    assert!(h.authenticate(pair.access_token.secret()).is_ok());
    h.advance(1);
    assert_eq!(
        h.authenticate(pair.access_token.secret()).unwrap_err(),
        AccessError::Invalid
    );
}

#[test]
fn an_edited_record_cannot_widen_what_its_token_may_do() {
    // Someone able to write KV changes the record behind a token: a wider
    // scope, a later expiry, another client or resource. The fields are bound
    // into the wrapped key, so the record no longer unwraps.
    let h = Harness::new();
    let first = h.tokens();
    // A token narrowed to `mcp` alone, so widening its scope would matter.
    let pair = h
        .refresh_as(first.refresh_token.secret(), CLIENT, Some(&["mcp"]), None)
        .unwrap();
    assert_eq!(pair.scope, ["mcp"]);
    let record = h.record(pair.access_token.secret()).unwrap().clone();
    let edits: [(&str, serde_json::Value); 4] = [
        ("scope", serde_json::json!(["mcp", "github:repos"])),
        ("expires_at", serde_json::json!(h.now() + 10 * ACCESS_TTL)),
        ("client_id", serde_json::json!("another-client")),
        ("user_id", serde_json::json!("github:1")),
    ];
    for (field, value) in edits {
        let mut edited: serde_json::Value = serde_json::from_str(&record).unwrap();
        edited[field] = value;
        let result = grant::authenticate(
            Some(&edited.to_string()),
            pair.access_token.secret(),
            &[RESOURCE],
            h.now(),
            &ring(),
        );
        assert_eq!(result.unwrap_err(), AccessError::Invalid, "{field}");
    }
    assert!(grant::authenticate(
        Some(&record),
        pair.access_token.secret(),
        &[RESOURCE],
        h.now(),
        &ring()
    )
    .is_ok());
}

#[test]
fn a_tampered_record_is_invalid() {
    let h = Harness::new();
    let pair = h.tokens();
    let record = h.record(pair.access_token.secret()).unwrap().clone();
    for field in ["wrapped_key", "props"] {
        let bad = tamper(&record, field);
        assert_ne!(bad, record);
        let result = grant::authenticate(
            Some(&bad),
            pair.access_token.secret(),
            &[RESOURCE],
            h.now(),
            &ring(),
        );
        assert_eq!(result.unwrap_err(), AccessError::Invalid, "{field}");
    }
    assert_eq!(
        grant::authenticate(
            Some("{not json"),
            pair.access_token.secret(),
            &[RESOURCE],
            h.now(),
            &ring()
        )
        .unwrap_err(),
        AccessError::Invalid
    );
    assert_eq!(
        grant::authenticate(
            None,
            pair.access_token.secret(),
            &[RESOURCE],
            h.now(),
            &ring()
        )
        .unwrap_err(),
        AccessError::Invalid
    );
}

#[test]
fn a_record_needs_the_server_secret() {
    let h = Harness::new();
    let pair = h.tokens();
    let record = h.record(pair.access_token.secret());
    let record = record.as_deref();
    let other = "another-server-secret-0123456789abcdef";
    assert_eq!(
        grant::authenticate(
            record,
            pair.access_token.secret(),
            &[RESOURCE],
            h.now(),
            &Keyring::new(other, None)
        )
        .unwrap_err(),
        AccessError::Invalid
    );
    // After a rotation that keeps the old key as SECRET_KEY_PREVIOUS, it opens.
    assert!(grant::authenticate(
        record,
        pair.access_token.secret(),
        &[RESOURCE],
        h.now(),
        &Keyring::new(other, Some(SECRET))
    )
    .is_ok());
}

#[test]
fn a_token_of_another_grant_does_not_open_a_record() {
    let a = Harness::seeded(1);
    let b = Harness::seeded(1_000_000);
    let pa = a.tokens();
    let pb = b.tokens();
    assert_ne!(a.grant_id, b.grant_id);
    let record_a = a.record(pa.access_token.secret());
    let record_a = record_a.as_deref();
    assert_eq!(
        grant::authenticate(
            record_a,
            pb.access_token.secret(),
            &[RESOURCE],
            a.now(),
            &ring()
        )
        .unwrap_err(),
        AccessError::Invalid
    );
    // Same grant id spelled into the token, wrong secret.
    let forged = format!("mcpa.{}.{}", a.grant_id, "Z".repeat(43));
    assert_eq!(
        grant::authenticate(record_a, &forged, &[RESOURCE], a.now(), &ring()).unwrap_err(),
        AccessError::Invalid
    );
    // A refresh token is never an access token.
    assert_eq!(
        grant::authenticate(
            record_a,
            pa.refresh_token.secret(),
            &[RESOURCE],
            a.now(),
            &ring()
        )
        .unwrap_err(),
        AccessError::Invalid
    );
}

#[test]
fn another_access_token_of_the_same_grant_does_not_open_the_record() {
    let h = Harness::new();
    let first = h.tokens();
    let second = h.refresh(first.refresh_token.secret()).unwrap();
    let record = h.record(first.access_token.secret());
    let record = record.as_deref();
    assert_eq!(
        grant::authenticate(
            record,
            second.access_token.secret(),
            &[RESOURCE],
            h.now(),
            &ring()
        )
        .unwrap_err(),
        AccessError::Invalid
    );
}

#[test]
fn the_user_context_has_the_user_the_scope_and_the_upstream_token() {
    let h = Harness::new();
    let pair = h.tokens();
    let ctx = h.authenticate(pair.access_token.secret()).unwrap();
    assert_eq!(ctx.user, props().user);
    assert_eq!(
        ctx.upstream_token.as_ref().map(|s| s.expose()),
        Some(UPSTREAM_ACCESS)
    );
    assert_eq!(ctx.scopes, vec!["mcp", "github:repos"]);
    assert!(ctx.has_scope("github:repos"));
    assert_eq!(ctx.client_id.as_deref(), Some(CLIENT));
}

#[test]
fn a_user_without_upstream_tokens_has_no_upstream_token() {
    let h = Harness::new();
    let state = h.begin();
    h.take_state(&state).unwrap();
    let code = h
        .issue_code_with(Props {
            upstream: None,
            ..props()
        })
        .unwrap();
    let pair = h.redeem(&code).unwrap();
    assert!(h
        .authenticate(pair.access_token.secret())
        .unwrap()
        .upstream_token
        .is_none());
}
