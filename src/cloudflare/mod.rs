//! The thin Cloudflare shell: the only code that names `worker` types.
//!
//! It turns a `worker::Request` into plain inputs for the core, runs the core,
//! and turns the core's [`Reply`] back into a `worker::Response`. Compiled only
//! for wasm32; everything it calls is tested natively.

// Durable Object classes are exported to JS by their `#[durable_object]` macro.
mod session_object;

use worker::{event, Context, Env, Headers, Request, Response};

use crate::config::Config;
use crate::http::{HttpError, Reply};
use crate::routes::{self, Route};

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
    respond(reply)
}

async fn handle(req: Request, env: &Env) -> Result<Reply, HttpError> {
    let method = req.method().to_string();
    let path = req.path();
    let matched = routes::resolve(&method, &path)?;
    if let Some(declared) = declared_length(&req) {
        routes::check_body_len(&matched, declared)?;
    }
    let _config = load_config(env)?;
    match matched.route {
        Route::Health => Ok(Reply::json(
            200,
            &serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }),
        )
        .no_store()),
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

/// The one place a core [`Reply`] becomes a platform response.
pub(crate) fn respond(reply: Reply) -> worker::Result<Response> {
    let headers = Headers::new();
    for (name, value) in &reply.headers {
        headers.append(name, value)?;
    }
    let response = if reply.body.is_empty() {
        Response::empty()?
    } else {
        Response::from_bytes(reply.body)?
    };
    Ok(response.with_status(reply.status).with_headers(headers))
}
