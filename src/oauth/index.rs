//! The grant index: which grants a user has, and which grants a client has, so
//! the account page can list a user's connections and an operator can end every
//! grant of a user or of a client.
//!
//! It lives in small Durable Objects (objects of the `GrantObject` class named
//! `user:<user id>` or `client:<client id>` by `crate::keys`, see
//! `cloudflare::index_object`),
//! not in KV: the storage budget
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

use crate::oauth::kv::StoreError;
use crate::outbound::LocalBoxFuture;

/// How many grants one index lists at most (a user or client with more is
/// listed in part).
pub const MAX_LISTED: usize = 1000;

/// A change to one index, or the question what it holds. An entry is just the
/// grant id and the grant's absolute end: everything shown about a grant is
/// asked of the grant itself, which is the only place that knows it is live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexCommand {
    /// (Grant id, its absolute end: `created_at + GRANT_MAX_LIFETIME`); the
    /// entry is dropped after its end even if no one removed it. Tuples, not
    /// named fields: smaller decoders.
    Add(String, u64),
    /// Grant id.
    Remove(String),
    /// One page of the live entries, newest first (by absolute end, then by
    /// grant id): those after the cursor `(end, grant id)` when one is given,
    /// at most `limit`. Answered as `<end>.<grant id>` strings, so the caller
    /// can name the next page.
    Page(Option<(u64, String)>, usize),
    /// The user signed out of the account page at this time: every account
    /// session issued until then ends (only in a user's index).
    SignOut(u64),
    /// When the user last signed out (empty: never).
    SignedOutAt,
}

/// The answer of an index: the entries for `Page`, empty otherwise.
pub type IndexAnswer = Result<Vec<String>, String>;

/// The grant index objects, as their callers reach them (named by
/// `crate::keys::user_index` and `crate::keys::client_index`).
pub trait IndexObjects {
    /// Runs `command` in the grant index object named `index`. An index that
    /// answers a fault and one that cannot be reached are both a
    /// [`StoreError`].
    fn index<'a>(
        &'a self,
        index: &'a str,
        command: &'a IndexCommand,
    ) -> LocalBoxFuture<'a, Result<Vec<String>, StoreError>>;
}

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
/// Where a user's index keeps its last sign-out time (no grant entry: no `g:`).
const SIGNED_OUT_KEY: &str = "signed-out";

/// Runs one command against an index's storage. Adding and removing are
/// idempotent, so a retried effect does no harm.
pub async fn run(storage: &dyn IndexStorage, command: IndexCommand, now: u64) -> IndexAnswer {
    match command {
        IndexCommand::Add(grant_id, ends_at) => {
            storage
                .put(&format!("{ENTRY_PREFIX}{grant_id}"), &ends_at.to_string())
                .await?;
            Ok(Vec::new())
        }
        IndexCommand::Remove(grant_id) => {
            storage.delete(&format!("{ENTRY_PREFIX}{grant_id}")).await?;
            Ok(Vec::new())
        }
        IndexCommand::SignOut(at) => {
            storage.put(SIGNED_OUT_KEY, &at.to_string()).await?;
            Ok(Vec::new())
        }
        IndexCommand::SignedOutAt => Ok(storage
            .list(SIGNED_OUT_KEY, 1)
            .await?
            .into_iter()
            .filter(|(k, _)| k == SIGNED_OUT_KEY)
            .map(|(_, v)| v)
            .collect()),
        IndexCommand::Page(after, limit) => {
            let mut live: Vec<(u64, String)> = Vec::new();
            for (key, value) in storage.list(ENTRY_PREFIX, MAX_LISTED).await? {
                match (key.strip_prefix(ENTRY_PREFIX), value.parse::<u64>()) {
                    (Some(grant_id), Ok(ends_at)) if ends_at > now => {
                        live.push((ends_at, grant_id.to_owned()))
                    }
                    // Past the grant's absolute end, or unreadable: nothing to list.
                    _ => storage.delete(&key).await?,
                }
            }
            // After the cursor, in page order: newest first (the later the
            // end, the later the grant was made), then by grant id.
            let newer = |a: &(u64, String), b: &(u64, String)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
            let mut left: Vec<(u64, String)> = live
                .into_iter()
                .filter(|entry| after.as_ref().is_none_or(|a| newer(a, entry).is_lt()))
                .collect();
            // A page needs only its own entries in order: pick the newest left
            // `limit` times (a full sort would add its code to the bundle).
            let mut out = Vec::new();
            while out.len() < limit.min(MAX_LISTED) {
                let Some(at) = (0..left.len()).min_by(|&i, &j| newer(&left[i], &left[j])) else {
                    break;
                };
                let (end, id) = left.swap_remove(at);
                out.push(format!("{end}.{id}"));
            }
            Ok(out)
        }
    }
}
