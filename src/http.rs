//! A plain description of an HTTP response, built by the core and turned into a
//! `worker::Response` in exactly one place (`cloudflare::platform::respond`).
//!
//! Keeping responses as data lets native tests assert exact status codes,
//! headers and bodies, and keeps every error-to-response decision in the core.

use serde::Serialize;
use std::fmt;

/// A response the Worker will send. Its `Debug` shows the status, the headers (with
/// `Set-Cookie` values and the query of a `Location` redacted: cookies and redirects carry
/// sessions, codes and states) and the body's length only (it may hold tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// A line for the operator's log, written by the shell when the reply is
    /// sent (`cloudflare::platform::respond`); never sent to the caller.
    pub log: Option<String>,
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            log: None,
        }
    }

    /// Adds a line for the operator's log (see [`Reply::log`]).
    pub fn logged(mut self, line: String) -> Reply {
        self.log = Some(line);
        self
    }

    /// A JSON body. Serializing our own plain types cannot fail; should it ever,
    /// the reply degrades to a fixed 500 body rather than a panic.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply {
                status,
                headers: Vec::new(),
                body,
                log: None,
            }
            .header("Content-Type", "application/json"),
            Err(_) => Reply::new(500)
                .header("Content-Type", "application/json")
                .body(br#"{"error":"server_error"}"#.to_vec()),
        }
    }

    /// An HTML page. Pages never render inside a frame and load nothing from elsewhere.
    pub fn html(status: u16, page: String) -> Reply {
        Reply { status, headers: Vec::new(), body: page.into_bytes(), log: None }
            .header("Content-Type", "text/html; charset=utf-8")
            .header(
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'",
            )
            .header("X-Frame-Options", "DENY")
            .header("X-Content-Type-Options", "nosniff")
            .header("Referrer-Policy", "no-referrer")
            .no_store()
    }

    /// A `302 Found` to `location`.
    pub fn redirect(location: &str) -> Reply {
        Reply::new(302).header("Location", location).no_store()
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Reply {
        self.body = body;
        self
    }

    /// Marks the reply as never to be cached (token responses and errors, RFC 6749 §5.1).
    pub fn no_store(self) -> Reply {
        if self.header_value("Cache-Control").is_some() {
            return self;
        }
        self.header("Cache-Control", "no-store")
            .header("Pragma", "no-cache")
    }

    /// The first value of a header, compared case-insensitively.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &RedactedBody(&self.body))
            .field("log", &self.log)
            .finish()
    }
}

/// Headers for `Debug`: the value of a header that carries credentials or sessions
/// (`Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`) is redacted, and so is
/// the query of a `Location` (an authorization code, a state).
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

pub(crate) struct RedactedHeaders<'a>(pub &'a [(String, String)]);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (name, value) in self.0 {
            let is = |s: &str| name.eq_ignore_ascii_case(s);
            if SECRET_HEADERS.into_iter().any(is) {
                list.entry(&(name, "[redacted]"));
            } else if let Some((path, _)) = value.split_once('?').filter(|_| is("location")) {
                list.entry(&(name, format_args!("{path}?[redacted]")));
            } else {
                list.entry(&(name, value));
            }
        }
        list.finish()
    }
}

/// A body for `Debug`: its length only.
pub(crate) struct RedactedBody<'a>(pub &'a [u8]);

impl fmt::Debug for RedactedBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted, {} bytes]", self.0.len())
    }
}

