//! libfiu (Debian `fiu-utils`): the preload that lets a test make a running process's disk
//! syncs fail, and the `fiu-ctrl` call that does it. Used by the fail-stop test and the
//! harness's `disk` fault.

use std::path::Path;
use std::process::{Command, Output};

/// The preload libraries, for `LD_PRELOAD`.
pub const LIBFIU: [&str; 2] = [
    "/usr/lib/fiu/fiu_run_preload.so",
    "/usr/lib/fiu/fiu_posix_preload.so",
];

/// What a process preloading [`LIBFIU`] also needs to take `fiu-ctrl` commands on the
/// FIFOs named after `prefix`.
pub fn control_env(prefix: &Path) -> [(String, String); 2] {
    [
        ("FIU_CTRL_FIFO".to_string(), prefix.display().to_string()),
        ("FIU_ENABLE".to_string(), String::new()),
    ]
}

/// Runs `fiu-ctrl` to make process `pid`'s fsync, fdatasync (`posix/io/sync/*`) and
/// sync_file_range fail with EIO: sled makes its log writes durable with the latter, its
/// segments and snapshots with fsync. `fiu-ctrl` exits 0 even when the command failed; it
/// says so on stdout, which the caller reads.
pub fn fail_syncs(prefix: &Path, pid: u32) -> std::io::Result<Output> {
    Command::new("fiu-ctrl")
        .arg("-f")
        .arg(prefix)
        .args(["-c", "enable name=posix/io/sync/*,failinfo=5"])
        .args(["-c", "enable name=linux/io/sync_file_range,failinfo=5"])
        .arg(pid.to_string())
        .output()
}
