//! A node whose disk stops making writes durable must fail-stop: every node runs under
//! libfiu (Debian `fiu-utils`), one follower's fsync and sync_file_range are made to fail
//! while buys go on, and that node must exit non-zero, never answering as a healthy
//! member, while the other two keep serving. Skipped where libfiu is not installed.

mod common;

use std::path::Path;
use std::time::Instant;

use common::{buy, leader_of, options, Cluster, Member, SETTLE};
use testkit::fiu::{self, LIBFIU};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_fsync_fails_exits() {
    if LIBFIU.iter().any(|lib| !Path::new(lib).exists()) {
        eprintln!("skipped: no libfiu (apt-get install fiu-utils)");
        return;
    }
    let fifo = tempfile::tempdir().unwrap();
    let prefix = fifo.path().join("fiu");
    let mut options = options(3, &[]);
    // Enough stock for buys until the deadline.
    options.stock = Some(testkit::Stock {
        initial: 1_000_000,
        ..Default::default()
    });
    for id in 1..=3 {
        let mut env = vec![("LD_PRELOAD".to_string(), LIBFIU.join(" "))];
        env.extend(fiu::control_env(&prefix));
        options.env.insert(format!("node-{id}"), env);
    }
    let mut cluster = Cluster::start(options).expect("cluster starts");
    let leader = leader_of(&mut cluster).await;
    let victim = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    let pid = cluster
        .process(Member::Node(victim))
        .unwrap()
        .pid()
        .unwrap();
    let output = fiu::fail_syncs(&prefix, pid).expect("fiu-ctrl runs");
    assert!(output.status.success(), "{output:?}");

    // Buys replicate to the victim, whose next append cannot be flushed; the majority
    // left still commits them.
    let client = cluster.node_client(leader);
    let deadline = Instant::now() + SETTLE;
    for n in 0.. {
        buy(&client, &format!("failstop-{n}"), "Tux", 1)
            .await
            .expect("the majority still commits");
        let process = cluster.process(Member::Node(victim)).unwrap();
        if !process.is_running() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node-{victim} kept running; log:\n{}",
            process.log()
        );
    }
    let log = cluster.process(Member::Node(victim)).unwrap().log();
    assert!(log.contains("raft stopped on a fatal error"), "{log}");
}
