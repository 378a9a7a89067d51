//! The MCP endpoint through its public API: HTTP-level rules of Streamable HTTP (2025-03-26 to
//! 2026-07-28), sessions, tools, step-up authorization, and the shipped tools, with a fake
//! outbound HTTP client that records what would have been sent upstream.

use mcp_oauth_worker::config::Secret;
use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::mcp::{
    check_origin, handle, Catalog, Endpoint, McpOutcome, McpRequest, Session, SessionChange, Tool,
    ToolCall, ToolEnv, ToolOutput, ToolRegistry,
};
use mcp_oauth_worker::outbound::LocalBoxFuture;
use mcp_oauth_worker::user::{UserContext, UserProfile};
use serde_json::{json, Value};

mod common;

use common::http::FakeHttp;

const PRM: &str = "https://mcp.example/.well-known/oauth-protected-resource/mcp";
const NEW_SID: &str = "sid-new-0123";
const GITHUB_TOKEN: &str = "gho_UpstreamSecretToken123456";
const GITHUB_BASE: &str = "http://127.0.0.1:4010";

struct Harness {
    catalog: Catalog,
    http: FakeHttp,
    user: UserContext,
}

/// A request as a client would send it; tests change what they are about.
#[derive(Clone)]
struct Post {
    method: &'static str,
    accept: Option<&'static str>,
    content_type: Option<&'static str>,
    version: Option<&'static str>,
    session_id: Option<&'static str>,
    mcp_method: Option<&'static str>,
    mcp_name: Option<&'static str>,
    endpoint: Endpoint,
    body: String,
}

fn post(body: Value) -> Post {
    Post {
        method: "POST",
        accept: Some("application/json, text/event-stream"),
        content_type: Some("application/json"),
        version: None,
        session_id: None,
        mcp_method: None,
        mcp_name: None,
        endpoint: Endpoint::Mcp,
        body: body.to_string(),
    }
}

impl Post {
    fn in_session(mut self, version: &'static str) -> Post {
        self.session_id = Some("sid-1");
        self.version = Some(version);
        self
    }
}

fn github_user(scopes: &[&str]) -> UserContext {
    UserContext {
        user: UserProfile {
            id: "github:583231".into(),
            login: "octocat".into(),
            name: Some("The Octocat".into()),
            email: Some("octocat@github.example".into()),
            provider: "github".into(),
        },
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        client_id: Some("https://client.example/meta.json".into()),
        upstream_token: Some(Secret::new(GITHUB_TOKEN)),
    }
}

impl Harness {
    fn new() -> Harness {
        Harness {
            catalog: Catalog::shipped(),
            // Every request fails until a test sets an answer.
            http: FakeHttp::always(Err("no answer configured".into())),
            user: github_user(&["mcp", "github:repos"]),
        }
    }

    fn send(&self, p: &Post, existing: Option<Session>) -> McpOutcome {
        let req = McpRequest {
            http_method: p.method,
            accept: p.accept,
            content_type: p.content_type,
            protocol_version: p.version,
            session_id: p.session_id,
            body: p.body.as_bytes(),
            resource_metadata_url: PRM,
            mcp_method: p.mcp_method,
            mcp_name: p.mcp_name,
            endpoint: p.endpoint,
            headers: None,
        };
        let seal = common::mcp_seal::TestSeal::new(1_000);
        let env = ToolEnv {
            http: &self.http,
            github_api_base: GITHUB_BASE,
            seal: &seal,
            math: &mcp_oauth_worker::mcp::tools::math::RustMath,
        };
        let outcome = pollster::block_on(handle(
            req,
            existing,
            NEW_SID,
            &self.user,
            &self.catalog,
            &env,
        ));
        let reply = &outcome.reply;
        if reply.status >= 400 {
            assert_eq!(
                reply.header_value("content-type"),
                Some("application/json"),
                "every error reply has a JSON body"
            );
            let body: Value = serde_json::from_slice(&reply.body).expect("error body is JSON");
            assert!(body.is_object() || body.is_array());
        }
        outcome
    }

    /// A request inside an existing session of `version`.
    fn in_session(&self, version: &'static str, body: Value) -> McpOutcome {
        self.send(&post(body).in_session(version), Some(session(version)))
    }
}

fn session(version: &str) -> Session {
    Session::create("sid-1", version, None)
}

fn json_body(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&reply.body)
        )
    })
}

fn initialize(version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "test-client", "version": "9.9"}}})
}

fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn call(id: i64, tool: &str, arguments: Value) -> Value {
    request(
        id,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
}

fn modern_meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
           "io.modelcontextprotocol/clientCapabilities": {}})
}

// ---------------------------------------------------------------------------------------------
// Lifecycle: initialize and version negotiation
// ---------------------------------------------------------------------------------------------

