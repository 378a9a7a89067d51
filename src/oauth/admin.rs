//! The admin API: what an operator needs to cut someone off. Enabled only when
//! the `ADMIN_TOKEN` secret is set; otherwise every admin route answers 404,
//! as if it did not exist. Callers send `Authorization: Bearer <ADMIN_TOKEN>`,
//! compared in constant time; anything else gets 401.
//!
//! - `GET /admin/grants?user_id=<id>&cursor=<c>`: the user's live grants, a
//!   page ([`connections::PAGE_SIZE`]) at a time (`next` of the answer, `null`
//!   on the last page; `unavailable`: grants of the page that could not be
//!   read just now);
//! - `POST /admin/users/revoke` `{"user_id": "..."}`: ends them, a batch of
//!   [`connections::PAGE_SIZE`] per call (`"complete": false`: call again);
//! - `POST /admin/clients/delete` `{"client_id": "..."}`: deletes the
//!   registration, then ends the client's grants, a batch per call as above;
//! - `GET /admin/clients?limit=<1..100>&cursor=<c>`: registered clients, a
//!   page at a time (`cursor` of the answer, `null` on the last page);
//! - `POST /admin/clients` `{"redirect_uris": [...], "client_name": ...}`:
//!   creates a confidential client with fixed redirect URIs and returns its
//!   secret, once;
//! - `GET /admin/blocks`, `POST /admin/blocks` `{"client_id" | "document_url"
//!   | "document_host": ...}`, `POST /admin/blocks/delete`: the block list
//!   (`oauth::policy`).
//!
//! JSON in and out; errors are `{"error": ..., "error_description": ...}`.

use serde_json::json;

use crate::http::{Fault, HttpError, Reply};
use crate::keys::{self, client_index, user_index};
use crate::oauth::account::field;
use crate::oauth::client_auth::is_admin;
use crate::oauth::connections::{self, Cursor, Ended};
use crate::oauth::policy::{load_blocks, normalize_block, save_blocks, Block, BlockKind};
use crate::oauth::registrar::RegisteredClients;
use crate::oauth::site::{store_fault, Site};
use crate::oauth::store::Store;

/// Clients listed per page unless `limit` says otherwise, and at most.
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 100;

fn error(status: u16, code: &str, description: &str) -> Reply {
    Reply::json(
        status,
        &json!({ "error": code, "error_description": description }),
    )
    .no_store()
}

/// Checks the caller. `Err` is the reply: 404 when the API is disabled, 401
/// for a missing or wrong token.
pub fn gate(site: &Site<'_>, path: &str, authorization: Option<&str>) -> Result<(), Reply> {
    if site.config.admin_token.is_none() {
        return Err(HttpError::NotFound { path: path.into() }.to_reply());
    }
    if !is_admin(site, authorization) {
        return Err(error(
            401,
            "unauthorized",
            "send Authorization: Bearer <ADMIN_TOKEN>",
        )
        .header("WWW-Authenticate", "Bearer realm=\"admin\""));
    }
    Ok(())
}

fn ok(value: serde_json::Value) -> Reply {
    Reply::json(200, &value).no_store()
}

/// A user id as this server makes them (`<provider>:<id>`), within reason.
fn plausible_user(id: &str) -> bool {
    (1..=300).contains(&id.len()) && !id.chars().any(char::is_control)
}

/// `GET /admin/grants?user_id=<id>&cursor=<c>`.
pub async fn user_grants(store: &dyn Store, query: &str) -> Result<Reply, HttpError> {
    let user = field(query.as_bytes(), "user_id").filter(|u| plausible_user(u));
    let Some(user) = user else {
        return Ok(error(400, "invalid_request", "user_id is required"));
    };
    let cursor =
        match field(query.as_bytes(), "cursor").filter(|c| !c.is_empty()) {
            None => None,
            Some(raw) => match Cursor::parse(&raw) {
                Some(c) => Some(c),
                None => return Ok(error(
                    400,
                    "invalid_request",
                    "cursor is not a cursor this server made (use the `next` of a previous answer)",
                )),
            },
        };
    let page = connections::live_page(store, &user_index(&user), cursor.as_ref()).await?;
    Ok(ok(json!({
        "user_id": user,
        "grants": page.connections,
        "unavailable": page.unreadable,
        "next": page.next,
    })))
}

/// One batch of ending an index's grants, for the admin API: a grant that
/// could not be ended makes the answer a retryable 503 (the grants ended so
/// far stay ended, and the retry continues with the rest).
async fn end_batch(store: &dyn Store, index: &str) -> Result<Ended, HttpError> {
    let ended = connections::end_batch(store, index, None).await?;
    if ended.failed > 0 {
        return Err(store_fault(crate::oauth::kv::StoreError(
            "a grant could not be ended".into(),
        )));
    }
    Ok(ended)
}

