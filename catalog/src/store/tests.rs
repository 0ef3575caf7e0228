//! Store tests: transitions, the ledger identity after every operation, restock, a property
//! test over random operation sequences, and concurrent reservations of one product.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use toystore_api::catalog::ReserveRequest;
use toystore_api::catalog::{LedgerRow, ReservationState};

fn open(initial: u64) -> (tempfile::TempDir, CatalogStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = CatalogStore::open(&dir.path().join("catalog"), initial).unwrap();
    (dir, store)
}

fn request(id: &str, name: &str, quantity: u64) -> ReserveRequest {
    ReserveRequest {
        request_id: id.into(),
        name: name.into(),
        quantity,
    }
}

fn assert_ledger_balances(store: &CatalogStore) {
    for row in store.ledger().unwrap() {
        assert!(row.balances(), "ledger identity broken: {row:?}");
    }
}

fn row(store: &CatalogStore, name: &str) -> LedgerRow {
    store
        .ledger()
        .unwrap()
        .into_iter()
        .find(|r| r.name == name)
        .unwrap()
}

#[tokio::test]
async fn fresh_store_is_seeded_once_with_ten_toys() {
    let (dir, store) = open(100);
    let products = store.products().unwrap();
    assert_eq!(products.len(), 10);
    let names: Vec<_> = products.iter().map(|p| p.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "products come sorted by name");
    assert_eq!(store.product("Tux").unwrap().price, 25.99);
    assert!(products.iter().all(|p| p.quantity == 100));

    store.reserve(&request("r1", "Tux", 5), 1).await.unwrap();
    drop(store);
    // Reopening with another initial stock must not seed again.
    let store = unlocked(|| CatalogStore::open(&dir.path().join("catalog"), 7).ok()).await;
    assert_eq!(store.product("Tux").unwrap().quantity, 95);
    assert_eq!(store.product("Clue").unwrap().quantity, 100);
}

#[tokio::test]
async fn reserve_takes_stock_and_a_repeat_takes_nothing() {
    let (_dir, store) = open(10);
    let first = store.reserve(&request("r1", "Tux", 3), 1).await.unwrap();
    assert!(first.created);
    assert_eq!(first.reservation.state, ReservationState::Held);
    assert_eq!(first.reservation.price, 25.99);
    assert_eq!(first.event.as_ref().unwrap().quantity, 7);
    let repeat = store.reserve(&request("r1", "Tux", 3), 2).await.unwrap();
    assert!(!repeat.created);
    assert!(repeat.event.is_none());
    assert_eq!(repeat.reservation, first.reservation);
    assert_eq!(store.product("Tux").unwrap().quantity, 7);
    assert_eq!(row(&store, "Tux").held, 3);
    assert_ledger_balances(&store);
}

#[tokio::test]
async fn reused_id_with_another_body_unknown_product_and_out_of_stock_are_refused() {
    let (_dir, store) = open(10);
    store.reserve(&request("r1", "Tux", 3), 1).await.unwrap();
    for other in [request("r1", "Tux", 4), request("r1", "Uno", 3)] {
        let err = store.reserve(&other, 1).await.unwrap_err();
        assert!(matches!(err, StoreError::RequestIdReused(_)), "{err:?}");
    }
    assert_eq!(
        store.reserve(&request("r2", "Nope", 1), 1).await,
        Err(StoreError::ProductNotFound)
    );
    assert_eq!(
        store.reserve(&request("r3", "Tux", 8), 1).await,
        Err(StoreError::OutOfStock)
    );
    // A refused reservation takes nothing and can be made later.
    assert_eq!(store.product("Tux").unwrap().quantity, 7);
    store.reserve(&request("r3", "Tux", 7), 1).await.unwrap();
    assert_eq!(store.product("Tux").unwrap().quantity, 0);
    assert_ledger_balances(&store);
}

