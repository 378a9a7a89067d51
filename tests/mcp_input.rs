//! Asking the client for input, through the MCP endpoint's public API: the 2026-07-28
//! multi round-trip flow (`InputRequiredResult`, sealed `requestState`, -32021) with the
//! conformance fixture tools, and what a bad retry gets.

mod common;

use common::NoHttp;

use common::mcp_seal::TestSeal;
use mcp_oauth_worker::mcp::input::STATE_TTL_SECS;
use mcp_oauth_worker::mcp::{handle, Catalog, McpRequest, ToolEnv};
use mcp_oauth_worker::user::{UserContext, UserProfile};
use serde_json::{json, Value};

fn user(id: &str) -> UserContext {
    UserContext {
        user: UserProfile {
            id: id.into(),
            login: "octocat".into(),
            name: None,
            email: None,
            provider: "github".into(),
        },
        scopes: vec!["mcp".into()],
        client_id: None,
        upstream_token: None,
    }
}

const ALL_CAPS: &str = r#"{"elicitation": {}, "sampling": {}, "roots": {"listChanged": true}}"#;

/// One 2026-07-28 `tools/call` of `tool`; returns (HTTP status, JSON-RPC response).
fn call(seal: &TestSeal, who: &UserContext, tool: &str, extra: Value, caps: &str) -> (u16, Value) {
    request(seal, who, "tools/call", tool, extra, caps)
}

/// One 2026-07-28 request of `method` naming `name` (a tool or a prompt).
fn request(
    seal: &TestSeal,
    who: &UserContext,
    method: &'static str,
    name: &str,
    extra: Value,
    caps: &str,
) -> (u16, Value) {
    let mut params = json!({
        "name": name,
        "arguments": {},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": serde_json::from_str::<Value>(caps).unwrap(),
        }
    });
    for (k, v) in extra.as_object().unwrap() {
        params[k] = v.clone();
    }
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let body = body.to_string();
    let req = McpRequest {
        http_method: "POST",
        accept: Some("application/json, text/event-stream"),
        content_type: Some("application/json"),
        protocol_version: Some("2026-07-28"),
        body: body.as_bytes(),
        resource_metadata_url: "https://mcp.example/.well-known/oauth-protected-resource/mcp",
        mcp_method: Some(method),
        mcp_name: Some(name),
        ..Default::default()
    };
    let env = ToolEnv {
        http: &NoHttp,
        github_api_base: "http://127.0.0.1:9",
        seal,
        math: &mcp_oauth_worker::mcp::tools::math::RustMath,
    };
    let tools = Catalog::build(true);
    let outcome = pollster::block_on(handle(req, None, "sid", who, &tools, &env));
    let reply = outcome.reply;
    (reply.status, serde_json::from_slice(&reply.body).unwrap())
}

fn accept(content: Value) -> Value {
    json!({"action": "accept", "content": content})
}

#[test]
fn a_tool_that_needs_a_name_asks_for_it_then_completes_with_the_answer() {
    let seal = TestSeal::new(1_000);
    let me = user("github:1");
    let (status, r1) = call(
        &seal,
        &me,
        "test_input_required_result_elicitation",
        json!({}),
        ALL_CAPS,
    );
    assert_eq!(status, 200);
    let result = &r1["result"];
    assert_eq!(result["resultType"], "input_required");
    let ask = &result["inputRequests"]["user_name"];
    assert_eq!(ask["method"], "elicitation/create");
    assert_eq!(ask["params"]["message"], "What is your name?");
    assert_eq!(
        ask["params"]["requestedSchema"]["required"],
        json!(["name"])
    );
    let state = result["requestState"].as_str().unwrap();
    assert!(!state.contains("user_name"), "the state is encrypted");

    let (_, r2) = call(
        &seal,
        &me,
        "test_input_required_result_elicitation",
        json!({"inputResponses": {"user_name": accept(json!({"name": "Alice"}))}, "requestState": state}),
        ALL_CAPS,
    );
    assert_eq!(r2["result"]["resultType"], "complete");
    assert_eq!(r2["result"]["content"][0]["text"], "Hello, Alice!");
}

