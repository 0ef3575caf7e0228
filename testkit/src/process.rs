//! Starting and stopping the real service binaries, for integration tests and the harness.
//!
//! A [`ServiceProcess`] is one child process with its stderr in a log file. It is started
//! with `--listen 127.0.0.1:0` (or a fixed address) and learns its address from the
//! contract's first log line, `listening on <addr>`. Dropping it SIGKILLs the child, so a
//! failing test never leaves a server behind.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

/// How long a process gets to print `listening on <addr>`.
pub const START_DEADLINE: Duration = Duration::from_secs(30);

/// What to start: a program, its arguments (without `--listen`) and environment.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// A short name for logs and messages, e.g. `node-2`.
    pub name: String,
    /// The binary to run.
    pub program: PathBuf,
    /// Its arguments, `--listen` included.
    pub args: Vec<OsString>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// The `--listen` value; `127.0.0.1:0` picks a free port.
    pub listen: String,
    /// Where stderr goes (appended, so a restarted process keeps its history).
    pub log_path: PathBuf,
}

impl ProcessSpec {
    /// A spec for `program` listening on a free loopback port, logging to `log_dir/<name>.log`.
    pub fn new(name: &str, program: impl Into<PathBuf>, log_dir: &Path) -> Self {
        ProcessSpec {
            name: name.to_string(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            listen: "127.0.0.1:0".to_string(),
            log_path: log_dir.join(format!("{name}.log")),
        }
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets the `--listen` address.
    pub fn listen(mut self, listen: impl Into<String>) -> Self {
        self.listen = listen.into();
        self
    }
}

/// A running (or paused, or killed) service process.
#[derive(Debug)]
pub struct ServiceProcess {
    spec: ProcessSpec,
    child: Option<Child>,
    addr: SocketAddr,
}

impl ServiceProcess {
    /// Starts the process and waits until it logs its address.
    pub fn start(spec: ProcessSpec) -> anyhow::Result<Self> {
        let (child, addr) = launch(&spec)?;
        Ok(ServiceProcess {
            spec,
            child: Some(child),
            addr,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The name it was started under (and its log file's).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// How it was started.
    pub fn spec(&self) -> &ProcessSpec {
        &self.spec
    }

    /// The pid while the process runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while the child has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILL, then reap. Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = signal(child.id(), libc::SIGCONT);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`. Returns the exit status
    /// code if the process exited by itself.
    pub fn terminate(&mut self, grace: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = signal(child.id(), libc::SIGCONT);
        let _ = signal(child.id(), libc::SIGTERM);
        let deadline = Instant::now() + grace;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGSTOP: the process stays alive but does nothing, like a long GC pause.
    pub fn pause(&self) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow!("{} is not running", self.name()))?;
        signal(pid, libc::SIGSTOP)
    }

    /// SIGCONT after [`pause`](Self::pause).
    pub fn resume(&self) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow!("{} is not running", self.name()))?;
        signal(pid, libc::SIGCONT)
    }

    /// Starts the process again on the same address (after a kill or terminate).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let spec = ProcessSpec {
            listen: self.addr.to_string(),
            ..self.spec.clone()
        };
        let (child, addr) = launch(&spec)?;
        self.child = Some(child);
        self.addr = addr;
        Ok(())
    }

    /// The log written so far (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.spec.log_path).unwrap_or_default()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(pid: u32, sig: libc::c_int) -> anyhow::Result<()> {
    let pid = libc::pid_t::try_from(pid).context("pid out of range")?;
    // SAFETY: kill(2) only sends a signal; the pid is our own child's.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc != 0 {
        bail!("kill({pid}, {sig}): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

fn launch(spec: &ProcessSpec) -> anyhow::Result<(Child, SocketAddr)> {
    if let Some(dir) = spec.log_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let log = File::options()
        .create(true)
        .append(true)
        .open(&spec.log_path)
        .with_context(|| format!("open {}", spec.log_path.display()))?;
    let start_offset = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .arg("--listen")
        .arg(&spec.listen)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    for (key, value) in &spec.env {
        command.env(key, value);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("start {} ({})", spec.name, spec.program.display()))?;
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        let text = read_from(&spec.log_path, start_offset);
        if let Some(addr) = parse_listening(&text) {
            return Ok((child, addr));
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!(
                "{} exited with {status} before listening; log:\n{text}",
                spec.name
            );
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{} did not log `listening on` within {START_DEADLINE:?}; log:\n{text}",
                spec.name
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_from(path: &Path, offset: u64) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_end(&mut bytes);
    }
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Finds the address in the first `listening on <addr>` line, text or JSON log format.
pub fn parse_listening(log: &str) -> Option<SocketAddr> {
    const MARK: &str = "listening on ";
    let start = log.find(MARK)? + MARK.len();
    let rest = &log[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"')
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_in_text_and_json_logs() {
        let text = "2026-11-25T01:00:00Z  INFO catalog: listening on 127.0.0.1:40123\n";
        assert_eq!(
            parse_listening(text),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        let json = r#"{"fields":{"message":"listening on 127.0.0.1:5"},"level":"INFO"}"#;
        assert_eq!(parse_listening(json), Some("127.0.0.1:5".parse().unwrap()));
        assert_eq!(parse_listening("starting\n"), None);
    }

    #[test]
    fn starts_kills_and_restarts_a_real_process() {
        let dir = tempfile::tempdir().unwrap();
        // `sh` stands in for a service: it prints the line a service would, then waits.
        let script = "echo \"listening on 127.0.0.1:9\" >&2; exec sleep 30";
        // sh takes the appended `--listen <addr>` as positional parameters, harmlessly.
        let spec = ProcessSpec::new("sleeper", "/bin/sh", dir.path()).args(["-c", script]);
        let mut process = ServiceProcess::start(spec).unwrap();
        assert_eq!(process.addr().port(), 9);
        assert!(process.is_running());
        process.pause().unwrap();
        process.resume().unwrap();
        process.kill();
        assert!(!process.is_running());
        process.restart().unwrap();
        assert!(process.is_running());
        process.terminate(Duration::from_secs(5));
        assert!(!process.is_running());
        assert!(process.log().contains("listening on"));
    }
}
