//! The built-in development identity provider: a sign-in page served by the
//! Worker itself, standing in for GitHub or Google so that `make dev` gives a
//! complete OAuth flow without any secret or network access.
//!
//! It only answers on loopback hosts (the router checks), asks for no password,
//! and its "authorization code" is a short-lived value signed with the Worker's
//! `SECRET_KEY`, so it cannot be forged by the browser.

use serde::{Deserialize, Serialize};

use crate::oauth::crypto::{self, Entropy, Keyring};
use crate::outbound::{HttpClient, LocalBoxFuture};
use crate::upstream::{
    AuthorizeParams, ExchangeParams, IdentityProvider, SignIn, UpstreamError, UpstreamToken,
    UpstreamTokens,
};
use crate::urls::append_query;
use crate::user::UserProfile;

/// How long the development code is valid.
pub const DEV_CODE_TTL_SECS: u64 = 120;
const PURPOSE: &str = "dev-code";

/// The development provider for one request.
pub struct DevProvider {
    /// `https://host` or `http://127.0.0.1:8787`: where the sign-in page lives.
    pub origin: String,
    /// Signs and checks the development code (`SECRET_KEY`, and the previous
    /// one during a rotation).
    pub ring: Keyring,
}

/// What the development sign-in form submits.
#[derive(Debug, Deserialize)]
pub struct DevLoginForm {
    pub state: String,
    pub login: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
}

#[derive(Serialize, Deserialize)]
struct DevCode {
    login: String,
    name: Option<String>,
    email: Option<String>,
    /// A random stand-in for an upstream access token, so the encryption of
    /// upstream tokens is exercised in development exactly as in production.
    token: String,
    expires_at: u64,
}

/// Checks the sign-in form and returns where to send the browser: our
/// `/callback` with a signed code. Errors are messages for the form's user.
pub fn complete_login(
    form: &DevLoginForm,
    origin: &str,
    ring: &Keyring,
    now: u64,
    rng: &dyn Entropy,
) -> Result<String, String> {
    let login = form.login.trim();
    let login_ok = !login.is_empty()
        && login.len() <= 39
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !login_ok {
        return Err("The user name must be 1 to 39 letters, digits, '-', '_' or '.'.".into());
    }
    let name = form.name.trim();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("The display name must be at most 100 characters.".into());
    }
    let email = form.email.trim();
    if !email.is_empty()
        && (email.len() > 254
            || !email.contains('@')
            || email.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err("The email address does not look like one.".into());
    }
    if form.state.is_empty() || form.state.len() > 200 {
        return Err("This sign-in has no valid state; start again from your MCP client.".into());
    }
    let token = crypto::random_secret(rng).map_err(|_| "No randomness available.".to_owned())?;
    let code = DevCode {
        login: login.to_owned(),
        name: Some(name.to_owned()).filter(|n| !n.is_empty()),
        email: Some(email.to_owned()).filter(|e| !e.is_empty()),
        token: format!("devtok_{token}"),
        expires_at: now + DEV_CODE_TTL_SECS,
    };
    let payload =
        serde_json::to_vec(&code).map_err(|_| "Could not encode the sign-in.".to_owned())?;
    let signed = ring.sign(PURPOSE, &payload);
    Ok(append_query(
        &format!("{origin}/callback"),
        &[("code", &signed), ("state", &form.state)],
    ))
}

impl IdentityProvider for DevProvider {
    fn kind(&self) -> &'static str {
        "dev"
    }

    fn authorize_url(&self, params: &AuthorizeParams<'_>) -> String {
        append_query(
            &format!("{}/dev/login", self.origin),
            &[("state", params.state.secret())],
        )
    }

    fn exchange<'a>(
        &'a self,
        _http: &'a dyn HttpClient,
        params: ExchangeParams<'a>,
    ) -> LocalBoxFuture<'a, Result<SignIn, UpstreamError>> {
        Box::pin(async move {
            let payload = self
                .ring
                .verify(PURPOSE, params.code.secret())
                .ok_or_else(|| {
                    UpstreamError::Provider("the development sign-in code is not valid".into())
                })?;
            let code: DevCode = crate::http::json_from_bytes(&payload).ok_or_else(|| {
                UpstreamError::Malformed("the development sign-in code is malformed".into())
            })?;
            if params.now > code.expires_at {
                return Err(UpstreamError::Provider(
                    "the development sign-in code has expired".into(),
                ));
            }
            Ok(SignIn {
                user: UserProfile {
                    id: format!("dev:{}", code.login),
                    login: code.login,
                    name: code.name,
                    email: code.email,
                    provider: "dev".into(),
                },
                tokens: UpstreamTokens {
                    access_token: UpstreamToken::new(code.token),
                    refresh_token: None,
                    expires_at: None,
                    scope: None,
                },
            })
        })
    }

    fn refresh<'a>(
        &'a self,
        _http: &'a dyn HttpClient,
        _tokens: &'a UpstreamTokens,
        _now: u64,
    ) -> LocalBoxFuture<'a, Result<Option<UpstreamTokens>, UpstreamError>> {
        // Development tokens never expire.
        Box::pin(async { Ok(None) })
    }
}

