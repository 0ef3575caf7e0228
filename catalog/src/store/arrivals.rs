//! Reservations in arrival order: their keys, the in-memory index that finds one by its
//! request id, and the move of a store that keyed them by request id.
//!
//! A reservation is keyed by its arrival number (big-endian, so sled's order is arrival
//! order) followed by its request id. New reservations go to the end of the tree and are
//! confirmed soon after, on pages that are still hot; keyed by a random request id, each
//! reserve and confirm walked to a random page of a tree that at a million reservations no
//! longer fit the cache. The request id in the key makes every lookup check itself: the
//! index names arrival numbers by a hash of the id, and a key built from a wrong number
//! holds nothing.

use service_core::id_index::IdIndex;

use super::error::StoreError;

/// The tree of reservations (key: arrival number, request id; value: the record).
pub(super) const RESERVATIONS: &str = "reservations_by_arrival";
/// The held ones among them (same keys, no value), so reconciliation need not scan every
/// reservation ever made.
pub(super) const HELD: &str = "held_by_arrival";
/// Where stores before arrival order kept them, keyed by request id.
const OLD_RESERVATIONS: &str = "reservations";
const OLD_HELD: &str = "held";

/// The key of reservation `number` for `request_id`.
pub(super) fn key(number: u64, request_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + request_id.len());
    key.extend_from_slice(&number.to_be_bytes());
    key.extend_from_slice(request_id.as_bytes());
    key
}

/// The request id in a reservation's key.
pub(super) fn request_id(key: &[u8]) -> Result<&str, StoreError> {
    key.get(8..)
        .and_then(|id| std::str::from_utf8(id).ok())
        .ok_or_else(|| StoreError::Storage("corrupt reservation key".into()))
}

fn number(key: &[u8]) -> Result<u64, StoreError> {
    key.get(..8)
        .and_then(|n| n.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StoreError::Storage("corrupt reservation key".into()))
}

/// Which arrival numbers the reservations have, by request id, and the next one to give.
#[derive(Default)]
pub(crate) struct Arrivals {
    index: IdIndex,
    next: u64,
}

impl Arrivals {
    /// The index of every reservation in `tree`.
    pub(super) fn load(tree: &sled::Tree) -> Result<Self, StoreError> {
        let mut arrivals = Arrivals::default();
        for key in tree.iter().keys() {
            let key = key?;
            let number = number(&key)?;
            arrivals.index.insert(request_id(&key)?, number);
            arrivals.next = arrivals.next.max(number + 1);
        }
        Ok(arrivals)
    }

    /// The keys that may hold `request_id`'s reservation; the caller reads each.
    pub(super) fn keys(&self, request_id: &str) -> Vec<Vec<u8>> {
        let numbers = self.index.candidates(request_id);
        numbers.into_iter().map(|n| key(n, request_id)).collect()
    }

    /// The arrival number the next new reservation gets; nothing is taken until
    /// [`taken`](Self::taken).
    pub(super) fn next(&self) -> u64 {
        self.next
    }

    /// Records reservations written and committed: `(request id, arrival number)`.
    pub(super) fn taken<'a>(&mut self, new: impl IntoIterator<Item = (&'a str, u64)>) {
        for (request_id, number) in new {
            self.index.insert(request_id, number);
            self.next = self.next.max(number + 1);
        }
    }

    /// Reservations indexed.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }
}

/// Moves the reservations of a store written before arrival order (trees keyed by
/// request id) into `reservations` and `held`, then drops the old trees. The new trees are
/// emptied first and the old ones dropped only once the move is on disk, so a crash
/// anywhere leaves a store this completes at the next open. Returns how many moved.
pub(super) fn move_from_request_id_keys(
    db: &sled::Db,
    reservations: &sled::Tree,
    held: &sled::Tree,
) -> Result<u64, StoreError> {
    let names = db.tree_names();
    let has = |name: &str| names.iter().any(|n| n.as_ref() == name.as_bytes());
    if !has(OLD_RESERVATIONS) {
        // A crash between the two drops below left the old held index alone.
        if has(OLD_HELD) {
            db.drop_tree(OLD_HELD)?;
        }
        return Ok(0);
    }
    let old = db.open_tree(OLD_RESERVATIONS)?;
    let old_held = db.open_tree(OLD_HELD)?;
    reservations.clear()?;
    held.clear()?;
    let mut moved = 0u64;
    let mut batch = (sled::Batch::default(), sled::Batch::default());
    for item in old.iter() {
        let (id, record) = item?;
        let id = std::str::from_utf8(&id)
            .map_err(|_| StoreError::Storage("corrupt reservation id".into()))?;
        let key = key(moved, id);
        if old_held.contains_key(id.as_bytes())? {
            batch.1.insert(key.clone(), &[][..]);
        }
        batch.0.insert(key, record);
        moved += 1;
        if moved.is_multiple_of(10_000) {
            let full = std::mem::take(&mut batch);
            reservations.apply_batch(full.0)?;
            held.apply_batch(full.1)?;
        }
    }
    reservations.apply_batch(batch.0)?;
    held.apply_batch(batch.1)?;
    db.flush()?;
    db.drop_tree(OLD_RESERVATIONS)?;
    db.drop_tree(OLD_HELD)?;
    db.flush()?;
    Ok(moved)
}
