//! The protocol's vocabulary: versions and their negotiation, the HTTP header names of
//! Streamable HTTP, the `_meta` keys and error codes of 2026-07-28, what a client can
//! answer ([`ClientCaps`]) and the logging levels ([`LogLevel`]).
//!
//! Spec sections: "Lifecycle: Version Negotiation" (2025-03-26 to 2025-11-25),
//! "Transports: Protocol Version Header" (2025-06-18 and later), "Versioning and
//! Compatibility" and "Streamable HTTP: Request Metadata" (2026-07-28), the schema's
//! `ClientCapabilities` and `LoggingLevel` ("Utilities: Logging").
//!
//! Two eras share one endpoint. The legacy versions (2025-03-26 to 2025-11-25) open a session
//! with `initialize`; the modern one (2026-07-28) has no handshake and no session: every
//! request carries its version in `params._meta` and in headers. This server is "dual-era" in
//! the words of the 2026-07-28 versioning page.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every version this server speaks, latest first.
pub const SUPPORTED_VERSIONS: &[&str] = &["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"];
/// The version that had no `MCP-Protocol-Version` header and allowed JSON-RPC batches.
pub const VERSION_2025_03_26: &str = "2025-03-26";
/// Versions without `initialize`; requests carry their version in `_meta`.
pub const MODERN_VERSIONS: &[&str] = &["2026-07-28"];

/// `Mcp-Session-Id`: the session a legacy client is in (2025-03-26 "Session Management").
pub const SESSION_ID_HEADER: &str = "Mcp-Session-Id";
/// `MCP-Protocol-Version`: the version a request speaks (2025-06-18 and later).
pub const PROTOCOL_VERSION_HEADER: &str = "MCP-Protocol-Version";
/// `Last-Event-ID`: SSE resumption. No stream of this server outlives its request, so the
/// header is never acted on (2026-07-28 removed resumption altogether).
pub const LAST_EVENT_ID_HEADER: &str = "Last-Event-ID";
/// `Mcp-Method`: mirrors the JSON-RPC `method` (2026-07-28).
pub const METHOD_HEADER: &str = "Mcp-Method";
/// `Mcp-Name`: mirrors `params.name` of `tools/call` (2026-07-28).
pub const NAME_HEADER: &str = "Mcp-Name";

/// `_meta` key of a modern request's protocol version.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// 2026-07-28: the log level a request asks for (no level, no log message).
pub const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// `_meta` key of a modern request's client capabilities (required, an object).
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key of a modern request's client identity.
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key of a modern result's server identity.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// `HeaderMismatch`: headers and body disagree, or a required header is missing (2026-07-28).
pub const HEADER_MISMATCH: i64 = -32020;
/// `UnsupportedProtocolVersion` (2026-07-28); its `data` lists what is supported.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// The canonical spelling of `version` if this server supports it.
pub fn supported(version: &str) -> Option<&'static str> {
    SUPPORTED_VERSIONS.iter().copied().find(|v| *v == version)
}

pub fn is_modern(version: &str) -> bool {
    MODERN_VERSIONS.contains(&version)
}

/// The version to answer an `initialize` with: the client's if this server speaks it, otherwise
/// the latest. `initialize` only exists in the legacy era, so a request for a modern version
/// through it (or for one unknown) is answered with the latest legacy version; a client that
/// wants 2026-07-28 sends its requests without `initialize` (2026-07-28 "Versioning:
/// Backward Compatibility": an `initialize` request selects legacy semantics).
pub fn negotiate(requested: &str) -> &'static str {
    let legacy = || SUPPORTED_VERSIONS.iter().copied().filter(|v| !is_modern(v));
    legacy()
        .find(|v| *v == requested)
        .or_else(|| legacy().next())
        .unwrap_or(VERSION_2025_03_26)
}

/// A session id is visible ASCII only (2025-03-26 "Session Management"); anything else in the
/// header cannot name a session this server issued.
pub fn is_well_formed_session_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Decodes a header value that may use the `=?base64?...?=` sentinel of 2026-07-28 ("Value
/// Encoding"). `None` when the sentinel is present but its content is not Base64 of UTF-8.
pub fn decode_header_value(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(value.to_owned()),
    }
}

/// What a POST's `Accept` header lets the server answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// JSON is acceptable (possibly SSE too): answer JSON.
    Json,
    /// Only `text/event-stream` is acceptable: answer one SSE event.
    EventStreamOnly,
    /// Neither: 406.
    Neither,
}