#[test]
fn initialize_without_session_creates_one_and_returns_its_id_in_the_header() {
    let h = Harness::new();
    let out = h.send(&post(initialize("2025-06-18")), None);
    assert_eq!(out.reply.status, 200);
    assert_eq!(out.reply.header_value("Mcp-Session-Id"), Some(NEW_SID));
    let body = json_body(&out.reply);
    assert_eq!(body["id"], json!(1));
    let result = &body["result"];
    assert_eq!(result["protocolVersion"], json!("2025-06-18"));
    assert_eq!(
        result["capabilities"],
        json!({"tools": {"listChanged": false},
               "resources": {"subscribe": true, "listChanged": false},
               "prompts": {"listChanged": false}, "completions": {}, "logging": {}})
    );
    assert_eq!(result["serverInfo"]["name"], json!("mcp-oauth-worker"));
    assert_eq!(
        result["serverInfo"]["version"],
        json!(env!("CARGO_PKG_VERSION"))
    );
    assert!(result["instructions"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    let SessionChange::Store(s) = out.session else {
        panic!("initialize must store the session")
    };
    assert_eq!(s.id, NEW_SID);
    assert_eq!(s.protocol_version, "2025-06-18");
    assert_eq!(s.client_info.unwrap().name, "test-client");
    assert!(!s.initialized);
}

#[test]
fn a_supported_requested_version_is_used_and_an_unsupported_one_gets_the_latest() {
    let h = Harness::new();
    for (asked, agreed) in [
        ("2025-03-26", "2025-03-26"),
        ("2025-11-25", "2025-11-25"),
        ("2024-11-05", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
        // 2026-07-28 has no initialize handshake: initialize always selects a legacy version.
        ("2026-07-28", "2025-11-25"),
    ] {
        let out = h.send(&post(initialize(asked)), None);
        assert_eq!(
            json_body(&out.reply)["result"]["protocolVersion"],
            json!(agreed),
            "asked {asked}"
        );
    }
}

#[test]
fn initialize_without_protocol_version_is_invalid_params_and_creates_nothing() {
    let h = Harness::new();
    let out = h.send(&post(request(1, "initialize", json!({}))), None);
    assert_eq!(out.reply.status, 400);
    assert_eq!(json_body(&out.reply)["error"]["code"], json!(-32602));
    assert_eq!(out.session, SessionChange::Unchanged);
}

#[test]
fn initialize_with_a_stale_session_id_starts_a_new_session() {
    let h = Harness::new();
    let mut p = post(initialize("2025-11-25"));
    p.session_id = Some("gone");
    let out = h.send(&p, None);
    assert_eq!(out.reply.status, 200);
    assert_eq!(out.reply.header_value("Mcp-Session-Id"), Some(NEW_SID));
    assert!(matches!(out.session, SessionChange::Store(s) if s.id == NEW_SID));
}

#[test]
fn initialized_notification_is_202_and_marks_the_session() {
    let h = Harness::new();
    let out = h.in_session(
        "2025-11-25",
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    assert_eq!(out.reply.status, 202);
    assert!(out.reply.body.is_empty());
    let SessionChange::Store(s) = out.session else {
        panic!("the initialized flag must be stored")
    };
    assert!(s.initialized);
}

#[test]
fn requests_before_initialized_are_still_answered() {
    let h = Harness::new();
    let out = h.in_session("2025-11-25", request(2, "tools/list", json!({})));
    assert_eq!(out.reply.status, 200);
    assert!(json_body(&out.reply)["result"]["tools"].is_array());
}

// ---------------------------------------------------------------------------------------------
// Sessions and the protocol version header
// ---------------------------------------------------------------------------------------------

#[test]
fn a_post_other_than_initialize_without_session_id_is_400() {
    let h = Harness::new();
    let out = h.send(&post(request(5, "tools/list", json!({}))), None);
    assert_eq!(out.reply.status, 400);
    let body = json_body(&out.reply);
    assert_eq!(body["id"], json!(5));
    assert_eq!(body["error"]["code"], json!(-32600));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Mcp-Session-Id"));
}

#[test]
fn an_unknown_session_is_404_so_the_client_initializes_again() {
    let h = Harness::new();
    let p = post(request(1, "ping", json!({}))).in_session("2025-11-25");
    let out = h.send(&p, None);
    assert_eq!(out.reply.status, 404);
    assert!(json_body(&out.reply)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("session not found or ended; initialize again"));
    // A session loaded for another id is not this one either.
    let out = h.send(&p, Some(Session::create("other", "2025-11-25", None)));
    assert_eq!(out.reply.status, 404);
}

#[test]
fn the_protocol_version_header_must_equal_the_negotiated_version() {
    let h = Harness::new();
    let mut p = post(request(1, "ping", json!({}))).in_session("2025-06-18");
    let ok = h.send(&p, Some(session("2025-06-18")));
    assert_eq!(ok.reply.status, 200);
    assert_eq!(json_body(&ok.reply)["result"], json!({}));

    p.version = Some("2025-11-25");
    let out = h.send(&p, Some(session("2025-06-18")));
    assert_eq!(out.reply.status, 400);
    assert!(json_body(&out.reply)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("does not match"));
}

#[test]
fn a_missing_protocol_version_header_is_accepted_only_for_2025_03_26_sessions() {
    let h = Harness::new();
    let mut p = post(request(1, "ping", json!({}))).in_session("2025-03-26");
    p.version = None;
    assert_eq!(h.send(&p, Some(session("2025-03-26"))).reply.status, 200);
    for version in ["2025-06-18", "2025-11-25"] {
        let out = h.send(&p, Some(session(version)));
        assert_eq!(out.reply.status, 400, "{version}");
        assert!(json_body(&out.reply)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MCP-Protocol-Version header is missing"));
    }
}

#[test]
fn an_unsupported_protocol_version_header_is_400_listing_the_supported_ones() {
    let h = Harness::new();
    let mut p = post(request(3, "ping", json!({}))).in_session("2025-11-25");
    p.version = Some("2099-01-01");
    let out = h.send(&p, Some(session("2025-11-25")));
    assert_eq!(out.reply.status, 400);
    assert_eq!(
        json_body(&out.reply),
        json!({"jsonrpc": "2.0", "id": 3, "error": {
            "code": -32022, "message": "Unsupported protocol version",
            "data": {"supported": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"],
                     "requested": "2099-01-01"}}})
    );
}

#[test]
fn delete_ends_the_session() {
    let h = Harness::new();
    let mut p = post(json!(null)).in_session("2025-11-25");
    p.method = "DELETE";
    p.body.clear();
    let out = h.send(&p, Some(session("2025-11-25")));
    assert_eq!(out.reply.status, 204);
    assert_eq!(out.session, SessionChange::Delete);

    let unknown = h.send(&p, None);
    assert_eq!(unknown.reply.status, 404);
    assert_eq!(unknown.session, SessionChange::Unchanged);

    p.session_id = None;
    let missing = h.send(&p, None);
    assert_eq!(missing.reply.status, 400);
    assert_eq!(missing.session, SessionChange::Unchanged);
}

// ---------------------------------------------------------------------------------------------
// HTTP rules: methods, Accept, Content-Type, 202, SSE
// ---------------------------------------------------------------------------------------------

#[test]
fn get_and_other_methods_are_405_with_allow() {
    let h = Harness::new();
    for method in ["GET", "PUT", "PATCH", "OPTIONS"] {
        let mut p = post(json!(null));
        p.method = method;
        let out = h.send(&p, None);
        assert_eq!(out.reply.status, 405, "{method}");
        assert_eq!(out.reply.header_value("Allow"), Some("POST, DELETE"));
    }
}

#[test]
fn post_needs_an_accept_header_allowing_json_or_sse() {
    let h = Harness::new();
    let mut p = post(initialize("2025-11-25"));
    p.accept = Some("text/html");
    let out = h.send(&p, None);
    assert_eq!(out.reply.status, 406);
    assert_eq!(out.session, SessionChange::Unchanged);
    for lenient in [None, Some("*/*"), Some("application/json")] {
        p.accept = lenient;
        assert_eq!(h.send(&p, None).reply.status, 200, "{lenient:?}");
    }
}

#[test]
fn post_content_type_must_be_json() {
    let h = Harness::new();
    let mut p = post(initialize("2025-11-25"));
    for bad in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        p.content_type = bad;
        assert_eq!(h.send(&p, None).reply.status, 415, "{bad:?}");
    }
    p.content_type = Some("application/json; charset=utf-8");
    assert_eq!(h.send(&p, None).reply.status, 200);
}

#[test]
fn the_answer_is_json_unless_the_client_accepts_only_event_streams() {
    let h = Harness::new();
    let mut p = post(request(4, "ping", json!({}))).in_session("2025-11-25");
    let out = h.send(&p, Some(session("2025-11-25")));
    assert_eq!(
        out.reply.header_value("Content-Type"),
        Some("application/json")
    );

    p.accept = Some("text/event-stream");
    let out = h.send(&p, Some(session("2025-11-25")));
    assert_eq!(out.reply.status, 200);
    assert_eq!(
        out.reply.header_value("Content-Type"),
        Some("text/event-stream")
    );
    assert_eq!(
        String::from_utf8(out.reply.body).unwrap(),
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{}}\n\n"
    );
}

#[test]
fn error_statuses_stay_json_even_for_event_stream_only_clients() {
    let h = Harness::new();
    let mut p = modern("no/such_method", json!({}));
    p.accept = Some("text/event-stream");
    let out = h.send(&p, None);
    assert_eq!(out.reply.status, 404);
    assert_eq!(json_body(&out.reply)["error"]["code"], json!(-32601));
}

#[test]
fn initialize_over_sse_still_carries_the_session_header() {
    let h = Harness::new();
    let mut p = post(initialize("2025-11-25"));
    p.accept = Some("text/event-stream");
    let out = h.send(&p, None);
    assert_eq!(
        out.reply.header_value("Content-Type"),
        Some("text/event-stream")
    );
    assert_eq!(out.reply.header_value("Mcp-Session-Id"), Some(NEW_SID));
}

#[test]
fn notifications_and_responses_only_get_202_with_no_body() {
    let h = Harness::new();
    for body in [
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
               "params": {"requestId": 3, "reason": "user"}}),
        json!({"jsonrpc": "2.0", "method": "notifications/something_new"}),
        json!({"jsonrpc": "2.0", "id": "srv-1", "result": {}}),
    ] {
        let out = h.in_session("2025-11-25", body.clone());
        assert_eq!(out.reply.status, 202, "{body}");
        assert!(out.reply.body.is_empty());
        assert_eq!(out.session, SessionChange::Unchanged);
    }
}

#[test]
fn malformed_bodies_are_400_with_json_rpc_errors() {
    let h = Harness::new();
    let mut p = post(json!(null)).in_session("2025-11-25");
    p.body = "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\"".into();
    let out = h.send(&p, Some(session("2025-11-25")));
    assert_eq!(out.reply.status, 400);
    assert_eq!(json_body(&out.reply)["error"]["code"], json!(-32700));
    assert_eq!(json_body(&out.reply)["id"], json!(null));

    p.body = json!({"jsonrpc": "1.0", "id": 9, "method": "ping"}).to_string();
    let out = h.send(&p, Some(session("2025-11-25")));
    assert_eq!(out.reply.status, 400);
    assert_eq!(json_body(&out.reply)["error"]["code"], json!(-32600));
    assert_eq!(json_body(&out.reply)["id"], json!(9));
}

#[test]
fn unknown_methods_are_method_not_found() {
    let h = Harness::new();
    let out = h.in_session(
        "2025-11-25",
        request(1, "sampling/createMessage", json!({})),
    );
    assert_eq!(out.reply.status, 200);
    assert_eq!(json_body(&out.reply)["error"]["code"], json!(-32601));
}

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

#[test]
fn batches_are_accepted_in_2025_03_26_sessions() {
    let h = Harness::new();
    let mut p = post(json!([
        request(1, "ping", json!({})),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        call(2, "calculate", json!({"expression": "6*7"})),
        "not a message"
    ]))
    .in_session("2025-03-26");
    p.version = None;
    let out = h.send(&p, Some(session("2025-03-26")));
    assert_eq!(out.reply.status, 200);
    let body = json_body(&out.reply);
    let items = body.as_array().expect("a batch is answered with an array");
    assert_eq!(
        items.len(),
        3,
        "one response per request, none for notifications"
    );
    assert_eq!(items[0], json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
    assert_eq!(
        items[1]["result"]["structuredContent"]["result"],
        json!(42.0)
    );
    assert_eq!(items[2]["error"]["code"], json!(-32600));
    assert_eq!(items[2]["id"], json!(null));
    assert!(matches!(out.session, SessionChange::Store(s) if s.initialized));
}

#[test]
fn a_batch_of_notifications_only_is_202() {
    let h = Harness::new();
    let mut p = post(json!([{"jsonrpc": "2.0", "method": "notifications/initialized"}]))
        .in_session("2025-03-26");
    p.version = Some("2025-03-26");
    let out = h.send(&p, Some(session("2025-03-26")));
    assert_eq!(out.reply.status, 202);
}

#[test]
fn batches_are_refused_in_later_versions_with_one_invalid_request_error() {
    let h = Harness::new();
    for version in ["2025-06-18", "2025-11-25"] {
        let out = h.in_session(version, json!([request(1, "ping", json!({}))]));
        assert_eq!(out.reply.status, 400, "{version}");
        let body = json_body(&out.reply);
        assert!(body.is_object(), "one error, not an array");
        assert_eq!(body["error"]["code"], json!(-32600));
        assert_eq!(body["id"], json!(null));
    }
}

#[test]
fn an_empty_batch_is_an_invalid_request() {
    let h = Harness::new();
    let mut p = post(json!([])).in_session("2025-03-26");
    p.version = None;
    let out = h.send(&p, Some(session("2025-03-26")));
    assert_eq!(out.reply.status, 400);
    assert_eq!(json_body(&out.reply)["error"]["code"], json!(-32600));
}

#[test]
fn a_batch_over_the_cap_is_refused_whole_with_a_clear_error() {
    let h = Harness::new();
    let cap = mcp_oauth_worker::mcp::jsonrpc::MAX_BATCH_LEN;
    let batch = |n: usize| {
        let mut items = vec![json!({"jsonrpc": "2.0", "method": "notifications/initialized"})];
        items.extend((1..n).map(|i| request(i as i64, "ping", json!({}))));
        let mut p = post(Value::Array(items)).in_session("2025-03-26");
        p.version = None;
        h.send(&p, Some(session("2025-03-26")))
    };
    let at_cap = batch(cap);
    assert_eq!(at_cap.reply.status, 200);
    assert_eq!(json_body(&at_cap.reply).as_array().unwrap().len(), cap - 1);

    let over = batch(cap + 1);
    assert_eq!(over.reply.status, 400);
    let body = json_body(&over.reply);
    assert!(body.is_object(), "one error for the whole batch");
    assert_eq!(body["id"], json!(null));
    assert_eq!(body["error"]["code"], json!(-32600));
    assert_eq!(body["error"]["data"]["maxBatchLength"], json!(cap));
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("at most {cap}")),
        "the message names the cap: {message}"
    );
    assert_eq!(
        over.session,
        SessionChange::Unchanged,
        "nothing in a refused batch runs, not even its notification"
    );
}

