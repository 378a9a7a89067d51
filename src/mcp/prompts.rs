//! Prompts: templates of messages a user picks in the client, with arguments the server fills
//! in, and the registry the server lists and gets them from.
//!
//! Spec sections: "Server Features: Prompts" (`prompts/list` with pagination, `prompts/get`,
//! PromptMessage content: text, image, audio, embedded resources; an unknown prompt or a
//! missing required argument is -32602) and "Utilities: Completion" for argument suggestions.

use super::content::Content;
use super::jsonrpc::ErrorObject;
use super::resources::Completer;
use super::tools::ToolEnv;
use crate::outbound::LocalBoxFuture;
use crate::user::UserContext;
use serde_json::{json, Map, Value};

/// One argument a prompt takes (always a string).
#[derive(Clone)]
pub struct PromptArgument {
    pub name: String,
    pub description: String,
    pub required: bool,
}

/// A message of a `prompts/get` result.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptMessage {
    /// `user` or `assistant`.
    pub role: &'static str,
    pub content: Content,
}

impl PromptMessage {
    pub fn user(content: Content) -> PromptMessage {
        PromptMessage {
            role: "user",
            content,
        }
    }

    pub fn assistant(content: Content) -> PromptMessage {
        PromptMessage {
            role: "assistant",
            content,
        }
    }
}

/// One `prompts/get`: the arguments (every required one present), the caller, the env, and
/// input requests (a 2026-07-28 `prompts/get` may ask the user or the client's model first,
/// as a tool does; see [`crate::mcp::input`]).
pub struct PromptGet<'a> {
    pub arguments: &'a Map<String, Value>,
    pub user: &'a UserContext,
    pub env: &'a ToolEnv<'a>,
    pub input: &'a crate::mcp::input::Input,
}

impl PromptGet<'_> {
    /// Argument `name` (arguments are strings; other JSON is refused before the handler).
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.arguments.get(name).and_then(Value::as_str)
    }
}

/// What a prompt handler returns: an optional description and the messages, or the
/// protocol error to answer.
pub type PromptResult<'a> =
    LocalBoxFuture<'a, Result<(Option<String>, Vec<PromptMessage>), ErrorObject>>;

/// Fills in a prompt.
pub type PromptHandler = for<'a> fn(&'a PromptGet<'a>) -> PromptResult<'a>;

#[derive(Clone)]
pub struct Prompt {
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    pub arguments: Vec<PromptArgument>,
    pub handler: PromptHandler,
    /// Suggestions for `completion/complete` with a `ref/prompt` to this prompt.
    pub completer: Option<Completer>,
}

impl Prompt {
    pub fn new(name: &str, description: &str, handler: PromptHandler) -> Prompt {
        Prompt {
            name: name.into(),
            title: None,
            description: description.into(),
            arguments: Vec::new(),
            handler,
            completer: None,
        }
    }

    pub fn title(mut self, title: &str) -> Prompt {
        self.title = Some(title.into());
        self
    }

    /// Adds an argument.
    pub fn argument(mut self, name: &str, description: &str, required: bool) -> Prompt {
        self.arguments.push(PromptArgument {
            name: name.into(),
            description: description.into(),
            required,
        });
        self
    }

    pub fn completer(mut self, completer: Completer) -> Prompt {
        self.completer = Some(completer);
        self
    }

    pub fn descriptor(&self) -> Value {
        let mut d = Map::new();
        d.insert("name".into(), json!(self.name));
        if let Some(t) = &self.title {
            d.insert("title".into(), json!(t));
        }
        d.insert("description".into(), json!(self.description));
        if !self.arguments.is_empty() {
            let args: Vec<Value> = self
                .arguments
                .iter()
                .map(|a| json!({"name": a.name, "description": a.description, "required": a.required}))
                .collect();
            d.insert("arguments".into(), Value::Array(args));
        }
        Value::Object(d)
    }

    /// The arguments checked: every value a string, every required one present, no unknown
    /// one. `Err` is the -32602 to answer.
    pub fn check_arguments(&self, arguments: &Map<String, Value>) -> Result<(), ErrorObject> {
        for (name, value) in arguments {
            if !self.arguments.iter().any(|a| &a.name == name) {
                return Err(ErrorObject::invalid_params(format!(
                    "prompt {} has no argument {}",
                    self.name,
                    super::jsonrpc::truncate(name, 100)
                )));
            }
            if !value.is_string() {
                return Err(ErrorObject::invalid_params(format!(
                    "argument {name} of prompt {} must be a string",
                    self.name
                )));
            }
        }
        if let Some(missing) = self
            .arguments
            .iter()
            .find(|a| a.required && !arguments.contains_key(&a.name))
        {
            return Err(ErrorObject::invalid_params(format!(
                "prompt {} needs the argument {}",
                self.name, missing.name
            )));
        }
        Ok(())
    }
}

/// The prompts this server offers, in registration order.
#[derive(Clone, Default)]
pub struct PromptRegistry {
    prompts: Vec<Prompt>,
}

impl PromptRegistry {
    pub fn add(&mut self, prompt: Prompt) -> Result<&mut Self, String> {
        if self.get(&prompt.name).is_some() {
            return Err(format!(
                "a prompt named {} is already registered",
                prompt.name
            ));
        }
        self.prompts.push(prompt);
        Ok(self)
    }

    pub fn get(&self, name: &str) -> Option<&Prompt> {
        self.prompts.iter().find(|p| p.name == name)
    }

    pub fn prompts(&self) -> &[Prompt] {
        &self.prompts
    }
}

/// Suggestions from a fixed list: those starting with `value` (case-insensitively).
pub fn complete_from(options: &[&str], value: &str) -> Vec<String> {
    let value = value.to_lowercase();
    options
        .iter()
        .filter(|o| o.to_lowercase().starts_with(&value))
        .map(|o| o.to_string())
        .collect()
}
