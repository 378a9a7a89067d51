//! A user's or a client's grants, read through the grant index
//! (`oauth::index`) and checked with each grant's object: what the account
//! page shows and what the admin API lists and ends.
//!
//! The index is only a hint: every listed grant is asked for its status, and
//! an entry whose grant reports it is no longer live is removed on the spot,
//! so the index corrects itself whenever anyone reads it.

use serde::Serialize;

use crate::http::HttpError;
use crate::oauth::flow::{self, load_client};
use crate::oauth::grant::command::{typed, GrantCommand};
use crate::oauth::grant::inspect::GrantView;
use crate::oauth::index::{client_index, user_index, IndexCommand};
use crate::oauth::store::{Store, StoreError};

/// One live grant, as people and operators see it.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub grant_id: String,
    pub client_id: String,
    /// The registered name, when the client still exists and gave one.
    pub client_name: Option<String>,
    /// The client's verified host: its `client_id` URL's host for a Client ID
    /// Metadata Document, otherwise the host of the redirect URI.
    pub client_host: String,
    pub user_id: String,
    pub scope: Vec<String>,
    pub resource: String,
    /// When the person approved it.
    pub connected_at: u64,
    pub last_refreshed_at: Option<u64>,
    pub expires_at: u64,
}

async fn grant_ids(store: &dyn Store, index: &str) -> Result<Vec<String>, HttpError> {
    store
        .index(index, &IndexCommand::List)
        .await
        .map_err(flow::store_fault)?
        .map_err(|e| flow::store_fault(StoreError(e)))
}

async fn forget(store: &dyn Store, index: &str, grant_id: &str) {
    // Best effort: a stale entry left now is removed by the next reader.
    let _ = store
        .index(index, &IndexCommand::Remove(grant_id.to_owned()))
        .await;
}

/// The live grants listed in `index` (`user:<id>` or `client:<id>`), newest
/// first. Entries of grants that ended are removed from the index.
pub async fn live(store: &dyn Store, index: &str) -> Result<Vec<Connection>, HttpError> {
    let mut out: Vec<Connection> = Vec::new();
    for grant_id in grant_ids(store, index).await? {
        let answer = store
            .grant(&grant_id, &GrantCommand::Status)
            .await
            .map_err(flow::store_fault)?;
        let status: Option<GrantView> = typed(answer).map_err(flow::grant_fault)?;
        // Live, and really this index's (never trust an entry for more).
        let Some(status) = status
            .filter(|s| index == user_index(&s.user_id) || index == client_index(&s.client_id))
        else {
            forget(store, index, &grant_id).await;
            continue;
        };
        let name = load_client(store, &status.client_id)
            .await?
            .and_then(|c| c.client_name);
        let client_host = if status.client_id.starts_with("https://") {
            crate::oauth::redirect::redirect_host(&status.client_id)
        } else {
            status.redirect_host
        };
        let connection = Connection {
            grant_id,
            client_id: status.client_id,
            client_name: name,
            client_host,
            user_id: status.user_id,
            scope: status.scope,
            resource: status.resource,
            connected_at: status.issued_at,
            last_refreshed_at: status.last_refreshed_at,
            expires_at: status.expires_at,
        };
        // Newest first (a plain insertion: lists are short).
        let at = out
            .iter()
            .position(|c| c.connected_at < connection.connected_at)
            .unwrap_or(out.len());
        out.insert(at, connection);
    }
    Ok(out)
}

/// Ends one grant. `user_id` restricts it to that user's grant (the account
/// page); `None` ends it whoever's it is (the admin API). Answers whether
/// there was such a grant.
pub async fn end(
    store: &dyn Store,
    grant_id: &str,
    user_id: Option<&str>,
) -> Result<bool, HttpError> {
    if !crate::oauth::grant::plausible_id(grant_id) {
        return Ok(false);
    }
    let answer = store
        .grant(grant_id, &GrantCommand::End(user_id.map(str::to_owned)))
        .await
        .map_err(flow::store_fault)?;
    typed(answer).map_err(flow::grant_fault)
}

/// Ends every grant listed in `index`, and empties it. `user_id` as in
/// [`end`]. Answers how many grants were ended.
pub async fn end_all(
    store: &dyn Store,
    index: &str,
    user_id: Option<&str>,
) -> Result<usize, HttpError> {
    let mut ended = 0;
    for grant_id in grant_ids(store, index).await? {
        if end(store, &grant_id, user_id).await? {
            // The grant removes itself from its indexes as it ends.
            ended += 1;
        } else {
            // An entry of a grant long gone (or not this user's).
            forget(store, index, &grant_id).await;
        }
    }
    Ok(ended)
}
