//! A grant's object: the one place that changes a grant, over abstract storage
//! (a Durable Object's in production, memory in tests).
//!
//! - **One command at a time.** A [`Gate`] serializes every command, including
//!   the await on the upstream provider during a refresh, so concurrent
//!   refreshes never spend one upstream refresh token twice.
//! - **Nothing committed before its records exist.** A transition that issues
//!   tokens writes its access record to KV first and stores the new state
//!   after; if the write fails, nothing is committed (the client retries with
//!   the same code or refresh token), except a new upstream answer, which is
//!   kept so the retry does not need the upstream refresh token again.
//! - **Deletes are durable.** A transition that ends a grant stores the new
//!   state with its pending deletes first, then applies them; what fails is
//!   retried by the next command and by the object's alarm until done.
//! - **Reads write nothing.** A command that changes nothing stores nothing.
//! - **Fail closed.** A stored state that no longer decodes is an error, never
//!   "no grant".

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::command::{execute, GrantAnswer, GrantCommand, Outcome};
use super::rotation::{self, RefreshRequest, Start};
use super::state::{Effect, GrantError, GrantState, Keys, Props, Step};
use crate::oauth::crypto::Entropy;
use crate::oauth::index::IndexObjects;
use crate::oauth::kv::Kv;
use crate::outbound::{HttpClient, LocalBoxFuture};
use crate::upstream::{ProviderSource, UpstreamError};
use crate::user::user_allowed;

/// How soon the alarm retries effects that could not be applied.
pub const EFFECT_RETRY_SECS: u64 = 30;

/// The object's own storage: one value (the state) and an alarm. Errors are
/// logged by the implementation; here they only decide the answer.
pub trait ObjectStorage {
    fn load(&self) -> LocalBoxFuture<'_, Result<Option<String>, String>>;
    fn save<'a>(&'a self, state: &'a str) -> LocalBoxFuture<'a, Result<(), String>>;
    fn erase(&self) -> LocalBoxFuture<'_, Result<(), String>>;
    /// Runs the object's alarm `in_secs` seconds from now.
    fn set_alarm(&self, in_secs: u64) -> LocalBoxFuture<'_, Result<(), String>>;
}

/// Where a grant's effects go: KV (its access records) and the grant
/// indexes. A grant object never calls another grant object.
pub trait EffectStore: Kv + IndexObjects {}

impl<T: Kv + IndexObjects + ?Sized> EffectStore for T {}

/// What a command may use besides the state.
pub struct Services<'a> {
    /// Where the grant's effects go.
    pub store: &'a dyn EffectStore,
    pub keys: Keys<'a>,
    /// `ALLOWED_USERS`, re-checked on every refresh.
    pub allowed_users: &'a [String],
    /// The identity provider, built only when a refresh needs it (an
    /// unavailable one answers [`GrantError::Unavailable`]).
    pub upstream: &'a dyn ProviderSource,
    pub http: &'a dyn HttpClient,
    pub now: u64,
    pub rng: &'a dyn Entropy,
}

/// A first-come, first-served lock for one object's commands. Single-threaded
/// (a Worker isolate is), so it needs no atomics.
#[derive(Default)]
pub struct Gate {
    busy: Cell<bool>,
    waiting: RefCell<VecDeque<Waker>>,
}

/// Holds the [`Gate`] until dropped.
pub struct GateGuard<'a>(&'a Gate);

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        self.0.busy.set(false);
        // Every waiter is woken and tries again: a waker left by a request that
        // was since dropped, or queued twice, can never strand the others.
        let waiting: Vec<Waker> = self.0.waiting.borrow_mut().drain(..).collect();
        for waker in waiting {
            waker.wake();
        }
    }
}

struct Acquire<'a>(&'a Gate);

impl<'a> Future for Acquire<'a> {
    type Output = GateGuard<'a>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<GateGuard<'a>> {
        let gate = self.0;
        if gate.busy.get() {
            let mut waiting = gate.waiting.borrow_mut();
            if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
                waiting.push_back(cx.waker().clone());
            }
            Poll::Pending
        } else {
            gate.busy.set(true);
            Poll::Ready(GateGuard(gate))
        }
    }
}

