//! Fixture tools of the conformance suite's input scenarios: `tools-call-elicitation`,
//! `tools-call-sampling`, `elicitation-sep1034-defaults`, `elicitation-sep1330-enums`
//! (legacy sessions: requests on the POST's stream), the 14 `input-required-result-*`
//! scenarios (2026-07-28 `InputRequiredResult`; `non-tool-request` asks from the prompt
//! `test_input_required_result_prompt`), and `server-stateless`'s
//! `test_missing_capability` and `test_streaming_elicitation`. Names, keys and texts are
//! what the scenarios ask for; each handler uses only the public input API
//! ([`crate::mcp::input`]), so they also show it at work.

use serde_json::{json, Value};

use super::super::catalog::Catalog;
use crate::mcp::content::Content;
use crate::mcp::input::{Elicitation, Elicited, Sampling};
use crate::mcp::prompts::{Prompt, PromptGet, PromptMessage, PromptResult};
use crate::mcp::tools::{schema, Tool, ToolCall, ToolHandler, ToolOutput};
use crate::outbound::LocalBoxFuture;

pub fn register(c: &mut Catalog) {
    for tool in tools() {
        // Fixture names are fixed and distinct; conformance::tests checks they all register.
        let _ = c.tools.register(tool);
    }
    let _ = c.prompts.add(Prompt::new(
        "test_input_required_result_prompt",
        "Conformance fixture: asks the user for context (elicitation) before filling in",
        irr_prompt,
    ));
}

fn tools() -> Vec<Tool> {
    let no_args = || schema(r#"{"type": "object", "properties": {}}"#);
    let fixture = |name: &str, description: &str, input: Value, run: ToolHandler| {
        Tool::new(
            name,
            format!("Conformance fixture: {description}"),
            input,
            run,
        )
    };
    vec![
        fixture(
            "test_elicitation",
            "asks the user for a username and an email (elicitation/create)",
            schema(
                r#"{"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}"#,
            ),
            elicitation,
        ),
        fixture(
            "test_sampling",
            "asks the client's model to answer a prompt (sampling/createMessage)",
            schema(
                r#"{"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}"#,
            ),
            sampling,
        ),
        fixture(
            "test_elicitation_sep1034_defaults",
            "an elicitation whose fields carry default values (SEP-1034)",
            no_args(),
            sep1034_defaults,
        ),
        fixture(
            "test_elicitation_sep1330_enums",
            "an elicitation with the five enum schema forms (SEP-1330)",
            no_args(),
            sep1330_enums,
        ),
        fixture(
            "test_missing_capability",
            "needs sampling; a client that did not declare it gets -32021",
            no_args(),
            missing_capability,
        ),
        fixture(
            "test_streaming_elicitation",
            "asks the user for their name",
            no_args(),
            streaming_elicitation,
        ),
        fixture(
            "test_input_required_result_elicitation",
            "asks the user's name, then greets them",
            no_args(),
            irr_elicitation,
        ),
        fixture(
            "test_input_required_result_sampling",
            "asks the client's model a question",
            no_args(),
            irr_sampling,
        ),
        fixture(
            "test_input_required_result_list_roots",
            "asks the client for its roots",
            no_args(),
            irr_list_roots,
        ),
        fixture(
            "test_input_required_result_request_state",
            "asks for a confirmation; the answer comes back with the sealed request state",
            no_args(),
            irr_request_state,
        ),
        fixture(
            "test_input_required_result_multiple_inputs",
            "asks for a name, a greeting from the model and the roots at once",
            no_args(),
            irr_multiple_inputs,
        ),
        fixture(
            "test_input_required_result_multi_round",
            "asks for a name, then for a colour, in two rounds",
            no_args(),
            irr_multi_round,
        ),
        fixture(
            "test_input_required_result_tampered_state",
            "asks for a confirmation; a tampered request state is refused",
            no_args(),
            irr_tampered_state,
        ),
        fixture(
            "test_input_required_result_capabilities",
            "asks only what the client declared it can answer",
            no_args(),
            irr_capabilities,
        ),
    ]
}

fn ready<'a>(output: ToolOutput) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(std::future::ready(output))
}

