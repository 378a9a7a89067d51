//! The `calculate` tool: its descriptor and its handler. The expression language itself
//! (grammar, limits, errors) is in `expression`; a result is printed by `tools::number`.
//!
//! Spec section: "Server Features: Tools" (a tool with an `outputSchema` returns
//! `structuredContent`; a bad expression is a tool execution error, `isError: true`).

mod expression;

pub use expression::{evaluate, CalcError, MAX_DEPTH, MAX_LEN};

use super::number::format_number;
use super::{schema, Tool, ToolCall, ToolOutput};
use crate::outbound::LocalBoxFuture;
use serde_json::json;

pub fn tool() -> Tool {
    Tool::new(
        "calculate",
        "Evaluates an arithmetic expression exactly as written and returns the number. \
         Supports + - * / % ^ (power, right-associative, binds tighter than unary minus: \
         -2^2 = -4), parentheses, decimals and exponent notation (1.5e3), the constants \
         pi, e, tau and the functions sqrt, abs, ln, log10, log2, exp, sin, cos, tan \
         (radians), floor, ceil, round.",
        schema(
            r#"{
            "additionalProperties": false,
            "properties": {
                "expression": {
                    "description": "The expression, e.g. \"(1 + 2) * 3^2 / 4\"",
                    "maxLength": 1000,
                    "type": "string"
                }
            },
            "required": ["expression"],
            "type": "object"
        }"#,
        ),
        run,
    )
    .title("Calculator")
    .output_schema(schema(
        r#"{
        "properties": {"expression": {"type": "string"}, "result": {"type": "number"}},
        "required": ["expression", "result"],
        "type": "object"
    }"#,
    ))
    .annotations(schema(r#"{"openWorldHint": false, "readOnlyHint": true}"#))
}

fn run<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async move {
        let expression = call.str_arg("expression").unwrap_or_default();
        match evaluate(expression, call.env.math) {
            Ok(value) => ToolOutput::structured(
                format!("{} = {}", expression.trim(), format_number(value)),
                json!({"expression": expression.trim(), "result": value}),
            ),
            Err(e) => ToolOutput::error(format!("Could not evaluate the expression: {e}")),
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_text_states_the_length_limit_the_code_enforces() {
        let d = super::tool().descriptor();
        assert_eq!(
            d["inputSchema"]["properties"]["expression"]["maxLength"],
            super::MAX_LEN
        );
    }

    use super::super::test_support::{run as run_tool, user, FakeHttp};
    use super::*;

    #[test]
    fn the_tool_returns_structured_results_and_readable_errors() {
        let http = FakeHttp::failing("unused");
        let u = user("dev", None);
        let out = run_tool(&tool(), json!({"expression": " 2^3^2 "}), &u, &http);
        assert!(!out.is_error);
        assert_eq!(out.text, "2^3^2 = 512");
        assert_eq!(
            out.structured,
            Some(json!({"expression": "2^3^2", "result": 512.0}))
        );
        let out = run_tool(&tool(), json!({"expression": "1/0"}), &u, &http);
        assert!(out.is_error);
        assert_eq!(
            out.text,
            "Could not evaluate the expression: division by zero at position 2"
        );
        let out = run_tool(&tool(), json!({}), &u, &http);
        assert!(out.is_error);
        assert_eq!(out.text, "`expression` is required");
        assert!(http.seen.borrow().is_empty());
    }
}