#[test]
fn answers_accumulate_over_rounds_in_the_sealed_state() {
    let seal = TestSeal::new(1_000);
    let me = user("github:1");
    let tool = "test_input_required_result_multi_round";
    let (_, r1) = call(&seal, &me, tool, json!({}), ALL_CAPS);
    let s1 = r1["result"]["requestState"].as_str().unwrap().to_owned();
    assert!(r1["result"]["inputRequests"]["step1"].is_object());

    let (_, r2) = call(
        &seal,
        &me,
        tool,
        json!({"inputResponses": {"step1": accept(json!({"name": "Alice"}))}, "requestState": s1}),
        ALL_CAPS,
    );
    assert_eq!(r2["result"]["resultType"], "input_required");
    assert!(r2["result"]["inputRequests"]["step2"].is_object());
    assert!(r2["result"]["inputRequests"].get("step1").is_none());
    let s2 = r2["result"]["requestState"].as_str().unwrap().to_owned();
    assert_ne!(s1, s2);

    // Round 3 carries only step2: step1 comes from the state.
    let (_, r3) = call(
        &seal,
        &me,
        tool,
        json!({"inputResponses": {"step2": accept(json!({"color": "blue"}))}, "requestState": s2}),
        ALL_CAPS,
    );
    assert_eq!(r3["result"]["content"][0]["text"], "Alice likes blue.");

    // Without the state, step1 is asked again rather than invented.
    let (_, again) = call(
        &seal,
        &me,
        tool,
        json!({"inputResponses": {"step2": accept(json!({"color": "blue"}))}}),
        ALL_CAPS,
    );
    assert!(again["result"]["inputRequests"]["step1"].is_object());
}

#[test]
fn several_inputs_of_different_kinds_are_asked_at_once() {
    let seal = TestSeal::new(1_000);
    let (_, r) = call(
        &seal,
        &user("u"),
        "test_input_required_result_multiple_inputs",
        json!({}),
        ALL_CAPS,
    );
    let asks = r["result"]["inputRequests"].as_object().unwrap();
    let mut methods: Vec<&str> = asks
        .values()
        .map(|a| a["method"].as_str().unwrap())
        .collect();
    methods.sort();
    assert_eq!(
        methods,
        ["elicitation/create", "roots/list", "sampling/createMessage"]
    );
}

