//! The MCP endpoint: one HTTP request in, one reply and a session change out. This file owns
//! the routing of a request to its era and what both eras share (the shape of a response,
//! transport-level errors); the context a method runs in is `context`'s.
//!
//! Spec sections: "Lifecycle" and "Transports: Streamable HTTP" (2025-03-26, 2025-06-18,
//! 2025-11-25), "Versioning" and "Streamable HTTP" (2026-07-28), "Server Features: Tools",
//! "Utilities: Ping", "Utilities: Logging", "Utilities: Pagination", and the authorization
//! spec's "Scope Challenge Handling" (403 `insufficient_scope`).
//!
//! How a POST is routed, in order:
//! 1. `Accept` must allow JSON or SSE (406), `Content-Type` must be JSON (415), the body must
//!    be JSON (400, parse error).
//! 2. A single `initialize` request with `params.protocolVersion` opens a new legacy session,
//!    whatever else the request carries (a stale `Mcp-Session-Id` included): that is how a
//!    client starts over. Without `params.protocolVersion` and speaking 2026-07-28 (header or
//!    `_meta`), it is a modern request for a removed method: 404 with -32601.
//! 3. A request speaking 2026-07-28 (its `MCP-Protocol-Version` header, or, without header and
//!    session, its `params._meta`) is served statelessly; any `Mcp-Session-Id` is ignored.
//! 4. An `MCP-Protocol-Version` this server does not speak: 400 `UnsupportedProtocolVersion`.
//! 5. Everything else is legacy and needs a session: no `Mcp-Session-Id` is 400, an unknown
//!    one 404, and the version header must match the session's (absent only for 2025-03-26).
//!
//! Choices where the spec leaves room:
//! - Requests sent after `initialize` but before `notifications/initialized` are answered:
//!   many clients pipeline them, and nothing here depends on the client having finished.
//! - Tool argument errors are tool execution errors (`isError: true`), so a model can correct
//!   itself; only an unknown tool or a malformed `tools/call` is a protocol error (-32602).
//! - When a call needs a scope the token lacks, nothing in the POST is executed: the whole
//!   reply is the 403 challenge, and the client retries after stepping up.
//! - A 2026-07-28 request is checked in this order: `params._meta` (missing, not an object, or
//!   without `protocolVersion` (a string) or `clientCapabilities` (an object): 400 with -32602
//!   Invalid params, as the schema's `RequestParams` requires), then the mirrored headers
//!   (400 with -32020). `clientInfo` is optional (a SHOULD).
//! - `logging` is advertised in every revision; a legacy session logs nothing until the client
//!   calls `logging/setLevel` (the level is stored in the session), a 2026-07-28 request only
//!   when its `_meta` names a level. Progress and log notifications are written to the POST's
//!   event stream before the response (see `notes`), when the client accepts one.
//! - Resources, prompts and completions are in `features`.
//!
//! The parts:
//! - `legacy`: a POST to a session (2025-03-26 .. 2025-11-25): batches, notifications,
//!   `logging/setLevel`, and tool calls that wait for the client's input on the stream.
//! - `modern`: a stateless 2026-07-28 POST: `_meta`, the mirrored and custom headers,
//!   `server/discover`.
//! - `methods`: the methods both eras answer alike: `tools/list` (pagination),
//!   `tools/call`, and the 403 scope challenge checked before anything runs.

mod legacy;
mod methods;
mod modern;

pub use legacy::{abandon_call, continue_call, unexpected_answer, Continued};
pub use methods::PAGE_SIZE;

use super::catalog::Catalog;
use super::context::{truncated, Ctx, Era};
use super::features;
use super::jsonrpc::{parse_body, Body, ErrorObject, Message, Request, RequestId, Response};
use super::notes::Notes;
use super::protocol::ClientCaps;
use super::protocol::{self, accepts, Accepts, LogLevel};
use super::session::{ClientInfo, Session};
use super::tools::ToolEnv;
use super::transport::{
    error_reply, messages_reply, method_not_allowed, McpOutcome, McpRequest, SessionChange,
};
use crate::http::Reply;
use crate::user::UserContext;
use serde_json::{json, Value};

const SERVER_NAME: &str = env!("CARGO_PKG_NAME");
const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");
const INSTRUCTIONS: &str = "Tools here act as the signed-in user; call whoami to see which \
                            account and OAuth scopes this connection uses.";

