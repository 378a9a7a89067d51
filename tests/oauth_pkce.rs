//! PKCE (RFC 7636), a pure leaf of the authorization server. S256 only, the shapes of
//! verifiers and challenges, and verification. Each test names the rule it checks.

use mcp_oauth_worker::oauth::error::ErrorCode;
use mcp_oauth_worker::oauth::pkce::{challenge_for, verify, CodeChallenge, CodeVerifier};

// RFC 7636 Appendix B.
const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn verifier(s: &str) -> CodeVerifier {
    match CodeVerifier::new(s) {
        Ok(v) => v,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn challenge(s: &str) -> CodeChallenge {
    match CodeChallenge::from_request(Some(s), Some("S256")) {
        Ok(c) => c,
        Err(e) => panic!("{s}: {e}"),
    }
}

#[test]
fn rfc7636_appendix_b_s256_challenge() {
    assert_eq!(challenge_for(&verifier(RFC_VERIFIER)), RFC_CHALLENGE);
}

#[test]
fn rfc7636_4_6_verifier_matching_its_challenge_is_accepted() {
    assert!(verify(&verifier(RFC_VERIFIER), &challenge(RFC_CHALLENGE)));
}

#[test]
fn rfc7636_4_6_any_other_verifier_is_rejected() {
    let mut other = RFC_VERIFIER.to_owned();
    other.replace_range(42.., "l");
    assert!(!verify(&verifier(&other), &challenge(RFC_CHALLENGE)));
    // The challenge itself is not a valid verifier for itself (that is `plain`).
    assert!(!verify(&verifier(RFC_CHALLENGE), &challenge(RFC_CHALLENGE)));
}

#[test]
fn oauth21_missing_challenge_is_refused() {
    for c in [None, Some("")] {
        let e = CodeChallenge::from_request(c, Some("S256")).err();
        assert!(e.is_some_and(|e| e.code == ErrorCode::InvalidRequest
            && e.description.contains("code_challenge is required")));
    }
}

#[test]
fn rfc7636_4_3_missing_method_means_plain_and_is_refused() {
    let e = CodeChallenge::from_request(Some(RFC_CHALLENGE), None).err();
    assert!(
        e.is_some_and(|e| e.code == ErrorCode::InvalidRequest && e.description.contains("plain"))
    );
}

#[test]
fn plain_is_refused_with_a_clear_description() {
    let e = CodeChallenge::from_request(Some(RFC_VERIFIER), Some("plain")).err();
    assert_eq!(
        e.map(|e| (e.code, e.description)),
        Some((
            ErrorCode::InvalidRequest,
            "code_challenge_method plain is not supported; use S256".to_owned()
        ))
    );
}

#[test]
fn unknown_or_miscased_methods_are_refused() {
    for m in ["s256", "SHA256", "S512"] {
        assert!(
            CodeChallenge::from_request(Some(RFC_CHALLENGE), Some(m)).is_err(),
            "{m}"
        );
    }
}

#[test]
fn rfc7636_4_2_challenge_is_43_base64url_characters() {
    for bad in [
        &RFC_CHALLENGE[..42],
        &format!("{RFC_CHALLENGE}A"),
        &format!("{RFC_CHALLENGE}="),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw cM",
    ] {
        let e = CodeChallenge::from_request(Some(bad), Some("S256")).err();
        assert!(
            e.is_some_and(|e| e.code == ErrorCode::InvalidRequest),
            "{bad}"
        );
    }
    assert_eq!(challenge(RFC_CHALLENGE).as_str(), RFC_CHALLENGE);
    assert_eq!(challenge(RFC_CHALLENGE).method(), "S256");
}

#[test]
fn rfc7636_4_1_verifier_is_43_to_128_unreserved_characters() {
    assert!(CodeVerifier::new("a".repeat(43)).is_ok());
    assert!(CodeVerifier::new("a".repeat(128)).is_ok());
    assert!(CodeVerifier::new("aZ09-._~".repeat(16)).is_ok());
    for bad in [
        "a".repeat(42),
        "a".repeat(129),
        format!("{}+", "a".repeat(42)),
        format!("{}=", "a".repeat(42)),
        format!("{} ", "a".repeat(42)),
        format!("{}é", "a".repeat(42)),
        String::new(),
    ] {
        let e = CodeVerifier::new(bad.clone()).err();
        assert!(
            e.is_some_and(|e| e.code == ErrorCode::InvalidRequest),
            "{bad}"
        );
    }
}

#[test]
fn the_verifier_is_a_secret_in_debug_output() {
    assert_eq!(
        format!("{:?}", verifier(RFC_VERIFIER)),
        "CodeVerifier([redacted])"
    );
    assert_eq!(verifier(RFC_VERIFIER).secret(), RFC_VERIFIER);
}

#[test]
fn stored_challenges_are_revalidated_when_read_back() {
    let stored = serde_json::to_string(&challenge(RFC_CHALLENGE)).unwrap_or_default();
    assert_eq!(stored, format!("\"{RFC_CHALLENGE}\""));
    let back: Result<CodeChallenge, _> = serde_json::from_str(&stored);
    assert_eq!(back.ok(), Some(challenge(RFC_CHALLENGE)));
    let tampered: Result<CodeChallenge, _> = serde_json::from_str("\"short\"");
    assert!(tampered.is_err());
}

#[test]
fn a_client_verifier_from_random_bytes_yields_a_usable_challenge() {
    let v = CodeVerifier::from_random_bytes(&[42; 32]);
    let c = challenge(&challenge_for(&v));
    assert!(verify(&v, &c));
}
