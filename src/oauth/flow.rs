//! The authorization server's endpoints as whole flows: plain inputs in, a
//! [`Reply`] out, over a [`Store`], the clock and randomness. The Cloudflare
//! shell only reads the request into a [`Site`] and sends the reply back.
//!
//! - [`authorize`]: `GET /authorize` (RFC 6749 §4.1.1, RFC 9700 §4.11.2);
//! - [`consent`]: `POST /authorize`, the consent page's answer;
//! - [`callback`]: `GET /callback`, the upstream provider's answer;
//! - [`token`]: `POST /token` (RFC 6749 §3.2);
//! - [`revoke`]: `POST /revoke` (RFC 7009);
//! - [`dev_login`]: the development provider's sign-in page.
//!
//! Where errors go (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2): before the person in
//! the browser has done anything on our pages, every error is shown on our own
//! page and never redirected, so a registered client cannot turn `/authorize`
//! into an open redirector. After they answered the consent page or came back
//! from the identity provider, errors go back to the client with `error`,
//! `state` and `iss` (RFC 9207).

use serde::{Deserialize, Serialize};

use crate::config::{Config, ProviderKind};
use crate::http::{Fault, HttpError, Reply};
use crate::oauth::authorize::{self, AuthorizeError, AuthorizeQuery, CONSENT_TTL_SECS};
use crate::oauth::cimd::{self, ClientDocuments};
use crate::oauth::crypto::{self, Entropy, Keyring};
use crate::oauth::error::{append_query, ErrorCode, OAuthError};
use crate::oauth::grant::command::{typed, GrantCommand};
use crate::oauth::grant::{
    self, AuthorizationRequest, GrantError, Props, TakenState, TokenKind, TokenPair,
    PENDING_TTL_SECS,
};
use crate::oauth::metadata;
use crate::oauth::pkce::{self, CodeVerifier};
use crate::oauth::policy;
use crate::oauth::redirect::redirect_host;
use crate::oauth::register::Client;
use crate::oauth::store::{keys, Store, StoreError};
use crate::oauth::token;
use crate::oauth::types::{AnyToken, AuthCode, CsrfToken, StateToken, UpstreamVerifier};
use crate::outbound::{HttpClient, LocalBoxFuture};
use crate::upstream::dev::{self, DevLoginForm};
use crate::upstream::{AuthorizeParams, ExchangeParams, IdentityProvider, UpstreamError};
use crate::user::user_allowed;
use crate::web::{self, cookies, Consent};
use std::rc::Rc;

/// How long a browser remembers what it approved.
pub const APPROVAL_TTL_SECS: u64 = 30 * 86_400;
/// At most this many approvals are remembered per browser.
pub const MAX_APPROVALS: usize = 20;
/// How long a client is asked to wait after `temporarily_unavailable`.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The deployment's identity provider, made only when a flow needs it, so a
/// consent page is shown even while an OpenID provider's discovery is down.
pub trait Upstream {
    fn provider(&self) -> LocalBoxFuture<'_, Result<Rc<dyn IdentityProvider>, HttpError>>;
}

/// What a flow knows about this deployment and this request.
pub struct Site<'a> {
    pub config: &'a Config,
    /// Our issuer and public origin, byte-identical everywhere.
    pub issuer: &'a str,
    /// The host the request reached (without port).
    pub host: &'a str,
    /// Whether the request came over https (cookies are then `__Host-`, `Secure`).
    pub secure: bool,
    /// The request's `Cookie` header.
    pub cookie_header: Option<&'a str>,
    pub now: u64,
    pub rng: &'a dyn Entropy,
    /// Fetching, caching and checking Client ID Metadata Documents.
    pub documents: &'a dyn ClientDocuments,
    /// This isolate's copies: a flow that changes a grant forgets its access tokens here.
    pub isolate: &'a crate::isolate::Isolate,
}