/// Answers one HTTP request to the MCP endpoint. See the module docs for the routing rules.
///
/// The Worker authenticates the caller first, loads `existing` for (user, `Mcp-Session-Id`)
/// when that header is present, and applies the returned [`SessionChange`].
pub async fn handle(
    req: McpRequest<'_>,
    existing: Option<Session>,
    new_session_id: &str,
    user: &UserContext,
    catalog: &Catalog,
    env: &ToolEnv<'_>,
) -> McpOutcome {
    match req.http_method {
        "POST" => post(req, existing, new_session_id, user, catalog, env).await,
        "DELETE" => delete(&req, existing),
        other => McpOutcome::unchanged(method_not_allowed(other, req.endpoint)),
    }
}

/// Ends a legacy session (2025-03-26 "Session Management").
fn delete(req: &McpRequest<'_>, existing: Option<Session>) -> McpOutcome {
    let Some(id) = req.session_id else {
        return McpOutcome::unchanged(error_reply(
            400,
            None,
            ErrorObject::invalid_request(
                "DELETE needs the Mcp-Session-Id header of the session to end",
            ),
        ));
    };
    match existing {
        Some(session) if session.id == id => McpOutcome {
            reply: Reply::new(204).no_store(),
            session: SessionChange::Delete,
            input: None,
        },
        _ => McpOutcome::unchanged(session_not_found(None)),
    }
}

async fn post(
    req: McpRequest<'_>,
    existing: Option<Session>,
    new_session_id: &str,
    user: &UserContext,
    catalog: &Catalog,
    env: &ToolEnv<'_>,
) -> McpOutcome {
    let accepts = accepts(req.accept);
    if accepts == Accepts::Neither {
        return McpOutcome::unchanged(error_reply(
            406,
            None,
            ErrorObject::invalid_request(
                "Not Acceptable: the Accept header must allow application/json or text/event-stream",
            ),
        ));
    }
    if !protocol::is_json_content_type(req.content_type) {
        return McpOutcome::unchanged(error_reply(
            415,
            None,
            ErrorObject::invalid_request(
                "Unsupported Media Type: send the JSON-RPC message with Content-Type: application/json",
            ),
        ));
    }
    let body = match parse_body(req.body) {
        Ok(body) => body,
        Err(error) => return McpOutcome::unchanged(error_reply(400, None, error)),
    };

    let header_version = req
        .protocol_version
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let modern = match header_version {
        Some(v) => protocol::is_modern(v),
        None => req.session_id.is_none() && meta_version(&body).is_some(),
    };

    if let Body::Single(Message::Request(r)) = &body {
        // The legacy handshake carries `params.protocolVersion`; an `initialize` without it
        // that speaks 2026-07-28 is a request for a method that version removed (404 below).
        if r.method == "initialize" && (!modern || r.params.contains_key("protocolVersion")) {
            return initialize(r, new_session_id, accepts);
        }
    }
    let ctx = |era| Ctx {
        user,
        catalog,
        env,
        era,
        caps: ClientCaps::default(),
    };
    if modern {
        return modern::modern_post(&req, header_version, body, accepts, &ctx(Era::Modern)).await;
    }
    if let Some(v) = header_version.filter(|v| protocol::supported(v).is_none()) {
        return McpOutcome::unchanged(unsupported_version(first_id(&body), v));
    }

    let Some(session_id) = req.session_id else {
        let why = if batch_has_initialize(&body) {
            "initialize must be sent on its own, not inside a batch"
        } else {
            "Bad Request: the Mcp-Session-Id header is missing; send initialize first and \
             repeat the session id it returns on every later request"
        };
        return McpOutcome::unchanged(error_reply(
            400,
            first_id(&body),
            ErrorObject::invalid_request(why),
        ));
    };
    let Some(session) = existing.filter(|s| s.id == session_id) else {
        return McpOutcome::unchanged(session_not_found(first_id(&body)));
    };
    match header_version {
        Some(v) if v != session.protocol_version => {
            return McpOutcome::unchanged(error_reply(
                400,
                first_id(&body),
                ErrorObject::invalid_request(format!(
                    "Bad Request: MCP-Protocol-Version {v} does not match the version this \
                     session negotiated ({})",
                    session.protocol_version
                )),
            ))
        }
        None if session.protocol_version != protocol::VERSION_2025_03_26 => {
            return McpOutcome::unchanged(error_reply(
                400,
                first_id(&body),
                ErrorObject::invalid_request(format!(
                    "Bad Request: the MCP-Protocol-Version header is missing; this session \
                     negotiated {}",
                    session.protocol_version
                )),
            ))
        }
        _ => {}
    }
    let ctx = Ctx {
        caps: session.client_caps,
        ..ctx(Era::Legacy)
    };
    legacy::legacy_post(&req, body, session, accepts, &ctx).await
}

