//! The catalog with its wall clock stepped back (libfaketime, Debian `faketime`): a
//! reservation taken while the clock was ahead is still listed, in full and as old enough
//! for the reconciler. Skipped where libfaketime is not installed.

mod common;

use std::path::Path;

use testkit::{Cluster, ClusterOptions};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

#[tokio::test]
async fn reservations_taken_before_the_clock_stepped_back_stay_listed() {
    if !Path::new(LIBFAKETIME).exists() {
        eprintln!("skipped: no {LIBFAKETIME} (apt-get install faketime)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("catalog.clock");
    std::fs::write(&clock, "+3600").unwrap();
    let env = vec![
        ("LD_PRELOAD".to_string(), LIBFAKETIME.to_string()),
        (
            "FAKETIME_TIMESTAMP_FILE".to_string(),
            clock.display().to_string(),
        ),
        ("FAKETIME_NO_CACHE".to_string(), "1".to_string()),
        ("FAKETIME_DONT_FAKE_MONOTONIC".to_string(), "1".to_string()),
    ];
    let cluster = Cluster::start(ClusterOptions {
        nodes: 0,
        gateway: false,
        env: [("catalog".to_string(), env)].into(),
        ..Default::default()
    })
    .expect("catalog starts");
    let catalog = common::Catalog::around(cluster);
    let body = r#"{"request_id": "ahead", "name": "Tux", "quantity": 1}"#;
    let (status, reserved) = catalog.post("/reservations", body).await;
    assert_eq!(status, 200, "{reserved}");
    // An hour ahead when taken.
    let created = reserved["data"]["created_ms"].as_u64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        created > now + 3_000_000,
        "the clock was not faked: {created} vs {now}"
    );

    std::fs::write(&clock, "+0").unwrap();
    let (_, all) = catalog.get("/reservations").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 1, "{all}");
    let (_, held) = catalog
        .get("/reservations?state=held&older_than_ms=5000")
        .await;
    assert_eq!(held["data"][0]["request_id"], "ahead", "{held}");
}
