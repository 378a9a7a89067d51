//! `/mcp`: maps the request to the core's types, admits the caller
//! (`resource::admit`), and runs the core flow (`mcp::endpoint`) with the
//! sessions in their Durable Objects behind the core's per-isolate copies.
//!
//! Hot path of an authenticated request: one KV read (the access-token record;
//! none for the static `AUTH_TOKEN`, or for a token this isolate accepted in
//! the last few seconds), no KV write; one Durable Object read when the request
//! names a session this isolate has not seen in the last few seconds.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use worker::{durable_object, DurableObject, Env, Request, Response, State};

use crate::config::Config;
use crate::http::header::{
    ACCEPT, AUTHORIZATION, CACHE_CONTROL, CF_CONNECTING_IP, CONTENT_TYPE, ORIGIN,
};
use crate::http::{HttpError, Reply};
use crate::mcp::protocol::{
    METHOD_HEADER, NAME_HEADER, PROTOCOL_VERSION_HEADER, SESSION_ID_HEADER,
};
use crate::mcp::server::Continued;
use crate::mcp::session_store::{IsolateCopies, SessionStore, SessionStoreError};
use crate::mcp::{self, Catalog, HeaderSource, InputWork, McpRequest, Served, Session, ToolEnv};
use crate::oauth::crypto::{self, OsEntropy};
use crate::oauth::metadata;
use crate::oauth::resource::{self, NotAdmitted};
use crate::outbound::LocalBoxFuture;
use crate::user::UserContext;

use super::oauth::{preflight, with_cors};
use super::platform::{
    internal, now, object_call, FetchClient, Incoming, KvStore, SESSION_BINDING,
};
use super::ratelimit::Bindings;
use super::Answer;

/// The shipped catalog, plus the conformance suite's fixtures when `MCP_CONFORMANCE=on`
/// (the setting is the same for every request an isolate serves), built once per isolate.
fn catalog(conformance: bool) -> &'static Catalog {
    super::kept()
        .catalog
        .get_or_init(|| Catalog::build(conformance))
}

/// The runtime's `Math` functions for the tools (`mcp::tools::math` says why not Rust's).
struct JsMath;

