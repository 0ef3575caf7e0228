//! Where the service binaries are: the workspace's own (built on demand), or a directory
//! given on the command line (the harness's `--bin-dir`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use anyhow::{bail, Context};

/// `name` in `bin_dir` if one is given, else the workspace's own [`workspace_binary`].
pub fn binary(bin_dir: Option<&Path>, name: &str) -> anyhow::Result<PathBuf> {
    match bin_dir {
        Some(dir) => {
            let path = dir.join(name);
            anyhow::ensure!(path.exists(), "no {name} binary in {}", dir.display());
            Ok(path)
        }
        None => workspace_binary(name),
    }
}

/// The path of a workspace binary (`catalog`, `raft-node`, `gateway`). Tests run from
/// `target/<profile>/deps/`, binaries live one level up; `cargo test` / `nextest` over the
/// workspace builds them all with the tests' own feature set. A binary that is missing
/// (a single package's tests, a bench) is built here with `cargo build -p <name>`.
/// Rebuilding an existing one here instead would resolve features differently from the
/// test build and recompile half the dependency tree while tests wait.
pub fn workspace_binary(name: &str) -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(name) {
        return Ok(path.clone());
    }
    let path = match std::env::var_os(format!("CARGO_BIN_EXE_{name}")) {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().context("current_exe")?;
            let deps = exe.parent().context("test binary has no directory")?;
            let profile_dir = if deps.ends_with("deps") {
                deps.parent().context("deps has no parent")?
            } else {
                deps
            };
            let path = profile_dir.join(name);
            if !path.exists() {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
                let mut build = Command::new(cargo);
                // Each service binary is named after its package.
                build.args(["build", "--quiet", "-p", name, "--bin", name]);
                if profile_dir.ends_with("release") {
                    build.arg("--release");
                }
                let status = build.status().context("run cargo build")?;
                if !status.success() {
                    bail!("cargo build -p {name} --bin {name} failed");
                }
            }
            path
        }
    };
    built.insert(name.to_string(), path.clone());
    Ok(path)
}