/// Failures that are not about OAuth or MCP: routing, limits, configuration,
/// and faults of the platform. Each maps to one JSON body, with no internals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("no route for {path}")]
    NotFound { path: String },
    #[error("method {method} is not allowed here")]
    MethodNotAllowed {
        method: String,
        allow: &'static [&'static str],
    },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("request body is not valid UTF-8 or could not be read")]
    UnreadableBody,
    /// The deployment is misconfigured; the message names the variable and the fix
    /// and never contains a secret value.
    #[error("{0}")]
    Config(String),
    /// A service we depend on (the identity provider's discovery document) did
    /// not answer usefully. Temporary: the client is told when to try again, and
    /// the detail goes to the log only.
    #[error("the identity provider is unavailable; try again in {retry_after} seconds")]
    Unavailable { retry_after: u64 },
    /// Storage (KV, a Durable Object) failed or did not answer. Temporary: the
    /// client is told when to try again; whatever was stored stays consistent
    /// (docs/storage-schema.md, "When storage fails").
    #[error("this server's storage did not answer; try again in {retry_after} seconds")]
    StorageUnavailable { retry_after: u64 },
    /// A fault of the platform or a state that should not occur. The client
    /// sees only "internal error"; the shell logs `category` and `reason` once
    /// (`cloudflare::error_reply`), so a 500 never loses its cause.
    #[error("internal error")]
    Internal { category: Fault, reason: String },
}

/// What kind of fault an [`HttpError::Internal`] hides, for the operator's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The platform's random source failed.
    Entropy,
    /// A value of ours could not be encoded or decoded (JSON we wrote ourselves).
    Encoding,
    /// A binding, a Durable Object or a stream of the runtime failed.
    Platform,
    /// A state the code rules out was reached anyway (a bug).
    Impossible,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Entropy => "entropy",
            Fault::Encoding => "encoding",
            Fault::Platform => "platform",
            Fault::Impossible => "impossible state",
        }
    }
}

impl HttpError {
    /// An opaque 500 that keeps its cause for the log.
    pub fn internal(category: Fault, reason: impl std::fmt::Display) -> Self {
        HttpError::Internal {
            category,
            reason: reason.to_string(),
        }
    }

    /// The line the shell logs for a 500, or `None` for any other error.
    pub fn log_line(&self) -> Option<String> {
        match self {
            HttpError::Internal { category, reason } => {
                Some(format!("internal error ({}): {reason}", category.as_str()))
            }
            HttpError::Config(message) => Some(format!("configuration error: {message}")),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: String,
}

impl HttpError {
    pub fn status(&self) -> u16 {
        match self {
            HttpError::NotFound { .. } => 404,
            HttpError::MethodNotAllowed { .. } => 405,
            HttpError::PayloadTooLarge { .. } => 413,
            HttpError::UnreadableBody => 400,
            HttpError::Unavailable { .. } | HttpError::StorageUnavailable { .. } => 503,
            HttpError::Config(_) | HttpError::Internal { .. } => 500,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            HttpError::NotFound { .. } => "not_found",
            HttpError::MethodNotAllowed { .. } => "method_not_allowed",
            HttpError::PayloadTooLarge { .. } => "payload_too_large",
            HttpError::UnreadableBody => "invalid_request",
            HttpError::Config(_) => "server_misconfigured",
            HttpError::Unavailable { .. } | HttpError::StorageUnavailable { .. } => {
                "temporarily_unavailable"
            }
            HttpError::Internal { .. } => "server_error",
        }
    }

    pub fn to_reply(&self) -> Reply {
        let body = ErrorBody {
            error: self.code(),
            error_description: self.to_string(),
        };
        let mut reply = Reply::json(self.status(), &body).no_store();
        match self {
            HttpError::MethodNotAllowed { allow, .. } => {
                reply = reply.header("Allow", &allow.join(", "));
            }
            HttpError::Unavailable { retry_after }
            | HttpError::StorageUnavailable { retry_after } => {
                reply = reply.header("Retry-After", &retry_after.to_string());
            }
            _ => {}
        }
        reply
    }
}

/// Typed JSON from bytes, read as a str. Every typed value in the Worker is
/// decoded from a str (`serde_json::from_str`), so each type's decoder is in the
/// wasm once rather than once per reader type (`from_slice` is another; mixing
/// them cost about 3 KiB gzip). Untyped `Value`s are read with `from_slice`.
pub fn json_from_bytes<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_str(std::str::from_utf8(bytes).ok()?).ok()
}

/// Names of the HTTP request headers the shell reads (MCP's own are in
/// `mcp::protocol`), and the parsing of those it reads as values.
pub mod header {
    pub const ACCEPT: &str = "Accept";
    pub const AUTHORIZATION: &str = "Authorization";
    /// The client's address, as Cloudflare saw it (rate limits).
    pub const CF_CONNECTING_IP: &str = "CF-Connecting-IP";
    pub const CONTENT_LENGTH: &str = "Content-Length";
    pub const CONTENT_TYPE: &str = "Content-Type";
    pub const CACHE_CONTROL: &str = "Cache-Control";
    pub const ORIGIN: &str = "Origin";

