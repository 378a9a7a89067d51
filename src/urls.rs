//! Every URL this server accepts, stores, compares or shows is read here, with
//! the `url` crate: the WHATWG URL Standard's parser (percent-decoding, IDNA,
//! IPv4 shorthand), the one browsers and workerd use. So what this server
//! checks, shows and fetches is the host the browser (or the runtime's fetch)
//! really goes to. `docs/decisions.md` ("URLs") has the measured bundle cost.
//!
//! On top of the parse come this project's stricter rules, each a check on the
//! parsed [`Url`]:
//! - [`check_redirect_uri`]: registration rules for redirect URIs (https except
//!   loopback, no userinfo, no fragment, no dot segments, private-use schemes).
//! - [`check_client_id_url`]: a Client ID Metadata Document URL (and a `jwks_uri`).
//! - [`client_fetch_target`]: the outbound policy for fetches whose target a
//!   client chose. It refuses IP literals (in every notation, after WHATWG
//!   normalisation: `0x7f.1` is `127.0.0.1`), `localhost` and special-use names,
//!   single-label names, and any port but 443, before any connection is made.
//! - [`display_host`]: a host as a person reads it: the ASCII (punycode) form,
//!   with the Unicode form beside it, marked as such.
//! - [`short_host`]: a host for an error page: shortened, never a whole
//!   attacker-chosen string.
//! - [`is_registrable_public_https`]: whether a redirect may let a consent be
//!   remembered (RFC 8252 §8.6).
//! - [`append_query`]: parameters added to a URL as it is, byte for byte
//!   (redirects to clients, sign-in URLs of providers), and
//!   [`authorization_response`]: every redirect back to a client, success or
//!   error, with `state` and `iss` (RFC 6749 §4.1.2, RFC 9207 §2).
//!
//! Exact matching stays exact: a registered redirect URI is kept as written and
//! compared as a string (OAuth 2.1 §7.5.1); these rules only decide what may be
//! registered and how it is shown. Characters outside RFC 3986 (whitespace,
//! backslashes, non-ASCII) are refused before parsing, because the WHATWG parser
//! would silently drop or rewrite them, and then the string a client registered
//! would not be the address a browser visits.

pub use url::{Host, Url};

/// RFC 3986 §2: characters that may appear in a URI (unreserved, reserved, `%`).
pub fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// Top-level names reserved for special use (RFC 6761, RFC 6762, RFC 7686,
/// RFC 8375, RFC 9476, ICANN's `.internal`): never a public server.
pub const SPECIAL_USE_TLDS: &[&str] = &[
    "localhost",
    "local",
    "internal",
    "test",
    "invalid",
    "example",
    "onion",
    "alt",
    "arpa",
    "lan",
    "home",
    "corp",
    "intranet",
    "private",
];

/// Hosts where anyone can publish a file under a path of their own, so a
/// document fetched from there says nothing about who wrote it. The consent
/// page calls such a client "a document hosted at …", not an application from
/// that host. Kept short and in code on purpose (README, "Client ID Metadata
/// Documents"); a host not listed here is taken to speak for itself.
pub const SHARED_CONTENT_HOSTS: &[&str] = &[
    "raw.githubusercontent.com",
    "gist.githubusercontent.com",
    "gist.github.com",
    "gitlab.com",
    "bitbucket.org",
    "codeberg.org",
    "pastebin.com",
    "cdn.jsdelivr.net",
    "unpkg.com",
    "raw.githack.com",
    "storage.googleapis.com",
    "s3.amazonaws.com",
    "dl.dropboxusercontent.com",
    "drive.google.com",
    "docs.google.com",
    "objects.githubusercontent.com",
    "huggingface.co",
];

/// Hosts RFC 8252 §7.3 lets a native app listen on, as the parser writes them.
pub const LOOPBACK_REDIRECT_HOSTS: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// Schemes that run code or read local data in a user agent instead of
/// delivering a response to a client, refused as redirect targets.
const REFUSED_SCHEMES: &[&str] = &["javascript", "data", "file", "vbscript", "blob", "about"];

