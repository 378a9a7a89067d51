//! Nothing lost when storage fails (issue 21): every storage, upstream and
//! object step of every flow is failed in turn, in three ways (the operation
//! fails, it happens but its answer is lost, it never answers), the request
//! is retried, the objects' alarms run, and the invariants are checked:
//!
//! - **no fork:** a step of a flow leaves at most one new live access record per grant;
//! - **nothing lost:** a live grant is listed in its user's and its client's index;
//! - **no orphan:** no access record of a grant that ended or is gone;
//! - **honest answers:** a failed attempt answers 503 `temporarily_unavailable`
//!   with `Retry-After` (or the page or redirect equivalent), and a success
//!   is only ever answered for what is stored;
//! - **the retry succeeds,** or is refused with a stated reason (a 4xx with
//!   an error, never a 5xx).
//!
//! The walk prints its table (flow × step × outcome) and the closing line
//! "faults survived: N of N"; docs/storage-schema.md carries the same table.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::fault_world::World;
use common::*;
use mcp_oauth_worker::http::{HttpError, Reply};
use mcp_oauth_worker::keys;
use mcp_oauth_worker::keys::{client_index, user_index};
use mcp_oauth_worker::oauth::grant::{self};
use mcp_oauth_worker::oauth::register::Client;
use mcp_oauth_worker::oauth::{account, admin, crypto, flow};
use mcp_oauth_worker::outbound::LocalBoxFuture;
use mcp_oauth_worker::web;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// The flows

/// What a flow's request needs, made before the request under test.
#[derive(Default)]
struct Ctx {
    client: Option<Client>,
    pair: Value,
    body: Vec<u8>,
    query: String,
    grant: String,
}

impl Ctx {
    fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }
}

type Send = for<'a> fn(&'a World, &'a Ctx) -> LocalBoxFuture<'a, Result<Reply, HttpError>>;

struct Flow {
    name: &'static str,
    /// A page flow: a fault is shown as an HTML page, not JSON.
    page: bool,
    setup: fn(&World) -> Ctx,
    send: Send,
    /// Checks that a success answer stands for something stored.
    verify: fn(&World, &Ctx, &Reply) -> Result<(), String>,
}

fn token_send<'a>(w: &'a World, c: &'a Ctx) -> LocalBoxFuture<'a, Result<Reply, HttpError>> {
    Box::pin(async move {
        let site = w.p.site(None);
        flow::token(&site, &w.p, None, FORM, &c.body).await
    })
}

fn verify_tokens(w: &World, _c: &Ctx, r: &Reply) -> Result<(), String> {
    let pair = json_of(r);
    w.mcp(&s(&pair, "access_token"))
        .map_err(|e| format!("a 200 with an access token that does not work: {e:?}"))
}

fn verify_registered(w: &World, _c: &Ctx, r: &Reply) -> Result<(), String> {
    let id = s(&json_of(r), "client_id");
    match w.p.kv_get(&keys::client(&id)) {
        Some(_) => Ok(()),
        None => Err(format!("registered {id}, which is not stored")),
    }
}

fn refresh_setup(w: &World, rotate: bool, index_pending: bool) -> Ctx {
    if rotate {
        *w.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
    }
    let client = w.public("App");
    if index_pending {
        w.p.failing_index_calls.set(1);
    }
    let pair = w.connect(&client);
    let refresh = s(&pair, "refresh_token");
    let body = form(&World::refresh_pairs(&client, &refresh));
    Ctx {
        grant: grant_of(&refresh),
        client: Some(client),
        pair,
        body,
        ..Ctx::default()
    }
}

