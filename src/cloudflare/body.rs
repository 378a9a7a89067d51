//! Reads a request body chunk by chunk from its `ReadableStream`, counting as it
//! goes, and stops at the route's limit: a chunked upload (no `Content-Length`)
//! is refused with 413 as soon as it passes the limit, and the rest is never
//! buffered; it is read and dropped up to [`DRAIN_CAP`] so that the client
//! reads the 413.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStreamDefaultReader;

use crate::http::HttpError;

/// How much of a refused body is read and dropped before the 413 is sent.
///
/// A server that answers while the client is still sending, and then closes
/// the connection with unread data, makes the client's TCP stack see a reset
/// that can discard the answer before the client reads it (RFC 9112 §9.6,
/// "lingering close"). workerd under Miniflare and `wrangler dev` do not linger,
/// so a fast client streaming an oversized body often saw a reset or a 503 from
/// wrangler's proxy instead of the 413 (`scripts/oversize-probe.mjs` shows it).
/// Reading the rest, without keeping it, lets the answer arrive. Beyond this cap
/// the client is sending far more than any real request, and the connection is
/// dropped as before (e2e/public.test.mjs holds an endless body to the cap).
/// Whether Cloudflare's edge would linger by itself was not measured.
pub const DRAIN_CAP: usize = 8 * 1024 * 1024;

/// Reads and drops up to `cap` more bytes of `req`'s body (see [`DRAIN_CAP`]).
pub async fn drain(req: &web_sys::Request, cap: usize) {
    if let Some(stream) = req.body() {
        let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
        drain_reader(&reader, cap).await;
    }
}

async fn drain_reader(reader: &ReadableStreamDefaultReader, cap: usize) {
    let mut seen = 0usize;
    while seen <= cap {
        let Ok(chunk) = JsFuture::from(reader.read()).await else {
            return;
        };
        if Reflect::get(&chunk, &JsValue::from_str("done"))
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true)
        {
            return;
        }
        seen = seen.saturating_add(
            Reflect::get(&chunk, &JsValue::from_str("value"))
                .ok()
                .and_then(|v| v.dyn_into::<Uint8Array>().ok())
                .map_or(0, |b| b.length() as usize),
        );
    }
    reader.release_lock();
}

/// The whole body, or `PayloadTooLarge` once more than `limit` bytes arrived.
pub async fn read_limited(req: &web_sys::Request, limit: usize) -> Result<Vec<u8>, HttpError> {
    let Some(stream) = req.body() else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut body = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|_| HttpError::UnreadableBody)?;
        let done = Reflect::get(&chunk, &JsValue::from_str("done"))
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            return Ok(body);
        }
        let bytes: Uint8Array = Reflect::get(&chunk, &JsValue::from_str("value"))
            .ok()
            .and_then(|v| v.dyn_into().ok())
            .ok_or(HttpError::UnreadableBody)?;
        let len = bytes.length() as usize;
        if body.len().saturating_add(len) > limit {
            // Read and drop the rest (up to DRAIN_CAP) before answering, so a
            // client still writing reads the 413 instead of a reset.
            drain_reader(&reader, DRAIN_CAP).await;
            return Err(HttpError::PayloadTooLarge { limit });
        }
        let start = body.len();
        body.resize(start + len, 0);
        bytes.copy_to(&mut body[start..]);
    }
}
