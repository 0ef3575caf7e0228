//! The store against openraft's own storage suite, plus what survives a reopen.

use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, EntryPayload, RaftLogReader, RaftSnapshotBuilder};

use super::*;
use crate::typ::{Command, CommandResult, Entry, LogId, StorageError, TypeConfig, Vote};

struct TempStores;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for TempStores {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = open_db(dir.path()).expect("open db");
        let (log, sm) = open(&db, dir.path()).expect("open stores");
        Ok((dir, log, sm))
    }
}

#[test]
fn passes_the_openraft_storage_suite() {
    Suite::test_all(TempStores).unwrap();
}

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn order(index: u64, request_id: &str, name: &str, quantity: u64) -> Entry {
    Entry {
        log_id: log_id(1, index),
        payload: EntryPayload::Normal(Command::CreateOrder {
            request_id: request_id.into(),
            name: name.into(),
            quantity,
            price: 1.5,
        }),
    }
}

/// Orders of one Tux each at `indexes`, request ids `r<index>`.
fn tux_orders(indexes: impl IntoIterator<Item = u64>) -> Vec<Entry> {
    indexes
        .into_iter()
        .map(|i| order(i, &format!("r{i}"), "Tux", 1))
        .collect()
}

fn tombstone(index: u64, request_id: &str) -> Entry {
    Entry {
        log_id: log_id(1, index),
        payload: EntryPayload::Normal(Command::Tombstone {
            request_id: request_id.into(),
        }),
    }
}

#[tokio::test]
async fn numbers_are_dense_and_request_ids_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path()).unwrap();
    let (_, mut sm) = open(&db, dir.path()).unwrap();
    let results = sm
        .apply(vec![
            order(1, "a", "Tux", 1),
            order(2, "b", "Whale", 2),
            order(3, "a", "Tux", 1),
            order(4, "a", "Tux", 2),
            tombstone(5, "c"),
            order(6, "c", "Tux", 1),
            tombstone(7, "b"),
            order(8, "d", "Clue", 3),
        ])
        .await
        .unwrap();
    assert_eq!(
        results,
        vec![
            CommandResult::Created {
                number: 0,
                new: true
            },
            CommandResult::Created {
                number: 1,
                new: true
            },
            CommandResult::Created {
                number: 0,
                new: false
            },
            CommandResult::Mismatch,
            CommandResult::Tombstoned,
            CommandResult::Expired,
            CommandResult::AlreadyOrdered { number: 1 },
            CommandResult::Created {
                number: 2,
                new: true
            },
        ]
    );
    let (orders, last_applied) = sm.orders_after(Some(0), 10).unwrap();
    assert_eq!(
        orders.iter().map(|o| o.number).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(last_applied, Some(8));
    let digest = sm.digest().unwrap();
    assert_eq!(digest.orders, 3);
    assert_eq!(digest.last_order, Some(2));
}

#[tokio::test]
async fn a_batch_applies_its_commands_in_order_with_one_result_each() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path()).unwrap();
    let (_, mut sm) = open(&db, dir.path()).unwrap();
    let create = |request_id: &str, quantity| Command::CreateOrder {
        request_id: request_id.into(),
        name: "Tux".into(),
        quantity,
        price: 1.5,
    };
    let batch = |index, commands| Entry {
        log_id: log_id(1, index),
        payload: EntryPayload::Normal(Command::Batch(commands)),
    };
    let results = sm
        .apply(vec![
            order(1, "before", "Tux", 1),
            batch(
                2,
                vec![
                    create("x", 1),
                    // The same request twice in one batch: one order, asked twice.
                    create("x", 1),
                    create("y", 2),
                    create("x", 3),
                    Command::Tombstone {
                        request_id: "z".into(),
                    },
                    create("z", 1),
                ],
            ),
            order(3, "after", "Tux", 1),
        ])
        .await
        .unwrap();
    let created = |number, new| CommandResult::Created { number, new };
    assert_eq!(
        results,
        vec![
            created(0, true),
            CommandResult::Batch(vec![
                created(1, true),
                created(1, false),
                created(2, true),
                CommandResult::Mismatch,
                CommandResult::Tombstoned,
                CommandResult::Expired,
            ]),
            created(3, true),
        ]
    );
    assert_eq!(sm.digest().unwrap().orders, 4);
    assert_eq!(sm.last_applied().unwrap(), Some(log_id(1, 3)));
}

