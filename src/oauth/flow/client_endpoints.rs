//! `POST /token` (RFC 6749 §3.2: the authorization code and refresh token
//! grants, §4.1.3 and §6) and `POST /revoke` (RFC 7009). The client is
//! authenticated by `oauth::client_auth`; the grant the token names (tokens
//! carry their grant id) then runs the command in its object.

use crate::http::{Fault, HttpError, Reply};
use crate::oauth::client_auth::{self, AuthenticatedClient, Endpoint};
use crate::oauth::grant::command::{typed, GrantCommand};
use crate::oauth::grant::{self, GrantError, TokenKind, TokenPair};
use crate::oauth::site::{grant_fault, oauth_reply, store_fault, with_cors, Denied, Site};
use crate::oauth::store::Store;
use crate::oauth::token::{self, TokenForm};

/// The form and the client (`client_auth::client_request`), for `/token` and `/revoke`, where only a client can
/// authenticate: its form and its id.
async fn client_form(
    site: &Site<'_>,
    store: &dyn Store,
    endpoint: Endpoint,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(TokenForm, String), Denied> {
    match client_auth::client_request(site, store, endpoint, authorization, content_type, body)
        .await?
    {
        (form, AuthenticatedClient::Client(id)) => Ok((form, id)),
        (_, AuthenticatedClient::Operator) => Err(Denied::Fault(HttpError::internal(
            Fault::Impossible,
            "the operator authenticated at /token or /revoke",
        ))),
    }
}

/// `POST /token` (RFC 6749 §3.2): authorization code and refresh token grants.
pub async fn token(
    site: &Site<'_>,
    store: &dyn Store,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Reply, HttpError> {
    let asked = client_form(
        site,
        store,
        Endpoint::Token,
        authorization,
        content_type,
        body,
    );
    let (form, client_id) = match asked.await {
        Ok(v) => v,
        Err(denied) => return denied.answer(),
    };
    let (grant_id, command) = match token::plan(&form, &client_id) {
        Ok(plan) => plan,
        Err(e) => return Ok(oauth_reply(&e, false)),
    };
    let answer = store.grant(&grant_id, &command).await;
    // Rotated, redeemed, or revoked as a replay: whatever the answer.
    site.isolate.forget_grant(&grant_id);
    match typed::<TokenPair>(answer.map_err(store_fault)?) {
        Ok(pair) => Ok(with_cors(Reply::json(200, &pair.to_json()).no_store())),
        Err(GrantError::Internal) => Err(HttpError::internal(
            Fault::Impossible,
            "grant object answered an internal error to a token command",
        )),
        Err(e) => Ok(oauth_reply(&e.to_oauth(), false)),
    }
}

/// `POST /revoke` (RFC 7009). Unknown tokens are not an error (§2.2).
pub async fn revoke(
    site: &Site<'_>,
    store: &dyn Store,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Reply, HttpError> {
    let asked = client_form(
        site,
        store,
        Endpoint::Revoke,
        authorization,
        content_type,
        body,
    );
    let (form, client_id) = match asked.await {
        Ok(v) => v,
        Err(denied) => return denied.answer(),
    };
    let token = match form.required_token() {
        Ok(token) => token,
        Err(e) => return Ok(oauth_reply(&e, false)),
    };
    if let Some((kind, grant_id)) = grant::parse_token(token.secret()) {
        if kind != TokenKind::Code {
            let grant_id = grant_id.to_owned();
            let command = GrantCommand::Revoke { token, client_id };
            let answer = store.grant(&grant_id, &command).await;
            site.isolate.forget_grant(&grant_id);
            typed::<()>(answer.map_err(store_fault)?).map_err(grant_fault)?;
        }
    }
    Ok(with_cors(Reply::new(200).no_store()))
}
