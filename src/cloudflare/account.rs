//! Glue for issue 13's endpoints: `/introspect` (`oauth::introspect`), the
//! account page (`oauth::account`) and the admin API (`oauth::admin`). Reads
//! the request into plain values and runs the core; no rule lives here.

use crate::http::{HttpError, Reply};
use crate::oauth::{account as page, admin, introspect as rfc7662};

use super::cimd::WorkerDocuments;
use super::oauth::{site, Ctx, Upstream};
use super::platform::KvStore;

/// `POST /introspect`.
pub async fn introspect(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let store = KvStore::from_env(ctx.env)?;
    let (authorization, content_type) = (
        ctx.req.header("Authorization"),
        ctx.req.header("Content-Type"),
    );
    let docs = WorkerDocuments::new(ctx.env);
    let site = site(ctx, None, &docs);
    rfc7662::introspect(
        &site,
        &store,
        authorization.as_deref(),
        content_type.as_deref(),
        &ctx.req.body,
    )
    .await
}

/// `/account`, `/account/login`, `/account/revoke`, `/account/logout`.
pub async fn account(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let store = KvStore::from_env(ctx.env)?;
    let cookie = ctx.req.header("Cookie");
    let docs = WorkerDocuments::new(ctx.env);
    let site = site(ctx, cookie.as_deref(), &docs);
    match ctx.req.path.as_str() {
        "/account/login" => page::login(&site, &Upstream(ctx)).await,
        "/account/revoke" => page::revoke(&site, &store, &ctx.req.body).await,
        "/account/logout" => page::logout(&site, &store).await,
        _ => page::show(&site, &store, &ctx.req.query).await,
    }
}

/// `/admin/*`: 404 unless `ADMIN_TOKEN` is set, then 401 without it.
pub async fn admin(ctx: &Ctx<'_>) -> Result<Reply, HttpError> {
    let authorization = ctx.req.header("Authorization");
    let docs = WorkerDocuments::new(ctx.env);
    let site = site(ctx, None, &docs);
    // Wrong admin tokens are counted per address (RL_BEARER_FAILURE, with
    // refused bearer tokens at /mcp); an address over the limit is refused
    // before its token is even compared, so guessing on gains nothing.
    if site.config.admin_token.is_some() {
        if let Some(refused) =
            super::ratelimit::before_bearer_check(ctx.env, ctx.req, crate::routes::Route::Admin)
                .await
        {
            return Ok(refused);
        }
    }
    if let Err(reply) = admin::gate(&site, &ctx.req.path, authorization.as_deref()) {
        let token_presented = authorization
            .as_deref()
            .is_some_and(|h| !h.trim().is_empty());
        if reply.status == 401
            && token_presented
            && super::ratelimit::refused_admin_token(ctx.env, ctx.req).await
        {
            return Ok(crate::ratelimit::refused(crate::routes::Route::Admin));
        }
        return Ok(reply);
    }
    let store = KvStore::from_env(ctx.env)?;
    let (path, method) = (ctx.req.path.as_str(), ctx.req.method.as_str());
    match (path, method) {
        ("/admin/grants", "GET") => admin::user_grants(&store, &ctx.req.query).await,
        ("/admin/users/revoke", "POST") => admin::revoke_user(&store, &ctx.req.body).await,
        ("/admin/clients", "GET") => admin::list_clients(&store, &ctx.req.query).await,
        ("/admin/clients", "POST") => admin::create_client(&site, &store, &ctx.req.body).await,
        ("/admin/blocks", "GET") => admin::list_blocks(&store).await,
        ("/admin/blocks", "POST") => admin::add_block(&site, &store, &ctx.req.body).await,
        ("/admin/blocks/delete", "POST") => admin::remove_block(&store, &ctx.req.body).await,
        ("/admin/clients/delete", "POST") => admin::delete_client(&store, &ctx.req.body).await,
        ("/admin/users/revoke" | "/admin/clients/delete" | "/admin/blocks/delete", _) => {
            Err(HttpError::MethodNotAllowed {
                method: method.to_owned(),
                allow: &["POST"],
            })
        }
        _ => Err(HttpError::MethodNotAllowed {
            method: method.to_owned(),
            allow: &["GET"],
        }),
    }
}
