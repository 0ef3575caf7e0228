//! Figures, not checks: leader failover time and buy throughput on a loopback cluster.
//! Ignored by default (timing belongs to benchmarks, not tests). Run with
//! `cargo test --release -p raft-node --test bench -- --ignored --nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::{buy, leader_of, options, start, Cluster, ClusterOptions, Member, SETTLE};
use testkit::Stock;

/// Kills the leader several times; prints the median time until another node leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn failover_time() {
    let mut cluster = start(3, &[]);
    let mut times = Vec::new();
    for round in 0..10 {
        let old = leader_of(&mut cluster).await;
        buy(&cluster.node_client(old), &format!("f-{round}"), "Tux", 1)
            .await
            .unwrap();
        let others: Vec<_> = cluster
            .node_ids()
            .into_iter()
            .filter(|id| *id != old)
            .map(|id| cluster.node_client(id))
            .collect();
        let killed_at = Instant::now();
        cluster.kill(Member::Node(old)).unwrap();
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        println!("killed at unix {:.3}", wall.as_secs_f64());
        let elapsed = loop {
            let mut found = false;
            for client in &others {
                if let Ok(status) = client.status().await {
                    if status.state == toystore_api::node::Role::Leader {
                        found = true;
                    }
                }
            }
            if found {
                break killed_at.elapsed();
            }
            assert!(
                killed_at.elapsed() < Duration::from_secs(30),
                "no new leader"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        times.push(elapsed);
        println!("round {round}: leader {old} killed, new leader after {elapsed:?}");
        cluster.restart(Member::Node(old)).unwrap();
        leader_of(&mut cluster).await;
        // Wait for the restarted node's log too, or the next round measures a lagging voter.
        cluster.caught_up(SETTLE).await.unwrap();
    }
    println!("logs in {}", cluster.log_dir().display());
    if std::env::var_os("KEEP_BENCH_DIR").is_some() {
        cluster.keep_dir();
    }
    times.sort();
    println!(
        "failover: median {:?}, min {:?}, max {:?} over {} kills",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len()
    );
}

/// Buys with 1 and with 32 concurrent clients against the leader; prints orders/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn buy_throughput() {
    let stock = Stock {
        initial: 100_000_000,
        ..Default::default()
    };
    let mut cluster = Cluster::start(ClusterOptions {
        stock: Some(stock),
        ..options(3, &[])
    })
    .expect("cluster starts");
    let leader = leader_of(&mut cluster).await;
    for (clients, per_client) in [(1usize, 300usize), (32, 60)] {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let client = cluster.node_client(leader);
            tasks.push(tokio::spawn(async move {
                for i in 0..per_client {
                    buy(&client, &format!("t{clients}-{c}-{i}"), "Tux", 1)
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = started.elapsed();
        let total = clients * per_client;
        println!(
            "{clients} clients: {total} buys in {elapsed:?} = {:.0} orders/s",
            total as f64 / elapsed.as_secs_f64()
        );
    }
}
