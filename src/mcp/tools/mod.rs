//! Tools: what a tool is, the registry the server lists and calls, and the shipped tools.
//!
//! Spec sections: "Server Features: Tools" (tool definitions, `tools/list`, `tools/call`,
//! tool results, structured content and output schemas, error handling).
//!
//! # Adding a tool
//!
//! 1. Write a file in this folder with a handler and a constructor:
//!
//! ```ignore
//! use crate::mcp::tools::{Tool, ToolCall, ToolOutput};
//! use crate::outbound::LocalBoxFuture;
//!
//! pub fn tool() -> Tool {
//!     Tool::new(
//!         "echo",
//!         "Repeats the given text.",
//!         serde_json::json!({
//!             "type": "object",
//!             "properties": {"text": {"type": "string"}},
//!             "required": ["text"],
//!             "additionalProperties": false
//!         }),
//!         run,
//!     )
//! }
//!
//! fn run<'a>(call: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
//!     Box::pin(async move { ToolOutput::text(call.str_arg("text").unwrap_or_default()) })
//! }
//! ```
//!
//! 2. Add it to [`ToolRegistry::default_tools`].
//!
//! The server validates arguments against `input_schema` before the handler runs (see
//! [`schema`] for the keywords understood), checks `required_scope` (answering 403 for step-up
//! authorization when the token lacks it), and turns the [`ToolOutput`] into a `CallToolResult`.
//! A handler reports failures as [`ToolOutput::error`], never as a protocol error, so the model
//! can read what went wrong.

pub mod calculate;
pub mod calculate_all;
pub mod github_repos;
pub mod math;
pub mod number;
pub mod schema;
pub mod whoami;

use super::content::Content;
use super::notes::Notes;
use super::protocol::LogLevel;
use crate::outbound::{HttpClient, LocalBoxFuture};
use crate::user::UserContext;
use serde_json::{json, Map, Value};

/// A JSON Schema (or other fixed JSON) written as JSON text. Parsing text at run time keeps
/// each schema out of the wasm as code: a `json!` literal expands into a call per key, a text
/// costs only its bytes. Every shipped schema is checked by a test, so the fallback (`null`)
/// is never reached in practice.
pub fn schema(text: &'static str) -> Value {
    serde_json::from_slice(text.as_bytes()).unwrap_or(Value::Null)
}

/// What a tool may use besides its arguments. Borrowed for one request.
pub struct ToolEnv<'a> {
    pub http: &'a dyn HttpClient,
    /// `https://api.github.com` in production; a loopback mock in tests.
    pub github_api_base: &'a str,
    /// Seals the 2026-07-28 `requestState` of calls that ask for input (and tells the time).
    pub seal: &'a dyn crate::mcp::input::StateSeal,
    /// `sin`, `ln`, `pow` and the rest: the runtime's own in the Worker, [`math::RustMath`]
    /// elsewhere (see [`math`]).
    pub math: &'a dyn math::Transcendental,
}

/// One invocation, and the context a handler works in: validated arguments, the caller, the
/// environment (outbound HTTP), and the request's progress and log notifications.
pub struct ToolCall<'a> {
    /// Always a JSON object that satisfied the tool's `input_schema`.
    pub arguments: &'a Value,
    pub user: &'a UserContext,
    pub env: &'a ToolEnv<'a>,
    /// Progress and log messages of this request (see [`ToolCall::progress`], [`ToolCall::log`]).
    pub notes: &'a Notes,
    /// Asking the user or the client's model for input: see [`crate::mcp::input`].
    pub input: &'a crate::mcp::input::Input,
}

impl ToolCall<'_> {
    /// The arguments as a typed struct. `Err` is the tool execution error to return as is
    /// (the model reads which field was wrong); the schema was already checked, so this only
    /// fails when the struct and the schema disagree.
    pub fn args<T: serde::de::DeserializeOwned>(&self) -> Result<T, ToolOutput> {
        T::deserialize(self.arguments)
            .map_err(|e| ToolOutput::error(format!("Invalid arguments: {e}")))
    }

    /// Reports progress (sent only when the client asked, with `_meta.progressToken`; values
    /// must increase, a value that does not is dropped).
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        self.notes.progress(progress, total, message)
    }

    /// Sends a log message to the client (only at or above the level it asked for).
    pub fn log(&self, level: LogLevel, data: impl Into<Value>) {
        self.notes.log(level, None, data.into())
    }

    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.arguments.get(name)
    }

    pub fn str_arg(&self, name: &str) -> Option<&str> {
        self.arg(name).and_then(Value::as_str)
    }

    /// An integer argument; integral floats such as `30.0` count (JSON Schema's `integer`).
    pub fn int_arg(&self, name: &str) -> Option<i64> {
        let v = self.arg(name)?;
        v.as_i64().or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        })
    }
}

