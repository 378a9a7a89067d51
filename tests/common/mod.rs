//! Shared fixtures of the native tests: an in-memory platform that runs the
//! core exactly as the Worker does (KV with TTLs, one grant object per grant
//! running `oauth::grant::object::GrantObject`, commands and answers through
//! JSON), a scriptable upstream identity provider, deterministic randomness, a
//! clock, a cookie jar, and a tiny executor for concurrent requests.
#![allow(dead_code)]

pub mod browser;
pub mod http;
pub mod mcp_seal;

// Not every test file uses every fixture.
#[allow(unused_imports)]
pub use browser::{authorize_query, form, mcp_caller, Browser};
pub use http::NoHttp;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use mcp_oauth_worker::config::Config;
use mcp_oauth_worker::http::Reply;
use mcp_oauth_worker::keys;
use mcp_oauth_worker::oauth::cimd::{ClientDocuments, DocumentCache, FetchError, Fetched, SigAlg};
use mcp_oauth_worker::oauth::crypto::{CryptoError, Entropy};
use mcp_oauth_worker::oauth::grant::command::{GrantAnswer, GrantCommand};
use mcp_oauth_worker::oauth::grant::object::{GrantObject, ObjectStorage, Services};
use mcp_oauth_worker::oauth::grant::Keys;
use mcp_oauth_worker::oauth::index::{self, IndexAnswer, IndexCommand, IndexStorage};
use mcp_oauth_worker::oauth::register::{self, Client, RegistrationRequest};
use mcp_oauth_worker::oauth::site::Site;
use mcp_oauth_worker::oauth::store::{GrantObjects, IndexObjects, KeyPage, Kv, StoreError};
use mcp_oauth_worker::outbound::{HttpClient, LocalBoxFuture};
use mcp_oauth_worker::upstream::{
    AuthorizeParams, ExchangeParams, IdentityProvider, ProviderSource, SignIn, UpstreamError,
    UpstreamTokens,
};
use mcp_oauth_worker::user::UserProfile;

pub const T0: u64 = 1_750_000_000;
pub const SECRET: &str = "test-server-secret-0123456789abcdef-xyz";
pub const ISSUER: &str = "https://mcp.example";
pub const RESOURCE: &str = "https://mcp.example/mcp";
pub const REDIRECT: &str = "https://app.example.com/callback";

/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Deterministic randomness: a counter run through SplitMix64, so every
/// secret differs but every run is the same.
pub struct CountingEntropy(pub Cell<u64>);

impl Entropy for CountingEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        for chunk in buf.chunks_mut(8) {
            let n = self.0.get();
            self.0.set(n.wrapping_add(SPLITMIX_STEP));
            chunk.copy_from_slice(&splitmix(n).to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// Settings as a deployment would have them; `extra` adds or replaces variables.
pub fn config_with(extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = [
        ("UPSTREAM_PROVIDER", "dev"),
        ("SECRET_KEY", SECRET),
        ("PUBLIC_URL", ISSUER),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test settings are valid")
}

/// Yields to the executor once, so concurrent requests really interleave.
pub struct YieldNow(bool);

pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Runs `futures` concurrently on this thread and returns their outputs in order.
pub fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    struct JoinAll<F: Future> {
        futures: Vec<Option<Pin<Box<F>>>>,
        outputs: Vec<Option<F::Output>>,
    }
    impl<F: Future> Future for JoinAll<F> {
        type Output = Vec<F::Output>;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            // Safe: nothing here is structurally pinned (the futures are boxed).
            let this = unsafe { self.get_unchecked_mut() };
            let mut pending = false;
            for (slot, out) in this.futures.iter_mut().zip(this.outputs.iter_mut()) {
                if let Some(f) = slot {
                    match f.as_mut().poll(cx) {
                        Poll::Ready(v) => {
                            *out = Some(v);
                            *slot = None;
                        }
                        Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(this.outputs.iter_mut().map(|o| o.take().unwrap()).collect())
            }
        }
    }
    let n = futures.len();
    pollster::block_on(JoinAll {
        futures: futures.into_iter().map(|f| Some(Box::pin(f))).collect(),
        outputs: (0..n).map(|_| None).collect(),
    })
}

pub fn block_on<F: Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

// ---------------------------------------------------------------------------
// Fault injection

/// What an injected fault does to the operation it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The operation does not happen and its caller gets an error (a KV put
    /// that throws, a Durable Object call that is reset before it runs, an
    /// upstream that answers 500).
    Fail,
    /// The operation happens, but its caller gets an error (a write that landed
    /// before the connection dropped, an object call whose answer is lost).
    /// Reads are not changed by it, so it is injected into writes and calls only.
    Lost,
    /// The operation never answers: the request is cut off there (a Durable
    /// Object evicted mid-call, an upstream that never answers, the platform's
    /// time limit). The driver ([`Platform::drive`]) then drops the request.
    Hang,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::Fail => "fail",
            Fault::Lost => "lost",
            Fault::Hang => "hang",
        }
    }
}

