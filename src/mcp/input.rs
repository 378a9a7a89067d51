//! Asking the user (elicitation) or the client's model (sampling, roots) for input while a
//! tool runs, written once for both protocol generations.
//!
//! Spec sections: "Multi Round-Trip Requests" (2026-07-28, SEP-2322: `InputRequiredResult`,
//! `inputRequests`, `inputResponses`, `requestState`), "Client Features: Elicitation",
//! "Sampling" and "Roots" (2025-06-18, 2025-11-25: requests the server sends on the POST's
//! SSE stream), and `MissingRequiredClientCapabilityError` (-32021, 2026-07-28).
//!
//! The model is multi-round in both generations: a handler asks through [`Input`] (its call
//! context's `input`), gets `None` for what is not answered yet, and returns. When it asked
//! for something, the server ends the round: in 2026-07-28 with an `InputRequiredResult`
//! whose sealed `requestState` carries the answers so far (the client retries the call with
//! the new answers); with a legacy session by sending the requests on the POST's stream and
//! running the handler again once the answers have come back. Either way the handler runs
//! again from the top with every answer given so far, so it must not have side effects
//! before it has all its answers.
//!
//! ```ignore
//! let Some(answer) = call.input.elicit("confirm", Elicitation::confirm("Delete the file?")) else {
//!     return ToolOutput::text("waiting for confirmation"); // not sent: the server asks instead
//! };
//! ```
//!
//! Bounds (documented in docs/mcp.md): at most [`MAX_INPUT_REQUESTS`] requests per round,
//! [`MAX_INPUT_RESPONSES`] answers per retry, a sealed state of at most [`MAX_STATE_CHARS`]
//! that lapses after [`STATE_TTL_SECS`], and (legacy sessions) at most
//! [`MAX_PENDING_PER_SESSION`] requests waiting for answers per session.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::jsonrpc::{ErrorObject, RequestId};
use super::tools::schema;

/// Requests one round may ask at once; a handler asking more gets a tool error.
pub const MAX_INPUT_REQUESTS: usize = 8;
/// Entries accepted in one retry's `inputResponses`; more is Invalid params.
pub const MAX_INPUT_RESPONSES: usize = 32;
/// How long a `requestState` stays valid after it was issued.
pub const STATE_TTL_SECS: u64 = 600;
/// Largest `requestState` issued or accepted, in characters.
pub const MAX_STATE_CHARS: usize = 64 * 1024;
/// Requests of a legacy session waiting for the client's answer at one time.
pub const MAX_PENDING_PER_SESSION: usize = 16;
/// Rounds of one legacy call (each: requests sent, answers awaited, handler run again).
pub const MAX_ROUNDS: u32 = 8;
/// How long a legacy call waits for the client's answers to one round, in seconds.
pub const ANSWER_WAIT_SECS: u64 = 120;
/// `MissingRequiredClientCapabilityError` (2026-07-28).
pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;

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

/// What a client declared it can answer (`ClientCapabilities`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCaps {
    #[serde(default)]
    pub elicitation_form: bool,
    #[serde(default)]
    pub elicitation_url: bool,
    #[serde(default)]
    pub sampling: bool,
    #[serde(default)]
    pub roots: bool,
}

impl ClientCaps {
    /// Reads a `ClientCapabilities` object. `elicitation: {}` means form mode (the spec keeps
    /// that reading for clients written before modes existed).
    pub fn from_value(value: Option<&Value>) -> ClientCaps {
        let Some(caps) = value.and_then(Value::as_object) else {
            return ClientCaps::default();
        };
        let elicitation = caps.get("elicitation").and_then(Value::as_object);
        ClientCaps {
            elicitation_form: elicitation
                .is_some_and(|e| e.contains_key("form") || !e.contains_key("url")),
            elicitation_url: elicitation.is_some_and(|e| e.contains_key("url")),
            sampling: caps.get("sampling").is_some_and(Value::is_object),
            roots: caps.get("roots").is_some_and(Value::is_object),
        }
    }
}

