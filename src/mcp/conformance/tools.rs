//! The suite's tools: one per content type, errors, logging, progress, and JSON Schema 2020-12
//! keyword preservation (scenarios `tools-call-*`, `json-schema-2020-12`, `server-stateless`).

use super::super::catalog::Catalog;
use super::super::content::{Content, ResourceContents};
use super::super::protocol::LogLevel;
use super::super::tools::{schema, Tool, ToolCall, ToolOutput};
use crate::outbound::LocalBoxFuture;

const NO_ARGS: &str = r#"{"type": "object", "properties": {}}"#;

pub fn register(c: &mut Catalog) {
    let tools = [
        Tool::new(
            "test_simple_text",
            "Returns simple text (conformance fixture).",
            schema(NO_ARGS),
            simple_text,
        ),
        Tool::new(
            "test_image_content",
            "Returns an image (conformance fixture).",
            schema(NO_ARGS),
            image,
        ),
        Tool::new(
            "test_audio_content",
            "Returns audio (conformance fixture).",
            schema(NO_ARGS),
            audio,
        ),
        Tool::new(
            "test_embedded_resource",
            "Returns an embedded resource (conformance fixture).",
            schema(NO_ARGS),
            embedded,
        ),
        Tool::new(
            "test_multiple_content_types",
            "Returns text, an image and a resource (conformance fixture).",
            schema(NO_ARGS),
            mixed,
        ),
        Tool::new(
            "test_tool_with_logging",
            "Sends three log messages (conformance fixture).",
            schema(NO_ARGS),
            logging,
        ),
        Tool::new(
            "test_logging_tool",
            "Sends log messages when a level was asked for (conformance fixture).",
            schema(NO_ARGS),
            logging,
        ),
        Tool::new(
            "test_error_handling",
            "Always fails (conformance fixture).",
            schema(NO_ARGS),
            error,
        ),
        Tool::new(
            "test_tool_with_progress",
            "Reports progress 0, 50, 100 of 100 (conformance fixture).",
            schema(NO_ARGS),
            progress,
        ),
        Tool::new(
            "test_custom_headers",
            "Takes an argument mirrored in the Mcp-Param-Region header (conformance fixture).",
            schema(CUSTOM_HEADERS),
            simple_text,
        ),
        Tool::new(
            "json_schema_2020_12_tool",
            "Tool with JSON Schema 2020-12 features (conformance fixture).",
            schema(SCHEMA_2020_12),
            simple_text,
        ),
    ];
    for tool in tools {
        let _ = c.tools.register(tool);
    }
}

/// `x-mcp-header` (2026-07-28 SEP-2243): `region` is mirrored in `Mcp-Param-Region`.
const CUSTOM_HEADERS: &str = r#"{
    "type": "object",
    "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
    "required": ["region"]
}"#;

/// Kept as written: `$schema`, `$defs` with `$anchor`, `$ref` (never dereferenced),
/// `allOf`/`anyOf`, `if`/`then`/`else`.
const SCHEMA_2020_12: &str = r##"{
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {"address": {"$anchor": "addressDef", "type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"}
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": false
}"##;

fn simple_text<'a>(_: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async { ToolOutput::text("This is a simple text response for testing.") })
}

fn image<'a>(_: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async {
        ToolOutput::content(vec![Content::Image {
            data: super::png(),
            mime_type: "image/png".into(),
        }])
    })
}

fn audio<'a>(_: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async {
        ToolOutput::content(vec![Content::Audio {
            data: super::wav(),
            mime_type: "audio/wav".into(),
        }])
    })
}

fn embedded<'a>(_: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async {
        ToolOutput::content(vec![Content::Resource(ResourceContents::text(
            "test://embedded-resource",
            "text/plain",
            "This is an embedded resource content.",
        ))])
    })
}

fn mixed<'a>(_: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async {
        ToolOutput::text("Multiple content types test:")
            .with(Content::Image {
                data: super::png(),
                mime_type: "image/png".into(),
            })
            .with(Content::Resource(ResourceContents::text(
                "test://mixed-content-resource",
                "application/json",
                r#"{"test":"data","value":123}"#,
            )))
    })
}

fn logging<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async move {
        call.log(LogLevel::Info, "Tool execution started");
        call.log(LogLevel::Info, "Tool processing data");
        call.log(LogLevel::Info, "Tool execution completed");
        ToolOutput::text("Tool with logging executed successfully")
    })
}

fn error<'a>(_: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async { ToolOutput::error("This tool intentionally returns an error for testing") })
}

fn progress<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async move {
        for step in [0.0, 50.0, 100.0] {
            call.progress(step, Some(100.0), None);
        }
        ToolOutput::text("Tool with progress executed successfully")
    })
}