/// Which storage, upstream or fetch operation fails, and how. Every operation
/// of the platform asks [`FaultPlan::hit`] first; while the plan is armed, each
/// is one numbered step, named in [`FaultPlan::trace`].
#[derive(Default)]
pub struct FaultPlan {
    armed: Cell<bool>,
    step: Cell<u32>,
    at: Cell<Option<(u32, Fault)>>,
    /// A share of operations that fail (`1 in n`, picked by a counter run
    /// through SplitMix64), for randomized runs; 0 is none.
    pub one_in: Cell<u64>,
    rand: Cell<u64>,
    pub trace: RefCell<Vec<String>>,
    /// Set when a [`Fault::Hang`] was hit: the request can never finish.
    pub hung: Cell<bool>,
    /// Faults injected since the last [`FaultPlan::arm`].
    pub injected: Cell<u32>,
}

impl FaultPlan {
    /// Starts numbering steps from 1; `at` is the step to fault, if any.
    pub fn arm(&self, at: Option<(u32, Fault)>) {
        self.armed.set(true);
        self.step.set(0);
        self.at.set(at);
        self.trace.borrow_mut().clear();
        self.hung.set(false);
        self.injected.set(0);
    }

    pub fn disarm(&self) {
        self.armed.set(false);
        self.hung.set(false);
        self.at.set(None);
        self.one_in.set(0);
    }

    /// The fault for the operation `op` (`kv.put access:…`), if it is the one.
    /// `writes` says whether the operation changes anything ([`Fault::Lost`]
    /// then means "done, but the caller hears an error").
    pub fn hit(&self, op: &str, writes: bool) -> Option<Fault> {
        if !self.armed.get() {
            return None;
        }
        let n = self.step.get() + 1;
        self.step.set(n);
        self.trace.borrow_mut().push(op.to_owned());
        let mut fault = match self.at.get() {
            Some((at, fault)) if at == n => Some(fault),
            _ => None,
        };
        let one_in = self.one_in.get();
        if fault.is_none() && one_in > 0 {
            let r = splitmix(self.rand.get());
            self.rand.set(r);
            if r.is_multiple_of(one_in) {
                fault = Some(if writes && r.is_multiple_of(2) {
                    Fault::Lost
                } else {
                    Fault::Fail
                });
            }
        }
        if fault == Some(Fault::Lost) && !writes {
            fault = Some(Fault::Fail);
        }
        if fault.is_some() {
            self.injected.set(self.injected.get() + 1);
        }
        if fault == Some(Fault::Hang) {
            self.hung.set(true);
        }
        fault
    }
}