/// The string `field` of a JSON object body. (Read through `Value`, which
/// the bundle already decodes, rather than one more derived decoder.)
fn body_field(body: &[u8], field: &str) -> Result<String, Reply> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        error(
            400,
            "invalid_request",
            &format!("the body must be a JSON object: {e}"),
        )
    })?;
    value
        .get(field)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            error(
                400,
                "invalid_request",
                &format!("the body must be a JSON object with a string \"{field}\""),
            )
        })
}

/// `POST /admin/users/revoke`.
pub async fn revoke_user(store: &dyn Store, body: &[u8]) -> Result<Reply, HttpError> {
    let user_id = match body_field(body, "user_id") {
        Ok(u) => u,
        Err(reply) => return Ok(reply),
    };
    if !plausible_user(&user_id) {
        return Ok(error(400, "invalid_request", "user_id is not a user id"));
    }
    let ended = end_batch(store, &user_index(&user_id)).await?;
    Ok(ok(json!({
        "user_id": user_id,
        "revoked_grants": ended.ended,
        "complete": !ended.more,
    })))
}

/// `POST /admin/clients/delete`: the registration goes first, so the client
/// can start no new grant and refresh none while its grants are ended.
pub async fn delete_client(store: &dyn Store, body: &[u8]) -> Result<Reply, HttpError> {
    let client_id = match body_field(body, "client_id") {
        Ok(c) => c,
        Err(reply) => return Ok(reply),
    };
    if client_id.is_empty() || client_id.len() > 2048 {
        return Ok(error(
            400,
            "invalid_request",
            "client_id is not a client id",
        ));
    }
    let existed = RegisteredClients(store).get(&client_id).await?.is_some();
    store
        .delete(&keys::client(&client_id))
        .await
        .map_err(store_fault)?;
    let ended = end_batch(store, &client_index(&client_id)).await?;
    Ok(ok(json!({
        "client_id": client_id,
        "client_deleted": existed,
        "revoked_grants": ended.ended,
        "complete": !ended.more,
    })))
}

/// `GET /admin/clients?limit=&cursor=`.
pub async fn list_clients(store: &dyn Store, query: &str) -> Result<Reply, HttpError> {
    let limit = match field(query.as_bytes(), "limit").as_deref() {
        None => DEFAULT_PAGE,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Ok(error(
                    400,
                    "invalid_request",
                    &format!("limit must be a number from 1 to {MAX_PAGE}"),
                ))
            }
        },
    };
    let cursor = field(query.as_bytes(), "cursor").filter(|c| !c.is_empty());
    let (page, next) = store
        .list_page(keys::clients(), cursor.as_deref(), limit)
        .await
        .map_err(store_fault)?;
    let mut clients = Vec::new();
    for key in page {
        let id = key.strip_prefix(keys::clients()).unwrap_or(&key);
        let raw = store.get(&key).await.map_err(store_fault)?;
        let Some(client) =
            raw.and_then(|r| serde_json::from_str::<crate::oauth::register::Client>(&r).ok())
        else {
            continue;
        };
        clients.push(json!({
            "client_id": id,
            "client_name": client.client_name,
            "redirect_uris": client.redirect_uris,
            "created_at": client.created_at,
            // 0: never.
            "expires_at": client.expires_at,
        }));
    }
    Ok(ok(json!({ "clients": clients, "cursor": next })))
}

// ---------------------------------------------------------------------------
// Static clients and the block list (issue 19)

/// `POST /admin/clients` `{"redirect_uris": [...], "client_name"?, "scope"?,
/// "token_endpoint_auth_method"?}`: a confidential client made by the
/// operator, for clients that can neither register nor publish a metadata
/// document (Gemini Enterprise). Its redirect URIs are fixed, it never expires
/// (until deleted), and its secret is in this answer only (stored hashed).
/// `token_endpoint_auth_method` is `client_secret_basic` (default) or
/// `client_secret_post`.
pub async fn create_client(
    site: &Site<'_>,
    store: &dyn Store,
    body: &[u8],
) -> Result<Reply, HttpError> {
    use crate::oauth::register::{self, RegistrationRequest};
    let request = match RegistrationRequest::from_json(body) {
        Ok(r) => r,
        Err(e) => return Ok(error(400, e.code.as_str(), &e.description)),
    };
    if request.token_endpoint_auth_method.as_deref() == Some("none") {
        return Ok(error(
            400,
            "invalid_client_metadata",
            "an operator-made client is confidential: use client_secret_basic or client_secret_post (public clients register themselves or publish a metadata document)",
        ));
    }
    let validated = match register::validate(request) {
        Ok(v) => v,
        Err(e) => return Ok(error(400, e.code.as_str(), &e.description)),
    };
    let client_id = crate::oauth::crypto::random_id(site.rng)
        .map_err(|e| HttpError::internal(Fault::Entropy, e))?;
    let secret = crate::oauth::crypto::random_secret(site.rng)
        .map_err(|e| HttpError::internal(Fault::Entropy, e))?;
    // ttl 0: the record says it never expires.
    let registered = register::register_confidential(validated, client_id, secret, site.now, 0);
    let json = serde_json::to_string(&registered.client)
        .map_err(|e| HttpError::internal(Fault::Encoding, e))?;
    store
        .put(
            &keys::client(&registered.client.client_id),
            &json,
            crate::oauth::policy::OPERATOR_RECORD_TTL,
        )
        .await
        .map_err(store_fault)?;
    Ok(Reply::json(201, &registered.response()).no_store())
}

