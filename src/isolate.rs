//! What one isolate keeps between the requests it serves, and when each copy
//! may be trusted. Plain Rust: the shell holds one [`Isolate`] in its only
//! `thread_local` and hands `&Isolate` to the core; native tests build their own.
//!
//! | copy | kept for | forgotten when |
//! |---|---|---|
//! | registered client records (`client:<id>`) | [`CLIENT_COPY_SECS`] after a read or write | this isolate deletes the record |
//! | access tokens it accepted | `MCP_CACHE_TTL`, never past the token's expiry | a flow here rotates or revokes the grant ([`Isolate::forget_grant`]); the account page or admin API changes grants ([`Isolate::forget_all`]) |
//! | MCP sessions past `notifications/initialized` | `MCP_CACHE_TTL` after a read or write | this isolate handles the session's `DELETE` |
//! | client metadata documents and key sets | their `Cache-Control` (rules in `oauth::cimd`) | never early |
//! | the OIDC discovery document | [`DISCOVERY_KEEP_SECS`] | another issuer is configured |
//! | addresses over the bearer-failure limit | the rest of the rate-limit period | the address is counted under the limit again |
//!
//! Besides, a failed OIDC discovery makes the next [`DISCOVERY_RETRY_SECS`]
//! answer 503 at once ([`Isolate::discovery_or_backoff`]).
//!
//! A copy read from storage across an await is kept only if nothing was
//! forgotten meanwhile: the caller takes a mark ([`Isolate::access_mark`],
//! [`Isolate::session_mark`]) before the read and hands it back with the value.
//! Every method borrows its map only for its own duration, never across an
//! await.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::cache::TtlCache;
use crate::keys;
use crate::mcp::Session;
use crate::oauth::cimd::DocumentCache;
use crate::ratelimit::PERIOD_SECS;
use crate::upstream::oidc::DiscoveryDocument;
pub use crate::upstream::oidc::DISCOVERY_RETRY_SECS;
use crate::user::UserContext;

/// Registered clients are read on every /authorize and /token request and
/// change rarely (registration, renewal), so each isolate keeps the ones it read
/// for this long. That adds no staleness KV does not already have: KV itself
/// serves a read from its edge cache for about 60 s after a change.
pub const CLIENT_COPY_SECS: u64 = 60;
/// Client records kept; full, the least recently used goes.
pub const CLIENT_COPIES: usize = 64;
/// Accepted access tokens kept; full, the least recently used goes.
pub const ACCESS_RECORDS: usize = 256;
/// Sessions kept; full, the least recently used goes.
pub const SESSION_COPIES: usize = 256;
/// A fetched OpenID Connect discovery document is reused for this long, so a
/// sign-in does not pay for discovery every time.
pub const DISCOVERY_KEEP_SECS: u64 = 3600;
/// At most this many addresses are remembered as over the bearer-failure limit.
pub const OVER_LIMIT_ADDRESSES: usize = 256;

/// An access token this isolate checked and accepted: for which resource, of
/// which grant, and who it speaks for.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub resource: String,
    pub grant_id: String,
    pub user: UserContext,
}

/// Taken before reading an access record from storage; see [`Isolate::keep_accepted_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessMark(u64);

/// Taken before reading a session from storage; see [`Isolate::keep_session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionMark(u64);

/// What to do about OIDC discovery, from [`Isolate::discovery_or_backoff`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// A document for the issuer, fetched within [`DISCOVERY_KEEP_SECS`].
    Kept(DiscoveryDocument),
    /// Discovery failed within [`DISCOVERY_RETRY_SECS`]: answer 503 with this
    /// `Retry-After` rather than wait on a failing provider again.
    BackOff { retry_after: u64 },
    /// Fetch it, then [`Isolate::keep_discovery`] or [`Isolate::discovery_failed`].
    Fetch,
}

/// Every per-isolate copy, with its rules (see the module's table).
#[derive(Debug)]
pub struct Isolate {
    /// Client records (their JSON) by KV key.
    clients: RefCell<TtlCache<String>>,
    /// Accepted access tokens by their record's KV key (`access:<hash>`).
    access: RefCell<TtlCache<Accepted>>,
    /// Sessions (their JSON; one `TtlCache<String>` type with the clients) by name.
    sessions: RefCell<TtlCache<String>>,
    documents: RefCell<DocumentCache>,
    /// When the discovery document was fetched, and the document.
    discovery: RefCell<Option<(u64, DiscoveryDocument)>>,
    discovery_failed_at: Cell<Option<u64>>,
    /// Rate-limit keys of addresses over the bearer-failure limit, and until when.
    over_limit: RefCell<HashMap<String, u64>>,
}