const SPLITMIX_STEP: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64: the value after the counter `n`.
fn splitmix(n: u64) -> u64 {
    let n = n.wrapping_add(SPLITMIX_STEP);
    let mut z = n;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A future that never finishes: an operation that hangs.
pub struct Never;

impl Future for Never {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// Runs `plan`'s decision for `op` in an async operation: `Some(Err)` when the
/// operation fails before doing anything, never returns on a hang, `None` to go
/// on (the caller checks [`after`] for a lost answer).
async fn before(plan: &FaultPlan, op: &str, writes: bool) -> Result<Option<Fault>, String> {
    match plan.hit(op, writes) {
        Some(Fault::Fail) => Err(format!("injected failure: {op}")),
        Some(Fault::Hang) => {
            Never.await;
            unreachable!()
        }
        other => Ok(other),
    }
}

/// The answer of an operation that ran: an error if its answer was lost.
fn after<T>(fault: Option<Fault>, op: &str, done: T) -> Result<T, String> {
    match fault {
        Some(Fault::Lost) => Err(format!("injected lost answer: {op}")),
        _ => Ok(done),
    }
}

// ---------------------------------------------------------------------------
// The upstream identity provider

/// How the fake provider answers a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamRefresh {
    /// Tokens never expire: nothing to refresh.
    Nothing,
    /// New tokens each time (numbered), as rotating providers do.
    Rotate,
    /// The provider refuses: the user revoked us.
    Revoked,
    /// The provider cannot be reached.
    Down,
}

/// A provider that signs in whoever the test says, and whose refresh behaviour
/// and call counts the test controls and reads.
pub struct FakeProvider {
    pub user: RefCell<UserProfile>,
    pub refresh_mode: RefCell<UpstreamRefresh>,
    /// Upstream refresh calls, and the upstream refresh tokens they spent.
    pub refresh_calls: Cell<u32>,
    pub spent_refresh_tokens: RefCell<Vec<String>>,
    pub issued: Cell<u32>,
    /// Faults injected into the provider's calls (shared with the platform).
    pub faults: Rc<FaultPlan>,
}

impl Default for FakeProvider {
    fn default() -> Self {
        FakeProvider {
            user: RefCell::new(user("ada")),
            refresh_mode: RefCell::new(UpstreamRefresh::Nothing),
            refresh_calls: Cell::new(0),
            spent_refresh_tokens: RefCell::new(Vec::new()),
            issued: Cell::new(0),
            faults: Rc::new(FaultPlan::default()),
        }
    }
}

pub fn user(login: &str) -> UserProfile {
    UserProfile {
        id: format!("test:{login}-id"),
        login: login.into(),
        name: None,
        email: Some(format!("{login}@example.com")),
        provider: "test".into(),
    }
}

pub fn upstream_tokens(n: u32, expires_at: u64) -> UpstreamTokens {
    UpstreamTokens {
        access_token: format!("up-access-{n}").into(),
        refresh_token: Some(format!("up-refresh-{n}").into()),
        expires_at: Some(expires_at),
        scope: None,
    }
}

impl IdentityProvider for FakeProvider {
    fn kind(&self) -> &'static str {
        "test"
    }

    fn authorize_url(&self, params: &AuthorizeParams<'_>) -> String {
        format!(
            "https://idp.example/authorize?state={}",
            params.state.secret()
        )
    }

    fn exchange<'a>(
        &'a self,
        _http: &'a dyn HttpClient,
        params: ExchangeParams<'a>,
    ) -> LocalBoxFuture<'a, Result<SignIn, UpstreamError>> {
        Box::pin(async move {
            // The provider's token endpoint: a code it has not redeemed yet
            // may fail (500) or never answer; a lost answer spends the code.
            let fault = before(&self.faults, "upstream.exchange", true)
                .await
                .map_err(UpstreamError::Network)?;
            if params.code.secret() != "idp-code" {
                return Err(UpstreamError::Provider("bad code".into()));
            }
            let n = self.issued.get() + 1;
            self.issued.set(n);
            after(fault, "upstream.exchange", ()).map_err(UpstreamError::Network)?;
            Ok(SignIn {
                user: self.user.borrow().clone(),
                // Expiring soon, so every refresh asks the provider.
                tokens: upstream_tokens(n, params.now + 60),
            })
        })
    }

    fn refresh<'a>(
        &'a self,
        _http: &'a dyn HttpClient,
        tokens: &'a UpstreamTokens,
        now: u64,
    ) -> LocalBoxFuture<'a, Result<Option<UpstreamTokens>, UpstreamError>> {
        Box::pin(async move {
            let mode = self.refresh_mode.borrow().clone();
            let fresh = tokens
                .expires_at
                .is_some_and(|at| at > now + mcp_oauth_worker::upstream::REFRESH_MARGIN_SECS);
            if mode == UpstreamRefresh::Nothing || fresh {
                return Ok(None);
            }
            self.refresh_calls.set(self.refresh_calls.get() + 1);
            let fault = before(&self.faults, "upstream.refresh", true)
                .await
                .map_err(UpstreamError::Network)?;
            // A real provider answers later: let other requests run meanwhile.
            yield_now().await;
            yield_now().await;
            match mode {
                UpstreamRefresh::Revoked => Err(UpstreamError::Revoked("revoked".into())),
                UpstreamRefresh::Down => Err(UpstreamError::Network("down".into())),
                _ => {
                    let spent = tokens
                        .refresh_token
                        .as_ref()
                        .map(|t| t.secret().to_owned())
                        .unwrap_or_default();
                    let mut list = self.spent_refresh_tokens.borrow_mut();
                    if list.contains(&spent) {
                        // A rotating provider refuses a spent refresh token.
                        return Err(UpstreamError::Revoked("refresh token reused".into()));
                    }
                    list.push(spent);
                    let n = self.issued.get() + 1;
                    self.issued.set(n);
                    // A lost answer: the provider rotated (the old refresh
                    // token is spent) but we never see the new tokens.
                    after(fault, "upstream.refresh", ()).map_err(UpstreamError::Network)?;
                    Ok(Some(upstream_tokens(n, now + 60)))
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------
// The platform: KV and grant objects in memory

#[derive(Default)]
pub struct ObjectSlot {
    pub value: RefCell<Option<String>>,
    pub alarm_in: Cell<Option<u64>>,
    pub writes: Cell<u32>,
    /// Every state ever saved, in order (for storage hygiene checks).
    pub history: RefCell<Vec<String>>,
}

impl ObjectStorage for ObjectSlot {
    fn load(&self) -> LocalBoxFuture<'_, Result<Option<String>, String>> {
        Box::pin(async move {
            let value = self.value.borrow().clone();
            // Real storage answers later: other commands run meanwhile and may
            // read the same value, so only the object's own serialization
            // keeps them apart.
            yield_now().await;
            Ok(value)
        })
    }
    fn save<'a>(&'a self, state: &'a str) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.writes.set(self.writes.get() + 1);
            self.history.borrow_mut().push(state.to_owned());
            *self.value.borrow_mut() = Some(state.to_owned());
            Ok(())
        })
    }
    fn erase(&self) -> LocalBoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.writes.set(self.writes.get() + 1);
            *self.value.borrow_mut() = None;
            Ok(())
        })
    }
    fn set_alarm(&self, in_secs: u64) -> LocalBoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.alarm_in.set(Some(in_secs));
            Ok(())
        })
    }
}