#[test]
fn get_at_the_sse_url_is_405_naming_mcp_and_posts_there_are_served() {
    let h = Harness::new();
    let mut p = post(json!(null));
    p.method = "GET";
    p.endpoint = Endpoint::Sse;
    let out = h.send(&p, None);
    assert_eq!(out.reply.status, 405);
    assert_eq!(out.reply.header_value("Allow"), Some("POST, DELETE"));
    assert!(json_body(&out.reply)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/mcp"));

    let mut p = post(initialize("2025-06-18"));
    p.endpoint = Endpoint::Sse;
    let out = h.send(&p, None);
    assert_eq!(out.reply.status, 200);
    assert_eq!(out.reply.header_value("Mcp-Session-Id"), Some(NEW_SID));
}

#[test]
fn initialize_inside_a_batch_is_invalid() {
    let h = Harness::new();
    let out = h.send(&post(json!([initialize("2025-03-26")])), None);
    assert_eq!(out.reply.status, 400);
    assert!(json_body(&out.reply)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("initialize must be sent on its own"));
    assert_eq!(out.session, SessionChange::Unchanged);

    let mut p = post(json!([initialize("2025-03-26")])).in_session("2025-03-26");
    p.version = None;
    let out = h.send(&p, Some(session("2025-03-26")));
    assert_eq!(json_body(&out.reply)[0]["error"]["code"], json!(-32600));
    assert_eq!(out.session, SessionChange::Unchanged);
}

// ---------------------------------------------------------------------------------------------
// Logging
// ---------------------------------------------------------------------------------------------

#[test]
fn logging_set_level_stores_an_rfc_5424_level_and_refuses_others() {
    let h = Harness::new();
    let out = h.in_session(
        "2025-11-25",
        request(1, "logging/setLevel", json!({"level": "warning"})),
    );
    assert_eq!(json_body(&out.reply)["result"], json!({}));
    let SessionChange::Store(s) = out.session else {
        panic!("the level must be stored")
    };
    assert_eq!(serde_json::to_value(s.log_level).unwrap(), json!("warning"));

    let out = h.in_session(
        "2025-11-25",
        request(2, "logging/setLevel", json!({"level": "verbose"})),
    );
    assert_eq!(json_body(&out.reply)["error"]["code"], json!(-32602));
    assert_eq!(out.session, SessionChange::Unchanged);
}

// ---------------------------------------------------------------------------------------------
// Tools: list and call
// ---------------------------------------------------------------------------------------------

fn numbered<'a>(_: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async { ToolOutput::text("done") })
}

