//! Where the authorization server keeps things, as the core sees it: a KV-like
//! store with TTLs, plus the call to a grant's serializer. The Cloudflare shell
//! implements it over Workers KV and Durable Objects; native tests implement it
//! in memory (`tests/common`).
//!
//! The key layout lives here and nowhere else ([`keys`]); docs/storage-schema.md
//! describes each key.

use crate::oauth::grant::command::{GrantAnswer, GrantCommand};
use crate::oauth::index::{IndexAnswer, IndexCommand};
use crate::outbound::LocalBoxFuture;

/// A platform fault of the store (unreachable, over a limit). Never a client's
/// mistake, so the caller answers it with a 5xx and logs it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(pub String);

/// One page of a key listing: the keys, and the cursor of the next page.
pub type KeyPage = (Vec<String>, Option<String>);

/// The authorization server's storage.
pub trait Store {
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

    /// Runs `command` in the serializer of grant `grant_id` and returns its answer.
    fn grant<'a>(
        &'a self,
        grant_id: &'a str,
        command: &'a GrantCommand,
    ) -> LocalBoxFuture<'a, Result<GrantAnswer, StoreError>>;

    /// One page of the keys that start with `prefix`, in key order, at most
    /// `limit`, after `cursor` (an opaque value from the previous page).
    /// Returns the keys and the cursor of the next page, `None` on the last.
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<KeyPage, StoreError>>;

    /// Runs `command` in the grant index object named `index` (`user:<id>` or
    /// `client:<id>`, see `oauth::index`). A store without indexes refuses.
    fn index<'a>(
        &'a self,
        index: &'a str,
        command: &'a IndexCommand,
    ) -> LocalBoxFuture<'a, Result<IndexAnswer, StoreError>> {
        let _ = (index, command);
        Box::pin(async move { Err(StoreError("this store keeps no grant index".into())) })
    }
}

/// Every KV key the authorization server uses.
pub mod keys {
    /// A registered client: `client:<client_id>`.
    pub fn client(client_id: &str) -> String {
        format!("client:{client_id}")
    }

    /// The operator's block list (`oauth::policy::BlockList`): `policy:blocked`.
    pub fn blocks() -> String {
        "policy:blocked".to_owned()
    }

    /// The record behind an access token: `access:<sha256(token) hex>`.
    pub fn access(token_hash: &str) -> String {
        format!("access:{token_hash}")
    }
}
