//! The Durable Object that holds one grant index (`oauth::index`): a user's
//! (`user:<id>`) or a client's (`client:<id>`) grants, one storage value per
//! grant. Every decision is in the core's `oauth::index::run`.

use worker::{durable_object, DurableObject, Env, ListOptions, Request, Response, State};

use crate::oauth::index::{self, IndexAnswer, IndexCommand, IndexStorage};
use crate::outbound::LocalBoxFuture;

use super::platform::now;

#[durable_object(fetch)]
pub struct GrantIndex {
    state: State,
}

struct Storage<'a>(&'a State);

fn logged(context: &str, err: worker::Error) -> String {
    worker::console_error!("grant index: {context}: {err}");
    context.to_owned()
}

impl IndexStorage for Storage<'_> {
    fn put<'a>(&'a self, key: &'a str, value: &'a str) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0
                .storage()
                .put(key, value)
                .await
                .map_err(|e| logged("storage write", e))
        })
    }
    fn delete<'a>(&'a self, key: &'a str) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0
                .storage()
                .delete(key)
                .await
                .map(|_| ())
                .map_err(|e| logged("storage delete", e))
        })
    }
    fn list<'a>(
        &'a self,
        prefix: &'a str,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<Vec<(String, String)>, String>> {
        Box::pin(async move {
            let map = self
                .0
                .storage()
                .list_with_options(ListOptions::new().prefix(prefix).limit(limit))
                .await
                .map_err(|e| logged("storage list", e))?;
            let mut out = Vec::new();
            map.for_each(&mut |value, key| {
                if let (Some(k), Some(v)) = (key.as_string(), value.as_string()) {
                    out.push((k, v));
                }
            });
            Ok(out)
        })
    }
}

impl DurableObject for GrantIndex {
    fn new(state: State, _env: Env) -> Self {
        GrantIndex { state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let text = req.text().await?;
        let answer: IndexAnswer = match serde_json::from_str::<IndexCommand>(&text) {
            Ok(command) => index::run(&Storage(&self.state), command, now()).await,
            Err(e) => {
                worker::console_error!("grant index: malformed command: {e}");
                Err("malformed command".into())
            }
        };
        Response::from_json(&answer)
    }
}
