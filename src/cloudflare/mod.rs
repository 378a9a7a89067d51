//! The thin Cloudflare shell: the only code that names `worker` types.
//!
//! It turns the platform's request into plain inputs for the core, runs the
//! core, and turns the core's [`Reply`] back into a platform response. Compiled
//! only for wasm32; everything it calls is tested natively.
//!
//! The per-request path is kept short on purpose (measured in README "Size and
//! cost"):
//! - the entry is our own `fetch` export, not `#[event(fetch)]`, whose glue
//!   converts the whole request (method, URL, every header, `cf`) up front;
//! - the method and URL cross into wasm in one call, headers only when a
//!   handler reads one, the body only on routes that take one;
//! - configuration is parsed once per isolate, metadata documents are rendered
//!   once per isolate and issuer, and `/health`'s settings check runs once;
//! - static answers (metadata, health, preflight, 404/405) are built without a
//!   Promise; every response is made in one call (`platform::respond`).
//!
//! `worker` is still used for KV, Durable Objects and bindings.

// Durable Object classes are exported to JS by their `#[durable_object]` macro.
mod account;
mod body;
mod cimd;
mod grant_object;
mod index_object;
mod mcp;
mod oauth;
mod platform;
mod ratelimit;
mod upstream;

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{wasm_bindgen_futures, Env};

use crate::config::Config;
use crate::http::{header, Fault, HttpError, Reply};
use crate::isolate::Isolate;
use crate::oauth::metadata::PerIssuer;
use crate::routes::{self, Matched, Route};
use crate::uri::RequestUrl;

use platform::{Incoming, Prepared, RequestHead};

/// The Worker's fetch handler, called by our JS entry (`entry.js`) as
/// `fetch(request, env, ctx)`, the same call `#[event(fetch)]`'s glue
/// receives; we take the raw `Request` and read from it only what the route
/// needs. The result is a `Response` for answers that need no I/O, and a
/// `Promise` of one otherwise (the runtime accepts either).
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, _ctx: JsValue) -> JsValue {
    let head = RequestHead::read(&req);
    match start(req, head, env) {
        Ok(Step::Ready(response)) => response,
        Ok(Step::Later(routed)) => wasm_bindgen_futures::future_to_promise(async move {
            // Pages a person sees in a browser fail as pages, not as JSON.
            let page = routed.matched.route.is_page();
            let reply = match serve(*routed).await {
                Ok(Answer::Reply(reply)) => reply,
                Ok(Answer::Stream(response)) => return Ok(response),
                Err(err) if page => {
                    log_error(&err);
                    crate::web::error_page(&err)
                }
                Err(err) => error_reply(err),
            };
            Ok(platform::respond(&reply))
        })
        .into(),
        Err(err) => platform::respond(&error_reply(err)),
    }
}

/// What a route answers: a whole reply, or (an MCP call asking the client for input) a
/// `Response` whose body the Worker is still writing.
pub(crate) enum Answer {
    Reply(Reply),
    Stream(JsValue),
}

fn error_reply(err: HttpError) -> Reply {
    log_error(&err);
    err.to_reply()
}

/// The one place a 500's cause is logged: its category and reason, never shown
/// to the client.
fn log_error(err: &HttpError) {
    if let Some(line) = err.log_line() {
        worker::console_error!("{line}");
    }
}

enum Step {
    /// A response made from one that never changes within the isolate.
    Ready(JsValue),
    /// Needs the body, storage or the network.
    Later(Box<Routed>),
}

/// A request matched to a route, with what the async handlers need.
struct Routed {
    raw: web_sys::Request,
    method: String,
    url: RequestUrl,
    matched: Matched,
    env: Env,
    config: Rc<Config>,
}

/// Everything this isolate keeps between requests, in the shell's only
/// `thread_local`: the core's [`Isolate`] (every copy of stored data, with its
/// rules) and what only the shell can hold (the parsed configuration, and
/// responses that depend only on it, as platform objects).
pub(crate) struct Kept {
    pub isolate: Isolate,
    /// Parsed once; errors are not kept (see [`load_config`]).
    config: RefCell<Option<Rc<Config>>>,
    // Responses that depend only on the isolate's configuration (and, for the
    // metadata, on the issuer), kept after the first request builds them.
    as_metadata: PerIssuer<Prepared>,
    pr_metadata: PerIssuer<Prepared>,
    health: RefCell<Option<Prepared>>,
    preflight: RefCell<Option<Prepared>>,
    /// The MCP catalog (tools, resources, prompts), built once: building it
    /// parses each tool's JSON schemas.
    pub catalog: std::cell::OnceCell<crate::mcp::Catalog>,
    pub ratelimit: ratelimit::KeptWarnings,
}

