//! Revocation at the grant's object (RFC 7009): either token ends the grant,
//! only its own client may revoke it, and unknown or repeated revocations are
//! no error. Each test names the rule it checks.

mod common;

use common::grant_harness::*;
use mcp_oauth_worker::oauth::grant::AccessError;

#[test]
fn revoking_the_access_token_ends_the_grant() {
    // RFC 7009 §2.1.
    let h = Harness::new();
    let pair = h.tokens();
    h.revoke_as(pair.access_token.secret(), CLIENT).unwrap();
    assert_eq!(h.access_records(), 0);
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
fn revoking_the_refresh_token_ends_the_grant() {
    let h = Harness::new();
    let pair = h.tokens();
    h.revoke_as(pair.refresh_token.secret(), CLIENT).unwrap();
    assert_eq!(h.access_records(), 0);
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
fn another_client_cannot_revoke_the_grant() {
    // RFC 7009 §2.1: the server verifies the token was issued to the client.
    let h = Harness::new();
    let pair = h.tokens();
    assert!(h
        .revoke_as(pair.refresh_token.secret(), OTHER_CLIENT)
        .is_ok());
    assert!(h
        .revoke_as(pair.access_token.secret(), OTHER_CLIENT)
        .is_ok());
    assert_eq!(h.access_records(), 1);
    assert!(h.authenticate(pair.access_token.secret()).is_ok());
    assert!(h.refresh(pair.refresh_token.secret()).is_ok());
}

#[test]
fn an_unknown_token_is_not_an_error() {
    // RFC 7009 §2.2.
    let h = Harness::new();
    assert!(h
        .revoke_as(
            "mcpr.nothing-here-at-all.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            CLIENT
        )
        .is_ok());
    assert!(h.state().is_none());
    let pair = h.tokens();
    assert!(h.revoke_as("not-a-token", CLIENT).is_ok());
    assert!(h.authenticate(pair.access_token.secret()).is_ok());
}

#[test]
fn revoking_twice_is_harmless() {
    let h = Harness::new();
    let pair = h.tokens();
    h.revoke_as(pair.refresh_token.secret(), CLIENT).unwrap();
    let revoked_at = h.state().unwrap().revoked_at;
    h.advance(10);
    assert!(h.revoke_as(pair.refresh_token.secret(), CLIENT).is_ok());
    assert_eq!(h.state().unwrap().revoked_at, revoked_at);
}

#[test]
fn the_just_rotated_refresh_token_still_revokes_within_the_grace_window() {
    let h = Harness::new();
    let first = h.tokens();
    let rotated = h.refresh(first.refresh_token.secret()).unwrap();
    h.revoke_as(first.refresh_token.secret(), CLIENT).unwrap();
    assert_eq!(h.access_records(), 0);
    assert_eq!(
        oauth_error(h.refresh(rotated.refresh_token.secret())),
        "invalid_grant"
    );
}
