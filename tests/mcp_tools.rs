//! Tools at the MCP endpoint, through its public API (`mcp::handle`, with `tests/common/mcp_harness.rs`): listing them a
//! page at a time, calling them, the errors of a bad call, and the 403 step-up
//! challenge for a scope the token lacks.

use serde_json::{json, Value};

mod common;

use common::mcp_harness::*;

#[test]
fn tools_list_pages_through_more_than_fifty_tools_with_opaque_cursors() {
    let mut h = Harness::new();
    h.catalog.tools = big_registry(120);
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut page_sizes = Vec::new();
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let body = json_body(
            &h.in_session("2025-11-25", request(1, "tools/list", params))
                .reply,
        );
        let tools = body["result"]["tools"].as_array().unwrap();
        names.extend(tools.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        page_sizes.push(tools.len());
        match body["result"].get("nextCursor") {
            Some(Value::String(c)) => {
                assert!(
                    !c.contains("50") && !c.contains("100"),
                    "cursors are opaque"
                );
                cursor = Some(c.clone());
            }
            None => break,
            other => panic!("bad nextCursor {other:?}"),
        }
    }
    assert_eq!(page_sizes, [50, 50, 20], "pages of 50");
    let expected: Vec<String> = (0..120).map(|i| format!("tool_{i:03}")).collect();
    assert_eq!(
        names, expected,
        "every tool exactly once, in a stable order"
    );
}

#[test]
fn tools_list_refuses_a_cursor_it_did_not_issue() {
    let mut h = Harness::new();
    h.catalog.tools = big_registry(60);
    for bad in [json!("bm9wZQ"), json!("!!"), json!(7)] {
        let out = h.in_session(
            "2025-11-25",
            request(1, "tools/list", json!({"cursor": bad})),
        );
        assert_eq!(
            json_body(&out.reply)["error"]["code"],
            json!(-32602),
            "{bad}"
        );
    }
}

#[test]
fn tools_list_describes_the_shipped_tools() {
    let h = Harness::new();
    let body = json_body(
        &h.in_session("2025-11-25", request(1, "tools/list", json!({})))
            .reply,
    );
    let tools = body["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["whoami", "calculate", "calculate_all", "list_github_repos"]
    );
    for t in tools {
        assert_eq!(t["inputSchema"]["type"], json!("object"));
        assert!(t["outputSchema"].is_object());
        assert!(t["description"].as_str().unwrap().len() > 20);
    }
    assert!(body["result"].get("nextCursor").is_none());
}

#[test]
fn calling_an_unknown_tool_is_invalid_params() {
    let h = Harness::new();
    let out = h.in_session("2025-11-25", call(1, "no_such_tool", json!({})));
    assert_eq!(out.reply.status, 200);
    let body = json_body(&out.reply);
    assert_eq!(body["error"]["code"], json!(-32602));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Unknown tool: no_such_tool"));
}

#[test]
fn malformed_tool_calls_are_invalid_params() {
    let h = Harness::new();
    for params in [
        json!({}),
        json!({"name": 5}),
        json!({"name": "calculate", "arguments": [1]}),
    ] {
        let out = h.in_session("2025-11-25", request(1, "tools/call", params.clone()));
        assert_eq!(
            json_body(&out.reply)["error"]["code"],
            json!(-32602),
            "{params}"
        );
    }
}

#[test]
fn invalid_arguments_are_tool_errors_the_model_can_read() {
    let h = Harness::new();
    let out = h.in_session(
        "2025-11-25",
        call(1, "calculate", json!({"expression": 42})),
    );
    let result = &json_body(&out.reply)["result"];
    assert_eq!(result["isError"], json!(true));
    assert_eq!(
        result["content"][0]["text"],
        json!("Invalid arguments for calculate: `expression` must be a string, not an integer")
    );
}

#[test]
fn a_tool_needing_a_scope_the_token_lacks_is_a_403_step_up_challenge() {
    let mut h = Harness::new();
    h.user = github_user(&["mcp"]);
    h.http.answer_json(200, "[]");
    let out = h.in_session("2025-11-25", call(7, "list_github_repos", json!({})));
    assert_eq!(out.reply.status, 403);
    assert_eq!(
        out.reply.header_value("WWW-Authenticate"),
        Some(
            "Bearer error=\"insufficient_scope\", \
             error_description=\"this request needs the scope: github:repos\", \
             resource_metadata=\"https://mcp.example/.well-known/oauth-protected-resource/mcp\", \
             scope=\"github:repos\""
        )
    );
    let body = json_body(&out.reply);
    assert_eq!(body["id"], json!(7));
    assert_eq!(body["error"]["data"]["scope"], json!("github:repos"));
    assert!(h.http.requests().is_empty(), "nothing was executed");
    // Tools without a required scope still work with the base scope.
    let out = h.in_session("2025-11-25", call(8, "whoami", json!({})));
    assert_eq!(out.reply.status, 200);
}

#[test]
fn a_step_up_in_a_batch_executes_nothing() {
    let mut h = Harness::new();
    h.user = github_user(&["mcp"]);
    let mut p = post(json!([
        call(1, "calculate", json!({"expression": "1+1"})),
        call(2, "list_github_repos", json!({}))
    ]))
    .in_session("2025-03-26");
    p.version = None;
    let out = h.send(&p, Some(session("2025-03-26")));
    assert_eq!(out.reply.status, 403);
    let body = json_body(&out.reply);
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["id"], json!(2));
}
