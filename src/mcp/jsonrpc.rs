//! JSON-RPC 2.0 messages as MCP uses them: parsing a POST body, classifying each message, and
//! the error objects of the JSON-RPC 2.0 specification (§4 Request object, §4.1 Notification,
//! §5 Response object, §5.1 Error object, §6 Batch).
//!
//! MCP narrows JSON-RPC in two ways that this module enforces: a request id is a string or an
//! integer and never `null` (MCP "Base Protocol: Requests"), and `params` is an object.
//! Parsing never panics: every malformed input becomes an [`ErrorObject`] or an
//! [`Message::Invalid`] carrying the error to send back.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// Invalid JSON was received (JSON-RPC 2.0 §5.1).
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid Request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameter(s).
pub const INVALID_PARAMS: i64 = -32602;
/// Internal JSON-RPC error.
pub const INTERNAL_ERROR: i64 = -32603;

/// A request id: MCP allows strings and integers only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestId {
    /// Kept as the original number so large unsigned ids are echoed byte for byte.
    Number(serde_json::Number),
    String(String),
}

impl RequestId {
    fn from_value(value: &Value) -> Option<RequestId> {
        match value {
            Value::String(s) => Some(RequestId::String(s.clone())),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(RequestId::Number(n.clone())),
            _ => None,
        }
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RequestId::Number(n) => n.serialize(serializer),
            RequestId::String(s) => serializer.serialize_str(s),
        }
    }
}

/// The `error` member of a response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    pub fn new(code: i64, message: impl Into<String>) -> ErrorObject {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> ErrorObject {
        self.data = Some(data);
        self
    }

    pub fn parse_error(detail: impl std::fmt::Display) -> ErrorObject {
        ErrorObject::new(
            PARSE_ERROR,
            format!("Parse error: the body is not valid JSON ({detail})"),
        )
    }

    pub fn invalid_request(why: impl Into<String>) -> ErrorObject {
        ErrorObject::new(INVALID_REQUEST, format!("Invalid Request: {}", why.into()))
    }

    pub fn method_not_found(method: &str) -> ErrorObject {
        ErrorObject::new(
            METHOD_NOT_FOUND,
            format!("Method not found: {}", truncate(method, 100)),
        )
    }

    pub fn invalid_params(why: impl Into<String>) -> ErrorObject {
        ErrorObject::new(INVALID_PARAMS, format!("Invalid params: {}", why.into()))
    }

    pub fn internal(why: impl Into<String>) -> ErrorObject {
        ErrorObject::new(INTERNAL_ERROR, format!("Internal error: {}", why.into()))
    }
}

/// A response to one request. `id` is `None` when the request's id could not be read,
/// and is then sent as `null` (JSON-RPC 2.0 §5).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: Option<RequestId>,
    pub outcome: Result<Value, ErrorObject>,
}

impl Response {
    pub fn result(id: RequestId, result: Value) -> Response {
        Response {
            id: Some(id),
            outcome: Ok(result),
        }
    }

    pub fn error(id: Option<RequestId>, error: ErrorObject) -> Response {
        Response {
            id,
            outcome: Err(error),
        }
    }

    pub fn error_code(&self) -> Option<i64> {
        self.outcome.as_ref().err().map(|e| e.code)
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("jsonrpc", "2.0")?;
        map.serialize_entry("id", &self.id)?;
        match &self.outcome {
            Ok(result) => map.serialize_entry("result", result)?,
            Err(error) => map.serialize_entry("error", error)?,
        }
        map.end()
    }
}

/// A request: it expects a response.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: RequestId,
    pub method: String,
    /// Always an object; an absent `params` reads as an empty object.
    pub params: Map<String, Value>,
}

/// A notification: no response may be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub method: String,
    pub params: Map<String, Value>,
}

/// One message of a POST body, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    /// A client's response to a request this server sent (elicitation, sampling, roots on a
    /// legacy session's stream).
    Response(ClientResponse),
    /// Not a valid JSON-RPC message; the response to send back.
    Invalid(Response),
}

/// A client's answer to a server request: the id it answers and its `result` or `error`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientResponse {
    pub id: RequestId,
    /// `Ok(result)` or `Err(error object)`, as the client sent them.
    pub outcome: Result<Value, Value>,
}

impl ClientResponse {
    /// The id as text (a number in its decimal form), as the session object keys answers.
    pub fn id_text(&self) -> String {
        match &self.id {
            RequestId::String(s) => s.clone(),
            RequestId::Number(n) => n.to_string(),
        }
    }
}

