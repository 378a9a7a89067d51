//! MCP sessions at the endpoint, through its public API (`mcp::handle`, with `tests/common/mcp_harness.rs`): initialize
//! and version negotiation, the session id and the protocol version header, ending
//! a session, and the log level a session keeps.

use mcp_oauth_worker::mcp::{Session, SessionChange};
use serde_json::json;

mod common;

use common::mcp_harness::*;

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
