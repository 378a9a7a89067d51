//! A grant's whole life, driven through the grant's object exactly as the
//! Worker runs it (`tests/common/grant_harness.rs`): consent, upstream sign-in,
//! code, tokens, refresh and revocation end to end, and what each step hands
//! on to the next. Each test names the rule it checks.

mod common;

use common::grant_harness::*;
use common::UpstreamRefresh;
use mcp_oauth_worker::oauth::grant::{grant_of_state, parse_token, AccessError, TokenKind};

#[test]
fn consent_sign_in_code_tokens_refresh_and_revocation() {
    let h = Harness::new();

    // Consent: the grant starts and hands out a state token bound to it.
    let state = h.begin();
    assert_eq!(grant_of_state(&state), Some(h.grant_id.as_str()));

    // Callback: the state is taken once and gives back the consented request.
    h.advance(30);
    let taken = h.take_state(&state).unwrap();
    assert_eq!(taken.request, request());
    assert_eq!(taken.upstream_verifier.secret(), "upstream-pkce-verifier");
    assert_eq!(taken.nonce, "upstream-nonce");

    // The upstream sign-in succeeded: an authorization code for this grant.
    let code = h.issue_code().unwrap();
    assert_eq!(
        parse_token(&code),
        Some((TokenKind::Code, h.grant_id.as_str()))
    );
    assert!(
        h.p.kv_keys("").is_empty(),
        "no token record exists before the code is redeemed"
    );

    // Token endpoint: the code becomes a token pair.
    h.advance(5);
    let pair = h.redeem(&code).unwrap();
    assert_eq!(
        parse_token(pair.access_token.secret()),
        Some((TokenKind::Access, h.grant_id.as_str()))
    );
    assert_eq!(
        parse_token(pair.refresh_token.secret()),
        Some((TokenKind::Refresh, h.grant_id.as_str()))
    );
    assert_eq!(pair.expires_in, ACCESS_TTL);
    assert_eq!(pair.scope, vec!["mcp", "github:repos"]);

    // /mcp: the access token is accepted and names the user.
    let ctx = h.authenticate(pair.access_token.secret()).unwrap();
    assert_eq!(ctx.user.id, "github:42");
    assert_eq!(ctx.client_id.as_deref(), Some(CLIENT));

    // Rotation: a new pair; both access tokens work until they expire.
    h.advance(600);
    let rotated = h.refresh(pair.refresh_token.secret()).unwrap();
    assert_ne!(rotated.access_token, pair.access_token);
    assert_ne!(rotated.refresh_token, pair.refresh_token);
    let ctx = h.authenticate(rotated.access_token.secret()).unwrap();
    assert_eq!(ctx.user.login, "octocat");
    assert_eq!(h.access_records(), 2);

    // RFC 7009: revoking the refresh token ends the whole grant.
    h.advance(10);
    h.revoke_as(rotated.refresh_token.secret(), CLIENT).unwrap();
    assert_eq!(
        h.access_records(),
        0,
        "every access record of the grant is deleted"
    );
    assert_eq!(
        h.authenticate(pair.access_token.secret()).unwrap_err(),
        AccessError::Invalid
    );
    assert_eq!(
        h.authenticate(rotated.access_token.secret()).unwrap_err(),
        AccessError::Invalid
    );
    assert_eq!(
        oauth_error(h.refresh(rotated.refresh_token.secret())),
        "invalid_grant"
    );
    assert!(h.state().unwrap().revoked_at.is_some());
}

#[test]
fn the_rfc_7636_appendix_b_pair_works_end_to_end() {
    let h = Harness::new();
    let code = h.code();
    // The verifier is sent only at the token endpoint, never stored.
    let pair = h
        .redeem_as(&code, CLIENT, Some(REDIRECT), Some(VERIFIER), None)
        .unwrap();
    assert!(h.authenticate(pair.access_token.secret()).is_ok());
    assert!(h
        .p
        .everything_ever_written()
        .iter()
        .all(|w| !w.contains(VERIFIER)));
}

