//! The product cache: a bounded in-memory map of product reads, dropped entry by entry
//! by the catalog's invalidations, and wholly when the event stream is lost.
//!
//! A read that misses fetches from the catalog and then inserts. An invalidation that
//! arrives while that fetch is in flight would be undone by the insert (the fetched value
//! may predate the change), so each name has a generation, bumped by every invalidation,
//! and an insert is dropped when the generation moved during its fetch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use toystore_api::catalog::Product;

/// Proof that a read looked at the generations before fetching.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    epoch: u64,
    generation: u64,
}

/// The gateway's product cache; clones share one cache.
#[derive(Clone)]
pub struct ProductCache {
    inner: Arc<Inner>,
}

struct Inner {
    entries: moka::sync::Cache<String, Product>,
    enabled: bool,
    /// False while the event stream is down: nothing may be served or stored.
    usable: AtomicBool,
    /// Bumped by every clear, so a fetch that straddles one is not stored.
    epoch: AtomicU64,
    generations: Mutex<HashMap<String, u64>>,
}

impl ProductCache {
    /// A cache of at most `capacity` products; `enabled` false never caches anything.
    pub fn new(capacity: u64, enabled: bool) -> Self {
        ProductCache {
            inner: Arc::new(Inner {
                entries: moka::sync::Cache::new(capacity),
                enabled,
                usable: AtomicBool::new(false),
                epoch: AtomicU64::new(0),
                generations: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Whether the gateway runs with `--cache on`.
    pub fn enabled(&self) -> bool {
        self.inner.enabled
    }

    /// True when entries may be served (enabled and subscribed).
    pub fn usable(&self) -> bool {
        self.inner.enabled && self.inner.usable.load(Ordering::SeqCst)
    }

    /// The cached product, if any.
    pub fn get(&self, name: &str) -> Option<Product> {
        if !self.usable() {
            return None;
        }
        self.inner.entries.get(name)
    }

    /// Call before fetching `name` from the catalog.
    pub fn ticket(&self, name: &str) -> Ticket {
        let generations = self.lock();
        Ticket {
            epoch: self.inner.epoch.load(Ordering::SeqCst),
            generation: generations.get(name).copied().unwrap_or(0),
        }
    }

    /// Stores a fetched product unless it may be stale (see the module comment).
    pub fn insert(&self, product: Product, ticket: Ticket) -> bool {
        if !self.usable() {
            return false;
        }
        let generations = self.lock();
        let current = generations.get(&product.name).copied().unwrap_or(0);
        if ticket.epoch != self.inner.epoch.load(Ordering::SeqCst) || ticket.generation != current {
            return false;
        }
        // Inserting under the lock orders it against a concurrent invalidation.
        self.inner.entries.insert(product.name.clone(), product);
        true
    }

    /// Drops `name`'s entry and fences fetches in flight.
    pub fn invalidate(&self, name: &str) {
        let mut generations = self.lock();
        *generations.entry(name.to_string()).or_insert(0) += 1;
        self.inner.entries.invalidate(name);
    }

    /// Drops everything and fences every fetch in flight.
    pub fn clear(&self) {
        let mut generations = self.lock();
        self.inner.epoch.fetch_add(1, Ordering::SeqCst);
        generations.clear();
        self.inner.entries.invalidate_all();
    }

    /// Subscribed (`true`) or not; losing the subscription clears the cache.
    pub fn set_usable(&self, usable: bool) {
        if !usable {
            self.inner.usable.store(false, Ordering::SeqCst);
            self.clear();
        } else {
            self.clear();
            self.inner.usable.store(true, Ordering::SeqCst);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.inner
            .generations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tux(quantity: u64) -> Product {
        Product {
            name: "Tux".into(),
            price: 25.99,
            quantity,
        }
    }

    fn ready() -> ProductCache {
        let cache = ProductCache::new(100, true);
        cache.set_usable(true);
        cache
    }

    #[test]
    fn a_fetch_is_stored_and_served() {
        let cache = ready();
        let ticket = cache.ticket("Tux");
        assert!(cache.insert(tux(100), ticket));
        assert_eq!(cache.get("Tux"), Some(tux(100)));
        cache.invalidate("Tux");
        assert_eq!(cache.get("Tux"), None);
    }

    #[test]
    fn an_invalidation_during_a_fetch_keeps_the_stale_value_out() {
        let cache = ready();
        let ticket = cache.ticket("Tux");
        cache.invalidate("Tux"); // the catalog changed Tux while we were fetching
        assert!(!cache.insert(tux(100), ticket));
        assert_eq!(cache.get("Tux"), None);
        // Another product's invalidation does not fence Tux.
        let ticket = cache.ticket("Tux");
        cache.invalidate("Whale");
        assert!(cache.insert(tux(99), ticket));
    }

    #[test]
    fn a_clear_during_a_fetch_keeps_the_value_out() {
        let cache = ready();
        let ticket = cache.ticket("Tux");
        cache.clear();
        assert!(!cache.insert(tux(100), ticket));
    }

    #[test]
    fn nothing_is_served_while_unsubscribed_or_disabled() {
        let cache = ready();
        assert!(cache.insert(tux(100), cache.ticket("Tux")));
        cache.set_usable(false);
        assert_eq!(cache.get("Tux"), None);
        assert!(!cache.insert(tux(100), cache.ticket("Tux")));
        let off = ProductCache::new(100, false);
        off.set_usable(true);
        assert!(!off.insert(tux(1), off.ticket("Tux")));
        assert_eq!(off.get("Tux"), None);
    }
}
