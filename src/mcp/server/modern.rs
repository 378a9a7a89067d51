//! A stateless 2026-07-28 POST: one message, no session, the request's own `_meta`.
//!
//! Spec sections (2026-07-28): "Versioning" and "Streamable HTTP" (one message per POST, 404
//! for an unknown method), `RequestParams` (`_meta` with the protocol version and the client's
//! capabilities), "Server Validation" (the mirrored `MCP-Protocol-Version`, `Mcp-Method` and
//! `Mcp-Name` headers), "Custom Headers" (SEP-2243, `Mcp-Param-*`), `server/discover`, and
//! the logging level carried in `_meta`.

use super::methods::{dispatch, scope_challenge};
use super::{event_stream_ok, request_notes, respond, INSTRUCTIONS};
use crate::http::Reply;
use crate::mcp::context::{cacheable, truncated, Ctx};
use crate::mcp::features;
use crate::mcp::input;
use crate::mcp::jsonrpc::{Body, ErrorObject, Message, Request, METHOD_NOT_FOUND};
use crate::mcp::protocol::{self, Accepts, ClientCaps, LogLevel};
use crate::mcp::transport::{accepted, error_reply, messages_reply, McpOutcome, McpRequest};
use serde_json::{json, Map, Value};

/// A 2026-07-28 request: one message, headers mirrored from the body, no session.
pub(super) async fn modern_post(
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