impl mcp::tools::math::Transcendental for JsMath {
    fn ln(&self, x: f64) -> f64 {
        js_sys::Math::log(x)
    }
    fn log10(&self, x: f64) -> f64 {
        js_sys::Math::log10(x)
    }
    fn log2(&self, x: f64) -> f64 {
        js_sys::Math::log2(x)
    }
    fn exp(&self, x: f64) -> f64 {
        js_sys::Math::exp(x)
    }
    fn sin(&self, x: f64) -> f64 {
        js_sys::Math::sin(x)
    }
    fn cos(&self, x: f64) -> f64 {
        js_sys::Math::cos(x)
    }
    fn tan(&self, x: f64) -> f64 {
        js_sys::Math::tan(x)
    }
    fn pow(&self, x: f64, y: f64) -> f64 {
        js_sys::Math::pow(x, y)
    }
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
) -> Result<Answer, HttpError> {
    if req.method == "OPTIONS" {
        return Ok(Answer::Reply(preflight()));
    }
    let origin = req.header(ORIGIN);
    if let Err(reply) = mcp::check_origin(origin.as_deref(), &req.origin, &config.allowed_origins) {
        return Ok(Answer::Reply(with_cors(reply)));
    }
    // `/sse` is the same endpoint; its challenges point at its own metadata, whose `resource`
    // is `<origin>/sse`, so a client that started there is asked for a token it can use there.
    let endpoint = mcp::Endpoint::from_path(&req.path);
    let metadata_url = endpoint.resource_metadata_url(issuer);
    if let Some(refused) =
        super::ratelimit::before_bearer_check(env, req, crate::routes::Route::Mcp).await
    {
        return Ok(Answer::Reply(with_cors(refused)));
    }
    let (authorization, ip) = (req.header(AUTHORIZATION), req.header(CF_CONNECTING_IP));
    let store = KvStore::from_env(env)?;
    let isolate = super::isolate();
    let admitted = resource::admit(
        &store,
        isolate,
        &Bindings(env),
        config,
        issuer,
        &metadata_url,
        authorization.as_deref(),
        ip.as_deref(),
        now(),
    )
    .await;
    let user = match admitted {
        Ok(user) => user,
        Err(NotAdmitted::Answer(reply)) => return Ok(Answer::Reply(with_cors(reply))),
        Err(NotAdmitted::Storage(fault)) => return Err(crate::oauth::site::store_fault(fault)),
    };

    let new_session_id = crypto::random_id(&OsEntropy).map_err(|e| internal("session id", e))?;
    let github_api_base = super::upstream::github_api_base(config);
    let seal = KeyringSeal {
        keyring: &config.keyring,
        now: now(),
    };
    let tool_env = ToolEnv {
        http: &FetchClient,
        github_api_base,
        seal: &seal,
        math: &JsMath,
    };
    let (accept, content_type, version) = (
        req.header(ACCEPT),
        req.header(CONTENT_TYPE),
        req.header(PROTOCOL_VERSION_HEADER),
    );
    let (mcp_method, mcp_name) = (req.header(METHOD_HEADER), req.header(NAME_HEADER));
    let session_id = req.header(SESSION_ID_HEADER);
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
        isolate,
        ttl: config.mcp_cache_ttl,
        clock: now,
    };
    let catalog = catalog(config.mcp_conformance);
    let served = Served {
        catalog,
        env: &tool_env,
    };
    // A session object that is reset, times out or whose storage throws is a
    // temporary fault: 503 with Retry-After (the client retries), never a 500.
    let answered = mcp::endpoint(request, &user, &sessions, &new_session_id, &served)
        .await
        .map_err(|e| {
            worker::console_error!("mcp session: {e}");
            HttpError::StorageUnavailable {
                retry_after: crate::oauth::site::RETRY_AFTER_SECS,
            }
        })?;
    let mut reply = answered.reply;
    match (answered.input, session_id.as_deref()) {
        (None, _) | (Some(_), None) => {}
        (Some(InputWork::Deliver(answers)), Some(id)) => {
            let name = mcp::session_store::session_name(&user, id);
            for answer in answers {
                let op = SessionOp::Answer {
                    id: answer.id_text(),
                    outcome: answer.outcome,
                };
                if !input_call(env, &name, &op).await?.accepted {
                    reply = mcp::server::unexpected_answer(&answer.id);
                }
            }
        }
        (Some(InputWork::Ask(pending)), Some(id)) => {
            let head = super::platform::header_lines(&with_cors(reply))
                .ok_or_else(|| internal("stream headers", "line break"))?;
            let stream =
                event_stream(200, &head).map_err(|e| internal("event stream", format!("{e:?}")))?;
            let response = stream_response(&stream);
            let task = InputTask {
                env: env.clone(),
                session: mcp::session_store::session_name(&user, id),
                user,
                catalog,
                keyring: config.keyring.clone(),
                github_api_base: github_api_base.to_owned(),
            };
            wasm_bindgen_futures::spawn_local(task.run(pending, stream));
            return Ok(Answer::Stream(response));
        }
    }
    Ok(Answer::Reply(with_cors(reply)))
}

// The stream a legacy call asks the client for input on, and the wait for the answers in the
// session's object. `TransformStream`: the Worker returns the readable side as the body and
// keeps writing to the other while the call runs (the runtime keeps the request alive while
// its body is being written).
#[wasm_bindgen(inline_js = r#"
export function eventStream(status, head) {
  const headers = new Headers();
  const parts = head.length ? head.split("\n") : [];
  for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  const { readable, writable } = new TransformStream();
  return { response: new Response(readable, { status, headers }), writer: writable.getWriter() };
}
export function streamResponse(s) { return s.response; }
export function streamWrite(s, text) { return s.writer.write(new TextEncoder().encode(text)); }
export function streamClose(s) { return s.writer.close().catch(() => {}); }
// A promise that settles with true when `wake` is called, or with false after `ms`.
export function newWaiter(ms) {
  let settle;
  const promise = new Promise((r) => { settle = r; });
  const timer = setTimeout(() => settle(false), ms);
  return { promise, wake: () => { clearTimeout(timer); settle(true); } };
}
export function waiterPromise(w) { return w.promise; }
export function wake(w) { w.wake(); }
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = eventStream)]
    fn event_stream(status: u16, head: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = streamResponse)]
    fn stream_response(stream: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = streamWrite)]
    fn stream_write(stream: &JsValue, text: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = streamClose)]
    fn stream_close(stream: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = newWaiter)]
    fn new_waiter(ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = waiterPromise)]
    fn waiter_promise(waiter: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = wake)]
    fn wake(waiter: &JsValue);
}

