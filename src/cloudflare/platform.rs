//! Adapters from the core's plain interfaces to the platform: KV, outbound
//! fetch, the clock, Durable Object calls, and request/response mapping.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{Env, Fetch, Headers, Request};

use crate::http::{Fault, HttpError, Reply};
use crate::oauth::grant::command::{GrantAnswer, GrantCommand};
use crate::oauth::index::IndexCommand;
use crate::oauth::store::{GrantObjects, IndexObjects, KeyPage, Kv, StoreError};
use crate::outbound::{HttpClient, LocalBoxFuture, OutRequest, OutResponse};

/// KV namespace binding for OAuth data.
pub const KV_BINDING: &str = "OAUTH_KV";
/// Durable Object bindings.
pub const GRANT_BINDING: &str = "GRANTS";
pub const SESSION_BINDING: &str = "MCP_SESSION";
/// KV refuses expirations shorter than this.
const KV_MIN_TTL: u64 = 60;

pub fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// A platform fault, hidden behind a generic 500; the shell logs `context` and
/// the error once when it answers.
pub fn internal(context: &str, err: impl std::fmt::Display) -> HttpError {
    HttpError::internal(Fault::Platform, format!("{context}: {err}"))
}

/// The authorization server's `Store` (its three ports): Workers KV, and the grants' Durable
/// Objects. Faults are logged here, with their detail, and reach the core as
/// opaque [`StoreError`]s.
pub struct KvStore<'a> {
    kv: worker::kv::KvStore,
    env: &'a Env,
}

impl<'a> KvStore<'a> {
    pub fn from_env(env: &'a Env) -> Result<KvStore<'a>, HttpError> {
        env.kv(KV_BINDING)
            .map(|kv| KvStore { kv, env })
            .map_err(|e| internal("KV binding OAUTH_KV", e))
    }
}

fn store_error(context: &str, err: impl std::fmt::Display) -> StoreError {
    worker::console_error!("{context}: {err}");
    StoreError(context.to_owned())
}

/// One page of `OAUTH_KV.list()`, read straight from the binding: worker's
/// typed list decodes its answer with serde-wasm-bindgen, which links core's
/// float formatting (about 6 KiB gzip) for keys' expiration numbers we never read.
async fn list_keys(
    env: &Env,
    prefix: &str,
    cursor: Option<&str>,
    limit: usize,
) -> Result<(Vec<String>, Option<String>), JsValue> {
    use js_sys::{Array, Function, Object, Promise, Reflect};
    use wasm_bindgen::JsCast;
    let binding = Reflect::get(env.as_ref(), &JsValue::from_str(KV_BINDING))?;
    let list: Function = Reflect::get(&binding, &JsValue::from_str("list"))?.dyn_into()?;
    let options = Object::new();
    Reflect::set(&options, &"prefix".into(), &prefix.into())?;
    Reflect::set(&options, &"limit".into(), &(limit as f64).into())?;
    if let Some(c) = cursor {
        Reflect::set(&options, &"cursor".into(), &c.into())?;
    }
    let promise: Promise = list.call1(&binding, &options)?.dyn_into()?;
    let page = wasm_bindgen_futures::JsFuture::from(promise).await?;
    let keys: Array = Reflect::get(&page, &"keys".into())?.dyn_into()?;
    let names = keys
        .iter()
        .filter_map(|k| Reflect::get(&k, &"name".into()).ok()?.as_string())
        .collect();
    let complete = Reflect::get(&page, &"list_complete".into())?
        .as_bool()
        .unwrap_or(true);
    let next = Reflect::get(&page, &"cursor".into())?
        .as_string()
        .filter(|c| !complete && !c.is_empty());
    Ok((names, next))
}

/// Sends a JSON command to the `GrantObject`-class object named `name` (a
/// grant, or a `user:`/`client:` index) and returns its answer's text.
async fn command_call(
    env: &Env,
    name: &str,
    command: &impl serde::Serialize,
) -> Result<String, StoreError> {
    let body = serde_json::to_string(command).map_err(|e| store_error("encode command", e))?;
    object_call(env, GRANT_BINDING, name, body)
        .await
        .map_err(|_| StoreError(format!("object {name}")))
}

impl Kv for KvStore<'_> {
    fn get<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            // Client records: this isolate's copy when fresh (`Isolate::client_record`).
            let isolate = super::isolate();
            if let Some(hit) = isolate.client_record(key, now) {
                return Ok(Some(hit));
            }
            let value = self
                .kv
                .get(key)
                .text()
                .await
                .map_err(|e| store_error("KV get", e))?;
            // Only what exists is kept: a client registered a moment later is
            // found at once.
            if let Some(v) = value.as_deref() {
                isolate.keep_client_record(key, v, now);
            }
            Ok(value)
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: u64,
    ) -> LocalBoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // As bytes: `put` with a `&str` goes through serde-wasm-bindgen and
            // links core's float formatting (about 20 KB of wasm) for nothing.
            self.kv
                .put_bytes(key, value.as_bytes())
                .map_err(|e| store_error("KV put", e))?
                .expiration_ttl(ttl.max(KV_MIN_TTL))
                .execute()
                .await
                .map_err(|e| store_error("KV put", e))?;
            super::isolate().keep_client_record(key, value, now);
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            super::isolate().forget_client_record(key);
            self.kv
                .delete(key)
                .await
                .map_err(|e| store_error("KV delete", e))
        })
    }

    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<KeyPage, StoreError>> {
        Box::pin(async move {
            list_keys(self.env, prefix, cursor, limit)
                .await
                .map_err(|e| store_error("KV list", format!("{e:?}")))
        })
    }
}

