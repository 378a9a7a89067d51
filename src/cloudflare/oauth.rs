//! The authorization server's endpoints, as thin glue: read the request into
//! plain values, run the core's flow (`oauth::flow`), return its reply. No
//! protocol rule lives here.

use worker::Env;

use crate::config::Config;
use crate::http::{HttpError, Reply};
use crate::oauth::crypto::OsEntropy;
use crate::oauth::flow;
use crate::oauth::metadata;
use crate::oauth::site::Site;
use crate::outbound::LocalBoxFuture;
use crate::upstream::{IdentityProvider, ProviderSource};
use std::rc::Rc;

use super::cimd::WorkerDocuments;
use super::platform::{now, FetchClient, Incoming, KvStore};

pub use crate::oauth::site::with_cors;

/// Everything a handler needs about this request and deployment.
pub struct Ctx<'a> {
    pub env: &'a Env,
    pub config: &'a Config,
    pub req: &'a Incoming,
    /// Our issuer and public origin, byte-identical everywhere.
    pub issuer: String,
}

impl Ctx<'_> {
    fn resource(&self) -> String {
        metadata::mcp_resource(&self.issuer)
    }
}

pub fn preflight() -> Reply {
    with_cors(Reply::new(204))
}

pub fn authorization_server_metadata(ctx: &Ctx<'_>) -> Reply {
    metadata::authorization_server_reply(&ctx.issuer, ctx.config.admission.registration)
}

pub fn protected_resource_metadata(ctx: &Ctx<'_>) -> Reply {
    metadata::protected_resource_reply(&ctx.resource(), &ctx.issuer)
}

/// RFC 7591 §3: dynamic client registration. A public client registered again
/// costs one KV read; a new public client two (its record, then the block
/// list) and a write (see `oauth::register` for the storage rules).
pub async fn register(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let store = KvStore::from_env(ctx.env)?;
    let docs = WorkerDocuments::new(ctx.env);
    flow::register(&site(ctx, None, &docs), &store, &ctx.req.body).await
}

/// The identity provider for this deployment, built when a flow asks for it.
pub(super) struct Upstream<'a>(pub(super) &'a Ctx<'a>);

impl ProviderSource for Upstream<'_> {
    fn provider(&self) -> LocalBoxFuture<'_, Result<Rc<dyn IdentityProvider>, HttpError>> {
        Box::pin(async move {
            let ctx = self.0;
            super::upstream::provider(ctx.config, &ctx.issuer)
                .await
                .map(Rc::from)
        })
    }
}

/// `GET /authorize`.
pub async fn authorize_get(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let store = KvStore::from_env(ctx.env)?;
    let cookie = ctx.req.header("Cookie");
    let docs = WorkerDocuments::new(ctx.env);
    let site = site(ctx, cookie.as_deref(), &docs);
    flow::authorize(&site, &store, &Upstream(ctx), &ctx.req.query).await
}

/// `POST /authorize`: the consent form's answer.
pub async fn authorize_post(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let store = KvStore::from_env(ctx.env)?;
    let cookie = ctx.req.header("Cookie");
    let docs = WorkerDocuments::new(ctx.env);
    let site = site(ctx, cookie.as_deref(), &docs);
    flow::consent(&site, &store, &Upstream(ctx), &ctx.req.body).await
}

/// `GET /callback`.
pub async fn callback(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let store = KvStore::from_env(ctx.env)?;
    let cookie = ctx.req.header("Cookie");
    let docs = WorkerDocuments::new(ctx.env);
    let site = site(ctx, cookie.as_deref(), &docs);
    flow::callback(&site, &store, &Upstream(ctx), &FetchClient, &ctx.req.query).await
}

/// `POST /token`.
pub async fn token_endpoint(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    client_endpoint(ctx, Endpoint::Token).await
}

/// `POST /revoke`.
pub async fn revoke(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    client_endpoint(ctx, Endpoint::Revoke).await
}

enum Endpoint {
    Token,
    Revoke,
}

/// The endpoints a client calls with a form and its credentials.
async fn client_endpoint(ctx: &Ctx<'_>, endpoint: Endpoint) -> Result<Reply, HttpError> {
    let store = KvStore::from_env(ctx.env)?;
    let authorization = ctx.req.header("Authorization");
    let content_type = ctx.req.header("Content-Type");
    let docs = WorkerDocuments::new(ctx.env);
    let (site, auth, ctype) = (
        site(ctx, None, &docs),
        authorization.as_deref(),
        content_type.as_deref(),
    );
    match endpoint {
        Endpoint::Token => flow::token(&site, &store, auth, ctype, &ctx.req.body).await,
        Endpoint::Revoke => flow::revoke(&site, &store, auth, ctype, &ctx.req.body).await,
    }
}

/// The development sign-in page.
pub async fn dev_login(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let docs = WorkerDocuments::new(ctx.env);
    flow::dev_login(
        &site(ctx, None, &docs),
        &ctx.req.path,
        &ctx.req.method,
        &ctx.req.query,
        &ctx.req.body,
    )
}

pub(super) fn site<'a>(
    ctx: &'a Ctx<'a>,
    cookie_header: Option<&'a str>,
    documents: &'a WorkerDocuments<'a>,
) -> Site<'a> {
    Site {
        config: ctx.config,
        issuer: &ctx.issuer,
        host: &ctx.req.host,
        secure: ctx.req.secure,
        cookie_header,
        now: now(),
        rng: &OsEntropy,
        documents,
        isolate: super::isolate(),
    }
}
