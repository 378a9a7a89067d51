//! Resources, prompts, completions, logging, progress, subscriptions and content types at
//! `/mcp`, in each protocol revision that has them; the conformance fixtures appear only when
//! built in. Driven through `mcp::handle` with the shipped catalog (and the fixtures).

mod common;

use common::NoHttp;

use common::mcp_seal::TestSeal;
use mcp_oauth_worker::mcp::session::{LogLevel, MAX_SUBSCRIPTIONS};
use mcp_oauth_worker::mcp::{
    handle, Catalog, HeaderSource, McpOutcome, McpRequest, Session, SessionChange, ToolEnv,
};
use mcp_oauth_worker::outbound::LocalBoxFuture;
use mcp_oauth_worker::user::{UserContext, UserProfile};
use serde_json::{json, Value};

fn user() -> UserContext {
    UserContext {
        user: UserProfile {
            id: "dev:alice".into(),
            login: "alice".into(),
            name: Some("Alice".into()),
            email: Some("alice@example.test".into()),
            provider: "dev".into(),
        },
        scopes: vec!["mcp".into()],
        client_id: Some("client-1".into()),
        upstream_token: None,
    }
}

const BOTH: &str = "application/json, text/event-stream";

fn send(catalog: &Catalog, session: Option<Session>, accept: &str, body: Value) -> McpOutcome {
    let body = body.to_string();
    let modern = session.is_none();
    let method = body_method(&body);
    let name: Option<&'static str> = serde_json::from_str::<Value>(&body).unwrap()["params"]
        ["name"]
        .as_str()
        .map(|n| leak(n.to_owned()));
    let req = McpRequest {
        http_method: "POST",
        accept: Some(accept),
        content_type: Some("application/json"),
        protocol_version: Some(match &session {
            Some(s) => leak(s.protocol_version.clone()),
            None => "2026-07-28",
        }),
        session_id: session.as_ref().map(|s| leak(s.id.clone())),
        body: body.as_bytes(),
        mcp_method: modern.then_some(method),
        mcp_name: if modern { name } else { None },
        ..Default::default()
    };
    let seal = TestSeal::new(1_000);
    let env = ToolEnv {
        http: &NoHttp,
        github_api_base: "",
        seal: &seal,
        math: &mcp_oauth_worker::mcp::tools::math::RustMath,
    };
    pollster::block_on(handle(req, session, "new-sid", &user(), catalog, &env))
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn body_method(body: &str) -> &'static str {
    let v: Value = serde_json::from_str(body).unwrap();
    leak(v["method"].as_str().unwrap_or("").to_owned())
}

fn legacy(version: &str) -> Session {
    let mut s = Session::create("sid-1", version, None);
    s.initialized = true;
    s
}

fn req(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
}

fn modern_req(method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}});
    req(method, params)
}

/// The JSON-RPC messages of a reply (one JSON body, or each SSE event's data).
fn messages(out: &McpOutcome) -> Vec<Value> {
    let body = String::from_utf8(out.reply.body.clone()).unwrap();
    if out.reply.header_value("Content-Type") == Some("text/event-stream") {
        body.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    } else {
        vec![serde_json::from_str(&body).unwrap()]
    }
}

fn result(out: &McpOutcome) -> Value {
    messages(out).last().unwrap().clone()
}

