//! `/mcp`: authenticate every request, then run the MCP core with the session
//! loaded from (and saved to) the session's Durable Object.
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
use crate::mcp::{self, McpRequest, Session, SessionChange, ToolEnv, ToolRegistry};
use crate::oauth::crypto::{self, OsEntropy};
use crate::oauth::metadata;
use crate::oauth::resource::{self, Refusal};
use crate::user::UserContext;

use super::oauth::{preflight, with_cors};
use super::platform::{
    internal, now, object_call, FetchClient, Incoming, KvStore, SESSION_BINDING,
};
use super::ratelimit::challenge;

thread_local! {
    /// The tool registries (without and with the conformance fixtures), each built
    /// once per isolate when first used rather than on every request (building
    /// one parses each tool's JSON schemas). Leaked on purpose: they live as long
    /// as the isolate, and a `'static` borrow can be held across awaits.
    static TOOLS: [std::cell::OnceCell<&'static ToolRegistry>; 2] =
        const { [std::cell::OnceCell::new(), std::cell::OnceCell::new()] };
}

/// The shipped tools, plus the conformance suite's fixtures when `MCP_CONFORMANCE=on`.
fn tools(conformance: bool) -> &'static ToolRegistry {
    TOOLS.with(|t| {
        *t[usize::from(conformance)]
            .get_or_init(|| Box::leak(Box::new(mcp::conformance::registry(conformance))))
    })
}

/// Seals 2026-07-28 request states under the server's key ring (`SECRET_KEY`, and
/// `SECRET_KEY_PREVIOUS` during a rotation), so any isolate can continue a call.
struct KeyringSeal<'a> {
    keyring: &'a crypto::Keyring,
    now: u64,
}

impl mcp::input::StateSeal for KeyringSeal<'_> {
    fn seal(&self, plaintext: &[u8], context: &str) -> Option<String> {
        let purpose = mcp::input::STATE_PURPOSE;
        self.keyring
            .seal_value(plaintext, purpose, context, &OsEntropy)
            .ok()
    }

    fn open(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        let purpose = mcp::input::STATE_PURPOSE;
        self.keyring.open_value(sealed, purpose, context).ok()
    }

    fn now(&self) -> u64 {
        self.now
    }
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
    let user = match authenticate(env, config, req, issuer).await? {
        Ok(user) => user,
        Err(refusal) => {
            return Ok(with_cors(
                challenge(env, req, &metadata_url, &refusal).await,
            ))
        }
    };

    let session_id = req.header("Mcp-Session-Id");
    let existing = match session_id.as_deref() {
        Some(id) if mcp::protocol::is_well_formed_session_id(id) => {
            load_session(env, &user, id, config.mcp_cache_ttl).await?
        }
        _ => None,
    };
    let new_session_id = crypto::random_id(&OsEntropy).map_err(|e| internal("session id", e))?;
    let tools = tools(config.mcp_conformance);
    let github_api_base = super::upstream::github_api_base(env, config);
    let seal = KeyringSeal {
        keyring: &config.keyring,
        now: now(),
    };
    let tool_env = ToolEnv {
        http: &FetchClient,
        github_api_base: &github_api_base,
        seal: &seal,
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
        endpoint,
    };
    let outcome = mcp::handle(request, existing, &new_session_id, &user, tools, &tool_env).await;
    match outcome.session {
        SessionChange::Unchanged => {}
        SessionChange::Store(session) => {
            let name = session_name(&user, &session.id);
            session_call(env, &name, SessionOp::Store(session), config.mcp_cache_ttl).await?;
        }
        SessionChange::Delete => {
            if let Some(id) = session_id.as_deref() {
                let name = session_name(&user, id);
                session_call(env, &name, SessionOp::Delete, config.mcp_cache_ttl).await?;
            }
        }
    }
    Ok(with_cors(outcome.reply))
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