#[tokio::test]
async fn confirm_and_release_move_stock_and_are_idempotent() {
    let (_dir, store) = open(10);
    store.reserve(&request("a", "Uno", 2), 1).await.unwrap();
    store.reserve(&request("b", "Uno", 3), 1).await.unwrap();

    let confirmed = store.confirm("a", 7).await.unwrap();
    assert!(confirmed.changed);
    assert_eq!(confirmed.reservation.order_number, Some(7));
    assert!(!store.confirm("a", 7).await.unwrap().changed);
    assert!(matches!(
        store.confirm("a", 8).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.release("a").await,
        Err(StoreError::Conflict(_))
    ));

    let released = store.release("b").await.unwrap();
    assert!(released.changed);
    assert_eq!(released.event.unwrap().quantity, 8);
    assert!(!store.release("b").await.unwrap().changed);
    assert!(matches!(
        store.confirm("b", 9).await,
        Err(StoreError::Conflict(_))
    ));
    // The id stays used: reserving it again returns the released reservation, takes nothing.
    let again = store.reserve(&request("b", "Uno", 3), 1).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.reservation.state, ReservationState::Released);

    assert_eq!(
        store.release("zzz").await,
        Err(StoreError::ReservationNotFound)
    );
    let uno = row(&store, "Uno");
    assert_eq!((uno.quantity, uno.held, uno.confirmed), (8, 0, 2));
    assert_ledger_balances(&store);
}

/// Regression: with the wall clock stepped back (found by the harness's `clock` nemesis),
/// reservations dated after "now" vanished from every listing: the full one the checker
/// reads, and the reconciler's, which then left their stock held until the clock caught up.
#[tokio::test]
async fn reservations_dated_after_now_are_listed_and_count_as_old() {
    let (_dir, store) = open(10);
    // Taken while the clock was an hour ahead; it now reads 10 s.
    store
        .reserve(&request("ahead", "Tux", 1), 3_610_000)
        .await
        .unwrap();
    store
        .reserve(&request("now", "Tux", 1), 9_000)
        .await
        .unwrap();
    assert_eq!(store.reservations(None, None, || 0).unwrap().len(), 2);
    let held = store
        .reservations(Some(ReservationState::Held), Some(5_000), || 10_000)
        .unwrap();
    let ids: Vec<_> = held.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids, ["ahead"]);
}

#[tokio::test]
async fn held_listing_uses_age_and_state() {
    let (_dir, store) = open(10);
    store
        .reserve(&request("old", "Tux", 1), 1_000)
        .await
        .unwrap();
    store
        .reserve(&request("new", "Tux", 1), 9_000)
        .await
        .unwrap();
    store
        .reserve(&request("done", "Tux", 1), 500)
        .await
        .unwrap();
    store.confirm("done", 0).await.unwrap();
    let held = store
        .reservations(Some(ReservationState::Held), Some(5_000), || 10_000)
        .unwrap();
    let ids: Vec<_> = held.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids, ["old"]);
    assert_eq!(store.reservations(None, None, || 0).unwrap().len(), 3);
    let confirmed = store
        .reservations(Some(ReservationState::Confirmed), None, || 0)
        .unwrap();
    assert_eq!(confirmed[0].request_id, "done");
}

#[tokio::test]
async fn restock_refills_only_sold_out_products() {
    let (_dir, store) = open(5);
    store.reserve(&request("r", "Jenga", 5), 1).await.unwrap();
    store.reserve(&request("s", "Risk", 2), 1).await.unwrap();
    let events = store.restock(100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].name, "Jenga");
    assert_eq!(events[0].quantity, 100);
    let jenga = row(&store, "Jenga");
    assert_eq!((jenga.quantity, jenga.restocked, jenga.held), (100, 100, 5));
    assert_eq!(store.product("Risk").unwrap().quantity, 3);
    assert!(store.restock(100).await.unwrap().is_empty());
    assert_ledger_balances(&store);
}

#[tokio::test]
async fn price_change_bumps_version_and_keeps_reserved_prices() {
    let (_dir, store) = open(5);
    store.reserve(&request("r", "Bird", 1), 1).await.unwrap();
    let (product, event) = store.set_price("Bird", 1.5).await.unwrap();
    assert_eq!(product.price, 1.5);
    assert_eq!(event.version, 2);
    assert_eq!(store.reservation("r").unwrap().price, 39.99);
    assert_eq!(
        store.set_price("Nope", 1.0).await,
        Err(StoreError::ProductNotFound)
    );
}

