//! A 3-member etcd on loopback: found on `PATH`, started on free ports with its own
//! temporary data directories, checked healthy, SIGKILLed when dropped (so a failing bench
//! never leaves a member behind).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// What to tell a person whose machine has no etcd.
pub(crate) const INSTALL_HINT: &str = "`etcd` not found on PATH; the etcd experiment needs it: \
     install it with `apt-get install etcd-server` (Debian/Ubuntu), or put an etcd 3.4+ binary on PATH";

/// The `etcd` binary on `PATH`.
pub(crate) fn etcd_binary() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("etcd"))
        .find(|candidate| candidate.is_file())
        .context(INSTALL_HINT)
}

/// `etcd --version`'s first line, e.g. `etcd Version: 3.4.23`.
pub(crate) fn version(binary: &Path) -> String {
    Command::new(binary)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "etcd (unknown version)".to_string())
}

/// One running member.
struct Member {
    name: String,
    child: Child,
    client_url: String,
    log: PathBuf,
}

/// A running etcd cluster; dropping it kills every member and removes the data.
pub(crate) struct EtcdCluster {
    members: Vec<Member>,
    dir: tempfile::TempDir,
}

/// Distinct free loopback ports.
fn ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let mut ports = Vec::with_capacity(count);
    while ports.len() < count {
        let port = testkit::free_port()?;
        if !ports.contains(&port) {
            ports.push(port);
        }
    }
    Ok(ports)
}

impl EtcdCluster {
    /// Starts `size` members of a new cluster and waits until each is healthy.
    pub(crate) async fn start(binary: &Path, size: usize) -> anyhow::Result<EtcdCluster> {
        let dir = tempfile::tempdir().context("etcd temp dir")?;
        let ports = ports(size * 2)?;
        let peer = |i: usize| format!("http://127.0.0.1:{}", ports[2 * i + 1]);
        let initial: Vec<String> = (0..size)
            .map(|i| format!("etcd-{}={}", i + 1, peer(i)))
            .collect();
        let mut cluster = EtcdCluster {
            members: Vec::new(),
            dir,
        };
        for i in 0..size {
            let name = format!("etcd-{}", i + 1);
            let client_url = format!("http://127.0.0.1:{}", ports[2 * i]);
            let log = cluster.dir.path().join(format!("{name}.log"));
            let child = spawn(
                binary,
                cluster.dir.path(),
                &name,
                &client_url,
                &peer(i),
                &initial.join(","),
                &log,
            )?;
            cluster.members.push(Member {
                name,
                child,
                client_url,
                log,
            });
        }
        cluster.wait_healthy(Duration::from_secs(30)).await?;
        Ok(cluster)
    }

    /// `http://127.0.0.1:<port>` of every member's client listener.
    pub(crate) fn client_urls(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_url.clone()).collect()
    }

    /// `(name, pid)` of every member.
    pub(crate) fn pids(&self) -> Vec<(String, u32)> {
        self.members
            .iter()
            .map(|m| (m.name.clone(), m.child.id()))
            .collect()
    }

    /// Kills and reaps every member. Idempotent.
    pub(crate) fn stop(&mut self) {
        for member in &mut self.members {
            if matches!(member.child.try_wait(), Ok(None)) {
                let _ = member.child.kill();
            }
            let _ = member.child.wait();
        }
    }

    /// Polls `GET /health` on every member until all say `{"health":"true"}`.
    async fn wait_healthy(&mut self, deadline: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let end = Instant::now() + deadline;
        for index in 0..self.members.len() {
            loop {
                let member = &mut self.members[index];
                let url = format!("{}/health", member.client_url);
                if let Ok(response) = http.get(&url).send().await {
                    if response.text().await.is_ok_and(|t| t.contains("\"true\"")) {
                        break;
                    }
                }
                if let Ok(Some(status)) = member.child.try_wait() {
                    bail!(
                        "{} exited with {status}; log:\n{}",
                        member.name,
                        tail(&member.log)
                    );
                }
                if Instant::now() >= end {
                    bail!(
                        "{} not healthy within {deadline:?}; log:\n{}",
                        member.name,
                        tail(&member.log)
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(
    binary: &Path,
    dir: &Path,
    name: &str,
    client_url: &str,
    peer_url: &str,
    initial_cluster: &str,
    log: &Path,
) -> anyhow::Result<Child> {
    let log_file =
        std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    let data = dir.join(format!("{name}.data"));
    Command::new(binary)
        .args(["--name", name, "--logger", "zap", "--log-level", "warn"])
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--listen-client-urls",
            client_url,
            "--advertise-client-urls",
            client_url,
        ])
        .args([
            "--listen-peer-urls",
            peer_url,
            "--initial-advertise-peer-urls",
            peer_url,
        ])
        .args([
            "--initial-cluster",
            initial_cluster,
            "--initial-cluster-state",
            "new",
        ])
        .args(["--initial-cluster-token", "toystore-bench"])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("start {name} ({})", binary.display()))
}

/// The last 30 lines of a log, for error messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Resident set size of a process in KiB (`VmRSS` in `/proc/<pid>/status`).
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_from_proc_status() {
        let status = "Name:\tetcd\nVmPeak:\t  9000 kB\nVmRSS:\t   51234 kB\nThreads:\t12\n";
        assert_eq!(parse_vm_rss(status), Some(51_234));
        assert_eq!(parse_vm_rss("Name:\tzombie\n"), None);
        assert!(rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
    }
}
