//! Making the database durable, and running store work off the node's one runtime thread.

use std::panic::AssertUnwindSafe;

/// How far below the node's other threads a [`background`] thread runs (nice levels).
const BACKGROUND_NICENESS: i32 = 10;

/// Runs `work` on tokio's blocking pool. Whole-store work (flushes, snapshots, the digest,
/// log purges) takes long enough at a million orders to stall heartbeats if it ran on the
/// node's single-threaded runtime. A panic there comes back as an I/O error.
pub(crate) async fn blocking<T, F>(work: F) -> std::io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| std::io::Error::other(format!("blocking task failed: {e}")))
}

/// Runs `work` on a thread of its own at a lower CPU priority. A snapshot build copies the
/// whole state, seconds of CPU at a million orders; on a machine the services share, that
/// time is better taken from idle moments than from the appends and applies every buy
/// waits for. The thread ends with the work, so its priority never reaches other work
/// (an unprivileged thread cannot raise its priority back). A panic comes back as an error.
pub(crate) async fn background<T, F>(name: &str, work: F) -> std::io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            lower_priority();
            let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(work)));
        })?;
    match result.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(std::io::Error::other("background task panicked")),
        Err(_) => Err(std::io::Error::other(
            "background thread ended without a result",
        )),
    }
}

/// Lowers the calling thread's priority by [`BACKGROUND_NICENESS`]; best effort (on
/// Linux a nice value belongs to one thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let lower = (thread_nice() + BACKGROUND_NICENESS).min(19);
        // SAFETY: a plain system call about the calling thread only.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, this_thread(), lower) };
    }
}

/// The calling thread's id, as the priority calls take it.
#[cfg(target_os = "linux")]
fn this_thread() -> libc::id_t {
    // SAFETY: gettid only reads the calling thread's id.
    unsafe { libc::gettid() as libc::id_t }
}

/// The calling thread's nice value.
#[cfg(target_os = "linux")]
fn thread_nice() -> i32 {
    // SAFETY: a plain system call reading the calling thread's priority.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, this_thread()) }
}

/// Flushes the whole database to disk. sled's own `flush_async` hangs under many
/// concurrent flushes, so the blocking flush runs on tokio's blocking pool instead.
pub(crate) async fn flush(db: &sled::Db) -> std::io::Result<()> {
    let db = db.clone();
    blocking(move || db.flush())
        .await?
        .map(drop)
        .map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn background_work_runs_at_a_lower_priority_and_a_panic_is_an_error() {
        let mine = thread_nice();
        let theirs = background("test-bg", thread_nice).await.unwrap();
        assert_eq!(theirs, (mine + BACKGROUND_NICENESS).min(19));
        // Still the same here: only the background thread was lowered.
        assert_eq!(thread_nice(), mine);
        let failed = background("test-bg", || -> u8 { panic!("boom") }).await;
        assert!(failed.is_err());
    }
}
