//! The MCP endpoint driven through its public API (`mcp::handle`) with the shipped
//! catalog, a signed-in GitHub user and a fake outbound HTTP client that records
//! what would have been sent upstream; and the requests of each protocol era.
//! The harness of the `tests/mcp_*.rs` files split from the MCP core tests.

use mcp_oauth_worker::config::Secret;
use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::mcp::{
    handle, Catalog, Endpoint, McpOutcome, McpRequest, Session, Tool, ToolCall, ToolEnv,
    ToolOutput, ToolRegistry,
};
use mcp_oauth_worker::outbound::LocalBoxFuture;
use mcp_oauth_worker::user::{UserContext, UserProfile};
use serde_json::{json, Value};

use super::http::FakeHttp;

pub const PRM: &str = "https://mcp.example/.well-known/oauth-protected-resource/mcp";
pub const NEW_SID: &str = "sid-new-0123";
pub const GITHUB_TOKEN: &str = "gho_UpstreamSecretToken123456";
pub const GITHUB_BASE: &str = "http://127.0.0.1:4010";

pub struct Harness {
    pub catalog: Catalog,
    pub http: FakeHttp,
    pub user: UserContext,
}

/// A request as a client would send it; tests change what they are about.
#[derive(Clone)]
pub struct Post {
    pub method: &'static str,
    pub accept: Option<&'static str>,
    pub content_type: Option<&'static str>,
    pub version: Option<&'static str>,
    pub session_id: Option<&'static str>,
    pub mcp_method: Option<&'static str>,
    pub mcp_name: Option<&'static str>,
    pub endpoint: Endpoint,
    pub body: String,
}

pub fn post(body: Value) -> Post {
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
    pub fn in_session(mut self, version: &'static str) -> Post {
        self.session_id = Some("sid-1");
        self.version = Some(version);
        self
    }
}

pub fn github_user(scopes: &[&str]) -> UserContext {
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
    pub fn new() -> Harness {
        Harness {
            catalog: Catalog::shipped(),
            // Every request fails until a test sets an answer.
            http: FakeHttp::always(Err("no answer configured".into())),
            user: github_user(&["mcp", "github:repos"]),
        }
    }

    pub fn send(&self, p: &Post, existing: Option<Session>) -> McpOutcome {
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
        let seal = super::mcp_seal::TestSeal::new(1_000);
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
    pub fn in_session(&self, version: &'static str, body: Value) -> McpOutcome {
        self.send(&post(body).in_session(version), Some(session(version)))
    }
}

pub fn session(version: &str) -> Session {
    Session::create("sid-1", version, None)
}

pub fn json_body(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&reply.body)
        )
    })
}

pub fn initialize(version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "test-client", "version": "9.9"}}})
}

pub fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

pub fn call(id: i64, tool: &str, arguments: Value) -> Value {
    request(
        id,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
}

pub fn modern_meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
           "io.modelcontextprotocol/clientCapabilities": {}})
}

pub fn numbered<'a>(_: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
    Box::pin(async { ToolOutput::text("done") })
}

pub fn big_registry(n: usize) -> ToolRegistry {
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

/// A 2026-07-28 request: the method in the body and in its header, with a complete `_meta`.
pub fn modern(method: &'static str, params: Value) -> Post {
    let mut params = params;
    params["_meta"] = modern_meta();
    let mut p = post(request(11, method, params));
    p.version = Some("2026-07-28");
    p.mcp_method = Some(method);
    p
}
