//! The state of one legacy MCP session, persisted as JSON by the session Durable Object.
//!
//! Spec sections: "Lifecycle: Initialization" and "Transports: Session Management" (2025-03-26
//! to 2025-11-25); "Utilities: Logging" for the level. Modern (2026-07-28) requests have no
//! session and never touch this type.

use super::protocol::ClientCaps;
use serde::{Deserialize, Serialize};

/// The type of [`Session::log_level`]; protocol vocabulary, defined in `protocol` (this path
/// is kept for callers).
pub use super::protocol::LogLevel;

/// Longest client name or version kept; clients choose these strings, storage should not.
const MAX_CLIENT_FIELD: usize = 200;

/// One session, keyed by (user, id) in storage so a session id alone never grants access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    /// The version agreed in `initialize`; every later request must speak it.
    pub protocol_version: String,
    /// `clientInfo` from `initialize`, for display and logs only.
    #[serde(default)]
    pub client_info: Option<ClientInfo>,
    /// Whether `notifications/initialized` arrived.
    #[serde(default)]
    pub initialized: bool,
    /// The level set by `logging/setLevel`; `None` until the client sets one.
    #[serde(default)]
    pub log_level: Option<LogLevel>,
    /// URIs of `resources/subscribe`, at most [`MAX_SUBSCRIPTIONS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<String>,
    /// What the client declared in `initialize` it can answer (elicitation, sampling,
    /// roots); the server asks for nothing else.
    #[serde(default)]
    pub client_caps: ClientCaps,
}

/// Most resource subscriptions one session holds; one more is refused (-32602), not stored.
pub const MAX_SUBSCRIPTIONS: usize = 32;

impl Session {
    /// A session just created by `initialize`.
    pub fn create(id: &str, protocol_version: &str, client_info: Option<ClientInfo>) -> Session {
        Session {
            id: id.to_owned(),
            protocol_version: protocol_version.to_owned(),
            client_info,
            initialized: false,
            log_level: None,
            subscriptions: Vec::new(),
            client_caps: ClientCaps::default(),
        }
    }
}

/// The `clientInfo` (`Implementation`) a client sent in `initialize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub name: String,
    pub version: String,
}

impl ClientInfo {
    /// Reads `clientInfo` leniently: a missing or odd field becomes an empty string rather than
    /// a failed `initialize`, since the value is informational.
    pub fn from_value(value: Option<&serde_json::Value>) -> Option<ClientInfo> {
        let obj = value?.as_object()?;
        let field = |k: &str| {
            obj.get(k)
                .and_then(|v| v.as_str())
                .map(|s| s.chars().take(MAX_CLIENT_FIELD).collect())
                .unwrap_or_default()
        };
        Some(ClientInfo {
            name: field("name"),
            version: field("version"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sessions_round_trip_through_json() {
        let mut s = Session::create(
            "sid",
            "2025-06-18",
            Some(ClientInfo {
                name: "inspector".into(),
                version: "1.0".into(),
            }),
        );
        s.initialized = true;
        s.log_level = Some(LogLevel::Warning);
        let stored = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Session>(&stored).unwrap(), s);
        assert!(stored.contains(r#""log_level":"warning""#));
    }

    #[test]
    fn older_stored_sessions_without_optional_fields_still_load() {
        let s: Session =
            serde_json::from_value(json!({"id": "a", "protocol_version": "2025-03-26"})).unwrap();
        assert!(!s.initialized);
        assert_eq!(s.client_info, None);
        assert_eq!(s.log_level, None);
    }

    #[test]
    fn client_info_is_read_leniently_and_capped() {
        let long = "x".repeat(500);
        let info = ClientInfo::from_value(Some(&json!({"name": long, "version": 3}))).unwrap();
        assert_eq!(info.name.len(), MAX_CLIENT_FIELD);
        assert_eq!(info.version, "");
        assert_eq!(ClientInfo::from_value(Some(&json!("x"))), None);
        assert_eq!(ClientInfo::from_value(None), None);
    }
}