/// Whether a host (without port) is a loopback name, the only place the
/// development provider answers.
pub use crate::urls::is_loopback_host;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::crypto::OsEntropy;
    use crate::outbound::{OutRequest, OutResponse};

    const SECRET: &str = "dev-secret-0123456789abcdef-0123456789";

    struct NoHttp;
    impl HttpClient for NoHttp {
        fn send(&self, _r: OutRequest) -> LocalBoxFuture<'_, Result<OutResponse, String>> {
            Box::pin(async { Err("no network in this test".to_owned()) })
        }
    }

    fn form(login: &str, email: &str) -> DevLoginForm {
        DevLoginForm {
            state: "gid.statevalue".into(),
            login: login.into(),
            name: "Ada".into(),
            email: email.into(),
        }
    }

    fn code_of(location: &str) -> String {
        let query = location.split_once('?').unwrap().1;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        pairs.into_iter().find(|(k, _)| k == "code").unwrap().1
    }

    #[test]
    fn a_signed_in_developer_comes_back_as_a_dev_user() {
        let p = DevProvider {
            origin: "http://127.0.0.1:8787".into(),
            ring: Keyring::new(SECRET, None),
        };
        let location = complete_login(
            &form("ada", "ada@example.com"),
            &p.origin,
            &p.ring,
            1000,
            &OsEntropy,
        )
        .unwrap();
        assert!(location.starts_with("http://127.0.0.1:8787/callback?code="));
        assert!(location.ends_with("&state=gid.statevalue"));
        let code = code_of(&location);
        let params = ExchangeParams {
            code: code.as_str().into(),
            callback_url: "",
            pkce_verifier: "".into(),
            nonce: "".into(),
            now: 1010,
        };
        let sign_in = pollster::block_on(p.exchange(&NoHttp, params)).unwrap();
        assert_eq!(sign_in.user.id, "dev:ada");
        assert_eq!(sign_in.user.email.as_deref(), Some("ada@example.com"));
        assert!(sign_in.tokens.access_token.secret().starts_with("devtok_"));
    }

    #[test]
    fn forged_or_expired_codes_are_refused() {
        let p = DevProvider {
            origin: "http://localhost".into(),
            ring: Keyring::new(SECRET, None),
        };
        let location =
            complete_login(&form("ada", ""), &p.origin, &p.ring, 1000, &OsEntropy).unwrap();
        let code = code_of(&location);
        let late = ExchangeParams {
            code: code.as_str().into(),
            callback_url: "",
            pkce_verifier: "".into(),
            nonce: "".into(),
            now: 1000 + DEV_CODE_TTL_SECS + 1,
        };
        assert!(matches!(
            pollster::block_on(p.exchange(&NoHttp, late)),
            Err(UpstreamError::Provider(_))
        ));
        let forged = crypto::sign(
            "another-secret-0123456789abcdef-xyz",
            PURPOSE,
            br#"{"login":"root","name":null,"email":null,"token":"t","expires_at":99999}"#,
        );
        let params = ExchangeParams {
            code: forged.as_str().into(),
            callback_url: "",
            pkce_verifier: "".into(),
            nonce: "".into(),
            now: 1000,
        };
        assert!(pollster::block_on(p.exchange(&NoHttp, params)).is_err());
    }

    #[test]
    fn bad_form_values_get_clear_messages() {
        for (login, email) in [
            ("", ""),
            ("has space", ""),
            ("<script>", ""),
            ("ok", "not-an-email"),
            (&"x".repeat(40)[..], ""),
        ] {
            assert!(
                complete_login(
                    &form(login, email),
                    "http://localhost",
                    &Keyring::new(SECRET, None),
                    0,
                    &OsEntropy
                )
                .is_err(),
                "{login} {email}"
            );
        }
    }

    #[test]
    fn only_loopback_hosts_count() {
        for h in ["127.0.0.1", "localhost", "[::1]"] {
            assert!(is_loopback_host(h));
        }
        for h in [
            "example.com",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "localhost.evil.com",
        ] {
            assert!(!is_loopback_host(h));
        }
    }
}
