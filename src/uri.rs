//! A strict RFC 3986 reader for absolute URIs (§3: `scheme ":" ["//" authority]
//! path ["?" query] ["#" fragment]`), ASCII only.
//!
//! OAuth compares redirect URIs as strings (RFC 6749 §3.1.2.3, OAuth 2.1 §7.5.1),
//! so this reader splits without normalizing: no dot-segment resolution, no case
//! folding of paths, no IPv4 shorthand (`127.1`). That is what the protocol needs,
//! and it keeps a full WHATWG URL parser and its IDNA code (about 12 KiB of the
//! gzipped bundle) out of the Worker.

/// An absolute URI, split into its RFC 3986 components (borrowed, as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri<'a> {
    pub scheme: &'a str,
    pub authority: Option<Authority<'a>>,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub fragment: Option<&'a str>,
}

/// RFC 3986 §3.2: `[userinfo "@"] host [":" port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority<'a> {
    pub userinfo: Option<&'a str>,
    /// As written; an IPv6 literal keeps its brackets (`[::1]`).
    pub host: &'a str,
    pub port: Option<u16>,
}

/// RFC 3986 §2: characters that may appear in a URI (unreserved, reserved, `%`).
pub fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// Reads an absolute URI. `None` when `raw` is not one: no scheme, characters
/// outside RFC 3986, or a malformed authority (bad port, unbalanced brackets).
pub fn parse(raw: &str) -> Option<Uri<'_>> {
    if raw.is_empty() || !raw.chars().all(is_uri_char) {
        return None;
    }
    let (scheme, rest) = raw.split_once(':')?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return None;
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (rest, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            (Some(parse_authority(&after[..end])?), &after[end..])
        }
        None => (None, rest),
    };
    Some(Uri {
        scheme,
        authority,
        path,
        query,
        fragment,
    })
}

fn parse_authority(raw: &str) -> Option<Authority<'_>> {
    let (userinfo, host_port) = match raw.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, raw),
    };
    let (host, port) = if host_port.starts_with('[') {
        let close = host_port.find(']')?;
        let host = &host_port[..=close];
        let after = &host_port[close + 1..];
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        if !host[1..close]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return None;
        }
        (host, port)
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.contains(['[', ']', '@', ':']) && !host.starts_with('[') {
        return None;
    }
    let port = match port {
        None | Some("") => None,
        Some(p) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    Some(Authority {
        userinfo,
        host,
        port,
    })
}

impl Uri<'_> {
    /// The scheme in lowercase (schemes are case-insensitive, RFC 3986 §3.1).
    pub fn scheme_lower(&self) -> String {
        self.scheme.to_ascii_lowercase()
    }

    /// The host in lowercase, or `None` without an authority or with an empty host.
    pub fn host_lower(&self) -> Option<String> {
        self.authority
            .as_ref()
            .map(|a| a.host.to_ascii_lowercase())
            .filter(|h| !h.is_empty())
    }

    /// `scheme://host[:port]` for `http` and `https` URIs (RFC 6454 serialization:
    /// lowercase, default port left out); `None` for other schemes or no host.
    pub fn origin(&self) -> Option<String> {
        let scheme = self.scheme_lower();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let host = self.host_lower()?;
        match self.authority.as_ref()?.port {
            Some(port) if port != default_port => Some(format!("{scheme}://{host}:{port}")),
            _ => Some(format!("{scheme}://{host}")),
        }
    }
}

/// The parts of a request URL the router needs. The platform hands the Worker
/// URLs that its own WHATWG parser already normalized, which may keep characters
/// RFC 3986 does not allow (`{`, `|`, `^` in a query); so this splits without
/// judging characters. `None` only for a URL without `scheme://host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUrl {
    /// `scheme://host[:port]`, lowercase, default port left out.
    pub origin: String,
    /// Host without port (IPv6 with brackets).
    pub host: String,
    pub secure: bool,
    /// Path without query (at least `/`).
    pub path: String,
    /// Query without `?` (empty when absent).
    pub query: String,
}