fn big_registry(n: usize) -> ToolRegistry {
    let mut r = ToolRegistry::new();
    for i in 0..n {
        r.register(Tool::new(
            format!("tool_{i:03}"),
            "a numbered tool",
            json!({"type": "object"}),
            numbered,
        ))
        .unwrap();
    }
    r
}

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

// ---------------------------------------------------------------------------------------------
// The shipped tools through the endpoint
// ---------------------------------------------------------------------------------------------

fn tool_result(h: &Harness, tool: &str, arguments: Value) -> Value {
    let out = h.in_session("2025-11-25", call(1, tool, arguments));
    assert_eq!(out.reply.status, 200);
    json_body(&out.reply)["result"].clone()
}

#[test]
fn calculate_power_is_right_associative_and_binds_tighter_than_unary_minus() {
    let h = Harness::new();
    let r = tool_result(&h, "calculate", json!({"expression": "2^3^2"}));
    assert_eq!(r["structuredContent"]["result"], json!(512.0));
    assert_eq!(r["content"][0]["text"], json!("2^3^2 = 512"));
    let r = tool_result(&h, "calculate", json!({"expression": "-2^2"}));
    assert_eq!(r["structuredContent"]["result"], json!(-4.0));
    assert_eq!(r["isError"], json!(false));
}