impl Site<'_> {
    pub(crate) fn ring(&self) -> &Keyring {
        &self.config.keyring
    }
    fn resource(&self) -> String {
        metadata::mcp_resource(self.issuer)
    }
    pub(crate) fn callback_url(&self) -> String {
        format!("{}/callback", self.issuer)
    }
    pub(crate) fn cookie(&self, base: &str) -> Option<&str> {
        cookies::get(self.cookie_header, &cookies::name(base, self.secure))
    }
    pub(crate) fn set_cookie(&self, base: &str, value: &str, max_age: u64) -> String {
        cookies::set(
            &cookies::name(base, self.secure),
            value,
            max_age,
            self.secure,
        )
    }
    pub(crate) fn clear_cookie(&self, base: &str) -> String {
        cookies::clear(&cookies::name(base, self.secure), self.secure)
    }
    /// The value of the cookie that binds a sign-in to the browser that
    /// started it: a random value that never appears in a URL, and a MAC (with
    /// `SECRET_KEY`) over it and the sign-in's `state`. Whoever sees the
    /// callback URL learns the state, but can make no cookie that matches it.
    pub(crate) fn binding_cookie(&self, state: &str) -> Result<String, HttpError> {
        let nonce = self.random()?;
        let tag = self
            .ring()
            .mac("browser-binding", &format!("{nonce}\n{state}"));
        Ok(format!("{nonce}.{tag}"))
    }

    /// Whether the cookie `base` binds `state` to this browser
    /// ([`Site::binding_cookie`]).
    pub(crate) fn binding_holds(&self, base: &str, state: &str) -> bool {
        self.cookie(base)
            .and_then(|c| c.split_once('.'))
            .is_some_and(|(nonce, tag)| {
                self.ring()
                    .mac_holds("browser-binding", &format!("{nonce}\n{state}"), tag)
            })
    }
    pub(crate) fn random(&self) -> Result<String, HttpError> {
        crypto::random_secret(self.rng).map_err(|e| HttpError::internal(Fault::Entropy, e))
    }
    fn random_id(&self) -> Result<String, HttpError> {
        crypto::random_id(self.rng).map_err(|e| HttpError::internal(Fault::Entropy, e))
    }
    /// Sign-in pages set cookies that must be `Secure`: plain http is served to
    /// loopback development only, never to a public host.
    pub(crate) fn refuse_plain_http(&self) -> Option<Reply> {
        (!self.secure && !crate::urls::is_loopback_host(self.host)).then(|| {
            web::message_page(
                400,
                "HTTPS required",
                "Sign-in on this server works over https only. Open the same address with https://.",
            )
        })
    }
}

/// Storage failed or did not answer: the client is asked to try again (503
/// `temporarily_unavailable` with `Retry-After`); nothing half-done is kept.
pub(crate) fn store_fault(e: StoreError) -> HttpError {
    let _ = e;
    HttpError::StorageUnavailable {
        retry_after: RETRY_AFTER_SECS,
    }
}

pub(crate) fn grant_fault(e: GrantError) -> HttpError {
    match e {
        GrantError::Unavailable => HttpError::StorageUnavailable {
            retry_after: RETRY_AFTER_SECS,
        },
        other => HttpError::internal(Fault::Impossible, format!("grant object: {other:?}")),
    }
}

fn local_error(status: u16, message: &str) -> Reply {
    web::message_page(status, "This sign-in cannot continue", message)
}

/// Adds the CORS headers browser-based clients (MCP Inspector) need.
pub fn with_cors(mut reply: Reply) -> Reply {
    for (k, v) in metadata::cors_headers() {
        reply = reply.header(&k, &v);
    }
    reply
}