/// Reads an `Accept` header. An absent or blank header is read as "anything", as HTTP says
/// (RFC 9110 §12.5.1), because some clients omit it. Media ranges with `q=0` are refused.
pub fn accepts(accept: Option<&str>) -> Accepts {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Accepts::Json;
    };
    let mut json = false;
    let mut sse = false;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim();
            // `get` rather than slicing: a header may hold any bytes, and slicing inside a
            // multi-byte character would panic.
            p.get(..2).is_some_and(|k| k.eq_ignore_ascii_case("q="))
                && p.get(2..)
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
        });
        if refused {
            continue;
        }
        match media.as_str() {
            "application/json" | "application/*" => json = true,
            "text/event-stream" | "text/*" => sse = true,
            "*/*" => {
                json = true;
                sse = true;
            }
            _ => {}
        }
    }
    match (json, sse) {
        (true, _) => Accepts::Json,
        (false, true) => Accepts::EventStreamOnly,
        (false, false) => Accepts::Neither,
    }
}

/// Whether a `Content-Type` header names JSON (`application/json`, parameters allowed).
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
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

/// Syslog severities of RFC 5424 §6.2.1, as the MCP logging utility names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    pub const NAMES: &'static [&'static str] = &[
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
    ];

    /// Exact, lowercase names only, as the schema's `LoggingLevel` enumerates them.
    pub fn parse(name: &str) -> Option<LogLevel> {
        Some(match name {
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "notice" => LogLevel::Notice,
            "warning" => LogLevel::Warning,
            "error" => LogLevel::Error,
            "critical" => LogLevel::Critical,
            "alert" => LogLevel::Alert,
            "emergency" => LogLevel::Emergency,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_are_listed_latest_first() {
        let mut sorted = SUPPORTED_VERSIONS.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(sorted, SUPPORTED_VERSIONS);
        assert_eq!(SUPPORTED_VERSIONS[0], "2026-07-28");
    }

    #[test]
    fn a_supported_requested_version_is_used() {
        for v in ["2025-11-25", "2025-06-18", "2025-03-26"] {
            assert_eq!(negotiate(v), v);
        }
    }

    #[test]
    fn an_unsupported_version_is_answered_with_the_latest_initialize_version() {
        assert_eq!(negotiate("2024-11-05"), "2025-11-25");
        assert_eq!(negotiate("garbage"), "2025-11-25");
        // 2026-07-28 has no initialize; asking for it through initialize selects legacy.
        assert_eq!(negotiate("2026-07-28"), "2025-11-25");
    }

    #[test]
    fn supported_and_modern() {
        assert_eq!(supported("2025-06-18"), Some("2025-06-18"));
        assert_eq!(supported("2025-06-19"), None);
        assert!(is_modern("2026-07-28"));
        assert!(!is_modern("2025-11-25"));
    }

    #[test]
    fn session_ids_are_visible_ascii() {
        assert!(is_well_formed_session_id("abc-123_XYZ"));
        assert!(!is_well_formed_session_id(""));
        assert!(!is_well_formed_session_id("a b"));
        assert!(!is_well_formed_session_id("é"));
        assert!(!is_well_formed_session_id(&"a".repeat(257)));
    }

    #[test]
    fn header_values_decode_the_base64_sentinel() {
        assert_eq!(
            decode_header_value("calculate").as_deref(),
            Some("calculate")
        );
        assert_eq!(
            decode_header_value("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(decode_header_value("=?base64?!!!?="), None);
    }

    #[test]
    fn accept_header_selects_json_or_sse() {
        assert_eq!(accepts(None), Accepts::Json);
        assert_eq!(accepts(Some("  ")), Accepts::Json);
        assert_eq!(
            accepts(Some("application/json, text/event-stream")),
            Accepts::Json
        );
        assert_eq!(accepts(Some("*/*")), Accepts::Json);
        assert_eq!(
            accepts(Some("Application/JSON; charset=utf-8")),
            Accepts::Json
        );
        assert_eq!(accepts(Some("text/event-stream")), Accepts::EventStreamOnly);
        assert_eq!(
            accepts(Some("application/json;q=0, text/event-stream")),
            Accepts::EventStreamOnly
        );
        assert_eq!(accepts(Some("text/html")), Accepts::Neither);
        assert_eq!(accepts(Some("application/xml, image/*")), Accepts::Neither);
        assert_eq!(accepts(Some("application/json;é, ;ü=1")), Accepts::Json);
    }

    #[test]
    fn content_type_must_be_json_with_optional_parameters() {
        assert!(is_json_content_type(Some("application/json")));
        assert!(is_json_content_type(Some(
            "application/json; charset=utf-8"
        )));
        assert!(is_json_content_type(Some("APPLICATION/JSON")));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(Some("application/jsonx")));
        assert!(!is_json_content_type(None));
    }

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
    fn the_eight_rfc_5424_levels_parse_and_nothing_else() {
        for name in LogLevel::NAMES {
            let level = LogLevel::parse(name).unwrap();
            assert_eq!(serde_json::to_value(level).unwrap(), json!(name));
        }
        for bad in ["Debug", "warn", "fatal", "", "trace"] {
            assert_eq!(LogLevel::parse(bad), None, "{bad}");
        }
        assert!(LogLevel::Debug < LogLevel::Emergency);
    }
}