#[test]
fn calculate_failures_are_is_error_results() {
    let h = Harness::new();
    for (expression, says) in [
        ("1/0", "division by zero at position 2"),
        ("5 % 0", "modulo by zero at position 3"),
        ("(1+2", "missing ')'"),
        ("1 + + ", "syntax error at position 7"),
        ("foo(2)", "unknown name 'foo' at position 1"),
        ("", "the expression is empty"),
        ("10^1000", "not a finite number (overflow)"),
    ] {
        let r = tool_result(&h, "calculate", json!({"expression": expression}));
        assert_eq!(r["isError"], json!(true), "{expression}");
        assert!(
            r["content"][0]["text"].as_str().unwrap().contains(says),
            "{expression}: {}",
            r["content"][0]["text"]
        );
    }
    let long = "1+".repeat(600) + "1";
    let r = tool_result(&h, "calculate", json!({"expression": long}));
    assert_eq!(r["isError"], json!(true));
    let deep = "(".repeat(200) + "1" + &")".repeat(200);
    let r = tool_result(&h, "calculate", json!({"expression": deep}));
    assert!(r["content"][0]["text"].as_str().unwrap().contains("nested"));
}

#[test]
fn whoami_reports_the_user_and_the_token_scopes() {
    let h = Harness::new();
    let r = tool_result(&h, "whoami", json!({}));
    assert_eq!(
        r["structuredContent"],
        json!({"id": "github:583231", "login": "octocat", "name": "The Octocat",
               "email": "octocat@github.example", "provider": "github",
               "scopes": ["mcp", "github:repos"],
               "client_id": "https://client.example/meta.json"})
    );
}

