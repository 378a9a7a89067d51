//! Refresh token rotation at the grant's object (RFC 6749 §6, OAuth 2.1
//! §4.3.1): the grace window for retries, reuse detection, concurrent refreshes
//! (one rotation, one upstream refresh), scope and resource rules, and the
//! grant's lifetime. Each test names the rule it checks.

mod common;

use common::grant_harness::*;
use common::UpstreamRefresh;
use mcp_oauth_worker::oauth::grant::{AccessError, TokenPair, REFRESH_GRACE_SECS};

#[test]
fn a_retry_within_the_grace_window_gets_the_same_pair() {
    let h = Harness::new();
    let first = h.tokens();
    h.advance(100);
    let rotated = h.refresh(first.refresh_token.secret()).unwrap();
    h.advance(REFRESH_GRACE_SECS);
    let replay = h.refresh(first.refresh_token.secret()).unwrap();
    assert_eq!(replay.access_token.secret(), rotated.access_token.secret());
    assert_eq!(
        replay.refresh_token.secret(),
        rotated.refresh_token.secret()
    );
    assert_eq!(replay, rotated);
    assert_eq!(h.access_records(), 2, "a replay mints nothing");
    assert!(h.authenticate(replay.access_token.secret()).is_ok());
    assert!(
        h.refresh(replay.refresh_token.secret()).is_ok(),
        "the replayed refresh token is the current one"
    );
}

#[test]
fn reuse_after_the_grace_window_revokes_the_grant() {
    // OAuth 2.1 §4.3.1: reuse of a rotated refresh token signals theft.
    let h = Harness::new();
    let first = h.tokens();
    let rotated = h.refresh(first.refresh_token.secret()).unwrap();
    h.advance(REFRESH_GRACE_SECS + 1);
    assert_eq!(
        oauth_error(h.refresh(first.refresh_token.secret())),
        "invalid_grant"
    );
    assert_eq!(
        oauth_error(h.refresh(rotated.refresh_token.secret())),
        "invalid_grant",
        "the current token dies too"
    );
    assert_eq!(h.access_records(), 0);
    assert_eq!(
        h.authenticate(rotated.access_token.secret()).unwrap_err(),
        AccessError::Invalid
    );
    assert_eq!(
        h.authenticate(first.access_token.secret()).unwrap_err(),
        AccessError::Invalid
    );
}

#[test]
fn a_token_two_generations_old_revokes_the_grant_even_within_the_grace_window() {
    let h = Harness::new();
    let g0 = h.tokens();
    let g1 = h.refresh(g0.refresh_token.secret()).unwrap();
    let g2 = h.refresh(g1.refresh_token.secret()).unwrap();
    assert_eq!(
        oauth_error(h.refresh(g0.refresh_token.secret())),
        "invalid_grant"
    );
    assert_eq!(
        oauth_error(h.refresh(g2.refresh_token.secret())),
        "invalid_grant"
    );
    assert_eq!(h.access_records(), 0);
}

#[test]
fn a_long_chain_of_rotations_still_detects_an_old_token() {
    let h = Harness::new();
    let mut current = h.tokens();
    let mut old = Vec::new();
    for _ in 0..10 {
        h.advance(REFRESH_GRACE_SECS + 1);
        old.push(current.refresh_token.clone());
        current = h.refresh(current.refresh_token.secret()).unwrap();
    }
    assert_eq!(oauth_error(h.refresh(old[3].secret())), "invalid_grant");
    assert_eq!(
        oauth_error(h.refresh(current.refresh_token.secret())),
        "invalid_grant"
    );
}

#[test]
fn concurrent_refreshes_rotate_once_and_all_get_the_same_pair() {
    // Five refreshes with one token in flight at once, on one platform: the
    // grant's object serializes them, so the first rotates and the others
    // are retries within the grace window that get the same pair.
    let h = Harness::new();
    let first = h.tokens();
    h.advance(500);
    let answers: Vec<TokenPair> = h
        .concurrent_refreshes(first.refresh_token.secret(), 5)
        .into_iter()
        .map(|a| a.expect("every concurrent refresh succeeds"))
        .collect();
    assert_eq!(answers.len(), 5);
    assert!(answers.iter().all(|a| *a == answers[0]));
    assert_ne!(answers[0].refresh_token, first.refresh_token);
    assert_eq!(
        h.access_records(),
        2,
        "exactly one rotation minted one access token"
    );
    assert_eq!(h.state().unwrap().revoked_at, None);
    assert!(h.authenticate(answers[0].access_token.secret()).is_ok());
    let next = h.refresh(answers[0].refresh_token.secret()).unwrap();
    assert_ne!(next, answers[0]);
}

