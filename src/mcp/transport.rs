//! Streamable HTTP as plain data: the request the Worker hands over, the outcome it acts on,
//! the `Origin` check, and how JSON-RPC responses become HTTP replies (JSON or one SSE event).
//!
//! Spec sections: "Transports: Streamable HTTP" of 2025-03-26, 2025-06-18 and 2025-11-25
//! ("Security Warning" for `Origin`, "Sending Messages to the Server" for status codes and
//! `Accept`), and of 2026-07-28 ("Security & Endpoint", "Sending Messages").

use super::input::PendingCall;
use super::jsonrpc::{ClientResponse, ErrorObject, RequestId, Response};
use super::protocol::Accepts;
use super::session::Session;
use crate::http::Reply;

/// The methods the MCP endpoint answers; `GET` is refused because no server-initiated stream
/// is offered (the spec's 405 for that case).
pub const ALLOW: &str = "POST, DELETE";

/// Which URL of the MCP endpoint a request came to. Both serve Streamable HTTP identically;
/// `/sse` exists for configurations written for the old HTTP+SSE transport (2024-11-05), which
/// reached servers at `.../sse`. The old transport itself (a GET event stream plus POSTs to a
/// separate `/messages` URL) is not served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Endpoint {
    #[default]
    Mcp,
    Sse,
}

impl Endpoint {
    /// The endpoint for a request path (`/sse` or anything else: `/mcp`).
    pub fn from_path(path: &str) -> Endpoint {
        if path == crate::routes::SSE_PATH {
            Endpoint::Sse
        } else {
            Endpoint::Mcp
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Mcp => crate::routes::MCP_PATH,
            Endpoint::Sse => crate::routes::SSE_PATH,
        }
    }

    /// The RFC 8707 resource identifier clients use for this URL (`<origin>/mcp` or
    /// `<origin>/sse`; both name the same protected resource, see
    /// `oauth::metadata::same_resource`).
    pub fn resource(self, origin: &str) -> String {
        format!("{origin}{}", self.path())
    }

    /// The path-suffixed RFC 9728 §3.1 metadata URL of this URL's resource, named in the 401
    /// and 403 challenges, so a client that started at `/sse` gets a token for `<origin>/sse`.
    pub fn resource_metadata_url(self, origin: &str) -> String {
        format!(
            "{origin}{}{}",
            crate::routes::PROTECTED_RESOURCE_METADATA_PATH,
            self.path()
        )
    }
}

/// One HTTP request to the MCP endpoint, as the Worker read it. Header values are raw; this
/// module parses them.
///
/// `Default` lets callers name only what they have:
/// `McpRequest { http_method: "POST", body, ..Default::default() }`.
#[derive(Debug, Clone, Copy, Default)]
pub struct McpRequest<'a> {
    /// `POST`, `GET`, `DELETE` or anything else.
    pub http_method: &'a str,
    pub accept: Option<&'a str>,
    pub content_type: Option<&'a str>,
    /// `MCP-Protocol-Version`.
    pub protocol_version: Option<&'a str>,
    /// `Mcp-Session-Id`.
    pub session_id: Option<&'a str>,
    pub body: &'a [u8],
    /// The Protected Resource Metadata URL, named in `WWW-Authenticate` on a 403.
    pub resource_metadata_url: &'a str,
    /// `Mcp-Method` (2026-07-28 requests; checked against the body).
    pub mcp_method: Option<&'a str>,
    /// `Mcp-Name` (2026-07-28 `tools/call`; checked against the body).
    pub mcp_name: Option<&'a str>,
    /// `/mcp` or `/sse`; only the wording of a GET's 405 differs.
    pub endpoint: Endpoint,
    /// Any other request header, read on demand (2026-07-28 `Mcp-Param-*` headers of tools
    /// whose arguments declare `x-mcp-header`). `None` reads as absent.
    pub headers: Option<HeaderSource<'a>>,
}

/// Reads one request header by name (case-insensitive), as the platform holds them.
#[derive(Clone, Copy)]
pub struct HeaderSource<'a>(pub &'a dyn Fn(&str) -> Option<String>);

impl std::fmt::Debug for HeaderSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeaderSource")
    }
}

/// What the Worker must do with the session after replying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChange {
    Unchanged,
    /// Persist this session (created by `initialize`, or updated).
    Store(Session),
    /// Forget the session (the client ended it with `DELETE`).
    Delete,
}

/// Input work the Worker does besides replying (legacy sessions only; see
/// [`super::input`]).
#[derive(Debug, Clone, PartialEq)]
pub enum InputWork {
    /// A `tools/call` needs the client's answers: reply with an SSE stream, send the call's
    /// requests on it, wait for the answers at the session's object, then go on with
    /// [`super::server::continue_call`] until it is done.
    Ask(PendingCall),
    /// The client POSTed answers to requests the server sent: hand them to the session's
    /// object, where the call that asked is waiting.
    Deliver(Vec<ClientResponse>),
}