/// Parses an absolute URL the WHATWG way, after refusing characters outside
/// RFC 3986 (which the WHATWG parser would strip or rewrite silently) and
/// malformed percent-escapes. `what` names the URL in the error ("the
/// redirect URI").
pub fn parse_strict(raw: &str, what: &str) -> Result<Url, String> {
    if raw.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if let Some(bad) = raw.chars().find(|c| !is_uri_char(*c)) {
        let kind = if bad.is_whitespace() {
            "whitespace".to_owned()
        } else if bad.is_control() {
            "a control character".to_owned()
        } else if !bad.is_ascii() {
            "a non-ASCII character (percent-encode it)".to_owned()
        } else {
            format!("the character U+{:04X}", u32::from(bad))
        };
        return Err(format!(
            "{what} contains {kind}, which RFC 3986 does not allow in a URI"
        ));
    }
    if !percent_escapes_are_well_formed(raw) {
        return Err(format!(
            "{what} has a '%' that is not followed by two hex digits"
        ));
    }
    // A scheme is required: the WHATWG parser would read "a.example/cb" as
    // relative and refuse it, but its message is not one a client can act on.
    let scheme_ok = raw.split_once(':').is_some_and(|(s, _)| {
        let mut c = s.chars();
        c.next().is_some_and(|f| f.is_ascii_alphabetic())
            && c.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if !scheme_ok {
        return Err(format!("{what} is not an absolute URI"));
    }
    Url::parse(raw).map_err(|e| format!("{what} is not a valid URL ({e})"))
}

/// Whether a parsed host names this machine: `localhost` (and `*.localhost`,
/// RFC 6761 §6.3), any address in 127.0.0.0/8, or `::1`. Works on the parsed
/// host, so `127.1`, `0x7f.0.0.1` and `LOCALHOST` are all recognised.
pub fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.');
            d == "localhost" || d.ends_with(".localhost")
        }
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Whether a host as the platform hands it over (`localhost`, `127.0.0.1`,
/// `[::1]`; already WHATWG-normalised) names this machine.
pub fn is_loopback_host(host: &str) -> bool {
    Host::parse(host).is_ok_and(|h| match &h {
        Host::Domain(d) => is_loopback(&Host::Domain(d.as_str())),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    })
}

/// The authority of a hierarchical URI as written (`//` up to the path), so
/// userinfo that the WHATWG parser would keep or drop is seen either way.
fn raw_authority(raw: &str) -> Option<&str> {
    let colon = raw.find(':')?;
    let after = raw[colon + 1..].strip_prefix("//")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    Some(&after[..end])
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

/// Whether the path has `.`/`..` segments, as written or percent-encoded: a
/// URI a browser would resolve to a different path than the one registered
/// (the parse has already resolved them, so only the raw text can tell).
pub fn has_dot_segment(raw: &str) -> bool {
    raw_path(raw).split('/').any(|segment| {
        let s = segment.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    })
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

/// Registration rules for a redirect URI, checked on its WHATWG parse. `Err`
/// says which rule was broken (for `invalid_redirect_uri`, RFC 7591 §3.2.2).
pub fn check_redirect_uri(raw: &str) -> Result<Url, String> {
    let url = parse_strict(raw, "redirect URI")?;
    let scheme = url.scheme();
    if REFUSED_SCHEMES.contains(&scheme) {
        return Err(format!("redirect URI must not use the '{scheme}:' scheme"));
    }
    if raw.contains('#') || url.fragment().is_some() {
        return Err("redirect URI must not contain a fragment (RFC 6749 section 3.1.2)".into());
    }
    // RFC 8252 §7.1: a private-use scheme needs a hierarchical path (`app:/cb`).
    if url.cannot_be_a_base() {
        return Err(
            "redirect URI must have a hierarchical path, as in 'com.example.app:/callback' (RFC 8252 section 7.1)"
                .into(),
        );
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || raw_authority(raw).is_some_and(|a| a.contains('@'))
    {
        return Err("redirect URI must not contain user information ('user@')".into());
    }
    if has_dot_segment(raw) {
        return Err("redirect URI must not contain '.' or '..' path segments".into());
    }
    let written_host = raw_authority(raw).map(|a| {
        let a = a.rsplit_once('@').map_or(a, |(_, h)| h);
        match a.rfind(':') {
            Some(i) if !a[i..].contains(']') => &a[..i],
            _ => a,
        }
    });
    // `https:/a.example` and `https:///a.example` are read by the WHATWG
    // parser as if `//a.example` had been written: refused.
    let no_host =
        written_host.is_none_or(str::is_empty) || url.host_str().is_none_or(str::is_empty);
    match scheme {
        "https" if no_host => {
            return Err("redirect URI must name a host (as in 'https://host/path')".into());
        }
        "http" => {
            // Loopback, one of RFC 8252 §7.3's three hosts, and spelled as the
            // browser reads it (`127.1` and `LOCALHOST` are refused: their
            // exact string would not be what the loopback port rule compares).
            let host = url.host_str().unwrap_or_default();
            if !LOOPBACK_REDIRECT_HOSTS.contains(&host) || written_host != Some(host) {
                return Err(
                    "redirect URI may use 'http' only for a loopback host (localhost, 127.0.0.1 or [::1]); use 'https' otherwise"
                        .into(),
                );
            }
        }
        // Any other scheme is an app's private-use scheme (RFC 8252 §7.1).
        _ => {}
    }
    Ok(url)
}

/// The draft's rules for a `client_id` URL (and this server's for a
/// `jwks_uri`): https, a host, a path, no fragment, no userinfo, no dot
/// segments; a query is allowed.
pub fn check_client_id_url(raw: &str, max_len: usize) -> Result<Url, String> {
    if raw.len() > max_len {
        return Err(format!("the URL is longer than {max_len} characters"));
    }
    let url = parse_strict(raw, "the URL")?;
    if url.scheme() != "https" {
        return Err("the URL must use https".into());
    }
    if raw.contains('#') {
        return Err("the URL must not have a fragment".into());
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || raw_authority(raw).is_some_and(|a| a.contains('@'))
    {
        return Err("the URL must not contain user information".into());
    }
    if url.host_str().is_none_or(str::is_empty) || raw_authority(raw).is_none_or(str::is_empty) {
        return Err("the URL must name a host".into());
    }
    if raw_path(raw).is_empty() || raw_path(raw) == "/" {
        return Err("the URL must have a path".into());
    }
    if has_dot_segment(raw) {
        return Err("the URL must not contain '.' or '..' path segments".into());
    }
    Ok(url)
}

/// Why a client-chosen URL may not be fetched, or `Ok`: the outbound policy.
/// Applied to CIMD documents and `jwks_uri` before any connection. URLs the
/// operator configured (an OIDC issuer, an upstream API base) are not
/// client-chosen and do not pass through here.
pub fn client_fetch_target(url: &Url) -> Result<(), String> {
    if url.scheme() != "https" {
        return Err("only https URLs are fetched".into());
    }
    // `port()` is `None` for the scheme's default, so `:443` written out passes.
    if let Some(port) = url.port() {
        return Err(format!("port {port} is not fetched; only 443 is"));
    }
    match url.host() {
        None => Err("the URL has no host".into()),
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => Err("an IP address is not fetched".into()),
        Some(Host::Domain(d)) => match name_problem(d) {
            Some(problem) => Err(format!("{problem} is not fetched")),
            None => Ok(()),
        },
    }
}

/// A host as a person deciding whether to trust it should read it: the ASCII
/// form the browser visits (IDNA, RFC 5891: punycode), and for an
/// internationalised name its Unicode form beside it, marked as such. An IPv6
/// address keeps its brackets. Nothing is cut.
pub fn display_host(url: &Url) -> Option<String> {
    // The WHATWG serialisation (an IPv6 address as the URL Standard writes
    // it, which is not always how Rust's `Ipv6Addr` prints it).
    let host = url.host_str().filter(|h| !h.is_empty())?.to_owned();
    if host.split('.').any(|l| l.starts_with("xn--")) {
        let unicode = url::quirks::domain_to_unicode(&host);
        if !unicode.is_empty() && unicode != host {
            return Some(format!("{host} (in Unicode: {unicode})"));
        }
    }
    Some(host)
}

/// Longest host an error page names.
pub const SHORT_HOST_CHARS: usize = 60;

/// The host of `raw` for an error page: its ASCII form, escaped later by the
/// template, and at most [`SHORT_HOST_CHARS`] characters (the right end kept,
/// where the registrable domain is). Never the rest of the URL, which an
/// attacker chose.
pub fn short_host(raw: &str) -> String {
    let host = Url::parse(raw)
        .ok()
        .and_then(|u| u.host_str().filter(|h| !h.is_empty()).map(str::to_owned))
        .unwrap_or_else(|| "an address this server cannot read".to_owned());
    let count = host.chars().count();
    if count <= SHORT_HOST_CHARS {
        return host;
    }
    let tail: String = host.chars().skip(count - (SHORT_HOST_CHARS - 1)).collect();
    format!("…{tail}")
}

/// Whether `url` is `https` to a name that can be registered in public DNS:
/// not an IP literal, not a loopback or special-use name, at least two
/// labels. Only such a redirect lets a remembered consent stand in for the
/// consent page (RFC 8252 §8.6: an https loopback or IP-literal listener may be
/// any program).
pub fn is_registrable_public_https(url: &Url) -> bool {
    url.scheme() == "https"
        && matches!(url.host(), Some(Host::Domain(d)) if name_problem(d).is_none())
}

/// Why a (parsed, lowercase) domain name is not a public one, or `None`: a
/// single label (`localhost`, `intranet`) or a special-use top-level name
/// (`*.localhost`, `*.internal`, ...; [`SPECIAL_USE_TLDS`]).
fn name_problem(domain: &str) -> Option<String> {
    let d = domain.trim_end_matches('.');
    let mut labels = d.rsplit('.');
    let tld = labels.next().unwrap_or_default();
    if labels.next().is_none() {
        return Some("a single-label host name".into());
    }
    SPECIAL_USE_TLDS
        .contains(&tld)
        .then(|| format!("a '.{tld}' name"))
}

/// Whether `url`'s host is one where anyone can publish a file
/// ([`SHARED_CONTENT_HOSTS`]).
pub fn is_shared_content_host(url: &Url) -> bool {
    url.host_str()
        .map(|h| h.trim_end_matches('.'))
        .is_some_and(|h| SHARED_CONTENT_HOSTS.contains(&h))
}

/// `uri` with `params` added to its query, `application/x-www-form-urlencoded`
/// (spaces as `+`), as RFC 6749 §4.1.2 asks. Every URL this server appends
/// parameters to goes through here.
///
/// The existing query is kept byte for byte (RFC 6749 §3.1.2 says it MUST be
/// retained), so the client finds the parameters it put there unchanged. The URI
/// is not re-parsed or re-serialized, which also keeps private-use schemes such as
/// `com.example.app:/cb` exactly as registered. Redirect URIs never carry a
/// fragment once validated; should one be present, parameters go before it so
/// that they stay in the query.
pub fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    let (base, fragment) = match uri.find('#') {
        Some(at) => (&uri[..at], Some(&uri[at..])),
        None => (uri, None),
    };
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let mut out = String::with_capacity(uri.len() + encoded.len() + 1);
    out.push_str(base);
    if !encoded.is_empty() {
        match base.find('?') {
            None => out.push('?'),
            Some(_) if base.ends_with('?') || base.ends_with('&') => {}
            Some(_) => out.push('&'),
        }
        out.push_str(&encoded);
    }
    if let Some(fragment) = fragment {
        out.push_str(fragment);
    }
    out
}

/// The authorization response, where the browser goes back to the client:
/// `redirect_uri` with `params` (`code` on success, RFC 6749 §4.1.2; `error`
/// and `error_description` on failure, §4.1.2.1), then `state` exactly as the
/// request had it (when it had one), then `iss`, this server's issuer (RFC
/// 9207 §2). Only for a client and redirect URI already validated.
pub fn authorization_response(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
) -> String {
    let mut all: Vec<(&str, &str)> = params.to_vec();
    if let Some(state) = state {
        all.push(("state", state));
    }
    all.push(("iss", issuer));
    append_query(redirect_uri, &all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_is_judged_on_the_parsed_host() {
        for s in [
            "http://localhost/",
            "http://LOCALHOST/",
            "http://127.0.0.1/",
            "http://127.1/",
            "http://0x7f.0.0.1/",
            "http://2130706433/",
            "http://[::1]/",
            "http://[0:0:0:0:0:0:0:1]/",
            "http://app.localhost/",
        ] {
            assert!(is_loopback(&url(s).host().unwrap()), "{s}");
        }
        for s in [
            "http://127.0.0.1.nip.io/",
            "http://128.0.0.1/",
            "http://[::2]/",
            "http://localhost.evil/",
        ] {
            assert!(!is_loopback(&url(s).host().unwrap()), "{s}");
        }
        assert!(is_loopback_host("[::1]") && is_loopback_host("127.0.0.1"));
        assert!(!is_loopback_host("example.com"));
    }

    #[test]
    fn outbound_policy_refuses_every_ip_notation_and_special_name() {
        for s in [
            "https://127.0.0.1/x",
            "https://127.0.0.1:9443/x",
            "https://0x7f.1/x",
            "https://0177.0.0.1/x",
            "https://2130706433/x",
            "https://127.1/x",
            "https://%31%32%37.0.0.1/x",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[::ffff:7f00:1]/x",
            "https://10.0.0.1/x",
            "https://169.254.169.254/x",
            "https://localhost/x",
            "https://LocalHost./x",
            "https://a.localhost/x",
            "https://metadata.google.internal/x",
            "https://printer.local/x",
            "https://a.test/x",
            "https://a.example/x",
            "https://a.invalid/x",
            "https://intranet/x",
            "https://public.example.com:8443/x",
            "http://public.example.com/x",
        ] {
            assert!(client_fetch_target(&url(s)).is_err(), "{s}");
        }
        for s in [
            "https://claude.ai/x",
            "https://public.example.com:443/x",
            "https://app.example.com/x",
            "https://xn--bcher-kva.example.com/x",
        ] {
            assert!(client_fetch_target(&url(s)).is_ok(), "{s}");
        }
    }

    #[test]
    fn display_shows_punycode_with_the_unicode_marked() {
        // U+0441 CYRILLIC SMALL LETTER ES, as the punycode a browser visits.
        let shown = display_host(&url("https://xn--laude-0ye.ai/cb")).unwrap();
        assert!(shown.starts_with("xn--"), "{shown}");
        assert!(shown.contains("(in Unicode: \u{441}laude.ai)"), "{shown}");
        assert_eq!(
            display_host(&url("https://%65vil.example/cb")).unwrap(),
            "evil.example"
        );
        assert_eq!(
            display_host(&url("https://App.Example/cb")).unwrap(),
            "app.example"
        );
        assert_eq!(display_host(&url("http://[::1]:9/")).unwrap(), "[::1]");
        assert_eq!(display_host(&url("http://0x7f.1/")).unwrap(), "127.0.0.1");
    }

    #[test]
    fn short_host_cuts_from_the_left_and_drops_the_rest() {
        let long = format!("https://{}.attacker.example/<script>", "a".repeat(200));
        let s = short_host(&long);
        assert_eq!(s.chars().count(), SHORT_HOST_CHARS);
        assert!(s.starts_with('…') && s.ends_with(".attacker.example"));
        assert_eq!(short_host("https://ok.example/<b>x</b>"), "ok.example");
        assert_eq!(
            short_host("not a url"),
            "an address this server cannot read"
        );
    }

    #[test]
    fn only_public_https_names_may_remember_consent() {
        assert!(is_registrable_public_https(&url("https://claude.ai/cb")));
        for s in [
            "https://127.0.0.1:4000/cb",
            "https://[::1]/cb",
            "https://localhost/cb",
            "https://app.localhost/cb",
            "https://intranet/cb",
            "https://a.internal/cb",
            "http://claude.ai/cb",
            "cursor://x/cb",
        ] {
            assert!(!is_registrable_public_https(&url(s)), "{s}");
        }
    }

    #[test]
    fn redirect_rules() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://localhost:6274/oauth/callback",
            "http://127.0.0.1:33418/",
            "http://[::1]/cb",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "com.example.app:/cb",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/relative",
            "https://a.example/cb#f",
            "https://u@a.example/cb",
            "https://a.example/x/../cb",
            "https://a.example\\cb",
            "https://a.exa mple/cb",
            "http://evil.example/cb",
            "javascript:alert(1)",
            "urn:ietf:wg:oauth:2.0:oob",
            "https://a.example/%zz",
            "https:///cb",
            "https:/a.example/cb",
            "http://127.1/cb",
            "http://LOCALHOST/cb",
            "http://127.0.0.2/cb",
            "http://app.localhost/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn append_query_to_uri_with_empty_query_or_trailing_ampersand() {
        assert_eq!(
            append_query("https://a/cb?", &[("code", "x")]),
            "https://a/cb?code=x"
        );
        assert_eq!(
            append_query("https://a/cb?a=1&", &[("code", "x")]),
            "https://a/cb?a=1&code=x"
        );
        assert_eq!(append_query("https://a/cb", &[]), "https://a/cb");
        assert_eq!(
            append_query("https://a/cb#f", &[("code", "x")]),
            "https://a/cb?code=x#f"
        );
    }

    #[test]
    fn query_parameters_are_appended_to_existing_ones() {
        assert_eq!(
            append_query("https://a.example/auth", &[("a", "b c")]),
            "https://a.example/auth?a=b+c"
        );
        assert_eq!(
            append_query("https://a.example/auth?p=x", &[("a", "1")]),
            "https://a.example/auth?p=x&a=1"
        );
        assert_eq!(
            append_query("https://a.example/auth?", &[("a", "1")]),
            "https://a.example/auth?a=1"
        );
    }

    #[test]
    fn an_authorization_response_ends_with_state_then_iss() {
        assert_eq!(
            authorization_response(
                "https://a/cb?x=1",
                &[("code", "c")],
                Some("s t"),
                "https://i"
            ),
            "https://a/cb?x=1&code=c&state=s+t&iss=https%3A%2F%2Fi"
        );
        assert_eq!(
            authorization_response("https://a/cb", &[("error", "e")], None, "https://i"),
            "https://a/cb?error=e&iss=https%3A%2F%2Fi"
        );
    }
}
