//! A grant index (`oauth::index`): a user's (`user:<id>`) or a client's
//! (`client:<id>`) grants, one storage value per grant. The indexes are
//! objects of the `GrantObject` class (binding `GRANTS`) under those names,
//! which no grant id can take (grant ids have no `:`): a class of their own
//! would cost the bundle about 1 KiB. Every decision is in the core's
//! `oauth::index::run`.

use worker::{Response, State};

use crate::oauth::index::{self, IndexAnswer, IndexCommand, IndexStorage};
use crate::outbound::LocalBoxFuture;

use super::platform::now;

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
                .put_raw(key, value)
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
            // The object holds nothing but its entries: list them all (no
            // options object to build) and keep the first `limit`.
            let map = self
                .0
                .storage()
                .list()
                .await
                .map_err(|e| logged("storage list", e))?;
            let mut out = Vec::new();
            map.for_each(&mut |value, key| {
                if let (Some(k), Some(v)) = (key.as_string(), value.as_string()) {
                    if k.starts_with(prefix) && out.len() < limit {
                        out.push((k, v));
                    }
                }
            });
            Ok(out)
        })
    }
}

/// Runs an index command in the object `state` and answers it.
pub async fn answer(state: &State, command: IndexCommand) -> worker::Result<Response> {
    let answer: IndexAnswer = index::run(&Storage(state), command, now()).await;
    // On the wire: the array of grant ids, or a string saying what failed
    // (read back through `Value`, with no decoder of its own).
    let text = match &answer {
        Ok(ids) => serde_json::to_string(ids),
        Err(e) => serde_json::to_string(e),
    }
    .unwrap_or_else(|_| "\"encode\"".into());
    Response::ok(text)
}
