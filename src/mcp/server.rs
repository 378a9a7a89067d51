//! The MCP endpoint: one HTTP request in, one reply and a session change out.
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

use super::catalog::Catalog;
use super::features;
use super::input::PendingCall;
use super::input::{self, ClientCaps, Input, RoundEnd, StateBinding};
use super::jsonrpc::{
    parse_body, Body, ErrorObject, Message, Notification, Request, RequestId, Response,
    INVALID_REQUEST, METHOD_NOT_FOUND,
};
use super::notes::Notes;
use super::protocol::{self, accepts, Accepts};
use super::session::{ClientInfo, LogLevel, Session};
use super::tools::{schema, ToolCall, ToolEnv, ToolOutput};
use super::transport::{
    accepted, error_reply, messages_reply, method_not_allowed, InputWork, McpOutcome, McpRequest,
    SessionChange,
};
use crate::http::Reply;
use crate::user::UserContext;
use base64::Engine;
use serde_json::{json, Map, Value};

/// Tools per `tools/list` page.
pub const PAGE_SIZE: usize = 50;
/// How long a client may reuse a 2026-07-28 list or discovery result, in milliseconds.
const CACHE_TTL_MS: u64 = 300_000;
const SERVER_NAME: &str = env!("CARGO_PKG_NAME");
const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");
const INSTRUCTIONS: &str = "Tools here act as the signed-in user; call whoami to see which \
                            account and OAuth scopes this connection uses.";

/// Which protocol generation a request speaks; it changes the shape of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    /// 2025-03-26 to 2025-11-25: `initialize` and a session.
    Legacy,
    /// 2026-07-28: stateless; results carry `resultType` and `_meta`.
    Modern,
}

/// Everything a method needs besides its params.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub user: &'a UserContext,
    pub catalog: &'a Catalog,
    pub env: &'a ToolEnv<'a>,
    pub era: Era,
    /// What the client can answer: the session's `initialize` capabilities (legacy) or the
    /// request's `_meta` ones (2026-07-28).
    pub caps: ClientCaps,
}

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
        return modern_post(&req, header_version, body, accepts, &ctx(Era::Modern)).await;
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
    legacy_post(&req, body, session, accepts, &ctx).await
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

async fn legacy_post(
    req: &McpRequest<'_>,
    body: Body,
    mut session: Session,
    accepts: Accepts,
    ctx: &Ctx<'_>,
) -> McpOutcome {
    let (messages, batch) = match body {
        Body::Single(m) => (vec![m], false),
        Body::Batch(ms) => (ms, true),
    };
    if batch && session.protocol_version != protocol::VERSION_2025_03_26 {
        return McpOutcome::unchanged(error_reply(
            400,
            None,
            ErrorObject::invalid_request(format!(
                "JSON-RPC batches are only accepted in protocol version 2025-03-26; this \
                 session uses {}: send one message per POST",
                session.protocol_version
            )),
        ));
    }
    let requests = messages.iter().filter_map(|m| match m {
        Message::Request(r) => Some(r),
        _ => None,
    });
    if let Some(reply) = scope_challenge(req, requests, batch, ctx) {
        return McpOutcome::unchanged(reply);
    }

    let before = session.clone();
    let mut responses = Vec::new();
    let mut notes = Vec::new();
    let mut single_invalid = false;
    // A lone call may ask the client for input on its stream (the client must accept SSE).
    let streamable = !batch && accepts_event_stream(req.accept);
    let mut ask = None;
    let mut deliveries = Vec::new();
    for message in messages {
        match message {
            Message::Request(r) if r.method == "tools/call" && streamable => {
                let n = request_notes(&r, session.log_level);
                match legacy_call(&r, ctx, &n).await {
                    // A round that asks is run again from the start once answered, so its
                    // notes are dropped; the round that finishes sends them all.
                    Ok(LegacyCall::Ask(pending)) => ask = Some(pending),
                    Ok(LegacyCall::Done(result)) => {
                        notes.extend(n.take());
                        responses.push(respond(r.id, Ok(result), ctx.era))
                    }
                    Err(error) => responses.push(respond(r.id, Err(error), ctx.era)),
                }
            }
            Message::Request(r) => {
                let outcome = match r.method.as_str() {
                    // Only reachable inside a batch; a lone initialize was routed earlier.
                    "initialize" => Err(ErrorObject::invalid_request(
                        "initialize must be sent on its own, not inside a batch",
                    )),
                    "ping" => Ok(json!({})),
                    "logging/setLevel" => set_level(&r.params, &mut session),
                    "resources/subscribe" | "resources/unsubscribe" => {
                        features::subscription(&r.method, &r.params, &mut session, ctx)
                    }
                    _ => {
                        let n = request_notes(&r, session.log_level);
                        let outcome = dispatch(&r, ctx, &n).await;
                        notes.extend(n.take());
                        outcome
                    }
                };
                responses.push(respond(r.id, outcome, ctx.era));
            }
            Message::Notification(n) => notify(&n, &mut session),
            Message::Response(answer) => deliveries.push(answer),
            Message::Invalid(response) => {
                single_invalid = !batch;
                responses.push(response);
            }
        }
    }
    let change = if session != before {
        SessionChange::Store(session)
    } else {
        SessionChange::Unchanged
    };
    if let Some(pending) = ask {
        // The body is the stream the Worker writes: the requests, then the call's response.
        let reply = Reply::new(200)
            .header("Content-Type", "text/event-stream")
            .no_store();
        return McpOutcome {
            reply,
            session: change,
            input: Some(InputWork::Ask(pending)),
        };
    }
    let reply = match responses.as_slice() {
        [] => accepted(),
        [invalid] if single_invalid => Reply::json(400, invalid).no_store(),
        all if !notes.is_empty() && event_stream_ok(req) => {
            features::stream_reply(&notes, all, batch)
        }
        all => messages_reply(200, all, batch, accepts),
    };
    McpOutcome {
        reply,
        session: change,
        input: (!deliveries.is_empty()).then_some(InputWork::Deliver(deliveries)),
    }
}

