//! A legacy `tools/call` waiting for the client's answers (sessions of 2025-06-18 and
//! 2025-11-25): what the session's Durable Object keeps between rounds, and the bounds on
//! waiting.
//!
//! Spec sections: "Transports: Streamable HTTP" (requests sent on the POST's SSE stream, the
//! client's answers as new POSTs), "Client Features: Elicitation", "Sampling" and "Roots".

use serde_json::{json, Map, Value};

use crate::mcp::jsonrpc::RequestId;
use crate::mcp::protocol::{ClientCaps, LogLevel};

/// Requests of a legacy session waiting for the client's answer at one time.
pub const MAX_PENDING_PER_SESSION: usize = 16;
/// Rounds of one legacy call (each: requests sent, answers awaited, handler run again).
pub const MAX_ROUNDS: u32 = 8;
/// How long a legacy call waits for the client's answers to one round, in seconds.
pub const ANSWER_WAIT_SECS: u64 = 120;

/// A legacy `tools/call` waiting for the client's answers: its requests go out on the POST's
/// SSE stream, and the call runs again when the answers (new POSTs, maybe to another isolate)
/// have reached the session's Durable Object.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCall {
    /// The id of the client's `tools/call`, for the final response.
    pub request_id: RequestId,
    pub tool: String,
    pub arguments: Value,
    pub caps: ClientCaps,
    /// The call's `_meta.progressToken` and the session's log level: the round that finishes
    /// sends its progress and log notifications on the stream before the response.
    pub progress_token: Option<Value>,
    pub log_level: Option<LogLevel>,
    /// Answers the handler used in earlier rounds.
    pub answers: Map<String, Value>,
    /// This round's requests, keyed as the handler named them.
    pub requests: Map<String, Value>,
    /// Rounds so far (1 for the first).
    pub round: u32,
}

impl PendingCall {
    /// This round's JSON-RPC requests to the client, with ids `<prefix><key>`; `prefix` is
    /// random per round, so ids never repeat within a session.
    pub fn messages(&self, prefix: &str) -> Vec<(String, Value)> {
        self.requests
            .iter()
            .map(|(key, request)| {
                let id = format!("{prefix}{key}");
                let message = json!({
                    "jsonrpc": "2.0",
                    "id": id,
                    "method": request["method"],
                    "params": request["params"],
                });
                (id, message)
            })
            .collect()
    }
}
