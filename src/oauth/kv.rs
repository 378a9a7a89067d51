//! The key-value port of the authorization server: Workers KV as the core
//! sees it, a store with TTLs and paged listing. The Cloudflare shell
//! implements it over `OAUTH_KV`; native tests implement it in memory
//! (`tests/common`). Which keys exist is `crate::keys`'s business.

use crate::http::HttpError;
use crate::outbound::LocalBoxFuture;

/// How long a client is asked to wait after `temporarily_unavailable`.
pub const RETRY_AFTER_SECS: u64 = 5;

/// A platform fault of the store (unreachable, over a limit). Never a client's
/// mistake, so the caller answers it with a 5xx and logs it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(pub String);

/// Storage failed or did not answer: the client is asked to try again (503
/// `temporarily_unavailable` with `Retry-After`); nothing half-done is kept.
pub(crate) fn store_fault(e: StoreError) -> HttpError {
    let _ = e;
    HttpError::StorageUnavailable {
        retry_after: RETRY_AFTER_SECS,
    }
}

/// One page of a key listing: the keys, and the cursor of the next page.
pub type KeyPage = (Vec<String>, Option<String>);

/// Workers KV.
pub trait Kv {
    /// The value of `key`, if present and not expired.
    fn get<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<Option<String>, StoreError>>;

    /// Writes `value` under `key`, to expire after `ttl` seconds.
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: u64,
    ) -> LocalBoxFuture<'a, Result<(), StoreError>>;

    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<(), StoreError>>;

    /// One page of the keys that start with `prefix`, in key order, at most
    /// `limit`, after `cursor` (an opaque value from the previous page).
    /// Returns the keys and the cursor of the next page, `None` on the last.
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<KeyPage, StoreError>>;
}