#[tokio::test]
async fn a_group_shares_one_transaction_but_each_item_stands_alone() {
    let (_dir, store) = open(5);
    let group = [
        request("g1", "Tux", 3),
        // Sees g1's take: only 2 are left.
        request("g2", "Tux", 3),
        request("g3", "Nope", 1),
        request("g4", "Tux", 2),
        // A repeat of g1 inside the same group takes nothing more.
        request("g1", "Tux", 3),
        request("g1", "Tux", 1),
    ];
    let outcomes = store.reserve_many(&group, 1).await.unwrap();
    assert!(outcomes[0].as_ref().unwrap().created);
    assert_eq!(outcomes[1], Err(StoreError::OutOfStock));
    assert_eq!(outcomes[2], Err(StoreError::ProductNotFound));
    assert!(outcomes[3].as_ref().unwrap().created);
    let repeat = outcomes[4].as_ref().unwrap();
    assert!(!repeat.created);
    assert_eq!(
        repeat.reservation,
        outcomes[0].as_ref().unwrap().reservation
    );
    assert!(matches!(outcomes[5], Err(StoreError::RequestIdReused(_))));
    let tux = row(&store, "Tux");
    assert_eq!((tux.quantity, tux.held), (0, 5));

    let confirms = [
        ("g1".to_string(), 10),
        ("g2".to_string(), 11),
        ("g4".to_string(), 12),
        ("g4".to_string(), 13),
    ];
    let transitions = store.confirm_many(&confirms).await.unwrap();
    assert!(transitions[0].as_ref().unwrap().changed);
    assert_eq!(transitions[1], Err(StoreError::ReservationNotFound));
    assert!(transitions[2].as_ref().unwrap().changed);
    assert!(matches!(transitions[3], Err(StoreError::Conflict(_))));
    let tux = row(&store, "Tux");
    assert_eq!((tux.held, tux.confirmed), (0, 5));
    assert_ledger_balances(&store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_of_one_product_never_oversell() {
    let (_dir, store) = open(50);
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .reserve(&request(&format!("c{i}"), "Whale", 1), 1)
                    .await
            })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(outcome) => {
                assert!(outcome.created);
                granted += 1;
            }
            Err(StoreError::OutOfStock) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(granted, 50);
    let whale = row(&store, "Whale");
    assert_eq!((whale.quantity, whale.held), (0, 50));
    assert_ledger_balances(&store);
}

#[derive(Debug, Clone)]
enum Op {
    Reserve { id: u8, product: u8, quantity: u64 },
    Confirm { id: u8, order: u64 },
    Release { id: u8 },
    Restock { to: u64 },
    Price { product: u8, cents: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    // Few ids and products, so repeats and contention on one product are common.
    prop_oneof![
        4 => (0u8..12, 0u8..3, 1u64..6).prop_map(|(id, product, quantity)| Op::Reserve { id, product, quantity }),
        2 => (0u8..12, 0u64..3).prop_map(|(id, order)| Op::Confirm { id, order }),
        2 => (0u8..12).prop_map(|id| Op::Release { id }),
        1 => (0u64..8).prop_map(|to| Op::Restock { to }),
        1 => (0u8..3, 1u32..10_000).prop_map(|(product, cents)| Op::Price { product, cents }),
    ]
}

const PRODUCTS: [&str; 3] = ["Tux", "Clue", "Sand"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_the_ledger_identity(ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        // The store starts its flusher task on the runtime it is opened in.
        let _entered = runtime.enter();
        let (_dir, store) = open(6);
        runtime.block_on(async {
            for op in ops {
                let _ = match op {
                    Op::Reserve { id, product, quantity } => store
                        .reserve(&request(&format!("p{id}"), PRODUCTS[product as usize], quantity), 1)
                        .await
                        .map(|_| ()),
                    Op::Confirm { id, order } => store.confirm(&format!("p{id}"), order).await.map(|_| ()),
                    Op::Release { id } => store.release(&format!("p{id}")).await.map(|_| ()),
                    Op::Restock { to } => store.restock(to).await.map(|_| ()),
                    Op::Price { product, cents } => store
                        .set_price(PRODUCTS[product as usize], cents as f64 / 100.0)
                        .await
                        .map(|_| ()),
                };
                // Checked after every operation, accepted or refused.
                for row in store.ledger().unwrap() {
                    prop_assert!(row.balances(), "{:?}", row);
                }
                // held in the ledger is exactly the sum of held reservations.
                for name in PRODUCTS {
                    let held: u64 = store
                        .reservations(Some(ReservationState::Held), None, || 0)
                        .unwrap()
                        .iter()
                        .filter(|r| r.name == name)
                        .map(|r| r.quantity)
                        .sum();
                    prop_assert_eq!(row(&store, name).held, held);
                }
            }
            Ok(())
        })?;
    }
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The reconciler lists held reservations at least 10 s old; one taken while the listing
/// scans must never look old. It did when "now" was read before the scan: a reservation
/// taken a millisecond later was dated after it, which counts as old (a clock that stepped
/// back), and the reconciler tombstoned a buy in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_taken_during_a_listing_is_not_old() {
    let (_dir, store) = open(1_000_000);
    let store = Arc::new(store);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let now = wall_ms();
                store
                    .reserve(&request(&format!("w{i}"), "Tux", 1), now)
                    .await
                    .unwrap();
                i += 1;
            }
            i
        })
    };
    let lister = store.clone();
    let old_seen = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut listings = 0;
        while std::time::Instant::now() < deadline || listings < 50 {
            let old = lister
                .reservations(Some(ReservationState::Held), Some(60_000), wall_ms)
                .unwrap();
            if !old.is_empty() {
                return Some(old[0].request_id.clone());
            }
            listings += 1;
        }
        None
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(
        written > 10,
        "only {written} reservations were taken meanwhile"
    );
    assert_eq!(old_seen, None, "a fresh reservation was listed as old");
}