/// Whether the client accepts an SSE reply (the spec has clients list both types on POST;
/// an absent `Accept` is "anything").
fn accepts_event_stream(accept: Option<&str>) -> bool {
    accept.is_none_or(|a| {
        a.split(',').any(|range| {
            let media = range.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("text/event-stream")
                || media == "*/*"
                || media.eq_ignore_ascii_case("text/*")
        })
    })
}

/// A legacy `tools/call` that may ask the client for input.
enum LegacyCall {
    Done(Value),
    Ask(PendingCall),
}

async fn legacy_call(r: &Request, ctx: &Ctx<'_>, notes: &Notes) -> Result<LegacyCall, ErrorObject> {
    let (tool, arguments) = tool_and_arguments(&r.params, ctx)?;
    let empty = Value::Object(Map::new());
    let arguments = arguments.unwrap_or(&empty);
    if let Err(why) = schema::validate(&tool.input_schema, arguments) {
        let output = ToolOutput::error(format!("Invalid arguments for {}: {why}", tool.name));
        return Ok(LegacyCall::Done(output.to_result()));
    }
    let (output, end) = run_tool(tool, arguments, Map::new(), ctx, notes).await;
    Ok(match end {
        RoundEnd::Ask { requests, answers } => LegacyCall::Ask(PendingCall {
            request_id: r.id.clone(),
            tool: tool.name.clone(),
            arguments: arguments.clone(),
            caps: ctx.caps,
            progress_token: notes.progress_token(),
            log_level: notes.log_level(),
            answers,
            requests,
            round: 1,
        }),
        end => LegacyCall::Done(legacy_round_end(&tool.name, output, end).to_result()),
    })
}

/// The response that ends a waiting legacy call the Worker gives up on (no answer in time,
/// or the session's bound of waiting requests reached): a tool error saying why.
pub fn abandon_call(pending: &PendingCall, why: &str) -> Response {
    let output = ToolOutput::error(format!("The tool {} could not finish: {why}", pending.tool));
    respond(
        pending.request_id.clone(),
        Ok(output.to_result()),
        Era::Legacy,
    )
}