impl Gate {
    pub fn lock(&self) -> impl Future<Output = GateGuard<'_>> {
        Acquire(self)
    }
}

/// The part of a grant's object that decides; the shell gives it storage.
#[derive(Default)]
pub struct GrantObject {
    gate: Gate,
}

impl GrantObject {
    /// Runs one command, after every command that arrived before it.
    pub async fn run(
        &self,
        storage: &dyn ObjectStorage,
        svc: &Services<'_>,
        command: GrantCommand,
    ) -> GrantAnswer {
        let _turn = self.gate.lock().await;
        // Storage that fails or does not answer is temporary: the caller is
        // told to retry (503), and nothing half-done was committed.
        let raw = storage.load().await.map_err(|_| GrantError::Unavailable)?;
        let mut current = decode(raw.as_deref())?;
        // Deletes an earlier transition could not apply yet go first, in order.
        let leftovers = current
            .as_mut()
            .map(|s| std::mem::take(&mut s.pending_effects))
            .unwrap_or_default();
        let (outcome, fallback) = match command {
            GrantCommand::Refresh {
                refresh_token,
                client_id,
                scope,
                resource,
            } => {
                let input = RefreshRequest {
                    refresh_token: &refresh_token,
                    client_id: &client_id,
                    scope,
                    resource: resource.as_deref(),
                };
                refresh(current, &input, svc).await?
            }
            other => (execute(current, other, svc.now, &svc.keys, svc.rng), None),
        };
        commit(storage, svc, raw.as_deref(), outcome, leftovers, fallback).await
    }

    /// The alarm: retries pending effects, and forgets the grant after its end.
    pub async fn alarm(&self, storage: &dyn ObjectStorage, store: &dyn EffectStore, now: u64) {
        let _turn = self.gate.lock().await;
        let Ok(raw) = storage.load().await else {
            let _ = storage.set_alarm(EFFECT_RETRY_SECS).await;
            return;
        };
        let mut state = match decode(raw.as_deref()) {
            Ok(Some(state)) => state,
            Ok(None) => return,
            // Kept as it is (fail closed): every command about it answers an
            // error, and nothing takes it for an empty grant.
            Err(_) => return,
        };
        let expired = now > state.expires_at;
        if expired {
            // Its end came without a revocation: take it out of its indexes.
            let removals = super::revoke::unindex(&mut state);
            state.pending_effects.extend(removals);
        }
        if !state.pending_effects.is_empty() {
            if apply(store, &state.pending_effects).await.is_err() {
                if let Ok(json) = serde_json::to_string(&state) {
                    let _ = storage.save(&json).await;
                }
                let _ = storage.set_alarm(EFFECT_RETRY_SECS).await;
                return;
            }
            state.pending_effects.clear();
            if !expired {
                if let Ok(json) = serde_json::to_string(&state) {
                    let _ = storage.save(&json).await;
                }
            }
        }
        if expired {
            let _ = storage.erase().await;
        } else {
            let _ = storage
                .set_alarm(state.expires_at.saturating_sub(now) + 60)
                .await;
        }
    }
}

fn decode(raw: Option<&str>) -> Result<Option<GrantState>, GrantError> {
    match raw {
        None => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|_| GrantError::Internal),
    }
}

async fn apply(store: &dyn EffectStore, effects: &[Effect]) -> Result<(), ()> {
    for effect in effects {
        let done = match effect {
            Effect::Put { key, value, ttl } => store.put(key, value, *ttl).await,
            Effect::Delete { key } => store.delete(key).await,
            Effect::Index(index, command) => store.index(index, command).await.map(|_| ()),
        };
        done.map_err(|_| ())?;
    }
    Ok(())
}

