//! A POST to a legacy session (protocol revisions 2025-03-26, 2025-06-18 and 2025-11-25):
//! batches (2025-03-26 only), notifications, `logging/setLevel`, and the `tools/call` that
//! asks the client for input on the POST's event stream and continues when the answers come
//! back.
//!
//! Spec sections: "Transports: Streamable HTTP" (sending requests on the POST's SSE stream,
//! "Session Management"), "Lifecycle" (`notifications/initialized`), "Utilities: Logging"
//! (`logging/setLevel`), "Client Features: Elicitation", "Sampling" and "Roots".

use super::methods::{dispatch, legacy_round_end, run_tool, scope_challenge, tool_and_arguments};
use super::{event_stream_ok, request_notes, respond};
use crate::http::Reply;
use crate::mcp::catalog::Catalog;
use crate::mcp::context::{truncated, Ctx, Era};
use crate::mcp::features;
use crate::mcp::input::{self, PendingCall, RoundEnd};
use crate::mcp::jsonrpc::{Body, ErrorObject, Message, Notification, Request, RequestId, Response};
use crate::mcp::notes::Notes;
use crate::mcp::protocol::{self, Accepts, LogLevel};
use crate::mcp::session::Session;
use crate::mcp::tools::{schema, ToolEnv, ToolOutput};
use crate::mcp::transport::{
    accepted, error_reply, messages_reply, InputWork, McpOutcome, McpRequest, SessionChange,
};
use crate::user::UserContext;
use serde_json::{json, Map, Value};

pub(super) async fn legacy_post(
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
