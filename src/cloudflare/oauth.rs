//! The authorization server's endpoints, as thin glue: read the request, call
//! the core, talk to KV and the grant's Durable Object, map the result.

use serde::Deserialize;
use worker::Env;

use crate::config::{Config, ProviderKind};
use crate::http::{HttpError, Reply};
use crate::oauth::authorize::{
    self, AuthorizeError, AuthorizeQuery, ConsentTicket, CONSENT_TTL_SECS,
};
use crate::oauth::crypto::{self, OsEntropy};
use crate::oauth::error::{append_query, OAuthError};
use crate::oauth::grant::{
    self, AuthorizationRequest, GrantError, Props, TakenState, TokenKind, TokenPair,
    PENDING_TTL_SECS,
};
use crate::oauth::metadata;
use crate::oauth::pkce::{self, CodeVerifier};
use crate::oauth::redirect::redirect_host;
use crate::oauth::register::{self, Client, RegistrationRequest};
use crate::oauth::token::{self, ClientAuth, GrantCommand};
use crate::upstream::dev::{self, DevLoginForm};
use crate::upstream::{AuthorizeParams, ExchangeParams, IdentityProvider, UpstreamError};
use crate::web::{self, cookies, Consent};

use super::platform::{grant_call, internal, now, FetchClient, Incoming, Kv};

/// How long a browser remembers which clients it approved.
const APPROVAL_TTL_SECS: u64 = 30 * 86_400;
/// At most this many approvals are remembered per browser.
const MAX_APPROVALS: usize = 20;

/// Everything a handler needs about this request and deployment.
pub struct Ctx<'a> {
    pub env: &'a Env,
    pub config: &'a Config,
    pub req: &'a Incoming,
    /// Our issuer and public origin, byte-identical everywhere.
    pub issuer: String,
}

impl Ctx<'_> {
    fn secret(&self) -> &str {
        self.config.secret_key.expose()
    }
    fn resource(&self) -> String {
        metadata::mcp_resource(&self.issuer)
    }
    fn cookie(&self, base: &str) -> Option<String> {
        let header = self.req.header("Cookie");
        cookies::get(header.as_deref(), &cookies::name(base, self.req.secure)).map(str::to_owned)
    }
    fn set_cookie(&self, base: &str, value: &str, max_age: u64) -> String {
        cookies::set(
            &cookies::name(base, self.req.secure),
            value,
            max_age,
            self.req.secure,
        )
    }
    fn clear_cookie(&self, base: &str) -> String {
        cookies::clear(&cookies::name(base, self.req.secure), self.req.secure)
    }
}

/// Adds the CORS headers browser-based clients (MCP Inspector) need.
pub fn with_cors(mut reply: Reply) -> Reply {
    for (k, v) in metadata::cors_headers() {
        reply = reply.header(&k, &v);
    }
    reply
}

pub fn preflight() -> Reply {
    with_cors(Reply::new(204))
}

pub fn authorization_server_metadata(ctx: &Ctx<'_>) -> Reply {
    with_cors(
        Reply::json(200, &metadata::authorization_server_metadata(&ctx.issuer))
            .header("Cache-Control", "max-age=300"),
    )
}

pub fn protected_resource_metadata(ctx: &Ctx<'_>) -> Reply {
    with_cors(
        Reply::json(
            200,
            &metadata::protected_resource_metadata(&ctx.resource(), &ctx.issuer),
        )
        .header("Cache-Control", "max-age=300"),
    )
}

fn client_key(client_id: &str) -> String {
    format!("client:{client_id}")
}

/// Client ids we issue are base64url; anything else is not worth a KV read.
fn plausible_client_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Looks a client up. The seam for Client ID Metadata Documents: an HTTPS
/// `client_id` will be resolved here, beside the registered ones.
async fn load_client(kv: &Kv, client_id: &str) -> Result<Option<Client>, HttpError> {
    if !plausible_client_id(client_id) {
        return Ok(None);
    }
    Ok(kv
        .get(&client_key(client_id))
        .await?
        .and_then(|raw| serde_json::from_slice(raw.as_bytes()).ok()))
}

