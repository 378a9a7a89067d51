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
//!
//! The parts: this file owns the handler's side ([`Input`], how a round ends, which
//! capability was missing); `requests` the requests a handler can make and the parsing of their
//! answers; `state` the sealed `requestState` of 2026-07-28; `pending` a legacy call
//! waiting for its answers.

mod pending;
mod requests;
mod state;

pub use pending::{PendingCall, ANSWER_WAIT_SECS, MAX_PENDING_PER_SESSION, MAX_ROUNDS};
pub use requests::{ElicitAction, Elicitation, Elicited, Root, Sampled, Sampling};
pub use state::{
    input_required_result, modern_answers, StateBinding, StateSeal, MAX_INPUT_RESPONSES,
    MAX_STATE_CHARS, STATE_PURPOSE, STATE_TTL_SECS,
};

use std::cell::RefCell;

use serde_json::{json, Map, Value};

use super::jsonrpc::ErrorObject;
/// Where the handler's side reads what the client can answer; the type is protocol
/// vocabulary, defined with the rest in `protocol` (this path is kept for callers).
pub use super::protocol::ClientCaps;

/// Requests one round may ask at once; a handler asking more gets a tool error.
pub const MAX_INPUT_REQUESTS: usize = 8;

/// `MissingRequiredClientCapabilityError` (2026-07-28).
pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;

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
        let parsed = self.answers.get(key).and_then(requests::parse_roots);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(v: Value) -> ClientCaps {
        ClientCaps::from_value(Some(&v))
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
}