/// What the stream of a legacy call needs after the request handler has returned.
struct InputTask {
    env: Env,
    /// The session object's name (user and session id).
    session: String,
    user: UserContext,
    catalog: &'static Catalog,
    keyring: crypto::Keyring,
    github_api_base: String,
}

impl InputTask {
    /// Sends the call's requests, waits for the answers, runs the call again; until it is
    /// done or given up on. Its last event is the response to the client's `tools/call`.
    async fn run(self, mut pending: mcp::input::PendingCall, stream: JsValue) {
        let last = loop {
            match self.round(&pending, &stream).await {
                Ok(Continued::Ask(next)) => pending = next,
                Ok(Continued::Done { notes, response }) => {
                    for note in notes {
                        let _ = send_event(&stream, &note.to_string()).await;
                    }
                    break response;
                }
                Err(why) => break mcp::server::abandon_call(&pending, &why),
            }
        };
        if let Ok(json) = serde_json::to_string(&last) {
            let _ = send_event(&stream, &json).await;
        }
        let _ = wasm_bindgen_futures::JsFuture::from(stream_close(&stream)).await;
    }

    async fn round(
        &self,
        pending: &mcp::input::PendingCall,
        stream: &JsValue,
    ) -> Result<Continued, String> {
        let prefix = format!(
            "{}:",
            crypto::random_id(&OsEntropy).map_err(|_| "no randomness".to_owned())?
        );
        let messages = pending.messages(&prefix);
        let ids: Vec<String> = messages.iter().map(|(id, _)| id.clone()).collect();
        let ask = SessionOp::Ask { ids: ids.clone() };
        let asked = input_call(&self.env, &self.session, &ask)
            .await
            .map_err(|_| "the session could not be reached".to_owned())?;
        if !asked.accepted {
            return Err(format!(
                "this session already has {} requests waiting for the client's answers",
                mcp::input::MAX_PENDING_PER_SESSION
            ));
        }
        let mut sent = true;
        for (_, message) in &messages {
            sent = sent && send_event(stream, &message.to_string()).await.is_ok();
        }
        let wait = SessionOp::Wait {
            ids,
            // A client that closed the stream answers nothing: forget the requests at once.
            ms: if sent {
                mcp::input::ANSWER_WAIT_SECS * 1000
            } else {
                0
            },
        };
        let waited = input_call(&self.env, &self.session, &wait)
            .await
            .map_err(|_| "the session could not be reached".to_owned())?;
        if !waited.accepted {
            return Err(format!(
                "the client did not answer within {} seconds",
                mcp::input::ANSWER_WAIT_SECS
            ));
        }
        let answered = waited
            .answers
            .into_iter()
            .filter_map(|(id, outcome)| Some((id.strip_prefix(&prefix)?.to_owned(), outcome)))
            .collect();
        let seal = KeyringSeal {
            keyring: &self.keyring,
            now: now(),
        };
        let tool_env = ToolEnv {
            http: &FetchClient,
            github_api_base: &self.github_api_base,
            seal: &seal,
            math: &JsMath,
        };
        Ok(mcp::server::continue_call(
            pending.clone(),
            answered,
            &self.user,
            self.catalog,
            &tool_env,
        )
        .await)
    }
}

/// One SSE `message` event on the stream.
async fn send_event(stream: &JsValue, json: &str) -> Result<(), JsValue> {
    let event = mcp::transport::sse_event(json);
    wasm_bindgen_futures::JsFuture::from(stream_write(stream, &event))
        .await
        .map(|_| ())
}

/// The session object's answer to an input operation.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct InputAnswer {
    /// Ask: stored (within the bound). Wait: every id answered in time. Answer: the id was
    /// waiting.
    accepted: bool,
    /// Wait: (id, result or error) of each answer.
    #[serde(default)]
    answers: Vec<(String, Result<serde_json::Value, serde_json::Value>)>,
}