/// A form the user fills in (`elicitation/create`, form mode).
#[derive(Debug, Clone, PartialEq)]
pub struct Elicitation {
    pub message: String,
    /// A flat JSON Schema object of primitive properties (the spec's restricted subset).
    pub requested_schema: Value,
}

impl Elicitation {
    pub fn form(message: impl Into<String>, requested_schema: Value) -> Elicitation {
        Elicitation {
            message: message.into(),
            requested_schema,
        }
    }

    /// A yes/no question: one required boolean field `confirm`.
    pub fn confirm(message: impl Into<String>) -> Elicitation {
        Elicitation::form(
            message,
            json!({
                "type": "object",
                "properties": {"confirm": {"type": "boolean", "title": "Confirm"}},
                "required": ["confirm"]
            }),
        )
    }

    fn request(&self) -> Value {
        json!({
            "method": "elicitation/create",
            "params": {"message": self.message, "requestedSchema": self.requested_schema}
        })
    }
}

/// What the user did with an elicitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElicitAction {
    Accept,
    Decline,
    Cancel,
}

/// An `ElicitResult`. `content` is present (and satisfied the requested schema) only when
/// the user accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Elicited {
    pub action: ElicitAction,
    pub content: Map<String, Value>,
}

impl Elicited {
    pub fn accepted(&self) -> bool {
        self.action == ElicitAction::Accept
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        self.content.get(field).and_then(Value::as_str)
    }

    pub fn bool(&self, field: &str) -> Option<bool> {
        self.content.get(field).and_then(Value::as_bool)
    }

    /// Reads an answer; `None` for anything that is not an `ElicitResult` whose accepted
    /// content satisfies `schema` (then the server asks again).
    fn parse(value: &Value, schema: &Value) -> Option<Elicited> {
        let obj = value.as_object()?;
        let action = match obj.get("action")?.as_str()? {
            "accept" => ElicitAction::Accept,
            "decline" => ElicitAction::Decline,
            "cancel" => ElicitAction::Cancel,
            _ => return None,
        };
        let content = match (action, obj.get("content")) {
            (ElicitAction::Accept, Some(c @ Value::Object(map))) => {
                schema::validate(schema, c).ok()?;
                map.clone()
            }
            (ElicitAction::Accept, None) => {
                schema::validate(schema, &json!({})).ok()?;
                Map::new()
            }
            (ElicitAction::Accept, Some(_)) => return None,
            _ => Map::new(),
        };
        Some(Elicited { action, content })
    }
}

/// A request for a completion from the client's model (`sampling/createMessage`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    pub params: Value,
}

impl Sampling {
    /// One user message of text, at most `max_tokens` in the answer.
    pub fn text(prompt: impl Into<String>, max_tokens: u32) -> Sampling {
        Sampling {
            params: json!({
                "messages": [{"role": "user", "content": {"type": "text", "text": prompt.into()}}],
                "maxTokens": max_tokens
            }),
        }
    }

    fn request(&self) -> Value {
        json!({"method": "sampling/createMessage", "params": self.params})
    }
}

/// A `CreateMessageResult`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    pub model: String,
    pub content: Value,
    pub stop_reason: Option<String>,
}

impl Sampled {
    /// The text of a text answer (the first text block of a multi-block one).
    pub fn text(&self) -> Option<&str> {
        let block = match &self.content {
            Value::Array(blocks) => blocks.iter().find(|b| b["type"] == "text")?,
            other => other,
        };
        (block["type"] == "text").then(|| block["text"].as_str())?
    }

