//! What every method handler works with besides its params: the caller, the catalog, the
//! tools' environment, the protocol generation the request speaks ([`Era`]) and what the
//! client can answer, all in one [`Ctx`]; and the two pieces of result shaping that the
//! server and the features share (2026-07-28 cache hints, shortened echoes of client input).
//!
//! Spec: the caching hints `ttlMs` and `cacheScope` of 2026-07-28 results (SEP-2549).

use super::catalog::Catalog;
use super::protocol::ClientCaps;
use super::tools::ToolEnv;
use crate::user::UserContext;
use serde_json::{json, Map, Value};

/// How long a client may reuse a 2026-07-28 list or discovery result, in milliseconds.
const CACHE_TTL_MS: u64 = 300_000;

/// Which protocol generation a request speaks; it changes the shape of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    /// 2025-03-26 to 2025-11-25: `initialize` and a session.
    Legacy,
    /// 2026-07-28: stateless; results carry `resultType` and `_meta`.
    Modern,
}

/// Everything a method needs besides its params.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub user: &'a UserContext,
    pub catalog: &'a Catalog,
    pub env: &'a ToolEnv<'a>,
    pub era: Era,
    /// What the client can answer: the session's `initialize` capabilities (legacy) or the
    /// request's `_meta` ones (2026-07-28).
    pub caps: ClientCaps,
}

/// `ttlMs` and `cacheScope` of 2026-07-28 list results. Private: the list is fetched with the
/// user's token, so shared caches must not keep it.
pub(crate) fn cacheable(result: &mut Map<String, Value>) {
    result.insert("ttlMs".into(), json!(CACHE_TTL_MS));
    result.insert("cacheScope".into(), json!("private"));
}

/// A client-supplied string shortened to 100 characters, for echoing in an error message.
pub(crate) fn truncated(s: &str) -> String {
    super::jsonrpc::truncate(s, 100)
}