pub fn split_request_url(url: &str) -> Option<RequestUrl> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let rest = rest.split('#').next().unwrap_or(rest);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(end);
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_ascii_lowercase();
    let (host, port) = match host_port.rfind(':') {
        Some(i) if !host_port[i..].contains(']') => (
            host_port[..i].to_owned(),
            Some(host_port[i + 1..].to_owned()),
        ),
        _ => (host_port.clone(), None),
    };
    if host.is_empty() {
        return None;
    }
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => "",
    };
    let origin = match port.as_deref() {
        Some(p) if !p.is_empty() && p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    };
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path_query, ""),
    };
    Some(RequestUrl {
        origin,
        host,
        secure: scheme == "https",
        path: if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        },
        query: query.to_owned(),
    })
}

/// Whether a host (as written, brackets included for IPv6) names this machine:
/// `localhost`, an IPv4 address in 127.0.0.0/8 written as a dotted quad, or `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host == "[::1]" || host == "[0:0:0:0:0:0:0:1]" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && o.parse::<u8>().is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_five_components_as_written() {
        let u = parse("https://User@Example.COM:8443/a/./b?x=1&y#frag").unwrap();
        assert_eq!(u.scheme, "https");
        let a = u.authority.clone().unwrap();
        assert_eq!(
            (a.userinfo, a.host, a.port),
            (Some("User"), "Example.COM", Some(8443))
        );
        assert_eq!(u.path, "/a/./b");
        assert_eq!(u.query, Some("x=1&y"));
        assert_eq!(u.fragment, Some("frag"));
        assert_eq!(u.origin().as_deref(), Some("https://example.com:8443"));
    }

    #[test]
    fn reads_private_use_schemes_and_opaque_uris() {
        let u = parse("cursor://anysphere.cursor-mcp/oauth/callback").unwrap();
        assert_eq!(u.authority.unwrap().host, "anysphere.cursor-mcp");
        let u = parse("com.example.app:/cb").unwrap();
        assert!(u.authority.is_none());
        assert_eq!(u.path, "/cb");
        let u = parse("urn:ietf:wg:oauth:2.0:oob").unwrap();
        assert_eq!(u.path, "ietf:wg:oauth:2.0:oob");
        assert!(parse("mailto:a@b").unwrap().origin().is_none());
    }

    #[test]
    fn ipv6_literals_and_ports() {
        let u = parse("http://[::1]:33418/").unwrap();
        let a = u.authority.clone().unwrap();
        assert_eq!((a.host, a.port), ("[::1]", Some(33418)));
        assert_eq!(u.origin().as_deref(), Some("http://[::1]:33418"));
        assert_eq!(
            parse("https://h:443/").unwrap().origin().as_deref(),
            Some("https://h")
        );
        assert_eq!(parse("http://h:/").unwrap().authority.unwrap().port, None);
    }

    #[test]
    fn refuses_what_is_not_an_absolute_uri() {
        for bad in [
            "",
            "/relative",
            "no-scheme",
            "1http://x",
            "https://ex ample.com/",
            "https://é.com/",
            "https://h:99999/",
            "https://h:8a/",
            "http://[::1/",
            "http://[zz]/",
            "https://a:b:c/",
            "https://h/\\",
            "https://h/\n",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn request_urls_split_into_what_the_router_needs() {
        let r = split_request_url("http://127.0.0.1:8787/authorize?a={b}|c#x").unwrap();
        assert_eq!(r.origin, "http://127.0.0.1:8787");
        assert_eq!(r.host, "127.0.0.1");
        assert!(!r.secure);
        assert_eq!(
            (r.path.as_str(), r.query.as_str()),
            ("/authorize", "a={b}|c")
        );
        let r = split_request_url("https://MCP.example.com:443").unwrap();
        assert_eq!(
            (r.origin.as_str(), r.path.as_str(), r.secure),
            ("https://mcp.example.com", "/", true)
        );
        let r = split_request_url("http://[::1]:9/mcp").unwrap();
        assert_eq!(
            (r.origin.as_str(), r.host.as_str()),
            ("http://[::1]:9", "[::1]")
        );
        assert!(split_request_url("/relative").is_none());
        assert!(split_request_url("http:///nohost").is_none());
    }

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "127.1",
            "127.0.0.1.nip.io",
            "128.0.0.1",
            "127.0.0.256",
            "example.com",
            "[::2]",
            "localhost.evil",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
