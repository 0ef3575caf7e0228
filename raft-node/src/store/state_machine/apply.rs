//! Applying a batch of committed entries to the state machine: order numbers, request
//! ids, tombstones, and the applied position, in an order a crash can cut anywhere.

use openraft::EntryPayload;

use super::data::{encode, Known, RequestState, StateMachineStore, StoredOrder};
use super::data::{LAST_APPLIED, MEMBERSHIP, NEXT_NUMBER};
use super::index::{Candidate, RequestIndex};
use crate::store::errors::sm_write_err;
use crate::store::keys::be_key;
use crate::typ::{Command, CommandResult, Entry, StorageError, StoredMembership};

impl StateMachineStore {
    /// Applies a batch and returns one result per entry.
    ///
    /// Plain inserts, not a sled transaction (each of which writes a marker to disk twice),
    /// in an order that makes any prefix of them a state that re-applying the batch
    /// completes exactly: sled recovers a prefix of its log after a crash, and openraft
    /// re-applies every entry after `last_applied`, which is written last. An order holds
    /// its request id, so a re-applied command finds the order it made (the index is built
    /// from the orders at open), and the next number is never below one already given.
    pub(super) fn apply_batch(
        &self,
        entries: &[Entry],
    ) -> Result<Vec<CommandResult>, StorageError> {
        let mut index = self.lock();
        let next = self.next_number()?;
        let mut apply = Applying {
            store: self,
            index: &mut index,
            next,
        };
        let mut results = Vec::with_capacity(entries.len());
        let mut last_membership = None;
        for entry in entries {
            let result = match &entry.payload {
                EntryPayload::Blank => CommandResult::Nothing,
                EntryPayload::Membership(m) => {
                    last_membership = Some(StoredMembership::new(Some(entry.log_id), m.clone()));
                    CommandResult::Nothing
                }
                EntryPayload::Normal(command) => apply.command(command)?,
            };
            results.push(result);
        }
        let write = |key: &[u8], value: Vec<u8>| {
            self.meta
                .insert(key, value)
                .map(|_| ())
                .map_err(sm_write_err)
        };
        write(NEXT_NUMBER, be_key(apply.next).to_vec())?;
        if let Some(membership) = last_membership {
            write(MEMBERSHIP, encode(&membership))?;
        }
        if let Some(last) = entries.last() {
            write(LAST_APPLIED, encode(&Some(last.log_id)))?;
        }
        Ok(results)
    }
}

/// One batch being applied: the store it writes, the index it keeps up, and the order
/// numbers it gives.
struct Applying<'a> {
    store: &'a StateMachineStore,
    index: &'a mut RequestIndex,
    /// The number the next new order gets.
    next: u64,
}

/// The fields of a [`Command::CreateOrder`].
struct Create<'c> {
    request_id: &'c str,
    name: &'c str,
    quantity: u64,
    price: f64,
}

impl Applying<'_> {
    fn command(&mut self, command: &Command) -> Result<CommandResult, StorageError> {
        match command {
            Command::Batch(commands) => {
                let results = commands
                    .iter()
                    .map(|command| self.command(command))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(CommandResult::Batch(results))
            }
            Command::CreateOrder {
                request_id,
                name,
                quantity,
                price,
            } => self.create(&Create {
                request_id,
                name,
                quantity: *quantity,
                price: *price,
            }),
            Command::Tombstone { request_id } => self.tombstone(request_id),
        }
    }

    fn create(&mut self, create: &Create<'_>) -> Result<CommandResult, StorageError> {
        match self.store.find(self.index, create.request_id)? {
            None => {
                let number = self.next;
                let order = StoredOrder {
                    number,
                    name: create.name.to_string(),
                    quantity: create.quantity,
                    request_id: create.request_id.to_string(),
                    price: create.price,
                };
                self.store
                    .orders
                    .insert(be_key(number), encode(&order))
                    .map_err(sm_write_err)?;
                self.index
                    .insert(create.request_id, Candidate::Order(number));
                self.next += 1;
                Ok(CommandResult::Created { number, new: true })
            }
            // Written by this batch before a crash cut it short, or an earlier request.
            Some(Known::Order(existing)) => {
                let number = existing.number;
                self.next = self.next.max(number + 1);
                Ok(
                    if existing.name == create.name && existing.quantity == create.quantity {
                        CommandResult::Created { number, new: false }
                    } else {
                        CommandResult::Mismatch
                    },
                )
            }
            Some(Known::Tombstone) => Ok(CommandResult::Expired),
        }
    }

    fn tombstone(&mut self, request_id: &str) -> Result<CommandResult, StorageError> {
        match self.store.find(self.index, request_id)? {
            None => {
                self.store
                    .tombstones
                    .insert(request_id.as_bytes(), encode(&RequestState::Tombstone))
                    .map_err(sm_write_err)?;
                self.index.insert(request_id, Candidate::Tombstone);
                Ok(CommandResult::Tombstoned)
            }
            Some(Known::Tombstone) => Ok(CommandResult::Tombstoned),
            Some(Known::Order(order)) => Ok(CommandResult::AlreadyOrdered {
                number: order.number,
            }),
        }
    }
}
