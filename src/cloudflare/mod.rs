//! The thin Cloudflare shell: the only code that names `worker` types.
//!
//! It turns a `worker::Request` into plain inputs for the core, runs the core,
//! and turns the core's [`Reply`] back into a `worker::Response`. Compiled only
//! for wasm32; everything it calls is tested natively.

// Durable Object classes are exported to JS by their `#[durable_object]` macro.
mod body;
mod grant_object;
mod mcp;
mod oauth;
mod platform;
mod ratelimit;
mod upstream;

use worker::{event, Context, Env, Request, Response};

use crate::config::Config;
use crate::http::{HttpError, Reply};
use crate::routes::{self, Route};
use crate::web;

use platform::Incoming;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let reply = match handle(req, &env).await {
        Ok(reply) => reply,
        Err(err) => {
            if let HttpError::Config(message) = &err {
                worker::console_error!("configuration error: {message}");
            }
            err.to_reply()
        }
    };
    platform::respond(reply)
}

async fn handle(req: Request, env: &Env) -> Result<Reply, HttpError> {
    let method = req.method().to_string();
    // The raw URL string, not `Request::url()`, which would link a WHATWG URL parser.
    let Some(url) = crate::uri::split_request_url(&req.inner().url()) else {
        return Err(HttpError::NotFound { path: "/".into() });
    };
    let matched = routes::resolve(&method, &url.path)?;
    if let Some(declared) = declared_length(&req) {
        routes::check_body_len(&matched, declared)?;
    }
    let config = load_config(env)?;
    let req = Incoming::read(req, url, matched.body_limit).await?;
    if let Some(refused) = ratelimit::check(env, matched.route, &req).await {
        return Ok(refused);
    }
    // The issuer is byte-identical everywhere: metadata, `iss`, resource URLs.
    let issuer = config
        .public_url
        .clone()
        .unwrap_or_else(|| req.origin.clone());
    let ctx = oauth::Ctx {
        env,
        config: &config,
        req: &req,
        issuer,
    };
    let preflight = method == "OPTIONS";
    // The consent and sign-in pages set cookies that must be `Secure`; plain http
    // is served only to loopback development, never to a public host.
    let browser_flow = matches!(
        matched.route,
        Route::Authorize | Route::Callback | Route::DevLogin
    );
    if browser_flow && !req.secure && !crate::uri::is_loopback_host(&req.host) {
        return Ok(web::message_page(
            400,
            "HTTPS required",
            "Sign-in on this server works over https only. Open the same address with https://.",
        ));
    }
    match matched.route {
        Route::Health => upstream::check_settings(env, &config).map(|()| {
            let mut body =
                serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") });
            ratelimit::add_health_warnings(env, &mut body);
            Reply::json(200, &body).no_store()
        }),
        _ if preflight && matched.route != Route::Mcp => Ok(oauth::preflight()),
        Route::AuthorizationServerMetadata => Ok(oauth::authorization_server_metadata(&ctx)),
        Route::ProtectedResourceMetadata => Ok(oauth::protected_resource_metadata(&ctx)),
        Route::Register => oauth::register(&ctx).await,
        Route::Authorize if method == "POST" => oauth::authorize_post(&ctx).await,
        Route::Authorize => oauth::authorize_get(&ctx).await,
        Route::Callback => oauth::callback(&ctx).await,
        Route::Token => oauth::token_endpoint(&ctx).await,
        Route::Revoke => oauth::revoke(&ctx).await,
        Route::DevLogin => oauth::dev_login(&ctx).await,
        Route::Mcp => mcp::handle(env, &config, &req, &ctx.issuer).await,
    }
}

/// Reads the settings from vars and secrets (both reach the Worker as strings).
pub(crate) fn load_config(env: &Env) -> Result<Config, HttpError> {
    Config::from_lookup(|name| env.var(name).ok().map(|v| v.to_string()))
        .map_err(|e| HttpError::Config(e.to_string()))
}

fn declared_length(req: &Request) -> Option<usize> {
    req.headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse().ok())
}
