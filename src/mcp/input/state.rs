//! The sealed `requestState` of a 2026-07-28 round: the answers given so far, AEAD-sealed
//! and bound to the user, the method, the name and the arguments, so any isolate can continue
//! the call and no other request can use the state; and the reading of a retry's
//! `inputResponses`.
//!
//! Spec section: "Multi Round-Trip Requests" (2026-07-28, SEP-2322: `InputRequiredResult`,
//! `inputRequests`, `inputResponses`, `requestState`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::mcp::jsonrpc::ErrorObject;

/// Entries accepted in one retry's `inputResponses`; more is Invalid params.
pub const MAX_INPUT_RESPONSES: usize = 32;
/// How long a `requestState` stays valid after it was issued.
pub const STATE_TTL_SECS: u64 = 600;
/// Largest `requestState` issued or accepted, in characters.
pub const MAX_STATE_CHARS: usize = 64 * 1024;

/// The AEAD purpose of a sealed request state, so no other sealed value opens as one.
pub const STATE_PURPOSE: &str = "mcp:request-state";

/// Seals and opens request states; the Worker implements it with the server's key ring
/// (`SECRET_KEY`, AES-256-GCM), so any isolate can continue any request.
pub trait StateSeal {
    /// AEAD-encrypts `plaintext`, bound to `context` (associated data).
    fn seal(&self, plaintext: &[u8], context: &str) -> Option<String>;
    /// The plaintext, or `None` when `sealed` was not made by [`StateSeal::seal`] with this
    /// `context` under a current key (tampered, foreign, or another request's).
    fn open(&self, sealed: &str, context: &str) -> Option<Vec<u8>>;
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// What a request state binds to: the caller, the method, and the request's salient params.
pub struct StateBinding<'a> {
    pub user_id: &'a str,
    pub method: &'a str,
    /// The tool (or prompt, resource) name.
    pub name: &'a str,
    pub arguments: &'a Value,
}

impl StateBinding<'_> {
    /// The associated data: a state issued for one user, method, name or set of arguments
    /// does not open for another.
    fn context(&self) -> String {
        let mut canonical = Vec::new();
        write_canonical(self.arguments, &mut canonical);
        let digest = Sha256::digest(&canonical);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}\n{}\n{}\n{hex}", self.user_id, self.method, self.name)
    }
}

/// JSON with object keys sorted, so the digest does not depend on the client's key order.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String(k.clone()).to_string().as_bytes());
                out.push(b':');
                write_canonical(&map[k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

#[derive(Serialize, Deserialize)]
struct SealedState {
    /// Expiry, seconds since the epoch.
    exp: u64,
    answers: Map<String, Value>,
}

/// The answers of a 2026-07-28 retry: those sealed in `requestState` (checked) plus the new
/// `inputResponses`. A request without either is a first call (no answers, nothing read).
pub fn modern_answers(
    params: &Map<String, Value>,
    binding: &StateBinding<'_>,
    seal: &dyn StateSeal,
) -> Result<Map<String, Value>, ErrorObject> {
    let mut answers = match params.get("requestState") {
        None => Map::new(),
        Some(Value::String(sealed)) => open_state(sealed, binding, seal)?,
        Some(_) => {
            return Err(ErrorObject::invalid_params(
                "params.requestState must be the string this server returned",
            ))
        }
    };
    match params.get("inputResponses") {
        None => {}
        Some(Value::Object(responses)) => {
            if responses.len() > MAX_INPUT_RESPONSES {
                return Err(ErrorObject::invalid_params(format!(
                    "params.inputResponses has {} entries; at most {MAX_INPUT_RESPONSES} are accepted",
                    responses.len()
                )));
            }
            for (k, v) in responses {
                answers.insert(k.clone(), v.clone());
            }
        }
        Some(_) => {
            return Err(ErrorObject::invalid_params(
                "params.inputResponses must be an object mapping each inputRequests key to the \
                 client's result",
            ))
        }
    }
    Ok(answers)
}

fn open_state(
    sealed: &str,
    binding: &StateBinding<'_>,
    seal: &dyn StateSeal,
) -> Result<Map<String, Value>, ErrorObject> {
    let refused = || {
        ErrorObject::invalid_params(
            "params.requestState is not one this server issued for this user and request (or \
             it was altered); call again without requestState and inputResponses",
        )
    };
    if sealed.len() > MAX_STATE_CHARS {
        return Err(refused());
    }
    let plain = seal.open(sealed, &binding.context()).ok_or_else(refused)?;
    let state: SealedState = serde_json::from_slice(&plain).map_err(|_| refused())?;
    if state.exp <= seal.now() {
        return Err(ErrorObject::invalid_params(format!(
            "params.requestState has expired (it is valid for {STATE_TTL_SECS} seconds); call \
             again without requestState and inputResponses"
        )));
    }
    Ok(state.answers)
}

/// The `InputRequiredResult` of a 2026-07-28 round: the requests, and the answers so far
/// sealed into `requestState` (always present: it also binds the retry to this request).
pub fn input_required_result(
    requests: Map<String, Value>,
    answers: Map<String, Value>,
    binding: &StateBinding<'_>,
    seal: &dyn StateSeal,
) -> Result<Value, ErrorObject> {
    let state = SealedState {
        exp: seal.now() + STATE_TTL_SECS,
        answers,
    };
    let plain = serde_json::to_vec(&state)
        .map_err(|_| ErrorObject::internal("the request state could not be encoded"))?;
    let sealed = seal
        .seal(&plain, &binding.context())
        .ok_or_else(|| ErrorObject::internal("the request state could not be sealed"))?;
    if sealed.len() > MAX_STATE_CHARS {
        return Err(ErrorObject::invalid_params(format!(
            "the answers given so far are too large to carry to the next round (more than \
             {MAX_STATE_CHARS} characters sealed)"
        )));
    }
    Ok(json!({
        "resultType": "input_required",
        "inputRequests": requests,
        "requestState": sealed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_ignores_key_order() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_canonical(&json!({"b": [1, {"y": 2, "x": "\n"}], "a": null}), &mut a);
        write_canonical(&json!({"a": null, "b": [1, {"x": "\n", "y": 2}]}), &mut b);
        assert_eq!(a, b);
        assert_eq!(
            String::from_utf8(a).unwrap(),
            r#"{"a":null,"b":[1,{"x":"\n","y":2}]}"#
        );
    }
}
