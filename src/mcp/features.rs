//! The server features besides tools: resources, prompts, completions, subscriptions, the
//! capabilities each revision declares, and the event-stream reply that carries a request's
//! notifications before its response.
//!
//! Spec sections: "Server Features: Resources", "Server Features: Prompts", "Utilities:
//! Completion", "Utilities: Pagination", "Utilities: Progress", "Utilities: Logging" of
//! 2025-03-26 .. 2026-07-28. Per revision:
//! - `resources/subscribe` and `resources/unsubscribe` are legacy only (2026-07-28 removed
//!   them): answered, bounded per session ([`MAX_SUBSCRIPTIONS`]); no
//!   `notifications/resources/updated` is ever due, because no shipped resource changes
//!   within a session and no server-initiated stream is offered (GET is 405).
//! - A read of an unknown URI is -32002 "Resource not found" before 2026-07-28 and -32602 from
//!   2026-07-28 on (SEP-2164); both carry the `uri` in `data`.

use serde_json::{json, Map, Value};

use super::context::{cacheable, truncated, Ctx, Era};
use super::cursor::{encode_cursor, page_start};
use super::input::{self, Input, RoundEnd, StateBinding};
use super::jsonrpc::{ErrorObject, Response};
use super::notes::Notes;
use super::resources::{Found, ResourceRead};
use super::session::{Session, MAX_SUBSCRIPTIONS};
use crate::http::Reply;

/// Items per page of `resources/list`, `resources/templates/list` and `prompts/list`.
pub const PAGE_SIZE: usize = 50;
/// Most values one `completion/complete` returns (the spec's limit).
const MAX_COMPLETIONS: usize = 100;
/// -32002, "Resource not found" before 2026-07-28.
const RESOURCE_NOT_FOUND: i64 = -32002;

/// `initialize` capabilities (2025-03-26 .. 2025-11-25).
pub fn legacy_capabilities() -> Value {
    json!({
        "tools": {"listChanged": false},
        "resources": {"subscribe": true, "listChanged": false},
        "prompts": {"listChanged": false},
        "completions": {},
        "logging": {}
    })
}

/// `server/discover` capabilities (2026-07-28: no subscriptions; logging through `_meta`).
pub fn modern_capabilities() -> Value {
    json!({
        "tools": {"listChanged": false},
        "resources": {"listChanged": false},
        "prompts": {"listChanged": false},
        "completions": {},
        "logging": {}
    })
}

pub(crate) async fn dispatch(
    method: &str,
    params: &Map<String, Value>,
    ctx: &Ctx<'_>,
    notes: &Notes,
) -> Result<Value, ErrorObject> {
    match method {
        "resources/list" => page(
            params,
            ctx,
            "resources",
            ctx.catalog.resources.descriptors(),
        ),
        "resources/templates/list" => page(
            params,
            ctx,
            "resourceTemplates",
            ctx.catalog.resources.template_descriptors(),
        ),
        "resources/read" => read(params, ctx, notes).await,
        "prompts/list" => page(
            params,
            ctx,
            "prompts",
            ctx.catalog
                .prompts
                .prompts()
                .iter()
                .map(|p| p.descriptor())
                .collect(),
        ),
        "prompts/get" => get_prompt(params, ctx).await,
        "completion/complete" => complete(params, ctx),
        other => Err(ErrorObject::method_not_found(other)),
    }
}

/// One page of a list, with opaque cursors (spec "Utilities: Pagination").
fn page(
    params: &Map<String, Value>,
    ctx: &Ctx<'_>,
    key: &str,
    all: Vec<Value>,
) -> Result<Value, ErrorObject> {
    let start = page_start(params, all.len())?;
    let end = (start + PAGE_SIZE).min(all.len());
    let total = all.len();
    let mut result = Map::new();
    result.insert(
        key.into(),
        Value::Array(all.into_iter().skip(start).take(end - start).collect()),
    );
    if end < total {
        result.insert("nextCursor".into(), json!(encode_cursor(end)));
    }
    if ctx.era == Era::Modern {
        cacheable(&mut result);
    }
    Ok(Value::Object(result))
}

fn string_param<'p>(
    params: &'p Map<String, Value>,
    name: &str,
    method: &str,
) -> Result<&'p str, ErrorObject> {
    params.get(name).and_then(Value::as_str).ok_or_else(|| {
        ErrorObject::invalid_params(format!("{method} needs params.{name} (a string)"))
    })
}

