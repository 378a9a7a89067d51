//! The Durable Object that serializes one grant: every command about a grant
//! (see `oauth::token::GrantCommand`) runs here, one at a time, against state
//! kept in the object's own strongly consistent storage.
//!
//! Each command reads the state, runs the pure `oauth::token::execute`, and
//! stores the result before anything else is awaited, so no other command can
//! interleave between the read and the write. KV effects (access-token records,
//! the grant index) are applied afterwards.

use worker::{durable_object, DurableObject, Env, Request, Response, State};

use crate::oauth::crypto::OsEntropy;
use crate::oauth::grant::{GrantState, Keys};
use crate::oauth::token::{execute, GrantAnswer, GrantCommand};

use super::platform::{now, Kv};

const STATE_KEY: &str = "grant";

// `alarm` generates the fetch and alarm entry points only (not the WebSocket and
// socket ones, which would add wasm for handlers this object does not have).
#[durable_object(alarm)]
pub struct GrantObject {
    state: State,
    env: Env,
}

impl DurableObject for GrantObject {
    fn new(state: State, env: Env) -> Self {
        GrantObject { state, env }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let text = req.text().await?;
        let answer = match serde_json::from_slice::<GrantCommand>(text.as_bytes()) {
            Ok(command) => self.run(command).await,
            Err(e) => {
                worker::console_error!("grant object: malformed command: {e}");
                GrantAnswer::Internal
            }
        };
        Response::from_json(&answer)
    }

    /// The grant has expired: forget it.
    async fn alarm(&self) -> worker::Result<Response> {
        self.state.storage().delete_all().await?;
        Response::empty()
    }
}

impl GrantObject {
    async fn load(&self) -> worker::Result<Option<GrantState>> {
        let raw: Option<String> = self.state.storage().get(STATE_KEY).await?;
        Ok(raw.and_then(|r| serde_json::from_slice(r.as_bytes()).ok()))
    }

    async fn run(&self, command: GrantCommand) -> GrantAnswer {
        let config = match super::load_config(&self.env) {
            Ok(c) => c,
            Err(_) => return GrantAnswer::Internal,
        };
        let keys = Keys {
            server_secret: config.secret_key.expose(),
            access_ttl: config.access_token_ttl,
            refresh_ttl: config.refresh_token_ttl,
        };
        let current = match self.load().await {
            Ok(s) => s,
            Err(e) => {
                worker::console_error!("grant object: storage read: {e}");
                return GrantAnswer::Internal;
            }
        };
        let now = now();
        let (next, effects, answer) = execute(current, command, now, &keys, &OsEntropy);
        let storage = self.state.storage();
        let stored = match &next {
            Some(state) => match serde_json::to_string(state) {
                Ok(json) => storage.put(STATE_KEY, json).await,
                Err(e) => {
                    worker::console_error!("grant object: encode state: {e}");
                    return GrantAnswer::Internal;
                }
            },
            None => storage.delete_all().await,
        };
        if let Err(e) = stored {
            worker::console_error!("grant object: storage write: {e}");
            return GrantAnswer::Internal;
        }
        if let Some(state) = &next {
            // Clean up after the grant's last possible use.
            let in_ms = (state.expires_at.saturating_sub(now) + 60) as i64 * 1000;
            if let Err(e) = storage.set_alarm(in_ms).await {
                worker::console_error!("grant object: set alarm: {e}");
            }
        }
        if !effects.is_empty() {
            let applied = match Kv::from_env(&self.env) {
                Ok(kv) => kv.apply(&effects).await,
                Err(e) => Err(e),
            };
            if applied.is_err() {
                return GrantAnswer::Internal;
            }
        }
        answer
    }
}
