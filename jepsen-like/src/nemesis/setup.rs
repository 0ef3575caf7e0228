//! What the cluster must be started with for the chosen faults: a small snapshot
//! threshold for `snapshot`; the catalog and every node under libfaketime, each with a
//! clock file the nemesis rewrites, for `clock`; every node under libfiu with a control
//! pipe, so one node's fsync can be made to fail, for `disk`.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context};
use testkit::fiu::LIBFIU;
use testkit::ClusterOptions;

use crate::nemesis::fault::{Fault, FaultList};

/// `--snapshot-logs` under the `snapshot` nemesis: snapshots (and purges) come every few
/// seconds of the workload while the state is small, and the fault's heal builds one
/// anyway, so a node that fell behind for one interval can only catch up from a snapshot.
pub(crate) const SNAPSHOT_LOGS: u64 = 100;

/// Node ids past `--nodes` that may be added by `membership`, all prepared up front.
const SPARE_NODE_IDS: u64 = 64;

/// Debian's `faketime`.
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// Where the fault files live; `None` when that fault is not in the run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Setup {
    /// Holds `<process name>.clock`, the offset libfaketime reads (`+0`, `+3600`, `-90`).
    clock_dir: Option<PathBuf>,
    /// libfiu's control pipes are `<prefix>-<pid>.in` and `.out`.
    fiu_prefix: Option<PathBuf>,
}

impl Setup {
    /// Adds to `options` what `faults` need, with files under `dir`.
    pub(crate) fn prepare(
        faults: &FaultList,
        dir: &Path,
        nodes: u64,
        options: &mut ClusterOptions,
    ) -> anyhow::Result<Setup> {
        let mut setup = Setup::default();
        let node_names: Vec<String> = (1..=nodes + SPARE_NODE_IDS)
            .map(|id| format!("node-{id}"))
            .collect();
        if faults.contains(Fault::Snapshot) {
            options
                .node_args
                .extend(["--snapshot-logs".to_string(), SNAPSHOT_LOGS.to_string()]);
        }
        if faults.contains(Fault::Clock) {
            ensure!(
                Path::new(LIBFAKETIME).exists(),
                "the clock nemesis needs {LIBFAKETIME} (apt-get install faketime)"
            );
            let clock_dir = dir.join("clock");
            std::fs::create_dir_all(&clock_dir)
                .with_context(|| format!("create {}", clock_dir.display()))?;
            for name in std::iter::once("catalog".to_string()).chain(node_names.iter().cloned()) {
                let file = clock_dir.join(format!("{name}.clock"));
                write_atomically(&file, "+0")?;
                let env = options.env.entry(name).or_default();
                preload(env, LIBFAKETIME);
                env.extend([
                    ("FAKETIME_TIMESTAMP_FILE".into(), file.display().to_string()),
                    // Read the file on every call: a jump takes effect at once.
                    ("FAKETIME_NO_CACHE".into(), "1".into()),
                    // Only the wall clock jumps, as under a bad NTP step; the monotonic
                    // clock that timers and timeouts use never goes backwards.
                    ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
                ]);
            }
            setup.clock_dir = Some(clock_dir);
        }
        if faults.contains(Fault::Disk) {
            for lib in LIBFIU {
                ensure!(
                    Path::new(lib).exists(),
                    "the disk nemesis needs {lib} (apt-get install fiu-utils)"
                );
            }
            let prefix = dir.join("fiu-ctrl");
            for name in &node_names {
                let env = options.env.entry(name.clone()).or_default();
                for lib in LIBFIU {
                    preload(env, lib);
                }
                env.extend(testkit::fiu::control_env(&prefix));
            }
            setup.fiu_prefix = Some(prefix);
        }
        Ok(setup)
    }

    /// The clock file of process `name` (`catalog`, `node-2`), if clocks are faked.
    pub(crate) fn clock_file(&self, name: &str) -> Option<PathBuf> {
        let dir = self.clock_dir.as_ref()?;
        Some(dir.join(format!("{name}.clock")))
    }

    /// libfiu's control pipe prefix, if nodes run under libfiu.
    pub(crate) fn fiu_prefix(&self) -> Option<&Path> {
        self.fiu_prefix.as_deref()
    }

    /// Sets every faked clock back to the real time.
    pub(crate) fn reset_clocks(&self) -> anyhow::Result<()> {
        let Some(dir) = &self.clock_dir else {
            return Ok(());
        };
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "clock") {
                write_atomically(&path, "+0")?;
            }
        }
        Ok(())
    }
}

/// Appends `lib` to the `LD_PRELOAD` of `env` (a space-separated list, as ld.so reads it).
fn preload(env: &mut Vec<(String, String)>, lib: &str) {
    match env.iter_mut().find(|(key, _)| key == "LD_PRELOAD") {
        Some((_, value)) => {
            value.push(' ');
            value.push_str(lib);
        }
        None => env.push(("LD_PRELOAD".into(), lib.into())),
    }
}

/// Replaces `path` with `text` in one rename, so a reader never sees half a file.
pub(crate) fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).with_context(|| format!("write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("rename to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of<'a>(options: &'a ClusterOptions, name: &str, key: &str) -> Option<&'a str> {
        let vars = options.env.get(name)?;
        vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn nothing_is_added_for_plain_faults() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = ClusterOptions::default();
        let faults = FaultList::parse("kill,partition").unwrap();
        let setup = Setup::prepare(&faults, dir.path(), 3, &mut options).unwrap();
        assert!(options.env.is_empty() && options.node_args.is_empty());
        assert!(setup.clock_file("catalog").is_none() && setup.fiu_prefix().is_none());
    }

    #[test]
    fn snapshot_clock_and_disk_shape_the_processes() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = ClusterOptions::default();
        let faults = FaultList(vec![Fault::Snapshot, Fault::Clock, Fault::Disk]);
        if !Path::new(LIBFAKETIME).exists() || !Path::new(LIBFIU[1]).exists() {
            assert!(Setup::prepare(&faults, dir.path(), 3, &mut options).is_err());
            return;
        }
        let setup = Setup::prepare(&faults, dir.path(), 3, &mut options).unwrap();
        assert_eq!(options.node_args, vec!["--snapshot-logs", "100"]);
        let catalog_clock = setup.clock_file("catalog").unwrap();
        assert_eq!(std::fs::read_to_string(&catalog_clock).unwrap(), "+0");
        assert_eq!(env_of(&options, "catalog", "LD_PRELOAD"), Some(LIBFAKETIME));
        // A node added later by `membership` is prepared too, with both libraries.
        let preload = env_of(&options, "node-4", "LD_PRELOAD").unwrap();
        assert_eq!(preload.split(' ').count(), 3, "{preload}");
        assert!(env_of(&options, "node-4", "FIU_CTRL_FIFO").is_some());
        assert!(env_of(&options, "gateway", "LD_PRELOAD").is_none());
        write_atomically(&setup.clock_file("node-2").unwrap(), "+3600").unwrap();
        setup.reset_clocks().unwrap();
        let node_clock = setup.clock_file("node-2").unwrap();
        assert_eq!(std::fs::read_to_string(node_clock).unwrap(), "+0");
    }
}
