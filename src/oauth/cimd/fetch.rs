//! Fetching client documents and their key sets, and keeping them: through
//! [`ClientDocuments`] (the platform's side: the fetch, this isolate's cache,
//! WebCrypto, the replay register), under the outbound policy in code
//! (`crate::urls::client_fetch_target`) and a per-host meter
//! ([`FETCHES_PER_HOST`] per [`FETCH_WINDOW_SECS`] per isolate), with
//! redirects off, a size cap and a timeout. Validated documents (and JWKS) are
//! kept for their `Cache-Control` lifetime, clamped to [`MIN_CACHE_SECS`,
//! `MAX_CACHE_SECS`] ([`cache_ttl`]); failures are never kept. Every fetch
//! failure answers with one message ([`FETCH_FAILED`]); the detail goes to
//! the log. An answer must be served as JSON.

use std::cell::RefCell;

use serde_json::Value;

use crate::cache::TtlCache;
use crate::outbound::LocalBoxFuture;

use super::assertion::SigAlg;
use super::document::{
    check_client_id_url, check_public_keys, validate_document, DocumentClient, MAX_DOCUMENT_BYTES,
};

/// How long a fetch may take, in milliseconds.
pub const FETCH_TIMEOUT_MS: u32 = 3_000;

/// A validated document is kept at least this long, whatever its headers say,
/// so a client's burst of requests does not fetch it again each time.
pub const MIN_CACHE_SECS: u64 = 60;

/// And at most this long.
pub const MAX_CACHE_SECS: u64 = 86_400;

/// Without `max-age`.
pub const DEFAULT_CACHE_SECS: u64 = 300;

/// Documents (and JWKS) kept per isolate.
pub const CACHE_ENTRIES: usize = 64;

/// Whether a `Content-Type` is JSON: `application/json` or any `+json` type.
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json") && sub.len() > 5)
}

/// How long to keep a validated document, from its `Cache-Control`
/// (`max-age`, else [`DEFAULT_CACHE_SECS`]; `no-store`/`no-cache` mean the
/// minimum), clamped to [`MIN_CACHE_SECS`, `MAX_CACHE_SECS`].
pub fn cache_ttl(cache_control: Option<&str>) -> u64 {
    let mut ttl = DEFAULT_CACHE_SECS;
    for directive in cache_control.unwrap_or("").split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return MIN_CACHE_SECS;
        }
        if let Some(v) = directive.strip_prefix("max-age=") {
            ttl = v.trim_matches('"').parse::<u64>().unwrap_or(0);
        }
    }
    ttl.clamp(MIN_CACHE_SECS, MAX_CACHE_SECS)
}

/// Fetches of client-chosen URLs allowed per document host, per isolate, in
/// one [`FETCH_WINDOW_SECS`] window. Enough for a busy legitimate client
/// (whose document is cached after the first fetch), small enough that nobody
/// can make this Worker hammer a host.
pub const FETCHES_PER_HOST: u32 = 30;

/// The window of [`FETCHES_PER_HOST`].
pub const FETCH_WINDOW_SECS: u64 = 60;

/// An assertion with an unknown `kid` refetches a `jwks_uri` at most once in
/// this many seconds.
pub const JWKS_REFETCH_SECS: u64 = 60;

/// Validated documents and key sets, per isolate; and the meters of what was
/// fetched (per host, and when each `jwks_uri` was last fetched).
#[derive(Debug)]
pub struct DocumentCache {
    pub clients: TtlCache<DocumentClient>,
    pub jwks: TtlCache<Value>,
    /// Fetches per host in the current window: the value is the count; the
    /// entry lives until the window ends.
    pub per_host: TtlCache<u32>,
    /// A `jwks_uri` fetched within [`JWKS_REFETCH_SECS`].
    pub jwks_fetched: TtlCache<()>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        DocumentCache {
            clients: TtlCache::new(CACHE_ENTRIES),
            jwks: TtlCache::new(CACHE_ENTRIES),
            per_host: TtlCache::new(CACHE_ENTRIES),
            jwks_fetched: TtlCache::new(CACHE_ENTRIES),
        }
    }
}