/// The block entry a body names: exactly one of `client_id`, `document_url`,
/// `document_host`, plus an optional `reason`.
fn block_of(body: &[u8]) -> Result<(BlockKind, String, Option<String>), Reply> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| error(400, "invalid_request", "the body must be a JSON object"))?;
    let named: Vec<(BlockKind, &str)> = BlockKind::ALL
        .iter()
        .filter_map(|k| value.get(k.as_str()).map(|v| (*k, v)))
        .map(|(k, v)| v.as_str().map(|s| (k, s)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            error(
                400,
                "invalid_request",
                "the value to block must be a string",
            )
        })?;
    let [(kind, raw)] = named.as_slice() else {
        return Err(error(
            400,
            "invalid_request",
            "name exactly one of client_id, document_url, document_host",
        ));
    };
    let normalized = normalize_block(*kind, raw).map_err(|e| error(400, "invalid_request", &e))?;
    let reason = value
        .get("reason")
        .and_then(|r| r.as_str())
        .map(|r| r.chars().filter(|c| !c.is_control()).take(200).collect());
    Ok((*kind, normalized, reason))
}

/// `GET /admin/blocks`: the block list.
pub async fn list_blocks(store: &dyn Store) -> Result<Reply, HttpError> {
    let blocks = load_blocks(store).await?;
    Ok(ok(json!({ "blocks": blocks.to_json() })))
}

/// `POST /admin/blocks` `{"client_id" | "document_url" | "document_host": ..., "reason"?}`.
/// The entry is written first, so nothing new starts; then a registered client's
/// record is deleted and every grant of the named client ends. A host block ends
/// no grant at once (this server cannot list the documents of a host): their
/// refreshes and new sign-ins are refused from now on.
pub async fn add_block(
    site: &Site<'_>,
    store: &dyn Store,
    body: &[u8],
) -> Result<Reply, HttpError> {
    let (kind, value, reason) = match block_of(body) {
        Ok(b) => b,
        Err(reply) => return Ok(reply),
    };
    let mut blocks = load_blocks(store).await?;
    let added = match blocks.add(Block {
        kind,
        value: value.clone(),
        added_at: site.now,
        reason,
    }) {
        Ok(added) => added,
        Err(e) => return Ok(error(409, "invalid_request", &e)),
    };
    if added {
        save_blocks(store, &blocks).await?;
    }
    let (client_deleted, ended) = match kind {
        BlockKind::ClientId => {
            let existed = RegisteredClients(store).get(&value).await?.is_some();
            store
                .delete(&keys::client(&value))
                .await
                .map_err(store_fault)?;
            let ended = end_batch(store, &client_index(&value)).await?;
            (existed, ended)
        }
        BlockKind::DocumentUrl => (false, end_batch(store, &client_index(&value)).await?),
        BlockKind::DocumentHost => (false, Ended::default()),
    };
    Ok(ok(json!({
        "blocked": { "kind": kind.as_str(), "value": value },
        "added": added,
        "client_deleted": client_deleted,
        "revoked_grants": ended.ended,
        "complete": !ended.more,
    })))
}

/// `POST /admin/blocks/delete` `{"client_id" | "document_url" | "document_host": ...}`.
pub async fn remove_block(store: &dyn Store, body: &[u8]) -> Result<Reply, HttpError> {
    let (kind, value, _) = match block_of(body) {
        Ok(b) => b,
        Err(reply) => return Ok(reply),
    };
    let mut blocks = load_blocks(store).await?;
    let removed = blocks.remove(kind, &value);
    if removed {
        save_blocks(store, &blocks).await?;
    }
    Ok(ok(json!({
        "unblocked": { "kind": kind.as_str(), "value": value },
        "removed": removed,
    })))
}