/// The error for a URI nothing here answers (SEP-2164 from 2026-07-28 on).
pub(crate) fn not_found(uri: &str, era: Era) -> ErrorObject {
    let code = match era {
        Era::Legacy => RESOURCE_NOT_FOUND,
        Era::Modern => super::jsonrpc::INVALID_PARAMS,
    };
    ErrorObject::new(code, "Resource not found").with_data(json!({"uri": truncated(uri)}))
}

async fn read(
    params: &Map<String, Value>,
    ctx: &Ctx<'_>,
    notes: &Notes,
) -> Result<Value, ErrorObject> {
    let uri = string_param(params, "uri", "resources/read")?;
    let (reader, vars) = match ctx.catalog.resources.find(uri) {
        Some(Found::Resource(r)) => (r.reader, Vec::new()),
        Some(Found::Template(t, vars)) => (t.reader, vars),
        None => return Err(not_found(uri, ctx.era)),
    };
    let read = ResourceRead {
        uri,
        vars: &vars,
        user: ctx.user,
        env: ctx.env,
        notes,
    };
    let contents = reader(&read).await.map_err(|mut e| {
        // A template that matched but names nothing is "not found" in this revision's code.
        if e.code == super::jsonrpc::INVALID_PARAMS && ctx.era == Era::Legacy && e.data.is_some() {
            e.code = RESOURCE_NOT_FOUND;
        }
        e
    })?;
    if contents.is_empty() {
        // SEP-2164: never an empty `contents` for something that is not there.
        return Err(not_found(uri, ctx.era));
    }
    let mut result = Map::new();
    result.insert(
        "contents".into(),
        Value::Array(contents.iter().map(|c| c.to_value()).collect()),
    );
    if ctx.era == Era::Modern {
        // 2026-07-28 `ReadResourceResult` carries the caching hints too (SEP-2549).
        cacheable(&mut result);
    }
    Ok(Value::Object(result))
}

async fn get_prompt(params: &Map<String, Value>, ctx: &Ctx<'_>) -> Result<Value, ErrorObject> {
    let name = string_param(params, "name", "prompts/get")?;
    let prompt = ctx.catalog.prompts.get(name).ok_or_else(|| {
        ErrorObject::invalid_params(format!("Unknown prompt: {}", truncated(name)))
    })?;
    let empty = Map::new();
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(a)) => a,
        Some(_) => {
            return Err(ErrorObject::invalid_params(
                "params.arguments must be an object",
            ))
        }
    };
    prompt.check_arguments(arguments)?;
    // Input requests, as for tools/call: in 2026-07-28 the answers come back with a sealed
    // requestState bound to the user, this method, the prompt and its arguments.
    let bound_arguments = Value::Object(arguments.clone());
    let binding = StateBinding {
        user_id: &ctx.user.user.id,
        method: "prompts/get",
        name: &prompt.name,
        arguments: &bound_arguments,
    };
    let answers = match ctx.era {
        Era::Modern => input::modern_answers(params, &binding, ctx.env.seal)?,
        Era::Legacy => Map::new(),
    };
    let asked = Input::with_answers(ctx.caps, answers);
    let outcome = {
        let get = super::prompts::PromptGet {
            arguments,
            user: ctx.user,
            env: ctx.env,
            input: &asked,
        };
        (prompt.handler)(&get).await
    };
    let (description, messages) = match (asked.end(), ctx.era) {
        (RoundEnd::Complete, _) => outcome?,
        (RoundEnd::Ask { requests, answers }, Era::Modern) => {
            return input::input_required_result(requests, answers, &binding, ctx.env.seal)
        }
        (RoundEnd::Missing(capability), Era::Modern) => {
            return Err(input::missing_capability_error(capability))
        }
        (RoundEnd::Missing(capability), Era::Legacy) => {
            return Err(ErrorObject::invalid_request(format!(
                "The prompt {} needs the client capability '{}', which this client did not \
                 declare in initialize",
                prompt.name,
                capability.name()
            )))
        }
        (RoundEnd::Ask { .. }, Era::Legacy) => {
            return Err(ErrorObject::invalid_request(format!(
                "The prompt {} needs input from the client, which only protocol version \
                 2026-07-28 can carry on prompts/get",
                prompt.name
            )))
        }
        (RoundEnd::TooMany, _) => {
            return Err(ErrorObject::invalid_request(format!(
                "The prompt {} asked for more than {} inputs at once",
                prompt.name,
                input::MAX_INPUT_REQUESTS
            )))
        }
    };
    let mut result = Map::new();
    if let Some(d) = description {
        result.insert("description".into(), json!(d));
    }
    let messages: Vec<Value> = messages
        .iter()
        .map(|m| json!({"role": m.role, "content": m.content.to_value()}))
        .collect();
    result.insert("messages".into(), Value::Array(messages));
    Ok(Value::Object(result))
}