impl Default for Isolate {
    fn default() -> Self {
        Isolate::new()
    }
}

impl Isolate {
    pub fn new() -> Isolate {
        Isolate {
            clients: RefCell::new(TtlCache::new(CLIENT_COPIES)),
            access: RefCell::new(TtlCache::new(ACCESS_RECORDS)),
            sessions: RefCell::new(TtlCache::new(SESSION_COPIES)),
            documents: RefCell::new(DocumentCache::default()),
            discovery: RefCell::new(None),
            discovery_failed_at: Cell::new(None),
            over_limit: RefCell::new(HashMap::new()),
        }
    }

    // -- Registered clients ------------------------------------------------

    /// The value of KV key `key` as this isolate last read or wrote it, when
    /// `key` is a client record's and that was less than [`CLIENT_COPY_SECS`]
    /// ago. Any other key: `None`, and the clock is not read.
    pub fn client_record(&self, key: &str, now: impl FnOnce() -> u64) -> Option<String> {
        if !keys::is_client(key) {
            return None;
        }
        self.clients.borrow().get(key, now())
    }

    /// A client record read from or written to KV (other keys are ignored).
    /// Only what exists is kept: a client registered a moment after a miss is
    /// found at once.
    pub fn keep_client_record(&self, key: &str, record: &str, now: impl FnOnce() -> u64) {
        if keys::is_client(key) {
            self.clients
                .borrow_mut()
                .put(key, record.to_owned(), CLIENT_COPY_SECS, now());
        }
    }

    /// The record under `key` is being deleted here: its copy goes at once.
    pub fn forget_client_record(&self, key: &str) {
        if keys::is_client(key) {
            self.clients.borrow_mut().remove(key);
        }
    }

    // -- Access tokens -----------------------------------------------------

    /// The caller behind the access token whose record is `key`, when this
    /// isolate accepted that token for `resource` and the copy is still fresh
    /// (see [`Isolate::keep_accepted_token`]). A token accepted for another
    /// resource is not answered here: it is checked again.
    pub fn accepted_token(&self, key: &str, resource: &str, now: u64) -> Option<UserContext> {
        let access = self.access.borrow();
        let accepted = access.peek(key, now)?;
        (accepted.resource == resource).then(|| accepted.user.clone())
    }

    /// Take before reading an access record from storage.
    pub fn access_mark(&self) -> AccessMark {
        AccessMark(self.access.borrow().generation())
    }

    /// Keeps an accepted token until its expiry (`expires_at`) or for
    /// `max_secs` (`MCP_CACHE_TTL`), whichever comes first; `max_secs` 0 keeps
    /// nothing. Not kept when a grant was forgotten here since `since` was
    /// taken: the record may have been read before that revocation. Refusals
    /// are never kept (there is no method for them).
    pub fn keep_accepted_token(
        &self,
        since: AccessMark,
        key: &str,
        accepted: Accepted,
        expires_at: u64,
        max_secs: u64,
        now: u64,
    ) {
        let mut access = self.access.borrow_mut();
        if access.generation() == since.0 {
            let ttl = expires_at.saturating_sub(now).min(max_secs);
            access.put(key, accepted, ttl, now);
        }
    }

    /// A flow here rotated, redeemed or revoked grant `grant_id` (or tried to):
    /// this isolate stops trusting the access tokens it accepted for it, at
    /// once. Other isolates stop within `MCP_CACHE_TTL`.
    pub fn forget_grant(&self, grant_id: &str) {
        self.access
            .borrow_mut()
            .remove_where(|accepted| accepted.grant_id == grant_id);
    }

    /// Grants changed here, and which ones is not known (the account page, the
    /// admin API): every accepted access token is forgotten. Client records,
    /// sessions, documents and discovery do not depend on grants and stay.
    pub fn forget_all(&self) {
        self.access.borrow_mut().clear();
    }

    /// How many accepted tokens of grant `grant_id` are kept and fresh at `now`.
    pub fn accepted_tokens_of(&self, grant_id: &str, now: u64) -> usize {
        self.access
            .borrow()
            .count_where(|accepted| accepted.grant_id == grant_id, now)
    }

    /// How many accepted tokens are kept, expired or not.
    pub fn accepted_tokens(&self) -> usize {
        self.access.borrow().len()
    }

    // -- MCP sessions ------------------------------------------------------

