//! The catalog's durable state in sled: products with their ledger counters, and
//! reservations in arrival order, found by request id through an in-memory index.
//!
//! Every change is one sled transaction across the trees it touches, so the ledger identity
//! `initial + restocked == quantity + held + confirmed` holds at every instant, and it is
//! flushed to disk before the caller answers. Each change that alters what a product looks
//! like (stock or price) returns the `Invalidate` event to publish.

mod arrivals;
mod changes;
mod db;
mod error;
mod group_flush;
mod records;

pub(crate) use changes::ReserveOutcome;
pub(crate) use db::CatalogStore;
pub(crate) use error::StoreError;
pub(crate) use group_flush::FlushObserver;

#[cfg(test)]
mod tests;