#[tokio::test]
async fn log_vote_and_state_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let digest_before;
    {
        let db = open_db(dir.path()).unwrap();
        let (mut log, mut sm) = open(&db, dir.path()).unwrap();
        log.save_vote(&Vote::new(3, 2)).await.unwrap();
        // A log starts at index 0, as openraft's own initialisation writes it.
        let blank = Entry {
            log_id: log_id(1, 0),
            payload: EntryPayload::Blank,
        };
        let entries = vec![blank, order(1, "a", "Tux", 1), order(2, "b", "Uno", 4)];
        // Append through openraft's helper, which waits for the flush callback.
        openraft::storage::RaftLogStorageExt::blocking_append(&mut log, entries.clone())
            .await
            .unwrap();
        sm.apply(entries).await.unwrap();
        digest_before = sm.digest().unwrap();
        let mut builder = sm.get_snapshot_builder().await;
        builder.build_snapshot().await.unwrap();
    }
    let db = open_db(dir.path()).unwrap();
    let (mut log, mut sm) = open(&db, dir.path()).unwrap();
    assert_eq!(log.read_vote().await.unwrap(), Some(Vote::new(3, 2)));
    let entries = log.try_get_log_entries(1..3).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(sm.digest().unwrap(), digest_before);
    let snapshot = sm.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(snapshot.meta.last_log_id, Some(log_id(1, 2)));

    // A snapshot installed into a fresh store reproduces the state.
    let other = tempfile::tempdir().unwrap();
    let other_db = open_db(other.path()).unwrap();
    let (_, mut fresh) = open(&other_db, other.path()).unwrap();
    fresh
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .unwrap();
    assert_eq!(fresh.digest().unwrap(), digest_before);
    assert_eq!(
        fresh.apply(vec![order(3, "b", "Uno", 4)]).await.unwrap(),
        vec![CommandResult::Created {
            number: 1,
            new: false
        }]
    );
}

#[tokio::test]
async fn a_log_tail_with_a_gap_is_cut_back_to_the_gap_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open_db(dir.path()).unwrap();
        let (mut log, _) = open(&db, dir.path()).unwrap();
        let entries = tux_orders(1..=4);
        openraft::storage::RaftLogStorageExt::blocking_append(&mut log, entries)
            .await
            .unwrap();
        // What a crash could leave if a later write reached the disk before an earlier
        // one: 6, 7 and 9 without 5 and 8.
        let tree = db.open_tree("log").unwrap();
        for i in [6, 7, 9] {
            let bytes = bincode::serialize(&tux_orders([i])[0]).unwrap();
            tree.insert(keys::be_key(i), bytes).unwrap();
        }
        db.flush().unwrap();
    }
    let db = open_db(dir.path()).unwrap();
    let (mut log, _) = open(&db, dir.path()).unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_log_id, Some(log_id(1, 4)));
    let entries = log.try_get_log_entries(1..20).await.unwrap();
    let indexes: Vec<u64> = entries.iter().map(|e| e.log_id.index).collect();
    assert_eq!(indexes, vec![1, 2, 3, 4]);
}

/// A learner killed after it installed a snapshot and appended the entries after it, but
/// before openraft purged its log up to the snapshot: the log starts after the snapshot with
/// no purge point. At open the purge point moves to what the state machine applied, and
/// openraft's own start-up accepts the store; a hole the state machine does not cover is
/// left alone.
#[tokio::test]
async fn a_hole_under_the_log_that_the_state_machine_covers_is_purged_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open_db(dir.path()).unwrap();
        let (mut log, mut sm) = open(&db, dir.path()).unwrap();
        // The state a snapshot up to index 3 leaves, then entries 4 to 6 appended.
        sm.apply(tux_orders(1..=3)).await.unwrap();
        let after = tux_orders(4..=6);
        openraft::storage::RaftLogStorageExt::blocking_append(&mut log, after)
            .await
            .unwrap();
    }
    let db = open_db(dir.path()).unwrap();
    let (mut log, mut sm) = open(&db, dir.path()).unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 3)));
    assert_eq!(state.last_log_id, Some(log_id(1, 6)));
    let mut helper = openraft::storage::StorageHelper::new(&mut log, &mut sm);
    // What failed on the learner: openraft walking the log from the purge point.
    helper
        .get_initial_state()
        .await
        .expect("openraft starts on the repaired store");

    // With nothing applied the hole is not covered: the store does not invent a purge.
    let bare = tempfile::tempdir().unwrap();
    {
        let db = open_db(bare.path()).unwrap();
        let (mut log, _) = open(&db, bare.path()).unwrap();
        let after = tux_orders(4..=6);
        openraft::storage::RaftLogStorageExt::blocking_append(&mut log, after)
            .await
            .unwrap();
    }
    let db = open_db(bare.path()).unwrap();
    let (mut log, _) = open(&db, bare.path()).unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, None);
    assert_eq!(log.try_get_log_entries(0..10).await.unwrap().len(), 3);
}

