//! `GET /authorize` (RFC 6749 §4.1.1): the request is validated against its
//! client (`oauth::registrar`, `oauth::authorize::validate`), then the consent
//! page is shown, or skipped when this browser already approved exactly this
//! (`site::already_approved`, RFC 8252 §8.6). `POST /authorize`: the consent
//! page's answer, bound to its page by a signed ticket and a double-submitted
//! CSRF value; an approval creates the grant's pending state and sends the
//! browser to the identity provider (PKCE S256 and a nonce towards it).
//! Errors before the person answered stay on our own page (RFC 9700 §4.11.2).

use serde::{Deserialize, Serialize};

use crate::http::{Fault, HttpError, Reply};
use crate::oauth::authorize::{self, AuthorizeError, AuthorizeQuery, CONSENT_TTL_SECS};
use crate::oauth::cimd;
use crate::oauth::crypto;
use crate::oauth::error::OAuthError;
use crate::oauth::grant::command::{typed, GrantCommand};
use crate::oauth::grant::{AuthorizationRequest, GrantError, PENDING_TTL_SECS};
use crate::oauth::pkce::{self, CodeVerifier};
use crate::oauth::policy;
use crate::oauth::redirect::redirect_host;
use crate::oauth::registrar::{Clients, KnownClient, Registrar, RegistrarError};
use crate::oauth::site::{
    already_approved, consent_may_be_remembered, grant_fault, local_error, remember_approval,
    state_cookie, store_fault, Site,
};
use crate::oauth::store::Store;
use crate::oauth::types::{CsrfToken, StateToken, UpstreamVerifier};
use crate::upstream::{AuthorizeParams, ProviderSource};
use crate::web::{self, Consent};

/// What the consent form carries, signed, from the page to its POST: the
/// validated request, when it stops being acceptable, and the CSRF value the
/// browser's cookie must match. `flow` names this consent's cookie, so several
/// consent pages can be open in one browser at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ConsentTicket {
    request: AuthorizationRequest,
    expires_at: u64,
    flow: String,
    csrf: CsrfToken,
    /// Whether an approval may be remembered ([`consent_may_be_remembered`]).
    #[serde(default)]
    remember: bool,
}

fn csrf_cookie(flow: &str) -> String {
    format!("csrf-{flow}")
}

