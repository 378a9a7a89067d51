//! Proof Key for Code Exchange, `S256` only.
//!
//! - [RFC 7636 §4.1](https://datatracker.ietf.org/doc/html/rfc7636#section-4.1): verifier syntax.
//! - [RFC 7636 §4.2–4.3](https://datatracker.ietf.org/doc/html/rfc7636#section-4.2): challenge
//!   and method; a missing method means `plain`.
//! - [RFC 7636 §4.6](https://datatracker.ietf.org/doc/html/rfc7636#section-4.6): verification.
//! - OAuth 2.1 §4.1.1 and the MCP authorization spec: PKCE is required and `S256`
//!   is the only method offered, so `plain` (and with it a missing method) is refused.
//!
//! The same code serves us as a PKCE client of upstream providers ([`challenge_for`]).

use super::error::OAuthError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// The only `code_challenge_method` we accept and advertise.
///
/// See [RFC 7636 §4.3](https://datatracker.ietf.org/doc/html/rfc7636#section-4.3).
pub const S256: &str = "S256";

/// Length of an `S256` challenge: 32 bytes of SHA-256, base64url without padding.
pub const S256_CHALLENGE_LEN: usize = 43;

/// Bounds of a verifier's length ([RFC 7636 §4.1](https://datatracker.ietf.org/doc/html/rfc7636#section-4.1)).
pub const MIN_VERIFIER_LEN: usize = 43;
pub const MAX_VERIFIER_LEN: usize = 128;

/// An `S256` code challenge from an authorization request, stored with the grant.
///
/// See [RFC 7636 §4.2](https://datatracker.ietf.org/doc/html/rfc7636#section-4.2).
/// Deserializing re-checks the syntax, so a record read back from storage is as
/// trustworthy as one parsed from a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Validates `code_challenge` and `code_challenge_method` from /authorize.
    /// Empty parameters count as missing. Errors are `invalid_request`
    /// (RFC 7636 §4.4.1).
    pub fn from_request(
        challenge: Option<&str>,
        method: Option<&str>,
    ) -> Result<CodeChallenge, OAuthError> {
        let challenge = challenge.filter(|c| !c.is_empty()).ok_or_else(|| {
            OAuthError::invalid_request(
                "code_challenge is required: this server requires PKCE with S256 (OAuth 2.1 section 4.1.1)",
            )
        })?;
        match method.filter(|m| !m.is_empty()) {
            Some(S256) => {}
            // RFC 7636 §4.3: no method means `plain`.
            None => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method is required and must be S256; a missing method means plain, which is not supported",
                ))
            }
            Some("plain") => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method plain is not supported; use S256",
                ))
            }
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method is not supported; use S256",
                ))
            }
        }
        CodeChallenge::try_from(challenge.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Always [`S256`]; the type holds no other kind.
    pub fn method(&self) -> &'static str {
        S256
    }
}

impl TryFrom<String> for CodeChallenge {
    type Error = OAuthError;

    /// Accepts exactly the base64url (no padding) encoding of 32 bytes. Decoding,
    /// rather than only checking the alphabet, also refuses a last character with
    /// stray low bits, which no SHA-256 digest can produce.
    fn try_from(value: String) -> Result<CodeChallenge, OAuthError> {
        let decodes_to_digest = value.len() == S256_CHALLENGE_LEN
            && URL_SAFE_NO_PAD
                .decode(value.as_bytes())
                .is_ok_and(|bytes| bytes.len() == 32);
        if decodes_to_digest {
            Ok(CodeChallenge(value))
        } else {
            Err(OAuthError::invalid_request(
                "code_challenge must be the 43-character base64url encoding (no padding) of a SHA-256 digest (RFC 7636 section 4.2)",
            ))
        }
    }
}

impl From<CodeChallenge> for String {
    fn from(challenge: CodeChallenge) -> String {
        challenge.0
    }
}

/// A PKCE code verifier ([RFC 7636 §4.1](https://datatracker.ietf.org/doc/html/rfc7636#section-4.1)).
///
/// A secret: `Debug` prints `CodeVerifier([redacted])`, and there is no `Clone`,
/// so each verifier is used where it was made and nowhere else by accident.
pub struct CodeVerifier(String);

impl CodeVerifier {
    /// Checks the RFC 7636 §4.1 syntax: 43 to 128 characters of
    /// `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`. A malformed verifier is
    /// `invalid_request`; one that is well formed but wrong fails [`verify`].
    pub fn new(value: impl Into<String>) -> Result<CodeVerifier, OAuthError> {
        let value = value.into();
        let well_formed = (MIN_VERIFIER_LEN..=MAX_VERIFIER_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if well_formed {
            Ok(CodeVerifier(value))
        } else {
            Err(OAuthError::invalid_request(
                "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 section 4.1)",
            ))
        }
    }

    /// A verifier from 32 random bytes, base64url-encoded to 43 characters, as
    /// RFC 7636 §4.1 recommends. The caller supplies the randomness so tests can
    /// fix it.
    pub fn from_random_bytes(bytes: &[u8; 32]) -> CodeVerifier {
        CodeVerifier(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The verifier itself, to send to a token endpoint.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeVerifier([redacted])")
    }
}

/// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
pub fn challenge_for(verifier: &CodeVerifier) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.0.as_bytes()))
}

/// Whether `verifier` is the one behind `challenge` (RFC 7636 §4.6). The
/// comparison takes the same time wherever the strings differ, so timing does
/// not reveal how much of a guess was right.
pub fn verify(verifier: &CodeVerifier, challenge: &CodeChallenge) -> bool {
    let computed = challenge_for(verifier);
    computed.as_bytes().ct_eq(challenge.0.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_verifier() {
        let v = CodeVerifier::from_random_bytes(&[7; 32]);
        assert_eq!(format!("{v:?}"), "CodeVerifier([redacted])");
    }

    #[test]
    fn random_verifiers_are_well_formed() {
        let v = CodeVerifier::from_random_bytes(&[0xff; 32]);
        assert_eq!(v.secret().len(), 43);
        assert!(CodeVerifier::new(v.secret()).is_ok());
        let c = CodeChallenge::try_from(challenge_for(&v));
        assert!(c.is_ok_and(|c| verify(&v, &c)));
    }

    #[test]
    fn a_challenge_with_stray_trailing_bits_is_refused() {
        // 'B' in the last position leaves a non-zero bit past the 256th.
        let mut s = "A".repeat(42);
        s.push('B');
        assert!(CodeChallenge::try_from(s).is_err());
        let mut s = "A".repeat(42);
        s.push('E');
        assert!(CodeChallenge::try_from(s).is_ok());
    }
}
