//! `/mcp`: authenticate every request, then run the MCP core with the session
//! loaded from (and saved to) the session's Durable Object.
//!
//! Hot path of an authenticated request: one KV read (the access-token record,
//! skipped for the static `AUTH_TOKEN`), no KV write; one Durable Object read
//! when the request names a session.

use worker::{durable_object, DurableObject, Env, Request, Response, State};

use crate::config::Config;
use crate::http::{HttpError, Reply};
use crate::mcp::{self, McpRequest, Session, SessionChange, ToolEnv, ToolRegistry};
use crate::oauth::crypto::{self, OsEntropy};
use crate::oauth::grant::{self, TokenKind};
use crate::oauth::metadata;
use crate::oauth::resource::{self, Bearer};
use crate::user::UserContext;

use super::oauth::{preflight, with_cors};
use super::platform::{internal, now, FetchClient, Incoming, Kv, SESSION_BINDING};
use super::ratelimit::challenge;

thread_local! {
    /// The tool registry, built once per isolate rather than on every request
    /// (building it parses each tool's JSON schemas). Leaked on purpose: it lives
    /// as long as the isolate, and a `'static` borrow can be held across awaits.
    static TOOLS: &'static ToolRegistry = Box::leak(Box::new(ToolRegistry::default_tools()));
}

fn tools() -> &'static ToolRegistry {
    TOOLS.with(|tools| *tools)
}

/// Idle sessions are forgotten after this long.
const SESSION_IDLE_SECS: i64 = 24 * 3600;

pub async fn handle(
    env: &Env,
    config: &Config,
    req: &Incoming,
    issuer: &str,
) -> Result<Reply, HttpError> {
    if req.method == "OPTIONS" {
        return Ok(preflight());
    }
    let origin = req.header("Origin");
    if let Err(reply) = mcp::check_origin(origin.as_deref(), &req.origin, &config.allowed_origins) {
        return Ok(with_cors(reply));
    }
    let metadata_url = metadata::resource_metadata_url(issuer);
    let user = match authenticate(env, config, req, issuer).await? {
        Ok(user) => user,
        Err(problem) => return Ok(with_cors(challenge(env, req, &metadata_url, problem).await)),
    };

    let session_id = req.header("Mcp-Session-Id");
    let existing = match session_id.as_deref() {
        Some(id) if mcp::protocol::is_well_formed_session_id(id) => {
            session_call(env, &user, id, SessionOp::Load).await?
        }
        _ => None,
    };
    let new_session_id = crypto::random_id(&OsEntropy).map_err(|e| internal("session id", e))?;
    let tools = tools();
    let github_api_base = super::upstream::github_api_base(env, config);
    let tool_env = ToolEnv {
        http: &FetchClient,
        github_api_base: &github_api_base,
    };
    let (accept, content_type, version) = (
        req.header("Accept"),
        req.header("Content-Type"),
        req.header("MCP-Protocol-Version"),
    );
    let (mcp_method, mcp_name) = (req.header("Mcp-Method"), req.header("Mcp-Name"));
    let request = McpRequest {
        http_method: &req.method,
        accept: accept.as_deref(),
        content_type: content_type.as_deref(),
        protocol_version: version.as_deref(),
        session_id: session_id.as_deref(),
        body: &req.body,
        resource_metadata_url: &metadata_url,
        mcp_method: mcp_method.as_deref(),
        mcp_name: mcp_name.as_deref(),
    };
    let outcome = mcp::handle(request, existing, &new_session_id, &user, tools, &tool_env).await;
    match outcome.session {
        SessionChange::Unchanged => {}
        SessionChange::Store(session) => {
            let id = session.id.clone();
            session_call(env, &user, &id, SessionOp::Store(session)).await?;
        }
        SessionChange::Delete => {
            if let Some(id) = session_id.as_deref() {
                session_call(env, &user, id, SessionOp::Delete).await?;
            }
        }
    }
    Ok(with_cors(outcome.reply))
}