/// RFC 7591 §3: dynamic client registration. At most one KV read and one KV
/// write; a public client registered again costs the read only (see
/// `oauth::register` for the storage rules).
pub async fn register(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let validated = match RegistrationRequest::from_json(&ctx.req.body).and_then(register::validate)
    {
        Ok(v) => v,
        Err(e) => return Ok(with_cors(e.to_json_reply())),
    };
    let kv = Kv::from_env(ctx.env)?;
    let (now, ttl) = (now(), ctx.config.client_ttl);
    let registered = if validated.is_public() {
        let client_id = register::public_client_id(&validated, ctx.secret());
        let stored = load_client(&kv, &client_id).await?;
        register::register_public(validated, client_id, stored, now, ttl)
    } else {
        let rng = OsEntropy;
        let client_id = crypto::random_id(&rng).map_err(|e| internal("client id", e))?;
        let secret = crypto::random_secret(&rng).map_err(|e| internal("client secret", e))?;
        register::register_confidential(validated, client_id, secret, now, ttl)
    };
    if registered.write {
        let client = &registered.client;
        let json = serde_json::to_string(client).map_err(|e| internal("encode client", e))?;
        kv.put(&client_key(&client.client_id), &json, ttl).await?;
    }
    Ok(with_cors(
        Reply::json(201, &registered.response()).no_store(),
    ))
}

fn local_error(status: u16, message: &str) -> Reply {
    web::message_page(status, "This sign-in cannot continue", message)
}

fn redirect_error(
    ctx: &Ctx<'_>,
    redirect_uri: &str,
    error: &OAuthError,
    state: Option<&str>,
) -> Reply {
    Reply::redirect(&error.redirect_location(redirect_uri, state, &ctx.issuer))
}

/// `GET /authorize`: validate, then show the consent page (or skip it for a
/// client this browser already approved).
pub async fn authorize_get(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let query = match AuthorizeQuery::parse(&ctx.req.query) {
        Ok(q) => q,
        Err(AuthorizeError::Local(m)) => return Ok(local_error(400, &m)),
        Err(AuthorizeError::Redirect { .. }) => return Err(HttpError::Internal),
    };
    let kv = Kv::from_env(ctx.env)?;
    let client = match query.client_id.as_deref() {
        Some(id) => load_client(&kv, id).await?,
        None => None,
    };
    let now = now();
    let request = match authorize::validate(&query, client.as_ref(), now, &ctx.resource()) {
        Ok(r) => r,
        Err(AuthorizeError::Local(m)) => return Ok(local_error(400, &m)),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            error,
            state,
        }) => return Ok(redirect_error(ctx, &redirect_uri, &error, state.as_deref())),
    };
    let client = client.ok_or(HttpError::Internal)?;
    if approvals(ctx).contains(&approval_id(&request)) {
        return start_upstream(ctx, request, None).await;
    }
    let rng = OsEntropy;
    let csrf = crypto::random_secret(&rng).map_err(|e| internal("csrf", e))?;
    let ticket = ConsentTicket {
        request,
        expires_at: now + CONSENT_TTL_SECS,
        csrf: csrf.clone(),
    };
    let payload = serde_json::to_vec(&ticket).map_err(|e| internal("encode ticket", e))?;
    let signed = crypto::sign(ctx.secret(), "consent", &payload);
    let name = client
        .client_name
        .clone()
        .unwrap_or_else(|| "An unnamed application".to_owned());
    let page = web::consent_page(&Consent {
        client_name: &name,
        client_id: &client.client_id,
        redirect_host: &redirect_host(&ticket.request.redirect_uri),
        scopes: &ticket.request.scope,
        ticket: &signed,
        csrf: &csrf,
    });
    Ok(page.header(
        "Set-Cookie",
        &ctx.set_cookie("csrf", &csrf, CONSENT_TTL_SECS),
    ))
}

#[derive(Deserialize)]
struct ConsentForm {
    ticket: String,
    csrf: String,
    action: String,
}

