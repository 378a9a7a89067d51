//! Where legacy sessions live: the [`SessionStore`] port (rmcp's vocabulary: `load`, `store`,
//! `delete`), and [`IsolateCopies`], the decorator that keeps a per-isolate copy of each
//! session and states when that copy may be trusted.
//!
//! Spec: "Transports: Session Management" (2025-03-26 to 2025-11-25). A session is named by
//! (user, session id) — see [`session_name`] — so a session id presented by another user
//! names another, empty, session.

use std::cell::RefCell;

use super::session::Session;
use crate::cache::TtlCache;
use crate::outbound::LocalBoxFuture;
use crate::user::UserContext;

/// Sessions kept per isolate by [`IsolateCopies`]; full, the one expiring first goes.
pub const SESSION_COPIES: usize = 256;

/// The storage failed (not the client's fault: the shell answers 503 with Retry-After).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session storage: {0}")]
pub struct SessionStoreError(pub String);

/// Persistent sessions, by name ([`session_name`]). The Worker's implementation is one
/// Durable Object per session.
pub trait SessionStore {
    fn load<'a>(
        &'a self,
        name: &'a str,
    ) -> LocalBoxFuture<'a, Result<Option<Session>, SessionStoreError>>;
    fn store<'a>(
        &'a self,
        name: &'a str,
        session: &'a Session,
    ) -> LocalBoxFuture<'a, Result<(), SessionStoreError>>;
    fn delete<'a>(&'a self, name: &'a str) -> LocalBoxFuture<'a, Result<(), SessionStoreError>>;
}

/// A session's storage name: the user's stable id and the session id.
pub fn session_name(user: &UserContext, session_id: &str) -> String {
    crate::keys::session(&user.user.id, session_id)
}

/// The per-isolate copy rules, around any [`SessionStore`]:
///
/// - A copy is used without asking the store again for `ttl` seconds (`MCP_CACHE_TTL`) after
///   this isolate read or wrote it. That is how late a `DELETE` handled by another isolate (or
///   a `logging/setLevel` there) can reach this one.
/// - The isolate that handles a `DELETE` forgets its copy at once, before and after the call.
/// - Only sessions past `notifications/initialized` are kept, so a stale copy never refuses a
///   request as "not initialized".
/// - A load whose answer was read while a copy was dropped (the copies' generation moved) is
///   not kept: it may predate a `DELETE`.
pub struct IsolateCopies<'a, S> {
    pub inner: S,
    /// The session's JSON by name (one `TtlCache<String>` type for the whole bundle).
    pub copies: &'a RefCell<TtlCache<String>>,
    /// Seconds a copy is trusted (0 keeps nothing).
    pub ttl: u64,
    /// Seconds since the epoch.
    pub clock: fn() -> u64,
}

impl<S: SessionStore> IsolateCopies<'_, S> {
    fn remember(&self, name: &str, session: Option<&Session>, at: u64, generation: u64) {
        let mut copies = self.copies.borrow_mut();
        let json = session
            .filter(|s| s.initialized && copies.generation() == generation)
            .and_then(|s| serde_json::to_string(s).ok());
        match json {
            Some(json) => copies.put(name, json, self.ttl, at),
            None => copies.remove(name),
        }
    }
}

impl<S: SessionStore> SessionStore for IsolateCopies<'_, S> {
    fn load<'a>(
        &'a self,
        name: &'a str,
    ) -> LocalBoxFuture<'a, Result<Option<Session>, SessionStoreError>> {
        Box::pin(async move {
            let at = (self.clock)();
            let (kept, generation) = {
                let copies = self.copies.borrow();
                (copies.get(name, at), copies.generation())
            };
            if let Some(session) = kept.and_then(|json| serde_json::from_str(&json).ok()) {
                return Ok(Some(session));
            }
            let loaded = self.inner.load(name).await?;
            self.remember(name, loaded.as_ref(), at, generation);
            Ok(loaded)
        })
    }

    fn store<'a>(
        &'a self,
        name: &'a str,
        session: &'a Session,
    ) -> LocalBoxFuture<'a, Result<(), SessionStoreError>> {
        Box::pin(async move {
            let generation = self.copies.borrow().generation();
            self.inner.store(name, session).await?;
            self.remember(name, Some(session), (self.clock)(), generation);
            Ok(())
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> LocalBoxFuture<'a, Result<(), SessionStoreError>> {
        Box::pin(async move {
            // Before the call as well: whatever its outcome, this copy is not to be trusted.
            self.copies.borrow_mut().remove(name);
            let outcome = self.inner.delete(name).await;
            self.copies.borrow_mut().remove(name);
            outcome
        })
    }
}