struct Object {
    core: GrantObject,
    slot: ObjectSlot,
}

/// Counts of storage operations, per kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub kv_reads: u32,
    pub kv_writes: u32,
    pub kv_deletes: u32,
    pub kv_lists: u32,
    pub grant_calls: u32,
    /// Calls to grant index objects (not KV).
    pub index_calls: u32,
}

/// The whole platform of one deployment.
pub struct Platform {
    pub config: Config,
    pub now: Cell<u64>,
    pub rng: CountingEntropy,
    pub provider: Rc<FakeProvider>,
    kv: RefCell<BTreeMap<String, (String, u64)>>,
    /// Every KV key and value ever put, in order (for storage hygiene checks).
    kv_history: RefCell<Vec<String>>,
    objects: RefCell<HashMap<String, Rc<Object>>>,
    pub counts: Cell<Counts>,
    /// The next this-many KV puts fail, then they work again.
    pub failing_puts: Cell<u32>,
    /// The next this-many KV deletes fail.
    pub failing_deletes: Cell<u32>,
    /// Grant index objects (`user:<id>`, `client:<id>`): their key/value storage.
    indexes: RefCell<HashMap<String, Rc<IndexSlot>>>,
    /// The next this-many index calls fail.
    pub failing_index_calls: Cell<u32>,
    /// The web as Client ID Metadata Documents see it.
    pub docs: FakeDocuments,
    /// The isolate the flows run in (its access-token copies).
    pub isolate: mcp_oauth_worker::isolate::Isolate,
    /// Faults injected into any operation above (KV, grant and index objects
    /// and their storage, the provider, document fetches).
    pub faults: Rc<FaultPlan>,
}

/// An object's storage seen through the platform's fault plan.
pub struct Faulty<'a, S> {
    pub inner: &'a S,
    pub plan: &'a FaultPlan,
    /// The object's name in the trace (`grant`, `index`).
    pub name: &'static str,
}

impl<S: ObjectStorage> ObjectStorage for Faulty<'_, S> {
    fn load(&self) -> LocalBoxFuture<'_, Result<Option<String>, String>> {
        Box::pin(async move {
            let op = format!("{}.load", self.name);
            let fault = before(self.plan, &op, false).await?;
            let v = self.inner.load().await?;
            after(fault, &op, v)
        })
    }
    fn save<'a>(&'a self, state: &'a str) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let op = format!("{}.save", self.name);
            let fault = before(self.plan, &op, true).await?;
            self.inner.save(state).await?;
            after(fault, &op, ())
        })
    }
    fn erase(&self) -> LocalBoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let op = format!("{}.erase", self.name);
            let fault = before(self.plan, &op, true).await?;
            self.inner.erase().await?;
            after(fault, &op, ())
        })
    }
    fn set_alarm(&self, in_secs: u64) -> LocalBoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let op = format!("{}.set_alarm", self.name);
            let fault = before(self.plan, &op, true).await?;
            self.inner.set_alarm(in_secs).await?;
            after(fault, &op, ())
        })
    }
}

impl<S: IndexStorage> IndexStorage for Faulty<'_, S> {
    fn put<'a>(&'a self, key: &'a str, value: &'a str) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let op = format!("{}.put", self.name);
            let fault = before(self.plan, &op, true).await?;
            self.inner.put(key, value).await?;
            after(fault, &op, ())
        })
    }
    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let op = format!("{}.delete", self.name);
            let fault = before(self.plan, &op, true).await?;
            self.inner.delete(key).await?;
            after(fault, &op, ())
        })
    }
    fn list<'a>(
        &'a self,
        prefix: &'a str,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<Vec<(String, String)>, String>> {
        Box::pin(async move {
            let op = format!("{}.list", self.name);
            before(self.plan, &op, false).await?;
            self.inner.list(prefix, limit).await
        })
    }
}