/// A refresh: rotation, with the sign-in policy and the upstream tokens checked
/// while this object holds the grant. Returns the outcome and, when the
/// upstream tokens changed, the state to keep should the rotation not commit.
async fn refresh(
    current: Option<GrantState>,
    input: &RefreshRequest<'_>,
    svc: &Services<'_>,
) -> Result<(Outcome, Option<GrantState>), GrantError> {
    let ready = match rotation::start(current, input, svc.now, &svc.keys) {
        Start::Done(step) => return Ok((step.into(), None)),
        Start::Replay(state, pair) => {
            let step = rotation::replay(state, pair, svc.now, &svc.keys, svc.allowed_users);
            return Ok((step.into(), None));
        }
        Start::Ready(ready) => ready,
    };
    if !user_allowed(svc.allowed_users, &ready.props.user) {
        let step = rotation::refuse(
            ready,
            "this user is no longer allowed to sign in to this server",
            svc.now,
        );
        return Ok((step.into(), None));
    }
    // Tokens without an expiry (GitHub OAuth apps, the development provider) or
    // far from it need no provider at all: the common refresh builds nothing.
    let due = ready.props.upstream.as_ref().filter(|t| {
        t.expires_at
            .is_some_and(|at| at <= svc.now + crate::upstream::REFRESH_MARGIN_SECS)
    });
    let fresh = match due {
        None => None,
        Some(tokens) => {
            let provider = svc
                .upstream
                .provider()
                .await
                .map_err(|_| GrantError::Unavailable)?;
            match provider.refresh(svc.http, tokens, svc.now).await {
                Ok(None) => None,
                Ok(Some(tokens)) => Some(Props {
                    user: ready.props.user.clone(),
                    upstream: Some(tokens),
                }),
                Err(UpstreamError::Revoked(_)) => {
                    let step = rotation::refuse(
                        ready,
                        "the identity provider no longer accepts this sign-in; authorize again",
                        svc.now,
                    );
                    return Ok((step.into(), None));
                }
                // Nothing was spent upstream that we do not have: the state is
                // unchanged and the same refresh token works on a retry.
                Err(_) => return Err(GrantError::Unavailable),
            }
        }
    };
    let fallback = match &fresh {
        None => None,
        Some(props) => {
            let mut kept = ready.state.clone();
            kept.props = Some(super::state::seal_props(
                &ready.grant_key,
                props,
                &kept.id,
                svc.rng,
            )?);
            Some(kept)
        }
    };
    let step: Step<_> = rotation::finish(
        ready,
        input.refresh_token,
        fresh.as_ref(),
        svc.now,
        &svc.keys,
        svc.rng,
    );
    Ok((step.into(), fallback))
}

async fn save(storage: &dyn ObjectStorage, state: &GrantState) -> Result<(), GrantError> {
    let json = serde_json::to_string(state).map_err(|_| GrantError::Internal)?;
    storage
        .save(&json)
        .await
        .map_err(|_| GrantError::Unavailable)
}