/// The reply to send and the session change to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct McpOutcome {
    pub reply: Reply,
    pub session: SessionChange,
    /// `None` for every request that neither asks for input nor answers a question.
    pub input: Option<InputWork>,
}

impl McpOutcome {
    pub(crate) fn unchanged(reply: Reply) -> McpOutcome {
        McpOutcome {
            reply,
            session: SessionChange::Unchanged,
            input: None,
        }
    }
}

/// DNS-rebinding protection: a browser page may only call the endpoint from an allowed origin.
///
/// No `Origin` means a non-browser client (no rebinding risk), so it passes. Otherwise the
/// origin must equal `own_origin` or one of `allowed` exactly (`https://a.example`, no path).
/// Loopback origins (`http://localhost:*`, `http://127.0.0.1:*`, `http://[::1]:*`) pass only
/// when this server itself runs on loopback, which is what local tools like the MCP Inspector
/// need; on a public host a loopback origin is exactly the rebinding attack.
///
/// `own_origin` comes from the `Host` the request names, which a rebinding page controls: it
/// resolves its own name (`http://evil.example`) to a local server, so its requests carry
/// `Host: evil.example` and `Origin: http://evil.example`, which agree. So a plain-`http`
/// own origin on a non-loopback host is never trusted as "our own": on Cloudflare the Worker
/// is reached over https, and a local server is reached at a loopback name.
pub fn check_origin(
    origin: Option<&str>,
    own_origin: &str,
    allowed: &[String],
) -> Result<(), Reply> {
    let Some(origin) = origin else {
        return Ok(());
    };
    let own_trusted = !own_origin.starts_with("http://") || is_loopback_origin(own_origin);
    if (origin == own_origin && own_trusted)
        || allowed.iter().any(|a| a == origin)
        || (is_loopback_origin(own_origin) && is_loopback_origin(origin))
    {
        return Ok(());
    }
    Err(error_reply(
        403,
        None,
        ErrorObject::invalid_request(format!(
            "Forbidden: origin {} may not call this MCP server (allowed: this server's own \
             origin and the configured allowed origins)",
            super::jsonrpc::truncate(origin, 100)
        )),
    ))
}

/// `http(s)://` + a loopback host + an optional numeric port, and nothing else: the origin
/// exactly as a browser serializes it, read by the browser's own parser (`url`).
fn is_loopback_origin(origin: &str) -> bool {
    let Ok(url) = crate::urls::Url::parse(origin) else {
        return false;
    };
    // Nothing after the authority: the parse gives such a URL the path `/`, so the
    // text itself must not end in one.
    matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && !origin.ends_with('/')
        && url.query().is_none()
        && url.fragment().is_none()
        && url.host().is_some_and(|h| crate::urls::is_loopback(&h))
}

/// An HTTP error whose body is one JSON-RPC error response (all 4xx replies carry JSON).
pub(crate) fn error_reply(status: u16, id: Option<RequestId>, error: ErrorObject) -> Reply {
    Reply::json(status, &Response::error(id, error)).no_store()
}

/// `405` with `Allow`, for `GET` and any other method.
pub(crate) fn method_not_allowed(method: &str, endpoint: Endpoint) -> Reply {
    let why = if method == "GET" && endpoint == Endpoint::Sse {
        "the old HTTP+SSE transport (GET /sse plus POST /messages) is not served here; this \
         server speaks Streamable HTTP at /mcp (also accepted at /sse): send JSON-RPC messages \
         with POST"
            .to_owned()
    } else if method == "GET" {
        "this server offers no server-initiated SSE stream; send JSON-RPC messages with POST"
            .to_owned()
    } else {
        format!(
            "HTTP method {} is not supported here; use POST (messages) or DELETE (end a session)",
            super::jsonrpc::truncate(method, 20)
        )
    };
    error_reply(405, None, ErrorObject::invalid_request(why)).header("Allow", ALLOW)
}

/// `202 Accepted` with no body: the POST held only notifications or responses.
pub(crate) fn accepted() -> Reply {
    Reply::new(202)
}

/// One SSE `message` event carrying one JSON-RPC message (serde_json never writes raw
/// newlines, so the JSON fits one `data:` line).
pub fn sse_event(json: &str) -> String {
    format!("event: message\ndata: {json}\n\n")
}

