//! A small per-isolate map whose entries expire, for the values an isolate
//! keeps between requests (registered clients, validated client documents,
//! validated access tokens, MCP sessions). Plain data: the maps live in the
//! `Isolate` (`src/isolate.rs`), which states when each copy may be trusted.

use std::cell::Cell;

/// Full, it drops the least recently used entry (expired ones first), so a
/// flood of one-off keys cannot keep out the entries that are read again and
/// again. A plain vector, searched in order: it holds a few dozen to a few
/// hundred entries, where a hash map would cost more wasm than it saves.
#[derive(Debug)]
pub struct TtlCache<T> {
    /// Key, expiry, value, and the tick of the last read or write.
    entries: Vec<(String, u64, T, Cell<u64>)>,
    capacity: usize,
    generation: u64,
    /// Moves on every read and write: the order of use.
    tick: Cell<u64>,
}

impl<T: Clone> TtlCache<T> {
    pub const fn new(capacity: usize) -> Self {
        TtlCache {
            entries: Vec::new(),
            capacity,
            generation: 0,
            tick: Cell::new(0),
        }
    }

    fn next_tick(&self) -> u64 {
        let t = self.tick.get() + 1;
        self.tick.set(t);
        t
    }

    /// Moves on every `remove` and `clear`. A caller that reads the source of a
    /// value across an await compares it before and after, and keeps the value
    /// only if nothing was removed meanwhile (the read may predate the removal).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The value under `key`, if it has not expired at `now` (a read counts as a use).
    pub fn get(&self, key: &str, now: u64) -> Option<T> {
        self.get_with_expiry(key, now).map(|(v, _)| v)
    }

    /// The value under `key` and the time it expires, if it has not at `now`.
    pub fn get_with_expiry(&self, key: &str, now: u64) -> Option<(T, u64)> {
        let entry = self.entry(key, now)?;
        Some((entry.2.clone(), entry.1))
    }

    /// The value under `key`, borrowed, if it has not expired at `now` (a read
    /// counts as a use): for callers that need only part of it.
    pub fn peek(&self, key: &str, now: u64) -> Option<&T> {
        self.entry(key, now).map(|entry| &entry.2)
    }

    fn entry(&self, key: &str, now: u64) -> Option<&(String, u64, T, Cell<u64>)> {
        let entry = self
            .entries
            .iter()
            .find(|(k, until, _, _)| k == key && now < *until)?;
        entry.3.set(self.next_tick());
        Some(entry)
    }

    /// Keeps `value` under `key` until `now + ttl` (a `ttl` of 0 keeps nothing).
    pub fn put(&mut self, key: &str, value: T, ttl: u64, now: u64) {
        self.entries
            .retain(|(k, until, _, _)| now < *until && k != key);
        if ttl == 0 || self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            if let Some(oldest) = (0..self.entries.len()).min_by_key(|i| self.entries[*i].3.get()) {
                self.entries.swap_remove(oldest);
            }
        }
        let used = Cell::new(self.next_tick());
        self.entries
            .push((key.to_owned(), now.saturating_add(ttl), value, used));
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _, _, _)| k != key);
        self.generation += 1;
    }

    /// Drops every entry whose value `matches`.
    pub fn remove_where(&mut self, matches: impl Fn(&T) -> bool) {
        self.entries.retain(|(_, _, v, _)| !matches(v));
        self.generation += 1;
    }

    /// How many entries unexpired at `now` hold a value that `matches`.
    pub fn count_where(&self, matches: impl Fn(&T) -> bool, now: u64) -> usize {
        self.entries
            .iter()
            .filter(|(_, until, v, _)| now < *until && matches(v))
            .count()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.generation += 1;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_cache_expires_and_stays_bounded() {
        let mut c = TtlCache::new(2);
        c.put("a", 1, 10, 0);
        c.put("b", 2, 20, 0);
        c.put("c", 3, 30, 0);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("a", 0), None, "the least recently used was dropped");
        assert_eq!(c.get("b", 19), Some(2));
        assert_eq!(c.peek("b", 19), Some(&2));
        assert_eq!(c.get("b", 20), None);
        assert_eq!(c.peek("b", 20), None);
    }

    #[test]
    fn full_it_evicts_the_least_recently_used_not_the_soonest_to_expire() {
        let mut c = TtlCache::new(2);
        // A legitimate entry, short-lived but read again and again.
        c.put("legit", 1, 60, 0);
        // An attacker's long-lived entry, never read again.
        c.put("attacker-1", 2, 86_400, 0);
        assert_eq!(c.get("legit", 1), Some(1));
        // The next one-off key pushes out the attacker's entry, not the one in use.
        c.put("attacker-2", 3, 86_400, 2);
        assert_eq!(c.get("legit", 3), Some(1));
        assert_eq!(c.get("attacker-1", 3), None);
        assert_eq!(c.get_with_expiry("attacker-2", 3), Some((3, 86_402)));
    }

    #[test]
    fn a_put_replaces_and_a_zero_ttl_keeps_nothing() {
        let mut c = TtlCache::new(4);
        c.put("a", 1, 10, 0);
        c.put("a", 2, 10, 0);
        assert_eq!((c.len(), c.get("a", 5)), (1, Some(2)));
        c.put("a", 3, 0, 5);
        assert_eq!(c.get("a", 5), None, "a zero ttl also forgets the old value");
        let before = c.generation();
        c.put("b", 1, 10, 0);
        assert_eq!(c.generation(), before, "a put is not a removal");
        c.remove("b");
        assert!(c.is_empty());
        assert_ne!(c.generation(), before);
        c.put("d", 4, 10, 0);
        c.put("e", 5, 10, 0);
        let before = c.generation();
        assert_eq!(c.count_where(|v| *v == 4, 1), 1);
        assert_eq!(
            c.count_where(|v| *v == 4, 10),
            0,
            "expired entries are not counted"
        );
        c.remove_where(|v| *v == 4);
        assert_eq!((c.get("d", 1), c.get("e", 1)), (None, Some(5)));
        assert_ne!(c.generation(), before);
        let before = c.generation();
        c.put("c", 1, 10, 0);
        c.clear();
        assert!(c.is_empty());
        assert_ne!(c.generation(), before);
    }
}
