//! The request-id index: which order (or tombstone) a request id may stand for, in memory.
//!
//! Orders are stored by number and carry their request id, so a second, sled-kept map from
//! request id to number was a write at a random key on every apply of every replica, and
//! at a million orders the costliest one (its tree too large for the cache). This index
//! holds a 64-bit hash of each request id instead, rebuilt from the orders and the
//! tombstones when the store opens and after a snapshot install. A hash names candidates
//! only: the caller checks each against the request id the order (or tombstone) holds, so
//! two ids that share a hash cost one extra read and never a wrong answer.
//!
//! About 17 bytes per order (a hash and a number, in a table at most 7/8 full).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// What a request id may stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Candidate {
    Order(u64),
    Tombstone,
}

/// Order numbers are dense from 0 and never reach this; it marks a tombstone in the table.
const TOMBSTONE: u64 = u64::MAX;

impl Candidate {
    fn pack(self) -> u64 {
        match self {
            Candidate::Order(number) => number,
            Candidate::Tombstone => TOMBSTONE,
        }
    }

    fn unpack(packed: u64) -> Candidate {
        match packed {
            TOMBSTONE => Candidate::Tombstone,
            number => Candidate::Order(number),
        }
    }
}

/// Request-id hashes to what they may stand for. `S` hashes the ids; the default is keyed
/// at random per process, so no client can choose ids that collide.
pub(crate) struct RequestIndex<S = RandomState> {
    hasher: S,
    /// The first candidate of every hash.
    first: HashMap<u64, u64, BuildHasherDefault<AlreadyHashed>>,
    /// Any further candidates of a hash: in practice never (two of a million ids share a
    /// 64-bit hash about once in 3·10^7 stores).
    more: HashMap<u64, Vec<u64>>,
}

impl RequestIndex {
    pub(super) fn new() -> Self {
        RequestIndex::with_hasher(RandomState::new())
    }
}

impl<S: BuildHasher> RequestIndex<S> {
    fn with_hasher(hasher: S) -> Self {
        RequestIndex {
            hasher,
            first: HashMap::default(),
            more: HashMap::new(),
        }
    }

    fn hash(&self, request_id: &str) -> u64 {
        self.hasher.hash_one(request_id)
    }

    /// What `request_id` may stand for, oldest first; the caller checks each.
    pub(super) fn candidates(&self, request_id: &str) -> Vec<Candidate> {
        let hash = self.hash(request_id);
        let Some(&first) = self.first.get(&hash) else {
            return Vec::new();
        };
        let mut all = vec![Candidate::unpack(first)];
        if let Some(more) = self.more.get(&hash) {
            all.extend(more.iter().copied().map(Candidate::unpack));
        }
        all
    }

    /// Records that `request_id` stands for `candidate` (the caller knows it stood for
    /// nothing before).
    pub(super) fn insert(&mut self, request_id: &str, candidate: Candidate) {
        let hash = self.hash(request_id);
        let packed = candidate.pack();
        match self.first.entry(hash) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(packed);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.more.entry(hash).or_default().push(packed);
            }
        }
    }

    /// Forgets every request id (before a rebuild).
    pub(super) fn clear(&mut self) {
        self.first = HashMap::default();
        self.more = HashMap::new();
    }

    /// Request ids indexed.
    pub(super) fn len(&self) -> usize {
        self.first.len() + self.more.values().map(Vec::len).sum::<usize>()
    }
}

/// A `Hasher` for keys that already are uniform 64-bit hashes: hashing them again would
/// only cost time.
#[derive(Default)]
pub(super) struct AlreadyHashed(u64);

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
    fn ids_find_what_they_were_given_and_unknown_ids_find_nothing() {
        let mut index = RequestIndex::new();
        index.insert("a", Candidate::Order(0));
        index.insert("b", Candidate::Tombstone);
        index.insert("c", Candidate::Order(7));
        assert_eq!(index.candidates("a"), vec![Candidate::Order(0)]);
        assert_eq!(index.candidates("b"), vec![Candidate::Tombstone]);
        assert_eq!(index.candidates("c"), vec![Candidate::Order(7)]);
        assert!(index.candidates("d").is_empty());
        assert_eq!(index.len(), 3);
        index.clear();
        assert!(index.candidates("a").is_empty());
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn ids_that_share_a_hash_keep_every_candidate_in_order() {
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
        let mut index = RequestIndex::with_hasher(Constant);
        index.insert("x", Candidate::Order(3));
        index.insert("y", Candidate::Tombstone);
        index.insert("z", Candidate::Order(9));
        let all = vec![
            Candidate::Order(3),
            Candidate::Tombstone,
            Candidate::Order(9),
        ];
        // Every id gets all three; telling them apart is the caller's check.
        assert_eq!(index.candidates("x"), all);
        assert_eq!(index.candidates("anything"), all);
        assert_eq!(index.len(), 3);
    }
}