    /// The session named `name`, as this isolate last read or wrote it, if
    /// that was less than the `ttl` given to [`Isolate::keep_session`] ago.
    pub fn session_copy(&self, name: &str, now: u64) -> Option<Session> {
        let sessions = self.sessions.borrow();
        serde_json::from_str(sessions.peek(name, now)?).ok()
    }

    /// Take before reading or writing a session in storage.
    pub fn session_mark(&self) -> SessionMark {
        SessionMark(self.sessions.borrow().generation())
    }

    /// After a session was read (`None`: it does not exist) or written: a copy
    /// is kept for `ttl` seconds (`MCP_CACHE_TTL`), that being how late a
    /// `DELETE` handled by another isolate (or a `logging/setLevel` there) can
    /// reach this one. Only sessions past `notifications/initialized` are kept,
    /// so a stale copy never refuses a request as "not initialized"; and
    /// nothing is kept when a session was forgotten here since `since` was
    /// taken (the read may predate a `DELETE`). Whatever is not kept is
    /// dropped.
    pub fn keep_session(
        &self,
        since: SessionMark,
        name: &str,
        session: Option<&Session>,
        ttl: u64,
        now: u64,
    ) {
        let mut sessions = self.sessions.borrow_mut();
        let json = session
            .filter(|s| s.initialized && sessions.generation() == since.0)
            .and_then(|s| serde_json::to_string(s).ok());
        match json {
            Some(json) => sessions.put(name, json, ttl, now),
            None => sessions.remove(name),
        }
    }

    /// This isolate handles the session's `DELETE`: its copy goes at once
    /// (before and after the call to storage, whatever its outcome).
    pub fn forget_session(&self, name: &str) {
        self.sessions.borrow_mut().remove(name);
    }

    // -- Client ID Metadata Documents --------------------------------------

    /// Validated documents and key sets, and the fetch meters. Their rules
    /// (kept for the document's `Cache-Control` lifetime, clamped; failures
    /// never kept) are `oauth::cimd`'s.
    pub fn client_documents(&self) -> &RefCell<DocumentCache> {
        &self.documents
    }

    // -- OpenID Connect discovery ------------------------------------------

    /// Whether the discovery document of `issuer` is kept (fetched less than
    /// [`DISCOVERY_KEEP_SECS`] ago), discovery is in its back-off (it failed
    /// less than [`DISCOVERY_RETRY_SECS`] ago), or it must be fetched.
    pub fn discovery_or_backoff(&self, issuer: &str, now: u64) -> Discovery {
        let kept = self.discovery.borrow().as_ref().and_then(|(at, doc)| {
            (now < at.saturating_add(DISCOVERY_KEEP_SECS) && doc.issuer == issuer)
                .then(|| doc.clone())
        });
        if let Some(doc) = kept {
            return Discovery::Kept(doc);
        }
        match self.discovery_failed_at.get() {
            Some(at) if now < at.saturating_add(DISCOVERY_RETRY_SECS) => Discovery::BackOff {
                retry_after: at + DISCOVERY_RETRY_SECS - now,
            },
            _ => Discovery::Fetch,
        }
    }

    /// A discovery document fetched at `now`.
    pub fn keep_discovery(&self, doc: DiscoveryDocument, now: u64) {
        *self.discovery.borrow_mut() = Some((now, doc));
    }

    /// Discovery failed at `now`: the back-off starts.
    pub fn discovery_failed(&self, now: u64) {
        self.discovery_failed_at.set(Some(now));
    }

    // -- Bearer failures over the rate limit -------------------------------

    /// Whether the address of rate-limit key `key` was seen over the
    /// bearer-failure limit in the current period: its next token is then
    /// counted before any storage read.
    pub fn known_over_limit(&self, key: &str, now: u64) -> bool {
        self.over_limit
            .borrow()
            .get(key)
            .is_some_and(|until| *until > now)
    }

    /// The address of `key` went over the limit at `now`: remembered until
    /// the period ends ([`PERIOD_SECS`]). At most [`OVER_LIMIT_ADDRESSES`] are
    /// remembered (expired ones are dropped first; past that, new ones are not).
    pub fn remember_over_limit(&self, key: String, now: u64) {
        let mut over = self.over_limit.borrow_mut();
        over.retain(|_, until| *until > now);
        if over.len() < OVER_LIMIT_ADDRESSES {
            over.insert(key, now + PERIOD_SECS);
        }
    }

    /// The address of `key` was counted and is under the limit again.
    pub fn forget_over_limit(&self, key: &str) {
        self.over_limit.borrow_mut().remove(key);
    }
}