/// A registered client, or `None` for an id we never issued.
pub async fn load_client(store: &dyn Store, client_id: &str) -> Result<Option<Client>, HttpError> {
    // Client ids we issue are base64url; anything else is not worth a read.
    let plausible = (1..=128).contains(&client_id.len())
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plausible {
        return Ok(None);
    }
    let raw = store
        .get(&keys::client(client_id))
        .await
        .map_err(store_fault)?;
    // A record that no longer decodes is not a client we can vouch for.
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
}

// ---------------------------------------------------------------------------
// Remembered consent

/// One remembered approval: what a browser allowed, and for which scopes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Approval {
    /// Hash of (client, redirect URI, resource).
    id: String,
    scope: Vec<String>,
}

fn approval_id(request: &AuthorizationRequest) -> String {
    crypto::hash_token(&format!(
        "{}\n{}\n{}",
        request.client_id, request.redirect_uri, request.resource
    ))[..32]
        .to_owned()
}

fn approvals(site: &Site<'_>) -> Vec<Approval> {
    site.cookie("approved")
        .and_then(|c| site.ring().verify("approvals", c))
        .and_then(|raw| crate::http::json_from_bytes(&raw))
        .unwrap_or_default()
}

/// Whether this browser's approval may later stand in for the consent page
/// (RFC 8252 §8.6; OAuth 2.1 "Client Impersonation"): only for a redirect to
/// an `https` URI on a registrable public host ([`crate::urls::is_registrable_public_https`]),
/// which only that site receives. With a loopback redirect (`http`, or
/// `https://127.0.0.1:PORT`, `https://localhost`), an IP literal or a
/// special-use name any program may be the one listening, and an app's
/// private-use scheme may be claimed by another app, so those get the consent
/// page every time, whether or not the client holds a secret.
pub(crate) fn consent_may_be_remembered(redirect_uri: &str) -> bool {
    crate::urls::Url::parse(redirect_uri)
        .is_ok_and(|u| crate::urls::is_registrable_public_https(&u))
}

/// Consent is remembered only for what was approved: the same client, redirect
/// URI and resource, and no scope beyond the approved ones.
fn already_approved(site: &Site<'_>, request: &AuthorizationRequest) -> bool {
    let id = approval_id(request);
    approvals(site)
        .iter()
        .any(|a| a.id == id && request.scope.iter().all(|s| a.scope.contains(s)))
}

fn remember_approval(site: &Site<'_>, request: &AuthorizationRequest) -> Result<String, HttpError> {
    let id = approval_id(request);
    let mut list = approvals(site);
    let mut scope = request.scope.clone();
    if let Some(at) = list.iter().position(|a| a.id == id) {
        for s in list.remove(at).scope {
            if !scope.contains(&s) {
                scope.push(s);
            }
        }
    }
    list.push(Approval { id, scope });
    let skip = list.len().saturating_sub(MAX_APPROVALS);
    let list: Vec<Approval> = list.into_iter().skip(skip).collect();
    let payload = serde_json::to_vec(&list).map_err(|e| HttpError::internal(Fault::Encoding, e))?;
    Ok(site.set_cookie(
        "approved",
        &site.ring().sign("approvals", &payload),
        APPROVAL_TTL_SECS,
    ))
}