/// `initialize`: negotiates a version and creates the session (2025-03-26 "Lifecycle").
fn initialize(r: &Request, new_session_id: &str, accepts: Accepts) -> McpOutcome {
    let Some(requested) = r.params.get("protocolVersion").and_then(Value::as_str) else {
        return McpOutcome::unchanged(error_reply(
            400,
            Some(r.id.clone()),
            ErrorObject::invalid_params("initialize needs params.protocolVersion (a string)"),
        ));
    };
    let version = protocol::negotiate(requested);
    let mut session = Session::create(
        new_session_id,
        version,
        ClientInfo::from_value(r.params.get("clientInfo")),
    );
    session.client_caps = ClientCaps::from_value(r.params.get("capabilities"));
    if version == protocol::VERSION_2025_03_26 {
        // Elicitation came with 2025-06-18; a 2025-03-26 session is never sent one.
        session.client_caps.elicitation_form = false;
        session.client_caps.elicitation_url = false;
    }
    let result = json!({
        "protocolVersion": version,
        "capabilities": features::legacy_capabilities(),
        "serverInfo": server_info(),
        "instructions": INSTRUCTIONS,
    });
    let reply = messages_reply(
        200,
        &[Response::result(r.id.clone(), result)],
        false,
        accepts,
    )
    .header(protocol::SESSION_ID_HEADER, new_session_id);
    McpOutcome {
        reply,
        session: SessionChange::Store(session),
        input: None,
    }
}

/// Whether the client accepts an event stream as the answer to its POST.
fn event_stream_ok(req: &McpRequest<'_>) -> bool {
    accepts(req.accept) == Accepts::EventStreamOnly
        || req
            .accept
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/event-stream"))
}

/// The notification sink of one request: its `_meta.progressToken`, and the log level.
fn request_notes(r: &Request, level: Option<LogLevel>) -> Notes {
    let token = r
        .params
        .get("_meta")
        .and_then(|m| m.get("progressToken"))
        .cloned();
    Notes::new(token, level)
}

/// A response, with the result shaped for the era.
fn respond(id: RequestId, outcome: Result<Value, ErrorObject>, era: Era) -> Response {
    match outcome {
        Ok(mut result) => {
            if era == Era::Modern {
                if let Value::Object(map) = &mut result {
                    // An `InputRequiredResult` already names its type.
                    map.entry("resultType").or_insert_with(|| json!("complete"));
                    map.insert(
                        "_meta".into(),
                        json!({ protocol::META_SERVER_INFO: server_info() }),
                    );
                }
            }
            Response::result(id, result)
        }
        Err(error) => Response::error(Some(id), error),
    }
}

fn server_info() -> Value {
    json!({"name": SERVER_NAME, "title": "MCP OAuth Worker", "version": SERVER_VERSION})
}

fn session_not_found(id: Option<RequestId>) -> Reply {
    error_reply(
        404,
        id,
        ErrorObject::invalid_request("Not Found: session not found or ended; initialize again"),
    )
}

fn unsupported_version(id: Option<RequestId>, requested: &str) -> Reply {
    error_reply(
        400,
        id,
        ErrorObject::new(
            protocol::UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
        )
        .with_data(json!({
            "supported": protocol::SUPPORTED_VERSIONS,
            "requested": truncated(requested),
        })),
    )
}

/// The id of a lone request, so a transport-level error can still name it.
fn first_id(body: &Body) -> Option<RequestId> {
    match body {
        Body::Single(Message::Request(r)) => Some(r.id.clone()),
        _ => None,
    }
}

fn batch_has_initialize(body: &Body) -> bool {
    matches!(body, Body::Batch(ms) if ms.iter().any(|m| matches!(m, Message::Request(r) if r.method == "initialize")))
}

/// The `_meta` protocol version of a lone request or notification, if it has one.
fn meta_version(body: &Body) -> Option<&str> {
    let params = match body {
        Body::Single(Message::Request(r)) => &r.params,
        Body::Single(Message::Notification(n)) => &n.params,
        _ => return None,
    };
    params
        .get("_meta")?
        .get(protocol::META_PROTOCOL_VERSION)?
        .as_str()
}
