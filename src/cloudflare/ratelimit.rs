//! Calls the Workers Rate Limiting bindings for the checks the core chose
//! (`crate::ratelimit`). The binding is reached through `js_sys` rather than
//! `Env::rate_limiter`, whose class-name check differs between workerd builds;
//! the call is the documented `limit({ key })`.
//!
//! Failure is open: a missing binding, or one that throws, means no limit
//! (logged, and reported by `/health`), never a failed request.

use std::cell::{Cell, OnceCell};

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::http::header::{AUTHORIZATION, CF_CONNECTING_IP, CONTENT_TYPE};
use crate::http::Reply;
use crate::ratelimit::{self, Check, ALL_LIMITERS};
use crate::routes::Route;

use super::platform::Incoming;

/// What this module keeps per isolate (in `super::Kept`; the addresses over
/// the bearer-failure limit are the core's, `Isolate::known_over_limit`).
#[derive(Default)]
pub(crate) struct KeptWarnings {
    /// Whether this isolate already logged that bindings are missing.
    warned: Cell<bool>,
    /// The `/health` warning, worked out once per isolate (bindings do not
    /// change while it lives); `/health` is the cheapest request and stays so.
    health_warning: OnceCell<Option<String>>,
}

/// Counts the request against its route's limiters; `Some(reply)` when it is over one.
pub async fn check(env: &Env, route: Route, req: &Incoming) -> Option<Reply> {
    if !ratelimit::is_counted(route, &req.method) {
        return None;
    }
    let client_id = match route {
        Route::Token | Route::Revoke | Route::Introspect => {
            crate::oauth::client_auth::claimed_client_id(
                req.header(AUTHORIZATION).as_deref(),
                req.header(CONTENT_TYPE).as_deref(),
                &req.body,
            )
        }
        _ => None,
    };
    let ip = req.header(CF_CONNECTING_IP);
    let checks = ratelimit::checks(route, &req.method, ip.as_deref(), client_id.as_deref());
    over_limit(env, &checks)
        .await
        .then(|| ratelimit::refused(route))
}

/// The rate limit bindings as the core's counters (`resource::admit` counts
/// refused tokens). An address found over its limit is remembered for the
/// period, so its next token is counted before any KV read
/// ([`before_bearer_check`]).
pub struct Bindings<'a>(pub &'a Env);

impl ratelimit::Counters for Bindings<'_> {
    fn over<'a>(&'a self, checks: &'a [Check]) -> crate::outbound::LocalBoxFuture<'a, bool> {
        Box::pin(async move {
            let over = over_limit(self.0, checks).await;
            if over {
                let now = super::platform::now();
                for check in checks {
                    super::isolate().remember_over_limit(check.key.clone(), now);
                }
            }
            over
        })
    }
}

/// Before the token's KV read at `/mcp`: an address this isolate saw over the
/// bearer-failure limit in the current period has its token counted first,
/// and while it stays over it is refused (429) without reading storage.
/// Others pass uncounted (they are counted only when refused).
pub async fn before_bearer_check(env: &Env, req: &Incoming, route: Route) -> Option<Reply> {
    let presented = req
        .header(AUTHORIZATION)
        .is_some_and(|h| !h.trim().is_empty());
    let ip = req.header(CF_CONNECTING_IP);
    let check = ratelimit::bearer_failure_check(ip.as_deref(), presented)?;
    let isolate = super::isolate();
    if !isolate.known_over_limit(&check.key, super::platform::now()) {
        return None;
    }
    if over_limit(env, std::slice::from_ref(&check)).await {
        return Some(ratelimit::refused(route));
    }
    isolate.forget_over_limit(&check.key);
    None
}

/// Counts a refused token at `/admin/*` (a wrong `ADMIN_TOKEN`), as a refused
/// bearer token at `/mcp`: true when its address is now over the limit.
pub async fn refused_admin_token(env: &Env, req: &Incoming) -> bool {
    let ip = req.header(CF_CONNECTING_IP);
    let Some(check) = ratelimit::bearer_failure_check(ip.as_deref(), true) else {
        return false;
    };
    let over = over_limit(env, std::slice::from_ref(&check)).await;
    if over {
        super::isolate().remember_over_limit(check.key, super::platform::now());
    }
    over
}

/// Adds a `warnings` list to the `/health` body when limiters have no binding.
pub fn add_health_warnings(env: &Env, body: &mut serde_json::Value) {
    let warning = super::kept().ratelimit.health_warning.get_or_init(|| {
        let missing: Vec<&str> = ALL_LIMITERS
            .iter()
            .map(|l| l.binding())
            .filter(|name| binding(env, name).is_none())
            .collect();
        ratelimit::missing_bindings_warning(&missing)
    });
    if let Some(warning) = warning {
        body["warnings"] = serde_json::json!([warning]);
    }
}

/// Increments every counter at once; true when any of them is over its limit.
async fn over_limit(env: &Env, checks: &[Check]) -> bool {
    let calls = Array::new();
    for check in checks {
        match start(env, check) {
            Some(promise) => {
                calls.push(&promise);
            }
            None => warn_missing(check.limiter.binding()),
        }
    }
    if calls.length() == 0 {
        return false;
    }
    match JsFuture::from(Promise::all(&calls)).await {
        Ok(outcomes) => Array::from(&outcomes).iter().any(|outcome| {
            Reflect::get(&outcome, &JsValue::from_str("success"))
                .ok()
                .and_then(|s| s.as_bool())
                == Some(false)
        }),
        Err(e) => {
            worker::console_warn!("rate limit binding failed, not limiting: {e:?}");
            false
        }
    }
}

fn binding(env: &Env, name: &str) -> Option<JsValue> {
    Reflect::get(env.as_ref(), &JsValue::from_str(name))
        .ok()
        .filter(|b| b.is_object())
}

/// Starts `binding.limit({ key })`.
fn start(env: &Env, check: &Check) -> Option<Promise> {
    let binding = binding(env, check.limiter.binding())?;
    let limit: Function = Reflect::get(&binding, &JsValue::from_str("limit"))
        .ok()?
        .dyn_into()
        .ok()?;
    let options = Object::new();
    Reflect::set(
        &options,
        &JsValue::from_str("key"),
        &JsValue::from_str(&check.key),
    )
    .ok()?;
    limit.call1(&binding, &options).ok()?.dyn_into().ok()
}

fn warn_missing(name: &str) {
    if !super::kept().ratelimit.warned.replace(true) {
        worker::console_warn!("rate limit binding {name} is missing: not limiting (see /health)");
    }
}
