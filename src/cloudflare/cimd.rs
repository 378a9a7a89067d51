//! The platform's side of Client ID Metadata Documents (`oauth::cimd`): the
//! Worker's own `fetch` with redirects off, `Accept: application/json`, a
//! timeout and a streaming read that stops past the size cap; this isolate's
//! cache (held by `crate::isolate::Isolate`); WebCrypto (`crypto.subtle`) for RS256/ES256 signatures, so no JWT or
//! RSA code is compiled into the bundle; and the `AssertionReplay` Durable
//! Object that lets each assertion `jti` pass once.
//!
//! Which URLs may be fetched at all is decided before this module is reached,
//! in code (`urls::client_fetch_target`, called by `oauth::cimd`): no IP
//! literal, no loopback or special-use name, no port but 443. The
//! `global_fetch_strictly_public` flag in wrangler.toml only routes fetches to
//! this Worker's own zone through the front door; it refuses nothing.

use std::cell::RefCell;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{durable_object, DurableObject, Env, Request, Response, State};

use crate::oauth::cimd::{
    self, ClientDocuments, DocumentCache, FetchError, Fetched, SigAlg, FETCH_TIMEOUT_MS,
    MAX_DOCUMENT_BYTES,
};
use crate::outbound::LocalBoxFuture;

use super::platform::{now, object_call};

/// The Durable Object binding that remembers used assertion `jti`s.
pub const REPLAY_BINDING: &str = "ASSERTIONS";

/// [`ClientDocuments`] for a request; the cache is this isolate's
/// ([`crate::isolate::Isolate::client_documents`]).
pub struct WorkerDocuments<'a> {
    env: &'a Env,
    cache: &'static RefCell<DocumentCache>,
}

impl<'a> WorkerDocuments<'a> {
    pub fn new(env: &'a Env) -> WorkerDocuments<'a> {
        WorkerDocuments {
            env,
            cache: super::isolate().client_documents(),
        }
    }
}

fn get(target: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &JsValue::from_str(name))
}

fn method(target: &JsValue, name: &str) -> Result<Function, JsValue> {
    get(target, name)?
        .dyn_into::<Function>()
        .map_err(|_| JsValue::from_str(name))
}

async fn promised(value: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::resolve(&value)).await
}

fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| get(e, "message").ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| "fetch failed".to_owned())
}

async fn fetch_document(url: &str) -> Result<Fetched, FetchError> {
    let started = js_sys::Date::now();
    let timed_out = || js_sys::Date::now() - started >= f64::from(FETCH_TIMEOUT_MS) - 50.0;
    let unreachable = |e: JsValue| {
        if timed_out() {
            FetchError::Timeout
        } else {
            FetchError::Unreachable(describe(&e))
        }
    };
    let global = js_sys::global();
    let request = (|| -> Result<JsValue, JsValue> {
        let init = web_sys::RequestInit::new();
        init.set_method("GET");
        let headers = worker::Headers::new();
        headers
            .set("Accept", "application/json")
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        init.set_headers(headers.as_ref());
        // The draft: a server MUST NOT follow redirects for a document.
        Reflect::set(&init, &"redirect".into(), &"manual".into())?;
        let abort = get(&global, "AbortSignal")?;
        let signal = method(&abort, "timeout")?.call1(&abort, &FETCH_TIMEOUT_MS.into())?;
        Reflect::set(&init, &"signal".into(), &signal)?;
        Ok(web_sys::Request::new_with_str_and_init(url, &init)?.into())
    })()
    .map_err(|e| FetchError::Unreachable(describe(&e)))?;
    let fetch = method(&global, "fetch").map_err(unreachable)?;
    let response = promised(fetch.call1(&global, &request).map_err(unreachable)?)
        .await
        .map_err(unreachable)?;
    let status = get(&response, "status")
        .ok()
        .and_then(|s| s.as_f64())
        .unwrap_or(0.0) as u16;
    let header = |name: &str| {
        get(&response, "headers")
            .and_then(|h| method(&h, "get")?.call1(&h, &name.into()))
            .ok()
            .and_then(|v| v.as_string())
    };
    let cache_control = header("Cache-Control");
    let content_type = header("Content-Type");
    let mut body = Vec::new();
    let stream = get(&response, "body").map_err(unreachable)?;
    if !stream.is_null() && !stream.is_undefined() {
        let reader = method(&stream, "getReader")
            .and_then(|f| f.call0(&stream))
            .map_err(unreachable)?;
        let read = method(&reader, "read").map_err(unreachable)?;
        loop {
            let chunk = promised(read.call0(&reader).map_err(unreachable)?)
                .await
                .map_err(unreachable)?;
            if get(&chunk, "done").ok().and_then(|d| d.as_bool()) == Some(true) {
                break;
            }
            let bytes = get(&chunk, "value")
                .map(|v| Uint8Array::new(&v).to_vec())
                .map_err(unreachable)?;
            body.extend_from_slice(&bytes);
            if body.len() > MAX_DOCUMENT_BYTES {
                // Stop reading; the rest is never downloaded.
                if let Ok(cancel) = method(&reader, "cancel") {
                    let _ = cancel.call0(&reader);
                }
                return Err(FetchError::TooLarge);
            }
        }
    }
    Ok(Fetched {
        status,
        cache_control,
        content_type,
        body,
    })
}

