//! CPU time the cluster's processes spend per operation: `/proc/<pid>/stat` user plus
//! system time read before and after a measured run, divided by the run's successful
//! operations. On two shared cores throughput follows CPU, so when a figure drops this
//! says which service's cost per buy rose.

use std::collections::BTreeMap;

/// CPU seconds each named process has used so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct CpuTimes(BTreeMap<String, f64>);

impl CpuTimes {
    /// Reads every process of `pids` (name, pid); one gone since is left out.
    pub(crate) fn read(pids: &[(String, u32)]) -> CpuTimes {
        CpuTimes(
            pids.iter()
                .filter_map(|(name, pid)| Some((name.clone(), cpu_seconds(*pid)?)))
                .collect(),
        )
    }

    /// CPU seconds each process used between `self` and `later`; processes missing from
    /// either are left out.
    pub(crate) fn until(&self, later: &CpuTimes) -> CpuTimes {
        CpuTimes(
            later
                .0
                .iter()
                .filter_map(|(name, after)| {
                    let before = self.0.get(name)?;
                    Some((name.clone(), (after - before).max(0.0)))
                })
                .collect(),
        )
    }

    /// Adds `other`'s seconds to this one's, process by process.
    pub(crate) fn add(&mut self, other: &CpuTimes) {
        for (name, seconds) in &other.0 {
            *self.0.entry(name.clone()).or_default() += seconds;
        }
    }

    /// The seconds of every process together.
    pub(crate) fn total(&self) -> f64 {
        self.0.values().sum()
    }

    /// Microseconds per operation of each process, for CPU times that are differences
    /// (see [`until`](Self::until)) spent on `ops` operations.
    pub(crate) fn per_op_us(&self, ops: usize) -> BTreeMap<String, f64> {
        let ops = ops.max(1) as f64;
        self.0
            .iter()
            .map(|(name, seconds)| (name.clone(), seconds * 1e6 / ops))
            .collect()
    }
}

/// User plus system CPU seconds of `pid`, from fields 14 and 15 of `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat, clock_ticks_per_second())
}

/// The command name (field 2) is in parentheses and may hold spaces, so fields are
/// counted from the last `)`.
fn parse_stat(stat: &str, ticks_per_second: f64) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state (3), then ppid ... up to utime (14) and stime (15).
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / ticks_per_second)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_system_time_are_read_past_a_name_with_spaces() {
        let stat = "4242 (raft node) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(parse_stat(stat, 100.0), Some(3.0));
        assert_eq!(parse_stat("4242 (x) S 1", 100.0), None);
    }

    #[test]
    fn this_process_uses_cpu_and_the_difference_is_per_operation() {
        let me = vec![("me".to_string(), std::process::id())];
        let before = CpuTimes::read(&me);
        // Spins until the kernel has charged this process 20 ms (a busy machine may give
        // it less than the wall time), up to a deadline.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut spin = 0u64;
        let per_op = loop {
            for _ in 0..100_000 {
                spin = std::hint::black_box(spin.wrapping_add(1));
            }
            let per_op = before.until(&CpuTimes::read(&me)).per_op_us(10);
            if per_op["me"] >= 2_000.0 || std::time::Instant::now() > deadline {
                break per_op;
            }
        };
        assert!(per_op["me"] >= 2_000.0, "{per_op:?}");
        assert!(CpuTimes::read(&[("gone".into(), u32::MAX)]).0.is_empty());
    }

    #[test]
    fn differences_add_up_process_by_process() {
        let times = |pairs: &[(&str, f64)]| {
            CpuTimes(pairs.iter().map(|(n, s)| (n.to_string(), *s)).collect())
        };
        let start = times(&[("a", 1.0), ("b", 2.0)]);
        // "c" started after the first read: it has no difference to give.
        let first = start.until(&times(&[("a", 1.5), ("b", 2.0), ("c", 9.0)]));
        let mut sum = first.clone();
        sum.add(&times(&[("a", 0.25), ("b", 1.0)]));
        assert_eq!(sum.0, times(&[("a", 0.75), ("b", 1.0)]).0);
        assert_eq!(sum.total(), 1.75);
        assert_eq!(sum.per_op_us(1_000)["a"], 750.0);
        // A counter read lower later (a pid reused) counts as nothing, never negative.
        assert_eq!(
            times(&[("a", 3.0)]).until(&times(&[("a", 1.0)])).total(),
            0.0
        );
    }
}
