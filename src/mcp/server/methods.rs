//! The methods both protocol generations answer alike: `tools/list` with opaque cursors,
//! `tools/call` (argument validation, running the handler, ending an input round), and the
//! 403 step-up challenge checked before anything in a POST runs.
//!
//! Spec sections: "Server Features: Tools", "Utilities: Pagination", "Multi Round-Trip
//! Requests" (2026-07-28, the `tools/call` side), and the authorization spec's "Scope
//! Challenge Handling" (403 `insufficient_scope`, RFC 6750 §3.1).

use crate::http::Reply;
use crate::mcp::context::{cacheable, truncated, Ctx, Era};
use crate::mcp::cursor::{encode_cursor, page_start};
use crate::mcp::features;
use crate::mcp::input::{self, Input, RoundEnd, StateBinding};
use crate::mcp::jsonrpc::{ErrorObject, Request, Response, INVALID_REQUEST};
use crate::mcp::notes::Notes;
use crate::mcp::tools::{schema, Tool, ToolCall, ToolOutput};
use crate::mcp::transport::McpRequest;
use serde_json::{json, Map, Value};

/// Tools per `tools/list` page.
pub const PAGE_SIZE: usize = 50;

/// The methods both eras share.
pub(super) async fn dispatch(
    r: &Request,
    ctx: &Ctx<'_>,
    notes: &Notes,
) -> Result<Value, ErrorObject> {
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
pub(super) fn tool_and_arguments<'p>(
    params: &'p Map<String, Value>,
    ctx: &Ctx<'p>,
) -> Result<(&'p Tool, Option<&'p Value>), ErrorObject> {
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
pub(super) async fn run_tool(
    tool: &Tool,
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
pub(super) fn legacy_round_end(name: &str, output: ToolOutput, end: RoundEnd) -> ToolOutput {
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

pub(super) fn too_many_requests(name: &str) -> ToolOutput {
    ToolOutput::error(format!(
        "The tool {name} asked for more than {} inputs at once",
        input::MAX_INPUT_REQUESTS
    ))
}

/// The 403 step-up challenge when a `tools/call` among `requests` needs a scope the token
/// lacks.
pub(super) fn scope_challenge<'r>(
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