/// `completion/complete` for a prompt's argument or a resource template's variable.
fn complete(params: &Map<String, Value>, ctx: &Ctx<'_>) -> Result<Value, ErrorObject> {
    let reference = params
        .get("ref")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ErrorObject::invalid_params("completion/complete needs params.ref (an object)")
        })?;
    let argument = params
        .get("argument")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ErrorObject::invalid_params("completion/complete needs params.argument (an object)")
        })?;
    let arg_name = string_param(argument, "name", "completion/complete argument")?;
    let value = string_param(argument, "value", "completion/complete argument")?;
    let values = match reference.get("type").and_then(Value::as_str) {
        Some("ref/prompt") => {
            let name = string_param(reference, "name", "ref/prompt")?;
            let prompt = ctx.catalog.prompts.get(name).ok_or_else(|| {
                ErrorObject::invalid_params(format!("Unknown prompt: {}", truncated(name)))
            })?;
            if !prompt.arguments.iter().any(|a| a.name == arg_name) {
                return Err(ErrorObject::invalid_params(format!(
                    "prompt {name} has no argument {}",
                    truncated(arg_name)
                )));
            }
            prompt
                .completer
                .map(|c| c(arg_name, value))
                .unwrap_or_default()
        }
        Some("ref/resource") => {
            let uri = string_param(reference, "uri", "ref/resource")?;
            let template = ctx.catalog.resources.template(uri).ok_or_else(|| {
                ErrorObject::invalid_params(format!(
                    "Unknown resource template: {}",
                    truncated(uri)
                ))
            })?;
            if !template.variables().contains(&arg_name) {
                return Err(ErrorObject::invalid_params(format!(
                    "template {uri} has no variable {}",
                    truncated(arg_name)
                )));
            }
            template
                .completer
                .map(|c| c(arg_name, value))
                .unwrap_or_default()
        }
        _ => {
            return Err(ErrorObject::invalid_params(
                "params.ref.type must be ref/prompt or ref/resource",
            ))
        }
    };
    let total = values.len();
    let shown: Vec<String> = values.into_iter().take(MAX_COMPLETIONS).collect();
    Ok(json!({"completion": {"values": shown, "total": total, "hasMore": total > MAX_COMPLETIONS}}))
}

/// `resources/subscribe` and `resources/unsubscribe` (legacy sessions).
pub(crate) fn subscription(
    method: &str,
    params: &Map<String, Value>,
    session: &mut Session,
    ctx: &Ctx<'_>,
) -> Result<Value, ErrorObject> {
    let uri = string_param(params, "uri", method)?;
    if method == "resources/unsubscribe" {
        session.subscriptions.retain(|s| s != uri);
        return Ok(json!({}));
    }
    if !ctx.catalog.resources.knows(uri) {
        return Err(not_found(uri, ctx.era));
    }
    if !session.subscriptions.iter().any(|s| s == uri) {
        if session.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(ErrorObject::invalid_params(format!(
                "this session already holds {MAX_SUBSCRIPTIONS} subscriptions, the most it may; \
                 unsubscribe from one first"
            ))
            .with_data(json!({"maxSubscriptions": MAX_SUBSCRIPTIONS})));
        }
        session.subscriptions.push(uri.to_owned());
    }
    Ok(json!({}))
}

/// A POST's reply as an event stream: the request's notifications, then its response(s),
/// each one SSE `message` event (Streamable HTTP "Sending Messages to the Server").
pub fn stream_reply(notes: &[Value], responses: &[Response], batch: bool) -> Reply {
    let mut body = Vec::new();
    let mut event = |json: Result<Vec<u8>, serde_json::Error>| {
        if let Ok(json) = json {
            body.extend_from_slice(b"event: message\ndata: ");
            // serde_json never emits raw newlines, so each message fits one `data:` line.
            body.extend_from_slice(&json);
            body.extend_from_slice(b"\n\n");
        }
    };
    for note in notes {
        event(serde_json::to_vec(note));
    }
    if batch {
        event(serde_json::to_vec(responses));
    } else {
        for r in responses {
            event(serde_json::to_vec(r));
        }
    }
    Reply::new(200)
        .header("Content-Type", "text/event-stream")
        .body(body)
        .no_store()
}