impl DocumentCache {
    /// Counts one fetch to `host` at `now`; `false` (and nothing counted) when
    /// the host already had [`FETCHES_PER_HOST`] in this window.
    pub fn allow_fetch(&mut self, host: &str, now: u64) -> bool {
        match self.per_host.get_with_expiry(host, now) {
            Some((count, _)) if count >= FETCHES_PER_HOST => false,
            Some((count, until)) => {
                self.per_host
                    .put(host, count + 1, until.saturating_sub(now), now);
                true
            }
            None => {
                self.per_host.put(host, 1, FETCH_WINDOW_SECS, now);
                true
            }
        }
    }
}

/// What fetching a URL gave, short of an HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// No answer (DNS, connection, TLS).
    Unreachable(String),
    Timeout,
    /// The body went past [`MAX_DOCUMENT_BYTES`]; reading stopped there.
    TooLarge,
}

/// An HTTP answer, with at most [`MAX_DOCUMENT_BYTES`] of body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What the platform does for document clients.
pub trait ClientDocuments {
    /// GET `url` with `Accept: application/json`, no redirects followed, at
    /// most [`MAX_DOCUMENT_BYTES`] read, within [`FETCH_TIMEOUT_MS`].
    fn fetch<'a>(&'a self, url: &'a str) -> LocalBoxFuture<'a, Result<Fetched, FetchError>>;

    /// This isolate's cache.
    fn cache(&self) -> &RefCell<DocumentCache>;

    /// Whether `signature` is `alg`'s signature of `signed` under the public key
    /// `jwk`. `Err` is a key the platform could not import.
    fn verify_signature<'a>(
        &'a self,
        alg: SigAlg,
        jwk: &'a Value,
        signed: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<bool, String>>;

    /// Records `key` as used until `until` (Unix seconds); `false` when it
    /// already was. Concurrent calls with one key: exactly one gets `true`.
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        until: u64,
    ) -> LocalBoxFuture<'a, Result<bool, String>>;

    /// Writes why a fetch failed to the operator's log. The client is told
    /// only [`FETCH_FAILED`].
    fn log(&self, _line: &str) {}
}

/// The one answer a client gets for any failed fetch of a document or JWKS,
/// whatever the target did (refused, unreachable, slow, an HTTP error, a
/// redirect, too large): the detail goes to the log only, so this server
/// cannot be used to probe other hosts.
pub const FETCH_FAILED: &str =
    "the client metadata document could not be fetched from its URL; try again later";

/// Why a document client could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentError {
    /// The document cannot be fetched right now (network, timeout, 5xx, 429).
    Unavailable(String),
    /// The URL or the document is not acceptable (refused, wrong, absent).
    Invalid(String),
}

impl DocumentError {
    pub fn message(&self) -> &str {
        match self {
            DocumentError::Unavailable(m) | DocumentError::Invalid(m) => m,
        }
    }
}

