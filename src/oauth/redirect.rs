//! Redirect URIs: what a client may register and when a presented one matches.
//!
//! - Registration rules: [RFC 6749 §3.1.2](https://datatracker.ietf.org/doc/html/rfc6749#section-3.1.2)
//!   (absolute, no fragment), OAuth 2.1 §2.3.1 (`http` only for loopback),
//!   [RFC 8252 §7.1](https://datatracker.ietf.org/doc/html/rfc8252#section-7.1) (private-use
//!   schemes such as `cursor://` are native-app redirects and are accepted),
//!   [RFC 8252 §7.3](https://datatracker.ietf.org/doc/html/rfc8252#section-7.3) (loopback).
//! - Matching: OAuth 2.1 §7.5.1 / RFC 9700 §4.1.3: exact string comparison, with the
//!   single exception of RFC 8252 §7.3 for loopback `http` URIs: the port is free, and
//!   `localhost`, `127.0.0.1` and `[::1]` are one host (see [`redirect_uri_matches`]).
//!
//! Loopback hosts are exactly `localhost`, `127.0.0.1` and `[::1]`, spelled that
//! way. Other `127.0.0.0/8` addresses, `LOCALHOST` or `127.1` are refused: no client
//! uses them, and admitting spellings the `url` crate would normalize would make the
//! raw-string matching below disagree with what a browser connects to.

use super::error::OAuthError;
use crate::urls::is_uri_char;
use std::fmt;

/// Longest redirect URI we register. Real ones are well under 200 characters.
pub const MAX_REDIRECT_URI_LEN: usize = 2000;

/// Hosts RFC 8252 §7.3 lets a native app listen on, as written in a URI.
pub const LOOPBACK_HOSTS: &[&str] = crate::urls::LOOPBACK_REDIRECT_HOSTS;

/// A redirect URI that passed the registration rules, kept exactly as the client
/// wrote it because matching is by exact string.
///
/// See [RFC 6749 §3.1.2](https://datatracker.ietf.org/doc/html/rfc6749#section-3.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether this is an `http` loopback URI, whose port may vary (RFC 8252 §7.3).
    pub fn is_loopback(&self) -> bool {
        split_loopback(&self.0).is_some()
    }
}

impl AsRef<str> for RedirectUri {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<RedirectUri> for String {
    fn from(uri: RedirectUri) -> String {
        uri.0
    }
}

/// Checks a redirect URI offered at registration. Errors are `invalid_redirect_uri`
/// (RFC 7591 §3.2.2) and say which rule was broken. The rules are checks on the
/// WHATWG parse ([`crate::urls::check_redirect_uri`]); the URI is kept as written.
pub fn validate_redirect_uri(raw: &str) -> Result<RedirectUri, OAuthError> {
    if raw.len() > MAX_REDIRECT_URI_LEN {
        return Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI is longer than {MAX_REDIRECT_URI_LEN} characters"
        )));
    }
    crate::urls::check_redirect_uri(raw).map_err(OAuthError::invalid_redirect_uri)?;
    // Any scheme but http(s) is an app's private-use scheme (RFC 8252 §7.1), e.g.
    // `cursor://`, `vscode://`, `com.example.app:/cb`: the operating system hands
    // the redirect to the app that claimed it, which is what the client asked for.
    Ok(RedirectUri(raw.to_owned()))
}

/// Whether `presented` (from an authorization or token request) is one of the
/// `registered` redirect URIs.
///
/// Exact string comparison (OAuth 2.1 §7.5.1): no case folding, no trailing-slash
/// or dot-segment equivalence, no prefix match. The one exception is RFC 8252
/// §7.3: when a registered URI is `http` on a loopback host, the presented URI may
/// differ from it in the port (any port, or none), because native apps listen on
/// whatever port is free, and in which of the three loopback spellings
/// (`localhost`, `127.0.0.1`, `[::1]`) names the host, because clients register
/// one and listen on another (Goose registers `http://localhost/oauth_callback`
/// and redirects to `http://127.0.0.1:<port>/oauth_callback`). The scheme stays
/// `http`, and path and query must be identical, so an appended query
/// (`?server_id=`) still fails.
///
/// Why treating the three as one host is safe: all three name this computer and
/// nothing else. `127.0.0.1` and `::1` are loopback addresses, which no packet
/// leaves the machine for, and browsers resolve `localhost` to loopback without
/// asking DNS (RFC 6761 §6.3, and the "let localhost be localhost" rule browsers
/// follow). Whoever can listen on one of them can listen on the others, on any
/// port, and the port is free already: the spelling gives an attacker on the
/// machine nothing the port rule did not, and gives no one off the machine
/// anything. Look-alikes (`localhost.evil.com`, `127.0.0.1.nip.io`, `LOCALHOST`,
/// userinfo) are not loopback spellings ([`split_loopback`]) and stay unequal.
/// Public clients with a loopback redirect see the consent page every time
/// (`flow::consent_may_be_remembered`).
pub fn redirect_uri_matches(registered: &[String], presented: &str) -> bool {
    let presented_loopback = split_loopback(presented);
    registered.iter().any(|candidate| {
        if candidate == presented {
            return true;
        }
        match (split_loopback(candidate), &presented_loopback) {
            (Some(reg), Some(pres)) => reg.rest == pres.rest,
            _ => false,
        }
    })
}

