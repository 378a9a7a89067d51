//! RFC 7662 token introspection at `POST /introspect`.
//!
//! Callers (§2.1, authenticated by `oauth::client_auth`): a confidential
//! client, authenticated as at `/token`, asking about its own tokens; or the
//! operator, with `Authorization: Bearer <ADMIN_TOKEN>`, asking about any
//! token. Public clients are refused: they hold no credential to authenticate
//! the call with.
//!
//! Answers (§2.2): a live token gets `active`, `scope`, `client_id`, `sub`,
//! `aud` (the RFC 8707 resource), `exp`, `iat` and `token_type`. Anything else
//! (unknown, malformed, expired, revoked, rotated away, an authorization code,
//! another client's) gets exactly `{"active": false}`, so a caller learns
//! nothing about tokens that are not its own and live.
//!
//! An access token is checked through its KV record (it must unwrap with the
//! token and not be expired) and then with its grant's object, which knows
//! whether the grant was revoked even before the record's deletion reaches
//! every KV location. A refresh token is checked by its grant's object alone.
//! Both questions are read-only: introspection writes nothing.

use crate::http::{Fault, HttpError, Reply};
use crate::keys;
use crate::oauth::client_auth::{client_request, AuthenticatedClient, Endpoint};
use crate::oauth::crypto;
use crate::oauth::grant::command::{typed, GrantCommand};
use crate::oauth::grant::inspect::GrantView;
use crate::oauth::grant::{self, access, TokenKind};
use crate::oauth::site::{oauth_reply, store_fault, with_cors, Site};
use crate::oauth::store::Store;
use crate::oauth::types::AnyToken;

fn inactive() -> Reply {
    with_cors(Reply::json(200, &serde_json::json!({ "active": false })).no_store())
}

/// `POST /introspect`.
pub async fn introspect(
    site: &Site<'_>,
    store: &dyn Store,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Reply, HttpError> {
    // The operator, or a client that proves who it is; a registered client is
    // authenticated without any fetch, and a document client's assertion is
    // checked for shape and claims before its document is fetched.
    let asked = client_request(
        site,
        store,
        Endpoint::Introspect,
        authorization,
        content_type,
        body,
    );
    let (form, caller) = match asked.await {
        Ok(v) => v,
        Err(denied) => return denied.answer(),
    };
    let token = match form.required_token() {
        Ok(token) => token,
        Err(e) => return Ok(oauth_reply(&e, false)),
    };
    // `token_type_hint` is only a hint (§2.1): the token's prefix says what it is.
    let Some(info) = look_up(site, store, &token).await? else {
        return Ok(inactive());
    };
    if let AuthenticatedClient::Client(client_id) = &caller {
        if *client_id != info.client_id {
            return Ok(inactive());
        }
    }
    let mut body = serde_json::json!({
        "active": true,
        "scope": info.scope.join(" "),
        "client_id": info.client_id,
        "sub": info.user_id,
        "aud": info.resource,
        "exp": info.expires_at,
        "token_type": info.token_type,
    });
    if info.issued_at > 0 {
        body["iat"] = info.issued_at.into();
    }
    Ok(with_cors(Reply::json(200, &body).no_store()))
}

/// The live token's description, or `None`.
async fn look_up(
    site: &Site<'_>,
    store: &dyn Store,
    token: &AnyToken,
) -> Result<Option<GrantView>, HttpError> {
    let Some((kind, grant_id)) = grant::parse_token(token.secret()) else {
        return Ok(None);
    };
    let record = match kind {
        TokenKind::Code => return Ok(None),
        TokenKind::Refresh => None,
        TokenKind::Access => {
            let raw = store
                .get(&keys::access(&crypto::hash_token(token.secret())))
                .await
                .map_err(store_fault)?;
            let Some((record, _)) = access::open_record(
                raw.as_deref(),
                token.secret(),
                site.now,
                &site.config.keyring,
            ) else {
                return Ok(None);
            };
            Some(record)
        }
    };
    let answer = store
        .grant(
            grant_id,
            &GrantCommand::Introspect(AnyToken::new(token.secret())),
        )
        .await
        .map_err(store_fault)?;
    let Some(mut info) = typed::<Option<GrantView>>(answer)
        .map_err(|e| HttpError::internal(Fault::Encoding, format!("grant view: {e:?}")))?
    else {
        return Ok(None);
    };
    if let Some(record) = record {
        // The record says what this access token may do (a refresh may have
        // narrowed its scope) and when it was issued.
        info.scope = record.scope;
        info.expires_at = record.expires_at;
        info.issued_at = record.issued_at;
        info.client_id = record.client_id;
        info.user_id = record.user_id;
        info.resource = record.resource;
    }
    Ok(Some(info))
}