/// One grant index object's storage, in memory.
#[derive(Default)]
pub struct IndexSlot(pub RefCell<BTreeMap<String, String>>);

impl IndexStorage for IndexSlot {
    fn put<'a>(&'a self, key: &'a str, value: &'a str) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0.borrow_mut().insert(key.to_owned(), value.to_owned());
            Ok(())
        })
    }
    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0.borrow_mut().remove(key);
            Ok(())
        })
    }
    fn list<'a>(
        &'a self,
        prefix: &'a str,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<Vec<(String, String)>, String>> {
        Box::pin(async move {
            Ok(self
                .0
                .borrow()
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .take(limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        })
    }
}

impl Platform {
    pub fn new() -> Platform {
        Platform::with_config(config_with(&[]))
    }

    pub fn with_config(config: Config) -> Platform {
        let faults = Rc::new(FaultPlan::default());
        Platform {
            config,
            now: Cell::new(T0),
            rng: CountingEntropy(Cell::new(7)),
            provider: Rc::new(FakeProvider {
                faults: faults.clone(),
                ..FakeProvider::default()
            }),
            kv: RefCell::new(BTreeMap::new()),
            kv_history: RefCell::new(Vec::new()),
            objects: RefCell::new(HashMap::new()),
            counts: Cell::new(Counts::default()),
            failing_puts: Cell::new(0),
            failing_deletes: Cell::new(0),
            indexes: RefCell::new(HashMap::new()),
            failing_index_calls: Cell::new(0),
            docs: FakeDocuments {
                faults: faults.clone(),
                ..FakeDocuments::default()
            },
            isolate: mcp_oauth_worker::isolate::Isolate::new(),
            faults,
        }
    }

    /// Runs one request to its end, or until an operation it waits on hangs
    /// (then the request is dropped, as the platform drops a request past its
    /// time limit, and `None` is returned).
    pub fn drive<F: Future>(&self, f: F) -> Option<F::Output> {
        let mut f = std::pin::pin!(f);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        for _ in 0..1_000_000 {
            match f.as_mut().poll(&mut cx) {
                Poll::Ready(v) => return Some(v),
                Poll::Pending if self.faults.hung.get() => return None,
                Poll::Pending => {}
            }
        }
        panic!("a request neither finished nor hung");
    }