#[test]
fn resources_list_read_and_templates_show_the_shipped_profile() {
    let c = Catalog::build(false);
    let list = result(&send(
        &c,
        Some(legacy("2025-06-18")),
        BOTH,
        req("resources/list", json!({})),
    ));
    let uris: Vec<&str> = list["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, ["account://profile"]);
    let read = result(&send(
        &c,
        Some(legacy("2025-06-18")),
        BOTH,
        req("resources/read", json!({"uri": "account://profile"})),
    ));
    let contents = &read["result"]["contents"][0];
    assert_eq!(contents["mimeType"], "application/json");
    let profile: Value = serde_json::from_str(contents["text"].as_str().unwrap()).unwrap();
    assert_eq!(profile["login"], "alice");
    let templates = result(&send(
        &c,
        None,
        BOTH,
        modern_req("resources/templates/list", json!({})),
    ));
    assert_eq!(
        templates["result"]["resourceTemplates"][0]["uriTemplate"],
        "account://profile/{field}"
    );
    assert_eq!(templates["result"]["cacheScope"], "private");
    let field = result(&send(
        &c,
        None,
        BOTH,
        modern_req("resources/read", json!({"uri": "account://profile/email"})),
    ));
    assert_eq!(field["result"]["contents"][0]["text"], "alice@example.test");
    assert_eq!(field["result"]["cacheScope"], "private");
    assert!(field["result"]["ttlMs"].is_u64());
}

#[test]
fn an_unknown_resource_is_32002_before_2026_and_32602_with_the_uri_after() {
    let c = Catalog::build(false);
    for uri in ["nope://x", "account://profile/password"] {
        let old = result(&send(
            &c,
            Some(legacy("2025-11-25")),
            BOTH,
            req("resources/read", json!({"uri": uri})),
        ));
        assert_eq!(old["error"]["code"], -32002, "{uri}");
        assert_eq!(old["error"]["data"]["uri"], uri);
        let out = send(
            &c,
            None,
            BOTH,
            modern_req("resources/read", json!({"uri": uri})),
        );
        assert_eq!(out.reply.status, 200);
        let new = result(&out);
        assert_eq!(new["error"]["code"], -32602, "{uri}");
        assert_eq!(new["error"]["data"]["uri"], uri);
    }
    let missing = result(&send(
        &c,
        None,
        BOTH,
        modern_req("resources/read", json!({})),
    ));
    assert_eq!(missing["error"]["code"], -32602);
}

#[test]
fn prompts_get_fills_arguments_and_refuses_bad_ones() {
    let c = Catalog::build(false);
    let s = || Some(legacy("2025-06-18"));
    let list = result(&send(&c, s(), BOTH, req("prompts/list", json!({}))));
    assert_eq!(list["result"]["prompts"][0]["name"], "review_repository");
    let got = result(&send(
        &c,
        s(),
        BOTH,
        req(
            "prompts/get",
            json!({"name": "review_repository", "arguments": {"repository": "octo/hello", "focus": "tests"}}),
        ),
    ));
    let messages = got["result"]["messages"].as_array().unwrap();
    assert_eq!(messages[0]["content"]["type"], "resource");
    assert!(messages[1]["content"]["text"]
        .as_str()
        .unwrap()
        .contains("octo/hello"));
    for (params, why) in [
        (
            json!({"name": "review_repository", "arguments": {}}),
            "missing required",
        ),
        (
            json!({"name": "review_repository", "arguments": {"repository": 5}}),
            "not a string",
        ),
        (
            json!({"name": "review_repository", "arguments": {"repository": "a/b", "x": "y"}}),
            "unknown argument",
        ),
        (json!({"name": "nope"}), "unknown prompt"),
        (json!({}), "no name"),
    ] {
        let out = result(&send(&c, s(), BOTH, req("prompts/get", params)));
        assert_eq!(out["error"]["code"], -32602, "{why}");
    }
}

#[test]
fn completions_cover_prompt_arguments_and_template_variables() {
    let c = Catalog::build(false);
    let s = || Some(legacy("2025-11-25"));
    let p = result(&send(
        &c,
        s(),
        BOTH,
        req(
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "review_repository"}, "argument": {"name": "focus", "value": "te"}}),
        ),
    ));
    assert_eq!(p["result"]["completion"]["values"], json!(["tests"]));
    let t = result(&send(
        &c,
        s(),
        BOTH,
        req(
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "account://profile/{field}"}, "argument": {"name": "field", "value": "e"}}),
        ),
    ));
    assert_eq!(t["result"]["completion"]["values"], json!(["email"]));
    for params in [
        json!({"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "a", "value": ""}}),
        json!({"ref": {"type": "ref/prompt", "name": "review_repository"}, "argument": {"name": "nope", "value": ""}}),
        json!({"ref": {"type": "ref/resource", "uri": "nope://{x}"}, "argument": {"name": "x", "value": ""}}),
        json!({"ref": {"type": "ref/other"}, "argument": {"name": "x", "value": ""}}),
        json!({"argument": {"name": "x", "value": ""}}),
    ] {
        let out = result(&send(
            &c,
            s(),
            BOTH,
            req("completion/complete", params.clone()),
        ));
        assert_eq!(out["error"]["code"], -32602, "{params}");
    }
}

#[test]
fn subscriptions_are_stored_in_the_session_and_bounded() {
    let c = Catalog::build(true);
    let mut session = legacy("2025-06-18");
    let out = send(
        &c,
        Some(session.clone()),
        BOTH,
        req(
            "resources/subscribe",
            json!({"uri": "test://watched-resource"}),
        ),
    );
    assert_eq!(result(&out)["result"], json!({}));
    let SessionChange::Store(stored) = out.session else {
        panic!("the subscription is stored")
    };
    assert_eq!(stored.subscriptions, ["test://watched-resource"]);
    let unknown = result(&send(
        &c,
        Some(session.clone()),
        BOTH,
        req("resources/subscribe", json!({"uri": "nope://x"})),
    ));
    assert_eq!(unknown["error"]["code"], -32002);
    session.subscriptions = (0..MAX_SUBSCRIPTIONS)
        .map(|i| format!("test://template/{i}/data"))
        .collect();
    let full = send(
        &c,
        Some(session.clone()),
        BOTH,
        req(
            "resources/subscribe",
            json!({"uri": "test://watched-resource"}),
        ),
    );
    assert_eq!(result(&full)["error"]["code"], -32602);
    assert_eq!(
        full.session,
        SessionChange::Unchanged,
        "a refused subscription is not stored"
    );
    let out = send(
        &c,
        Some(session),
        BOTH,
        req(
            "resources/unsubscribe",
            json!({"uri": "test://template/0/data"}),
        ),
    );
    let SessionChange::Store(stored) = out.session else {
        panic!("unsubscribe is stored")
    };
    assert_eq!(stored.subscriptions.len(), MAX_SUBSCRIPTIONS - 1);
}

#[test]
fn progress_and_logs_precede_the_result_on_the_posts_event_stream() {
    let c = Catalog::build(false);
    let mut session = legacy("2025-06-18");
    session.log_level = Some(LogLevel::Info);
    let call = req(
        "tools/call",
        json!({"name": "calculate_all", "arguments": {"expressions": ["1+1", "1/0"]}, "_meta": {"progressToken": "tok"}}),
    );
    let out = send(&c, Some(session.clone()), BOTH, call.clone());
    assert_eq!(
        out.reply.header_value("Content-Type"),
        Some("text/event-stream")
    );
    let all = messages(&out);
    let methods: Vec<&str> = all
        .iter()
        .map(|m| m["method"].as_str().unwrap_or("(response)"))
        .collect();
    assert_eq!(
        methods,
        [
            "notifications/message",
            "notifications/progress",
            "notifications/message",
            "notifications/progress",
            "(response)"
        ]
    );
    assert_eq!(
        all[3]["params"],
        json!({"progressToken": "tok", "progress": 2.0, "total": 2.0})
    );
    assert_eq!(all[0]["params"]["level"], "info");
    assert_eq!(all[2]["params"]["level"], "warning");
    assert_eq!(
        all[4]["result"]["structuredContent"]["results"][0]["value"],
        json!(2.0)
    );
    // At `error`, the info and warning messages are not sent; progress still is.
    let mut strict = session.clone();
    strict.log_level = Some(LogLevel::Error);
    let only_progress = messages(&send(&c, Some(strict), BOTH, call.clone()));
    let methods: Vec<&str> = only_progress
        .iter()
        .map(|m| m["method"].as_str().unwrap_or("(response)"))
        .collect();
    assert_eq!(
        methods,
        [
            "notifications/progress",
            "notifications/progress",
            "(response)"
        ]
    );
    // A client that accepts only JSON gets the result alone.
    let json_only = send(&c, Some(session.clone()), "application/json", call);
    assert_eq!(
        json_only.reply.header_value("Content-Type"),
        Some("application/json")
    );
    // Without a token and without a level: no notification at all.
    session.log_level = None;
    let quiet = send(
        &c,
        Some(session),
        BOTH,
        req(
            "tools/call",
            json!({"name": "calculate_all", "arguments": {"expressions": ["1"]}}),
        ),
    );
    assert_eq!(messages(&quiet).len(), 1);
}

#[test]
fn in_2026_07_28_a_log_needs_the_requests_log_level() {
    let c = Catalog::build(true);
    let quiet = send(
        &c,
        None,
        BOTH,
        modern_req("tools/call", json!({"name": "test_logging_tool"})),
    );
    assert_eq!(messages(&quiet).len(), 1, "no logLevel, no log");
    let mut with_level = modern_req("tools/call", json!({"name": "test_logging_tool"}));
    with_level["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = json!("info");
    let loud = messages(&send(&c, None, BOTH, with_level));
    assert_eq!(
        loud.iter()
            .filter(|m| m["method"] == "notifications/message")
            .count(),
        3
    );
}

#[test]
fn fixtures_are_absent_unless_built_in() {
    let off = Catalog::build(false);
    let s = || Some(legacy("2025-11-25"));
    for (method, key) in [
        ("tools/list", "tools"),
        ("resources/list", "resources"),
        ("prompts/list", "prompts"),
    ] {
        let r = result(&send(&off, s(), BOTH, req(method, json!({}))));
        let names: Vec<String> = r["result"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.get("name").unwrap().as_str().unwrap().to_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| !n.starts_with("test") && !n.starts_with("json_schema")),
            "{method}: {names:?}"
        );
    }
    let call = result(&send(
        &off,
        s(),
        BOTH,
        req("tools/call", json!({"name": "test_simple_text"})),
    ));
    assert_eq!(call["error"]["code"], -32602);
    let read = result(&send(
        &off,
        s(),
        BOTH,
        req("resources/read", json!({"uri": "test://static-text"})),
    ));
    assert_eq!(read["error"]["code"], -32002);
    let on = Catalog::build(true);
    let call = result(&send(
        &on,
        s(),
        BOTH,
        req("tools/call", json!({"name": "test_simple_text"})),
    ));
    assert_eq!(
        call["result"]["content"][0]["text"],
        "This is a simple text response for testing."
    );
}

#[test]
fn every_content_type_and_2020_12_schemas_are_sent_as_written() {
    let c = Catalog::build(true);
    let s = || Some(legacy("2025-11-25"));
    let mixed = result(&send(
        &c,
        s(),
        BOTH,
        req("tools/call", json!({"name": "test_multiple_content_types"})),
    ));
    let types: Vec<&str> = mixed["result"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["text", "image", "resource"]);
    let audio = result(&send(
        &c,
        s(),
        BOTH,
        req("tools/call", json!({"name": "test_audio_content"})),
    ));
    assert_eq!(audio["result"]["content"][0]["mimeType"], "audio/wav");
    let list = result(&send(&c, s(), BOTH, req("tools/list", json!({}))));
    let tool = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "json_schema_2020_12_tool")
        .unwrap()
        .clone();
    assert_eq!(
        tool["inputSchema"]["properties"]["address"],
        json!({"$ref": "#/$defs/address"})
    );
    assert_eq!(
        tool["inputSchema"]["$defs"]["address"]["$anchor"],
        "addressDef"
    );
    assert!(tool["inputSchema"]["if"].is_object() && tool["inputSchema"]["allOf"].is_array());
}