impl GrantObjects for KvStore<'_> {
    fn grant<'a>(
        &'a self,
        grant_id: &'a str,
        command: &'a GrantCommand,
    ) -> LocalBoxFuture<'a, Result<GrantAnswer, StoreError>> {
        Box::pin(async move {
            let name = crate::keys::grant(grant_id);
            let text = command_call(self.env, name, command).await?;
            serde_json::from_str(&text).map_err(|e| store_error("grant answer", e))
        })
    }
}

impl IndexObjects for KvStore<'_> {
    fn index<'a>(
        &'a self,
        index: &'a str,
        command: &'a IndexCommand,
    ) -> LocalBoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            let text = command_call(self.env, index, command).await?;
            // See `index_object`: an array of grant ids, or a string (the fault).
            match serde_json::from_slice::<serde_json::Value>(text.as_bytes()) {
                Ok(serde_json::Value::Array(items)) => Ok(items
                    .into_iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()),
                Ok(serde_json::Value::String(fault)) => Err(StoreError(fault)),
                _ => Err(store_error("index answer", "not an array or a string")),
            }
        })
    }
}

/// A Durable Object storage value as the platform holds it (`undefined` when
/// absent), read without worker's typed `get`, which decodes through
/// serde-wasm-bindgen and links core's float formatting. Callers take the
/// string or number they stored with `put_raw`.
pub async fn storage_value(storage: &worker::Storage, key: &str) -> worker::Result<JsValue> {
    let map = storage.get_multiple(vec![key]).await?;
    Ok(map.get(&JsValue::from_str(key)))
}

/// Outbound HTTP through the platform's fetch.
pub struct FetchClient;

impl HttpClient for FetchClient {
    fn send(&self, request: OutRequest) -> LocalBoxFuture<'_, Result<OutResponse, String>> {
        Box::pin(async move {
            let body = request
                .body
                .as_deref()
                .map(|b| js_sys::Uint8Array::from(b).into());
            let req = build_request(request.method, &request.url, &request.headers, body)
                .map_err(|e| e.to_string())?;
            let mut res = Fetch::Request(req)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let headers = res.headers().entries().collect::<Vec<(String, String)>>();
            let body = res.bytes().await.map_err(|e| e.to_string())?;
            Ok(OutResponse {
                status: res.status_code(),
                headers,
                body,
            })
        })
    }
}

/// A request for fetch or a Durable Object stub, built with web-sys (see Cargo.toml).
pub fn build_request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<JsValue>,
) -> worker::Result<Request> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if !headers.is_empty() {
        let h = Headers::new();
        for (k, v) in headers {
            h.append(k, v)?;
        }
        init.set_headers(h.as_ref());
    }
    if let Some(body) = body {
        init.set_body(&body);
    }
    Ok(Request::from(web_sys::Request::new_with_str_and_init(
        url, &init,
    )?))
}

