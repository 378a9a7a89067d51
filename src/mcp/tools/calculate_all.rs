//! The `calculate_all` tool: evaluates a list of expressions with [`super::calculate`],
//! reporting progress after each one and logging each result, so a client shows a long batch
//! moving. Typed arguments and typed structured output (the developer API at its plainest).

use super::calculate::evaluate;
use super::number::format_number;
use super::{schema, Tool, ToolCall, ToolOutput};
use crate::mcp::protocol::LogLevel;
use crate::outbound::LocalBoxFuture;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Args {
    expressions: Vec<String>,
}

#[derive(Serialize)]
struct Line {
    expression: String,
    value: Option<f64>,
    error: Option<String>,
}

#[derive(Serialize)]
struct Output {
    results: Vec<Line>,
}

pub fn tool() -> Tool {
    Tool::new(
        "calculate_all",
        "Evaluates up to 20 arithmetic expressions (the syntax of calculate), one after the \
         other, reporting progress after each and logging each result.",
        schema(
            r#"{
            "additionalProperties": false,
            "properties": {
                "expressions": {"items": {"type": "string"}, "maxItems": 20, "minItems": 1, "type": "array"}
            },
            "required": ["expressions"],
            "type": "object"
        }"#,
        ),
        run,
    )
    .title("Calculate a list")
    .output_schema(schema(
        r#"{
        "properties": {
            "results": {"items": {"properties": {
                "error": {"type": ["string", "null"]},
                "expression": {"type": "string"},
                "value": {"type": ["number", "null"]}
            }, "required": ["expression", "value", "error"], "type": "object"}, "type": "array"}
        },
        "required": ["results"],
        "type": "object"
    }"#,
    ))
    .annotations(schema(r#"{"openWorldHint": false, "readOnlyHint": true}"#))
}

fn run<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async move {
        let args: Args = match call.args() {
            Ok(a) => a,
            Err(e) => return e,
        };
        let total = args.expressions.len() as f64;
        let mut results = Vec::with_capacity(args.expressions.len());
        for (i, expression) in args.expressions.into_iter().enumerate() {
            let line = match evaluate(&expression, call.env.math) {
                Ok(value) => {
                    call.log(
                        LogLevel::Info,
                        format!("{expression} = {}", format_number(value)),
                    );
                    Line {
                        expression,
                        value: Some(value),
                        error: None,
                    }
                }
                Err(e) => {
                    call.log(LogLevel::Warning, format!("{expression}: {e}"));
                    Line {
                        expression,
                        value: None,
                        error: Some(e.to_string()),
                    }
                }
            };
            results.push(line);
            call.progress((i + 1) as f64, Some(total), None);
        }
        ToolOutput::json(&Output { results })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::notes::Notes;
    use crate::mcp::tools::test_support::{user, FakeHttp, NoSeal};
    use crate::mcp::tools::ToolEnv;
    use serde_json::json;

    #[test]
    fn reports_progress_per_expression_and_logs_each_result() {
        let http = FakeHttp::failing("unused");
        let env = ToolEnv {
            http: &http,
            github_api_base: "",
            seal: &NoSeal,
            math: &crate::mcp::tools::math::RustMath,
        };
        let notes = Notes::new(Some(json!("p")), Some(LogLevel::Info));
        let args = json!({"expressions": ["1+2", "1/0", "2^10"]});
        let u = user("dev", None);
        let call = ToolCall {
            arguments: &args,
            user: &u,
            env: &env,
            notes: &notes,
            input: &crate::mcp::input::Input::default(),
        };
        let out = pollster::block_on(run(&call));
        assert!(!out.is_error);
        assert_eq!(
            out.structured.as_ref().unwrap()["results"][2]["value"],
            json!(1024.0)
        );
        assert!(out.structured.as_ref().unwrap()["results"][1]["error"].is_string());
        let sent = notes.take();
        let progress: Vec<_> = sent
            .iter()
            .filter(|n| n["method"] == "notifications/progress")
            .map(|n| n["params"]["progress"].clone())
            .collect();
        assert_eq!(progress, vec![json!(1.0), json!(2.0), json!(3.0)]);
        let levels: Vec<_> = sent
            .iter()
            .filter(|n| n["method"] == "notifications/message")
            .map(|n| n["params"]["level"].clone())
            .collect();
        assert_eq!(levels, vec![json!("info"), json!("warning"), json!("info")]);
    }
}