/// A tool's handler. A plain function (no captured state) so tools are cheap to list and the
/// registry needs no allocation per tool; the future need not be `Send` in a Worker.
pub type ToolHandler = for<'a> fn(&'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput>;

/// What a tool returns: text for the model and any other content blocks, optionally
/// structured data, and whether it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The first content block (omitted when empty and `content` has blocks).
    pub text: String,
    /// Content blocks after the text: images, audio, resource links, embedded resources.
    pub content: Vec<Content>,
    /// Must match the tool's `output_schema` when it has one.
    pub structured: Option<Value>,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn text(text: impl Into<String>) -> ToolOutput {
        ToolOutput {
            text: text.into(),
            content: Vec::new(),
            structured: None,
            is_error: false,
        }
    }

    /// Content blocks only, in order.
    pub fn content(content: Vec<Content>) -> ToolOutput {
        ToolOutput {
            content,
            ..ToolOutput::text("")
        }
    }

    pub fn structured(text: impl Into<String>, value: Value) -> ToolOutput {
        ToolOutput {
            structured: Some(value),
            ..ToolOutput::text(text)
        }
    }

    /// Typed structured output: `value` serialized as `structuredContent`, and as JSON text
    /// for clients that read only `content` (the spec's SHOULD for backwards compatibility).
    pub fn json<T: serde::Serialize>(value: &T) -> ToolOutput {
        match serde_json::to_value(value) {
            Ok(v) => ToolOutput::structured(v.to_string(), v),
            Err(e) => ToolOutput::error(format!("the result could not be encoded: {e}")),
        }
    }

    /// What a handler returns when it asked for input (see [`crate::mcp::input`]): never
    /// sent, since the server answers the round with the requests instead.
    pub fn waiting() -> ToolOutput {
        ToolOutput::text("waiting for the client's input")
    }

    /// A tool execution error: the model sees the message and may retry differently.
    pub fn error(message: impl Into<String>) -> ToolOutput {
        ToolOutput {
            is_error: true,
            ..ToolOutput::text(message)
        }
    }

    /// Adds a content block after those already there.
    pub fn with(mut self, block: Content) -> ToolOutput {
        self.content.push(block);
        self
    }

    /// The `CallToolResult` object (without `resultType`, which depends on the era).
    pub fn to_result(&self) -> Value {
        let mut result = Map::new();
        let mut blocks = Vec::with_capacity(1 + self.content.len());
        if !self.text.is_empty() || self.content.is_empty() {
            blocks.push(json!({"type": "text", "text": self.text}));
        }
        blocks.extend(self.content.iter().map(Content::to_value));
        result.insert("content".into(), Value::Array(blocks));
        if let Some(structured) = &self.structured {
            result.insert("structuredContent".into(), structured.clone());
        }
        result.insert("isError".into(), Value::Bool(self.is_error));
        Value::Object(result)
    }
}

/// A tool definition plus its handler.
#[derive(Clone)]
pub struct Tool {
    /// 1 to 128 characters of `A-Z a-z 0-9 _ - .` (spec "Tool Names").
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    /// JSON Schema (2020-12) of the arguments object.
    pub input_schema: Value,
    pub output_schema: Option<Value>,
    /// Behaviour hints (`readOnlyHint`, `openWorldHint`, ...), sent as `annotations`.
    pub annotations: Option<Value>,
    /// A scope the token needs beyond the base `mcp` scope to call this tool.
    pub required_scope: Option<&'static str>,
    pub handler: ToolHandler,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("required_scope", &self.required_scope)
            .finish_non_exhaustive()
    }
}