/// Sends `body` to the Durable Object of `binding` named `name`, and returns
/// its answer: the one way this Worker calls its objects.
pub async fn object_call(
    env: &Env,
    binding: &str,
    name: &str,
    body: String,
) -> Result<String, HttpError> {
    let namespace = env
        .durable_object(binding)
        .map_err(|e| internal("durable object binding", e))?;
    let stub = namespace
        .id_from_name(name)
        .and_then(|id| id.get_stub())
        .map_err(|e| internal("durable object stub", e))?;
    let req = build_request(
        "POST",
        "https://object.internal/",
        &[],
        Some(JsValue::from_str(&body)),
    )
    .map_err(|e| internal("durable object request", e))?;
    // An object that is reset, times out, or whose storage throws is a
    // temporary fault: 503 with Retry-After, never a 500.
    let unavailable = |context: &str, e: &dyn std::fmt::Display| {
        worker::console_error!("{context}: {e}");
        HttpError::StorageUnavailable {
            retry_after: crate::oauth::site::RETRY_AFTER_SECS,
        }
    };
    let mut res = stub
        .fetch_with_request(req)
        .await
        .map_err(|e| unavailable("durable object call", &e))?;
    if res.status_code() >= 500 {
        return Err(unavailable("durable object answer", &res.status_code()));
    }
    res.text()
        .await
        .map_err(|e| unavailable("durable object answer", &e))
}

// The request/response edge, in a few lines of JavaScript. Every call between
// wasm and JS costs about a microsecond plus the copying of its strings, and
// web-sys would spend one call per property and per header; these helpers
// take or return everything a step needs in one call each. (Measured: see
// README "Size and cost".)
#[wasm_bindgen(inline_js = r#"
// "METHOD URL" in one string: the two request parts every route needs.
export function requestLine(req) { return req.method + " " + req.url; }
// One header, or null; only the headers a route reads ever cross.
export function requestHeader(req, name) { return req.headers.get(name); }
// A whole response in one call. `head` is "name\nvalue\n..." (the shell
// refuses CR and LF inside names and values, so the split is exact). The body
// bytes are a view of wasm memory, hence the copy.
export function newResponse(status, head, body) {
  const headers = new Headers();
  if (head.length) {
    const parts = head.split("\n");
    for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  }
  return new Response(body.length ? body.slice() : null, { status, headers });
}
// For answers that never change (metadata, health, preflight): the Headers and
// the body text are made once, and each request only copies them into a new
// Response (which copies its init, so the kept ones are never touched).
export function prepareResponse(status, head, body) {
  const headers = new Headers();
  if (head.length) {
    const parts = head.split("\n");
    for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  }
  return { status, headers, body: body.length ? new TextDecoder().decode(body) : null };
}
// The kept parts ride along on the Response, under a registered symbol, so the
// entry module (entry.js) can answer the next GET of the same URL itself.
export function sendPrepared(p) {
  const res = new Response(p.body, { status: p.status, headers: p.headers });
  res[Symbol.for("mcp-oauth-worker.kept")] = p;
  return res;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = requestLine)]
    fn request_line(req: &web_sys::Request) -> String;
    #[wasm_bindgen(js_name = requestHeader)]
    fn request_header(req: &web_sys::Request, name: &str) -> Option<String>;
    #[wasm_bindgen(catch, js_name = newResponse)]
    fn new_response(status: u16, head: &str, body: &[u8]) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = prepareResponse)]
    fn prepare_response(status: u16, head: &str, body: &[u8]) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = sendPrepared)]
    fn send_prepared(prepared: &JsValue) -> JsValue;
}

/// The one place a core [`Reply`] becomes a platform response: one call
/// into JS. A header the platform would refuse (CR, LF or NUL in it, or a bad
/// name) turns the reply into a plain 500, as `Headers.append` would have.
pub fn respond(reply: &Reply) -> JsValue {
    if let Some(line) = &reply.log {
        worker::console_log!("{line}");
    }
    let Some(head) = header_lines(reply) else {
        return server_error("response header with a line break");
    };
    match new_response(reply.status, &head, &reply.body) {
        Ok(res) => res,
        Err(e) => server_error(&format!("{e:?}")),
    }
}

