//! Adapters from the core's plain interfaces to the platform: KV, outbound
//! fetch, the clock, Durable Object calls, and request/response mapping.

use wasm_bindgen::JsValue;
use worker::{Env, Fetch, Headers, Method, Request, Response};

use crate::http::{HttpError, Reply};
use crate::oauth::grant::command::{GrantAnswer, GrantCommand};
use crate::oauth::index::{IndexAnswer, IndexCommand};
use crate::oauth::store::{KeyPage, Store, StoreError};
use crate::outbound::{HttpClient, LocalBoxFuture, OutRequest, OutResponse};

/// KV namespace binding for OAuth data.
pub const KV_BINDING: &str = "OAUTH_KV";
/// Durable Object bindings.
pub const GRANT_BINDING: &str = "GRANTS";
pub const SESSION_BINDING: &str = "MCP_SESSION";
/// The grant indexes (`oauth::index`), one object per user and per client.
pub const INDEX_BINDING: &str = "GRANT_INDEX";
/// KV refuses expirations shorter than this.
const KV_MIN_TTL: u64 = 60;

pub fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// Logs a platform fault and hides it behind a generic 500.
pub fn internal(context: &str, err: impl std::fmt::Display) -> HttpError {
    worker::console_error!("{context}: {err}");
    HttpError::Internal
}

/// The authorization server's [`Store`]: Workers KV, and the grants' Durable
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

impl Store for KvStore<'_> {
    fn get<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            self.kv
                .get(key)
                .text()
                .await
                .map_err(|e| store_error("KV get", e))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: u64,
    ) -> LocalBoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.kv
                .put(key, value)
                .map_err(|e| store_error("KV put", e))?
                .expiration_ttl(ttl.max(KV_MIN_TTL))
                .execute()
                .await
                .map_err(|e| store_error("KV put", e))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.kv
                .delete(key)
                .await
                .map_err(|e| store_error("KV delete", e))
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> LocalBoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            let mut keys = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut req = self.kv.list().prefix(prefix.to_owned());
                if let Some(c) = cursor.take() {
                    req = req.cursor(c);
                }
                let page = req.execute().await.map_err(|e| store_error("KV list", e))?;
                keys.extend(page.keys.into_iter().map(|k| k.name));
                match page.cursor {
                    Some(c) if !page.list_complete => cursor = Some(c),
                    _ => return Ok(keys),
                }
            }
        })
    }

    fn grant<'a>(
        &'a self,
        grant_id: &'a str,
        command: &'a GrantCommand,
    ) -> LocalBoxFuture<'a, Result<GrantAnswer, StoreError>> {
        Box::pin(async move {
            let body = serde_json::to_string(command)
                .map_err(|e| store_error("encode grant command", e))?;
            let text = object_call(self.env, GRANT_BINDING, grant_id, body)
                .await
                .map_err(|_| StoreError("grant object".into()))?;
            serde_json::from_str(&text).map_err(|e| store_error("grant answer", e))
        })
    }

    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<KeyPage, StoreError>> {
        Box::pin(async move {
            let mut req = self.kv.list().prefix(prefix.to_owned()).limit(limit as u64);
            if let Some(c) = cursor {
                req = req.cursor(c.to_owned());
            }
            let page = req.execute().await.map_err(|e| store_error("KV list", e))?;
            let next = page.cursor.filter(|_| !page.list_complete);
            Ok((page.keys.into_iter().map(|k| k.name).collect(), next))
        })
    }

    fn index<'a>(
        &'a self,
        index: &'a str,
        command: &'a IndexCommand,
    ) -> LocalBoxFuture<'a, Result<IndexAnswer, StoreError>> {
        Box::pin(async move {
            let body = serde_json::to_string(command)
                .map_err(|e| store_error("encode index command", e))?;
            let text = object_call(self.env, INDEX_BINDING, index, body)
                .await
                .map_err(|_| StoreError("grant index".into()))?;
            serde_json::from_str(&text).map_err(|e| store_error("index answer", e))
        })
    }
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
    let mut res = stub
        .fetch_with_request(req)
        .await
        .map_err(|e| internal("durable object call", e))?;
    res.text()
        .await
        .map_err(|e| internal("durable object answer", e))
}

/// The one place a core [`Reply`] becomes a platform response.
pub fn respond(reply: Reply) -> worker::Result<Response> {
    let headers = Headers::new();
    for (name, value) in &reply.headers {
        headers.append(name, value)?;
    }
    let response = if reply.body.is_empty() {
        Response::empty()?
    } else {
        Response::from_bytes(reply.body)?
    };
    Ok(response.with_status(reply.status).with_headers(headers))
}

/// A request, read once into plain values.
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub query: String,
    /// `scheme://host[:port]` as the client reached us.
    pub origin: String,
    /// Host without port.
    pub host: String,
    pub secure: bool,
    headers: Headers,
    pub body: Vec<u8>,
}

impl Incoming {
    /// Reads the request whose URL the router already split.
    pub async fn read(
        mut req: Request,
        url: crate::uri::RequestUrl,
        body_limit: usize,
    ) -> Result<Incoming, HttpError> {
        let body = if body_limit == 0
            || matches!(req.method(), Method::Get | Method::Head | Method::Options)
        {
            Vec::new()
        } else {
            let bytes = req.bytes().await.map_err(|_| HttpError::UnreadableBody)?;
            if bytes.len() > body_limit {
                return Err(HttpError::PayloadTooLarge { limit: body_limit });
            }
            bytes
        };
        Ok(Incoming {
            method: req.method().to_string(),
            path: url.path,
            query: url.query,
            origin: url.origin,
            host: url.host,
            secure: url.secure,
            headers: req.headers().clone(),
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }
}
