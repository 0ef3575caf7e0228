//! The Raft type configuration: what the replicated log carries ([`Command`]) and what
//! applying an entry answers ([`CommandResult`]).

use std::io::Cursor;

use serde::{Deserialize, Serialize};

/// A node's id in the cluster.
pub(crate) type NodeId = u64;

/// One command of the replicated order log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) enum Command {
    /// Commit an order for a reservation already taken at the catalog.
    CreateOrder {
        request_id: String,
        name: String,
        quantity: u64,
        /// The unit price the catalog reserved at.
        price: f64,
    },
    /// The reconciler gives up on `request_id`: a later `CreateOrder` under it expires.
    Tombstone { request_id: String },
    /// Commands proposed together (group commit), applied in order as one entry.
    Batch(Vec<Command>),
}

/// What applying one log entry did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) enum CommandResult {
    /// The order exists under this number; `new` is false for a repeated request id.
    Created { number: u64, new: bool },
    /// The request id is already used by an order with another name or quantity.
    Mismatch,
    /// The request id was tombstoned before this order could commit.
    Expired,
    /// The tombstone is in place (now or before).
    Tombstoned,
    /// The tombstone came too late: the request id already has this order.
    AlreadyOrdered { number: u64 },
    /// A blank or membership entry: nothing for the application.
    Nothing,
    /// One result per command of a [`Command::Batch`], in order.
    Batch(Vec<CommandResult>),
}

openraft::declare_raft_types!(
    /// The order service's Raft types.
    pub(crate) TypeConfig:
        D = Command,
        R = CommandResult,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// The Raft handle of this service.
pub(crate) type Raft = openraft::Raft<TypeConfig>;
pub(crate) type Entry = openraft::Entry<TypeConfig>;
pub(crate) type LogId = openraft::LogId<NodeId>;
pub(crate) type Vote = openraft::Vote<NodeId>;
pub(crate) type StorageError = openraft::StorageError<NodeId>;
pub(crate) type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
pub(crate) type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
pub(crate) type Snapshot = openraft::Snapshot<TypeConfig>;
