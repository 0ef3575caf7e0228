//! What the browser test needs around Chromium: finding `chromium` and `chromedriver`, a
//! chromedriver on a free loopback port as a child process that is killed on drop together
//! with the browser it started (also when the test panics), a WebDriver session with the
//! flags this machine needs, and reading the page through small scripts.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use testkit::{free_port, wait_until_async};

/// Where Debian's packages `chromium` and `chromium-driver` put them; `CHROMIUM` and
/// `CHROMEDRIVER` name others.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Chromium's first start on a busy 2-core machine takes seconds.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// Viewport of the session: wide enough for the tables, tall enough for a whole page.
pub(crate) const WINDOW: (u32, u32) = (1100, 1000);

/// The two programs, or why they cannot be used.
pub(crate) fn find_tools() -> Result<(PathBuf, PathBuf), String> {
    let pick = |var: &str, default: &str| {
        std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
    };
    let chromium = pick("CHROMIUM", CHROMIUM);
    let driver = pick("CHROMEDRIVER", CHROMEDRIVER);
    let missing: Vec<String> = [&chromium, &driver]
        .into_iter()
        .filter(|path| !path.is_file())
        .map(|path| path.display().to_string())
        .collect();
    if missing.is_empty() {
        Ok((chromium, driver))
    } else {
        Err(format!(
            "{} not found (apt-get install chromium chromium-driver, or set CHROMIUM and \
             CHROMEDRIVER)",
            missing.join(" and ")
        ))
    }
}

/// A running chromedriver and the scratch directory of its browser.
pub(crate) struct Driver {
    child: Child,
    port: u16,
    /// The session to end on drop, so Chromium shuts down cleanly first.
    session: Mutex<Option<String>>,
    dir: tempfile::TempDir,
}

impl Driver {
    /// Starts `chromedriver` on a free loopback port and waits until it is ready.
    pub(crate) async fn start(program: &Path) -> anyhow::Result<Driver> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let log = std::fs::File::create(dir.path().join("chromedriver.log"))?;
        let port = free_port()?;
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group, so drop can end the browser processes under it too.
            .process_group(0)
            .spawn()
            .with_context(|| format!("start {}", program.display()))?;
        let driver = Driver {
            child,
            port,
            session: Mutex::new(None),
            dir,
        };
        let status = format!("{}/status", driver.url());
        let http = reqwest::Client::new();
        let ready = wait_until_async("chromedriver to be ready", START_DEADLINE, || async {
            let body: Value = http.get(&status).send().await.ok()?.json().await.ok()?;
            (body["value"]["ready"] == true).then_some(())
        })
        .await;
        if let Err(err) = ready {
            bail!("{err}; chromedriver log:\n{}", driver.log());
        }
        Ok(driver)
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What chromedriver logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }

    /// A new headless Chromium session with a fresh profile.
    pub(crate) async fn browser(&self, chromium: &Path) -> anyhow::Result<Client> {
        let profile = self.dir.path().join("profile");
        // Headless as root in a machine with no network: no sandbox, no GPU, and nothing
        // that phones home (its refused connections would only slow it down).
        let args = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            // A headless window counts as hidden: keep its timers and painting at full speed.
            "--disable-renderer-backgrounding".into(),
            "--disable-background-timer-throttling".into(),
            "--disable-backgrounding-occluded-windows".into(),
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let connect = async {
            ClientBuilder::new(connector)
                .capabilities(capabilities)
                .connect(&self.url())
                .await
        };
        let client = match tokio::time::timeout(START_DEADLINE, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(err)) => bail!("no browser session: {err}; log:\n{}", self.log()),
            Err(_) => bail!(
                "no browser session within {START_DEADLINE:?}; log:\n{}",
                self.log()
            ),
        };
        let id = client.session_id().await?.context("a session id")?;
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(id);
        Ok(client)
    }

    /// `DELETE /session/{id}` over a plain socket: drop cannot await, and may run while a
    /// panic unwinds the test's runtime.
    fn end_session(&self, id: &str) -> std::io::Result<()> {
        let addr = ([127, 0, 0, 1], self.port).into();
        let mut socket = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        socket.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            socket,
            "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Connection: close\r\nContent-Length: 0\r\n\r\n",
            self.port
        )?;
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).map(|_| ())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let session = self
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(id) = session {
            let _ = self.end_session(&id);
        }
        // Whatever is left of chromedriver's group (itself, a browser that did not quit).
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) only sends a signal, to the group this test started.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        let _ = self.child.wait();
    }
}

/// The value of `script` run in the page (`return ...;`), with `args` as `arguments`.
pub(crate) async fn run(client: &Client, script: &str, args: Vec<Value>) -> Value {
    client
        .execute(script, args)
        .await
        .unwrap_or_else(|err| panic!("script failed: {err}\n{script}"))
}

/// The text of the first element matching `css`, if there is one.
pub(crate) async fn text(client: &Client, css: &str) -> Option<String> {
    let script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;";
    run(client, script, vec![json!(css)])
        .await
        .as_str()
        .map(str::to_string)
}

/// Waits until the page has painted twice more, so a screenshot shows the DOM as it is now.
pub(crate) async fn painted(client: &Client) {
    let script = "const done = arguments[arguments.length - 1]; \
                  requestAnimationFrame(() => requestAnimationFrame(() => done(null)));";
    client
        .execute_async(script, vec![])
        .await
        .unwrap_or_else(|err| panic!("waiting for a paint failed: {err}"));
}
