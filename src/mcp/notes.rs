//! Notifications a request sends while it runs: progress and log messages. They are
//! buffered and written into the POST's SSE body before the response (Streamable HTTP lets
//! the server answer a POST with an event stream whose events may precede the response).
//!
//! Spec sections: "Utilities: Progress" (only for a request whose `_meta.progressToken` is
//! set; values increase), "Utilities: Logging" (a message is sent only at or above the level
//! the client chose: `logging/setLevel` in a legacy session, the request's
//! `_meta["io.modelcontextprotocol/logLevel"]` in 2026-07-28, where no level means no log).

use std::cell::RefCell;

use serde_json::{json, Map, Value};

use super::protocol::LogLevel;

/// Most notifications one request may buffer; later ones are dropped (a tool in a loop must
/// not grow the reply without bound).
pub const MAX_NOTES: usize = 256;

/// The sink of one request's notifications.
#[derive(Debug, Default)]
pub struct Notes {
    progress_token: Option<Value>,
    log_level: Option<LogLevel>,
    last_progress: RefCell<Option<f64>>,
    sent: RefCell<Vec<Value>>,
}

impl Notes {
    /// `progress_token` from the request's `_meta` (a string or an integer), and the level
    /// below which log messages are not sent (`None`: none are).
    pub fn new(progress_token: Option<Value>, log_level: Option<LogLevel>) -> Notes {
        Notes {
            progress_token: progress_token.filter(|t| t.is_string() || t.is_i64() || t.is_u64()),
            log_level,
            ..Notes::default()
        }
    }

    /// `notifications/progress`, if the request asked for progress. A value that does not
    /// increase is not sent (the spec: progress MUST increase with each notification).
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = &self.progress_token else {
            return;
        };
        if !progress.is_finite() || self.last_progress.borrow().is_some_and(|p| progress <= p) {
            return;
        }
        *self.last_progress.borrow_mut() = Some(progress);
        let mut params = Map::new();
        params.insert("progressToken".into(), token.clone());
        params.insert("progress".into(), json!(progress));
        if let Some(total) = total.filter(|t| t.is_finite()) {
            params.insert("total".into(), json!(total));
        }
        if let Some(message) = message {
            params.insert("message".into(), json!(message));
        }
        self.push("notifications/progress", Value::Object(params));
    }

    /// `notifications/message` at `level`, if the client asked for that level or lower.
    pub fn log(&self, level: LogLevel, logger: Option<&str>, data: Value) {
        if self.log_level.is_none_or(|min| level < min) {
            return;
        }
        let mut params = Map::new();
        params.insert("level".into(), json!(level));
        if let Some(logger) = logger {
            params.insert("logger".into(), json!(logger));
        }
        params.insert("data".into(), data);
        self.push("notifications/message", Value::Object(params));
    }

    fn push(&self, method: &str, params: Value) {
        let mut sent = self.sent.borrow_mut();
        if sent.len() < MAX_NOTES {
            sent.push(json!({"jsonrpc": "2.0", "method": method, "params": params}));
        }
    }

    /// The request's progress token (kept by a legacy call that waits for input, so its
    /// last run reports progress under the same token).
    pub fn progress_token(&self) -> Option<Value> {
        self.progress_token.clone()
    }

    /// The level below which log messages are not sent.
    pub fn log_level(&self) -> Option<LogLevel> {
        self.log_level
    }

    /// The buffered notifications, oldest first.
    pub fn take(&self) -> Vec<Value> {
        std::mem::take(&mut self.sent.borrow_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_needs_a_token_and_must_increase() {
        let none = Notes::new(None, None);
        none.progress(1.0, None, None);
        assert!(none.take().is_empty());
        let notes = Notes::new(Some(json!("t1")), None);
        notes.progress(0.0, Some(100.0), None);
        notes.progress(0.0, Some(100.0), None);
        notes.progress(50.0, Some(100.0), Some("half"));
        let sent = notes.take();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            sent[1]["params"],
            json!({"progressToken": "t1", "progress": 50.0, "total": 100.0, "message": "half"})
        );
        // Only strings and integers are tokens.
        let odd = Notes::new(Some(json!({"x": 1})), None);
        odd.progress(1.0, None, None);
        assert!(odd.take().is_empty());
    }

    #[test]
    fn logs_honour_the_level_and_none_means_no_log() {
        let silent = Notes::new(None, None);
        silent.log(LogLevel::Emergency, None, json!("x"));
        assert!(silent.take().is_empty());
        let notes = Notes::new(None, Some(LogLevel::Warning));
        notes.log(LogLevel::Info, None, json!("dropped"));
        notes.log(LogLevel::Error, Some("tool"), json!("kept"));
        let sent = notes.take();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0]["params"],
            json!({"level": "error", "logger": "tool", "data": "kept"})
        );
    }

    #[test]
    fn a_flood_is_cut_at_the_bound() {
        let notes = Notes::new(Some(json!(1)), Some(LogLevel::Debug));
        for i in 0..1000 {
            notes.log(LogLevel::Info, None, json!(i));
        }
        assert_eq!(notes.take().len(), MAX_NOTES);
    }
}