fn flows() -> Vec<Flow> {
    vec![
        Flow {
            name: "code redemption",
            page: false,
            setup: |w| {
                let client = w.public("App");
                let code = w.code_for(&client);
                let body = form(&World::redeem_pairs(&client, &code));
                Ctx {
                    client: Some(client),
                    body,
                    ..Ctx::default()
                }
            },
            send: token_send,
            verify: verify_tokens,
        },
        Flow {
            name: "refresh",
            page: false,
            setup: |w| refresh_setup(w, false, false),
            send: token_send,
            verify: verify_tokens,
        },
        Flow {
            name: "refresh, upstream refresh",
            page: false,
            setup: |w| refresh_setup(w, true, false),
            send: token_send,
            verify: verify_tokens,
        },
        Flow {
            name: "refresh, upstream refresh, index update pending",
            page: false,
            setup: |w| refresh_setup(w, true, true),
            send: token_send,
            verify: verify_tokens,
        },
        Flow {
            name: "revocation",
            page: false,
            setup: |w| {
                let mut c = refresh_setup(w, false, false);
                c.body = form(&[
                    ("token", &s(&c.pair, "refresh_token")),
                    ("client_id", &c.client().client_id),
                ]);
                c
            },
            send: |w, c| {
                Box::pin(async move {
                    let site = w.p.site(None);
                    flow::revoke(&site, &w.p, None, FORM, &c.body).await
                })
            },
            verify: |w, c, _| match w.state(&c.grant) {
                Some(state) if !state["revoked_at"].is_null() => Ok(()),
                None => Ok(()),
                Some(_) => Err("revocation answered 200 but the grant is not revoked".into()),
            },
        },
        Flow {
            name: "consent",
            page: true,
            setup: |w| {
                let client = w.public("App");
                let page = w.consent_page(&client);
                Ctx {
                    client: Some(client),
                    body: World::consent_body(&page),
                    ..Ctx::default()
                }
            },
            send: |w, c| {
                Box::pin(async move {
                    let cookies = w.cookies();
                    let site = w.p.site(cookies.as_deref());
                    flow::consent(&site, &w.p, &w.p, &c.body).await
                })
            },
            verify: |w, _c, r| {
                let state = query_param(&location(r), "state").ok_or("no state")?;
                let grant = grant::grant_of_state(&state).ok_or("not our state")?;
                match w.state(grant) {
                    Some(_) => Ok(()),
                    None => Err("sent to the provider for a grant that is not stored".into()),
                }
            },
        },
        Flow {
            name: "callback",
            page: true,
            setup: |w| {
                let client = w.public("App");
                let to_provider = w.to_provider(&client);
                Ctx {
                    client: Some(client),
                    query: World::callback_query(&to_provider),
                    ..Ctx::default()
                }
            },
            send: |w, c| {
                Box::pin(async move {
                    let cookies = w.cookies();
                    let site = w.p.site(cookies.as_deref());
                    flow::callback(&site, &w.p, &w.p, &NoHttp, &c.query).await
                })
            },
            verify: |w, c, r| {
                let at = location(r);
                if let Some(code) = query_param(&at, "code") {
                    // The code is stored: it redeems (checked on a copy of
                    // nothing: redemption here is the client's next step).
                    let grant = grant::parse_token(&code)
                        .ok_or("not our code")?
                        .1
                        .to_owned();
                    let state = w.state(&grant).ok_or("a code for a grant not stored")?;
                    return if state["code"].is_null() {
                        Err("a code was answered that is not stored".into())
                    } else {
                        let _ = c;
                        Ok(())
                    };
                }
                match query_param(&at, "error").as_deref() {
                    Some("temporarily_unavailable") => Ok(()),
                    other => Err(format!("the client was sent {other:?}")),
                }
            },
        },
        Flow {
            name: "registration (public)",
            page: false,
            setup: |_| Ctx {
                body: json!({
                    "redirect_uris": [REDIRECT],
                    "client_name": "App",
                    "token_endpoint_auth_method": "none",
                })
                .to_string()
                .into_bytes(),
                ..Ctx::default()
            },
            send: |w, c| {
                Box::pin(async move {
                    let site = w.p.site(None);
                    flow::register(&site, &w.p, &c.body).await
                })
            },
            verify: verify_registered,
        },
        Flow {
            name: "registration (confidential)",
            page: false,
            setup: |_| Ctx {
                body: json!({
                    "redirect_uris": [REDIRECT],
                    "client_name": "App",
                    "token_endpoint_auth_method": "client_secret_basic",
                })
                .to_string()
                .into_bytes(),
                ..Ctx::default()
            },
            send: |w, c| {
                Box::pin(async move {
                    let site = w.p.site(None);
                    flow::register(&site, &w.p, &c.body).await
                })
            },
            verify: verify_registered,
        },
        Flow {
            name: "account revoke",
            page: true,
            setup: |w| {
                let client = w.public("App");
                let pair = w.connect(&client);
                w.account_sign_in();
                let grant = grant_of(&s(&pair, "access_token"));
                let csrf = w.account_csrf();
                Ctx {
                    body: form(&[("csrf", &csrf), ("grant", &grant)]),
                    client: Some(client),
                    pair,
                    grant,
                    ..Ctx::default()
                }
            },
            send: |w, c| {
                Box::pin(async move {
                    let cookies = w.cookies();
                    let site = w.p.site(cookies.as_deref());
                    account::revoke(&site, &w.p, &c.body).await
                })
            },
            verify: |w, c, r| {
                if location(r).contains("revoked=") {
                    return match w.state(&c.grant) {
                        Some(state) if state["revoked_at"].is_null() => {
                            Err("revoked was shown but the grant is live".into())
                        }
                        _ => Ok(()),
                    };
                }
                Ok(())
            },
        },
        Flow {
            name: "admin revoke user",
            page: false,
            setup: |w| {
                let client = w.public("App");
                let pair = w.connect(&client);
                Ctx {
                    grant: grant_of(&s(&pair, "access_token")),
                    client: Some(client),
                    pair,
                    body: br#"{"user_id":"test:ada-id"}"#.to_vec(),
                    ..Ctx::default()
                }
            },
            send: |w, c| Box::pin(async move { admin::revoke_user(&w.p, &c.body).await }),
            verify: |w, c, _| match w.state(&c.grant) {
                Some(state) if state["revoked_at"].is_null() => {
                    Err("200 but the user's grant is live".into())
                }
                _ => Ok(()),
            },
        },
        Flow {
            name: "admin delete client",
            page: false,
            setup: |w| {
                let client = w.public("App");
                let pair = w.connect(&client);
                Ctx {
                    grant: grant_of(&s(&pair, "access_token")),
                    body: json!({ "client_id": client.client_id })
                        .to_string()
                        .into_bytes(),
                    client: Some(client),
                    pair,
                    ..Ctx::default()
                }
            },
            send: |w, c| Box::pin(async move { admin::delete_client(&w.p, &c.body).await }),
            verify: |w, c, _| {
                if w.p.kv_get(&keys::client(&c.client().client_id)).is_some() {
                    return Err("200 but the client is still registered".into());
                }
                match w.state(&c.grant) {
                    Some(state) if state["revoked_at"].is_null() => {
                        Err("200 but the client's grant is live".into())
                    }
                    _ => Ok(()),
                }
            },
        },
    ]
}