/// Sessions in memory: the store of the native tests.
#[derive(Debug, Default)]
pub struct MemorySessions {
    pub sessions: RefCell<Vec<(String, Session)>>,
    /// How many times each operation reached this store.
    pub loads: std::cell::Cell<usize>,
}

impl SessionStore for MemorySessions {
    fn load<'a>(
        &'a self,
        name: &'a str,
    ) -> LocalBoxFuture<'a, Result<Option<Session>, SessionStoreError>> {
        self.loads.set(self.loads.get() + 1);
        let found = self
            .sessions
            .borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.clone());
        Box::pin(async move { Ok(found) })
    }

    fn store<'a>(
        &'a self,
        name: &'a str,
        session: &'a Session,
    ) -> LocalBoxFuture<'a, Result<(), SessionStoreError>> {
        let mut sessions = self.sessions.borrow_mut();
        sessions.retain(|(n, _)| n != name);
        sessions.push((name.to_owned(), session.clone()));
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, name: &'a str) -> LocalBoxFuture<'a, Result<(), SessionStoreError>> {
        self.sessions.borrow_mut().retain(|(n, _)| n != name);
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        static NOW: Cell<u64> = const { Cell::new(1000) };
    }
    fn clock() -> u64 {
        NOW.with(Cell::get)
    }

    fn initialized(id: &str) -> Session {
        let mut s = Session::create(id, "2025-06-18", None);
        s.initialized = true;
        s
    }

    /// Copies kept for 5 s in front of an in-memory store that counts its loads.
    fn copies_over_memory(copies: &RefCell<TtlCache<String>>) -> IsolateCopies<'_, MemorySessions> {
        IsolateCopies {
            inner: MemorySessions::default(),
            copies,
            ttl: 5,
            clock,
        }
    }

    #[test]
    fn a_copy_is_trusted_for_ttl_seconds_then_read_again() {
        let copies = RefCell::new(TtlCache::new(SESSION_COPIES));
        let store = copies_over_memory(&copies);
        pollster::block_on(store.store("u\ns", &initialized("s"))).unwrap();
        assert!(pollster::block_on(store.load("u\ns")).unwrap().is_some());
        assert_eq!(store.inner.loads.get(), 0, "the stored copy answers");
        NOW.with(|n| n.set(1005));
        assert!(pollster::block_on(store.load("u\ns")).unwrap().is_some());
        assert_eq!(store.inner.loads.get(), 1, "an expired copy is read again");
    }

    #[test]
    fn a_session_before_initialized_is_never_kept() {
        let copies = RefCell::new(TtlCache::new(SESSION_COPIES));
        let store = copies_over_memory(&copies);
        pollster::block_on(store.store("u\ns", &Session::create("s", "2025-06-18", None))).unwrap();
        pollster::block_on(store.load("u\ns")).unwrap();
        assert_eq!(store.inner.loads.get(), 1);
    }

    #[test]
    fn delete_forgets_the_copy_at_once() {
        let copies = RefCell::new(TtlCache::new(SESSION_COPIES));
        let store = copies_over_memory(&copies);
        pollster::block_on(store.store("u\ns", &initialized("s"))).unwrap();
        pollster::block_on(store.delete("u\ns")).unwrap();
        assert_eq!(pollster::block_on(store.load("u\ns")).unwrap(), None);
        assert_eq!(store.inner.loads.get(), 1);
    }
}
