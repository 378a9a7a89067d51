//! A user's or a client's grants, read through the grant index
//! (`oauth::index`) and checked with each grant's object: what the account
//! page shows and what the admin API lists and ends.
//!
//! The index is only a hint: every listed grant is asked for its status, and
//! an entry whose grant reports it is no longer live is removed on the spot,
//! so the index corrects itself whenever anyone reads it.
//!
//! Reading goes a page at a time ([`PAGE_SIZE`] grants, their calls at most
//! [`CONCURRENCY`] at once), so a request's subrequests stay bounded however
//! many grants a user has, and one grant that cannot be read leaves it out of
//! its page (named in [`ConnectionsView::unreadable`]) instead of failing the page.

use std::task::Poll;

use crate::http::HttpError;
use crate::keys::{client_index, user_index};
use crate::oauth::grant::command::{typed, GrantCommand};
use crate::oauth::grant::inspect::GrantView;
use crate::oauth::index::IndexCommand;
use crate::oauth::registrar::RegisteredClients;
use crate::oauth::site::{grant_fault, store_fault};
use crate::oauth::store::Store;
use crate::oauth::view::{ConnectionView, ConnectionsView};
use crate::outbound::LocalBoxFuture;

/// Grants shown (and ended) per request: one page of the account page or of
/// the admin list, one batch of "revoke all". A request makes at most
/// `2 + 2 × PAGE_SIZE` Durable Object calls (the sign-out check or nothing,
/// the index page, one status or end per grant, and one index removal per
/// stale entry) and `PAGE_SIZE` KV reads (the clients' names): 42 and 20,
/// within the platform's subrequest limit of 50 on the free plan.
pub const PAGE_SIZE: usize = 20;

/// Calls in flight at once (the platform allows six open connections per
/// request).
pub const CONCURRENCY: usize = 6;

/// Where a page starts: after the index entry `(end, grant id)`. In a URL it
/// is `<end>.<grant id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub ends_at: u64,
    pub grant_id: String,
}

impl Cursor {
    /// Reads a cursor from a request; `None` for anything this server did not
    /// make.
    pub fn parse(raw: &str) -> Option<Cursor> {
        let (end, id) = raw.split_once('.')?;
        let ok_end = !end.is_empty() && end.len() <= 20 && end.bytes().all(|b| b.is_ascii_digit());
        (ok_end && crate::oauth::grant::plausible_id(id))
            .then(|| Cursor {
                ends_at: end.parse().unwrap_or(0),
                grant_id: id.to_owned(),
            })
            .filter(|c| c.ends_at > 0)
    }

    pub fn encode(&self) -> String {
        format!("{}.{}", self.ends_at, self.grant_id)
    }
}