#[test]
fn list_github_repos_sends_the_exact_request_and_never_reveals_the_token() {
    let h = Harness::new();
    h.http.answer_json(
        200,
        &json!([{"full_name": "octocat/Hello-World", "private": false,
                 "description": "My first repository", "stargazers_count": 80,
                 "html_url": "https://github.com/octocat/Hello-World",
                 "updated_at": "2026-03-01T10:00:00Z"}])
        .to_string(),
    );
    let out = h.in_session(
        "2025-11-25",
        call(
            1,
            "list_github_repos",
            json!({"per_page": 10, "sort": "full_name"}),
        ),
    );
    let seen = h.http.requests();
    assert_eq!(seen.len(), 1);
    let sent = &seen[0];
    assert_eq!(sent.method, "GET");
    assert_eq!(
        sent.url,
        "http://127.0.0.1:4010/user/repos?per_page=10&sort=full_name"
    );
    let header = |name: &str| {
        sent.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        header("Authorization"),
        Some("Bearer gho_UpstreamSecretToken123456")
    );
    assert_eq!(header("Accept"), Some("application/vnd.github+json"));
    assert_eq!(header("User-Agent"), Some("mcp-oauth-worker"));
    assert_eq!(header("X-GitHub-Api-Version"), Some("2022-11-28"));

    let body = String::from_utf8(out.reply.body.clone()).unwrap();
    assert!(
        !body.contains(GITHUB_TOKEN),
        "the token must never reach the client"
    );
    let r = &json_body(&out.reply)["result"];
    assert_eq!(r["isError"], json!(false));
    assert_eq!(
        r["structuredContent"]["repositories"][0],
        json!({"full_name": "octocat/Hello-World", "private": false,
               "description": "My first repository", "html_url": "https://github.com/octocat/Hello-World",
               "stargazers_count": 80, "updated_at": "2026-03-01T10:00:00Z"})
    );
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("octocat/Hello-World (public): My first repository"));
    assert!(text.contains("https://github.com/octocat/Hello-World"));
}

#[test]
fn list_github_repos_explains_a_revoked_github_token() {
    let h = Harness::new();
    h.http.answer_json(401, r#"{"message":"Bad credentials"}"#);
    let out = h.in_session("2025-11-25", call(1, "list_github_repos", json!({})));
    assert!(!String::from_utf8_lossy(&out.reply.body).contains(GITHUB_TOKEN));
    let r = &json_body(&out.reply)["result"];
    assert_eq!(r["isError"], json!(true));
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("revoked or has expired"), "{text}");
    assert!(text.contains("sign in with GitHub again"), "{text}");
}

#[test]
fn list_github_repos_needs_a_github_sign_in() {
    let mut h = Harness::new();
    h.user.user.provider = "google".into();
    h.user.upstream_token = Some(Secret::new("ya29.google-token"));
    let r = tool_result(&h, "list_github_repos", json!({}));
    assert_eq!(r["isError"], json!(true));
    assert_eq!(
        r["content"][0]["text"],
        json!("This tool needs a GitHub sign-in; this server signs users in with google.")
    );
    assert!(h.http.requests().is_empty());
}

#[test]
fn list_github_repos_reports_network_failures_without_the_token() {
    let h = Harness::new();
    h.http
        .answer_always(Err(format!("TLS error talking with Bearer {GITHUB_TOKEN}")));
    let out = h.in_session("2025-11-25", call(1, "list_github_repos", json!({})));
    let raw = String::from_utf8(out.reply.body.clone()).unwrap();
    assert!(!raw.contains(GITHUB_TOKEN));
    assert_eq!(json_body(&out.reply)["result"]["isError"], json!(true));
}

// ---------------------------------------------------------------------------------------------
// 2026-07-28: stateless requests
// ---------------------------------------------------------------------------------------------

fn modern(method: &'static str, params: Value) -> Post {
    let mut params = params;
    params["_meta"] = modern_meta();
    let mut p = post(request(11, method, params));
    p.version = Some("2026-07-28");
    p.mcp_method = Some(method);
    p
}

#[test]
fn modern_server_discover_advertises_versions_and_capabilities_without_a_session() {
    let h = Harness::new();
    let out = h.send(&modern("server/discover", json!({})), None);
    assert_eq!(out.reply.status, 200);
    assert_eq!(out.session, SessionChange::Unchanged);
    assert_eq!(out.reply.header_value("Mcp-Session-Id"), None);
    let r = &json_body(&out.reply)["result"];
    assert_eq!(r["resultType"], json!("complete"));
    assert_eq!(
        r["supportedVersions"],
        json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
    );
    assert_eq!(
        r["capabilities"],
        json!({"tools": {"listChanged": false}, "resources": {"listChanged": false},
               "prompts": {"listChanged": false}, "completions": {}, "logging": {}})
    );
    assert_eq!(r["cacheScope"], json!("private"));
    assert!(r["ttlMs"].as_u64().is_some());
    assert_eq!(
        r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        json!("mcp-oauth-worker")
    );
}

