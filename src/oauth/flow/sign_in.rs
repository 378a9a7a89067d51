//! `GET /callback`: the identity provider sends the browser back. The state
//! must come back to the browser that started the sign-in (its binding
//! cookie), is taken from the grant's object once, and the provider's code is
//! exchanged (PKCE and nonce towards it). Then `ALLOWED_USERS` is checked and
//! our authorization code goes back to the client with `state` and `iss`
//! (RFC 6749 §4.1.2, RFC 9207 §2); any error after this point goes back to the
//! client the same way (§4.1.2.1). An account-page sign-in's state is handed
//! to `oauth::account`. Also the development provider's sign-in page.

use serde::Deserialize;

use crate::config::ProviderKind;
use crate::http::{HttpError, Reply};
use crate::oauth::error::OAuthError;
use crate::oauth::grant::command::{typed, GrantCommand};
use crate::oauth::grant::{self, GrantError, Props, TakenState};
use crate::oauth::site::{grant_fault, local_error, state_cookie, store_fault, Denied, Site};
use crate::oauth::store::Store;
use crate::oauth::types::{AuthCode, StateToken};
use crate::outbound::HttpClient;
use crate::upstream::dev::{self, DevLoginForm};
use crate::upstream::{ExchangeParams, ProviderSource, UpstreamError};
use crate::user::user_allowed;
use crate::web;

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// `GET /callback`: the provider sends the browser back here.
pub async fn callback(
    site: &Site<'_>,
    store: &dyn Store,
    upstream: &dyn ProviderSource,
    http: &dyn HttpClient,
    query: &str,
) -> Result<Reply, HttpError> {
    if let Some(refused) = site.refuse_plain_http() {
        return Ok(refused);
    }
    let Ok(query) = serde_urlencoded::from_str::<CallbackQuery>(query) else {
        return Ok(local_error(
            400,
            "The identity provider sent a malformed answer.",
        ));
    };
    let Some(state) = query.state.map(StateToken::new) else {
        return Ok(local_error(
            400,
            "The identity provider's answer has no state. Start again from your MCP client.",
        ));
    };
    // An account-page sign-in (`oauth::account`), not an authorization.
    if crate::oauth::account::is_account_state(state.secret()) {
        return crate::oauth::account::callback(
            site,
            upstream,
            http,
            state.secret(),
            query.code.as_deref(),
            query.error.as_deref(),
        )
        .await;
    }
    let Some(grant_id) = grant::grant_of_state(state.secret()).map(str::to_owned) else {
        return Ok(local_error(
            400,
            "This sign-in is unknown or has expired. Start again from your MCP client.",
        ));
    };
    // The state must come back to the browser that started the sign-in.
    let cookie_name = state_cookie(&grant_id);
    if !site.binding_holds(&cookie_name, state.secret()) {
        return Ok(local_error(400, "This sign-in was started in another browser, or its cookie expired. Start again from your MCP client."));
    }
    let clear_state = site.clear_cookie(&cookie_name);
    // Before the state is taken: when the provider is unreachable the person
    // can retry the same callback.
    let provider = upstream.provider().await?;
    let command = GrantCommand::TakeState { state };
    let taken: TakenState = match sign_in_step(store, &grant_id, &command, &clear_state).await {
        Ok(t) => t,
        Err(denied) => return denied.answer(),
    };
    let request = &taken.request;
    let back = |error: OAuthError| {
        Reply::redirect(&error.redirect_location(
            &request.redirect_uri,
            request.state.as_deref(),
            site.issuer,
        ))
        .header("Set-Cookie", &clear_state)
    };

    if let Some(error) = query.error.as_deref() {
        abandon(store, &grant_id).await;
        return Ok(back(if error == "access_denied" {
            OAuthError::access_denied("the user declined at the identity provider")
        } else {
            OAuthError::server_error("the identity provider reported an error")
        }));
    }
    let Some(code) = query.code.as_deref() else {
        abandon(store, &grant_id).await;
        return Ok(back(OAuthError::server_error(
            "the identity provider sent no code",
        )));
    };
    let callback = site.callback_url();
    let params = ExchangeParams {
        code: code.into(),
        callback_url: &callback,
        pkce_verifier: taken.upstream_verifier.secret().into(),
        nonce: taken.nonce.as_str().into(),
        now: site.now,
    };
    let sign_in = match provider.exchange(http, params).await {
        Ok(s) => s,
        Err(e) => {
            abandon(store, &grant_id).await;
            return Ok(back(match e {
                UpstreamError::Denied(_) => {
                    OAuthError::access_denied("the user declined at the identity provider")
                }
                UpstreamError::Network(_) => OAuthError::temporarily_unavailable(
                    "the identity provider could not be reached",
                ),
                _ => {
                    OAuthError::server_error("the identity provider could not complete the sign-in")
                }
            }));
        }
    };
    if !user_allowed(&site.config.allowed_users, &sign_in.user) {
        abandon(store, &grant_id).await;
        let who = sign_in
            .user
            .email
            .clone()
            .unwrap_or_else(|| sign_in.user.login.clone());
        return Ok(web::message_page(
            403,
            "Not allowed",
            &format!(
                "{who} is not on this server's list of allowed users. Ask its operator for access."
            ),
        )
        .header("Set-Cookie", &clear_state));
    }
    let props = Props {
        user: sign_in.user,
        upstream: Some(sign_in.tokens),
    };
    let command = GrantCommand::IssueCode { props };
    let code: AuthCode = match sign_in_step(store, &grant_id, &command, &clear_state).await {
        Ok(c) => c,
        Err(denied) => return denied.answer(),
    };
    let location = crate::urls::authorization_response(
        &request.redirect_uri,
        &[("code", code.secret())],
        request.state.as_deref(),
        site.issuer,
    );
    Ok(Reply::redirect(&location).header("Set-Cookie", &clear_state))
}