/// What `open` gives once the database's file lock is free: a store just dropped may still
/// hold it while its last flush round ends.
async fn unlocked<T>(mut open: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Duration::from_secs(10);
    testkit::wait::wait_until_async("the store's lock", deadline, || {
        let opened = open();
        async move { opened }
    })
    .await
    .unwrap()
}

/// A store written before arrival order kept reservations (and the held index) keyed by
/// request id. Opened now, they move to arrival order once, and nothing about them changes:
/// the listing, repeats, the ledger, and confirming one still held.
#[tokio::test]
async fn a_store_keyed_by_request_id_opens_with_its_reservations_in_arrival_order() {
    let (dir, store) = open(100);
    let path = dir.path().join("catalog");
    store.reserve(&request("r1", "Tux", 2), 1).await.unwrap();
    store.reserve(&request("r2", "Clue", 3), 2).await.unwrap();
    store.confirm("r1", 7).await.unwrap();
    let before = store.reservations(None, None, || 10).unwrap();
    drop(store);
    // Rewrite it in the old layout, once the dropped store's flusher has let go of the
    // database (a flush round under way holds it a moment longer).
    {
        let db = unlocked(|| sled::open(&path).ok()).await;
        let new = db.open_tree(arrivals::RESERVATIONS).unwrap();
        let new_held = db.open_tree(arrivals::HELD).unwrap();
        let old = db.open_tree("reservations").unwrap();
        let old_held = db.open_tree("held").unwrap();
        for item in new.iter() {
            let (key, value) = item.unwrap();
            let id = arrivals::request_id(&key).unwrap().to_string();
            old.insert(id.as_bytes(), value).unwrap();
            if new_held.contains_key(&key).unwrap() {
                old_held.insert(id.as_bytes(), &[][..]).unwrap();
            }
        }
        drop((new, new_held));
        db.drop_tree(arrivals::RESERVATIONS).unwrap();
        db.drop_tree(arrivals::HELD).unwrap();
        db.flush().unwrap();
    }
    let store = unlocked(|| CatalogStore::open(&path, 100).ok()).await;
    let names: Vec<Vec<u8>> = store.db.tree_names().iter().map(|n| n.to_vec()).collect();
    assert!(
        !names.contains(&b"reservations".to_vec()),
        "old tree dropped"
    );
    assert!(!names.contains(&b"held".to_vec()), "old held index dropped");
    let mut after = store.reservations(None, None, || 10).unwrap();
    let mut before = before;
    before.sort_by(|a, b| a.request_id.cmp(&b.request_id));
    after.sort_by(|a, b| a.request_id.cmp(&b.request_id));
    assert_eq!(after, before);
    let held: Vec<_> = store
        .reservations(Some(ReservationState::Held), None, || 10)
        .unwrap()
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(held, vec!["r2".to_string()]);
    let repeat = store.reserve(&request("r2", "Clue", 3), 3).await.unwrap();
    assert!(!repeat.created);
    store.confirm("r2", 8).await.unwrap();
    let fresh = store.reserve(&request("r3", "Tux", 1), 4).await.unwrap();
    assert!(fresh.created);
    assert_eq!(store.reservation("r3").unwrap().quantity, 1);
    assert_ledger_balances(&store);
    assert_eq!(row(&store, "Clue").confirmed, 3);
}
