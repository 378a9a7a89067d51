//! Opaque list cursors (spec "Utilities: Pagination"): where the next page of `tools/list`,
//! `resources/list`, `resources/templates/list` or `prompts/list` starts. A cursor is the
//! offset of that page, base64url-encoded; a client must not read it, and one this server
//! did not issue is -32602.

use super::jsonrpc::ErrorObject;
use base64::Engine;
use serde_json::{Map, Value};

/// The cursor of the page that starts at `offset`.
pub(crate) fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("tools:{offset}"))
}

/// Where a list page starts: 0 without a cursor, else the offset a cursor this
/// server issued names (-32602 for any other cursor, spec "Utilities: Pagination").
pub(crate) fn page_start(params: &Map<String, Value>, len: usize) -> Result<usize, ErrorObject> {
    match params.get("cursor") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(c)) => decode_cursor(c)
            .filter(|&o| o > 0 && o < len)
            .ok_or_else(|| {
                ErrorObject::invalid_params(
                    "the cursor is not one this server issued or no longer applies; list again \
                 without a cursor",
                )
            }),
        Some(_) => Err(ErrorObject::invalid_params(
            "params.cursor must be a string",
        )),
    }
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("tools:")?
        .parse()
        .ok()
}
