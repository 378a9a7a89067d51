//! OAuth error values and their two wire forms.
//!
//! - JSON bodies of the token, registration and revocation endpoints:
//!   [RFC 6749 §5.2](https://datatracker.ietf.org/doc/html/rfc6749#section-5.2),
//!   [RFC 7591 §3.2.2](https://datatracker.ietf.org/doc/html/rfc7591#section-3.2.2).
//! - Query parameters on a redirect back to the client:
//!   [RFC 6749 §4.1.2.1](https://datatracker.ietf.org/doc/html/rfc6749#section-4.1.2.1),
//!   with `iss` from [RFC 9207 §2](https://datatracker.ietf.org/doc/html/rfc9207#section-2).
//!
//! Codes also cover [RFC 8707 §2](https://datatracker.ietf.org/doc/html/rfc8707#section-2)
//! (`invalid_target`) and [RFC 6750 §3.1](https://datatracker.ietf.org/doc/html/rfc6750#section-3.1)
//! (`invalid_token`, `insufficient_scope`).

use crate::http::Reply;
use serde::Serialize;
use std::fmt;

/// An OAuth error code, spelled exactly as the defining RFC spells it.
///
/// See [RFC 6749 §4.1.2.1](https://datatracker.ietf.org/doc/html/rfc6749#section-4.1.2.1)
/// and [§5.2](https://datatracker.ietf.org/doc/html/rfc6749#section-5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// [RFC 6749 §5.2](https://datatracker.ietf.org/doc/html/rfc6749#section-5.2)
    InvalidRequest,
    /// [RFC 6749 §5.2](https://datatracker.ietf.org/doc/html/rfc6749#section-5.2)
    InvalidClient,
    /// [RFC 6749 §5.2](https://datatracker.ietf.org/doc/html/rfc6749#section-5.2)
    InvalidGrant,
    /// [RFC 6749 §5.2](https://datatracker.ietf.org/doc/html/rfc6749#section-5.2)
    UnauthorizedClient,
    /// [RFC 6749 §5.2](https://datatracker.ietf.org/doc/html/rfc6749#section-5.2)
    UnsupportedGrantType,
    /// [RFC 6749 §5.2](https://datatracker.ietf.org/doc/html/rfc6749#section-5.2)
    InvalidScope,
    /// [RFC 8707 §2](https://datatracker.ietf.org/doc/html/rfc8707#section-2)
    InvalidTarget,
    /// [RFC 6749 §4.1.2.1](https://datatracker.ietf.org/doc/html/rfc6749#section-4.1.2.1)
    AccessDenied,
    /// [RFC 6749 §4.1.2.1](https://datatracker.ietf.org/doc/html/rfc6749#section-4.1.2.1)
    UnsupportedResponseType,
    /// [RFC 6749 §4.1.2.1](https://datatracker.ietf.org/doc/html/rfc6749#section-4.1.2.1)
    ServerError,
    /// [RFC 6749 §4.1.2.1](https://datatracker.ietf.org/doc/html/rfc6749#section-4.1.2.1)
    TemporarilyUnavailable,
    /// [RFC 7591 §3.2.2](https://datatracker.ietf.org/doc/html/rfc7591#section-3.2.2)
    InvalidRedirectUri,
    /// [RFC 7591 §3.2.2](https://datatracker.ietf.org/doc/html/rfc7591#section-3.2.2)
    InvalidClientMetadata,
    /// [RFC 6750 §3.1](https://datatracker.ietf.org/doc/html/rfc6750#section-3.1)
    InvalidToken,
    /// [RFC 6750 §3.1](https://datatracker.ietf.org/doc/html/rfc6750#section-3.1)
    InsufficientScope,
    /// A code registered elsewhere ([RFC 6749 §8.5](https://datatracker.ietf.org/doc/html/rfc6749#section-8.5)),
    /// or one an upstream provider sent us that we pass through to a log.
    Extension(String),
}