// ---------------------------------------------------------------------------
// One faulted run and its checks

/// How one attempt ended, as the table shows it.
fn outcome(answer: &Option<Reply>) -> String {
    match answer {
        None => "cut off".into(),
        Some(r) => {
            let body = json_of(r);
            let mut out = r.status.to_string();
            if let Some(e) = body["error"].as_str() {
                out.push(' ');
                out.push_str(e);
            } else if (300..400).contains(&r.status) {
                if let Some(e) = r
                    .header_value("Location")
                    .and_then(|l| query_param(l, "error"))
                {
                    out.push_str(" error=");
                    out.push_str(&e);
                }
            }
            out
        }
    }
}

fn is_success(r: &Reply) -> bool {
    if (300..400).contains(&r.status) {
        return r
            .header_value("Location")
            .is_none_or(|l| query_param(l, "error").is_none());
    }
    (200..300).contains(&r.status)
}

/// An answer that tells the client to come back later.
fn retryable(r: &Reply) -> bool {
    if r.status == 503 {
        let body = json_of(r);
        let said = body["error"] == "temporarily_unavailable"
            || (body.is_null() && body_text(r).contains("try again"));
        return said && r.header_value("Retry-After").is_some();
    }
    (300..400).contains(&r.status)
        && r.header_value("Location")
            .and_then(|l| query_param(l, "error"))
            .as_deref()
            == Some("temporarily_unavailable")
}

