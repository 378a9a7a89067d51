//! The grant index: which grants a user has, and which grants a client has, so
//! the account page can list a user's connections and an operator can end every
//! grant of a user or of a client.
//!
//! It lives in small Durable Objects (one class, `GrantIndex`, named
//! `user:<user id>` or `client:<client id>`), not in KV: the storage budget
//! allows a token issuance exactly one KV write (its access record), and an
//! index entry written at code redemption would be a second. The grant's own
//! object keeps the index up to date as a durable effect
//! ([`crate::oauth::grant::Effect::Index`]): an entry is added when a code is
//! redeemed (the grant becomes live) and removed when the grant ends or
//! expires; an update that fails is retried by the grant object's alarm.
//!
//! Entries only say a grant *may* be live. Whoever lists them asks each grant's
//! object for its status and removes the entries it reports ended, so a missed
//! removal corrects itself the next time anyone looks.

use serde::{Deserialize, Serialize};

use crate::outbound::LocalBoxFuture;

/// How many grants one index lists at most (a user or client with more is
/// listed in part; the rest are still ended by "revoke all", see `admin`).
pub const MAX_LISTED: usize = 1000;

/// One grant as the index knows it: what does not change over its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    /// The host of the redirect URI the grant was issued for.
    pub redirect_host: String,
    pub scope: Vec<String>,
    pub resource: String,
    /// When the code was redeemed (the grant became live).
    pub connected_at: u64,
    /// The grant's absolute end (`created_at + GRANT_MAX_LIFETIME`): the entry
    /// is dropped after it even if no one removed it.
    pub ends_at: u64,
}

/// A change to one index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexCommand {
    Add { entry: IndexEntry },
    Remove { grant_id: String },
    List,
}

/// The answer of an index: the entries for `List`, empty otherwise.
pub type IndexAnswer = Result<Vec<IndexEntry>, String>;

/// The index object's storage: one value per grant.
pub trait IndexStorage {
    fn put<'a>(&'a self, key: &'a str, value: &'a str) -> LocalBoxFuture<'a, Result<(), String>>;
    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<(), String>>;
    /// Every (key, value) whose key starts with `prefix`, up to `limit`.
    fn list<'a>(
        &'a self,
        prefix: &'a str,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<Vec<(String, String)>, String>>;
}

const ENTRY_PREFIX: &str = "g:";

/// The name of a user's index object.
pub fn user_index(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// The name of a client's index object.
pub fn client_index(client_id: &str) -> String {
    format!("client:{client_id}")
}

/// Runs one command against an index's storage. Adding and removing are
/// idempotent, so a retried effect does no harm.
pub async fn run(storage: &dyn IndexStorage, command: IndexCommand, now: u64) -> IndexAnswer {
    match command {
        IndexCommand::Add { entry } => {
            let json = serde_json::to_string(&entry).map_err(|e| e.to_string())?;
            storage
                .put(&format!("{ENTRY_PREFIX}{}", entry.grant_id), &json)
                .await?;
            Ok(Vec::new())
        }
        IndexCommand::Remove { grant_id } => {
            storage.delete(&format!("{ENTRY_PREFIX}{grant_id}")).await?;
            Ok(Vec::new())
        }
        IndexCommand::List => {
            let mut out = Vec::new();
            for (key, value) in storage.list(ENTRY_PREFIX, MAX_LISTED).await? {
                match serde_json::from_str::<IndexEntry>(&value) {
                    Ok(entry) if entry.ends_at > now => out.push(entry),
                    // Past the grant's absolute end, or unreadable: nothing to list.
                    _ => storage.delete(&key).await?,
                }
            }
            out.sort_by(|a, b| {
                b.connected_at
                    .cmp(&a.connected_at)
                    .then(a.grant_id.cmp(&b.grant_id))
            });
            Ok(out)
        }
    }
}