/// A 2026-07-28 `tools/call` of the fixture `test_custom_headers` with `Mcp-Param-Region`.
fn custom(region_header: Option<&'static str>) -> McpOutcome {
    let c = Catalog::build(true);
    let body = modern_req(
        "tools/call",
        json!({"name": "test_custom_headers", "arguments": {"region": "Hello"}}),
    )
    .to_string();
    let lookup = move |name: &str| {
        name.eq_ignore_ascii_case("Mcp-Param-Region")
            .then(|| region_header.map(str::to_owned))
            .flatten()
    };
    let req = McpRequest {
        http_method: "POST",
        accept: Some(BOTH),
        content_type: Some("application/json"),
        protocol_version: Some("2026-07-28"),
        body: body.as_bytes(),
        mcp_method: Some("tools/call"),
        mcp_name: Some("test_custom_headers"),
        headers: Some(HeaderSource(&lookup)),
        ..Default::default()
    };
    let seal = TestSeal::new(1_000);
    let env = ToolEnv {
        http: &NoHttp,
        github_api_base: "",
        seal: &seal,
        math: &mcp_oauth_worker::mcp::tools::math::RustMath,
    };
    pollster::block_on(handle(req, None, "new-sid", &user(), &c, &env))
}

#[test]
fn custom_headers_must_mirror_their_argument() {
    for ok in ["Hello", " Hello ", "=?base64?SGVsbG8=?="] {
        assert_eq!(custom(Some(ok)).reply.status, 200, "{ok}");
    }
    for bad in [
        None,
        Some("Bye"),
        Some("=?base64?SGVsbG8?="),
        Some("=?base64?SGVs!!!bG8=?="),
    ] {
        let out = custom(bad);
        assert_eq!(out.reply.status, 400, "{bad:?}");
        assert_eq!(result(&out)["error"]["code"], -32020, "{bad:?}");
    }
}