    fn parse(value: &Value) -> Option<Sampled> {
        let obj = value.as_object()?;
        if obj.get("role")?.as_str()? != "assistant" {
            return None;
        }
        let content = obj.get("content")?;
        if !(content.is_object() || content.is_array()) {
            return None;
        }
        Some(Sampled {
            model: obj.get("model")?.as_str()?.to_owned(),
            content: content.clone(),
            stop_reason: obj
                .get("stopReason")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

/// One of the client's roots (`roots/list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub uri: String,
    pub name: Option<String>,
}

fn parse_roots(value: &Value) -> Option<Vec<Root>> {
    value
        .get("roots")?
        .as_array()?
        .iter()
        .map(|r| {
            Some(Root {
                uri: r.get("uri")?.as_str()?.to_owned(),
                name: r.get("name").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

/// A capability the handler needed and the client did not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Elicitation,
    Sampling,
    Roots,
}

impl Capability {
    pub fn name(self) -> &'static str {
        match self {
            Capability::Elicitation => "elicitation",
            Capability::Sampling => "sampling",
            Capability::Roots => "roots",
        }
    }
}

#[derive(Debug, Default)]
struct Round {
    /// What the handler asked this round, in order, keyed as it chose.
    asked: Vec<(String, Value)>,
    /// The answers the handler used (only these travel on to the next round).
    used: Map<String, Value>,
    missing: Option<Capability>,
    too_many: bool,
}

/// The input side of one tool call: the answers given so far and what the handler asks.
#[derive(Debug, Default)]
pub struct Input {
    caps: ClientCaps,
    answers: Map<String, Value>,
    round: RefCell<Round>,
}

/// How a round ended, read by the server after the handler returned.
#[derive(Debug, Clone, PartialEq)]
pub enum RoundEnd {
    /// Nothing was asked: the handler's output is the result.
    Complete,
    /// The handler asked for these (`InputRequests`); `answers` are the ones it used so far.
    Ask {
        requests: Map<String, Value>,
        answers: Map<String, Value>,
    },
    /// The handler needed a capability the client did not declare.
    Missing(Capability),
    /// The handler asked for more than [`MAX_INPUT_REQUESTS`] at once.
    TooMany,
}

impl Input {
    /// No answers yet (a first call), for a client with these capabilities.
    pub fn new(caps: ClientCaps) -> Input {
        Input {
            caps,
            ..Input::default()
        }
    }

    /// With the answers given so far.
    pub fn with_answers(caps: ClientCaps, answers: Map<String, Value>) -> Input {
        Input {
            caps,
            answers,
            round: RefCell::default(),
        }
    }

    pub fn caps(&self) -> ClientCaps {
        self.caps
    }

    pub fn can_elicit(&self) -> bool {
        self.caps.elicitation_form
    }

    pub fn can_sample(&self) -> bool {
        self.caps.sampling
    }

    pub fn can_list_roots(&self) -> bool {
        self.caps.roots
    }

    /// The user's answer to `form` under `key`, or `None` when it is not answered yet (the
    /// server then asks; the handler should return). A client that cannot elicit makes the
    /// call fail with -32021 (2026-07-28) or a tool error (legacy); check
    /// [`Input::can_elicit`] first to offer another path.
    pub fn elicit(&self, key: &str, form: Elicitation) -> Option<Elicited> {
        let parsed = self
            .answers
            .get(key)
            .and_then(|v| Elicited::parse(v, &form.requested_schema));
        self.settle(
            key,
            parsed,
            self.caps.elicitation_form,
            Capability::Elicitation,
            || form.request(),
        )
    }

    /// The client model's answer to `request` under `key`, or `None` (see [`Input::elicit`]).
    pub fn sample(&self, key: &str, request: Sampling) -> Option<Sampled> {
        let parsed = self.answers.get(key).and_then(Sampled::parse);
        self.settle(
            key,
            parsed,
            self.caps.sampling,
            Capability::Sampling,
            || request.request(),
        )
    }

    /// The client's roots under `key`, or `None` (see [`Input::elicit`]).
    pub fn roots(&self, key: &str) -> Option<Vec<Root>> {
        let parsed = self.answers.get(key).and_then(parse_roots);
        self.settle(
            key,
            parsed,
            self.caps.roots,
            Capability::Roots,
            || json!({"method": "roots/list", "params": {}}),
        )
    }

    fn settle<T>(
        &self,
        key: &str,
        parsed: Option<T>,
        declared: bool,
        capability: Capability,
        request: impl FnOnce() -> Value,
    ) -> Option<T> {
        let mut round = self.round.borrow_mut();
        if let Some(answer) = parsed {
            if let Some(raw) = self.answers.get(key) {
                round.used.insert(key.to_owned(), raw.clone());
            }
            return Some(answer);
        }
        if !declared {
            round.missing.get_or_insert(capability);
        } else if round.asked.iter().any(|(k, _)| k == key) {
            // Asked twice in one round under one key: one request.
        } else if round.asked.len() >= MAX_INPUT_REQUESTS {
            round.too_many = true;
        } else {
            round.asked.push((key.to_owned(), request()));
        }
        None
    }

    /// Whether the handler asked for anything (so its output is not the result).
    pub fn asked(&self) -> bool {
        let round = self.round.borrow();
        !round.asked.is_empty() || round.missing.is_some() || round.too_many
    }

    /// How the round ended.
    pub fn end(self) -> RoundEnd {
        let round = self.round.into_inner();
        if let Some(capability) = round.missing {
            return RoundEnd::Missing(capability);
        }
        if round.too_many {
            return RoundEnd::TooMany;
        }
        if round.asked.is_empty() {
            return RoundEnd::Complete;
        }
        RoundEnd::Ask {
            requests: round.asked.into_iter().collect(),
            answers: round.used,
        }
    }
}

/// What a handler returns when it asked for input: never sent, since the server answers the
/// round with the requests instead.
pub fn waiting() -> super::tools::ToolOutput {
    super::tools::ToolOutput::text("waiting for the client's input")
}

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
    pub log_level: Option<crate::mcp::session::LogLevel>,
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

/// The -32021 error for a capability the client did not declare (HTTP 400).
pub fn missing_capability_error(capability: Capability) -> ErrorObject {
    ErrorObject::new(
        MISSING_REQUIRED_CLIENT_CAPABILITY,
        format!(
            "Missing required client capability: this request needs '{}', which the client \
             did not declare in _meta[\"io.modelcontextprotocol/clientCapabilities\"]",
            capability.name()
        ),
    )
    .with_data(json!({"requiredCapabilities": {capability.name(): {}}}))
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

    fn caps(v: Value) -> ClientCaps {
        ClientCaps::from_value(Some(&v))
    }

    #[test]
    fn capabilities_are_read_as_declared() {
        let all = caps(json!({"elicitation": {}, "sampling": {}, "roots": {"listChanged": true}}));
        assert!(all.elicitation_form && all.sampling && all.roots && !all.elicitation_url);
        let url_only = caps(json!({"elicitation": {"url": {}}}));
        assert!(!url_only.elicitation_form && url_only.elicitation_url);
        let both = caps(json!({"elicitation": {"form": {}, "url": {}}}));
        assert!(both.elicitation_form && both.elicitation_url);
        assert_eq!(caps(json!({})), ClientCaps::default());
        assert_eq!(
            caps(json!({"sampling": true, "elicitation": "yes"})),
            ClientCaps::default()
        );
        assert_eq!(ClientCaps::from_value(None), ClientCaps::default());
    }

    #[test]
    fn an_unanswered_question_is_asked_and_an_answer_is_used() {
        let input = Input::new(caps(json!({"elicitation": {}})));
        assert_eq!(input.elicit("name", name_form()), None);
        match input.end() {
            RoundEnd::Ask { requests, answers } => {
                assert_eq!(requests["name"]["method"], "elicitation/create");
                assert_eq!(requests["name"]["params"]["message"], "Name?");
                assert!(answers.is_empty());
            }
            other => panic!("{other:?}"),
        }

        let mut answers = Map::new();
        answers.insert(
            "name".into(),
            json!({"action": "accept", "content": {"name": "Ada"}}),
        );
        answers.insert("unrelated".into(), json!({"x": 1}));
        let input = Input::with_answers(caps(json!({"elicitation": {}})), answers);
        let got = input.elicit("name", name_form()).unwrap();
        assert!(got.accepted());
        assert_eq!(got.str("name"), Some("Ada"));
        assert_eq!(input.end(), RoundEnd::Complete);
    }

    fn name_form() -> Elicitation {
        Elicitation::form(
            "Name?",
            json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
        )
    }

    #[test]
    fn malformed_or_schema_breaking_answers_are_asked_again() {
        for bad in [
            json!(12345),
            json!(null),
            json!({"action": "accept", "content": {"name": 7}}),
            json!({"action": "accept", "content": {}}),
            json!({"action": "maybe"}),
            json!({"action": "accept", "content": "Ada"}),
        ] {
            let mut answers = Map::new();
            answers.insert("name".into(), bad.clone());
            let input = Input::with_answers(caps(json!({"elicitation": {}})), answers);
            assert_eq!(input.elicit("name", name_form()), None, "{bad}");
            assert!(matches!(input.end(), RoundEnd::Ask { .. }), "{bad}");
        }
        // Declining is an answer, without content.
        let mut answers = Map::new();
        answers.insert("name".into(), json!({"action": "decline"}));
        let input = Input::with_answers(caps(json!({"elicitation": {}})), answers);
        assert_eq!(
            input.elicit("name", name_form()).map(|e| e.action),
            Some(ElicitAction::Decline)
        );
    }

    #[test]
    fn nothing_is_asked_that_the_client_did_not_declare() {
        let input = Input::new(caps(json!({"sampling": {}})));
        assert!(!input.can_elicit());
        assert_eq!(input.elicit("name", name_form()), None);
        assert_eq!(input.sample("s", Sampling::text("hi", 10)), None);
        assert_eq!(input.end(), RoundEnd::Missing(Capability::Elicitation));
        let e = missing_capability_error(Capability::Sampling);
        assert_eq!(e.code, MISSING_REQUIRED_CLIENT_CAPABILITY);
        assert_eq!(
            e.data,
            Some(json!({"requiredCapabilities": {"sampling": {}}}))
        );
    }

    #[test]
    fn several_requests_at_once_and_a_bound_on_them() {
        let input = Input::new(caps(
            json!({"elicitation": {}, "sampling": {}, "roots": {}}),
        ));
        input.elicit("a", name_form());
        input.sample("b", Sampling::text("hi", 10));
        input.roots("c");
        input.roots("c");
        match input.end() {
            RoundEnd::Ask { requests, .. } => {
                let methods: Vec<&str> = requests
                    .values()
                    .map(|r| r["method"].as_str().unwrap())
                    .collect();
                assert_eq!(methods.len(), 3);
                assert!(methods.contains(&"sampling/createMessage"));
                assert!(methods.contains(&"roots/list"));
            }
            other => panic!("{other:?}"),
        }
        let input = Input::new(caps(json!({"roots": {}})));
        for i in 0..=MAX_INPUT_REQUESTS {
            input.roots(&format!("r{i}"));
        }
        assert_eq!(input.end(), RoundEnd::TooMany);
    }

    #[test]
    fn sampling_and_roots_answers_are_parsed() {
        let mut answers = Map::new();
        answers.insert(
            "s".into(),
            json!({"role": "assistant", "content": {"type": "text", "text": "Paris"}, "model": "m", "stopReason": "endTurn"}),
        );
        answers.insert(
            "r".into(),
            json!({"roots": [{"uri": "file:///a", "name": "A"}, {"uri": "file:///b"}]}),
        );
        let input = Input::with_answers(caps(json!({"sampling": {}, "roots": {}})), answers);
        assert_eq!(
            input.sample("s", Sampling::text("q", 5)).unwrap().text(),
            Some("Paris")
        );
        let roots = input.roots("r").unwrap();
        assert_eq!(roots.len(), 2);
        assert_eq!(roots[1].name, None);
        assert_eq!(input.end(), RoundEnd::Complete);
        let bad = Input::with_answers(
            caps(json!({"sampling": {}})),
            [(
                "s".to_owned(),
                json!({"role": "user", "content": {}, "model": "m"}),
            )]
            .into_iter()
            .collect(),
        );
        assert_eq!(bad.sample("s", Sampling::text("q", 5)), None);
    }

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
