//! The HTTP-level rules of Streamable HTTP (2025-03-26 to 2026-07-28) at the MCP
//! endpoint, through its public API (`mcp::handle`, with `tests/common/mcp_harness.rs`): methods, `Accept`, `Content-Type`, 202, SSE,
//! batches, the `Origin` check, and bodies that must never make it panic.

use mcp_oauth_worker::mcp::{check_origin, Endpoint, SessionChange};
use serde_json::{json, Value};

mod common;

use common::mcp_harness::*;

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
