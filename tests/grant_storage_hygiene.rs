//! What a grant leaves in storage: only hashes and sealed values, never a
//! token or an upstream secret in the clear, through theft and revocation.

mod common;

use common::grant_harness::*;
use common::UpstreamRefresh;
use mcp_oauth_worker::oauth::crypto::{self, purpose};
use mcp_oauth_worker::oauth::grant::{AccessRecord, REFRESH_GRACE_SECS};

/// The secret part of a token (after `<prefix>.<grant id>.`), or the token.
fn secret_part(token: &str) -> &str {
    token.rsplit('.').next().unwrap_or(token)
}

fn assert_clean(h: &Harness) {
    assert!(!h.p.everything_ever_written().is_empty());
    for secret in h.secrets.borrow().iter() {
        for stored in &h.p.everything_ever_written() {
            assert!(
                !stored.contains(secret.as_str()),
                "a plaintext secret is stored: {stored}"
            );
            assert!(
                !stored.contains(secret_part(secret)),
                "a token's secret is stored: {stored}"
            );
        }
    }
}

#[test]
fn storage_holds_only_hashes_and_sealed_values() {
    let h = Harness::new();
    let first = h.tokens();
    let rotated = h.refresh(first.refresh_token.secret()).unwrap();
    let replay = h.refresh(first.refresh_token.secret()).unwrap();
    assert_eq!(replay, rotated);
    // A refresh that rotates the upstream tokens too: they are stored sealed.
    *h.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
    h.keep("up-access-1");
    h.keep("up-refresh-1");
    let third = h.refresh(rotated.refresh_token.secret()).unwrap();
    assert_eq!(h.p.provider.refresh_calls.get(), 1);
    assert!(h.authenticate(third.access_token.secret()).is_ok());
    // Includes the state token, the code, three pairs and both generations
    // of upstream tokens.
    assert!(h.secrets.borrow().len() >= 11);
    assert_clean(&h);
    // And the state currently stored, once more, in full.
    let state = serde_json::to_string(&h.state().unwrap()).unwrap();
    assert!(state.contains(&crypto::hash_token(rotated.refresh_token.secret())));
    assert!(!state.contains(rotated.refresh_token.secret()));
}

#[test]
fn storage_stays_clean_through_theft_and_revocation() {
    let h = Harness::new();
    let first = h.tokens();
    let _ = h.refresh(first.refresh_token.secret()).unwrap();
    h.advance(REFRESH_GRACE_SECS + 1);
    let _ = h.refresh(first.refresh_token.secret());
    let second = {
        let h2 = Harness::seeded(77);
        let p = h2.tokens();
        h2.revoke_as(p.access_token.secret(), CLIENT).unwrap();
        assert_clean(&h2);
        p
    };
    assert_ne!(second.access_token, first.access_token);
    assert_clean(&h);
}

#[test]
fn access_records_carry_the_grant_key_only_wrapped() {
    let h = Harness::new();
    let pair = h.tokens();
    let record: AccessRecord =
        serde_json::from_str(&h.record(pair.access_token.secret()).unwrap()).unwrap();
    assert_eq!(record.grant_id, h.grant_id);
    assert_eq!(record.user_id, "github:42");
    assert_eq!(record.client_id, CLIENT);
    assert_eq!(record.expires_at, h.now() + ACCESS_TTL);
    assert!(!record.props.contains("octocat"), "props are sealed");
    let binding = record.binding();
    assert!(ring()
        .unwrap_key(
            pair.refresh_token.secret(),
            &record.wrapped_key,
            purpose::WRAP_ACCESS,
            &binding
        )
        .is_err());
    assert!(ring()
        .unwrap_key(
            pair.access_token.secret(),
            &record.wrapped_key,
            purpose::WRAP_ACCESS,
            &binding
        )
        .is_ok());
}