/// Who is calling, or why not: the core decides (`resource::authenticate`).
async fn authenticate(
    env: &Env,
    config: &Config,
    req: &Incoming,
    issuer: &str,
) -> Result<Result<UserContext, Refusal>, HttpError> {
    let header = req.header("Authorization");
    let store = KvStore::from_env(env)?;
    let cache = super::platform::access_cache();
    resource::authenticate(&store, cache, config, issuer, header.as_deref(), now())
        .await
        .map_err(|_| HttpError::Internal)
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum SessionOp {
    Load,
    Store(Session),
    Delete,
}

/// Sessions kept per isolate. Each is used without asking its object again for
/// `MCP_CACHE_TTL` (`Config::mcp_cache_ttl`) after this isolate read or wrote
/// it: that is how late a `DELETE` handled by another isolate (or a
/// `logging/setLevel` there) can reach this one; the isolate that handles the
/// `DELETE` forgets the session at once. Only sessions past
/// `notifications/initialized` are kept, so a stale copy never refuses a
/// request as "not initialized".
const SESSION_CACHE_ENTRIES: usize = 256;

thread_local! {
    // The session's JSON, as its object stores it (one `TtlCache<String>` type
    // for the whole bundle: the client copies use it too).
    static SESSIONS: RefCell<TtlCache<String>> =
        const { RefCell::new(TtlCache::new(SESSION_CACHE_ENTRIES)) };
}

/// A session's object is named by user and session id, so a session id
/// presented by another user names another (empty) object.
fn session_name(user: &UserContext, session_id: &str) -> String {
    format!("{}\n{session_id}", user.user.id)
}

/// Keeps (or, for a session that is gone or not yet initialized, drops) this
/// isolate's copy of the session named `name`, unless a copy was dropped since
/// `generation` (then what was read may predate a `DELETE`).
fn remember_session(
    name: &str,
    session: Option<&Session>,
    ttl: u64,
    read_at: u64,
    generation: u64,
) {
    SESSIONS.with(|c| {
        let mut cache = c.borrow_mut();
        let json = session
            .filter(|s| s.initialized && cache.generation() == generation)
            .and_then(|s| serde_json::to_string(s).ok());
        match json {
            Some(json) => cache.put(name, json, ttl, read_at),
            None => cache.remove(name),
        }
    });
}

/// The session, from this isolate's copy or its object.
async fn load_session(
    env: &Env,
    user: &UserContext,
    session_id: &str,
    ttl: u64,
) -> Result<Option<Session>, HttpError> {
    let name = session_name(user, session_id);
    let at = now();
    let (kept, generation) = SESSIONS.with(|c| {
        let cache = c.borrow();
        (cache.get(&name, at), cache.generation())
    });
    if let Some(session) = kept.and_then(|json| serde_json::from_str(&json).ok()) {
        return Ok(Some(session));
    }
    let loaded = session_call(env, &name, SessionOp::Load, ttl).await?;
    remember_session(&name, loaded.as_ref(), ttl, at, generation);
    Ok(loaded)
}

/// One call to the session's object; a store or delete also updates this
/// isolate's copy.
async fn session_call(
    env: &Env,
    name: &str,
    op: SessionOp,
    ttl: u64,
) -> Result<Option<Session>, HttpError> {
    let body = serde_json::to_string(&op).map_err(|e| internal("encode session op", e))?;
    if matches!(op, SessionOp::Delete) {
        // Before the call as well: whatever its outcome, this copy is not to be trusted.
        SESSIONS.with(|c| c.borrow_mut().remove(name));
    }
    let generation = SESSIONS.with(|c| c.borrow().generation());
    let text = object_call(env, SESSION_BINDING, name, body).await?;
    match &op {
        SessionOp::Store(session) => remember_session(name, Some(session), ttl, now(), generation),
        SessionOp::Delete => SESSIONS.with(|c| c.borrow_mut().remove(name)),
        SessionOp::Load => {}
    }
    serde_json::from_str::<Option<Session>>(&text).map_err(|e| internal("session answer", e))
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