/// Runs one step of the sign-in in the grant's object. A state that is unknown,
/// used or expired is the person's to read (a page), not a fault.
async fn sign_in_step<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    grant_id: &str,
    command: &GrantCommand,
    clear_state: &str,
) -> Result<T, Denied> {
    let answer = store.grant(grant_id, command).await.map_err(store_fault)?;
    match typed(answer) {
        Ok(v) => Ok(v),
        Err(GrantError::State(p)) => Err(Denied::Reply(
            local_error(400, p.message()).header("Set-Cookie", clear_state),
        )),
        Err(e) => Err(Denied::Fault(grant_fault(e))),
    }
}

async fn abandon(store: &dyn Store, grant_id: &str) {
    // Best effort: an abandoned grant also expires with its pending state.
    let _ = store.grant(grant_id, &GrantCommand::Abandon).await;
}

// ---------------------------------------------------------------------------
// The development provider's sign-in page

pub fn dev_login(
    site: &Site<'_>,
    path: &str,
    method: &str,
    query: &str,
    body: &[u8],
) -> Result<Reply, HttpError> {
    if site.config.provider != ProviderKind::Dev {
        return Err(HttpError::NotFound { path: path.into() });
    }
    if !crate::urls::is_loopback_host(site.host) {
        return Ok(web::message_page(403, "Not available here", "The development sign-in only works on 127.0.0.1 or localhost. Configure GitHub, Google or an OpenID Connect provider to deploy."));
    }
    if method == "GET" {
        #[derive(Deserialize)]
        struct Q {
            state: Option<String>,
        }
        let state = serde_urlencoded::from_str::<Q>(query)
            .ok()
            .and_then(|q| q.state)
            .unwrap_or_default();
        if state.is_empty() {
            return Ok(local_error(
                400,
                "This sign-in has no state. Start again from your MCP client.",
            ));
        }
        return Ok(web::dev_login_page(&state));
    }
    let Ok(form) = serde_urlencoded::from_bytes::<DevLoginForm>(body) else {
        return Ok(local_error(400, "The sign-in form was incomplete."));
    };
    match dev::complete_login(&form, site.issuer, site.ring(), site.now, site.rng) {
        Ok(location) => Ok(Reply::redirect(&location)),
        Err(message) => Ok(local_error(400, &message)),
    }
}
