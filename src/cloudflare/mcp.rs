//! `/mcp`: maps the request to the core's types, admits the caller
//! (`resource::admit`), and runs the core flow (`mcp::endpoint`) with the
//! sessions in their Durable Objects behind the core's per-isolate copies.
//!
//! Hot path of an authenticated request: one KV read (the access-token record;
//! none for the static `AUTH_TOKEN`, or for a token this isolate accepted in
//! the last few seconds), no KV write; one Durable Object read when the request
//! names a session this isolate has not seen in the last few seconds.

use std::cell::RefCell;

use worker::{durable_object, DurableObject, Env, Request, Response, State};

use crate::cache::TtlCache;
use crate::config::Config;
use crate::http::{HttpError, Reply};
use crate::mcp::session_store::{IsolateCopies, SessionStore, SessionStoreError, SESSION_COPIES};
use crate::mcp::{self, Catalog, HeaderSource, McpRequest, Served, Session, ToolEnv};
use crate::oauth::crypto::{self, OsEntropy};
use crate::oauth::metadata;
use crate::oauth::resource;
use crate::outbound::LocalBoxFuture;

use super::oauth::{preflight, with_cors};
use super::platform::{
    internal, now, object_call, FetchClient, Incoming, KvStore, SESSION_BINDING,
};
use super::ratelimit::Bindings;

thread_local! {
    /// The catalog (tools, resources, prompts), built once per isolate rather
    /// than on every request (building it parses each tool's JSON schemas), with
    /// the conformance fixtures only under `MCP_CONFORMANCE=on`. Leaked on
    /// purpose: it lives as long as the isolate, and a `'static` borrow can be
    /// held across awaits.
    static CATALOG: std::cell::OnceCell<&'static Catalog> = const { std::cell::OnceCell::new() };
    /// This isolate's session copies (the rules are `IsolateCopies`'s).
    static SESSIONS: &'static RefCell<TtlCache<String>> =
        Box::leak(Box::new(RefCell::new(TtlCache::new(SESSION_COPIES))));
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
    // `/sse` is the same endpoint; its challenges point at its own metadata, whose `resource`
    // is `<origin>/sse`, so a client that started there is asked for a token it can use there.
    let endpoint = mcp::Endpoint::from_path(&req.path);
    let metadata_url = endpoint.resource_metadata_url(issuer);
    if let Some(refused) =
        super::ratelimit::before_bearer_check(env, req, crate::routes::Route::Mcp).await
    {
        return Ok(with_cors(refused));
    }
    let (authorization, ip) = (req.header("Authorization"), req.header("CF-Connecting-IP"));
    let store = KvStore::from_env(env)?;
    let admitted = resource::admit(
        &store,
        super::platform::access_cache(),
        &Bindings(env),
        config,
        issuer,
        &metadata_url,
        authorization.as_deref(),
        ip.as_deref(),
        now(),
    )
    .await
    .map_err(crate::oauth::flow::store_fault)?;
    let user = match admitted {
        Ok(user) => user,
        Err(reply) => return Ok(with_cors(reply)),
    };

    let new_session_id = crypto::random_id(&OsEntropy).map_err(|e| internal("session id", e))?;
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
    let session_id = req.header("Mcp-Session-Id");
    let other_header = |name: &str| req.header(name);
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
        endpoint,
        headers: Some(HeaderSource(&other_header)),
    };
    let sessions = IsolateCopies {
        inner: SessionObjects(env),
        copies: SESSIONS.with(|s| *s),
        ttl: config.mcp_cache_ttl,
        clock: now,
    };
    let catalog = CATALOG
        .with(|c| *c.get_or_init(|| Box::leak(Box::new(Catalog::build(config.mcp_conformance)))));
    let served = Served {
        catalog,
        env: &tool_env,
    };
    let reply = mcp::endpoint(request, &user, &sessions, &new_session_id, &served)
        .await
        .map_err(|e| internal("mcp session", e))?;
    Ok(with_cors(reply))
}

/// RFC 9728 metadata for the `/sse` URL of the MCP endpoint: the same document as for `/mcp`,
/// with `resource` = `<origin>/sse` (clients check that it is a prefix of the URL they use).
pub fn sse_resource_metadata(issuer: &str) -> Reply {
    let resource = mcp::Endpoint::Sse.resource(issuer);
    with_cors(
        Reply::json(
            200,
            &metadata::protected_resource_metadata(&resource, issuer),
        )
        .header("Cache-Control", "max-age=300"),
    )
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum SessionOp {
    Load,
    Store(Session),
    Delete,
}

/// The core's `SessionStore` as one Durable Object per session, named by the
/// core (`session_name`).
struct SessionObjects<'a>(&'a Env);

impl SessionObjects<'_> {
    async fn call(&self, name: &str, op: &SessionOp) -> Result<Option<Session>, SessionStoreError> {
        let fault = |e: &dyn std::fmt::Display| SessionStoreError(e.to_string());
        let body = serde_json::to_string(op).map_err(|e| fault(&e))?;
        let text = object_call(self.0, SESSION_BINDING, name, body)
            .await
            .map_err(|e| fault(&e))?;
        serde_json::from_str::<Option<Session>>(&text).map_err(|e| fault(&e))
    }
}

impl SessionStore for SessionObjects<'_> {
    fn load<'a>(
        &'a self,
        name: &'a str,
    ) -> LocalBoxFuture<'a, Result<Option<Session>, SessionStoreError>> {
        Box::pin(self.call(name, &SessionOp::Load))
    }

    fn store<'a>(
        &'a self,
        name: &'a str,
        session: &'a Session,
    ) -> LocalBoxFuture<'a, Result<(), SessionStoreError>> {
        Box::pin(async move {
            // Cloned into the op: one encoder of `SessionOp` in the wasm.
            self.call(name, &SessionOp::Store(session.clone()))
                .await
                .map(|_| ())
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> LocalBoxFuture<'a, Result<(), SessionStoreError>> {
        Box::pin(async move { self.call(name, &SessionOp::Delete).await.map(|_| ()) })
    }
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
        // From a str, as the shell reads sessions: one decoder of `Session` in the wasm.
        let op: SessionOp = serde_json::from_str(&req.text().await?)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let storage = self.state.storage();
        let answer: Option<Session> = match op {
            SessionOp::Load => super::platform::storage_value(&storage, SESSION_KEY)
                .await?
                .as_string()
                .and_then(|raw| serde_json::from_str::<Session>(&raw).ok()),
            SessionOp::Store(session) => {
                let json = serde_json::to_string(&session)
                    .map_err(|e| worker::Error::RustError(e.to_string()))?;
                storage.put_raw(SESSION_KEY, json).await?;
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