/// Stores the outcome and applies its effects (see the module docs for the order).
async fn commit(
    storage: &dyn ObjectStorage,
    svc: &Services<'_>,
    raw: Option<&str>,
    outcome: Outcome,
    leftovers: Vec<Effect>,
    fallback: Option<GrantState>,
) -> GrantAnswer {
    let Outcome {
        state,
        effects,
        answer,
    } = outcome;
    let mut effects_all = leftovers;
    effects_all.extend(effects);
    let issues_tokens = effects_all.iter().any(|e| matches!(e, Effect::Put { .. }));

    let Some(mut state) = state else {
        if raw.is_some() {
            storage.erase().await.map_err(|_| GrantError::Unavailable)?;
        }
        let _ = apply(svc.store, &effects_all).await;
        return answer;
    };

    if issues_tokens {
        let (index, kv): (Vec<Effect>, Vec<Effect>) =
            effects_all.into_iter().partition(Effect::is_index);
        // Every effect but the new records (index updates, and deletes left
        // by earlier transitions): kept with whatever is stored should this
        // issuance not commit.
        let carried: Vec<Effect> = index
            .iter()
            .chain(kv.iter())
            .filter(|e| !matches!(e, Effect::Put { .. }))
            .cloned()
            .collect();
        // New upstream tokens are stored first: once the provider has answered,
        // its spent refresh token must never be needed again, whatever fails
        // next. The pending effects go with them: the grant keeps working, so
        // it must stay listed (and what was to be deleted, deleted).
        if let Some(mut kept) = fallback {
            kept.pending_effects = carried;
            save(storage, &kept).await?;
            if !kept.pending_effects.is_empty() {
                let _ = storage.set_alarm(EFFECT_RETRY_SECS).await;
            }
        }
        // The KV writes decide whether the tokens exist; index updates never
        // hold an issuance back: one that fails is stored as pending with the
        // state and retried by the alarm.
        if apply(svc.store, &kv).await.is_err() {
            // A write that failed may still have landed: its token is never
            // handed out, so its record goes (best effort).
            forget_records(svc.store, &kv).await;
            return Err(GrantError::Unavailable);
        }
        let mut failed = Vec::new();
        for effect in index {
            if failed.is_empty()
                && apply(svc.store, std::slice::from_ref(&effect))
                    .await
                    .is_ok()
            {
                continue;
            }
            failed.push(effect);
        }
        state.pending_effects = failed;
        if !state.pending_effects.is_empty() {
            // Set before the state that needs it is stored (see below). The
            // retry comes first; the alarm then sets itself for the expiry.
            let _ = storage.set_alarm(EFFECT_RETRY_SECS).await;
        }
        // A save that fails may still have landed (its answer lost): the
        // records stay, so a retry inside the grace window that gets this
        // pair back finds them. If it did not land, they belong to tokens
        // never handed out, and expire with their lifetime.
        save(storage, &state).await?;
        if state.pending_effects.is_empty() {
            schedule_if_new(storage, raw, &state, svc.now).await;
        }
        return answer;
    }

    let json = serde_json::to_string(&state).map_err(|_| GrantError::Internal)?;
    if effects_all.is_empty() && raw == Some(json.as_str()) {
        return answer;
    }
    state.pending_effects = effects_all;
    if !state.pending_effects.is_empty() {
        // The alarm is set before the state that needs it is stored: should
        // this request be cut off or the save's answer be lost, the alarm
        // still applies the effects. (An alarm that finds nothing to do sets
        // itself for the grant's end.)
        let _ = storage.set_alarm(EFFECT_RETRY_SECS).await;
    }
    save(storage, &state).await?;
    if !state.pending_effects.is_empty() {
        if apply(svc.store, &state.pending_effects).await.is_ok() {
            state.pending_effects.clear();
            // If this write fails, the deletes are simply applied again later.
            let _ = save(storage, &state).await;
        } else {
            let _ = storage.set_alarm(EFFECT_RETRY_SECS).await;
            return answer;
        }
    }
    schedule_if_new(storage, raw, &state, svc.now).await;
    answer
}

/// Best effort: deletes the access records of an issuance that did not commit.
async fn forget_records(store: &dyn EffectStore, written: &[Effect]) {
    for effect in written {
        if let Effect::Put { key, .. } = effect {
            let _ = store.delete(key).await;
        }
    }
}

/// Cleans up after the grant's last possible use. Set once, when the object
/// is created: when it fires before a later expiry (a refresh moved it), the
/// alarm sets itself again for the new one, so refreshes spend no storage
/// operation on it.
async fn schedule_if_new(
    storage: &dyn ObjectStorage,
    raw: Option<&str>,
    state: &GrantState,
    now: u64,
) {
    if raw.is_none() {
        let _ = storage
            .set_alarm(state.expires_at.saturating_sub(now) + 60)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Counter(AtomicU32);
    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Counter>, Waker) {
        let c = Arc::new(Counter(AtomicU32::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn a_waiter_that_gives_up_never_strands_the_next_one() {
        let gate = Gate::default();
        let (_, wa) = waker();
        let (_, wb) = waker();
        let (c_count, wc) = waker();
        let mut a = Box::pin(gate.lock());
        let guard = match a.as_mut().poll(&mut Context::from_waker(&wa)) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("a free gate is taken at once"),
        };
        let mut b = Box::pin(gate.lock());
        let mut c = Box::pin(gate.lock());
        assert!(b.as_mut().poll(&mut Context::from_waker(&wb)).is_pending());
        // Polled twice while waiting: queued once.
        assert!(b.as_mut().poll(&mut Context::from_waker(&wb)).is_pending());
        assert!(c.as_mut().poll(&mut Context::from_waker(&wc)).is_pending());
        drop(b); // a cancelled request
        drop(guard);
        assert_eq!(c_count.0.load(Ordering::SeqCst), 1, "C is woken");
        assert!(c.as_mut().poll(&mut Context::from_waker(&wc)).is_ready());
    }
}