/// JSON-RPC responses as the body of a POST's reply: JSON, or one SSE `message` event when the
/// client accepts only `text/event-stream` and the status is a success.
pub(crate) fn messages_reply(
    status: u16,
    responses: &[Response],
    batch: bool,
    accepts: Accepts,
) -> Reply {
    let json = if batch {
        serde_json::to_vec(responses)
    } else {
        match responses.first() {
            Some(r) => serde_json::to_vec(r),
            None => return accepted(),
        }
    };
    let Ok(json) = json else {
        return error_reply(
            500,
            None,
            ErrorObject::internal("the response could not be encoded"),
        );
    };
    // Error statuses stay JSON whatever the client accepts, so every 4xx body reads the same.
    let reply = if accepts == Accepts::EventStreamOnly && status < 400 {
        let mut body = b"event: message\ndata: ".to_vec();
        // serde_json never emits raw newlines, so the JSON fits one `data:` line.
        body.extend_from_slice(&json);
        body.extend_from_slice(b"\n\n");
        Reply::new(status)
            .header("Content-Type", "text/event-stream")
            .body(body)
    } else {
        Reply::new(status)
            .header("Content-Type", "application/json")
            .body(json)
    };
    reply.no_store()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn allowed() -> Vec<String> {
        vec!["https://inspector.example".to_owned()]
    }

    #[test]
    fn requests_without_origin_pass() {
        assert!(check_origin(None, "https://mcp.example", &[]).is_ok());
    }

    #[test]
    fn own_and_configured_origins_pass_exactly() {
        assert!(check_origin(Some("https://mcp.example"), "https://mcp.example", &[]).is_ok());
        assert!(check_origin(
            Some("https://inspector.example"),
            "https://mcp.example",
            &allowed()
        )
        .is_ok());
        for bad in [
            "https://inspector.example.evil.com",
            "http://inspector.example",
            "https://mcp.example:8443",
            "null",
            "",
        ] {
            let r = check_origin(Some(bad), "https://mcp.example", &allowed()).unwrap_err();
            assert_eq!(r.status, 403, "{bad}");
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["error"]["code"], json!(-32600));
            assert_eq!(body["id"], json!(null));
        }
    }

    #[test]
    fn a_rebinding_page_whose_host_and_origin_agree_over_plain_http_is_refused() {
        // DNS rebinding: evil.example resolved to a local server; Host and Origin agree.
        let r = check_origin(Some("http://evil.example"), "http://evil.example", &[]);
        assert_eq!(r.unwrap_err().status, 403);
        let r = check_origin(
            Some("http://evil.example:8787"),
            "http://evil.example:8787",
            &[],
        );
        assert_eq!(r.unwrap_err().status, 403);
        // Configured explicitly, it is the operator's choice.
        let allowed = vec!["http://intranet.example".to_owned()];
        assert!(check_origin(
            Some("http://intranet.example"),
            "http://intranet.example",
            &allowed
        )
        .is_ok());
        // https own origins and loopback ones are still the server's own.
        assert!(check_origin(Some("http://127.0.0.1:8787"), "http://127.0.0.1:8787", &[]).is_ok());
        assert!(check_origin(Some("https://mcp.example"), "https://mcp.example", &[]).is_ok());
    }

    #[test]
    fn loopback_origins_pass_only_when_this_server_is_on_loopback() {
        let local = "http://localhost:8787";
        for origin in [
            "http://localhost:6274",
            "http://127.0.0.1:3000",
            "http://[::1]:5173",
            "http://localhost",
            // All of 127.0.0.0/8 is this machine (one loopback rule: urls::is_loopback).
            "http://127.0.0.2:80",
        ] {
            assert!(check_origin(Some(origin), local, &[]).is_ok(), "{origin}");
            assert!(
                check_origin(Some(origin), "https://mcp.example", &[]).is_err(),
                "{origin} must be refused on a public host"
            );
        }
        for bad in [
            "http://localhost.evil.com",
            "http://localhost:abc",
            "http://127.0.0.1:80/x",
            "http://user@localhost:80",
        ] {
            assert!(check_origin(Some(bad), local, &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn get_is_405_with_allow() {
        let r = method_not_allowed("GET", Endpoint::Mcp);
        assert_eq!(r.status, 405);
        assert_eq!(r.header_value("allow"), Some("POST, DELETE"));
        assert_eq!(r.header_value("content-type"), Some("application/json"));
    }

    #[test]
    fn get_at_sse_is_405_naming_mcp() {
        let r = method_not_allowed("GET", Endpoint::Sse);
        assert_eq!(r.status, 405);
        assert_eq!(r.header_value("allow"), Some("POST, DELETE"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("/mcp"), "{message}");
        assert!(message.contains("Streamable HTTP"), "{message}");
    }

    #[test]
    fn each_endpoint_names_its_own_resource_and_metadata() {
        assert_eq!(Endpoint::from_path("/sse"), Endpoint::Sse);
        assert_eq!(Endpoint::from_path("/mcp"), Endpoint::Mcp);
        assert_eq!(Endpoint::Sse.resource("https://h"), "https://h/sse");
        assert_eq!(
            Endpoint::Sse.resource_metadata_url("https://h"),
            "https://h/.well-known/oauth-protected-resource/sse"
        );
        assert_eq!(
            Endpoint::Mcp.resource_metadata_url("https://h"),
            "https://h/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn sse_replies_are_one_message_event() {
        let r = messages_reply(
            200,
            &[Response::result(RequestId::Number(1.into()), json!({}))],
            false,
            Accepts::EventStreamOnly,
        );
        assert_eq!(r.header_value("content-type"), Some("text/event-stream"));
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"
        );
    }
}