#[test]
fn modern_tools_list_and_call_carry_result_type() {
    let h = Harness::new();
    let out = h.send(&modern("tools/list", json!({})), None);
    let r = &json_body(&out.reply)["result"];
    assert_eq!(r["resultType"], json!("complete"));
    assert_eq!(r["tools"].as_array().unwrap().len(), 4);
    assert!(r["ttlMs"].is_u64());

    let mut p = modern(
        "tools/call",
        json!({"name": "calculate", "arguments": {"expression": "2^10"}}),
    );
    p.mcp_name = Some("calculate");
    let out = h.send(&p, None);
    assert_eq!(out.reply.status, 200);
    let r = &json_body(&out.reply)["result"];
    assert_eq!(r["resultType"], json!("complete"));
    assert_eq!(r["structuredContent"]["result"], json!(1024.0));
    assert!(r.get("ttlMs").is_none(), "tool results are not cacheable");
}

#[test]
fn modern_requests_need_headers_that_match_the_body() {
    let h = Harness::new();
    let code = |p: &Post| {
        let out = h.send(p, None);
        (
            out.reply.status,
            json_body(&out.reply)["error"]["code"].clone(),
        )
    };
    let mismatch = (400, json!(-32020));

    let mut p = modern("tools/list", json!({}));
    p.mcp_method = None;
    assert_eq!(code(&p), mismatch, "Mcp-Method is required");
    p.mcp_method = Some("tools/call");
    assert_eq!(
        code(&p),
        mismatch,
        "Mcp-Method must equal the body's method"
    );

    let mut p = modern("tools/list", json!({}));
    p.version = None;
    assert_eq!(code(&p), mismatch, "MCP-Protocol-Version is required");

    let mut p = modern("tools/list", json!({}));
    p.body = request(
        11,
        "tools/list",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2025-11-25",
                         "io.modelcontextprotocol/clientCapabilities": {}}}),
    )
    .to_string();
    assert_eq!(
        code(&p),
        mismatch,
        "_meta protocolVersion must equal the header"
    );

    let mut p = modern("tools/call", json!({"name": "whoami"}));
    assert_eq!(code(&p), mismatch, "Mcp-Name is required for tools/call");
    p.mcp_name = Some("calculate");
    assert_eq!(code(&p), mismatch, "Mcp-Name must equal params.name");
    p.mcp_name = Some("=?base64?d2hvYW1p?=");
    assert_eq!(
        h.send(&p, None).reply.status,
        200,
        "Base64 sentinel is decoded"
    );
}

#[test]
fn modern_requests_without_a_complete_meta_are_invalid_params_with_400_and_their_id() {
    let h = Harness::new();
    let version = "io.modelcontextprotocol/protocolVersion";
    let caps = "io.modelcontextprotocol/clientCapabilities";
    for (why, params) in [
        ("no _meta", json!({})),
        ("_meta not an object", json!({"_meta": "2026-07-28"})),
        ("no protocolVersion", json!({"_meta": {caps: {}}})),
        (
            "protocolVersion not a string",
            json!({"_meta": {version: 20260728, caps: {}}}),
        ),
        (
            "no clientCapabilities",
            json!({"_meta": {version: "2026-07-28"}}),
        ),
        (
            "clientCapabilities not an object",
            json!({"_meta": {version: "2026-07-28", caps: []}}),
        ),
    ] {
        for method in ["server/discover", "tools/list"] {
            let mut p = modern(method, json!({}));
            p.body = json!({"jsonrpc": "2.0", "id": "req-7", "method": method, "params": params})
                .to_string();
            let out = h.send(&p, None);
            assert_eq!(out.reply.status, 400, "{why}: {method}");
            let body = json_body(&out.reply);
            assert_eq!(body["error"]["code"], json!(-32602), "{why}: {method}");
            assert_eq!(body["id"], json!("req-7"), "{why}: the request id is kept");
        }
    }
    // clientInfo is a SHOULD: a request without it is served.
    let out = h.send(&modern("server/discover", json!({})), None);
    assert_eq!(out.reply.status, 200);
}

#[test]
fn modern_list_results_all_carry_ttl_and_cache_scope_on_every_page() {
    let mut h = Harness::new();
    h.catalog.tools = big_registry(120);
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let r = json_body(&h.send(&modern("tools/list", params), None).reply)["result"].clone();
        assert!(r["ttlMs"].is_u64(), "page {pages}: {r}");
        assert_eq!(r["cacheScope"], json!("private"), "page {pages}");
        assert_eq!(r["resultType"], json!("complete"));
        pages += 1;
        match r.get("nextCursor") {
            Some(Value::String(c)) => cursor = Some(c.clone()),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    let r = json_body(&h.send(&modern("server/discover", json!({})), None).reply)["result"].clone();
    assert!(r["ttlMs"].is_u64());
    assert_eq!(r["cacheScope"], json!("private"));
}

#[test]
fn tools_list_order_is_the_registration_order_in_every_era_and_every_time() {
    let h = Harness::new();
    let names = |body: Value| -> Vec<String> {
        body["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let expected = ["whoami", "calculate", "calculate_all", "list_github_repos"];
    for _ in 0..3 {
        let legacy = h.in_session("2025-11-25", request(1, "tools/list", json!({})));
        assert_eq!(names(json_body(&legacy.reply)), expected);
        let modern = h.send(&modern("tools/list", json!({})), None);
        assert_eq!(names(json_body(&modern.reply)), expected);
    }
}

#[test]
fn a_modern_initialize_without_protocol_version_is_a_removed_method_404() {
    let h = Harness::new();
    let out = h.send(&modern("initialize", json!({})), None);
    assert_eq!(out.reply.status, 404);
    assert_eq!(json_body(&out.reply)["error"]["code"], json!(-32601));
    assert_eq!(json_body(&out.reply)["id"], json!(11));
    assert_eq!(out.session, SessionChange::Unchanged, "no session opened");

    // With params.protocolVersion it is the legacy handshake, whatever the headers say.
    let mut p = modern(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "c", "version": "1"}}),
    );
    p.mcp_method = Some("initialize");
    let out = h.send(&p, None);
    assert_eq!(out.reply.status, 200);
    assert!(matches!(out.session, SessionChange::Store(_)));
}