fn object(pairs: &[(&str, &str)]) -> Result<Object, JsValue> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), &(*v).into())?;
    }
    Ok(o)
}

async fn verify(
    alg: SigAlg,
    jwk: &Value,
    signed: &[u8],
    signature: &[u8],
) -> Result<bool, JsValue> {
    let crypto = get(&js_sys::global(), "crypto")?;
    let subtle = get(&crypto, "subtle")?;
    let (import_alg, verify_alg) = match alg {
        SigAlg::Rs256 => {
            let a = object(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")])?;
            (a.clone(), a)
        }
        SigAlg::Es256 => (
            object(&[("name", "ECDSA"), ("namedCurve", "P-256")])?,
            object(&[("name", "ECDSA"), ("hash", "SHA-256")])?,
        ),
    };
    let key_data = js_sys::JSON::parse(&jwk.to_string())?;
    let usages = Array::of1(&"verify".into());
    let args = Array::of5(
        &"jwk".into(),
        &key_data,
        &import_alg,
        &JsValue::FALSE,
        &usages,
    );
    let key = promised(method(&subtle, "importKey")?.apply(&subtle, &args)?).await?;
    let args = Array::of4(
        &verify_alg,
        &key,
        &Uint8Array::from(signature),
        &Uint8Array::from(signed),
    );
    let ok = promised(method(&subtle, "verify")?.apply(&subtle, &args)?).await?;
    Ok(ok.as_bool() == Some(true))
}

#[derive(Serialize, Deserialize)]
struct UseOnce {
    until: u64,
}

impl ClientDocuments for WorkerDocuments<'_> {
    fn fetch<'a>(&'a self, url: &'a str) -> LocalBoxFuture<'a, Result<Fetched, FetchError>> {
        Box::pin(fetch_document(url))
    }

    fn cache(&self) -> &RefCell<DocumentCache> {
        self.cache
    }

    fn log(&self, line: &str) {
        worker::console_warn!("{line}");
    }

    fn verify_signature<'a>(
        &'a self,
        alg: SigAlg,
        jwk: &'a Value,
        signed: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            verify(alg, jwk, signed, signature)
                .await
                .map_err(|e| describe(&e))
        })
    }

    fn first_use<'a>(
        &'a self,
        key: &'a str,
        until: u64,
    ) -> LocalBoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let body = serde_json::to_string(&UseOnce { until }).map_err(|e| e.to_string())?;
            let answer = object_call(self.env, REPLAY_BINDING, key, body)
                .await
                .map_err(|_| "replay object".to_owned())?;
            match answer.as_str() {
                "first" => Ok(true),
                "replay" => Ok(false),
                _ => Err("replay object".to_owned()),
            }
        })
    }
}

/// One object per (client, `jti`): the first request records the `jti` until
/// the assertion's `exp` and answers `first`; any later one, `replay`. A
/// Durable Object runs one request at a time across its storage calls (input
/// gates), so two concurrent uses cannot both be first.
#[durable_object(alarm)]
pub struct AssertionReplay {
    state: State,
}

const UNTIL_KEY: &str = "until";

impl DurableObject for AssertionReplay {
    fn new(state: State, _env: Env) -> Self {
        AssertionReplay { state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let Ok(command) = serde_json::from_str::<UseOnce>(&req.text().await?) else {
            return Response::ok("error");
        };
        let storage = self.state.storage();
        let seen = super::platform::storage_value(&storage, UNTIL_KEY)
            .await?
            .as_f64()
            .map(|n| n as u64);
        let now = now();
        if !cimd::first_use_allowed(seen, now) {
            return Response::ok("replay");
        }
        storage
            .put_raw(
                UNTIL_KEY,
                wasm_bindgen::JsValue::from_f64(command.until as f64),
            )
            .await?;
        let in_secs = command.until.saturating_sub(now).saturating_add(1);
        storage.set_alarm((in_secs as i64) * 1000).await?;
        Response::ok("first")
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.state.storage().delete_all().await?;
        Response::empty()
    }
}