/// `GET /authorize`: validate, then show the consent page, or skip it when this
/// browser already approved exactly this.
pub async fn authorize(
    site: &Site<'_>,
    store: &dyn Store,
    upstream: &dyn ProviderSource,
    query: &str,
) -> Result<Reply, HttpError> {
    if let Some(refused) = site.refuse_plain_http() {
        return Ok(refused);
    }
    let query = match AuthorizeQuery::parse(query) {
        Ok(q) => q,
        Err(AuthorizeError::Local(m)) => return Ok(local_error(400, &m)),
        Err(AuthorizeError::Redirect { .. }) => {
            return Err(HttpError::internal(
                Fault::Impossible,
                "authorize query parse answered a redirect",
            ))
        }
    };
    // Who the client is: a client_id that is a URL names a Client ID Metadata
    // Document (CIMD), anything else a registration.
    let known = match query.client_id.as_deref() {
        Some(id) => match Clients::new(store, site.documents, site.now).client(id).await {
            Ok(known) => known,
            Err(RegistrarError::Fault(e)) => return Err(e),
            // Never redirected: the redirect URIs are what we could not check.
            Err(RegistrarError::Document(e)) => {
                return Ok(local_error(
                    400,
                    &format!(
                        "This server could not verify the application that sent you here: {}. Nothing was sent back to it. Try again later, or tell the application's developer.",
                        e.message()
                    ),
                ))
            }
        },
        None => None,
    };
    let document = matches!(known, Some(KnownClient::Document(_)));
    let client = known.map(KnownClient::into_client);
    // The operator's admission policy and block list (`oauth::policy`): our
    // own page, never a redirect, one log line.
    if let Some(c) = client.as_ref().filter(|c| !c.is_expired(site.now)) {
        if let Some(refusal) = policy::check(&site.config.admission, store, &c.client_id).await? {
            let name = c.client_name.as_deref().unwrap_or("An unnamed application");
            return Ok(policy::refusal_page(name, &c.client_id, &refusal));
        }
    } else if let Some(id) = query.client_id.as_deref().filter(|i| !i.is_empty()) {
        // Blocking a registered client deletes its record: say why it is gone.
        if let Some(block) = policy::load_blocks(store).await?.blocking(id) {
            let refusal = policy::Refusal::Blocked(block.kind);
            return Ok(policy::refusal_page("An application", id, &refusal));
        }
    }
    let request = match authorize::validate(&query, client.as_ref(), site.now, &site.resource()) {
        Ok(r) => r,
        Err(AuthorizeError::Local(m)) => return Ok(local_error(400, &m)),
        // The person has not interacted yet: no redirect (RFC 9700 §4.11.2).
        Err(AuthorizeError::Redirect {
            redirect_uri,
            error,
            ..
        }) => {
            // Only a shortened host of the attacker-chosen values: never the
            // client's self-chosen name or the whole URL on our own page.
            let message = format!(
                "The application (which would receive you back at {}) sent a request this server cannot accept: {} ({}). Nothing was sent back to it. Try again from the application, or tell its developer.",
                crate::urls::short_host(&redirect_uri),
                error.description,
                error.code.as_str(),
            );
            return Ok(local_error(400, &message));
        }
    };
    let Some(client) = client else {
        return Err(HttpError::internal(
            Fault::Impossible,
            "authorize: no client after resolution",
        ));
    };
    let remember = consent_may_be_remembered(&request.redirect_uri);
    if remember && already_approved(site, &request) {
        return start_upstream(site, store, upstream, request, Vec::new(), None).await;
    }
    let csrf = CsrfToken::new(site.random()?);
    let flow = site.random_id()?;
    let ticket = ConsentTicket {
        request,
        expires_at: site.now + CONSENT_TTL_SECS,
        flow: flow.clone(),
        csrf: csrf.clone(),
        remember,
    };
    let payload =
        serde_json::to_vec(&ticket).map_err(|e| HttpError::internal(Fault::Encoding, e))?;
    let signed = site.ring().sign("consent", &payload);
    let name = client
        .client_name
        .clone()
        .unwrap_or_else(|| "An unnamed application".to_owned());
    let verified_host = document
        .then(|| cimd::client_id_host(&client.client_id))
        .flatten();
    let shared_host = verified_host.is_some() && cimd::is_shared_content(&client.client_id);
    let page = web::consent_page(&Consent {
        client_name: &name,
        client_id: &client.client_id,
        verified_host: verified_host.as_deref(),
        shared_host,
        loopback_only: document
            && client
                .redirect_uris
                .iter()
                .all(|u| crate::oauth::redirect::is_loopback_redirect(u)),
        redirect_host: &redirect_host(&ticket.request.redirect_uri),
        scopes: &ticket.request.scope,
        ticket: &signed,
        csrf: csrf.secret(),
    });
    Ok(page.header(
        "Set-Cookie",
        &site.set_cookie(&csrf_cookie(&flow), csrf.secret(), CONSENT_TTL_SECS),
    ))
}

#[derive(Deserialize)]
struct ConsentForm {
    ticket: String,
    csrf: CsrfToken,
    action: String,
}