#[test]
fn modern_unknown_methods_are_404_with_method_not_found() {
    let h = Harness::new();
    for method in [
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
    ] {
        let out = h.send(&modern(method, json!({})), None);
        assert_eq!(out.reply.status, 404, "{method}");
        assert_eq!(json_body(&out.reply)["error"]["code"], json!(-32601));
    }
}

#[test]
fn modern_requests_ignore_session_ids_and_refuse_batches() {
    let h = Harness::new();
    let mut p = modern("tools/list", json!({}));
    p.session_id = Some("whatever");
    let out = h.send(&p, None);
    assert_eq!(out.reply.status, 200);
    assert_eq!(out.session, SessionChange::Unchanged);

    let mut p = modern("tools/list", json!({}));
    p.body = json!([serde_json::from_str::<Value>(&p.body).unwrap()]).to_string();
    let out = h.send(&p, None);
    assert_eq!(out.reply.status, 400);
    assert_eq!(json_body(&out.reply)["error"]["code"], json!(-32600));
}

#[test]
fn a_modern_step_up_is_the_same_403_challenge() {
    let mut h = Harness::new();
    h.user = github_user(&["mcp"]);
    let mut p = modern("tools/call", json!({"name": "list_github_repos"}));
    p.mcp_name = Some("list_github_repos");
    let out = h.send(&p, None);
    assert_eq!(out.reply.status, 403);
    assert!(out
        .reply
        .header_value("WWW-Authenticate")
        .unwrap()
        .contains("scope=\"github:repos\""));
}

#[test]
fn a_modern_notification_is_202() {
    let h = Harness::new();
    let mut p = post(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                             "params": {"requestId": 1}}),
    );
    p.version = Some("2026-07-28");
    assert_eq!(h.send(&p, None).reply.status, 202);
}

// ---------------------------------------------------------------------------------------------
// Origin and robustness
// ---------------------------------------------------------------------------------------------

#[test]
fn origin_check_allows_absent_own_and_configured_origins_only() {
    let allowed = vec!["https://inspector.example".to_owned()];
    assert!(check_origin(None, "https://mcp.example", &allowed).is_ok());
    assert!(check_origin(Some("https://mcp.example"), "https://mcp.example", &allowed).is_ok());
    assert!(check_origin(
        Some("https://inspector.example"),
        "https://mcp.example",
        &allowed
    )
    .is_ok());
    let refused = check_origin(
        Some("https://evil.example"),
        "https://mcp.example",
        &allowed,
    )
    .unwrap_err();
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.header_value("content-type"),
        Some("application/json")
    );
    assert!(check_origin(
        Some("http://localhost:6274"),
        "https://mcp.example",
        &allowed
    )
    .is_err());
    assert!(check_origin(Some("http://localhost:6274"), "http://127.0.0.1:8787", &[]).is_ok());
}

#[test]
fn random_and_truncated_bodies_never_panic_and_errors_stay_json() {
    let mut h = Harness::new();
    h.http.answer_json(200, "[]");
    h.user = github_user(&["mcp"]);
    let samples = [
        initialize("2025-03-26").to_string(),
        json!([
            call(1, "calculate", json!({"expression": "((1+2)*3)^2"})),
            request(2, "tools/list", json!({"cursor": "x"}))
        ])
        .to_string(),
        modern("tools/call", json!({"name": "whoami"})).body,
    ];
    let mut state: u64 = 0xDEAD_BEEF_CAFE_F00D;
    for sample in &samples {
        for cut in 0..=sample.len() {
            for version in [None, Some("2025-03-26"), Some("2026-07-28"), Some("x")] {
                let mut p = post(json!(null));
                p.body = sample[..cut].to_owned();
                p.version = version;
                p.session_id = Some("sid-1");
                p.mcp_method = Some("tools/call");
                h.send(&p, Some(session("2025-03-26")));
                p.session_id = None;
                h.send(&p, None);
            }
        }
        // Flip bytes at pseudo-random places.
        for _ in 0..300 {
            let mut bytes = sample.clone().into_bytes();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state % bytes.len() as u64) as usize;
                bytes[i] = (state >> 32) as u8;
            }
            let mut p = post(json!(null)).in_session("2025-03-26");
            p.version = None;
            p.body = String::from_utf8_lossy(&bytes).into_owned();
            h.send(&p, Some(session("2025-03-26")));
        }
    }
}