    /// Every grant object that holds a state.
    pub fn grant_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .objects
            .borrow()
            .iter()
            .filter(|(_, o)| o.slot.value.borrow().is_some())
            .map(|(k, _)| k.clone())
            .collect();
        ids.sort();
        ids
    }

    pub fn advance(&self, secs: u64) {
        self.now.set(self.now.get() + secs);
    }

    fn count(&self, f: impl FnOnce(&mut Counts)) {
        let mut c = self.counts.get();
        f(&mut c);
        self.counts.set(c);
    }

    pub fn reset_counts(&self) {
        self.counts.set(Counts::default());
    }

    /// What is in KV now (unexpired), for assertions.
    pub fn kv_get(&self, key: &str) -> Option<String> {
        let now = self.now.get();
        self.kv
            .borrow()
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v.clone())
    }

    pub fn kv_set(&self, key: &str, value: &str) {
        self.kv
            .borrow_mut()
            .insert(key.to_owned(), (value.to_owned(), u64::MAX));
    }

    pub fn kv_del(&self, key: &str) {
        self.kv.borrow_mut().remove(key);
    }

    pub fn kv_keys(&self, prefix: &str) -> Vec<String> {
        let now = self.now.get();
        self.kv
            .borrow()
            .iter()
            .filter(|(k, (_, exp))| k.starts_with(prefix) && *exp > now)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Everything stored anywhere (KV keys and values, object states), for
    /// checks that no secret is kept in the clear.
    pub fn everything_stored(&self) -> String {
        let mut out = String::new();
        for (k, (v, _)) in self.kv.borrow().iter() {
            out.push_str(k);
            out.push('\n');
            out.push_str(v);
            out.push('\n');
        }
        for obj in self.objects.borrow().values() {
            if let Some(v) = obj.slot.value.borrow().as_deref() {
                out.push_str(v);
                out.push('\n');
            }
        }
        out
    }

    /// Everything ever written (every KV key and value put, every object state
    /// saved), including what was overwritten or deleted since.
    pub fn everything_ever_written(&self) -> Vec<String> {
        let mut out = self.kv_history.borrow().clone();
        for obj in self.objects.borrow().values() {
            out.extend(obj.slot.history.borrow().iter().cloned());
        }
        out
    }

    /// The stored state of a grant's object, as JSON.
    pub fn object_state(&self, grant_id: &str) -> Option<String> {
        self.objects
            .borrow()
            .get(grant_id)
            .and_then(|o| o.slot.value.borrow().clone())
    }

    pub fn set_object_state(&self, grant_id: &str, json: &str) {
        let obj = self.object(grant_id);
        *obj.slot.value.borrow_mut() = Some(json.to_owned());
    }

    pub fn object_writes(&self, grant_id: &str) -> u32 {
        self.objects
            .borrow()
            .get(grant_id)
            .map_or(0, |o| o.slot.writes.get())
    }

    pub fn alarm_in(&self, grant_id: &str) -> Option<u64> {
        self.objects
            .borrow()
            .get(grant_id)
            .and_then(|o| o.slot.alarm_in.get())
    }

    /// Clears a grant object's alarm (it fired): the alarm sets it again if
    /// it has more to do.
    pub fn take_alarm(&self, grant_id: &str) {
        if let Some(o) = self.objects.borrow().get(grant_id) {
            o.slot.alarm_in.set(None);
        }
    }

    /// Runs a grant object's alarm, as the platform would when it fires.
    pub fn fire_alarm(&self, grant_id: &str) {
        let obj = self.object(grant_id);
        let storage = Faulty {
            inner: &obj.slot,
            plan: &self.faults,
            name: "grant",
        };
        block_on(obj.core.alarm(&storage, self, self.now.get()));
    }

    fn object(&self, grant_id: &str) -> Rc<Object> {
        self.objects
            .borrow_mut()
            .entry(grant_id.to_owned())
            .or_insert_with(|| {
                Rc::new(Object {
                    core: GrantObject::default(),
                    slot: ObjectSlot::default(),
                })
            })
            .clone()
    }

    fn index_slot(&self, name: &str) -> Rc<IndexSlot> {
        self.indexes
            .borrow_mut()
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// The grant ids an index object holds now (raw, before any liveness check).
    pub fn index_grants(&self, name: &str) -> Vec<String> {
        self.index_slot(name)
            .0
            .borrow()
            .keys()
            .map(|k| k.trim_start_matches("g:").to_owned())
            .collect()
    }

    /// Registers a client as `/register` would, and returns it.
    pub fn register(&self, metadata: serde_json::Value) -> Client {
        let validated = RegistrationRequest::from_json(metadata.to_string().as_bytes())
            .and_then(register::validate)
            .expect("valid registration");
        let n = self.rng.0.get();
        self.rng.0.set(n + 1);
        let id = format!("client-{n:012}");
        let secret_hash = (!validated.is_public()).then(|| register::client_secret_hash("s3cret"));
        let client = Client::from_registration(
            validated,
            id.clone(),
            secret_hash,
            self.now.get(),
            self.config.client_ttl,
        );
        self.kv_set(&keys::client(&id), &serde_json::to_string(&client).unwrap());
        client
    }

    pub fn public_client(&self) -> Client {
        self.register(serde_json::json!({
            "redirect_uris": [REDIRECT],
            "client_name": "Test App",
            "token_endpoint_auth_method": "none",
        }))
    }

    /// This deployment's view of a request (no cookies).
    pub fn site<'a>(&'a self, cookie_header: Option<&'a str>) -> Site<'a> {
        Site {
            config: &self.config,
            issuer: ISSUER,
            host: "mcp.example",
            secure: true,
            cookie_header,
            now: self.now.get(),
            rng: &self.rng,
            documents: &self.docs,
            isolate: &self.isolate,
        }
    }
}

impl ProviderSource for Platform {
    fn provider(
        &self,
    ) -> LocalBoxFuture<'_, Result<Rc<dyn IdentityProvider>, mcp_oauth_worker::http::HttpError>>
    {
        Box::pin(async move { Ok(self.provider.clone() as Rc<dyn IdentityProvider>) })
    }
}

impl Kv for Platform {
    fn get<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            before(&self.faults, &format!("kv.get {}", key_kind(key)), false)
                .await
                .map_err(StoreError)?;
            self.count(|c| c.kv_reads += 1);
            Ok(self.kv_get(key))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: u64,
    ) -> LocalBoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            assert!(ttl > 0, "a KV put without a lifetime: {key}");
            let op = format!("kv.put {}", key_kind(key));
            let fault = before(&self.faults, &op, true).await.map_err(StoreError)?;
            if self.failing_puts.get() > 0 {
                self.failing_puts.set(self.failing_puts.get() - 1);
                return Err(StoreError("injected put failure".into()));
            }
            self.count(|c| c.kv_writes += 1);
            self.kv_history.borrow_mut().push(key.to_owned());
            self.kv_history.borrow_mut().push(value.to_owned());
            let expires = self.now.get() + ttl.max(60);
            self.kv
                .borrow_mut()
                .insert(key.to_owned(), (value.to_owned(), expires));
            after(fault, &op, ()).map_err(StoreError)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let op = format!("kv.delete {}", key_kind(key));
            let fault = before(&self.faults, &op, true).await.map_err(StoreError)?;
            if self.failing_deletes.get() > 0 {
                self.failing_deletes.set(self.failing_deletes.get() - 1);
                return Err(StoreError("injected delete failure".into()));
            }
            self.count(|c| c.kv_deletes += 1);
            self.kv.borrow_mut().remove(key);
            after(fault, &op, ()).map_err(StoreError)
        })
    }

    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<KeyPage, StoreError>> {
        Box::pin(async move {
            before(
                &self.faults,
                &format!("kv.list {}", key_kind(prefix)),
                false,
            )
            .await
            .map_err(StoreError)?;
            self.count(|c| c.kv_lists += 1);
            // The cursor is the last key of the previous page.
            let all = self.kv_keys(prefix);
            let start = cursor.map_or(0, |c| {
                all.iter().position(|k| k.as_str() > c).unwrap_or(all.len())
            });
            let page: Vec<String> = all.iter().skip(start).take(limit).cloned().collect();
            let next = (start + page.len() < all.len())
                .then(|| page.last().cloned())
                .flatten();
            Ok((page, next))
        })
    }
}