/// One page of an index's entries (at most `limit`), and whether more follow.
async fn entries(
    store: &dyn Store,
    index: &str,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<(Vec<Cursor>, bool), HttpError> {
    let command = IndexCommand::Page(after.map(|c| (c.ends_at, c.grant_id.clone())), limit + 1);
    let raw = store.index(index, &command).await.map_err(store_fault)?;
    let mut out: Vec<Cursor> = raw.iter().filter_map(|e| Cursor::parse(e)).collect();
    let more = out.len() > limit;
    out.truncate(limit);
    Ok((out, more))
}

async fn forget(store: &dyn Store, index: &str, grant_id: &str) {
    // Best effort: a stale entry left now is removed by the next reader.
    let _ = store
        .index(index, &IndexCommand::Remove(grant_id.to_owned()))
        .await;
}

/// Awaits every future, at most [`CONCURRENCY`] at a time, and answers their
/// outputs in order. (A few lines rather than a futures crate in the bundle.)
/// Boxed futures: one copy of this code per output type, not per future.
async fn bounded<T>(futures: Vec<LocalBoxFuture<'_, T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(futures.len());
    let mut rest = futures.into_iter();
    loop {
        let mut running: Vec<LocalBoxFuture<'_, T>> = rest.by_ref().take(CONCURRENCY).collect();
        if running.is_empty() {
            return out;
        }
        let mut done: Vec<Option<T>> = running.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut all = true;
            for (future, slot) in running.iter_mut().zip(done.iter_mut()) {
                if slot.is_none() {
                    match future.as_mut().poll(cx) {
                        Poll::Ready(v) => *slot = Some(v),
                        Poll::Pending => all = false,
                    }
                }
            }
            if all {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        out.extend(done.into_iter().flatten());
    }
}

/// A grant as the page shows it: `Ok(None)` when it is no longer live (or not
/// this index's), `Err` when it could not be read.
async fn connection(
    store: &dyn Store,
    index: &str,
    grant_id: String,
) -> Result<Option<ConnectionView>, ()> {
    let answer = store
        .grant(&grant_id, &GrantCommand::Status)
        .await
        .map_err(|_| ())?;
    let status: Option<GrantView> = typed(answer).map_err(|_| ())?;
    // Live, and really this index's (never trust an entry for more).
    let Some(status) =
        status.filter(|s| index == user_index(&s.user_id) || index == client_index(&s.client_id))
    else {
        forget(store, index, &grant_id).await;
        return Ok(None);
    };
    let name = RegisteredClients(store)
        .get(&status.client_id)
        .await
        .map_err(|_| ())?
        .and_then(|c| c.client_name);
    let client_host = if status.client_id.starts_with("https://") {
        crate::oauth::redirect::redirect_host(&status.client_id)
    } else {
        status.redirect_host
    };
    Ok(Some(ConnectionView {
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
    }))
}

/// One page ([`PAGE_SIZE`] entries) of the live grants listed in `index`
/// (`user:<id>` or `client:<id>`), starting after `after`. Entries of grants
/// that ended are removed from the index. Only the index itself failing
/// fails the page; a grant that cannot be read is named in `unreadable`.
pub async fn live_page(
    store: &dyn Store,
    index: &str,
    after: Option<&Cursor>,
) -> Result<ConnectionsView, HttpError> {
    let (entries, more) = entries(store, index, after, PAGE_SIZE).await?;
    let next = more.then(|| entries.last().cloned()).flatten();
    let ids: Vec<String> = entries.into_iter().map(|c| c.grant_id).collect();
    let reads = bounded(
        ids.iter()
            .map(|id| Box::pin(connection(store, index, id.clone())) as LocalBoxFuture<'_, _>)
            .collect(),
    )
    .await;
    let mut page = ConnectionsView {
        next: next.map(|c| c.encode()),
        page_size: PAGE_SIZE,
        ..ConnectionsView::default()
    };
    for (id, read) in ids.into_iter().zip(reads) {
        match read {
            Ok(Some(c)) => page.connections.push(c),
            Ok(None) => {}
            Err(()) => page.unreadable.push(id),
        }
    }
    Ok(page)
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
        .map_err(store_fault)?;
    typed(answer).map_err(grant_fault)
}

/// What one batch of "revoke all" did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// Grants ended by this batch.
    pub ended: usize,
    /// Grants that could not be ended just now (still listed: the next batch
    /// tries them again).
    pub failed: usize,
    /// Whether entries remain after this batch (more than [`PAGE_SIZE`], or
    /// failures): another request continues where this one stopped.
    pub more: bool,
}

/// Ends one batch ([`PAGE_SIZE`]) of the grants listed in `index`. Every
/// grant ended leaves the index (it removes itself as it ends, and a stale
/// entry is removed here), so the next batch starts where this one stopped
/// with no cursor: at the grants that failed, then at those not yet tried.
/// `user_id` as in [`end`]. Fails only when the index cannot be read.
pub async fn end_batch(
    store: &dyn Store,
    index: &str,
    user_id: Option<&str>,
) -> Result<Ended, HttpError> {
    let (entries, more) = entries(store, index, None, PAGE_SIZE).await?;
    let results = bounded(
        entries
            .iter()
            .map(|entry| {
                Box::pin(async move {
                    match end(store, &entry.grant_id, user_id).await {
                        Ok(true) => Ok(true),
                        Ok(false) => {
                            // An entry of a grant long gone (or not this user's).
                            forget(store, index, &entry.grant_id).await;
                            Ok(false)
                        }
                        Err(e) => Err(e),
                    }
                }) as LocalBoxFuture<'_, Result<bool, HttpError>>
            })
            .collect(),
    )
    .await;
    let ended = results.iter().filter(|r| matches!(r, Ok(true))).count();
    let failed = results.iter().filter(|r| r.is_err()).count();
    Ok(Ended {
        ended,
        failed,
        more: more || failed > 0,
    })
}