/// A store that applied orders 0 and 1 (entries 1 and 2), request ids `a` and `b`.
async fn two_applied() -> (tempfile::TempDir, sled::Db, StateMachineStore) {
    let dir = tempfile::tempdir().unwrap();
    let db = open_db(dir.path()).unwrap();
    let (_, mut sm) = open(&db, dir.path()).unwrap();
    sm.apply(vec![order(1, "a", "Tux", 1), order(2, "b", "Whale", 2)])
        .await
        .unwrap();
    (dir, db, sm)
}

/// What a crash in the middle of applying a batch can leave (a prefix of its inserts: one
/// order per create, the applied position last), re-applied as openraft does after a
/// restart, ends in the state of an uninterrupted apply.
#[tokio::test]
async fn re_applying_a_batch_after_a_crash_in_its_middle_gives_the_same_orders() {
    let batch = || {
        vec![
            order(3, "c", "Uno", 2),
            order(4, "d", "Clue", 1),
            order(5, "e", "Tux", 3),
        ]
    };
    let whole = {
        let (_dir, _db, mut sm) = two_applied().await;
        sm.apply(batch()).await.unwrap();
        sm.digest().unwrap()
    };
    // The prefixes: c's order alone; c's and d's.
    for written in 1..=2 {
        let (dir, db, sm) = two_applied().await;
        drop(sm);
        let orders = db.open_tree("orders").unwrap();
        let prefix = [(2, "Uno", 2, "c"), (3, "Clue", 1, "d")];
        for &(number, name, quantity, request_id) in &prefix[..written] {
            let stored = state_machine::StoredOrder {
                number,
                name: name.into(),
                quantity,
                request_id: request_id.into(),
                price: 1.5,
            };
            orders
                .insert(keys::be_key(number), bincode::serialize(&stored).unwrap())
                .unwrap();
        }
        // The restart: the index is built from what is on disk.
        let (_, mut sm) = open(&db, dir.path()).unwrap();
        assert_eq!(sm.last_applied().unwrap(), Some(log_id(1, 2)));
        let results = sm.apply(batch()).await.unwrap();
        let numbers: Vec<u64> = results
            .iter()
            .map(|r| match r {
                CommandResult::Created { number, .. } => *number,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(numbers, vec![2, 3, 4], "prefix of {written} writes");
        assert_eq!(sm.digest().unwrap(), whole, "prefix of {written} writes");
        // The next order after that continues densely.
        let next = sm.apply(vec![order(6, "f", "Tux", 1)]).await.unwrap();
        assert_eq!(
            next,
            vec![CommandResult::Created {
                number: 5,
                new: true
            }]
        );
    }
}

/// A store written before the in-memory index kept every order's request id in the
/// `requests` tree beside the tombstones. Opened now, the ids of orders leave the tree,
/// the tombstones stay, and both are still known.
#[tokio::test]
async fn a_store_from_before_the_index_opens_with_its_requests_known() {
    let (dir, db, sm) = two_applied().await;
    drop(sm);
    let requests = db.open_tree("requests").unwrap();
    let state = |s: state_machine::RequestState| bincode::serialize(&s).unwrap();
    requests
        .insert("a", state(state_machine::RequestState::Ordered(0)))
        .unwrap();
    requests
        .insert("b", state(state_machine::RequestState::Ordered(1)))
        .unwrap();
    requests
        .insert("t", state(state_machine::RequestState::Tombstone))
        .unwrap();

    let (_, mut sm) = open(&db, dir.path()).unwrap();
    let left: Vec<_> = requests
        .iter()
        .keys()
        .map(|k| k.unwrap().to_vec())
        .collect();
    assert_eq!(left, vec![b"t".to_vec()]);
    assert_eq!(
        sm.request("a").unwrap(),
        Some(state_machine::RequestState::Ordered(0))
    );
    assert_eq!(
        sm.request("t").unwrap(),
        Some(state_machine::RequestState::Tombstone)
    );
    assert_eq!(sm.request("nobody").unwrap(), None);
    let again = sm
        .apply(vec![
            order(3, "b", "Whale", 2),
            order(4, "t", "Tux", 1),
            order(5, "c", "Tux", 1),
        ])
        .await
        .unwrap();
    assert_eq!(
        again,
        vec![
            CommandResult::Created {
                number: 1,
                new: false
            },
            CommandResult::Expired,
            CommandResult::Created {
                number: 2,
                new: true
            },
        ]
    );
}