/// The reply to a POST that answers a request this session is not waiting for (never asked,
/// already answered, or given up on): 400, as for any input the server cannot accept.
pub fn unexpected_answer(id: &RequestId) -> Reply {
    let shown = match id {
        RequestId::String(s) => truncated(s),
        RequestId::Number(n) => n.to_string(),
    };
    error_reply(
        400,
        None,
        ErrorObject::invalid_request(format!(
            "Bad Request: no request with id {shown} is waiting for an answer in this session"
        )),
    )
}

/// What became of a waiting legacy call once its answers arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Continued {
    /// It asks again: send these requests and wait once more.
    Ask(PendingCall),
    /// It is done: the progress and log notifications of its last run, then the response to
    /// the client's `tools/call`, the last event of the stream.
    Done {
        notes: Vec<Value>,
        response: Response,
    },
}

/// Runs a waiting legacy call again with the client's answers (`(key, outcome)` pairs, keyed
/// as the handler asked). A client that answered with an error ends the call with a tool
/// error; a call still asking after [`input::MAX_ROUNDS`] rounds is ended the same way.
pub async fn continue_call(
    pending: PendingCall,
    answered: Vec<(String, Result<Value, Value>)>,
    user: &UserContext,
    catalog: &Catalog,
    env: &ToolEnv<'_>,
) -> Continued {
    let notes = Notes::new(pending.progress_token.clone(), pending.log_level);
    let done = |output: ToolOutput| Continued::Done {
        notes: notes.take(),
        response: respond(
            pending.request_id.clone(),
            Ok(output.to_result()),
            Era::Legacy,
        ),
    };
    let mut answers = pending.answers.clone();
    for (key, outcome) in answered {
        match outcome {
            Ok(value) => {
                answers.insert(key, value);
            }
            Err(error) => {
                let method = pending
                    .requests
                    .get(&key)
                    .map_or("", |r| r["method"].as_str().unwrap_or_default());
                let message = error["message"].as_str().unwrap_or("no message");
                return done(ToolOutput::error(format!(
                    "The client refused the {method} request of {}: {}",
                    pending.tool,
                    truncated(message)
                )));
            }
        }
    }
    let Some(tool) = catalog.tools.get(&pending.tool) else {
        return done(ToolOutput::error(format!("Unknown tool: {}", pending.tool)));
    };
    let ctx = Ctx {
        user,
        catalog,
        env,
        era: Era::Legacy,
        caps: pending.caps,
    };
    let (output, end) = run_tool(tool, &pending.arguments, answers, &ctx, &notes).await;
    match end {
        RoundEnd::Ask { requests, answers } if pending.round < input::MAX_ROUNDS => {
            Continued::Ask(PendingCall {
                answers,
                requests,
                round: pending.round + 1,
                ..pending
            })
        }
        RoundEnd::Ask { .. } => done(ToolOutput::error(format!(
            "The tool {} was still asking for input after {} rounds",
            pending.tool,
            input::MAX_ROUNDS
        ))),
        end => done(legacy_round_end(&pending.tool, output, end)),
    }
}

