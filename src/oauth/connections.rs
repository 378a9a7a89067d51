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
use crate::oauth::index::{IndexCommand, IndexEntry};
use crate::oauth::store::Store;

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
    pub connected_at: u64,
    pub last_refreshed_at: Option<u64>,
    pub expires_at: u64,
}

fn client_host(entry: &IndexEntry) -> String {
    if entry.client_id.starts_with("https://") {
        return crate::oauth::redirect::redirect_host(&entry.client_id);
    }
    entry.redirect_host.clone()
}

async fn entries(store: &dyn Store, index: &str) -> Result<Vec<IndexEntry>, HttpError> {
    store
        .index(index, &IndexCommand::List)
        .await
        .map_err(flow::store_fault)?
        .map_err(|_| HttpError::Internal)
}

async fn forget(store: &dyn Store, index: &str, grant_id: &str) {
    // Best effort: a stale entry left now is removed by the next reader.
    let _ = store
        .index(
            index,
            &IndexCommand::Remove {
                grant_id: grant_id.to_owned(),
            },
        )
        .await;
}

/// The live grants listed in `index` (`user:<id>` or `client:<id>`), newest
/// first. Entries of grants that ended are removed from the index.
pub async fn live(store: &dyn Store, index: &str) -> Result<Vec<Connection>, HttpError> {
    let mut out = Vec::new();
    let mut names: Vec<(String, Option<String>)> = Vec::new();
    for entry in entries(store, index).await? {
        let answer = store
            .grant(&entry.grant_id, &GrantCommand::Status)
            .await
            .map_err(flow::store_fault)?;
        let status: Option<GrantView> = typed(answer).map_err(|_| HttpError::Internal)?;
        let Some(status) = status.filter(|s| s.user_id == entry.user_id) else {
            forget(store, index, &entry.grant_id).await;
            continue;
        };
        let name = match names.iter().find(|(id, _)| *id == entry.client_id) {
            Some((_, name)) => name.clone(),
            None => {
                let name = load_client(store, &entry.client_id)
                    .await?
                    .and_then(|c| c.client_name);
                names.push((entry.client_id.clone(), name.clone()));
                name
            }
        };
        out.push(Connection {
            client_host: client_host(&entry),
            grant_id: entry.grant_id,
            client_id: entry.client_id,
            client_name: name,
            user_id: status.user_id,
            scope: status.scope,
            resource: status.resource,
            connected_at: entry.connected_at,
            last_refreshed_at: status.last_refreshed_at,
            expires_at: status.expires_at,
        });
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
        .grant(
            grant_id,
            &GrantCommand::End {
                user_id: user_id.map(str::to_owned),
            },
        )
        .await
        .map_err(flow::store_fault)?;
    typed(answer).map_err(|_| HttpError::Internal)
}

/// Ends every grant listed in `index`, and empties it. `user_id` as in
/// [`end`]. Answers how many grants were ended.
pub async fn end_all(
    store: &dyn Store,
    index: &str,
    user_id: Option<&str>,
) -> Result<usize, HttpError> {
    let mut ended = 0;
    for entry in entries(store, index).await? {
        if end(store, &entry.grant_id, user_id).await? {
            // The grant removes itself from its indexes as it ends.
            ended += 1;
        } else {
            // An entry of a grant long gone (or not this user's).
            forget(store, index, &entry.grant_id).await;
        }
    }
    Ok(ended)
}