/// `POST /authorize`: the consent form's answer.
pub async fn consent(
    site: &Site<'_>,
    store: &dyn Store,
    upstream: &dyn ProviderSource,
    body: &[u8],
) -> Result<Reply, HttpError> {
    if let Some(refused) = site.refuse_plain_http() {
        return Ok(refused);
    }
    let Ok(form) = serde_urlencoded::from_bytes::<ConsentForm>(body) else {
        return Ok(local_error(
            400,
            "The consent form was incomplete. Start again from your MCP client.",
        ));
    };
    let ticket: Option<ConsentTicket> = site
        .ring()
        .verify("consent", &form.ticket)
        .and_then(|raw| crate::http::json_from_bytes(&raw));
    let Some(ticket) = ticket else {
        return Ok(local_error(400, "The consent form was altered or is not from this server. Start again from your MCP client."));
    };
    if site.now > ticket.expires_at {
        return Ok(local_error(
            400,
            "The consent page was open too long. Start again from your MCP client.",
        ));
    }
    // Double submit, bound by the signature: the form, the ticket and this
    // browser's cookie for this consent must all carry the same random value.
    let cookie_name = csrf_cookie(&ticket.flow);
    let cookie = CsrfToken::new(site.cookie(&cookie_name).unwrap_or_default());
    if !(form.csrf == ticket.csrf && cookie == ticket.csrf) {
        return Ok(local_error(403, "This consent was not submitted from the page this server showed to this browser (cross-site request refused). Start again from your MCP client."));
    }
    let clear_csrf = site.clear_cookie(&cookie_name);
    let request = ticket.request;
    match form.action.as_str() {
        "approve" => {
            let mut cookies = vec![clear_csrf];
            if ticket.remember {
                cookies.push(remember_approval(site, &request)?);
            }
            // The grant is named by the form's own id: posting the same form
            // again finds the grant begun and begins nothing.
            let form = (ticket.flow, ticket.expires_at);
            start_upstream(site, store, upstream, request, cookies, Some(form)).await
        }
        "deny" => {
            // The person answered: now the error may go back to the client.
            let error = OAuthError::access_denied("the user denied the request");
            Ok(Reply::redirect(&error.redirect_location(
                &request.redirect_uri,
                request.state.as_deref(),
                site.issuer,
            ))
            .header("Set-Cookie", &clear_csrf))
        }
        _ => Ok(local_error(400, "The consent form sent an unknown action.")),
    }
}

/// Creates the grant's pending state and sends the browser to the provider.
/// `form` is the consent form's id and expiry, when one was posted: the grant
/// takes its id, so the form is used once.
async fn start_upstream(
    site: &Site<'_>,
    store: &dyn Store,
    upstream: &dyn ProviderSource,
    request: AuthorizationRequest,
    cookies: Vec<String>,
    form: Option<(String, u64)>,
) -> Result<Reply, HttpError> {
    // Before anything is stored: an unreachable provider leaves nothing behind.
    let provider = upstream.provider().await?;
    let (grant_id, hold_until) = match form {
        Some(f) => f,
        None => (site.random_id()?, 0),
    };
    let verifier = CodeVerifier::from_random_bytes(
        &crypto::random_bytes::<32>(site.rng)
            .map_err(|e| HttpError::internal(Fault::Entropy, e))?,
    );
    let nonce = site.random()?;
    let command = GrantCommand::Begin {
        grant_id: grant_id.clone(),
        request,
        upstream_verifier: UpstreamVerifier::new(verifier.secret()),
        nonce: nonce.clone(),
        hold_until,
    };
    let answer = store
        .grant(&grant_id, &command)
        .await
        .map_err(store_fault)?;
    let state: StateToken = match typed(answer) {
        Ok(s) => s,
        Err(GrantError::State(p)) => return Ok(local_error(400, p.message())),
        Err(e) => return Err(grant_fault(e)),
    };
    let location = provider.authorize_url(&AuthorizeParams {
        callback_url: &site.callback_url(),
        state: state.secret().into(),
        pkce_challenge: &pkce::challenge_for(&verifier),
        nonce: nonce.as_str().into(),
    });
    // Binds the sign-in to this browser; one cookie per sign-in in flight.
    let mut reply = Reply::redirect(&location).header(
        "Set-Cookie",
        &site.set_cookie(
            &state_cookie(&grant_id),
            &site.binding_cookie(state.secret())?,
            PENDING_TTL_SECS,
        ),
    );
    for cookie in cookies {
        reply = reply.header("Set-Cookie", &cookie);
    }
    Ok(reply)
}
