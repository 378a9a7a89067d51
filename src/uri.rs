//! The request URL as the platform hands it to the Worker, split into what the
//! router needs. workerd has already parsed and normalised it the WHATWG way, so
//! this only splits; every URL that comes from a client or an operator is read
//! with the `url` crate instead (`crate::urls`).

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