#[test]
fn the_token_response_is_a_bearer_token_with_space_separated_scope() {
    let h = Harness::new();
    let pair = h.tokens();
    let json = pair.to_json();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["scope"], "mcp github:repos");
    assert_eq!(json["expires_in"], ACCESS_TTL);
    assert_eq!(json["access_token"], pair.access_token.secret());
    assert_eq!(json["refresh_token"], pair.refresh_token.secret());
    let debug = format!("{pair:?}");
    assert!(
        !debug.contains(pair.access_token.secret()) && !debug.contains(pair.refresh_token.secret()),
        "{debug}"
    );
}

#[test]
fn only_the_current_refresh_token_opens_the_props_for_the_upstream_refresh() {
    // The upstream tokens are sealed under the grant key, which only the
    // current refresh token unwraps: what the provider is asked to refresh
    // shows what each presented token opened.
    let h = Harness::new();
    *h.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
    let pair = h.tokens();
    assert_eq!(
        oauth_error(h.refresh(pair.access_token.secret())),
        "invalid_grant"
    );
    assert_eq!(
        h.p.provider.refresh_calls.get(),
        0,
        "an access token opens nothing"
    );
    let rotated = h.refresh(pair.refresh_token.secret()).unwrap();
    assert_eq!(h.p.provider.refresh_calls.get(), 1);
    assert_eq!(
        *h.p.provider.spent_refresh_tokens.borrow(),
        vec![UPSTREAM_REFRESH.to_owned()]
    );
    // A retry with the spent token gets the same pair and opens nothing.
    assert_eq!(h.refresh(pair.refresh_token.secret()).unwrap(), rotated);
    assert_eq!(
        h.p.provider.refresh_calls.get(),
        1,
        "a spent token opens nothing"
    );
    // The new refresh token opens the props stored with it: the new upstream tokens.
    h.refresh(rotated.refresh_token.secret()).unwrap();
    assert_eq!(
        *h.p.provider.spent_refresh_tokens.borrow(),
        vec![UPSTREAM_REFRESH.to_owned(), "up-refresh-1".to_owned()]
    );
}

#[test]
fn a_refresh_with_new_upstream_tokens_stores_them_for_the_new_access_token() {
    // The upstream refresh now happens inside the grant's object: the fake
    // provider rotates its tokens on every refresh.
    let h = Harness::new();
    let pair = h.tokens();
    *h.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
    let fresh = "up-access-1";
    h.keep(fresh);
    h.keep("up-refresh-1");
    let rotated = h.refresh(pair.refresh_token.secret()).unwrap();
    assert_eq!(h.p.provider.refresh_calls.get(), 1);
    let ctx = h.authenticate(rotated.access_token.secret()).unwrap();
    assert_eq!(ctx.upstream_token.unwrap().expose(), fresh);
    // The old access token keeps the upstream token it was issued with.
    let old = h.authenticate(pair.access_token.secret()).unwrap();
    assert_eq!(old.upstream_token.unwrap().expose(), UPSTREAM_ACCESS);
    // And the next refresh hands the provider the new upstream refresh token.
    let next = h.refresh(rotated.refresh_token.secret()).unwrap();
    assert_eq!(
        h.p.provider
            .spent_refresh_tokens
            .borrow()
            .last()
            .map(String::as_str),
        Some("up-refresh-1")
    );
    let ctx = h.authenticate(next.access_token.secret()).unwrap();
    assert_eq!(ctx.upstream_token.unwrap().expose(), "up-access-2");
    for secret in [fresh, "up-refresh-1", "up-access-2", "up-refresh-2"] {
        assert!(
            h.p.everything_ever_written()
                .iter()
                .all(|w| !w.contains(secret)),
            "{secret} stored in the clear"
        );
    }
}