#[test]
fn concurrent_refreshes_refresh_upstream_once_and_never_spend_its_token_twice() {
    // A rotating upstream provider (GitHub App tokens, many OIDC providers):
    // its refresh token is single use. Concurrent refreshes of one grant
    // must call it once, inside the grant's serialization.
    let h = Harness::new();
    let first = h.tokens();
    *h.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
    h.advance(500);
    let answers: Vec<TokenPair> = h
        .concurrent_refreshes(first.refresh_token.secret(), 5)
        .into_iter()
        .map(|a| a.expect("every concurrent refresh succeeds"))
        .collect();
    assert!(answers.iter().all(|a| *a == answers[0]));
    assert_eq!(h.p.provider.refresh_calls.get(), 1);
    let spent = h.p.provider.spent_refresh_tokens.borrow().clone();
    assert_eq!(spent, vec![UPSTREAM_REFRESH.to_owned()]);
    assert_eq!(h.access_records(), 2);
    assert_eq!(h.state().unwrap().revoked_at, None);
    // The new access token carries the provider's new token.
    let ctx = h.authenticate(answers[0].access_token.secret()).unwrap();
    assert_eq!(ctx.upstream_token.unwrap().expose(), "up-access-1");
    // And the next round of concurrent refreshes spends the new upstream
    // refresh token once, never the old one again.
    h.advance(REFRESH_GRACE_SECS + 1);
    let again: Vec<TokenPair> = h
        .concurrent_refreshes(answers[0].refresh_token.secret(), 3)
        .into_iter()
        .map(|a| a.expect("every concurrent refresh succeeds"))
        .collect();
    assert!(again.iter().all(|a| *a == again[0]));
    assert_eq!(h.p.provider.refresh_calls.get(), 2);
    assert_eq!(
        *h.p.provider.spent_refresh_tokens.borrow(),
        vec![UPSTREAM_REFRESH.to_owned(), "up-refresh-1".to_owned()]
    );
}

#[test]
fn a_refresh_may_narrow_the_scope() {
    // RFC 6749 §6.
    let h = Harness::new();
    let first = h.tokens();
    let narrow = h
        .refresh_as(first.refresh_token.secret(), CLIENT, Some(&["mcp"]), None)
        .unwrap();
    assert_eq!(narrow.scope, vec!["mcp"]);
    assert_eq!(
        h.authenticate(narrow.access_token.secret()).unwrap().scopes,
        vec!["mcp"]
    );
}

#[test]
fn a_refresh_may_not_widen_the_scope() {
    let h = Harness::new();
    let code = h.code_for(request_with_scope(&["mcp"]));
    let first = h.redeem(&code).unwrap();
    let wider = h.refresh_as(
        first.refresh_token.secret(),
        CLIENT,
        Some(&["mcp", "github:repos"]),
        None,
    );
    assert_eq!(oauth_error(wider), "invalid_scope");
    assert!(
        h.refresh(first.refresh_token.secret()).is_ok(),
        "a refused request does not spend the token"
    );
}

#[test]
fn a_refresh_for_another_resource_is_invalid_target() {
    let h = Harness::new();
    let first = h.tokens();
    let result = h.refresh_as(
        first.refresh_token.secret(),
        CLIENT,
        None,
        Some("https://other.example/mcp"),
    );
    assert_eq!(oauth_error(result), "invalid_target");
    assert!(h
        .refresh_as(first.refresh_token.secret(), CLIENT, None, Some(RESOURCE))
        .is_ok());
}

#[test]
fn a_refresh_token_of_another_client_is_invalid_grant() {
    let h = Harness::new();
    let first = h.tokens();
    let result = h.refresh_as(first.refresh_token.secret(), OTHER_CLIENT, None, None);
    assert_eq!(oauth_error(result), "invalid_grant");
    assert_eq!(
        h.access_records(),
        1,
        "another client's attempt does not revoke the grant"
    );
    assert!(h.refresh(first.refresh_token.secret()).is_ok());
}

#[test]
fn a_grant_expires_refresh_ttl_after_its_last_rotation() {
    let h = Harness::new();
    let first = h.tokens();
    h.advance(REFRESH_TTL + 1);
    assert_eq!(
        oauth_error(h.refresh(first.refresh_token.secret())),
        "invalid_grant"
    );

    let h = Harness::new();
    let first = h.tokens();
    h.advance(REFRESH_TTL - 1);
    assert!(h.refresh(first.refresh_token.secret()).is_ok());
}

#[test]
fn an_access_token_is_not_a_refresh_token() {
    let h = Harness::new();
    let first = h.tokens();
    assert_eq!(
        oauth_error(h.refresh(first.access_token.secret())),
        "invalid_grant"
    );
    assert!(h.refresh(first.refresh_token.secret()).is_ok());
}
