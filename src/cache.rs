//! A small per-isolate map whose entries expire, for the values an isolate
//! keeps between requests (validated client documents, validated access
//! tokens, MCP sessions). Plain data: the shell holds one in a `thread_local`.

/// Full, it drops the entry that expires first. A plain vector, searched in
/// order: it holds a few dozen to a few hundred entries, where a hash map would
/// cost more wasm than it saves.
#[derive(Debug)]
pub struct TtlCache<T> {
    entries: Vec<(String, u64, T)>,
    capacity: usize,
    generation: u64,
}

impl<T: Clone> TtlCache<T> {
    pub const fn new(capacity: usize) -> Self {
        TtlCache {
            entries: Vec::new(),
            capacity,
            generation: 0,
        }
    }

    /// Moves on every `remove` and `clear`. A caller that reads the source of a
    /// value across an await compares it before and after, and keeps the value
    /// only if nothing was removed meanwhile (the read may predate the removal).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The value under `key`, if it has not expired at `now`.
    pub fn get(&self, key: &str, now: u64) -> Option<T> {
        self.entries
            .iter()
            .find(|(k, until, _)| k == key && now < *until)
            .map(|(_, _, v)| v.clone())
    }

    /// Keeps `value` under `key` until `now + ttl` (a `ttl` of 0 keeps nothing).
    pub fn put(&mut self, key: &str, value: T, ttl: u64, now: u64) {
        self.entries
            .retain(|(k, until, _)| now < *until && k != key);
        if ttl == 0 || self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            if let Some(first) = (0..self.entries.len()).min_by_key(|i| self.entries[*i].1) {
                self.entries.swap_remove(first);
            }
        }
        self.entries
            .push((key.to_owned(), now.saturating_add(ttl), value));
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _, _)| k != key);
        self.generation += 1;
    }

    /// Drops every entry whose value `matches`.
    pub fn remove_where(&mut self, matches: impl Fn(&T) -> bool) {
        self.entries.retain(|(_, _, v)| !matches(v));
        self.generation += 1;
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
        assert_eq!(c.get("a", 0), None, "the soonest to expire was dropped");
        assert_eq!(c.get("b", 19), Some(2));
        assert_eq!(c.get("b", 20), None);
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
