//! The platform of one deployment, in memory: KV with TTLs, one grant object per
//! grant running `oauth::grant::object::GrantObject` (commands and answers through
//! JSON), the grant index objects, and the fault plan every operation asks first.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll};

use mcp_oauth_worker::config::Config;
use mcp_oauth_worker::keys;
use mcp_oauth_worker::oauth::grant::command::{GrantAnswer, GrantCommand};
use mcp_oauth_worker::oauth::grant::object::{GrantObject, ObjectStorage, Services};
use mcp_oauth_worker::oauth::grant::Keys;
use mcp_oauth_worker::oauth::index::{self, IndexAnswer, IndexCommand, IndexStorage};
use mcp_oauth_worker::oauth::register::{self, Client, RegistrationRequest};
use mcp_oauth_worker::oauth::site::Site;
use mcp_oauth_worker::oauth::store::{GrantObjects, IndexObjects, KeyPage, Kv, StoreError};
use mcp_oauth_worker::outbound::LocalBoxFuture;
use mcp_oauth_worker::upstream::{IdentityProvider, ProviderSource};

use super::faults::{after, before, FaultPlan};
use super::{
    block_on, config_with, yield_now, CountingEntropy, FakeDocuments, FakeProvider, NoHttp, ISSUER,
    REDIRECT, T0,
};

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
