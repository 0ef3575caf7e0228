//! The request-id index of the state machine: which order, or tombstone, a request id may
//! stand for, in memory ([`IdIndex`]).
//!
//! Orders are stored by number and hold their request id, so a second, sled-kept map from
//! request id to number was a write at a random key on every apply on every replica, and
//! at a million orders the costliest one (its tree too large for the cache). This index is
//! rebuilt from the orders and the tombstones when the store opens and after a snapshot
//! install; each candidate it names is checked against the id its order or tombstone holds.

use service_core::id_index::IdIndex;

/// What a request id may stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Candidate {
    Order(u64),
    Tombstone,
}

/// Order numbers are dense from 0 and never reach this; it stands for a tombstone.
const TOMBSTONE: u64 = u64::MAX;

/// Request ids to what they may stand for.
#[derive(Default)]
pub(crate) struct RequestIndex(IdIndex);

impl RequestIndex {
    /// What `request_id` may stand for; the caller checks each.
    pub(super) fn candidates(&self, request_id: &str) -> impl Iterator<Item = Candidate> {
        self.0
            .candidates(request_id)
            .into_iter()
            .map(|packed| match packed {
                TOMBSTONE => Candidate::Tombstone,
                number => Candidate::Order(number),
            })
    }

    /// Records that `request_id` stands for `candidate` (the caller knows it stood for
    /// nothing before).
    pub(super) fn insert(&mut self, request_id: &str, candidate: Candidate) {
        let packed = match candidate {
            Candidate::Order(number) => number,
            Candidate::Tombstone => TOMBSTONE,
        };
        self.0.insert(request_id, packed);
    }

    /// Forgets every request id (before a rebuild).
    pub(super) fn clear(&mut self) {
        self.0.clear();
    }

    /// Request ids indexed.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_tombstones_come_back_as_they_went_in() {
        let mut index = RequestIndex::default();
        index.insert("a", Candidate::Order(0));
        index.insert("b", Candidate::Tombstone);
        index.insert("c", Candidate::Order(u64::MAX - 1));
        let of = |id| index.candidates(id).collect::<Vec<_>>();
        assert_eq!(of("a"), vec![Candidate::Order(0)]);
        assert_eq!(of("b"), vec![Candidate::Tombstone]);
        assert_eq!(of("c"), vec![Candidate::Order(u64::MAX - 1)]);
        assert!(of("d").is_empty());
        assert_eq!(index.len(), 3);
    }
}