/// An answer that refuses for a stated reason.
fn stated_refusal(r: &Reply) -> bool {
    if !(400..500).contains(&r.status) {
        return false;
    }
    let body = json_of(r);
    body["error"].is_string() || body.is_null() && !body_text(r).is_empty()
}

fn reply_of(flow: &Flow, result: Result<Reply, HttpError>) -> Reply {
    match result {
        Ok(r) => r,
        Err(e) if flow.page => web::error_page(&e),
        Err(e) => e.to_reply(),
    }
}

/// Access records: key → grant id.
fn access_records(w: &World) -> BTreeMap<String, String> {
    w.p.kv_keys("access:")
        .into_iter()
        .filter_map(|k| {
            let v: Value = serde_json::from_str(&w.p.kv_get(&k)?).ok()?;
            Some((k, s(&v, "grant_id")))
        })
        .collect()
}

fn live(state: &Value, now: u64) -> bool {
    state["revoked_at"].is_null()
        && state["expires_at"].as_u64().is_some_and(|e| now < e)
        && !state["refresh"].is_null()
}

/// The access tokens handed out in a reply, if any.
fn tokens_in(reply: &Option<Reply>) -> Option<String> {
    let r = reply.as_ref()?;
    (r.status == 200)
        .then(|| s(&json_of(r), "access_token"))
        .filter(|t| !t.is_empty())
}

/// The invariants, after the alarms. `setup` holds the access tokens the
/// client had before the request, `handed_out` those the request (and its
/// retry) answered with. Returns how many access records are left that belong
/// to no token ever handed out (a write whose commit did not happen): no one
/// can use them, and they expire with their lifetime.
fn check_invariants(
    w: &World,
    setup: &[String],
    handed_out: &[String],
    violations: &mut Vec<String>,
) -> usize {
    let now = w.p.now.get();
    let records = access_records(w);
    let known: BTreeSet<String> = setup
        .iter()
        .chain(handed_out)
        .map(|t| keys::access(&crypto::hash_token(t)))
        .collect();
    // No fork: at most one working new token per grant.
    let mut working: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for t in handed_out {
        if !setup.contains(t) && w.mcp(t).is_ok() {
            working.entry(grant_of(t)).or_default().insert(t);
        }
    }
    for (grant, tokens) in working {
        if tokens.len() > 1 {
            violations.push(format!(
                "fork: grant {grant} has {} working new access tokens",
                tokens.len()
            ));
        }
    }
    // No orphan: every access record of a token handed out, or tracked by its
    // grant for revocation, belongs to a live grant.
    let mut unusable = 0;
    for (key, grant) in &records {
        let state = w.state(grant);
        let tracked = state.as_ref().is_some_and(|st| {
            st["access"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|e| key.ends_with(e[0].as_str().unwrap_or("-")))
            })
        });
        if !known.contains(key) && !tracked {
            unusable += 1;
            continue;
        }
        match state {
            Some(state) if live(&state, now) => {}
            _ => violations.push(format!("orphan: {key} of ended grant {grant}")),
        }
    }
    // Nothing lost: a live grant is in both its indexes.
    for grant in w.p.grant_ids() {
        let Some(state) = w.state(&grant) else {
            continue;
        };
        if !live(&state, now) {
            continue;
        }
        let user = s(&state, "user_id");
        let client = state["request"]["client_id"].as_str().unwrap_or_default();
        for index in [user_index(&user), client_index(client)] {
            if !w.p.index_grants(&index).contains(&grant) {
                violations.push(format!("lost: live grant {grant} missing from {index}"));
            }
        }
    }
    unusable
}

