//! The requests a tool handler can make of the client, and the parsing of the client's
//! answers: a form for the user (`elicitation/create`, form mode), a completion from the
//! client's model (`sampling/createMessage`), the client's roots (`roots/list`). An answer
//! that does not parse (or breaks the requested schema) counts as no answer, so it is asked
//! again.
//!
//! Spec sections: "Client Features: Elicitation" (`ElicitResult`, the restricted schema),
//! "Sampling" (`CreateMessageResult`) and "Roots" (`ListRootsResult`), 2025-06-18 and later.

use serde_json::{json, Map, Value};

use crate::mcp::tools::schema;

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

    pub(super) fn request(&self) -> Value {
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
    pub(super) fn parse(value: &Value, schema: &Value) -> Option<Elicited> {
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

    pub(super) fn request(&self) -> Value {
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

    pub(super) fn parse(value: &Value) -> Option<Sampled> {
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

pub(super) fn parse_roots(value: &Value) -> Option<Vec<Root>> {
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