// ---------------------------------------------------------------------------
// GET /authorize

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
    upstream: &dyn Upstream,
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
    // A client_id that is a URL names a Client ID Metadata Document (CIMD).
    let mut document = None;
    let client = match query.client_id.as_deref() {
        Some(id) if cimd::is_document_client_id(id) => {
            match cimd::resolve(site.documents, id, site.now).await {
                Ok(d) => {
                    let client = d.client.clone();
                    document = Some(d);
                    Some(client)
                }
                // Never redirected: the redirect URIs are what we could not check.
                Err(e) => {
                    return Ok(local_error(
                        400,
                        &format!(
                            "This server could not verify the application that sent you here: {}. Nothing was sent back to it. Try again later, or tell the application's developer.",
                            e.message()
                        ),
                    ))
                }
            }
        }
        Some(id) => load_client(store, id).await?,
        None => None,
    };
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
        .as_ref()
        .and_then(|_| cimd::client_id_host(&client.client_id));
    let shared_host = verified_host.is_some() && cimd::is_shared_content(&client.client_id);
    let page = web::consent_page(&Consent {
        client_name: &name,
        client_id: &client.client_id,
        verified_host: verified_host.as_deref(),
        shared_host,
        loopback_only: document.is_some()
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
    upstream: &dyn Upstream,
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

fn state_cookie(grant_id: &str) -> String {
    format!("state-{grant_id}")
}

/// Creates the grant's pending state and sends the browser to the provider.
/// `form` is the consent form's id and expiry, when one was posted: the grant
/// takes its id, so the form is used once.
async fn start_upstream(
    site: &Site<'_>,
    store: &dyn Store,
    upstream: &dyn Upstream,
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

// ---------------------------------------------------------------------------
// GET /callback

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
    upstream: &dyn Upstream,
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
    let taken: TakenState = match sign_in_step(store, &grant_id, &command, &clear_state).await? {
        Ok(t) => t,
        Err(page) => return Ok(page),
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
    let code: AuthCode = match sign_in_step(store, &grant_id, &command, &clear_state).await? {
        Ok(c) => c,
        Err(page) => return Ok(page),
    };
    let mut params: Vec<(&str, &str)> = vec![("code", code.secret())];
    if let Some(s) = request.state.as_deref() {
        params.push(("state", s));
    }
    params.push(("iss", site.issuer));
    Ok(
        Reply::redirect(&append_query(&request.redirect_uri, &params))
            .header("Set-Cookie", &clear_state),
    )
}

/// Runs one step of the sign-in in the grant's object. A state that is unknown,
/// used or expired is the person's to read (`Err(page)`), not a fault.
async fn sign_in_step<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    grant_id: &str,
    command: &GrantCommand,
    clear_state: &str,
) -> Result<Result<T, Reply>, HttpError> {
    let answer = store.grant(grant_id, command).await.map_err(store_fault)?;
    match typed(answer) {
        Ok(v) => Ok(Ok(v)),
        Err(GrantError::State(p)) => Ok(Err(
            local_error(400, p.message()).header("Set-Cookie", clear_state)
        )),
        Err(e) => Err(grant_fault(e)),
    }
}

async fn abandon(store: &dyn Store, grant_id: &str) {
    // Best effort: an abandoned grant also expires with its pending state.
    let _ = store.grant(grant_id, &GrantCommand::Abandon).await;
}

// ---------------------------------------------------------------------------
// POST /register

/// RFC 7591 §3: dynamic client registration. One KV read for a public client
/// registered before (up to three for a new one: its id under the older
/// derivations) and at most one KV write; a public client registered again
/// costs the read only (see
/// `oauth::register` for the storage rules). A storage fault answers 503
/// `temporarily_unavailable`: nothing is answered that is not stored.
pub async fn register(site: &Site<'_>, store: &dyn Store, body: &[u8]) -> Result<Reply, HttpError> {
    use crate::oauth::register::{self as reg, RegistrationRequest};
    if let Some(refused) = crate::oauth::policy::registration_closed(&site.config.admission) {
        return Ok(with_cors(refused));
    }
    let validated = match RegistrationRequest::from_json(body).and_then(reg::validate) {
        Ok(v) => v,
        Err(e) => return Ok(with_cors(e.to_json_reply())),
    };
    let (now, ttl) = (site.now, site.config.client_ttl);
    let registered = if validated.is_public() {
        // Derived under a key that no SECRET_KEY rotation changes (the issuer),
        // so a client that registers again on each connection keeps its id,
        // and its refresh tokens, across a rotation.
        let mut client_id = reg::public_client_id(&validated, &reg::stable_id_key(site.issuer));
        let mut stored = load_client(store, &client_id).await?;
        if stored.is_none() {
            // A client registered while ids were derived with SECRET_KEY keeps
            // the id it has (read only when the stable id is not stored).
            for key in site.ring().all() {
                let legacy = reg::public_client_id(&validated, key);
                if let Some(found) = load_client(store, &legacy).await? {
                    client_id = legacy;
                    stored = Some(found);
                    break;
                }
            }
        }
        // The same metadata gives the same id: a blocked one stays blocked.
        // Blocking deletes the record and this refuses to write it again, so
        // only a registration that would write reads the block list.
        if stored.as_ref().is_none_or(|c| c.is_expired(now)) {
            if let Some(refused) =
                crate::oauth::policy::blocked_registration(store, &client_id).await?
            {
                return Ok(with_cors(refused));
            }
        }
        reg::register_public(validated, client_id, stored, now, ttl)
    } else {
        let client_id = site.random_id()?;
        let secret = site.random()?;
        reg::register_confidential(validated, client_id, secret, now, ttl)
    };
    if registered.write {
        let client = &registered.client;
        let json =
            serde_json::to_string(client).map_err(|e| HttpError::internal(Fault::Encoding, e))?;
        store
            .put(&keys::client(&client.client_id), &json, ttl)
            .await
            .map_err(store_fault)?;
    }
    Ok(with_cors(
        Reply::json(201, &registered.response()).no_store(),
    ))
}

// ---------------------------------------------------------------------------
// POST /token and POST /revoke

pub(crate) fn oauth_reply(error: &OAuthError, basic: bool) -> Reply {
    let reply = if basic {
        error.to_json_reply_for_basic_auth()
    } else {
        error.to_json_reply()
    };
    let reply = if error.code == ErrorCode::TemporarilyUnavailable {
        reply.header("Retry-After", &RETRY_AFTER_SECS.to_string())
    } else {
        reply
    };
    with_cors(reply)
}

/// Reads the form of /token or /revoke and authenticates its client
/// (RFC 6749 §2.3, §3.2.1; RFC 7523 §3 for document clients). `endpoint` is
/// the URL that was called. `Ok(Err)` is the reply to send; `Ok(Ok)` carries
/// the authenticated client id.
pub(crate) async fn client_form(
    site: &Site<'_>,
    store: &dyn Store,
    endpoint: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Result<(token::TokenForm, String), Reply>, HttpError> {
    let form = match token::parse_form(content_type, body) {
        Ok(f) => f,
        Err(e) => return Ok(Err(oauth_reply(&e, false))),
    };
    let basic = authorization.is_some_and(|h| !h.trim().is_empty());
    let assertion = form.client_assertion.as_deref().filter(|a| !a.is_empty());
    let client_id = match assertion {
        // RFC 7523 §3: client_id is optional next to an assertion; its iss names the client.
        Some(jwt) => {
            if basic || form.client_secret.is_some() {
                let e = OAuthError::invalid_request(
                    "use one client authentication method, not several",
                );
                return Ok(Err(oauth_reply(&e, basic)));
            }
            let from_jwt = || {
                cimd::parse_assertion(jwt).ok().and_then(|a| {
                    a.claims
                        .get("iss")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                })
            };
            let Some(id) = form
                .client_id
                .clone()
                .filter(|c| !c.is_empty())
                .or_else(from_jwt)
            else {
                let e = OAuthError::invalid_client(
                    "client authentication is required (client_id is missing)",
                );
                return Ok(Err(oauth_reply(&e, false)));
            };
            if !cimd::is_document_client_id(&id) {
                let e = OAuthError::invalid_client(
                    "private_key_jwt is accepted only from clients with a metadata document",
                );
                return Ok(Err(oauth_reply(&e, false)));
            }
            // What can be checked without a fetch is checked first: a malformed
            // or expired assertion, or one for another audience, never makes
            // this server fetch the client's document or keys.
            let token_url = format!("{}/token", site.issuer);
            let audiences = [token_url.as_str(), site.issuer, endpoint];
            if let Err(m) = cimd::parse_assertion(jwt)
                .and_then(|a| cimd::check_claims(&a, &id, &audiences, site.now))
            {
                return Ok(Err(oauth_reply(&OAuthError::invalid_client(m), false)));
            }
            id
        }
        None => {
            let auth = match token::client_credentials(authorization, &form) {
                Ok(a) => a,
                Err(e) => return Ok(Err(oauth_reply(&e, basic))),
            };
            if !cimd::is_document_client_id(auth.client_id()) {
                let client = load_client(store, auth.client_id()).await?;
                if let Err(e) = token::authenticate_client(&auth, client.as_ref(), site.now) {
                    return Ok(Err(oauth_reply(&e, basic)));
                }
                return Ok(Ok((form, auth.client_id().to_owned())));
            }
            auth.client_id().to_owned()
        }
    };
    // A Client ID Metadata Document client.
    let document = match cimd::resolve(site.documents, &client_id, site.now).await {
        Ok(d) => d,
        Err(e) => return Ok(Err(oauth_reply(&cimd::document_error(e), basic))),
    };
    // Registered clients are refused by their missing record (blocking one
    // deletes it); a document client has no record, so the policy and the
    // block list are asked here (one KV read).
    if let Some(refusal) = policy::check(&site.config.admission, store, &client_id).await? {
        let e =
            OAuthError::unauthorized_client("this server's operator has not allowed this client");
        let path = endpoint.strip_prefix(site.issuer).unwrap_or(endpoint);
        let reply = oauth_reply(&e, basic).logged(policy::log_line(path, &client_id, &refusal));
        return Ok(Err(reply));
    }
    let presented = cimd::Presented {
        secret: basic || form.client_secret.is_some(),
        assertion_type: form.client_assertion_type.as_deref(),
        assertion,
    };
    let token_url = format!("{}/token", site.issuer);
    let audiences = [token_url.as_str(), site.issuer, endpoint];
    if let Err(e) =
        cimd::authenticate(site.documents, &document, &presented, &audiences, site.now).await
    {
        return Ok(Err(oauth_reply(&e, basic)));
    }
    Ok(Ok((form, client_id)))
}

/// `POST /token` (RFC 6749 §3.2): authorization code and refresh token grants.
pub async fn token(
    site: &Site<'_>,
    store: &dyn Store,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Reply, HttpError> {
    let endpoint = format!("{}/token", site.issuer);
    let (form, client_id) =
        match client_form(site, store, &endpoint, authorization, content_type, body).await? {
            Ok(v) => v,
            Err(reply) => return Ok(reply),
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
    let endpoint = format!("{}/revoke", site.issuer);
    let (form, client_id) =
        match client_form(site, store, &endpoint, authorization, content_type, body).await? {
            Ok(v) => v,
            Err(reply) => return Ok(reply),
        };
    let Some(token) = form.token.filter(|t| !t.is_empty()).map(AnyToken::new) else {
        return Ok(oauth_reply(
            &OAuthError::invalid_request("token is required"),
            false,
        ));
    };
    if let Some((kind, grant_id)) = grant::parse_token(token.secret()) {
        if kind != TokenKind::Code {
            let grant_id = grant_id.to_owned();
            let command = GrantCommand::Revoke {
                token,
                client_id: client_id.clone(),
            };
            let answer = store.grant(&grant_id, &command).await;
            site.isolate.forget_grant(&grant_id);
            typed::<()>(answer.map_err(store_fault)?).map_err(grant_fault)?;
        }
    }
    Ok(with_cors(Reply::new(200).no_store()))
}

// ---------------------------------------------------------------------------
// The development provider's sign-in page

/// `GET`/`POST /dev/login`: only with `UPSTREAM_PROVIDER=dev`, only on loopback.
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