/// A parsed POST body (JSON-RPC 2.0 §6: a single message or a batch).
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Single(Message),
    Batch(Vec<Message>),
}

/// Most messages one batch (protocol 2025-03-26) may hold. Each entry may call a tool that
/// makes an outbound request, and a Worker invocation has a subrequest budget (50 on the free
/// plan); 32 keeps a full batch of such calls, plus the token lookup, inside it.
pub const MAX_BATCH_LEN: usize = 32;

/// Parses a POST body. `Err` is a whole-body failure: not JSON (parse error), an empty batch or
/// one over [`MAX_BATCH_LEN`] (invalid request); each is answered with one error response whose
/// id is `null`, and nothing in the body is executed.
pub fn parse_body(bytes: &[u8]) -> Result<Body, ErrorObject> {
    let value: Value = serde_json::from_slice(bytes).map_err(ErrorObject::parse_error)?;
    match value {
        Value::Array(items) if items.is_empty() => Err(ErrorObject::invalid_request(
            "the batch is empty; send at least one message",
        )),
        Value::Array(items) if items.len() > MAX_BATCH_LEN => {
            Err(ErrorObject::invalid_request(format!(
                "the batch holds {} messages; at most {MAX_BATCH_LEN} are accepted in one POST: \
                 split it",
                items.len()
            ))
            .with_data(serde_json::json!({"maxBatchLength": MAX_BATCH_LEN})))
        }
        Value::Array(items) => Ok(Body::Batch(items.iter().map(classify).collect())),
        other => Ok(Body::Single(classify(&other))),
    }
}

/// Classifies one JSON value as a request, notification, response, or invalid message.
pub fn classify(value: &Value) -> Message {
    let Some(obj) = value.as_object() else {
        return invalid(None, "a message must be a JSON object");
    };
    // The id is read first so that errors about other members can still name it.
    let id = obj.get("id").and_then(RequestId::from_value);
    match obj.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => {}
        Some(_) => return invalid(id, "\"jsonrpc\" must be exactly \"2.0\""),
        None => return invalid(id, "the \"jsonrpc\": \"2.0\" member is missing"),
    }
    match obj.get("method") {
        Some(Value::String(method)) => {
            let params = match obj.get("params") {
                None => Map::new(),
                Some(Value::Object(p)) => p.clone(),
                Some(_) => return invalid(id, "\"params\" must be an object"),
            };
            match obj.get("id") {
                None => Message::Notification(Notification {
                    method: method.clone(),
                    params,
                }),
                Some(Value::Null) => invalid(None, "the request id must not be null"),
                Some(_) => match id {
                    Some(id) => Message::Request(Request {
                        id,
                        method: method.clone(),
                        params,
                    }),
                    None => invalid(None, "the request id must be a string or an integer"),
                },
            }
        }
        Some(_) => invalid(id, "\"method\" must be a string"),
        None if obj.contains_key("id")
            && (obj.contains_key("result") || obj.contains_key("error")) =>
        {
            let Some(id) = id else {
                return invalid(None, "a response's id must be a string or an integer");
            };
            let outcome = match (obj.get("result"), obj.get("error")) {
                (Some(result), None) => Ok(result.clone()),
                (None, Some(error)) => Err(error.clone()),
                _ => return invalid(Some(id), "a response has either \"result\" or \"error\""),
            };
            Message::Response(ClientResponse { id, outcome })
        }
        None => invalid(id, "the \"method\" member is missing"),
    }
}

fn invalid(id: Option<RequestId>, why: &str) -> Message {
    Message::Invalid(Response::error(id, ErrorObject::invalid_request(why)))
}