    /// A declared `Content-Length` (RFC 9110 §8.6: decimal digits), or `None`
    /// when absent or not a number (the body is then counted as it streams).
    pub fn content_length(value: Option<&str>) -> Option<usize> {
        value.and_then(|v| v.trim().parse::<usize>().ok())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn content_length_is_a_decimal_count_or_nothing() {
            assert_eq!(content_length(Some("42")), Some(42));
            assert_eq!(content_length(Some(" 7 ")), Some(7));
            assert_eq!(content_length(Some("0")), Some(0));
            for bad in ["", "-1", "1e3", "0x10", "12 34", "99999999999999999999999"] {
                assert_eq!(content_length(Some(bad)), None, "{bad}");
            }
            assert_eq!(content_length(None), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Reply) -> serde_json::Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn not_found_is_json_404() {
        let r = HttpError::NotFound {
            path: "/nope".into(),
        }
        .to_reply();
        assert_eq!(r.status, 404);
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        assert_eq!(
            body(&r),
            serde_json::json!({"error": "not_found", "error_description": "no route for /nope"})
        );
    }

    #[test]
    fn method_not_allowed_lists_allowed_methods() {
        let r = HttpError::MethodNotAllowed {
            method: "PUT".into(),
            allow: &["GET", "HEAD"],
        }
        .to_reply();
        assert_eq!(r.status, 405);
        assert_eq!(r.header_value("Allow"), Some("GET, HEAD"));
    }

    #[test]
    fn internal_errors_say_nothing_about_internals() {
        let err = HttpError::internal(Fault::Platform, "KV binding OAUTH_KV: secret-detail");
        let r = err.to_reply();
        assert_eq!(r.status, 500);
        assert_eq!(
            body(&r),
            serde_json::json!({"error": "server_error", "error_description": "internal error"})
        );
        // The cause is kept for the operator's log, and only there.
        assert_eq!(
            err.log_line().as_deref(),
            Some("internal error (platform): KV binding OAUTH_KV: secret-detail")
        );
        assert!(!String::from_utf8_lossy(&r.body).contains("secret-detail"));
    }

    #[test]
    fn unavailable_is_503_temporarily_unavailable_with_retry_after() {
        let r = HttpError::Unavailable { retry_after: 30 }.to_reply();
        assert_eq!(r.status, 503);
        assert_eq!(r.header_value("Retry-After"), Some("30"));
        assert_eq!(r.header_value("Cache-Control"), Some("no-store"));
        assert_eq!(body(&r)["error"], "temporarily_unavailable");
    }

    #[test]
    fn html_pages_forbid_framing_and_caching() {
        let r = Reply::html(200, "<p>hi</p>".into());
        assert!(r
            .header_value("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(r.header_value("x-frame-options"), Some("DENY"));
        assert_eq!(r.header_value("cache-control"), Some("no-store"));
    }

    #[test]
    fn no_store_is_added_once() {
        let r = Reply::new(200).no_store().no_store();
        assert_eq!(
            r.headers
                .iter()
                .filter(|(k, _)| k == "Cache-Control")
                .count(),
            1
        );
    }
}
