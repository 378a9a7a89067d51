//! The state of an upstream sign-in at the grant's object: single use, its
//! lifetime, one begin and one code per grant, abandoned grants; and how the
//! grant id is read from our state and token formats. Each test names the rule it checks.

mod common;

use common::grant_harness::*;
use mcp_oauth_worker::oauth::grant::command::{typed, GrantCommand};
use mcp_oauth_worker::oauth::grant::{
    grant_of_state, parse_token, GrantError, TokenKind, PENDING_TTL_SECS,
};
use mcp_oauth_worker::oauth::types::UpstreamVerifier;

#[test]
fn the_state_is_single_use() {
    let h = Harness::new();
    let state = h.begin();
    assert!(h.take_state(&state).is_ok());
    assert!(is_state_error(h.take_state(&state)));
}

#[test]
fn a_wrong_state_token_is_refused_and_does_not_consume_the_right_one() {
    let h = Harness::new();
    let state = h.begin();
    let forged = format!("{}.{}", h.grant_id, "B".repeat(43));
    assert!(is_state_error(h.take_state(&forged)));
    assert!(h.take_state(&state).is_ok());
}

#[test]
fn a_state_expires_after_the_pending_lifetime() {
    let h = Harness::new();
    let state = h.begin();
    h.advance(PENDING_TTL_SECS + 1);
    assert!(is_state_error(h.take_state(&state)));
}

#[test]
fn a_state_of_an_unknown_grant_is_refused() {
    let h = Harness::new();
    let state = format!("{}.{}", h.grant_id, "C".repeat(43));
    assert!(is_state_error(h.take_state(&state)));
}

#[test]
fn a_code_is_issued_only_after_the_state_was_taken() {
    let h = Harness::new();
    assert!(is_state_error(h.issue_code()), "no grant at all");
    h.begin();
    assert!(is_state_error(h.issue_code()), "state not taken yet");
    assert!(h.state().unwrap().user_id.is_none());
}

#[test]
fn a_code_is_issued_once() {
    let h = Harness::new();
    let state = h.begin();
    h.take_state(&state).unwrap();
    let code = h.issue_code().unwrap();
    assert!(is_state_error(h.issue_code()));
    assert!(
        is_state_error(h.take_state(&state)),
        "the sign-in is complete"
    );
    assert!(h.redeem(&code).is_ok(), "the first code is untouched");
}

#[test]
fn a_grant_begins_once() {
    let h = Harness::new();
    h.begin();
    let again = h.run(GrantCommand::Begin {
        grant_id: h.grant_id.clone(),
        request: request(),
        upstream_verifier: UpstreamVerifier::new("v"),
        nonce: "n".into(),
        hold_until: 0,
    });
    assert!(matches!(
        again,
        Err(GrantError::State(
            mcp_oauth_worker::oauth::grant::StateProblem::ConsentUsed
        ))
    ));
    assert!(h.state().is_some());
}

#[test]
fn grant_of_state_reads_the_grant_id_of_well_formed_state_tokens_only() {
    let id = "abcdefghijklmnop"; // 16 characters: the shortest id
    let secret = "s".repeat(43);
    assert_eq!(grant_of_state(&format!("{id}.{secret}")), Some(id));
    assert_eq!(
        grant_of_state(&format!("{}.{secret}", "a".repeat(64))),
        Some("a".repeat(64).as_str())
    );
    assert_eq!(
        grant_of_state(&format!("abcdefghijklmno.{secret}")),
        None,
        "id too short"
    );
    assert_eq!(
        grant_of_state(&format!("{}.{secret}", "a".repeat(65))),
        None,
        "id too long"
    );
    assert_eq!(
        grant_of_state(&format!("abcdefgh:ijklmnop.{secret}")),
        None,
        "bad character"
    );
    assert_eq!(
        grant_of_state(&format!("{id}.{}", "s".repeat(31))),
        None,
        "secret too short"
    );
    assert_eq!(
        grant_of_state(&format!("{id}.{}", "s".repeat(129))),
        None,
        "secret too long"
    );
    assert_eq!(
        grant_of_state(&format!("{id}{secret}")),
        None,
        "no separator"
    );
    assert_eq!(grant_of_state(""), None);
}

#[test]
fn parse_token_reads_the_kind_and_grant_of_our_tokens_only() {
    let id = "abcdefghijklmnop";
    let secret = "s".repeat(43);
    assert_eq!(
        parse_token(&format!("mcpc.{id}.{secret}")),
        Some((TokenKind::Code, id))
    );
    assert_eq!(
        parse_token(&format!("mcpr.{id}.{secret}")),
        Some((TokenKind::Refresh, id))
    );
    assert_eq!(
        parse_token(&format!("mcpa.{id}.{secret}")),
        Some((TokenKind::Access, id))
    );
    assert_eq!(parse_token(&format!("mcpx.{id}.{secret}")), None);
    assert_eq!(parse_token(&format!("mcpa.{id}")), None);
    assert_eq!(parse_token(&format!("mcpa.{id}.short")), None);
    assert_eq!(parse_token(&format!("mcpa.short.{secret}")), None);
}

#[test]
fn abandon_forgets_a_grant_that_never_issued_a_code() {
    let h = Harness::new();
    h.begin();
    assert_eq!(typed::<()>(h.run(GrantCommand::Abandon)), Ok(()));
    assert!(h.state().is_none());

    let h = Harness::new();
    let state = h.begin();
    h.take_state(&state).unwrap();
    assert_eq!(typed::<()>(h.run(GrantCommand::Abandon)), Ok(()));
    assert!(h.state().is_none());

    let h = Harness::new();
    assert_eq!(typed::<()>(h.run(GrantCommand::Abandon)), Ok(()));
    assert!(h.state().is_none());
}

#[test]
fn abandon_keeps_a_grant_that_issued_a_code() {
    let h = Harness::new();
    let code = h.code();
    assert!(matches!(
        h.run(GrantCommand::Abandon),
        Err(GrantError::Internal)
    ));
    assert!(h.state().is_some());
    assert!(h.redeem(&code).is_ok());
    assert!(matches!(
        h.run(GrantCommand::Abandon),
        Err(GrantError::Internal)
    ));
    assert!(h.state().is_some());
}