impl Tool {
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
        handler: ToolHandler,
    ) -> Tool {
        Tool {
            name: name.into(),
            title: None,
            description: description.into(),
            input_schema,
            output_schema: None,
            annotations: None,
            required_scope: None,
            handler,
        }
    }

    pub fn title(mut self, title: impl Into<String>) -> Tool {
        self.title = Some(title.into());
        self
    }

    pub fn output_schema(mut self, schema: Value) -> Tool {
        self.output_schema = Some(schema);
        self
    }

    pub fn annotations(mut self, annotations: Value) -> Tool {
        self.annotations = Some(annotations);
        self
    }

    pub fn required_scope(mut self, scope: &'static str) -> Tool {
        self.required_scope = Some(scope);
        self
    }

    /// The `Tool` object of a `tools/list` result.
    pub fn descriptor(&self) -> Value {
        let mut d = Map::new();
        d.insert("name".into(), json!(self.name));
        if let Some(title) = &self.title {
            d.insert("title".into(), json!(title));
        }
        d.insert("description".into(), json!(self.description));
        d.insert("inputSchema".into(), self.input_schema.clone());
        if let Some(schema) = &self.output_schema {
            d.insert("outputSchema".into(), schema.clone());
        }
        if let Some(annotations) = &self.annotations {
            d.insert("annotations".into(), annotations.clone());
        }
        Value::Object(d)
    }

    /// The scope `user` lacks for this tool, if any.
    pub fn missing_scope(&self, user: &UserContext) -> Option<&'static str> {
        self.required_scope.filter(|s| !user.has_scope(s))
    }
}

/// Why a tool could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("a tool named {0} is already registered")]
    Duplicate(String),
    #[error("tool name {0:?} is not 1 to 128 characters of A-Z a-z 0-9 _ - .")]
    BadName(String),
    #[error("the input schema of {0} is not a JSON Schema of type \"object\"")]
    BadInputSchema(String),
}

/// The tools this server offers, in registration order (a stable order lets clients cache the
/// list, as 2026-07-28 "Tools" asks).
#[derive(Debug, Clone, Default)]
pub struct ToolRegistry {
    tools: Vec<Tool>,
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> ToolRegistry {
        ToolRegistry::default()
    }

    /// The tools this server ships.
    pub fn default_tools() -> ToolRegistry {
        let mut registry = ToolRegistry::new();
        for tool in [
            whoami::tool(),
            calculate::tool(),
            calculate_all::tool(),
            github_repos::tool(),
        ] {
            // The shipped tools are known-good; a failure here is caught by the tests below.
            let _ = registry.register(tool);
        }
        registry
    }

    pub fn register(&mut self, tool: Tool) -> Result<&mut ToolRegistry, RegistryError> {
        let name_ok = (1..=128).contains(&tool.name.len())
            && tool
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !name_ok {
            return Err(RegistryError::BadName(tool.name));
        }
        if tool.input_schema.get("type") != Some(&json!("object")) {
            return Err(RegistryError::BadInputSchema(tool.name));
        }
        if self.get(&tool.name).is_some() {
            return Err(RegistryError::Duplicate(tool.name));
        }
        self.tools.push(tool);
        Ok(self)
    }

    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    pub fn len(&self) -> usize {
        self.tools.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }
}

