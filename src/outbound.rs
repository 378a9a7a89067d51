//! Outbound HTTP as a trait, so the core can call upstream APIs (identity
//! providers, GitHub) and native tests can answer those calls themselves.
//! The Worker's implementation (`cloudflare::fetch_client`) uses the platform fetch.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::http::{RedactedBody, RedactedHeaders};

/// A boxed future that need not be `Send` (nothing in a Worker is).
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A request to another server. Its `Debug` redacts the body (a token request's code,
/// verifier or client secret) and credential headers (`Authorization`).
#[derive(Clone, PartialEq, Eq)]
pub struct OutRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl OutRequest {
    pub fn get(url: impl Into<String>) -> OutRequest {
        OutRequest {
            method: "GET",
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// A POST with an `application/x-www-form-urlencoded` body.
    pub fn post_form(url: impl Into<String>, fields: &[(&str, &str)]) -> OutRequest {
        let body = serde_urlencoded::to_string(fields).unwrap_or_default();
        OutRequest {
            method: "POST",
            url: url.into(),
            headers: vec![(
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: Some(body.into_bytes()),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> OutRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

impl fmt::Debug for OutRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &self.body.as_deref().map(RedactedBody))
            .finish()
    }
}

/// What came back. Its `Debug` redacts the body (a token answer) and `Set-Cookie`.
#[derive(Clone, PartialEq, Eq)]
pub struct OutResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl fmt::Debug for OutResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutResponse")
            .field("status", &self.status)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &RedactedBody(&self.body))
            .finish()
    }
}

impl OutResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends requests to other servers. `Err` carries a description of a network
/// failure (no response at all); any HTTP status is an `Ok`.
pub trait HttpClient {
    fn send(&self, request: OutRequest) -> LocalBoxFuture<'_, Result<OutResponse, String>>;
}