/// `POST /authorize`: the consent form's answer.
pub async fn authorize_post(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let Ok(form) = serde_urlencoded::from_bytes::<ConsentForm>(&ctx.req.body) else {
        return Ok(local_error(
            400,
            "The consent form was incomplete. Start again from your MCP client.",
        ));
    };
    let ticket: Option<ConsentTicket> =
        crypto::verify_signed(ctx.secret(), "consent", &form.ticket)
            .and_then(|raw| serde_json::from_slice(&raw).ok());
    let Some(ticket) = ticket else {
        return Ok(local_error(400, "The consent form was altered or is not from this server. Start again from your MCP client."));
    };
    if now() > ticket.expires_at {
        return Ok(local_error(
            400,
            "The consent page was open too long. Start again from your MCP client.",
        ));
    }
    // Double submit, bound by the signature: the form, the ticket and this
    // browser's cookie must all carry the same random value.
    let cookie = ctx.cookie("csrf").unwrap_or_default();
    if !(crypto::ct_eq(&form.csrf, &ticket.csrf) && crypto::ct_eq(&cookie, &ticket.csrf)) {
        return Ok(local_error(403, "This consent was not submitted from the page this server showed to this browser (cross-site request refused). Start again from your MCP client."));
    }
    let clear_csrf = ctx.clear_cookie("csrf");
    let request = ticket.request;
    match form.action.as_str() {
        "approve" => {
            let mut approved = approvals(ctx);
            let id = approval_id(&request);
            approved.retain(|a| a != &id);
            approved.push(id);
            let skip = approved.len().saturating_sub(MAX_APPROVALS);
            let approved: Vec<String> = approved.into_iter().skip(skip).collect();
            let payload =
                serde_json::to_vec(&approved).map_err(|e| internal("encode approvals", e))?;
            let cookie = ctx.set_cookie(
                "approved",
                &crypto::sign(ctx.secret(), "approvals", &payload),
                APPROVAL_TTL_SECS,
            );
            Ok(start_upstream(ctx, request, Some(cookie))
                .await?
                .header("Set-Cookie", &clear_csrf))
        }
        "deny" => {
            let error = OAuthError::access_denied("the user denied the request");
            Ok(
                redirect_error(ctx, &request.redirect_uri, &error, request.state.as_deref())
                    .header("Set-Cookie", &clear_csrf),
            )
        }
        _ => Ok(local_error(400, "The consent form sent an unknown action.")),
    }
}

/// A browser's approvals: hashes of (client, redirect URI), from a signed cookie.
fn approvals(ctx: &Ctx<'_>) -> Vec<String> {
    ctx.cookie("approved")
        .and_then(|c| crypto::verify_signed(ctx.secret(), "approvals", &c))
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .unwrap_or_default()
}

fn approval_id(request: &AuthorizationRequest) -> String {
    crypto::hash_token(&format!("{}\n{}", request.client_id, request.redirect_uri))[..32].to_owned()
}

/// Creates the grant's pending state and sends the browser to the provider.
async fn start_upstream(
    ctx: &Ctx<'_>,
    request: AuthorizationRequest,
    extra_cookie: Option<String>,
) -> Result<Reply, HttpError> {
    let rng = OsEntropy;
    let grant_id = crypto::random_id(&rng).map_err(|e| internal("grant id", e))?;
    let verifier = CodeVerifier::from_random_bytes(
        &crypto::random_bytes::<32>(&rng).map_err(|e| internal("verifier", e))?,
    );
    let nonce = crypto::random_secret(&rng).map_err(|e| internal("nonce", e))?;
    let provider = provider(ctx).await?;
    let command = GrantCommand::Begin {
        grant_id: grant_id.clone(),
        request,
        upstream_verifier: verifier.secret().to_owned(),
        nonce: nonce.clone(),
    };
    let state: String = grant_call(ctx.env, &grant_id, &command)
        .await?
        .into_result()
        .map_err(grant_fault)?;
    let location = provider.authorize_url(&AuthorizeParams {
        callback_url: &callback_url(ctx),
        state: &state,
        pkce_challenge: &pkce::challenge_for(&verifier),
        nonce: &nonce,
    });
    let mut reply = Reply::redirect(&location).header(
        "Set-Cookie",
        &ctx.set_cookie("oauth_state", &crypto::hash_token(&state), PENDING_TTL_SECS),
    );
    if let Some(cookie) = extra_cookie {
        reply = reply.header("Set-Cookie", &cookie);
    }
    Ok(reply)
}

fn callback_url(ctx: &Ctx<'_>) -> String {
    format!("{}/callback", ctx.issuer)
}

fn grant_fault(e: GrantError) -> HttpError {
    internal("grant", e)
}

