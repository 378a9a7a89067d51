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

use crate::http::Reply;
use crate::ratelimit::{self, Check, ALL_LIMITERS};
use crate::routes::Route;

use super::platform::Incoming;

thread_local! {
    /// Whether this isolate already logged that bindings are missing.
    static WARNED: Cell<bool> = const { Cell::new(false) };
    /// The `/health` warning, worked out once per isolate (bindings do not
    /// change while it lives); `/health` is the cheapest request and stays so.
    static HEALTH_WARNING: OnceCell<Option<String>> = const { OnceCell::new() };
}

/// Counts the request against its route's limiters; `Some(reply)` when it is over one.
pub async fn check(env: &Env, route: Route, req: &Incoming) -> Option<Reply> {
    if !ratelimit::is_counted(route, &req.method) {
        return None;
    }
    let client_id = match route {
        Route::Token | Route::Revoke => ratelimit::client_id_of(
            req.header("Authorization").as_deref(),
            req.header("Content-Type").as_deref(),
            &req.body,
        ),
        _ => None,
    };
    let ip = req.header("CF-Connecting-IP");
    let checks = ratelimit::checks(route, &req.method, ip.as_deref(), client_id.as_deref());
    over_limit(env, &checks)
        .await
        .then(|| ratelimit::refused(route))
}

/// The rate limit bindings as the core's counters (`resource::admit` counts refused tokens).
pub struct Bindings<'a>(pub &'a Env);

impl ratelimit::Counters for Bindings<'_> {
    fn over<'a>(&'a self, checks: &'a [Check]) -> crate::outbound::LocalBoxFuture<'a, bool> {
        Box::pin(over_limit(self.0, checks))
    }
}

/// Adds a `warnings` list to the `/health` body when limiters have no binding.
pub fn add_health_warnings(env: &Env, body: &mut serde_json::Value) {
    let warning = HEALTH_WARNING.with(|cell| {
        cell.get_or_init(|| {
            let missing: Vec<&str> = ALL_LIMITERS
                .iter()
                .map(|l| l.binding())
                .filter(|name| binding(env, name).is_none())
                .collect();
            ratelimit::missing_bindings_warning(&missing)
        })
        .clone()
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
    if !WARNED.with(|w| w.replace(true)) {
        worker::console_warn!("rate limit binding {name} is missing: not limiting (see /health)");
    }
}
