//! Where legacy sessions live: the [`SessionStore`] port (rmcp's vocabulary: `load`, `store`,
//! `delete`), and [`IsolateCopies`], the decorator that puts this isolate's copy of each
//! session in front of the store (the copy's rules are [`Isolate`]'s).
//!
//! Spec: "Transports: Session Management" (2025-03-26 to 2025-11-25). A session is named by
//! (user, session id) — see [`session_name`] — so a session id presented by another user
//! names another, empty, session.

use std::cell::RefCell;

use super::session::Session;
use crate::isolate::Isolate;
use crate::outbound::LocalBoxFuture;
use crate::user::UserContext;

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

/// This isolate's session copies in front of any [`SessionStore`]. The rules (how long a
/// copy is trusted, which sessions are kept, what forgets one) are [`Isolate::keep_session`]'s
/// and [`Isolate::forget_session`]'s; this decorator only asks the copies first and tells
/// them what storage answered.
pub struct IsolateCopies<'a, S> {
    pub inner: S,
    pub isolate: &'a Isolate,
    /// Seconds a copy is trusted (`MCP_CACHE_TTL`; 0 keeps nothing).
    pub ttl: u64,
    /// Seconds since the epoch.
    pub clock: fn() -> u64,
}

impl<S: SessionStore> SessionStore for IsolateCopies<'_, S> {
    fn load<'a>(
        &'a self,
        name: &'a str,
    ) -> LocalBoxFuture<'a, Result<Option<Session>, SessionStoreError>> {
        Box::pin(async move {
            let at = (self.clock)();
            if let Some(session) = self.isolate.session_copy(name, at) {
                return Ok(Some(session));
            }
            let since = self.isolate.session_mark();
            let loaded = self.inner.load(name).await?;
            self.isolate
                .keep_session(since, name, loaded.as_ref(), self.ttl, at);
            Ok(loaded)
        })
    }

    fn store<'a>(
        &'a self,
        name: &'a str,
        session: &'a Session,
    ) -> LocalBoxFuture<'a, Result<(), SessionStoreError>> {
        Box::pin(async move {
            let since = self.isolate.session_mark();
            self.inner.store(name, session).await?;
            let at = (self.clock)();
            self.isolate
                .keep_session(since, name, Some(session), self.ttl, at);
            Ok(())
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> LocalBoxFuture<'a, Result<(), SessionStoreError>> {
        Box::pin(async move {
            self.isolate.forget_session(name);
            let outcome = self.inner.delete(name).await;
            self.isolate.forget_session(name);
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
    fn copies_over_memory(isolate: &Isolate) -> IsolateCopies<'_, MemorySessions> {
        IsolateCopies {
            inner: MemorySessions::default(),
            isolate,
            ttl: 5,
            clock,
        }
    }

    #[test]
    fn a_copy_is_trusted_for_ttl_seconds_then_read_again() {
        let isolate = Isolate::new();
        let store = copies_over_memory(&isolate);
        pollster::block_on(store.store("u\ns", &initialized("s"))).unwrap();
        assert!(pollster::block_on(store.load("u\ns")).unwrap().is_some());
        assert_eq!(store.inner.loads.get(), 0, "the stored copy answers");
        NOW.with(|n| n.set(1005));
        assert!(pollster::block_on(store.load("u\ns")).unwrap().is_some());
        assert_eq!(store.inner.loads.get(), 1, "an expired copy is read again");
    }

    #[test]
    fn a_session_before_initialized_is_never_kept() {
        let isolate = Isolate::new();
        let store = copies_over_memory(&isolate);
        pollster::block_on(store.store("u\ns", &Session::create("s", "2025-06-18", None))).unwrap();
        pollster::block_on(store.load("u\ns")).unwrap();
        assert_eq!(store.inner.loads.get(), 1);
    }

    #[test]
    fn delete_forgets_the_copy_at_once() {
        let isolate = Isolate::new();
        let store = copies_over_memory(&isolate);
        pollster::block_on(store.store("u\ns", &initialized("s"))).unwrap();
        pollster::block_on(store.delete("u\ns")).unwrap();
        assert_eq!(pollster::block_on(store.load("u\ns")).unwrap(), None);
        assert_eq!(store.inner.loads.get(), 1);
    }
}
