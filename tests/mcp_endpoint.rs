//! `/mcp` as one core flow (`mcp::endpoint`): the session a request names is loaded from the
//! `SessionStore` by (user, id), answered, and its change stored; and the layering rules of
//! the MCP core (it imports nothing from `oauth/` but the caller's type; the shell's file
//! maps types only).

mod common;

use common::NoHttp;

use mcp_oauth_worker::mcp::session_store::{session_name, MemorySessions, SessionStore};
use mcp_oauth_worker::mcp::{endpoint, Catalog, McpRequest, Served, ToolEnv};
use mcp_oauth_worker::user::{UserContext, UserProfile};
use serde_json::{json, Value};

fn user(id: &str) -> UserContext {
    UserContext {
        user: UserProfile {
            id: id.into(),
            login: id.into(),
            name: None,
            email: None,
            provider: "dev".into(),
        },
        scopes: vec!["mcp".into()],
        client_id: None,
        upstream_token: None,
    }
}

fn send(
    store: &MemorySessions,
    caller: &UserContext,
    method: &'static str,
    session: Option<&str>,
    body: Value,
) -> (u16, Option<String>, Value) {
    let catalog = Catalog::shipped();
    let seal = common::mcp_seal::TestSeal::new(1_000);
    let env = ToolEnv {
        http: &NoHttp,
        github_api_base: "http://127.0.0.1:1",
        seal: &seal,
        math: &mcp_oauth_worker::mcp::tools::math::RustMath,
    };
    let body = body.to_string();
    let req = McpRequest {
        http_method: method,
        accept: Some("application/json, text/event-stream"),
        content_type: Some("application/json"),
        protocol_version: session.map(|_| "2025-06-18"),
        session_id: session,
        body: body.as_bytes(),
        ..Default::default()
    };
    let served = Served {
        catalog: &catalog,
        env: &env,
    };
    let reply = pollster::block_on(endpoint(req, caller, store, "sid-new-0123", &served))
        .expect("the memory store never fails")
        .reply;
    let sid = reply.header_value("Mcp-Session-Id").map(str::to_owned);
    let json = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, sid, json)
}

#[test]
fn initialize_stores_the_session_under_the_user_and_later_requests_load_it() {
    let store = MemorySessions::default();
    let alice = user("dev:alice");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}}});
    let (status, sid, _) = send(&store, &alice, "POST", None, init);
    assert_eq!(status, 200);
    let sid = sid.expect("a session id");
    let name = session_name(&alice, &sid);
    assert!(pollster::block_on(store.load(&name)).unwrap().is_some());

    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    let (status, _, body) = send(&store, &alice, "POST", Some(&sid), ping.clone());
    assert_eq!(status, 200, "{body}");
    // The same id presented by another user names another, empty session.
    let (status, _, _) = send(&store, &user("dev:mallory"), "POST", Some(&sid), ping);
    assert_eq!(status, 404);
}

#[test]
fn delete_removes_the_session_from_the_store() {
    let store = MemorySessions::default();
    let alice = user("dev:alice");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}}});
    let (_, sid, _) = send(&store, &alice, "POST", None, init);
    let sid = sid.unwrap();
    let (status, _, _) = send(&store, &alice, "DELETE", Some(&sid), Value::Null);
    assert_eq!(status, 204);
    assert!(store.sessions.borrow().is_empty());
}

#[test]
fn a_malformed_session_id_costs_no_storage_read() {
    let store = MemorySessions::default();
    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    let (status, _, _) = send(&store, &user("dev:a"), "POST", Some("bad id\n"), ping);
    assert_eq!(status, 404);
    assert_eq!(store.loads.get(), 0);
}

/// Every `use`/path in `dir` (recursively) as text.
fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn the_mcp_core_imports_nothing_from_the_authorization_server() {
    let mut files = Vec::new();
    sources(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/mcp"),
        &mut files,
    );
    assert!(files.len() > 5);
    for (path, text) in files {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            assert!(
                !code.contains("oauth::"),
                "{path}:{}: the MCP core names oauth/: {line}",
                n + 1
            );
        }
    }
}

#[test]
fn the_shell_of_mcp_maps_types_and_builds_no_protocol_answer() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cloudflare/mcp.rs"),
    )
    .unwrap();
    // Protocol decisions (JSON-RPC answers, sessions' rules, challenges) belong to the core.
    for needle in [
        "json!",
        "ErrorObject",
        "jsonrpc",
        "WWW-Authenticate",
        "TtlCache::get",
    ] {
        assert!(
            !text.contains(needle),
            "src/cloudflare/mcp.rs contains {needle}"
        );
    }
}