#[test]
fn resource_and_prompt_lists_are_paginated_with_opaque_cursors() {
    use mcp_oauth_worker::mcp::content::ResourceContents;
    use mcp_oauth_worker::mcp::jsonrpc::ErrorObject;
    use mcp_oauth_worker::mcp::resources::{Resource, ResourceRead};
    fn read<'a>(
        r: &'a ResourceRead<'a>,
    ) -> LocalBoxFuture<'a, Result<Vec<ResourceContents>, ErrorObject>> {
        Box::pin(async move { Ok(vec![ResourceContents::text(r.uri, "text/plain", "x")]) })
    }
    let mut c = Catalog::shipped();
    for i in 0..59 {
        c.resources
            .add(Resource::new(&format!("n://{i}"), "n", "d", read))
            .unwrap();
    }
    let s = || Some(legacy("2025-11-25"));
    let first = result(&send(&c, s(), BOTH, req("resources/list", json!({}))));
    assert_eq!(first["result"]["resources"].as_array().unwrap().len(), 50);
    let cursor = first["result"]["nextCursor"].as_str().unwrap().to_owned();
    let second = result(&send(
        &c,
        s(),
        BOTH,
        req("resources/list", json!({"cursor": cursor})),
    ));
    assert_eq!(second["result"]["resources"].as_array().unwrap().len(), 10);
    assert!(second["result"].get("nextCursor").is_none());
    for bad in [json!("bogus"), json!(5)] {
        let out = result(&send(
            &c,
            s(),
            BOTH,
            req("prompts/list", json!({"cursor": bad})),
        ));
        assert_eq!(out["error"]["code"], -32602, "{bad}");
    }
}