/// Who is calling, or why not (`Err(None)`: no token; `Err(Some(why))`: a bad one).
async fn authenticate(
    env: &Env,
    config: &Config,
    req: &Incoming,
    issuer: &str,
) -> Result<Result<UserContext, Option<&'static str>>, HttpError> {
    let header = req.header("Authorization");
    let token = match resource::bearer(header.as_deref()) {
        Bearer::Missing => return Ok(Err(None)),
        Bearer::Malformed => {
            return Ok(Err(Some(
                "the Authorization header must be 'Bearer <token>'",
            )))
        }
        Bearer::Token(t) => t,
    };
    if resource::is_static_token(token, config.auth_token.as_ref()) {
        return Ok(Ok(resource::static_token_user()));
    }
    if !matches!(grant::parse_token(token), Some((TokenKind::Access, _))) {
        return Ok(Err(Some("the access token is invalid, expired or revoked")));
    }
    let record = Kv::from_env(env)?
        .get(&grant::access_key(&crypto::hash_token(token)))
        .await?;
    let resource_url = metadata::mcp_resource(issuer);
    Ok(grant::authenticate(
        record.as_deref(),
        token,
        &resource_url,
        now(),
        config.secret_key.expose(),
    )
    .map_err(|e| match e {
        grant::AccessError::Invalid => Some("the access token is invalid, expired or revoked"),
        grant::AccessError::WrongResource => {
            Some("the access token was issued for another resource")
        }
    }))
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum SessionOp {
    Load,
    Store(Session),
    Delete,
}

/// One call to the session's Durable Object, named by user and session id, so
/// a session id presented by another user names another (empty) object.
async fn session_call(
    env: &Env,
    user: &UserContext,
    session_id: &str,
    op: SessionOp,
) -> Result<Option<Session>, HttpError> {
    let name = format!("{}\n{session_id}", user.user.id);
    let namespace = env
        .durable_object(SESSION_BINDING)
        .map_err(|e| internal("session object", e))?;
    let stub = namespace
        .id_from_name(&name)
        .and_then(|id| id.get_stub())
        .map_err(|e| internal("session object", e))?;
    let body = serde_json::to_string(&op).map_err(|e| internal("encode session op", e))?;
    let body = Some(wasm_bindgen::JsValue::from_str(&body));
    let request = super::platform::build_request("POST", "https://session.internal/", &[], body)
        .map_err(|e| internal("session request", e))?;
    let mut res = stub
        .fetch_with_request(request)
        .await
        .map_err(|e| internal("session call", e))?;
    let text = res
        .text()
        .await
        .map_err(|e| internal("session answer", e))?;
    serde_json::from_slice::<Option<Session>>(text.as_bytes())
        .map_err(|e| internal("session answer", e))
}

const SESSION_KEY: &str = "session";

/// The Durable Object that stores one MCP session.
// `alarm` generates the fetch and alarm entry points only (not the WebSocket and
// socket ones, which would add wasm for handlers this object does not have).
#[durable_object(alarm)]
pub struct McpSession {
    state: State,
}

impl DurableObject for McpSession {
    fn new(state: State, _env: Env) -> Self {
        McpSession { state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let op: SessionOp = serde_json::from_slice(&req.bytes().await?)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let storage = self.state.storage();
        let answer: Option<Session> = match op {
            SessionOp::Load => storage
                .get::<String>(SESSION_KEY)
                .await?
                .and_then(|raw| serde_json::from_slice::<Session>(raw.as_bytes()).ok()),
            SessionOp::Store(session) => {
                let json = serde_json::to_string(&session)
                    .map_err(|e| worker::Error::RustError(e.to_string()))?;
                storage.put(SESSION_KEY, json).await?;
                storage.set_alarm(SESSION_IDLE_SECS * 1000).await?;
                None
            }
            SessionOp::Delete => {
                storage.delete_all().await?;
                None
            }
        };
        Response::from_json(&answer)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.state.storage().delete_all().await?;
        Response::empty()
    }
}
