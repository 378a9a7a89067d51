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
use crate::uri::is_uri_char;
use std::fmt;

/// Longest redirect URI we register. Real ones are well under 200 characters.
pub const MAX_REDIRECT_URI_LEN: usize = 2000;

/// Hosts RFC 8252 §7.3 lets a native app listen on, as written in a URI.
pub const LOOPBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// Schemes that run code or read local data in a user agent instead of
/// delivering a response to a client, refused as redirect targets.
const REFUSED_SCHEMES: &[&str] = &["javascript", "data", "file", "vbscript", "blob", "about"];

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
/// (RFC 7591 §3.2.2) and say which rule was broken.
pub fn validate_redirect_uri(raw: &str) -> Result<RedirectUri, OAuthError> {
    let refuse = |why: &str| {
        Err(OAuthError::invalid_redirect_uri(format!(
            "redirect URI {why}"
        )))
    };
    if raw.is_empty() {
        return refuse("is empty");
    }
    if raw.len() > MAX_REDIRECT_URI_LEN {
        return refuse(&format!("is longer than {MAX_REDIRECT_URI_LEN} characters"));
    }
    if let Some(bad) = raw.chars().find(|c| !is_uri_char(*c)) {
        let what = if bad.is_whitespace() {
            "whitespace".to_owned()
        } else if bad.is_control() {
            "a control character".to_owned()
        } else if !bad.is_ascii() {
            "a non-ASCII character (percent-encode it)".to_owned()
        } else {
            format!("the character U+{:04X}", u32::from(bad))
        };
        return refuse(&format!(
            "contains {what}, which RFC 3986 does not allow in a URI"
        ));
    }
    if !percent_escapes_are_well_formed(raw) {
        return refuse("has a '%' that is not followed by two hex digits");
    }
    if raw.contains('#') {
        return refuse("must not contain a fragment (RFC 6749 section 3.1.2)");
    }
    let Some(uri) = crate::uri::parse(raw) else {
        return refuse("is not an absolute URI");
    };
    let scheme = uri.scheme_lower();
    if REFUSED_SCHEMES.contains(&scheme.as_str()) {
        return refuse(&format!("must not use the '{scheme}:' scheme"));
    }
    // RFC 8252 §7.1: a private-use scheme needs a hierarchical path (`app:/cb`),
    // so an opaque URI (`urn:...`, `myapp:cb`) is refused.
    if uri.authority.is_none() && !uri.path.starts_with('/') {
        return refuse(
            "must have a hierarchical path, as in 'com.example.app:/callback' (RFC 8252 section 7.1)",
        );
    }
    if let Some(authority) = raw_authority(raw) {
        if authority.contains('@') {
            return refuse("must not contain user information ('user@')");
        }
    }
    if has_dot_segment(raw) {
        return refuse("must not contain '.' or '..' path segments");
    }
    if scheme == "https" && uri.host_lower().is_none() {
        return refuse("must name a host");
    }
    if scheme == "http" && split_loopback(raw).is_none() {
        return refuse(
            "may use 'http' only for a loopback host (localhost, 127.0.0.1 or [::1]); use 'https' otherwise",
        );
    }
    // Any other scheme is an app's private-use scheme (RFC 8252 §7.1), e.g.
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
/// them back to: the host for `http`/`https`, as the browser will visit it
/// (see [`crate::idn::display_host`]: percent-decoded, an IDN in Unicode with
/// its punycode, never cut), and `scheme://host` or `scheme:/path` for an app's
/// private-use scheme, since the scheme names the app.
pub fn redirect_host(uri: &str) -> String {
    let Some(parsed) = crate::uri::parse(uri) else {
        return uri.to_owned();
    };
    let scheme = parsed.scheme_lower();
    match (scheme.as_str(), parsed.host_lower()) {
        ("http" | "https", Some(host)) => crate::idn::display_host(&host),
        (scheme, Some(host)) => format!("{scheme}://{}", crate::idn::display_host(&host)),
        (scheme, None) => format!("{scheme}:{}", parsed.path),
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
    Some(Loopback { host, rest })
}

/// The authority of a hierarchical URI as written (`//` up to the path).
fn raw_authority(raw: &str) -> Option<&str> {
    let colon = raw.find(':')?;
    let after = raw[colon + 1..].strip_prefix("//")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    Some(&after[..end])
}

/// Whether the path has `.`/`..` segments, as written or percent-encoded: a URI
/// that a browser would resolve to a different path than the one registered.
/// Browsers resolve them before requesting, so only the raw text can tell.
fn has_dot_segment(raw: &str) -> bool {
    raw_path(raw).split('/').any(|segment| {
        let s = segment.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    })
}

/// The path of a URI as written: after the scheme and authority, before `?`/`#`.
fn raw_path(raw: &str) -> &str {
    let before_query = raw.split(['?', '#']).next().unwrap_or(raw);
    let Some((_, after_scheme)) = before_query.split_once(':') else {
        return "";
    };
    match after_scheme.strip_prefix("//") {
        Some(after_slashes) => after_slashes.find('/').map_or("", |i| &after_slashes[i..]),
        None => after_scheme,
    }
}

fn percent_escapes_are_well_formed(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
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

    #[test]
    fn dot_segments_are_found_even_when_encoded() {
        let check = has_dot_segment;
        assert!(check("https://a.example/cb/../x"));
        assert!(check("https://a.example/cb/%2E%2e/x"));
        assert!(check("https://a.example/./cb"));
        assert!(check("com.example.app:/../cb"));
        assert!(!check("https://a.example/cb/..x/.y?z=/../"));
    }
}