/// A 2026-07-28 request: one message, headers mirrored from the body, no session.
async fn modern_post(
    req: &McpRequest<'_>,
    header_version: Option<&str>,
    body: Body,
    accepts: Accepts,
    ctx: &Ctx<'_>,
) -> McpOutcome {
    let message = match body {
        Body::Batch(_) => {
            return McpOutcome::unchanged(error_reply(
                400,
                None,
                ErrorObject::invalid_request(
                    "protocol version 2026-07-28 takes one JSON-RPC message per POST; batches \
                     are not supported",
                ),
            ))
        }
        Body::Single(m) => m,
    };
    let r = match message {
        Message::Request(r) => r,
        // No header rules are defined for notifications; there is nothing to cancel either,
        // since every call finishes within its own POST.
        Message::Notification(_) | Message::Response(_) => return McpOutcome::unchanged(accepted()),
        Message::Invalid(response) => {
            return McpOutcome::unchanged(Reply::json(400, &response).no_store())
        }
    };
    if let Err(error) = check_request_meta(&r) {
        return McpOutcome::unchanged(error_reply(400, Some(r.id), error));
    }
    if let Err(error) = check_mirrored_headers(req, header_version, &r) {
        return McpOutcome::unchanged(error_reply(400, Some(r.id), error));
    }
    if let Err(error) = check_param_headers(req, &r, ctx) {
        return McpOutcome::unchanged(error_reply(400, Some(r.id), error));
    }
    if let Some(reply) = scope_challenge(req, std::iter::once(&r), false, ctx) {
        return McpOutcome::unchanged(reply);
    }
    let notes = request_notes(&r, modern_log_level(&r));
    let ctx = &Ctx {
        caps: ClientCaps::from_value(
            r.params
                .get("_meta")
                .and_then(|m| m.get(protocol::META_CLIENT_CAPABILITIES)),
        ),
        ..*ctx
    };
    let outcome = match r.method.as_str() {
        "server/discover" => Ok(discover()),
        _ => dispatch(&r, ctx, &notes).await,
    };
    let notes = notes.take();
    let response = respond(r.id, outcome, ctx.era);
    // 2026-07-28: "If the server does not implement the requested RPC method, it MUST respond
    // with 404 Not Found" and the -32601 body that tells it apart from a missing endpoint.
    let status = match response.error_code() {
        Some(METHOD_NOT_FOUND) => 404,
        // MissingRequiredClientCapabilityError: "the response status code MUST be 400".
        Some(input::MISSING_REQUIRED_CLIENT_CAPABILITY) => 400,
        _ => 200,
    };
    if status == 200 && !notes.is_empty() && event_stream_ok(req) {
        return McpOutcome::unchanged(features::stream_reply(&notes, &[response], false));
    }
    McpOutcome::unchanged(messages_reply(status, &[response], false, accepts))
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

/// 2026-07-28: the level is the request's `_meta["io.modelcontextprotocol/logLevel"]`; no
/// level, no log.
fn modern_log_level(r: &Request) -> Option<LogLevel> {
    r.params
        .get("_meta")?
        .get(protocol::META_LOG_LEVEL)?
        .as_str()
        .and_then(LogLevel::parse)
}

/// 2026-07-28 `RequestParams`: every request carries `_meta` with the protocol version (a
/// string) and the client's capabilities (an object). Anything else is Invalid params.
fn check_request_meta(r: &Request) -> Result<(), ErrorObject> {
    let Some(meta) = r.params.get("_meta") else {
        return Err(ErrorObject::invalid_params(format!(
            "protocol version 2026-07-28 requires params._meta with \"{}\" and \"{}\"",
            protocol::META_PROTOCOL_VERSION,
            protocol::META_CLIENT_CAPABILITIES
        )));
    };
    let Some(meta) = meta.as_object() else {
        return Err(ErrorObject::invalid_params(
            "params._meta must be an object",
        ));
    };
    if !meta
        .get(protocol::META_PROTOCOL_VERSION)
        .is_some_and(Value::is_string)
    {
        return Err(ErrorObject::invalid_params(format!(
            "params._meta[\"{}\"] is required (a string)",
            protocol::META_PROTOCOL_VERSION
        )));
    }
    if !meta
        .get(protocol::META_CLIENT_CAPABILITIES)
        .is_some_and(Value::is_object)
    {
        return Err(ErrorObject::invalid_params(format!(
            "params._meta[\"{}\"] is required (an object; {{}} when the client declares none)",
            protocol::META_CLIENT_CAPABILITIES
        )));
    }
    Ok(())
}

/// 2026-07-28 "Server Validation": the version, method and name headers must be present and
/// equal what the body says, so intermediaries routing on headers see the truth.
fn check_mirrored_headers(
    req: &McpRequest<'_>,
    header_version: Option<&str>,
    r: &Request,
) -> Result<(), ErrorObject> {
    let mismatch = |why: String| {
        ErrorObject::new(protocol::HEADER_MISMATCH, format!("Header mismatch: {why}"))
    };
    let Some(version) = header_version else {
        return Err(mismatch(
            "the MCP-Protocol-Version header is required and must equal \
             params._meta[\"io.modelcontextprotocol/protocolVersion\"]"
                .into(),
        ));
    };
    match r
        .params
        .get("_meta")
        .and_then(|m| m.get(protocol::META_PROTOCOL_VERSION))
        .and_then(Value::as_str)
    {
        Some(v) if v == version => {}
        Some(v) => {
            return Err(mismatch(format!(
                "MCP-Protocol-Version header value '{version}' does not match body value '{}'",
                truncated(v)
            )))
        }
        None => {
            return Err(mismatch(format!(
                "MCP-Protocol-Version is '{version}' but \
                 params._meta[\"io.modelcontextprotocol/protocolVersion\"] is missing"
            )))
        }
    }
    match req.mcp_method {
        Some(m) if m == r.method => {}
        Some(m) => {
            return Err(mismatch(format!(
                "Mcp-Method header value '{}' does not match body value '{}'",
                truncated(m),
                truncated(&r.method)
            )))
        }
        None => return Err(mismatch("the Mcp-Method header is required".into())),
    }
    if r.method == "tools/call" {
        let body_name = r.params.get("name").and_then(Value::as_str);
        match req.mcp_name.map(protocol::decode_header_value) {
            None => {
                return Err(mismatch(
                    "the Mcp-Name header is required for tools/call".into(),
                ))
            }
            Some(None) => {
                return Err(mismatch(
                    "the Mcp-Name header is not valid =?base64?...?= encoding".into(),
                ))
            }
            Some(Some(name)) if Some(name.as_str()) != body_name => {
                return Err(mismatch(format!(
                    "Mcp-Name header value '{}' does not match body value '{}'",
                    truncated(&name),
                    truncated(body_name.unwrap_or(""))
                )))
            }
            Some(Some(_)) => {}
        }
    }
    Ok(())
}

/// 2026-07-28 "Custom Headers" (SEP-2243): an argument whose schema property declares
/// `"x-mcp-header": "Name"` travels in the `Mcp-Param-Name` header too, and the header must
/// be present and equal the argument (a `=?base64?...?=` value is strict, padded base64 of
/// UTF-8; anything else is literal). A mismatch, a missing header or bad base64: 400 with
/// -32020. Only tools that declare such a property pay for this check.
fn check_param_headers(
    req: &McpRequest<'_>,
    r: &Request,
    ctx: &Ctx<'_>,
) -> Result<(), ErrorObject> {
    if r.method != "tools/call" {
        return Ok(());
    }
    let Some(tool) = r
        .params
        .get("name")
        .and_then(Value::as_str)
        .and_then(|n| ctx.catalog.tools.get(n))
    else {
        return Ok(());
    };
    let Some(properties) = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    let arguments = r.params.get("arguments").and_then(Value::as_object);
    for (param, property) in properties {
        let Some(header) = property.get("x-mcp-header").and_then(Value::as_str) else {
            continue;
        };
        let expected = match arguments.and_then(|a| a.get(param)) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let name = format!("Mcp-Param-{header}");
        let mismatch = |why: String| {
            ErrorObject::new(protocol::HEADER_MISMATCH, format!("Header mismatch: {why}"))
        };
        let raw = req.headers.and_then(|h| (h.0)(&name));
        let Some(raw) = raw else {
            return Err(mismatch(format!(
                "the {name} header is required when arguments.{param} is present"
            )));
        };
        match protocol::decode_header_value(raw.trim()) {
            None => {
                return Err(mismatch(format!(
                    "the {name} header is not valid =?base64?...?= encoding"
                )))
            }
            Some(v) if v != expected => {
                return Err(mismatch(format!(
                    "{name} header value '{}' does not match arguments.{param}",
                    truncated(&v)
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The methods both eras share.
async fn dispatch(r: &Request, ctx: &Ctx<'_>, notes: &Notes) -> Result<Value, ErrorObject> {
    match r.method.as_str() {
        "tools/list" => list_tools(&r.params, ctx),
        "tools/call" => call_tool(&r.params, ctx, notes).await,
        "resources/list"
        | "resources/templates/list"
        | "resources/read"
        | "prompts/list"
        | "prompts/get"
        | "completion/complete" => features::dispatch(&r.method, &r.params, ctx, notes).await,
        other => Err(ErrorObject::method_not_found(other)),
    }
}

/// `tools/list` with opaque cursors (spec "Utilities: Pagination").
fn list_tools(params: &Map<String, Value>, ctx: &Ctx<'_>) -> Result<Value, ErrorObject> {
    let all = ctx.catalog.tools.tools();
    let start = page_start(params, all.len())?;
    let end = (start + PAGE_SIZE).min(all.len());
    let mut result = Map::new();
    result.insert(
        "tools".into(),
        Value::Array(all[start..end].iter().map(|t| t.descriptor()).collect()),
    );
    if end < all.len() {
        result.insert("nextCursor".into(), json!(encode_cursor(end)));
    }
    if ctx.era == Era::Modern {
        cacheable(&mut result);
    }
    Ok(Value::Object(result))
}

pub(crate) fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("tools:{offset}"))
}

/// Where a list page starts: 0 without a cursor, else the offset a cursor this
/// server issued names (-32602 for any other cursor, spec "Utilities: Pagination").
pub(crate) fn page_start(params: &Map<String, Value>, len: usize) -> Result<usize, ErrorObject> {
    match params.get("cursor") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(c)) => decode_cursor(c)
            .filter(|&o| o > 0 && o < len)
            .ok_or_else(|| {
                ErrorObject::invalid_params(
                    "the cursor is not one this server issued or no longer applies; list again \
                 without a cursor",
                )
            }),
        Some(_) => Err(ErrorObject::invalid_params(
            "params.cursor must be a string",
        )),
    }
}

pub(crate) fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("tools:")?
        .parse()
        .ok()
}

/// `tools/call`. The scope was checked before anything ran (see [`scope_challenge`]).
async fn call_tool(
    params: &Map<String, Value>,
    ctx: &Ctx<'_>,
    notes: &Notes,
) -> Result<Value, ErrorObject> {
    let (tool, arguments) = tool_and_arguments(params, ctx)?;
    let empty = Value::Object(Map::new());
    let arguments = arguments.unwrap_or(&empty);
    let name = tool.name.as_str();
    if let Err(why) = schema::validate(&tool.input_schema, arguments) {
        return Ok(ToolOutput::error(format!("Invalid arguments for {name}: {why}")).to_result());
    }
    match ctx.era {
        Era::Modern => {
            let binding = StateBinding {
                user_id: &ctx.user.user.id,
                method: "tools/call",
                name,
                arguments,
            };
            let answers = input::modern_answers(params, &binding, ctx.env.seal)?;
            let (output, end) = run_tool(tool, arguments, answers, ctx, notes).await;
            match end {
                RoundEnd::Complete => Ok(output.to_result()),
                RoundEnd::Ask { requests, answers } => {
                    input::input_required_result(requests, answers, &binding, ctx.env.seal)
                }
                RoundEnd::Missing(capability) => Err(input::missing_capability_error(capability)),
                RoundEnd::TooMany => Ok(too_many_requests(name).to_result()),
            }
        }
        Era::Legacy => {
            let (output, end) = run_tool(tool, arguments, Map::new(), ctx, notes).await;
            Ok(legacy_round_end(name, output, end).to_result())
        }
    }
}

/// The tool a `tools/call` names and its arguments (`None`: none given, read as `{}`).
fn tool_and_arguments<'p>(
    params: &'p Map<String, Value>,
    ctx: &Ctx<'p>,
) -> Result<(&'p super::tools::Tool, Option<&'p Value>), ErrorObject> {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ErrorObject::invalid_params("tools/call needs params.name (a string)"))?;
    let tool =
        ctx.catalog.tools.get(name).ok_or_else(|| {
            ErrorObject::invalid_params(format!("Unknown tool: {}", truncated(name)))
        })?;
    match params.get("arguments") {
        None | Some(Value::Null) => Ok((tool, None)),
        Some(a @ Value::Object(_)) => Ok((tool, Some(a))),
        Some(_) => Err(ErrorObject::invalid_params(
            "params.arguments must be an object",
        )),
    }
}

/// Runs a tool's handler once with the answers given so far; its progress and logs go to
/// `notes`.
async fn run_tool(
    tool: &super::tools::Tool,
    arguments: &Value,
    answers: Map<String, Value>,
    ctx: &Ctx<'_>,
    notes: &Notes,
) -> (ToolOutput, RoundEnd) {
    let input = Input::with_answers(ctx.caps, answers);
    let output = {
        let call = ToolCall {
            arguments,
            user: ctx.user,
            env: ctx.env,
            notes,
            input: &input,
        };
        (tool.handler)(&call).await
    };
    (output, input.end())
}

/// A legacy round that cannot ask the client (yet): the handler's needs become a tool error.
fn legacy_round_end(name: &str, output: ToolOutput, end: RoundEnd) -> ToolOutput {
    match end {
        RoundEnd::Complete => output,
        RoundEnd::TooMany => too_many_requests(name),
        RoundEnd::Missing(capability) => ToolOutput::error(format!(
            "The tool {name} needs the client capability '{}', which this client did not \
             declare in initialize",
            capability.name()
        )),
        RoundEnd::Ask { .. } => ToolOutput::error(format!(
            "The tool {name} needs input from the client, which this request cannot carry"
        )),
    }
}

fn too_many_requests(name: &str) -> ToolOutput {
    ToolOutput::error(format!(
        "The tool {name} asked for more than {} inputs at once",
        input::MAX_INPUT_REQUESTS
    ))
}

/// `logging/setLevel` (legacy only; 2026-07-28 removed it).
fn set_level(params: &Map<String, Value>, session: &mut Session) -> Result<Value, ErrorObject> {
    let level = params
        .get("level")
        .and_then(Value::as_str)
        .and_then(LogLevel::parse)
        .ok_or_else(|| {
            ErrorObject::invalid_params(format!(
                "params.level must be one of {}",
                LogLevel::NAMES.join(", ")
            ))
        })?;
    session.log_level = Some(level);
    Ok(json!({}))
}

fn notify(n: &Notification, session: &mut Session) {
    if n.method == "notifications/initialized" {
        session.initialized = true;
    }
    // `notifications/cancelled` and anything unknown: nothing to do. Every call finishes
    // within its own POST, so there is never an operation in flight to cancel.
}

/// `server/discover` (2026-07-28).
fn discover() -> Value {
    let mut result = Map::new();
    result.insert(
        "supportedVersions".into(),
        json!(protocol::SUPPORTED_VERSIONS),
    );
    result.insert("capabilities".into(), features::modern_capabilities());
    // The server's identity travels in `_meta`, added to every modern result by `respond`.
    result.insert("instructions".into(), json!(INSTRUCTIONS));
    cacheable(&mut result);
    Value::Object(result)
}

/// The 403 step-up challenge when a `tools/call` among `requests` needs a scope the token
/// lacks.
fn scope_challenge<'r>(
    req: &McpRequest<'_>,
    requests: impl Iterator<Item = &'r Request>,
    batch: bool,
    ctx: &Ctx<'_>,
) -> Option<Reply> {
    let mut needed = None;
    let mut responses = Vec::new();
    for r in requests {
        if r.method != "tools/call" {
            continue;
        }
        let Some(tool) = r
            .params
            .get("name")
            .and_then(Value::as_str)
            .and_then(|n| ctx.catalog.tools.get(n))
        else {
            continue;
        };
        let Some(scope) = tool.missing_scope(ctx.user) else {
            continue;
        };
        needed.get_or_insert(scope);
        responses.push(Response::error(
            Some(r.id.clone()),
            ErrorObject::new(
                INVALID_REQUEST,
                format!(
                    "insufficient_scope: the tool {} needs the OAuth scope '{scope}'; \
                     authorize again including it",
                    tool.name
                ),
            )
            .with_data(json!({"error": "insufficient_scope", "scope": scope})),
        ));
    }
    let scope = needed?;
    // The one builder of this header (RFC 6750 §3.1, quoted-string safe).
    let challenge =
        crate::challenge::insufficient_scope_challenge(req.resource_metadata_url, scope);
    let reply = match responses.as_slice() {
        [only] if !batch => Reply::json(403, only),
        all => Reply::json(403, all),
    };
    Some(reply.no_store().header("WWW-Authenticate", &challenge))
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

/// `ttlMs` and `cacheScope` of 2026-07-28 list results. Private: the list is fetched with the
/// user's token, so shared caches must not keep it.
pub(crate) fn cacheable(result: &mut Map<String, Value>) {
    result.insert("ttlMs".into(), json!(CACHE_TTL_MS));
    result.insert("cacheScope".into(), json!("private"));
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

pub(crate) fn truncated(s: &str) -> String {
    super::jsonrpc::truncate(s, 100)
}