/// The identity provider for this deployment.
async fn provider(ctx: &Ctx<'_>) -> Result<Box<dyn IdentityProvider>, HttpError> {
    super::upstream::provider(ctx.env, ctx.config, &ctx.issuer).await
}

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// `GET /callback`: the provider sends the browser back here.
pub async fn callback(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let Ok(query) = serde_urlencoded::from_str::<CallbackQuery>(&ctx.req.query) else {
        return Ok(local_error(
            400,
            "The identity provider sent a malformed answer.",
        ));
    };
    let Some(state) = query.state.as_deref() else {
        return Ok(local_error(
            400,
            "The identity provider's answer has no state. Start again from your MCP client.",
        ));
    };
    let Some(grant_id) = grant::grant_of_state(state) else {
        return Ok(local_error(
            400,
            "This sign-in is unknown or has expired. Start again from your MCP client.",
        ));
    };
    // The state must come back to the browser that started the sign-in.
    let bound = ctx
        .cookie("oauth_state")
        .is_some_and(|c| crypto::ct_eq(&c, &crypto::hash_token(state)));
    if !bound {
        return Ok(local_error(400, "This sign-in was started in another browser, or its cookie expired. Start again from your MCP client."));
    }
    let clear_state = ctx.clear_cookie("oauth_state");
    let taken: TakenState = match grant_call(
        ctx.env,
        grant_id,
        &GrantCommand::TakeState {
            state: state.to_owned(),
        },
    )
    .await?
    .into_result()
    {
        Ok(t) => t,
        Err(GrantError::State(m)) => {
            return Ok(local_error(400, m).header("Set-Cookie", &clear_state))
        }
        Err(e) => return Err(grant_fault(e)),
    };
    let request = &taken.request;
    let fail = |error: OAuthError| {
        redirect_error(ctx, &request.redirect_uri, &error, request.state.as_deref())
            .header("Set-Cookie", &clear_state)
    };

    if let Some(error) = query.error.as_deref() {
        abandon(ctx, grant_id).await;
        return Ok(fail(if error == "access_denied" {
            OAuthError::access_denied("the user declined at the identity provider")
        } else {
            OAuthError::server_error("the identity provider reported an error")
        }));
    }
    let Some(code) = query.code.as_deref() else {
        abandon(ctx, grant_id).await;
        return Ok(fail(OAuthError::server_error(
            "the identity provider sent no code",
        )));
    };
    let provider = provider(ctx).await?;
    let callback = callback_url(ctx);
    let params = ExchangeParams {
        code,
        callback_url: &callback,
        pkce_verifier: &taken.upstream_verifier,
        nonce: &taken.nonce,
        now: now(),
    };
    let sign_in = match provider.exchange(&FetchClient, params).await {
        Ok(s) => s,
        Err(e) => {
            worker::console_warn!("upstream sign-in failed: {e}");
            abandon(ctx, grant_id).await;
            return Ok(fail(match e {
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
    if !user_allowed(ctx.config, &sign_in.user) {
        abandon(ctx, grant_id).await;
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
    let code: String = grant_call(ctx.env, grant_id, &GrantCommand::IssueCode { props })
        .await?
        .into_result()
        .map_err(grant_fault)?;
    let mut params: Vec<(&str, &str)> = vec![("code", &code)];
    if let Some(s) = request.state.as_deref() {
        params.push(("state", s));
    }
    params.push(("iss", &ctx.issuer));
    Ok(
        Reply::redirect(&append_query(&request.redirect_uri, &params))
            .header("Set-Cookie", &clear_state),
    )
}

/// The allow-list (`ALLOWED_USERS`), by login or email, ASCII case-insensitive.
fn user_allowed(config: &Config, user: &crate::user::UserProfile) -> bool {
    if config.allowed_users.is_empty() {
        return true;
    }
    let login = user.login.to_ascii_lowercase();
    let email = user.email.as_deref().map(str::to_ascii_lowercase);
    config
        .allowed_users
        .iter()
        .any(|a| *a == login || Some(a) == email.as_ref())
}

async fn abandon(ctx: &Ctx<'_>, grant_id: &str) {
    if let Err(e) = grant_call(ctx.env, grant_id, &GrantCommand::Abandon).await {
        worker::console_warn!("could not abandon grant: {e}");
    }
}

fn oauth_error_reply(error: &OAuthError, basic: bool) -> Reply {
    with_cors(if basic {
        error.to_json_reply_for_basic_auth()
    } else {
        error.to_json_reply()
    })
}

/// Authenticates the client of a /token or /revoke request.
async fn authenticated_client(
    ctx: &Ctx<'_>,
    form: &token::TokenForm,
) -> Result<Result<ClientAuth, Reply>, HttpError> {
    let header = ctx.req.header("Authorization");
    let basic = header.is_some();
    let auth = match token::client_credentials(header.as_deref(), form) {
        Ok(a) => a,
        Err(e) => return Ok(Err(oauth_error_reply(&e, basic))),
    };
    let client = load_client(&Kv::from_env(ctx.env)?, auth.client_id()).await?;
    if let Err(e) = token::authenticate_client(&auth, client.as_ref(), now()) {
        return Ok(Err(oauth_error_reply(&e, basic)));
    }
    Ok(Ok(auth))
}

/// Reads the form of /token or /revoke and authenticates its client.
async fn client_form(
    ctx: &Ctx<'_>,
) -> Result<Result<(token::TokenForm, ClientAuth), Reply>, HttpError> {
    let form = match token::parse_form(ctx.req.header("Content-Type").as_deref(), &ctx.req.body) {
        Ok(f) => f,
        Err(e) => return Ok(Err(oauth_error_reply(&e, false))),
    };
    Ok(authenticated_client(ctx, &form)
        .await?
        .map(|auth| (form, auth)))
}

/// `POST /token` (RFC 6749 §3.2).
pub async fn token_endpoint(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let (form, auth) = match client_form(ctx).await? {
        Ok(v) => v,
        Err(reply) => return Ok(reply),
    };
    let (grant_id, mut command) = match token::plan(&form, auth.client_id()) {
        Ok(plan) => plan,
        Err(e) => return Ok(oauth_error_reply(&e, false)),
    };
    if let GrantCommand::Refresh {
        refresh_token,
        new_props,
        ..
    } = &mut command
    {
        let refreshed = super::upstream::refreshed_props(
            ctx.env,
            ctx.config,
            &ctx.issuer,
            &grant_id,
            refresh_token,
            auth.client_id(),
        )
        .await?;
        match refreshed {
            Ok(props) => *new_props = props,
            Err(reply) => return Ok(with_cors(reply)),
        }
    }
    match grant_call(ctx.env, &grant_id, &command)
        .await?
        .into_result::<TokenPair>()
    {
        Ok(pair) => Ok(with_cors(Reply::json(200, &pair.to_json()).no_store())),
        Err(GrantError::OAuth(e)) => Ok(oauth_error_reply(&e, false)),
        Err(GrantError::State(m)) => Ok(oauth_error_reply(&OAuthError::invalid_grant(m), false)),
        Err(GrantError::Internal) => Err(HttpError::Internal),
    }
}

/// `POST /revoke` (RFC 7009). Unknown tokens are not an error (§2.2).
pub async fn revoke(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let (form, auth) = match client_form(ctx).await? {
        Ok(v) => v,
        Err(reply) => return Ok(reply),
    };
    let Some(token) = form.token.clone().filter(|t| !t.is_empty()) else {
        return Ok(oauth_error_reply(
            &OAuthError::invalid_request("token is required"),
            false,
        ));
    };
    if let Some((kind, grant_id)) = grant::parse_token(&token) {
        if kind != TokenKind::Code {
            let command = GrantCommand::Revoke {
                token: token.clone(),
                client_id: auth.client_id().to_owned(),
            };
            grant_call(ctx.env, grant_id, &command)
                .await?
                .into_result::<()>()
                .map_err(grant_fault)?;
        }
    }
    Ok(with_cors(Reply::new(200).no_store()))
}

/// The development sign-in page: only with `UPSTREAM_PROVIDER=dev`, only on loopback.
pub async fn dev_login(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    if ctx.config.provider != ProviderKind::Dev {
        return Err(HttpError::NotFound {
            path: ctx.req.path.clone(),
        });
    }
    if !dev::is_loopback_host(&ctx.req.host) {
        return Ok(web::message_page(403, "Not available here", "The development sign-in only works on 127.0.0.1 or localhost. Configure GitHub, Google or an OpenID Connect provider to deploy."));
    }
    if ctx.req.method == "GET" {
        #[derive(Deserialize)]
        struct Q {
            state: Option<String>,
        }
        let state = serde_urlencoded::from_str::<Q>(&ctx.req.query)
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
    let Ok(form) = serde_urlencoded::from_bytes::<DevLoginForm>(&ctx.req.body) else {
        return Ok(local_error(400, "The sign-in form was incomplete."));
    };
    match dev::complete_login(&form, &ctx.issuer, ctx.secret(), now(), &OsEntropy) {
        Ok(location) => Ok(Reply::redirect(&location)),
        Err(message) => Ok(local_error(400, &message)),
    }
}