/// Fetches a client-chosen URL under the outbound policy and the per-host
/// meter. Every failure is [`DocumentError::Unavailable`] with
/// [`FETCH_FAILED`]; the detail goes to [`ClientDocuments::log`]. An answer
/// that is not JSON (by its `Content-Type`) is refused with a clear error.
async fn fetch_checked(
    docs: &dyn ClientDocuments,
    url: &str,
    what: &str,
    now: u64,
) -> Result<Fetched, DocumentError> {
    let fail = |detail: String| {
        docs.log(&format!("client document fetch of {url} failed: {detail}"));
        DocumentError::Unavailable(FETCH_FAILED.to_owned())
    };
    let parsed = crate::urls::Url::parse(url).map_err(|e| fail(e.to_string()))?;
    crate::urls::client_fetch_target(&parsed).map_err(|e| fail(format!("refused: {e}")))?;
    let host = parsed.host_str().unwrap_or_default().to_owned();
    if !docs.cache().borrow_mut().allow_fetch(&host, now) {
        return Err(fail(format!(
            "more than {FETCHES_PER_HOST} fetches to {host} within {FETCH_WINDOW_SECS} s"
        )));
    }
    let fetched = match docs.fetch(url).await {
        Ok(f) => f,
        Err(FetchError::Unreachable(e)) => return Err(fail(format!("unreachable: {e}"))),
        Err(FetchError::Timeout) => {
            return Err(fail(format!(
                "no answer within {} seconds",
                FETCH_TIMEOUT_MS / 1000
            )))
        }
        Err(FetchError::TooLarge) => {
            return Err(fail(format!("larger than {MAX_DOCUMENT_BYTES} bytes")))
        }
    };
    if fetched.status != 200 {
        return Err(fail(format!("HTTP {}", fetched.status)));
    }
    if !is_json_content_type(fetched.content_type.as_deref()) {
        return Err(DocumentError::Invalid(format!(
            "the {what} at {} is served as '{}', not as application/json",
            crate::urls::short_host(url),
            fetched
                .content_type
                .as_deref()
                .unwrap_or("(no Content-Type)")
                .chars()
                .take(40)
                .collect::<String>()
        )));
    }
    Ok(fetched)
}

/// The client of a `client_id` URL: from this isolate's cache, or fetched and
/// validated (and then cached).
pub async fn resolve(
    docs: &dyn ClientDocuments,
    url: &str,
    now: u64,
) -> Result<DocumentClient, DocumentError> {
    check_client_id_url(url).map_err(DocumentError::Invalid)?;
    if let Some(hit) = docs.cache().borrow().clients.get(url, now) {
        return Ok(hit);
    }
    let fetched = fetch_checked(docs, url, "client metadata document", now).await?;
    let client = validate_document(url, &fetched.body, now).map_err(|e| {
        DocumentError::Invalid(format!(
            "the client metadata document at {}: {e}",
            crate::urls::short_host(url)
        ))
    })?;
    let ttl = cache_ttl(fetched.cache_control.as_deref());
    docs.cache()
        .borrow_mut()
        .clients
        .put(url, client.clone(), ttl, now);
    Ok(client)
}

fn parse_jwks(body: &[u8]) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "the JWKS is not JSON".to_owned())?;
    check_public_keys(&v, "the JWKS")?;
    Ok(v)
}

pub async fn jwks(
    docs: &dyn ClientDocuments,
    uri: &str,
    now: u64,
    fresh: bool,
) -> Result<Value, DocumentError> {
    if !fresh {
        if let Some(hit) = docs.cache().borrow().jwks.get(uri, now) {
            return Ok(hit);
        }
    }
    docs.cache()
        .borrow_mut()
        .jwks_fetched
        .put(uri, (), JWKS_REFETCH_SECS, now);
    let fetched = fetch_checked(docs, uri, "JWKS", now).await?;
    let set = parse_jwks(&fetched.body).map_err(DocumentError::Invalid)?;
    let ttl = cache_ttl(fetched.cache_control.as_deref());
    docs.cache()
        .borrow_mut()
        .jwks
        .put(uri, set.clone(), ttl, now);
    Ok(set)
}

/// The replay register's rule: a `jti` recorded until `seen` may be used again
/// only once that time has passed (the assertion it came with expired then).
pub fn first_use_allowed(seen: Option<u64>, now: u64) -> bool {
    seen.is_none_or(|until| until < now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_is_clamped() {
        assert_eq!(cache_ttl(None), DEFAULT_CACHE_SECS);
        assert_eq!(cache_ttl(Some("public, max-age=3600")), 3600);
        assert_eq!(cache_ttl(Some("max-age=5")), MIN_CACHE_SECS);
        assert_eq!(cache_ttl(Some("max-age=99999999")), MAX_CACHE_SECS);
        assert_eq!(cache_ttl(Some("no-store")), MIN_CACHE_SECS);
        assert_eq!(cache_ttl(Some("max-age=junk")), MIN_CACHE_SECS);
    }
}