/// Shared helpers for the tools' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::outbound::{OutRequest, OutResponse};
    use crate::secret::Secret;
    use crate::user::UserProfile;
    use std::cell::RefCell;

    /// Records requests and answers each with the same canned result.
    pub struct FakeHttp {
        pub answer: Result<OutResponse, String>,
        pub seen: RefCell<Vec<OutRequest>>,
    }

    impl FakeHttp {
        pub fn new(status: u16, body: &str) -> FakeHttp {
            FakeHttp::with_headers(status, &[], body)
        }

        pub fn with_headers(status: u16, headers: &[(&str, &str)], body: &str) -> FakeHttp {
            FakeHttp {
                answer: Ok(OutResponse {
                    status,
                    headers: headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    body: body.as_bytes().to_vec(),
                }),
                seen: RefCell::new(Vec::new()),
            }
        }

        pub fn failing(message: &str) -> FakeHttp {
            FakeHttp {
                answer: Err(message.to_owned()),
                seen: RefCell::new(Vec::new()),
            }
        }
    }

    impl HttpClient for FakeHttp {
        fn send(&self, request: OutRequest) -> LocalBoxFuture<'_, Result<OutResponse, String>> {
            self.seen.borrow_mut().push(request);
            let answer = self.answer.clone();
            Box::pin(async move { answer })
        }
    }

    /// A seal that seals nothing: a tool run alone never asks a 2026-07-28 client for input
    /// (the real seal is tested in tests/mcp_input.rs).
    pub struct NoSeal;

    impl crate::mcp::input::StateSeal for NoSeal {
        fn seal(&self, _: &[u8], _: &str) -> Option<String> {
            None
        }
        fn open(&self, _: &str, _: &str) -> Option<Vec<u8>> {
            None
        }
        fn now(&self) -> u64 {
            0
        }
    }

    pub fn user(provider: &str, token: Option<&str>) -> UserContext {
        UserContext {
            user: UserProfile {
                id: format!("{provider}:42"),
                login: "octo".into(),
                name: Some("Octo Cat".into()),
                email: None,
                provider: provider.into(),
            },
            scopes: vec!["mcp".into(), "github:repos".into()],
            client_id: Some("client-1".into()),
            upstream_token: token.map(Secret::new),
        }
    }

    /// Runs `tool` the way the server does: arguments validated first.
    pub fn run(tool: &Tool, arguments: Value, user: &UserContext, http: &FakeHttp) -> ToolOutput {
        if let Err(message) = schema::validate(&tool.input_schema, &arguments) {
            return ToolOutput::error(message);
        }
        let seal = NoSeal;
        let env = ToolEnv {
            http,
            github_api_base: "http://127.0.0.1:9/gh/",
            seal: &seal,
            math: &math::RustMath,
        };
        let notes = crate::mcp::notes::Notes::default();
        let input = crate::mcp::input::Input::default();
        let call = ToolCall {
            arguments: &arguments,
            user,
            env: &env,
            notes: &notes,
            input: &input,
        };
        let output = pollster::block_on((tool.handler)(&call));
        if let (Some(schema), Some(value)) = (&tool.output_schema, &output.structured) {
            assert_eq!(
                schema::validate(schema, value),
                Ok(()),
                "structuredContent of {} must match its output schema",
                tool.name
            );
        }
        output
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_shipped_schema_is_a_json_object() {
        for tool in super::ToolRegistry::default_tools().tools() {
            let d = tool.descriptor();
            for key in ["inputSchema", "outputSchema", "annotations"] {
                assert!(d[key].is_object(), "{}: {key} is {}", d["name"], d[key]);
            }
            assert_eq!(d["inputSchema"]["type"], "object", "{}", d["name"]);
        }
    }

    use super::*;

    fn noop<'a>(_: &'a ToolCall<'a>) -> LocalBoxFuture<'a, ToolOutput> {
        Box::pin(async { ToolOutput::text("ok") })
    }

    fn object() -> Value {
        json!({"type": "object"})
    }

    #[test]
    fn the_shipped_tools_are_all_registered() {
        let registry = ToolRegistry::default_tools();
        let names: Vec<&str> = registry.tools().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["whoami", "calculate", "calculate_all", "list_github_repos"]
        );
    }

    #[test]
    fn duplicate_and_malformed_names_are_refused() {
        let mut r = ToolRegistry::new();
        r.register(Tool::new("a.b-c_1", "d", object(), noop))
            .unwrap();
        assert_eq!(
            r.register(Tool::new("a.b-c_1", "d", object(), noop))
                .unwrap_err(),
            RegistryError::Duplicate("a.b-c_1".into())
        );
        for bad in ["", "has space", "comma,", &"x".repeat(129)] {
            assert!(matches!(
                r.register(Tool::new(bad, "d", object(), noop)),
                Err(RegistryError::BadName(_))
            ));
        }
        assert!(matches!(
            r.register(Tool::new("s", "d", json!({"type": "string"}), noop)),
            Err(RegistryError::BadInputSchema(_))
        ));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn descriptors_use_the_spec_field_names() {
        let t = Tool::new("t", "does t", object(), noop)
            .title("T")
            .output_schema(json!({"type": "object"}))
            .annotations(json!({"readOnlyHint": true}));
        assert_eq!(
            t.descriptor(),
            json!({
                "name": "t", "title": "T", "description": "does t",
                "inputSchema": {"type": "object"}, "outputSchema": {"type": "object"},
                "annotations": {"readOnlyHint": true}
            })
        );
        assert_eq!(
            Tool::new("u", "d", object(), noop).descriptor(),
            json!({"name": "u", "description": "d", "inputSchema": {"type": "object"}})
        );
    }

    #[test]
    fn outputs_become_call_tool_results() {
        assert_eq!(
            ToolOutput::error("nope").to_result(),
            json!({"content": [{"type": "text", "text": "nope"}], "isError": true})
        );
        assert_eq!(
            ToolOutput::structured("1", json!({"result": 1})).to_result(),
            json!({"content": [{"type": "text", "text": "1"}], "structuredContent": {"result": 1}, "isError": false})
        );
    }

    #[test]
    fn a_scope_is_missing_only_when_required_and_not_granted() {
        let mut user = test_support::user("github", None);
        let t = Tool::new("t", "d", object(), noop).required_scope("github:repos");
        assert_eq!(t.missing_scope(&user), None);
        user.scopes.retain(|s| s == "mcp");
        assert_eq!(t.missing_scope(&user), Some("github:repos"));
        assert_eq!(
            Tool::new("u", "d", object(), noop).missing_scope(&user),
            None
        );
    }
}
