//! The form of the client endpoints (`/token`, `/revoke`, `/introspect`; RFC
//! 6749 §3.2, RFC 7009 §2.1, RFC 7662 §2.1) and the grant command a token
//! request becomes (RFC 6749 §4.1.3 and §6).
//!
//! The endpoint itself does what needs no serialization (parsing here, client
//! authentication in `oauth::client_auth`); everything that reads or changes a
//! grant goes through [`GrantCommand`] to the grant's Durable Object.

use serde::Deserialize;

use crate::oauth::error::OAuthError;
use crate::oauth::grant::{self, TokenKind};
use crate::oauth::types::{AnyToken, AuthCode, PresentedVerifier, RefreshToken};

pub use crate::oauth::grant::command::GrantCommand;

/// The form fields of /token and /revoke. Its `Debug` shows no credential.
#[derive(Default, Deserialize)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub token: Option<String>,
    pub token_type_hint: Option<String>,
    /// RFC 7523 §2.2 (`private_key_jwt`, document clients only).
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenForm")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl TokenForm {
    /// The `token` that `/revoke` (RFC 7009 §2.1) and `/introspect` (RFC 7662
    /// §2.1) require.
    pub fn required_token(self) -> Result<AnyToken, OAuthError> {
        self.token
            .filter(|t| !t.is_empty())
            .map(AnyToken::new)
            .ok_or_else(|| OAuthError::invalid_request("token is required"))
    }
}

/// Parses an `application/x-www-form-urlencoded` body (RFC 6749 §3.2: the
/// endpoint takes only that; parameters must not repeat).
pub fn parse_form(content_type: Option<&str>, body: &[u8]) -> Result<TokenForm, OAuthError> {
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|e| OAuthError::invalid_request(format!("malformed form body: {e}")))
}

/// Which grant a token request is about, and the command for it (RFC 6749
/// §4.1.3 and §6). Tokens carry their grant id, so no storage is read here.
pub fn plan(form: &TokenForm, client_id: &str) -> Result<(String, GrantCommand), OAuthError> {
    match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let code = form
                .code
                .clone()
                .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
            let Some((TokenKind::Code, grant_id)) = grant::parse_token(&code) else {
                return Err(OAuthError::invalid_grant(
                    "authorization code is invalid or expired",
                ));
            };
            let grant_id = grant_id.to_owned();
            let command = GrantCommand::Redeem {
                code: AuthCode::new(code),
                client_id: client_id.to_owned(),
                redirect_uri: form.redirect_uri.clone(),
                code_verifier: form.code_verifier.clone().map(PresentedVerifier::new),
                resource: form.resource.clone(),
            };
            Ok((grant_id, command))
        }
        Some("refresh_token") => {
            let refresh_token = form
                .refresh_token
                .clone()
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
            let Some((TokenKind::Refresh, grant_id)) = grant::parse_token(&refresh_token) else {
                return Err(OAuthError::invalid_grant(
                    "refresh token is invalid, expired or revoked",
                ));
            };
            let grant_id = grant_id.to_owned();
            // Unknown scopes are dropped here as at /authorize; nothing known
            // left means "keep the granted scope".
            let scope = form
                .scope
                .as_deref()
                .map(|s| {
                    s.split_whitespace()
                        .filter(|x| crate::user::ALL_SCOPES.contains(x))
                        .map(str::to_owned)
                        .collect::<Vec<String>>()
                })
                .filter(|s| {
                    !s.is_empty() || form.scope.as_deref().is_some_and(|r| r.trim().is_empty())
                });
            let command = GrantCommand::Refresh {
                refresh_token: RefreshToken::new(refresh_token),
                client_id: client_id.to_owned(),
                scope,
                resource: form.resource.clone(),
            };
            Ok((grant_id, command))
        }
        Some(other) => Err(OAuthError::unsupported_grant_type(format!(
            "grant_type '{}' is not supported",
            other.chars().take(64).collect::<String>()
        ))),
        None => Err(OAuthError::invalid_request("grant_type is required")),
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    fn form(pairs: &[(&str, &str)]) -> TokenForm {
        serde_urlencoded::from_str(&serde_urlencoded::to_string(pairs).unwrap()).unwrap()
    }
    const GRANT: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const SECRET: &str = "0123456789012345678901234567890123456789012";

    #[test]
    fn a_code_names_its_grant() {
        let code = format!("mcpc.{GRANT}.{SECRET}");
        let (grant, cmd) = plan(
            &form(&[("grant_type", "authorization_code"), ("code", &code)]),
            "c",
        )
        .unwrap();
        assert_eq!(grant, GRANT);
        assert!(matches!(cmd, GrantCommand::Redeem { client_id, .. } if client_id == "c"));
    }

    #[test]
    fn a_refresh_token_names_its_grant_and_may_narrow_scope() {
        let rt = format!("mcpr.{GRANT}.{SECRET}");
        let (grant, cmd) = plan(
            &form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("scope", "mcp"),
            ]),
            "c",
        )
        .unwrap();
        assert_eq!(grant, GRANT);
        assert!(matches!(cmd, GrantCommand::Refresh { scope: Some(s), .. } if s == ["mcp"]));
    }

    #[test]
    fn wrong_or_missing_parameters_get_their_rfc_6749_error() {
        let access = format!("mcpa.{GRANT}.{SECRET}");
        let cases: [(&[(&str, &str)], ErrorCode); 6] = [
            (&[], ErrorCode::InvalidRequest),
            (
                &[("grant_type", "password")],
                ErrorCode::UnsupportedGrantType,
            ),
            (
                &[("grant_type", "authorization_code")],
                ErrorCode::InvalidRequest,
            ),
            (
                &[("grant_type", "authorization_code"), ("code", "garbage")],
                ErrorCode::InvalidGrant,
            ),
            (
                &[("grant_type", "refresh_token")],
                ErrorCode::InvalidRequest,
            ),
            // An access token is not a refresh token.
            (
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", access.as_str()),
                ],
                ErrorCode::InvalidGrant,
            ),
        ];
        for (pairs, code) in cases {
            assert_eq!(plan(&form(pairs), "c").unwrap_err().code, code, "{pairs:?}");
        }
    }
}
