//! The nemesis: one fault at a time, every `interval`, each healed before the next, every
//! start and stop recorded in the history.
//!
//! Faults: `kill` (SIGKILL a random node, restart it), `kill-leader`, `pause` (SIGSTOP,
//! SIGCONT), `partition` (isolate a node, cut a leader's outgoing links, or split a
//! minority off; by blackholing or resetting), `kill-catalog`.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use testkit::{Cluster, Member};
use tokio::time::Instant;

use crate::history::Recorder;
use crate::proxy::{LinkMode, ProxyMesh};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Kill,
    KillLeader,
    Pause,
    Partition,
    KillCatalog,
}

impl Fault {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::KillLeader => "kill-leader",
            Fault::Pause => "pause",
            Fault::Partition => "partition",
            Fault::KillCatalog => "kill-catalog",
        }
    }

    /// Parses `kill,pause,...`; an empty list means no faults.
    pub(crate) fn parse_list(text: &str) -> Result<Vec<Fault>, String> {
        let all = [
            Fault::Kill,
            Fault::KillLeader,
            Fault::Pause,
            Fault::Partition,
            Fault::KillCatalog,
        ];
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "none")
            .map(|name| {
                all.into_iter().find(|f| f.name() == name).ok_or_else(|| {
                    format!("unknown fault `{name}` (kill, kill-leader, pause, partition, kill-catalog)")
                })
            })
            .collect()
    }
}

/// `--nemesis kill,pause,...` as clap parses it (one value, not many).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FaultList(pub Vec<Fault>);

impl FaultList {
    pub(crate) fn parse(text: &str) -> Result<FaultList, String> {
        Fault::parse_list(text).map(FaultList)
    }
}

/// A fault in force, with what healing it takes.
enum Active {
    Killed(u64),
    Paused(u64),
    Partitioned,
    CatalogKilled,
}

pub(crate) struct Nemesis<'a> {
    pub(crate) cluster: &'a mut Cluster,
    pub(crate) mesh: &'a ProxyMesh,
    pub(crate) recorder: Recorder,
    pub(crate) rng: StdRng,
}

impl Nemesis<'_> {
    /// Injects faults from `faults` until `end`, healing each before the next.
    pub(crate) async fn run(&mut self, faults: &[Fault], interval: Duration, end: Instant) {
        if faults.is_empty() {
            tokio::time::sleep_until(end).await;
            return;
        }
        loop {
            if !sleep_unless_past(interval, end).await {
                return;
            }
            let fault = faults[self.rng.random_range(0..faults.len())];
            let Some((active, target)) = self.start(fault).await else {
                continue;
            };
            self.recorder.nemesis(fault.name(), &target, "start");
            tracing::info!("nemesis: {} {target}", fault.name());
            // The fault lasts one interval, even past the end of the workload.
            tokio::time::sleep(interval).await;
            self.stop(active);
            self.recorder.nemesis(fault.name(), &target, "stop");
            tracing::info!("nemesis: healed {} {target}", fault.name());
        }
    }

    async fn start(&mut self, fault: Fault) -> Option<(Active, String)> {
        let nodes = self.cluster.node_ids();
        let random_node = nodes[self.rng.random_range(0..nodes.len())];
        match fault {
            Fault::Kill => {
                blocking(|| self.cluster.kill(Member::Node(random_node))).ok()?;
                Some((Active::Killed(random_node), format!("node-{random_node}")))
            }
            Fault::KillLeader => {
                let leader = self.cluster.leader().await.unwrap_or(random_node);
                blocking(|| self.cluster.kill(Member::Node(leader))).ok()?;
                Some((Active::Killed(leader), format!("node-{leader}")))
            }
            Fault::Pause => {
                let target = if self.rng.random_bool(0.5) {
                    self.cluster.leader().await.unwrap_or(random_node)
                } else {
                    random_node
                };
                self.cluster.pause(Member::Node(target)).ok()?;
                Some((Active::Paused(target), format!("node-{target}")))
            }
            Fault::Partition => {
                let mode = if self.rng.random_bool(0.5) {
                    LinkMode::Blackhole
                } else {
                    LinkMode::Reset
                };
                let how = if mode == LinkMode::Blackhole {
                    "blackhole"
                } else {
                    "reset"
                };
                let target = match self.rng.random_range(0..3) {
                    0 => {
                        self.mesh.isolate(random_node, mode);
                        format!("node-{random_node} isolated ({how})")
                    }
                    1 => {
                        // One way only: the leader can hear the others but not reach them.
                        let leader = self.cluster.leader().await.unwrap_or(random_node);
                        for &other in nodes.iter().filter(|n| **n != leader) {
                            self.mesh.cut(leader, other, mode);
                        }
                        format!("node-{leader} outbound cut ({how})")
                    }
                    _ => {
                        let minority: Vec<u64> = {
                            let mut shuffled = nodes.clone();
                            for i in (1..shuffled.len()).rev() {
                                shuffled.swap(i, self.rng.random_range(0..=i));
                            }
                            shuffled.truncate((nodes.len() - 1) / 2);
                            shuffled
                        };
                        self.mesh.split(&minority, mode);
                        format!("minority {minority:?} split off ({how})")
                    }
                };
                Some((Active::Partitioned, target))
            }
            Fault::KillCatalog => {
                self.cluster.kill(Member::Catalog).ok()?;
                Some((Active::CatalogKilled, "catalog".to_string()))
            }
        }
    }

    fn stop(&mut self, active: Active) {
        let result = match active {
            Active::Killed(id) => blocking(|| self.cluster.restart(Member::Node(id))),
            Active::Paused(id) => self.cluster.resume(Member::Node(id)),
            Active::Partitioned => {
                self.mesh.heal();
                Ok(())
            }
            Active::CatalogKilled => blocking(|| self.cluster.restart(Member::Catalog)),
        };
        if let Err(err) = result {
            tracing::error!("nemesis could not heal: {err:#}");
        }
    }
}

/// Process starts wait for a log line; keep them off the async workers' hot path.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Sleeps `interval`; false (after sleeping only until `end`) if that passes `end`.
async fn sleep_unless_past(interval: Duration, end: Instant) -> bool {
    let wake = Instant::now() + interval;
    if wake >= end {
        tokio::time::sleep_until(end).await;
        return false;
    }
    tokio::time::sleep_until(wake).await;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_names() {
        let faults = Fault::parse_list("kill,pause,partition,kill-leader,kill-catalog").unwrap();
        assert_eq!(faults.len(), 5);
        assert!(Fault::parse_list("none").unwrap().is_empty());
        assert!(Fault::parse_list("kill,flood").is_err());
    }
}
