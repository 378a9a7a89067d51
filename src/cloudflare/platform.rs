//! Adapters from the core's plain interfaces to the platform: KV, outbound
//! fetch, the clock, Durable Object calls, and request/response mapping.

use wasm_bindgen::JsValue;
use worker::{Env, Fetch, Headers, Method, Request, Response};

use crate::http::{HttpError, Reply};
use crate::oauth::grant::Effect;
use crate::oauth::token::{GrantAnswer, GrantCommand};
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

/// Logs a platform fault and hides it behind a generic 500.
pub fn internal(context: &str, err: impl std::fmt::Display) -> HttpError {
    worker::console_error!("{context}: {err}");
    HttpError::Internal
}

pub struct Kv(worker::kv::KvStore);

impl Kv {
    pub fn from_env(env: &Env) -> Result<Kv, HttpError> {
        env.kv(KV_BINDING)
            .map(Kv)
            .map_err(|e| internal("KV binding OAUTH_KV", e))
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, HttpError> {
        self.0
            .get(key)
            .text()
            .await
            .map_err(|e| internal("KV get", e))
    }

    pub async fn put(&self, key: &str, value: &str, ttl: u64) -> Result<(), HttpError> {
        self.0
            .put(key, value)
            .map_err(|e| internal("KV put", e))?
            .expiration_ttl(ttl.max(KV_MIN_TTL))
            .execute()
            .await
            .map_err(|e| internal("KV put", e))
    }

    pub async fn delete(&self, key: &str) -> Result<(), HttpError> {
        self.0
            .delete(key)
            .await
            .map_err(|e| internal("KV delete", e))
    }

    /// Applies a grant's effects in order.
    pub async fn apply(&self, effects: &[Effect]) -> Result<(), HttpError> {
        for effect in effects {
            match effect {
                Effect::Put { key, value, ttl } => self.put(key, value, *ttl).await?,
                Effect::Delete { key } => self.delete(key).await?,
            }
        }
        Ok(())
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

/// Sends one command to the grant's Durable Object and returns its answer.
pub async fn grant_call(
    env: &Env,
    grant_id: &str,
    command: &GrantCommand,
) -> Result<GrantAnswer, HttpError> {
    let body = serde_json::to_string(command).map_err(|e| internal("encode grant command", e))?;
    let namespace = env
        .durable_object(GRANT_BINDING)
        .map_err(|e| internal("grant object", e))?;
    let stub = namespace
        .id_from_name(grant_id)
        .and_then(|id| id.get_stub())
        .map_err(|e| internal("grant object", e))?;
    let req = build_request(
        "POST",
        "https://grant.internal/",
        &[],
        Some(JsValue::from_str(&body)),
    )
    .map_err(|e| internal("grant request", e))?;
    let mut res = stub
        .fetch_with_request(req)
        .await
        .map_err(|e| internal("grant call", e))?;
    let text = res.text().await.map_err(|e| internal("grant answer", e))?;
    serde_json::from_slice(text.as_bytes()).map_err(|e| internal("grant answer", e))
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
        req: Request,
        url: crate::uri::RequestUrl,
        body_limit: usize,
    ) -> Result<Incoming, HttpError> {
        let body = if body_limit == 0
            || matches!(req.method(), Method::Get | Method::Head | Method::Options)
        {
            Vec::new()
        } else {
            super::body::read_limited(&req, body_limit).await?
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