thread_local! {
    /// Leaked on purpose: it lives as long as the isolate, and a `'static`
    /// borrow of it (never a `RefCell` borrow inside it) can be held across awaits.
    static KEPT: &'static Kept = Box::leak(Box::new(Kept {
        isolate: Isolate::new(),
        config: RefCell::new(None),
        as_metadata: PerIssuer::new(),
        pr_metadata: PerIssuer::new(),
        health: RefCell::new(None),
        preflight: RefCell::new(None),
        catalog: std::cell::OnceCell::new(),
        ratelimit: ratelimit::KeptWarnings::default(),
    }));
}

/// What this isolate keeps (see [`Kept`]).
pub(crate) fn kept() -> &'static Kept {
    KEPT.with(|kept| *kept)
}

/// This isolate's copies (see [`Isolate`]).
pub(crate) fn isolate() -> &'static Isolate {
    &kept().isolate
}

/// A response from the one kept in `cell`, built by `build` the first time.
fn kept_response(
    cell: &RefCell<Option<Prepared>>,
    build: impl FnOnce() -> Result<Reply, HttpError>,
) -> Result<JsValue, HttpError> {
    if let Some(response) = cell.borrow().as_ref().map(Prepared::send) {
        return Ok(response);
    }
    // Errors are not kept: they are logged and answered on every request.
    let prepared = Prepared::new(&build()?);
    let response = prepared.send();
    *cell.borrow_mut() = Some(prepared);
    Ok(response)
}

/// Routes the request and answers right away what needs no I/O.
fn start(raw: web_sys::Request, head: RequestHead, env: Env) -> Result<Step, HttpError> {
    // The raw URL string, not a WHATWG URL parser in wasm.
    let Some(url) = crate::uri::split_request_url(&head.url) else {
        return Err(HttpError::NotFound { path: "/".into() });
    };
    let matched = routes::resolve(&head.method, &url.path)?;
    let config = load_config(&env)?;
    let held = kept();
    let ready = match matched.route {
        // The provider settings are parsed with the configuration, which an
        // isolate never sees change.
        Route::Health => kept_response(&held.health, || {
            upstream::check_settings(&config)?;
            let mut body =
                serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") });
            ratelimit::add_health_warnings(&env, &mut body);
            Ok(Reply::json(200, &body).no_store())
        })?,
        Route::Mcp => return later(raw, head.method, url, matched, env, config),
        // Behind its gate, whatever the method (404 while disabled).
        Route::Admin => return later(raw, head.method, url, matched, env, config),
        _ if head.method == "OPTIONS" => kept_response(&held.preflight, || Ok(oauth::preflight()))?,
        Route::AuthorizationServerMetadata | Route::ProtectedResourceMetadata => {
            let issuer = issuer(&config, &url);
            let cache = if matched.route == Route::AuthorizationServerMetadata {
                &held.as_metadata
            } else {
                &held.pr_metadata
            };
            cache.use_or_render(
                &issuer,
                || {
                    let req = Incoming::without_body(raw, head.method, url);
                    let ctx = oauth::Ctx {
                        env: &env,
                        config: &config,
                        req: &req,
                        issuer: issuer.clone(),
                    };
                    Prepared::new(&if matched.route == Route::AuthorizationServerMetadata {
                        oauth::authorization_server_metadata(&ctx)
                    } else {
                        oauth::protected_resource_metadata(&ctx)
                    })
                },
                Prepared::send,
            )
        }
        _ => return later(raw, head.method, url, matched, env, config),
    };
    Ok(Step::Ready(ready))
}

fn later(
    raw: web_sys::Request,
    method: String,
    url: RequestUrl,
    matched: Matched,
    env: Env,
    config: Rc<Config>,
) -> Result<Step, HttpError> {
    Ok(Step::Later(Box::new(Routed {
        raw,
        method,
        url,
        matched,
        env,
        config,
    })))
}