async fn input_call(env: &Env, name: &str, op: &SessionOp) -> Result<InputAnswer, HttpError> {
    let body = serde_json::to_string(op).map_err(|e| internal("encode input op", e))?;
    let text = object_call(env, SESSION_BINDING, name, body).await?;
    serde_json::from_str(&text).map_err(|e| internal("input answer", e))
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
        .header(CACHE_CONTROL, "max-age=300"),
    )
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum SessionOp {
    Load,
    Store(Session),
    Delete,
    /// Requests (by JSON-RPC id) a call is about to send the client.
    Ask {
        ids: Vec<String>,
    },
    /// Wait, at most `ms`, until every one of `ids` is answered; forget them either way.
    Wait {
        ids: Vec<String>,
        ms: u64,
    },
    /// The client's answer to request `id`.
    Answer {
        id: String,
        outcome: Result<serde_json::Value, serde_json::Value>,
    },
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
    /// Requests sent to the client and not yet collected, by id: `None` until answered.
    /// In memory only: a waiting call keeps the object alive, and a call whose object was
    /// evicted between its `Ask` and its `Wait` (milliseconds) just times out.
    asked: RefCell<std::collections::HashMap<String, Option<AnswerOutcome>>>,
    /// Calls waiting for answers: their ids and the waiter to wake.
    waiters: RefCell<Vec<(Vec<String>, JsValue)>>,
}

type AnswerOutcome = Result<serde_json::Value, serde_json::Value>;

impl McpSession {
    fn all_answered(&self, ids: &[String]) -> bool {
        let asked = self.asked.borrow();
        ids.iter().all(|id| matches!(asked.get(id), Some(Some(_))))
    }

    async fn input(&self, op: SessionOp) -> InputAnswer {
        match op {
            SessionOp::Ask { ids } => {
                let mut asked = self.asked.borrow_mut();
                let fits = asked.len() + ids.len() <= mcp::input::MAX_PENDING_PER_SESSION
                    && ids.iter().all(|id| !asked.contains_key(id));
                if fits {
                    for id in ids {
                        asked.insert(id, None);
                    }
                }
                InputAnswer {
                    accepted: fits,
                    answers: Vec::new(),
                }
            }
            SessionOp::Wait { ids, ms } => {
                if !self.all_answered(&ids) {
                    let waiter = new_waiter(ms as f64);
                    let promise = waiter_promise(&waiter);
                    self.waiters.borrow_mut().push((ids.clone(), waiter));
                    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
                    self.waiters
                        .borrow_mut()
                        .retain(|(waiting, _)| waiting != &ids);
                }
                let accepted = self.all_answered(&ids);
                let mut asked = self.asked.borrow_mut();
                let answers = ids
                    .iter()
                    .filter_map(|id| Some((id.clone(), asked.remove(id)??)))
                    .collect();
                InputAnswer { accepted, answers }
            }
            SessionOp::Answer { id, outcome } => {
                let accepted = match self.asked.borrow_mut().get_mut(&id) {
                    Some(slot @ None) => {
                        *slot = Some(outcome);
                        true
                    }
                    _ => false,
                };
                if accepted {
                    for (ids, waiter) in self.waiters.borrow().iter() {
                        if ids.contains(&id) && self.all_answered(ids) {
                            wake(waiter);
                        }
                    }
                }
                InputAnswer {
                    accepted,
                    answers: Vec::new(),
                }
            }
            SessionOp::Load | SessionOp::Store(_) | SessionOp::Delete => InputAnswer::default(),
        }
    }
}

impl DurableObject for McpSession {
    fn new(state: State, _env: Env) -> Self {
        McpSession {
            state,
            asked: RefCell::default(),
            waiters: RefCell::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        // From a str, as the shell reads sessions: one decoder of `Session` in the wasm.
        let op: SessionOp = serde_json::from_str(&req.text().await?)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        if matches!(
            op,
            SessionOp::Ask { .. } | SessionOp::Wait { .. } | SessionOp::Answer { .. }
        ) {
            return Response::from_json(&self.input(op).await);
        }
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
            SessionOp::Ask { .. } | SessionOp::Wait { .. } | SessionOp::Answer { .. } => None,
        };
        Response::from_json(&answer)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.state.storage().delete_all().await?;
        Response::empty()
    }
}
