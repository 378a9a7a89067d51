//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! MCP 2026-07-28 "Client Registration"): a client whose `client_id` is an
//! `https` URL publishes its metadata at that URL, and this server fetches it
//! instead of asking the client to register.
//!
//! - `document.rs`: what a `client_id` URL may look like
//!   ([`check_client_id_url`]) and the fetched document's rules
//!   ([`validate_document`]).
//! - `fetch.rs`: [`resolve`] (fetch through [`ClientDocuments`], the
//!   platform's side; validate; cache), the key sets ([`jwks`]), the cache
//!   ([`DocumentCache`], [`cache_ttl`]) and the per-host meter.
//! - `assertion.rs`: [`parse_assertion`], [`check_claims`], [`select_key`]: a `private_key_jwt`
//!   assertion (RFC 7523 §2.2 and §3) and the key that verifies it; the
//!   authentication itself is `oauth::client_auth`'s, and the platform checks
//!   the signature with WebCrypto.
//!
//! Before any fetch, the URL passes the outbound policy in code
//! ([`crate::urls::client_fetch_target`]: no IP literal in any notation, no
//! loopback or special-use name, port 443 only) and a per-host meter
//! ([`FETCHES_PER_HOST`] per [`FETCH_WINDOW_SECS`] per isolate). The platform
//! fetches with redirects off, a size cap ([`MAX_DOCUMENT_BYTES`]) and a
//! timeout. Every fetch failure answers with one message ([`FETCH_FAILED`]);
//! the detail goes to the log. An answer must be served as JSON.

mod assertion;
mod document;
mod fetch;

pub use assertion::{
    check_claims, parse_assertion, select_key, Assertion, SigAlg, CLOCK_SKEW_SECS, JWT_BEARER,
    MAX_ASSERTION_LEN, MAX_ASSERTION_LIFETIME_SECS,
};
pub use document::{
    check_client_id_url, check_public_keys, client_id_host, is_document_client_id,
    is_shared_content, validate_document, DocumentAuth, DocumentClient, KeySource,
    MAX_CLIENT_ID_URL_LEN, MAX_DOCUMENT_BYTES, PRIVATE_KEY_MEMBERS, SYMMETRIC_METHODS,
};
pub use fetch::{
    cache_ttl, first_use_allowed, is_json_content_type, jwks, resolve, ClientDocuments,
    DocumentCache, DocumentError, FetchError, Fetched, CACHE_ENTRIES, DEFAULT_CACHE_SECS,
    FETCHES_PER_HOST, FETCH_FAILED, FETCH_TIMEOUT_MS, FETCH_WINDOW_SECS, JWKS_REFETCH_SECS,
    MAX_CACHE_SECS, MIN_CACHE_SECS,
};