/// A response kept for reuse: see [`Prepared::send`]. Only for replies whose
/// body is UTF-8 text (the JSON documents it is used for).
#[derive(Clone)]
pub struct Prepared(JsValue);

impl Prepared {
    pub fn new(reply: &Reply) -> Prepared {
        let prepared = header_lines(reply)
            .ok_or_else(|| "response header with a line break".to_owned())
            .and_then(|head| {
                prepare_response(reply.status, &head, &reply.body).map_err(|e| format!("{e:?}"))
            });
        match prepared {
            Ok(p) => Prepared(p),
            Err(detail) => {
                worker::console_error!("preparing a response: {detail}");
                let body = br#"{"error":"server_error","error_description":"internal error"}"#;
                Prepared(
                    prepare_response(500, "Content-Type\napplication/json", body)
                        .unwrap_or(JsValue::NULL),
                )
            }
        }
    }

    /// A fresh `Response` from the kept parts: one call, no copying through wasm.
    pub fn send(&self) -> JsValue {
        send_prepared(&self.0)
    }
}

/// The headers as "name\nvalue\n...", or `None` when a name or value holds a
/// character that would break the split (the platform refuses them anyway).
pub(crate) fn header_lines(reply: &Reply) -> Option<String> {
    let mut head = String::with_capacity(
        reply
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum(),
    );
    for (name, value) in &reply.headers {
        if [name, value].iter().any(|s| s.contains(['\n', '\r', '\0'])) {
            return None;
        }
        if !head.is_empty() {
            head.push('\n');
        }
        head.push_str(name);
        head.push('\n');
        head.push_str(value);
    }
    Some(head)
}

fn server_error(detail: &str) -> JsValue {
    worker::console_error!("building a response: {detail}");
    let body = br#"{"error":"server_error","error_description":"internal error"}"#;
    new_response(500, "Content-Type\napplication/json", body).unwrap_or(JsValue::NULL)
}

/// The method and URL of a request, read in one call.
pub struct RequestHead {
    pub method: String,
    pub url: String,
}

impl RequestHead {
    pub fn read(req: &web_sys::Request) -> RequestHead {
        let line = request_line(req);
        match line.split_once(' ') {
            Some((method, url)) => RequestHead {
                method: method.to_owned(),
                url: url.to_owned(),
            },
            None => RequestHead {
                method: line,
                url: String::new(),
            },
        }
    }
}

/// One request header, read on demand (see `requestHeader` above).
pub fn header(req: &web_sys::Request, name: &str) -> Option<String> {
    request_header(req, name)
}

/// A request, read into plain values once. Headers stay on the platform's
/// request and are read one by one when a handler asks.
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub query: String,
    /// `scheme://host[:port]` as the client reached us.
    pub origin: String,
    /// Host without port.
    pub host: String,
    pub secure: bool,
    raw: web_sys::Request,
    pub body: Vec<u8>,
}

impl Incoming {
    /// Reads the request whose URL the router already split. Only methods that
    /// carry a body, on routes that take one, have it read (at most
    /// `body_limit` bytes); the rest leave it unread.
    pub async fn read(
        raw: web_sys::Request,
        method: String,
        url: crate::uri::RequestUrl,
        body_limit: usize,
    ) -> Result<Incoming, HttpError> {
        let body = if body_limit == 0 || matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") {
            Vec::new()
        } else {
            // Counted while it streams, refused once past the limit (body.rs).
            super::body::read_limited(&raw, body_limit).await?
        };
        Ok(Incoming {
            body,
            ..Incoming::without_body(raw, method, url)
        })
    }

    /// A request whose body is not needed (static answers).
    pub fn without_body(
        raw: web_sys::Request,
        method: String,
        url: crate::uri::RequestUrl,
    ) -> Incoming {
        Incoming {
            method,
            path: url.path,
            query: url.query,
            origin: url.origin,
            host: url.host,
            secure: url.secure,
            raw,
            body: Vec::new(),
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        request_header(&self.raw, name)
    }
}