impl GrantObjects for Platform {
    fn grant<'a>(
        &'a self,
        grant_id: &'a str,
        command: &'a GrantCommand,
    ) -> LocalBoxFuture<'a, Result<GrantAnswer, StoreError>> {
        Box::pin(async move {
            let op = format!("grant.call {}", command_kind(command));
            let fault = before(&self.faults, &op, true).await.map_err(StoreError)?;
            self.count(|c| c.grant_calls += 1);
            // Exactly what crosses to the Durable Object and back: JSON.
            let wire = serde_json::to_string(command).unwrap();
            let command: GrantCommand = serde_json::from_str(&wire).unwrap();
            let obj = self.object(grant_id);
            let svc = Services {
                store: self,
                keys: Keys {
                    ring: &self.config.keyring,
                    access_ttl: self.config.access_token_ttl,
                    refresh_ttl: self.config.refresh_token_ttl,
                    max_lifetime: self.config.grant_max_lifetime,
                },
                allowed_users: &self.config.allowed_users,
                upstream: self,
                http: &NoHttp,
                now: self.now.get(),
                rng: &self.rng,
            };
            let storage = Faulty {
                inner: &obj.slot,
                plan: &self.faults,
                name: "grant",
            };
            let answer = obj.core.run(&storage, &svc, command).await;
            let wire = serde_json::to_string(&answer).unwrap();
            after(fault, &op, serde_json::from_str(&wire).unwrap()).map_err(StoreError)
        })
    }
}

impl IndexObjects for Platform {
    fn index<'a>(
        &'a self,
        name: &'a str,
        command: &'a IndexCommand,
    ) -> LocalBoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            let op = format!("index.call {}", command_kind_index(command));
            let fault = before(&self.faults, &op, true).await.map_err(StoreError)?;
            if self.failing_index_calls.get() > 0 {
                self.failing_index_calls
                    .set(self.failing_index_calls.get() - 1);
                return Err(StoreError("injected index failure".into()));
            }
            self.count(|c| c.index_calls += 1);
            let wire = serde_json::to_string(command).unwrap();
            let command: IndexCommand = serde_json::from_str(&wire).unwrap();
            let slot = self.index_slot(name);
            let storage = Faulty {
                inner: &*slot,
                plan: &self.faults,
                name: "index",
            };
            let answer = index::run(&storage, command, self.now.get()).await;
            let wire = serde_json::to_string(&answer).unwrap();
            after(
                fault,
                &op,
                serde_json::from_str::<IndexAnswer>(&wire).unwrap(),
            )
            .map_err(StoreError)?
            .map_err(StoreError)
        })
    }
}

/// The kind of a KV key (`access`, `client`, ...), for the fault trace.
fn key_kind(key: &str) -> &str {
    key.split(':').next().unwrap_or(key)
}

