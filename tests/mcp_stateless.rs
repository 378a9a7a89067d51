//! The 2026-07-28 stateless requests at the MCP endpoint, through its public API (`mcp::handle`, with `tests/common/mcp_harness.rs`):
//! `server/discover`, the headers that must match the body, a complete `_meta`,
//! cache hints on lists, and what is refused or removed in that version.

use mcp_oauth_worker::mcp::SessionChange;
use serde_json::{json, Value};

mod common;

use common::mcp_harness::*;

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