fn one_string(message: &str, field: &str) -> Elicitation {
    Elicitation::form(
        message,
        json!({
            "type": "object",
            "properties": {field: {"type": "string"}},
            "required": [field]
        }),
    )
}

fn describe(e: &Elicited) -> String {
    let action = match e.action {
        crate::mcp::input::ElicitAction::Accept => "accept",
        crate::mcp::input::ElicitAction::Decline => "decline",
        crate::mcp::input::ElicitAction::Cancel => "cancel",
    };
    format!(
        "action={action}, content={}",
        Value::Object(e.content.clone())
    )
}

fn elicitation<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    let form = Elicitation::form(
        call.str_arg("message").unwrap_or_default(),
        json!({
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"}
            },
            "required": ["username", "email"]
        }),
    );
    ready(match call.input.elicit("user_info", form) {
        Some(answer) => ToolOutput::text(format!("User response: {}", describe(&answer))),
        None => ToolOutput::waiting(),
    })
}

fn sampling<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    let prompt = call.str_arg("prompt").unwrap_or_default();
    ready(
        match call.input.sample("completion", Sampling::text(prompt, 100)) {
            Some(answer) => ToolOutput::text(format!(
                "LLM response: {}",
                answer.text().unwrap_or("(no text)")
            )),
            None => ToolOutput::waiting(),
        },
    )
}

fn sep1034_defaults<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    let form = Elicitation::form(
        "Please review and update the form fields with defaults",
        schema(
            r#"{
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {"type": "string", "description": "User status",
                           "enum": ["active", "inactive", "pending"], "default": "active"},
                "verified": {"type": "boolean", "description": "Verification status", "default": true}
            }
        }"#,
        ),
    );
    ready(match call.input.elicit("defaults", form) {
        Some(answer) => ToolOutput::text(format!("Elicitation completed: {}", describe(&answer))),
        None => ToolOutput::waiting(),
    })
}

fn sep1330_enums<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    let form = Elicitation::form(
        "Please select options from the enum fields",
        schema(
            r#"{
            "type": "object",
            "properties": {
                "untitledSingle": {"type": "string", "description": "Select one option",
                                   "enum": ["option1", "option2", "option3"]},
                "titledSingle": {"type": "string", "description": "Select one option with titles",
                                 "oneOf": [{"const": "value1", "title": "First Option"},
                                           {"const": "value2", "title": "Second Option"},
                                           {"const": "value3", "title": "Third Option"}]},
                "legacyEnum": {"type": "string", "description": "Select one option (legacy)",
                               "enum": ["opt1", "opt2", "opt3"],
                               "enumNames": ["Option One", "Option Two", "Option Three"]},
                "untitledMulti": {"type": "array", "description": "Select multiple options",
                                  "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                "titledMulti": {"type": "array", "description": "Select multiple options with titles",
                                "items": {"anyOf": [{"const": "value1", "title": "First Choice"},
                                                    {"const": "value2", "title": "Second Choice"},
                                                    {"const": "value3", "title": "Third Choice"}]}}
            }
        }"#,
        ),
    );
    ready(match call.input.elicit("enums", form) {
        Some(answer) => ToolOutput::text(format!("Elicitation completed: {}", describe(&answer))),
        None => ToolOutput::waiting(),
    })
}

fn missing_capability<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    // Deliberately no `can_sample()` check: the server answers -32021 for it.
    ready(
        match call
            .input
            .sample("summary", Sampling::text("Summarize: hello", 20))
        {
            Some(answer) => ToolOutput::text(answer.text().unwrap_or_default().to_owned()),
            None => ToolOutput::waiting(),
        },
    )
}

fn streaming_elicitation<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    greet_by_name(call, "name")
}

fn irr_elicitation<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    greet_by_name(call, "user_name")
}

/// Asks for a name under the input key `key` (the scenarios name it differently), then greets.
fn greet_by_name<'a>(call: &'a ToolCall<'a>, key: &str) -> LocalBoxFuture<'a, ToolOutput> {
    ready(
        match call
            .input
            .elicit(key, one_string("What is your name?", "name"))
        {
            Some(answer) => ToolOutput::text(format!(
                "Hello, {}!",
                answer.str("name").unwrap_or("stranger")
            )),
            None => ToolOutput::waiting(),
        },
    )
}