impl ErrorCode {
    /// The exact string of the RFC.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::Extension(code) => code,
        }
    }

    /// The code for a string, e.g. the `error` of an upstream provider's reply.
    /// Unknown strings become [`ErrorCode::Extension`] rather than an error, so
    /// reading someone else's error never fails.
    pub fn parse(code: &str) -> ErrorCode {
        match code {
            "invalid_request" => ErrorCode::InvalidRequest,
            "invalid_client" => ErrorCode::InvalidClient,
            "invalid_grant" => ErrorCode::InvalidGrant,
            "unauthorized_client" => ErrorCode::UnauthorizedClient,
            "unsupported_grant_type" => ErrorCode::UnsupportedGrantType,
            "invalid_scope" => ErrorCode::InvalidScope,
            "invalid_target" => ErrorCode::InvalidTarget,
            "access_denied" => ErrorCode::AccessDenied,
            "unsupported_response_type" => ErrorCode::UnsupportedResponseType,
            "server_error" => ErrorCode::ServerError,
            "temporarily_unavailable" => ErrorCode::TemporarilyUnavailable,
            "invalid_redirect_uri" => ErrorCode::InvalidRedirectUri,
            "invalid_client_metadata" => ErrorCode::InvalidClientMetadata,
            "invalid_token" => ErrorCode::InvalidToken,
            "insufficient_scope" => ErrorCode::InsufficientScope,
            other => ErrorCode::Extension(other.to_owned()),
        }
    }

    /// The HTTP status of a JSON error body with this code.
    ///
    /// 400 is the RFC 6749 §5.2 default. `invalid_client` is 401 so that clients
    /// such as Claude register again when their registration has expired.
    /// `invalid_token`/`insufficient_scope` follow RFC 6750 §3.1, and the two
    /// server-side conditions get the statuses a retrying client understands.
    pub fn http_status(&self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Longest `error_description` we send. Descriptions may quote client input
/// (a redirect URI, a scope); the cap keeps an error from reflecting a large body.
pub const MAX_DESCRIPTION_LEN: usize = 300;

/// An OAuth error: a code and a human-readable description for the developer of
/// the client ([RFC 6749 §5.2](https://datatracker.ietf.org/doc/html/rfc6749#section-5.2)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{description}")]
pub struct OAuthError {
    pub code: ErrorCode,
    /// Already restricted to the characters RFC 6749 §5.2 allows.
    pub description: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl OAuthError {
    /// An error with `description` cleaned to the character set RFC 6749 §5.2
    /// allows (`%x20-21 / %x23-5B / %x5D-7E`), so it is safe in JSON, in a query
    /// string and in a `WWW-Authenticate` quoted string alike.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError {
            code,
            description: clean_description(&description.into()),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRequest, description)
    }
    pub fn invalid_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidClient, description)
    }
    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidGrant, description)
    }
    pub fn unauthorized_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::UnauthorizedClient, description)
    }
    pub fn unsupported_grant_type(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::UnsupportedGrantType, description)
    }
    pub fn invalid_scope(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidScope, description)
    }
    pub fn invalid_target(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidTarget, description)
    }
    pub fn access_denied(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::AccessDenied, description)
    }
    pub fn unsupported_response_type(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::UnsupportedResponseType, description)
    }
    pub fn server_error(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::ServerError, description)
    }
    pub fn temporarily_unavailable(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::TemporarilyUnavailable, description)
    }
    pub fn invalid_redirect_uri(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRedirectUri, description)
    }
    pub fn invalid_client_metadata(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidClientMetadata, description)
    }
    pub fn invalid_token(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidToken, description)
    }
    pub fn insufficient_scope(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InsufficientScope, description)
    }

    /// See [`ErrorCode::http_status`].
    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    /// The RFC 6749 §5.2 JSON error response, never cached.
    pub fn to_json_reply(&self) -> Reply {
        let body = ErrorBody {
            error: self.code.as_str(),
            error_description: &self.description,
        };
        Reply::json(self.http_status(), &body).no_store()
    }

    /// As [`OAuthError::to_json_reply`], for a request whose client tried HTTP
    /// Basic authentication: RFC 6749 §5.2 then requires a 401 `invalid_client`
    /// to carry a `WWW-Authenticate` challenge for the scheme the client used.
    pub fn to_json_reply_for_basic_auth(&self) -> Reply {
        let reply = self.to_json_reply();
        if self.code == ErrorCode::InvalidClient {
            reply.header("WWW-Authenticate", "Basic realm=\"oauth\"")
        } else {
            reply
        }
    }

    /// Where to send the user agent to report this error to the client
    /// (RFC 6749 §4.1.2.1): `redirect_uri` with `error`, `error_description`,
    /// `state` (echoed exactly when the request had one) and `iss` (RFC 9207 §2).
    ///
    /// Only call this once the client and its redirect URI have been validated;
    /// before that, errors are shown on our own page (RFC 6749 §4.1.2.1 first
    /// paragraph), or we would be an open redirector.
    pub fn redirect_location(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        issuer: &str,
    ) -> String {
        let params = [
            ("error", self.code.as_str()),
            ("error_description", self.description.as_str()),
        ];
        crate::urls::authorization_response(redirect_uri, &params, state, issuer)
    }
}

fn clean_description(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_DESCRIPTION_LEN));
    for c in raw.chars() {
        if out.len() >= MAX_DESCRIPTION_LEN {
            // Every char pushed is ASCII, so byte length is char count.
            out.truncate(MAX_DESCRIPTION_LEN - 3);
            out.push_str("...");
            break;
        }
        out.push(match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            c if c.is_whitespace() => ' ',
            _ => '?',
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_rfc_string() {
        let codes = [
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidClient,
            ErrorCode::InvalidGrant,
            ErrorCode::UnauthorizedClient,
            ErrorCode::UnsupportedGrantType,
            ErrorCode::InvalidScope,
            ErrorCode::InvalidTarget,
            ErrorCode::AccessDenied,
            ErrorCode::UnsupportedResponseType,
            ErrorCode::ServerError,
            ErrorCode::TemporarilyUnavailable,
            ErrorCode::InvalidRedirectUri,
            ErrorCode::InvalidClientMetadata,
            ErrorCode::InvalidToken,
            ErrorCode::InsufficientScope,
        ];
        for code in codes {
            assert_eq!(ErrorCode::parse(code.as_str()), code);
        }
        assert_eq!(
            ErrorCode::parse("slow_down"),
            ErrorCode::Extension("slow_down".into())
        );
    }

    #[test]
    fn descriptions_keep_only_the_rfc_6749_character_set() {
        let e = OAuthError::invalid_request("bad \"x\"\\y\r\nz\u{7f}é");
        assert_eq!(e.description, "bad 'x'/y  z??");
        assert!(e.description.bytes().all(|b| b == 0x20
            || b == 0x21
            || (0x23..=0x5b).contains(&b)
            || (0x5d..=0x7e).contains(&b)));
    }

    #[test]
    fn long_descriptions_are_cut() {
        let e = OAuthError::invalid_request("x".repeat(5000));
        assert_eq!(e.description.len(), MAX_DESCRIPTION_LEN);
        assert!(e.description.ends_with("..."));
    }

    #[test]
    fn display_is_the_description() {
        assert_eq!(
            OAuthError::invalid_grant("code expired").to_string(),
            "code expired"
        );
    }
}
