//! Request ids to the numbers of the records that hold them, in memory.
//!
//! Both stores key their records by a number given in arrival order (the node's orders,
//! the catalog's reservations), so new records go to the end of a sled tree, whose pages
//! are hot, rather than to a random place in a tree too large for the cache. What finds a
//! record by its request id is this index: a 64-bit hash of the id to the record's number,
//! rebuilt from the tree when a store opens. A hash names candidates only: the caller checks
//! each against the id the record holds, so two ids that share a hash cost one extra read
//! and never a wrong answer.
//!
//! About 17 bytes per id (a hash and a number, in a table at most 7/8 full), against
//! sled's page, key and value per id for a tree keyed by the id.

use std::collections::hash_map::{Entry, RandomState};
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// Request-id hashes to the numbers that may hold them. `S` hashes the ids; the default is
/// keyed at random per process, so no client can choose ids that collide.
pub struct IdIndex<S = RandomState> {
    hasher: S,
    /// The first number of every hash.
    first: HashMap<u64, u64, BuildHasherDefault<AlreadyHashed>>,
    /// Any further numbers of a hash: in practice never (two of a million ids share a
    /// 64-bit hash about once in 3·10^7 stores).
    more: HashMap<u64, Vec<u64>>,
}

impl IdIndex {
    /// An empty index.
    pub fn new() -> Self {
        IdIndex::with_hasher(RandomState::new())
    }
}

impl Default for IdIndex {
    fn default() -> Self {
        IdIndex::new()
    }
}

impl<S: BuildHasher> IdIndex<S> {
    /// An empty index hashing ids with `hasher`.
    pub fn with_hasher(hasher: S) -> Self {
        IdIndex {
            hasher,
            first: HashMap::default(),
            more: HashMap::new(),
        }
    }

    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    /// The numbers that may hold `id`, oldest first; the caller checks each. Empty (and no
    /// allocation) for an id never inserted, the common case of a new request.
    pub fn candidates(&self, id: &str) -> Vec<u64> {
        let hash = self.hash(id);
        let Some(&first) = self.first.get(&hash) else {
            return Vec::new();
        };
        let mut all = vec![first];
        if let Some(more) = self.more.get(&hash) {
            all.extend_from_slice(more);
        }
        all
    }

    /// Records that `number` holds `id`; the caller knows no other number does.
    pub fn insert(&mut self, id: &str, number: u64) {
        let hash = self.hash(id);
        match self.first.entry(hash) {
            Entry::Vacant(slot) => {
                slot.insert(number);
            }
            Entry::Occupied(_) => self.more.entry(hash).or_default().push(number),
        }
    }

    /// Forgets every id (before a rebuild).
    pub fn clear(&mut self) {
        self.first = HashMap::default();
        self.more = HashMap::new();
    }

    /// Ids indexed.
    pub fn len(&self) -> usize {
        self.first.len() + self.more.values().map(Vec::len).sum::<usize>()
    }

    /// Whether no id is indexed.
    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }
}

/// A `Hasher` for keys that already are uniform 64-bit hashes: hashing them again would
/// only cost time.
#[derive(Default)]
pub struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys reach here (`write_u64`); fold anything else in, to stay correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_find_their_numbers_and_unknown_ids_find_nothing() {
        let mut index = IdIndex::new();
        index.insert("a", 0);
        index.insert("b", u64::MAX);
        index.insert("c", 7);
        assert_eq!(index.candidates("a"), vec![0]);
        assert_eq!(index.candidates("b"), vec![u64::MAX]);
        assert_eq!(index.candidates("c"), vec![7]);
        assert!(index.candidates("d").is_empty());
        assert_eq!(index.len(), 3);
        index.clear();
        assert!(index.candidates("a").is_empty());
        assert!(index.is_empty());
    }

    #[test]
    fn ids_that_share_a_hash_keep_every_number_in_order() {
        /// Gives every id the same hash: every insert after the first collides.
        struct Constant;
        impl Hasher for Constant {
            fn finish(&self) -> u64 {
                42
            }
            fn write(&mut self, _: &[u8]) {}
        }
        impl BuildHasher for Constant {
            type Hasher = Constant;
            fn build_hasher(&self) -> Constant {
                Constant
            }
        }
        let mut index = IdIndex::with_hasher(Constant);
        index.insert("x", 3);
        index.insert("y", 5);
        index.insert("z", 9);
        // Every id gets all three; telling them apart is the caller's check.
        assert_eq!(index.candidates("x"), vec![3, 5, 9]);
        assert_eq!(index.candidates("anything"), vec![3, 5, 9]);
        assert_eq!(index.len(), 3);
    }
}