/// The issuer is byte-identical everywhere: metadata, `iss`, resource URLs.
fn issuer(config: &Config, url: &RequestUrl) -> String {
    config
        .public_url
        .clone()
        .unwrap_or_else(|| url.origin.clone())
}

async fn serve(routed: Routed) -> Result<Answer, HttpError> {
    let Routed {
        raw,
        method,
        url,
        matched,
        env,
        config,
    } = routed;
    let takes_body =
        matched.body_limit > 0 && !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
    if takes_body {
        let declared = platform::header(&raw, header::CONTENT_LENGTH);
        if let Some(declared) = header::content_length(declared.as_deref()) {
            if let Err(too_large) = routes::check_body_len(&matched, declared) {
                if declared <= body::DRAIN_CAP {
                    body::drain(&raw, declared).await;
                }
                return Err(too_large);
            }
        }
    }
    let issuer = issuer(&config, &url);
    let req = Incoming::read(raw, method, url, matched.body_limit).await?;
    let env = &env;
    if let Some(refused) = ratelimit::check(env, matched.route, &req).await {
        return Ok(Answer::Reply(refused));
    }
    let ctx = oauth::Ctx {
        env,
        config: &config,
        req: &req,
        issuer,
    };
    let reply = answer(&ctx, matched.route).await;
    // `/token` and `/revoke` forget the grant they change themselves (they know
    // its id: `Site::isolate`). The account page and the admin API (rare) may
    // change any grant: this isolate stops trusting every access token it
    // accepted, whatever isolate ran the grants' objects.
    if req.method != "GET" && matches!(matched.route, Route::Account | Route::Admin) {
        isolate().forget_all();
    }
    reply
}

async fn answer(ctx: &oauth::Ctx<'_>, route: Route) -> Result<Answer, HttpError> {
    let (env, config, req) = (ctx.env, ctx.config, ctx.req);
    if route == Route::Mcp {
        return mcp::handle(env, config, req, &ctx.issuer).await;
    }
    let reply = match route {
        Route::SseResourceMetadata => Ok(mcp::sse_resource_metadata(&ctx.issuer)),
        Route::Register => oauth::register(ctx).await,
        Route::Authorize if req.method == "POST" => oauth::authorize_post(ctx).await,
        Route::Authorize => oauth::authorize_get(ctx).await,
        Route::Callback => oauth::callback(ctx).await,
        Route::Token => oauth::token_endpoint(ctx).await,
        Route::Revoke => oauth::revoke(ctx).await,
        Route::DevLogin => oauth::dev_login(ctx).await,
        Route::Mcp => Err(HttpError::internal(Fault::Impossible, "/mcp reached serve")),
        Route::Introspect => account::introspect(ctx).await,
        Route::Account => account::account(ctx).await,
        Route::Admin => account::admin(ctx).await,
        // Answered in `start`.
        Route::Health | Route::AuthorizationServerMetadata | Route::ProtectedResourceMetadata => {
            Err(HttpError::internal(
                Fault::Impossible,
                "a ready route reached serve",
            ))
        }
    };
    reply.map(Answer::Reply)
}

/// The settings from vars and secrets (both reach the Worker as strings),
/// parsed and validated once per isolate.
///
/// Cached per isolate rather than keyed by a fingerprint of `env`: a Worker's
/// vars and secrets are fixed when its isolate is created (changing one
/// deploys a new version, which runs in new isolates), so within an isolate
/// there is nothing to notice. A fingerprint would itself cost an `env` read
/// per variable per request, the cost this removes (40 of the 68 JS/wasm
/// calls of a `/health` request before). Errors are not cached, so a
/// misconfigured deployment keeps saying what is wrong on every request.
pub(crate) fn load_config(env: &Env) -> Result<Rc<Config>, HttpError> {
    let kept = &kept().config;
    if let Some(config) = kept.borrow().clone() {
        return Ok(config);
    }
    let config = Rc::new(
        Config::from_lookup(|name| env.var(name).ok().map(|v| v.to_string()))
            .map_err(|e| HttpError::Config(e.to_string()))?,
    );
    *kept.borrow_mut() = Some(config.clone());
    Ok(config)
}