/// Cuts `s` to at most `max` characters, so echoed client input stays short.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(body: &str) -> Message {
        match parse_body(body.as_bytes()) {
            Ok(Body::Single(m)) => m,
            other => panic!("expected a single message, got {other:?}"),
        }
    }

    fn invalid_id(m: &Message) -> Option<RequestId> {
        match m {
            Message::Invalid(r) => {
                assert_eq!(r.error_code(), Some(INVALID_REQUEST));
                r.id.clone()
            }
            other => panic!("expected an invalid message, got {other:?}"),
        }
    }

    #[test]
    fn a_request_has_a_method_and_an_id() {
        let m = one(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#);
        assert_eq!(
            m,
            Message::Request(Request {
                id: RequestId::Number(7.into()),
                method: "ping".into(),
                params: Map::new()
            })
        );
    }

    #[test]
    fn a_message_without_id_is_a_notification() {
        let m = one(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert!(matches!(m, Message::Notification(n) if n.method == "notifications/initialized"));
    }

    #[test]
    fn client_responses_are_recognised_with_their_id_and_outcome() {
        assert_eq!(
            one(r#"{"jsonrpc":"2.0","id":"s1","result":{}}"#),
            Message::Response(ClientResponse {
                id: RequestId::String("s1".into()),
                outcome: Ok(json!({}))
            })
        );
        assert_eq!(
            one(r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}"#),
            Message::Response(ClientResponse {
                id: RequestId::Number(1.into()),
                outcome: Err(json!({"code": 1, "message": "x"}))
            })
        );
        assert!(matches!(
            one(r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#),
            Message::Invalid(_)
        ));
        assert!(matches!(
            one(r#"{"jsonrpc":"2.0","id":null,"result":{}}"#),
            Message::Invalid(_)
        ));
    }

    #[test]
    fn invalid_json_is_a_parse_error() {
        let err = parse_body(b"{\"jsonrpc\":").unwrap_err();
        assert_eq!(err.code, PARSE_ERROR);
        assert!(err.message.starts_with("Parse error"));
        assert_eq!(parse_body(b"").unwrap_err().code, PARSE_ERROR);
        assert_eq!(parse_body(&[0xff, 0xfe]).unwrap_err().code, PARSE_ERROR);
    }

    #[test]
    fn an_empty_batch_is_an_invalid_request() {
        assert_eq!(parse_body(b"[]").unwrap_err().code, INVALID_REQUEST);
    }

    #[test]
    fn wrong_jsonrpc_version_is_invalid_and_keeps_the_id() {
        let m = one(r#"{"jsonrpc":"1.0","id":"a","method":"ping"}"#);
        assert_eq!(invalid_id(&m), Some(RequestId::String("a".into())));
        let m = one(r#"{"id":3,"method":"ping"}"#);
        assert_eq!(invalid_id(&m), Some(RequestId::Number(3.into())));
    }

    #[test]
    fn a_non_string_method_is_invalid() {
        let m = one(r#"{"jsonrpc":"2.0","id":1,"method":42}"#);
        assert_eq!(invalid_id(&m), Some(RequestId::Number(1.into())));
    }

    #[test]
    fn ids_must_be_strings_or_integers_and_never_null() {
        for id in ["null", "1.5", "true", "{}", "[1]"] {
            let m = one(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#));
            assert_eq!(invalid_id(&m), None, "id {id}");
        }
        let m = one(r#"{"jsonrpc":"2.0","id":-5,"method":"ping"}"#);
        assert!(matches!(m, Message::Request(_)));
    }

    #[test]
    fn params_must_be_an_object() {
        let m = one(r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#);
        assert_eq!(invalid_id(&m), Some(RequestId::Number(1.into())));
    }

    #[test]
    fn non_objects_are_invalid_with_null_id() {
        for body in ["1", "\"x\"", "null", "true"] {
            assert_eq!(invalid_id(&one(body)), None, "{body}");
        }
    }

    #[test]
    fn a_batch_classifies_each_member() {
        let Ok(Body::Batch(items)) = parse_body(
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"},5]"#,
        ) else {
            panic!("expected a batch")
        };
        assert!(matches!(items[0], Message::Request(_)));
        assert!(matches!(items[1], Message::Notification(_)));
        assert!(matches!(items[2], Message::Invalid(_)));
    }

    #[test]
    fn responses_serialize_with_null_id_when_unknown() {
        let r = Response::error(None, ErrorObject::invalid_request("x"));
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: x"}})
        );
        let big: serde_json::Number = serde_json::from_str("18446744073709551615").unwrap();
        let r = Response::result(RequestId::Number(big), json!({}));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"result":{}}"#
        );
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 5), "hi");
    }

    #[test]
    fn random_and_truncated_bodies_never_panic() {
        let sample = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate","arguments":{"expression":"1+2"}}},{"jsonrpc":"2.0","method":"x"}]"#;
        for cut in 0..=sample.len() {
            let _ = parse_body(&sample[..cut]);
        }
        // A small deterministic generator (xorshift) instead of a fuzzing crate.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let alphabet = br#"{}[]":,0123456789.-eE truefalsnul\"jsonrpcidmethodparams2"#;
        for _ in 0..5000 {
            let len = (state % 64) as usize;
            let mut body = Vec::with_capacity(len);
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                body.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let _ = parse_body(&body);
        }
        // Deep nesting stops at serde_json's recursion limit rather than overflowing the stack.
        let deep = "[".repeat(100_000);
        assert_eq!(parse_body(deep.as_bytes()).unwrap_err().code, PARSE_ERROR);
    }
}