/// Whether `uri` is an `http` loopback redirect (RFC 8252 §7.3): the
/// application listens on this computer.
pub fn is_loopback_redirect(uri: &str) -> bool {
    split_loopback(uri).is_some()
}

/// What to show a user on the consent page as the place the client will send
/// them back to: for `http`/`https` the host the browser will visit (see
/// [`crate::urls::display_host`]: the ASCII form, an IDN's Unicode beside it,
/// marked), and `scheme://host` or `scheme:/path` for an app's private-use
/// scheme, since the scheme names the app.
pub fn redirect_host(uri: &str) -> String {
    let Ok(parsed) = crate::urls::Url::parse(uri) else {
        return crate::urls::short_host(uri);
    };
    let scheme = parsed.scheme();
    match (scheme, crate::urls::display_host(&parsed)) {
        ("http" | "https", Some(host)) => host,
        (scheme, Some(host)) => format!("{scheme}://{host}"),
        (scheme, None) => format!("{scheme}:{}", parsed.path()),
    }
}

/// An `http` loopback URI cut into the parts RFC 8252 §7.3 compares.
struct Loopback<'a> {
    /// As written; no longer compared (the three loopback hosts are one), kept
    /// for the tests that pin what the split reads.
    #[cfg_attr(not(test), allow(dead_code))]
    host: &'a str,
    /// Path and query, exactly as written.
    rest: &'a str,
}

/// Splits `http://<loopback host>[:<port>]<rest>` without normalizing anything.
/// Returns `None` for anything else, including URIs with userinfo, a fragment,
/// an empty or non-numeric port, or a host spelled differently.
fn split_loopback(uri: &str) -> Option<Loopback<'_>> {
    let after = uri.strip_prefix("http://")?;
    if uri.contains('#') || !uri.chars().all(is_uri_char) {
        return None;
    }
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let host = LOOPBACK_HOSTS.iter().find(|h| authority.starts_with(**h))?;
    let port = &authority[host.len()..];
    if !port.is_empty() {
        let digits = port.strip_prefix(':')?;
        if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<u16>().ok()?;
    }
    // The WHATWG parse must agree on the host (it does for these spellings;
    // this keeps the raw split honest).
    let parsed = crate::urls::Url::parse(uri).ok()?;
    if parsed.host_str() != Some(*host) {
        return None;
    }
    Some(Loopback { host, rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_split_takes_the_raw_host_and_rest() {
        let l = split_loopback("http://127.0.0.1:33418/?x=1").map(|l| (l.host, l.rest));
        assert_eq!(l, Some(("127.0.0.1", "/?x=1")));
        let l = split_loopback("http://[::1]/cb").map(|l| (l.host, l.rest));
        assert_eq!(l, Some(("[::1]", "/cb")));
        let l = split_loopback("http://localhost").map(|l| (l.host, l.rest));
        assert_eq!(l, Some(("localhost", "")));
    }

    #[test]
    fn loopback_split_refuses_look_alikes() {
        for uri in [
            "http://localhost.evil.com/cb",
            "http://localhost:/cb",
            "http://localhost:99999/cb",
            "http://localhost:8080x/cb",
            "http://localhost@evil.com/cb",
            "http://127.0.0.1.nip.io/cb",
            "http://LOCALHOST/cb",
            "https://localhost/cb",
            "http://localhost/cb#x",
        ] {
            assert!(split_loopback(uri).is_none(), "{uri}");
        }
    }

    #[test]
    fn loopback_hosts_are_one_host_with_any_port_and_the_same_path_and_query() {
        let goose = vec!["http://localhost/oauth_callback".to_owned()];
        for presented in [
            "http://127.0.0.1:53682/oauth_callback",
            "http://[::1]:8080/oauth_callback",
            "http://localhost:1/oauth_callback",
            "http://127.0.0.1/oauth_callback",
        ] {
            assert!(redirect_uri_matches(&goose, presented), "{presented}");
        }
        for presented in [
            "http://127.0.0.1:53682/oauth_callback?server_id=1",
            "http://127.0.0.1:53682/oauth_callback/",
            "http://127.0.0.1:53682/OAUTH_CALLBACK",
            "https://127.0.0.1:53682/oauth_callback",
            "http://127.0.0.2:53682/oauth_callback",
            "http://localhost.evil.com/oauth_callback",
            "http://LOCALHOST/oauth_callback",
        ] {
            assert!(!redirect_uri_matches(&goose, presented), "{presented}");
        }
        let with_query = vec!["http://[::1]/cb?x=1".to_owned()];
        assert!(redirect_uri_matches(
            &with_query,
            "http://localhost:9/cb?x=1"
        ));
        assert!(!redirect_uri_matches(
            &with_query,
            "http://localhost:9/cb?x=2"
        ));
        // Not loopback: exact only.
        let https = vec!["https://app.example/cb".to_owned()];
        assert!(!redirect_uri_matches(&https, "https://app.example:443/cb"));
    }
}