/// A grant command's name (`refresh`, `redeem`, ...), for the fault trace.
fn command_kind(command: &GrantCommand) -> String {
    let json = serde_json::to_value(command).unwrap_or_default();
    match json {
        serde_json::Value::String(s) => s,
        serde_json::Value::Object(m) => m.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

fn command_kind_index(command: &IndexCommand) -> &'static str {
    match command {
        IndexCommand::Add(..) => "add",
        IndexCommand::Remove(..) => "remove",
        IndexCommand::Page(..) => "page",
        IndexCommand::SignOut(..) => "sign_out",
        IndexCommand::SignedOutAt => "signed_out_at",
    }
}

// ---------------------------------------------------------------------------
// A browser: a cookie jar over replies

/// The cookies a browser holds for the server, from `Set-Cookie` headers.
#[derive(Default, Clone)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    /// Takes in every `Set-Cookie` of `reply` (a `Max-Age=0` deletes).
    pub fn take(&mut self, reply: &Reply) {
        for (name, value) in &reply.headers {
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let first = value.split(';').next().unwrap_or("");
            let (k, v) = first.split_once('=').unwrap();
            if value.contains("Max-Age=0") {
                self.0.remove(k);
            } else {
                self.0.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    /// The `Cookie` header the browser sends.
    pub fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// The value of a hidden form field in an HTML page.
pub fn form_field(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle).expect("field present") + needle.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

pub fn body_text(reply: &Reply) -> String {
    String::from_utf8(reply.body.clone()).unwrap()
}

pub fn location(reply: &Reply) -> String {
    reply
        .header_value("Location")
        .unwrap_or_else(|| panic!("no Location in a {} reply", reply.status))
        .to_owned()
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let found = parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    found
}

// ---------------------------------------------------------------------------
// Client ID Metadata Documents

/// Scripted answers to document fetches, an isolate cache, a stand-in
/// signature check, and a jti register.
///
/// The stand-in signature of `signed` under a key is `fake_sign(kid, signed)`:
/// real RS256/ES256 verification is WebCrypto's, tested in e2e; here only the
/// core's plumbing around it is.
#[derive(Default)]
pub struct FakeDocuments {
    pub answers: RefCell<HashMap<String, Result<Fetched, FetchError>>>,
    pub fetches: RefCell<Vec<String>>,
    pub cache: RefCell<DocumentCache>,
    pub used: RefCell<HashMap<String, u64>>,
    pub faults: Rc<FaultPlan>,
}

pub fn fake_sign(key: &serde_json::Value, signed: &[u8]) -> Vec<u8> {
    let mut out = key.to_string().into_bytes();
    out.extend_from_slice(signed);
    mcp_oauth_worker::oauth::crypto::hash_token(&String::from_utf8_lossy(&out)).into_bytes()
}

impl FakeDocuments {
    /// Serves `doc` at `url` with 200 and `cache_control`.
    pub fn serve(&self, url: &str, doc: &serde_json::Value, cache_control: Option<&str>) {
        self.answer(
            url,
            Ok(Fetched {
                status: 200,
                cache_control: cache_control.map(str::to_owned),
                content_type: Some("application/json".into()),
                body: doc.to_string().into_bytes(),
            }),
        );
    }
    pub fn answer(&self, url: &str, answer: Result<Fetched, FetchError>) {
        self.answers.borrow_mut().insert(url.to_owned(), answer);
    }
    pub fn fetch_count(&self, url: &str) -> usize {
        self.fetches.borrow().iter().filter(|u| *u == url).count()
    }
}

impl ClientDocuments for FakeDocuments {
    fn fetch<'a>(&'a self, url: &'a str) -> LocalBoxFuture<'a, Result<Fetched, FetchError>> {
        Box::pin(async move {
            before(&self.faults, "fetch.document", false)
                .await
                .map_err(FetchError::Unreachable)?;
            self.fetches.borrow_mut().push(url.to_owned());
            yield_now().await;
            self.answers
                .borrow()
                .get(url)
                .cloned()
                .unwrap_or(Err(FetchError::Unreachable("no such host".into())))
        })
    }
    fn cache(&self) -> &RefCell<DocumentCache> {
        &self.cache
    }
    fn verify_signature<'a>(
        &'a self,
        _alg: SigAlg,
        jwk: &'a serde_json::Value,
        signed: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, String>> {
        Box::pin(async move { Ok(fake_sign(jwk, signed) == signature) })
    }
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        until: u64,
    ) -> LocalBoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            yield_now().await;
            let mut used = self.used.borrow_mut();
            if used.contains_key(key) {
                return Ok(false);
            }
            used.insert(key.to_owned(), until);
            Ok(true)
        })
    }
}