#[test]
fn a_tampered_foreign_expired_or_misplaced_state_is_refused_with_invalid_params() {
    let seal = TestSeal::new(1_000);
    let me = user("github:1");
    let tool = "test_input_required_result_tampered_state";
    let (_, r1) = call(&seal, &me, tool, json!({}), ALL_CAPS);
    let state = r1["result"]["requestState"].as_str().unwrap().to_owned();
    let answers = json!({"confirm": accept(json!({"ok": true}))});
    let retry = |seal: &TestSeal, who: &UserContext, tool: &str, state: &str| {
        call(
            seal,
            who,
            tool,
            json!({"inputResponses": answers, "requestState": state}),
            ALL_CAPS,
        )
    };

    // The genuine state works.
    let (_, ok) = retry(&seal, &me, tool, &state);
    assert_eq!(ok["result"]["content"][0]["text"], "Confirmed.");

    let refused = |(status, r): (u16, Value), why: &str| {
        assert_eq!(status, 200, "{why}: a JSON-RPC error, not an HTTP failure");
        assert_eq!(r["error"]["code"], -32602, "{why}: {r}");
        assert!(r.get("result").is_none(), "{why}");
    };
    refused(
        retry(&seal, &me, tool, &format!("{state}-TAMPERED")),
        "suffix",
    );
    let mut flipped = state.clone().into_bytes();
    flipped[20] = if flipped[20] == b'A' { b'B' } else { b'A' };
    refused(
        retry(&seal, &me, tool, &String::from_utf8(flipped).unwrap()),
        "bit flip",
    );
    refused(retry(&seal, &me, tool, ""), "empty");
    refused(
        retry(&seal, &user("github:2"), tool, &state),
        "another user",
    );
    refused(
        retry(
            &seal,
            &me,
            "test_input_required_result_request_state",
            &state,
        ),
        "another tool",
    );
    refused(
        retry(
            &TestSeal::with_secret("some-other-server-secret-0123456789", 1_000),
            &me,
            tool,
            &state,
        ),
        "another server key",
    );
    // Other arguments are another request.
    let (_, r) = call(
        &seal,
        &me,
        tool,
        json!({"arguments": {"x": 1}, "inputResponses": answers, "requestState": state}),
        ALL_CAPS,
    );
    assert_eq!(r["error"]["code"], -32602);

    seal.now.set(1_000 + STATE_TTL_SECS);
    let (_, expired) = retry(&seal, &me, tool, &state);
    assert_eq!(expired["error"]["code"], -32602);
    assert!(expired["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[test]
fn nothing_is_asked_that_the_client_did_not_declare() {
    let seal = TestSeal::new(1_000);
    let me = user("u");
    let (status, r) = call(
        &seal,
        &me,
        "test_input_required_result_capabilities",
        json!({}),
        r#"{"sampling": {}}"#,
    );
    assert_eq!(status, 200);
    let asks = r["result"]["inputRequests"].as_object().unwrap();
    assert_eq!(asks.len(), 1);
    assert_eq!(asks["greeting"]["method"], "sampling/createMessage");

    let (_, none) = call(
        &seal,
        &me,
        "test_input_required_result_capabilities",
        json!({}),
        "{}",
    );
    assert_eq!(none["result"]["resultType"], "complete");

    // A tool that cannot do without the capability: -32021, HTTP 400, naming it.
    let (status, r) = call(
        &seal,
        &me,
        "test_missing_capability",
        json!({}),
        r#"{"elicitation": {}}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(r["error"]["code"], -32021);
    assert_eq!(
        r["error"]["data"]["requiredCapabilities"],
        json!({"sampling": {}})
    );
    assert_eq!(r["id"], 7);
}

#[test]
fn bad_input_responses_are_asked_again_or_refused_never_accepted() {
    let seal = TestSeal::new(1_000);
    let me = user("u");
    let tool = "test_input_required_result_elicitation";
    // A response for nothing that was asked is ignored; the question is asked (again).
    let (_, r) = call(
        &seal,
        &me,
        tool,
        json!({"inputResponses": {"wrong_key": accept(json!({"data": "x"}))}}),
        ALL_CAPS,
    );
    assert_eq!(r["result"]["resultType"], "input_required");
    // Extra keys next to the right one do not get in the way.
    let (_, r) = call(
        &seal,
        &me,
        tool,
        json!({"inputResponses": {"user_name": accept(json!({"name": "Bo"})), "extra": {"a": 1}}}),
        ALL_CAPS,
    );
    assert_eq!(r["result"]["content"][0]["text"], "Hello, Bo!");
    // An answer that is no ElicitResult, or breaks the requested schema, is asked again.
    for bad in [
        json!(12345),
        accept(json!({"name": 5})),
        json!({"action": "accept"}),
    ] {
        let (_, r) = call(
            &seal,
            &me,
            tool,
            json!({"inputResponses": {"user_name": bad}}),
            ALL_CAPS,
        );
        assert_eq!(r["result"]["resultType"], "input_required", "{bad}");
    }
    // Malformed containers are protocol errors.
    for bad in [
        json!({"inputResponses": null}),
        json!({"inputResponses": [1]}),
        json!({"requestState": 5}),
    ] {
        let (status, r) = call(&seal, &me, tool, bad.clone(), ALL_CAPS);
        assert_eq!(
            (status, r["error"]["code"].clone()),
            (200, json!(-32602)),
            "{bad}"
        );
    }
    // A flood of responses is refused, not read.
    let flood: serde_json::Map<String, Value> =
        (0..100).map(|i| (format!("k{i}"), json!({}))).collect();
    let (_, r) = call(&seal, &me, tool, json!({"inputResponses": flood}), ALL_CAPS);
    assert_eq!(r["error"]["code"], -32602);
}

#[test]
fn lists_never_carry_an_input_required_result() {
    let seal = TestSeal::new(1_000);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string();
    let req = McpRequest {
        http_method: "POST",
        content_type: Some("application/json"),
        protocol_version: Some("2026-07-28"),
        body: body.as_bytes(),
        mcp_method: Some("tools/list"),
        ..Default::default()
    };
    let env = ToolEnv {
        http: &NoHttp,
        github_api_base: "",
        seal: &seal,
        math: &mcp_oauth_worker::mcp::tools::math::RustMath,
    };
    let tools = Catalog::build(true);
    let out = pollster::block_on(handle(req, None, "sid", &user("u"), &tools, &env));
    let r: Value = serde_json::from_slice(&out.reply.body).unwrap();
    assert_eq!(r["result"]["resultType"], "complete");
    let names: Vec<&str> = r["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"test_input_required_result_elicitation"));
    // Off, the fixtures are neither listed nor callable.
    let off = Catalog::build(false);
    assert!(off
        .tools
        .get("test_input_required_result_elicitation")
        .is_none());
}

// ---------------------------------------------------------------------------------------
// Legacy sessions (2025-06-18, 2025-11-25): requests on the POST's stream

use mcp_oauth_worker::mcp::input::{ClientCaps, PendingCall, MAX_ROUNDS};
use mcp_oauth_worker::mcp::jsonrpc::RequestId;
use mcp_oauth_worker::mcp::server::{abandon_call, continue_call, unexpected_answer, Continued};
use mcp_oauth_worker::mcp::session::LogLevel;
use mcp_oauth_worker::mcp::{InputWork, McpOutcome, Session, SessionChange};

fn session(caps: ClientCaps) -> Session {
    let mut s = Session::create("sid-1", "2025-11-25", None);
    s.initialized = true;
    s.client_caps = caps;
    s
}

fn legacy(seal: &TestSeal, body: Value, existing: Option<Session>, accept: &str) -> McpOutcome {
    let body = body.to_string();
    let req = McpRequest {
        http_method: "POST",
        accept: Some(accept),
        content_type: Some("application/json"),
        protocol_version: Some("2025-11-25"),
        session_id: Some("sid-1"),
        body: body.as_bytes(),
        ..Default::default()
    };
    let env = ToolEnv {
        http: &NoHttp,
        github_api_base: "",
        seal,
        math: &mcp_oauth_worker::mcp::tools::math::RustMath,
    };
    let tools = Catalog::build(true);
    pollster::block_on(handle(req, existing, "sid-new", &user("u"), &tools, &env))
}

const BOTH: &str = "application/json, text/event-stream";

fn all_caps() -> ClientCaps {
    ClientCaps::from_value(Some(&serde_json::from_str(ALL_CAPS).unwrap()))
}

fn call_body(tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

fn initialized_caps(version: &str) -> ClientCaps {
    let seal = TestSeal::new(1);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "clientInfo": {"name": "c", "version": "1"},
        "capabilities": {"sampling": {}, "elicitation": {"form": {}}}}});
    let body = body.to_string();
    let req = McpRequest {
        http_method: "POST",
        content_type: Some("application/json"),
        body: body.as_bytes(),
        ..Default::default()
    };
    let env = ToolEnv {
        http: &NoHttp,
        github_api_base: "",
        seal: &seal,
        math: &mcp_oauth_worker::mcp::tools::math::RustMath,
    };
    let tools = Catalog::build(true);
    let out = pollster::block_on(handle(req, None, "sid-new", &user("u"), &tools, &env));
    let SessionChange::Store(s) = out.session else {
        panic!("no session")
    };
    s.client_caps
}

#[test]
fn initialize_records_what_the_client_can_answer() {
    let caps = initialized_caps("2025-11-25");
    assert!(caps.sampling && caps.elicitation_form && !caps.roots);
    // Elicitation is not part of 2025-03-26: such a session is never sent one.
    let caps = initialized_caps("2025-03-26");
    assert!(caps.sampling && !caps.elicitation_form);
}

#[test]
fn a_call_given_up_on_ends_with_a_tool_error_for_its_request() {
    let pending = PendingCall {
        request_id: RequestId::String("call-9".into()),
        tool: "test_sampling".into(),
        arguments: json!({}),
        caps: all_caps(),
        progress_token: None,
        log_level: None,
        answers: Default::default(),
        requests: Default::default(),
        round: 1,
    };
    let why = "the client did not answer within 120 seconds";
    let r = serde_json::to_value(abandon_call(&pending, why)).unwrap();
    assert_eq!(r["id"], "call-9");
    assert_eq!(r["result"]["isError"], true);
    assert!(r["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("did not answer"));
}

#[test]
fn a_legacy_call_that_needs_input_streams_its_requests_then_finishes_with_the_answers() {
    let seal = TestSeal::new(1);
    let out = legacy(
        &seal,
        call_body("test_elicitation", json!({"message": "Who are you?"})),
        Some(session(all_caps())),
        BOTH,
    );
    assert_eq!(out.reply.status, 200);
    assert_eq!(
        out.reply.header_value("content-type"),
        Some("text/event-stream")
    );
    assert!(out.reply.body.is_empty(), "the Worker writes the body");
    let Some(InputWork::Ask(pending)) = out.input else {
        panic!("{:?}", out.input)
    };
    assert_eq!(pending.request_id, RequestId::Number(5.into()));
    let messages = pending.messages("r1:");
    assert_eq!(messages.len(), 1);
    let (id, message) = &messages[0];
    assert_eq!(id, "r1:user_info");
    assert_eq!(message["jsonrpc"], "2.0");
    assert_eq!(message["id"], "r1:user_info");
    assert_eq!(message["method"], "elicitation/create");
    assert_eq!(message["params"]["message"], "Who are you?");
    assert_eq!(
        message["params"]["requestedSchema"]["required"],
        json!(["username", "email"])
    );

    let env = ToolEnv {
        http: &NoHttp,
        github_api_base: "",
        seal: &seal,
        math: &mcp_oauth_worker::mcp::tools::math::RustMath,
    };
    let tools = Catalog::build(true);
    let answer =
        json!({"action": "accept", "content": {"username": "ada", "email": "ada@example.com"}});
    let done = pollster::block_on(continue_call(
        pending.clone(),
        vec![("user_info".into(), Ok(answer))],
        &user("u"),
        &tools,
        &env,
    ));
    let Continued::Done { response, .. } = done else {
        panic!("{done:?}")
    };
    let r = serde_json::to_value(&response).unwrap();
    assert_eq!(r["id"], 5);
    let text = r["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("User response: action=accept"), "{text}");
    assert!(text.contains("ada@example.com"), "{text}");
    assert!(
        r["result"].get("resultType").is_none(),
        "legacy results carry no resultType"
    );

    // An answer that breaks the schema is asked again (another round), a client error ends it.
    let again = pollster::block_on(continue_call(
        pending.clone(),
        vec![(
            "user_info".into(),
            Ok(json!({"action": "accept", "content": {"username": 1}})),
        )],
        &user("u"),
        &tools,
        &env,
    ));
    let Continued::Ask(next) = again else {
        panic!("{again:?}")
    };
    assert_eq!(next.round, 2);
    let refused = pollster::block_on(continue_call(
        pending,
        vec![(
            "user_info".into(),
            Err(json!({"code": -1, "message": "user closed the dialog"})),
        )],
        &user("u"),
        &tools,
        &env,
    ));
    let Continued::Done { response: r, .. } = refused else {
        panic!()
    };
    let r = serde_json::to_value(&r).unwrap();
    assert_eq!(r["result"]["isError"], true);
    assert!(r["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("user closed the dialog"));
}

#[test]
fn a_legacy_call_ends_after_the_round_bound() {
    let seal = TestSeal::new(1);
    let env = ToolEnv {
        http: &NoHttp,
        github_api_base: "",
        seal: &seal,
        math: &mcp_oauth_worker::mcp::tools::math::RustMath,
    };
    let tools = Catalog::build(true);
    let pending = PendingCall {
        request_id: RequestId::Number(1.into()),
        tool: "test_sampling".into(),
        arguments: json!({"prompt": "p"}),
        caps: all_caps(),
        progress_token: None,
        log_level: None,
        answers: Default::default(),
        requests: Default::default(),
        round: MAX_ROUNDS,
    };
    let out = pollster::block_on(continue_call(pending, vec![], &user("u"), &tools, &env));
    let Continued::Done { response: r, .. } = out else {
        panic!("{out:?}")
    };
    let r = serde_json::to_value(&r).unwrap();
    assert_eq!(r["result"]["isError"], true);
}

#[test]
fn legacy_sessions_never_get_requests_they_cannot_answer_or_carry() {
    let seal = TestSeal::new(1);
    // No sampling capability declared: a tool error, nothing sent.
    let out = legacy(
        &seal,
        call_body("test_sampling", json!({"prompt": "p"})),
        Some(session(ClientCaps::default())),
        BOTH,
    );
    assert!(out.input.is_none());
    let r: Value = serde_json::from_slice(&out.reply.body).unwrap();
    assert_eq!(r["result"]["isError"], true);
    assert!(r["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("sampling"));
    // A client that accepts only JSON cannot be asked on a stream.
    let out = legacy(
        &seal,
        call_body("test_sampling", json!({"prompt": "p"})),
        Some(session(all_caps())),
        "application/json",
    );
    assert!(out.input.is_none());
    let r: Value = serde_json::from_slice(&out.reply.body).unwrap();
    assert_eq!(r["result"]["isError"], true);
    // A call that asks for nothing stays a plain JSON reply, with no input work.
    let out = legacy(
        &seal,
        call_body("whoami", json!({})),
        Some(session(all_caps())),
        BOTH,
    );
    assert!(out.input.is_none());
    assert_eq!(
        out.reply.header_value("content-type"),
        Some("application/json")
    );
}

#[test]
fn answers_posted_by_the_client_are_handed_on_and_unknown_ones_are_400() {
    let seal = TestSeal::new(1);
    let out = legacy(
        &seal,
        json!({"jsonrpc": "2.0", "id": "r1:user_info", "result": {"action": "decline"}}),
        Some(session(all_caps())),
        BOTH,
    );
    assert_eq!(out.reply.status, 202);
    let Some(InputWork::Deliver(answers)) = out.input else {
        panic!("{:?}", out.input)
    };
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].id, RequestId::String("r1:user_info".into()));
    assert_eq!(answers[0].outcome, Ok(json!({"action": "decline"})));

    let reply = unexpected_answer(&RequestId::String("nope".into()));
    assert_eq!(reply.status, 400);
    let r: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(r["error"]["code"], -32600);
    assert!(r["error"]["message"].as_str().unwrap().contains("nope"));
}

// ---------------------------------------------------------------------------------------
// Input requests from prompts/get (2026-07-28), not only from tools

#[test]
fn a_prompt_asks_for_input_then_fills_in_with_the_answer() {
    let seal = TestSeal::new(1_000);
    let me = user("github:1");
    let prompt = "test_input_required_result_prompt";
    let (status, r1) = request(&seal, &me, "prompts/get", prompt, json!({}), ALL_CAPS);
    assert_eq!(status, 200, "{r1}");
    let result = &r1["result"];
    assert_eq!(result["resultType"], "input_required", "{r1}");
    let ask = &result["inputRequests"]["user_context"];
    assert_eq!(ask["method"], "elicitation/create");
    assert_eq!(
        ask["params"]["message"],
        "What context should the prompt use?"
    );
    assert!(result.get("messages").is_none());
    let state = result["requestState"].as_str().unwrap().to_owned();
    let answers = json!({"user_context": accept(json!({"context": "rust"}))});

    let (_, r2) = request(
        &seal,
        &me,
        "prompts/get",
        prompt,
        json!({"inputResponses": answers, "requestState": state}),
        ALL_CAPS,
    );
    assert_eq!(r2["result"]["resultType"], "complete", "{r2}");
    assert_eq!(
        r2["result"]["messages"][0]["content"]["text"],
        "Answer using this context: rust"
    );

    // The state is bound to prompts/get of this prompt: a tools/call cannot use it, nor can
    // another user.
    let (_, r) = call(
        &seal,
        &me,
        "test_input_required_result_elicitation",
        json!({"inputResponses": answers, "requestState": state}),
        ALL_CAPS,
    );
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let (_, r) = request(
        &seal,
        &user("github:2"),
        "prompts/get",
        prompt,
        json!({"inputResponses": answers, "requestState": state}),
        ALL_CAPS,
    );
    assert_eq!(r["error"]["code"], -32602, "{r}");

    // A client that declared no elicitation is told what is missing (-32021, HTTP 400).
    let (status, r) = request(&seal, &me, "prompts/get", prompt, json!({}), "{}");
    assert_eq!(status, 400, "{r}");
    assert_eq!(r["error"]["code"], -32021, "{r}");
}

#[test]
fn the_round_that_finishes_a_legacy_call_sends_its_progress_and_logs() {
    let seal = TestSeal::new(1);
    let env = ToolEnv {
        http: &NoHttp,
        github_api_base: "",
        seal: &seal,
        math: &mcp_oauth_worker::mcp::tools::math::RustMath,
    };
    let catalog = Catalog::build(true);
    let finish = |tool: &str, token: Option<Value>, level: Option<LogLevel>| {
        let pending = PendingCall {
            request_id: RequestId::Number(3.into()),
            tool: tool.into(),
            arguments: json!({}),
            caps: all_caps(),
            progress_token: token,
            log_level: level,
            answers: Default::default(),
            requests: Default::default(),
            round: 2,
        };
        let out = pollster::block_on(continue_call(pending, vec![], &user("u"), &catalog, &env));
        let Continued::Done { notes, response } = out else {
            panic!("{out:?}")
        };
        assert_eq!(serde_json::to_value(&response).unwrap()["id"], 3);
        notes
    };
    // The call's progress token, kept while it waited, names every notification.
    let notes = finish("test_tool_with_progress", Some(json!("tok-1")), None);
    let progress: Vec<_> = notes
        .iter()
        .map(|n| (n["method"].clone(), n["params"]["progressToken"].clone()))
        .collect();
    assert_eq!(
        progress,
        vec![(json!("notifications/progress"), json!("tok-1")); 3]
    );
    assert!(finish("test_tool_with_progress", None, None).is_empty());
    // Logs at the session's level; none without one.
    let logs = finish("test_tool_with_logging", None, Some(LogLevel::Info));
    assert_eq!(logs.len(), 3);
    assert!(logs.iter().all(|n| n["method"] == "notifications/message"));
    assert!(finish("test_tool_with_logging", None, Some(LogLevel::Error)).is_empty());
    assert!(finish("test_tool_with_logging", None, None).is_empty());
}