fn short(text: &str) -> String {
    text.chars().take(160).collect()
}

struct Row {
    flow: &'static str,
    step: u32,
    op: String,
    outcomes: Vec<String>,
    ok: bool,
}

/// Runs `flow` with `fault` at `step` (or none), retries, runs the alarms,
/// checks. Returns the trace of the attempt, the outcome and the violations.
fn run_one(flow: &Flow, fault: Option<(u32, Fault)>) -> (Vec<String>, String, Vec<String>) {
    let w = World::new();
    let ctx = (flow.setup)(&w);
    let setup: Vec<String> = tokens_in(&Some(Reply::json(200, &ctx.pair)))
        .into_iter()
        .collect();
    let mut violations = Vec::new();

    w.p.faults.arm(fault);
    let attempt = w.p.drive((flow.send)(&w, &ctx)).map(|r| reply_of(flow, r));
    let trace = w.p.faults.trace.borrow().clone();
    let injected = w.p.faults.injected.get() > 0;
    w.p.faults.disarm();
    if let Some(r) = &attempt {
        w.browser.take(r);
    }

    // Honest answers.
    match &attempt {
        Some(r) if is_success(r) => {
            if let Err(e) = (flow.verify)(&w, &ctx, r) {
                violations.push(format!("dishonest success: {e}"));
            }
        }
        Some(r) if injected && !retryable(r) => violations.push(format!(
            "a fault answered {} (not a retryable 503/temporarily_unavailable): {}",
            r.status,
            short(&body_text(r))
        )),
        Some(r) if !injected && !is_success(r) => violations.push(format!(
            "no fault, yet {}: {}",
            r.status,
            short(&body_text(r))
        )),
        _ => {}
    }
    let mut handed_out: Vec<String> = tokens_in(&attempt).into_iter().collect();

    // Before any retry: the alarms alone keep storage whole.
    w.run_due_alarms();
    check_invariants(&w, &setup, &handed_out, &mut violations);

    // The retry: the same request again.
    let retry = w.p.drive((flow.send)(&w, &ctx)).map(|r| reply_of(flow, r));
    let retry_outcome = match &retry {
        Some(r) => {
            w.browser.take(r);
            if is_success(r) {
                if let Err(e) = (flow.verify)(&w, &ctx, r) {
                    violations.push(format!("dishonest success on retry: {e}"));
                }
            } else if !stated_refusal(r) {
                violations.push(format!(
                    "retry answered {} without a stated reason: {}",
                    r.status,
                    short(&body_text(r))
                ));
            }
            outcome(&retry)
        }
        None => {
            violations.push("retry never finished".into());
            "cut off".into()
        }
    };
    handed_out.extend(tokens_in(&retry));
    w.run_due_alarms();
    let unusable = check_invariants(&w, &setup, &handed_out, &mut violations);
    let mut shown = format!("{} → retry {}", outcome(&attempt), retry_outcome);
    if unusable > 0 {
        shown.push_str(&format!(" ({unusable} unusable record left to expire)"));
    }
    (trace, shown, violations)
}