fn irr_sampling<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    let question = Sampling::text("What is the capital of France?", 100);
    ready(match call.input.sample("capital_question", question) {
        Some(answer) => ToolOutput::text(answer.text().unwrap_or("(no text)").to_owned()),
        None => ToolOutput::waiting(),
    })
}

fn irr_list_roots<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    ready(match call.input.roots("client_roots") {
        Some(roots) => {
            let uris: Vec<&str> = roots.iter().map(|r| r.uri.as_str()).collect();
            ToolOutput::text(format!("Roots: {}", uris.join(", ")))
        }
        None => ToolOutput::waiting(),
    })
}

fn confirm_form(message: &str) -> Elicitation {
    Elicitation::form(
        message,
        json!({
            "type": "object",
            "properties": {"ok": {"type": "boolean"}},
            "required": ["ok"]
        }),
    )
}

fn irr_request_state<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    // The answer is only read on a call whose requestState opened (or on none at all): the
    // server refuses a state that fails verification before the handler runs.
    ready(
        match call.input.elicit("confirm", confirm_form("Please confirm")) {
            Some(answer) => ToolOutput::text(format!(
                "state-ok: confirmed={}",
                answer.bool("ok").unwrap_or(false)
            )),
            None => ToolOutput::waiting(),
        },
    )
}

fn irr_multiple_inputs<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    let input = call.input;
    let name = input.elicit("user_name", one_string("What is your name?", "name"));
    let greeting = input.sample("greeting", Sampling::text("Generate a greeting", 50));
    let roots = input.roots("client_roots");
    ready(match (name, greeting, roots) {
        (Some(name), Some(greeting), Some(roots)) => ToolOutput::text(format!(
            "{} {} ({} roots)",
            greeting.text().unwrap_or("Hello"),
            name.str("name").unwrap_or("stranger"),
            roots.len()
        )),
        _ => ToolOutput::waiting(),
    })
}

fn irr_multi_round<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    let input = call.input;
    let Some(name) = input.elicit("step1", one_string("Step 1: What is your name?", "name")) else {
        return ready(ToolOutput::waiting());
    };
    let Some(color) = input.elicit(
        "step2",
        one_string("Step 2: What is your favorite color?", "color"),
    ) else {
        return ready(ToolOutput::waiting());
    };
    ready(ToolOutput::text(format!(
        "{} likes {}.",
        name.str("name").unwrap_or("stranger"),
        color.str("color").unwrap_or("no colour")
    )))
}

fn irr_tampered_state<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    ready(
        match call
            .input
            .elicit("confirm", confirm_form("Please confirm to continue"))
        {
            Some(_) => ToolOutput::text("Confirmed."),
            None => ToolOutput::waiting(),
        },
    )
}

fn irr_capabilities<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    let input = call.input;
    let mut parts = Vec::new();
    if input.can_elicit() {
        if let Some(a) = input.elicit("user_name", one_string("What is your name?", "name")) {
            parts.push(format!("name={}", a.str("name").unwrap_or("")));
        }
    }
    if input.can_sample() {
        if let Some(a) = input.sample("greeting", Sampling::text("Generate a greeting", 50)) {
            parts.push(format!("greeting={}", a.text().unwrap_or("")));
        }
    }
    ready(if input.asked() {
        ToolOutput::waiting()
    } else if parts.is_empty() {
        ToolOutput::text("The client declared neither elicitation nor sampling; nothing to ask.")
    } else {
        ToolOutput::text(parts.join(", "))
    })
}

fn irr_prompt<'a>(get: &'a PromptGet<'a>) -> PromptResult<'a> {
    let question = one_string("What context should the prompt use?", "context");
    let messages = match get.input.elicit("user_context", question) {
        Some(answer) => vec![PromptMessage::user(Content::text(format!(
            "Answer using this context: {}",
            answer.str("context").unwrap_or("(none given)")
        )))],
        // Asked: the server answers with an InputRequiredResult, not with these messages.
        None => Vec::new(),
    };
    Box::pin(std::future::ready(Ok((None, messages))))
}
