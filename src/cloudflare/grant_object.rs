//! The Durable Object that serializes one grant. It only gives the core's
//! `oauth::grant::object::GrantObject` its storage, KV, the clock, randomness
//! and the identity provider; every decision is made there.

use std::rc::Rc;

use worker::{durable_object, DurableObject, Env, Request, Response, State};

use crate::http::HttpError;
use crate::oauth::crypto::OsEntropy;
use crate::oauth::grant::command::{GrantAnswer, GrantCommand};
use crate::oauth::grant::object::{GrantObject as Core, ObjectStorage, Services};
use crate::oauth::grant::{GrantError, Keys};
use crate::outbound::LocalBoxFuture;
use crate::upstream::{IdentityProvider, ProviderSource};

use super::platform::{now, FetchClient, KvStore};

const STATE_KEY: &str = "grant";

// `alarm` generates the fetch and alarm entry points only (not the WebSocket and
// socket ones, which would add wasm for handlers this object does not have).
#[durable_object(alarm)]
pub struct GrantObject {
    state: State,
    env: Env,
    core: Core,
}

struct Storage<'a>(&'a State);

fn logged(context: &str, err: worker::Error) -> String {
    worker::console_error!("grant object: {context}: {err}");
    context.to_owned()
}

impl ObjectStorage for Storage<'_> {
    fn load(&self) -> LocalBoxFuture<'_, Result<Option<String>, String>> {
        Box::pin(async move {
            super::platform::storage_value(&self.0.storage(), STATE_KEY)
                .await
                .map(|v| v.as_string())
                .map_err(|e| logged("storage read", e))
        })
    }
    fn save<'a>(&'a self, state: &'a str) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0
                .storage()
                .put_raw(STATE_KEY, state)
                .await
                .map_err(|e| logged("storage write", e))
        })
    }
    fn erase(&self) -> LocalBoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.0
                .storage()
                .delete_all()
                .await
                .map_err(|e| logged("storage erase", e))
        })
    }
    fn set_alarm(&self, in_secs: u64) -> LocalBoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.0
                .storage()
                .set_alarm((in_secs as i64) * 1000)
                .await
                .map_err(|e| logged("set alarm", e))
        })
    }
}

/// The deployment's provider, built only when a refresh needs it.
struct Upstream<'a> {
    config: &'a crate::config::Config,
}

impl ProviderSource for Upstream<'_> {
    fn provider(&self) -> LocalBoxFuture<'_, Result<Rc<dyn IdentityProvider>, HttpError>> {
        Box::pin(async move {
            // The origin only matters for building sign-in URLs, which a refresh
            // never does.
            let origin = self.config.public_url.clone().unwrap_or_default();
            super::upstream::provider(self.config, &origin)
                .await
                .map(Rc::from)
        })
    }
}

impl DurableObject for GrantObject {
    fn new(state: State, env: Env) -> Self {
        GrantObject {
            state,
            env,
            core: Core::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let text = req.text().await?;
        // The grant indexes (`user:<id>`, `client:<id>`) are objects of this
        // class too (one class fewer in the bundle); their commands differ.
        if let Ok(command) = serde_json::from_str(&text) {
            return super::index_object::answer(&self.state, command).await;
        }
        let answer: GrantAnswer = match serde_json::from_str::<GrantCommand>(&text) {
            Ok(command) => self.run(command).await,
            Err(e) => {
                worker::console_error!("grant object: malformed command: {e}");
                Err(GrantError::Internal)
            }
        };
        Response::from_json(&answer)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        if let Ok(store) = KvStore::from_env(&self.env) {
            self.core.alarm(&Storage(&self.state), &store, now()).await;
        }
        Response::empty()
    }
}

impl GrantObject {
    async fn run(&self, command: GrantCommand) -> GrantAnswer {
        let config = super::load_config(&self.env).map_err(|_| GrantError::Internal)?;
        let store = KvStore::from_env(&self.env).map_err(|_| GrantError::Internal)?;
        let upstream = Upstream { config: &config };
        let svc = Services {
            store: &store,
            keys: Keys {
                ring: &config.keyring,
                access_ttl: config.access_token_ttl,
                refresh_ttl: config.refresh_token_ttl,
                max_lifetime: config.grant_max_lifetime,
            },
            allowed_users: &config.allowed_users,
            upstream: &upstream,
            http: &FetchClient,
            now: now(),
            rng: &OsEntropy,
        };
        self.core.run(&Storage(&self.state), &svc, command).await
    }
}