#[test]
fn every_storage_step_of_every_flow_survives_a_fault() {
    let faults = [Fault::Fail, Fault::Lost, Fault::Hang];
    let mut rows = Vec::new();
    let mut all_violations = Vec::new();
    let (mut survived, mut total) = (0, 0);
    for flow in flows() {
        let (trace, clean, violations) = run_one(&flow, None);
        assert!(
            violations.is_empty(),
            "{} without faults: {clean}: {violations:?}",
            flow.name
        );
        for (i, op) in trace.iter().enumerate() {
            let step = i as u32 + 1;
            let mut outcomes = Vec::new();
            let mut ok = true;
            for fault in faults {
                let (_, shown, violations) = run_one(&flow, Some((step, fault)));
                total += 1;
                if violations.is_empty() {
                    survived += 1;
                } else {
                    ok = false;
                    all_violations.push(format!(
                        "{} / step {step} {op} / {}: {shown}: {violations:?}",
                        flow.name,
                        fault.name()
                    ));
                }
                outcomes.push(shown);
            }
            rows.push(Row {
                flow: flow.name,
                step,
                op: op.clone(),
                outcomes,
                ok,
            });
        }
    }
    let mut table = String::new();
    table.push_str(
        "| flow | step | operation | fails | happens, answer lost | hangs | invariants |\n",
    );
    table.push_str("|---|---|---|---|---|---|---|\n");
    for r in &rows {
        table.push_str(&format!(
            "| {} | {} | `{}` | {} | {} | {} | {} |\n",
            r.flow,
            r.step,
            r.op,
            r.outcomes[0],
            r.outcomes[1],
            r.outcomes[2],
            if r.ok { "hold" } else { "VIOLATED" }
        ));
    }
    table.push_str(&format!("\nfaults survived: {survived} of {total}\n"));
    println!("{table}");
    assert!(
        all_violations.is_empty(),
        "{} violations:\n{}",
        all_violations.len(),
        all_violations.join("\n")
    );
    // docs/storage-schema.md carries this very table: regenerate it with
    // UPDATE_FAULT_TABLE=1 after a change to a flow's storage steps.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/storage-schema.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let (begin, end) = ("<!-- fault-walk:begin -->\n", "<!-- fault-walk:end -->");
    let start = docs.find(begin).expect("the fault-walk block in the docs") + begin.len();
    let stop = docs.find(end).expect("the end of the fault-walk block");
    if std::env::var_os("UPDATE_FAULT_TABLE").is_some() {
        let updated = format!("{}{table}{}", &docs[..start], &docs[stop..]);
        std::fs::write(path, updated).unwrap();
    } else {
        assert_eq!(
            &docs[start..stop],
            table,
            "docs/storage-schema.md's fault table is out of date: run UPDATE_FAULT_TABLE=1 cargo test --test storage_faults"
        );
    }
}

/// The lost grant-index update: a grant whose index entry is pending (the
/// index was unreachable at redemption) refreshes, the upstream renews its
/// tokens, and the access-record write fails. The upstream answer is kept
/// (so the retry does not spend the upstream refresh token again), and so
/// must the pending index update: the grant works, so it must stay listed.
#[test]
fn a_refresh_that_cannot_commit_keeps_the_pending_index_update() {
    let w = World::new();
    *w.p.provider.refresh_mode.borrow_mut() = UpstreamRefresh::Rotate;
    let client = w.public("App");
    w.p.failing_index_calls.set(1);
    let pair = w.connect(&client);
    let grant = grant_of(&s(&pair, "access_token"));
    assert!(w.p.index_grants(&user_index("test:ada-id")).is_empty());

    w.p.failing_puts.set(1);
    let refresh = s(&pair, "refresh_token");
    let (status, err) = w.token(&World::refresh_pairs(&client, &refresh));
    assert_eq!(
        (status, s(&err, "error")),
        (503, "temporarily_unavailable".into())
    );
    assert_eq!(w.p.provider.refresh_calls.get(), 1, "upstream answered");

    let (status, next) = w.token(&World::refresh_pairs(&client, &refresh));
    assert_eq!(status, 200, "{next}");
    assert!(w.mcp(&s(&next, "access_token")).is_ok());
    w.run_due_alarms();
    assert_eq!(
        w.p.index_grants(&user_index("test:ada-id")),
        vec![grant.clone()],
        "the working grant is listed for its user"
    );
    assert_eq!(
        w.p.index_grants(&client_index(&client.client_id)),
        vec![grant],
        "and for its client"
    );
}
