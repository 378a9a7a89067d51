//! Secret protocol values as types of their own.
//!
//! Each one keeps its value out of logs and comparisons that leak timing:
//! - `Debug` prints `Name([redacted])`, so a struct holding one may derive `Debug`;
//! - the value is read only through `.secret()`, which is easy to find in review;
//! - `==` compares in constant time (length may leak, content does not), and is
//!   written by hand, never derived.
//!
//! They serialize as the bare string, because they cross the boundary to a
//! grant's Durable Object and come in from forms.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }
            /// The value itself: only where it must be sent, hashed or keyed.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
            }
        }

        impl Eq for $name {}
    };
}

secret_type!(
    /// An access token ([RFC 6749 §1.4](https://datatracker.ietf.org/doc/html/rfc6749#section-1.4)):
    /// `mcpa.<grant id>.<secret>`.
    AccessToken
);
secret_type!(
    /// A refresh token ([RFC 6749 §1.5](https://datatracker.ietf.org/doc/html/rfc6749#section-1.5)):
    /// `mcpr.<grant id>.<secret>`, single use (OAuth 2.1 §4.3.1).
    RefreshToken
);
secret_type!(
    /// An authorization code ([RFC 6749 §4.1.2](https://datatracker.ietf.org/doc/html/rfc6749#section-4.1.2)):
    /// `mcpc.<grant id>.<secret>`, single use, short-lived.
    AuthCode
);
secret_type!(
    /// A client secret ([RFC 6749 §2.3.1](https://datatracker.ietf.org/doc/html/rfc6749#section-2.3.1)).
    ClientSecret
);
secret_type!(
    /// Our `state` towards the upstream provider: `<grant id>.<secret>`.
    StateToken
);
secret_type!(
    /// The random value a consent form, its signed ticket and its cookie share.
    CsrfToken
);
secret_type!(
    /// A token presented to `/revoke` (RFC 7009), of any kind.
    AnyToken
);
secret_type!(
    /// The PKCE `code_verifier` a client presents at `/token` (RFC 7636 §4.5),
    /// carried to the grant's object, which checks it against the challenge.
    PresentedVerifier
);
secret_type!(
    /// Our PKCE verifier towards the upstream provider (RFC 7636 §4.1), kept in
    /// the grant until the callback uses it.
    UpstreamVerifier
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_value() {
        let t = RefreshToken::new("mcpr.grant.very-secret");
        assert_eq!(format!("{t:?}"), "RefreshToken([redacted])");
        assert_eq!(t.secret(), "mcpr.grant.very-secret");
    }

    #[test]
    fn equality_compares_the_value() {
        assert_eq!(AuthCode::new("a"), AuthCode::new("a"));
        assert_ne!(AuthCode::new("a"), AuthCode::new("b"));
        assert_ne!(AuthCode::new("a"), AuthCode::new("ab"));
    }

    #[test]
    fn serialized_as_the_bare_string() {
        let json = serde_json::to_string(&AccessToken::new("x")).unwrap();
        assert_eq!(json, "\"x\"");
        let back: AccessToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back.secret(), "x");
    }
}
