//! Reads a request body chunk by chunk from its `ReadableStream`, counting as it
//! goes, and stops at the route's limit: a chunked upload (no `Content-Length`)
//! is refused with 413 as soon as it passes the limit, and the rest is never
//! read or buffered.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStreamDefaultReader;

use crate::http::HttpError;

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
            // Tell the runtime we want no more; the promise needs no waiting.
            let _ = reader.cancel();
            return Err(HttpError::PayloadTooLarge { limit });
        }
        let start = body.len();
        body.resize(start + len, 0);
        bytes.copy_to(&mut body[start..]);
    }
}
