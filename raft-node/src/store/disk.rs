//! Making the database durable, and running store work off the node's one runtime thread.

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

/// Flushes the whole database to disk. sled's own `flush_async` hangs under many
/// concurrent flushes, so the blocking flush runs on tokio's blocking pool instead.
pub(crate) async fn flush(db: &sled::Db) -> std::io::Result<()> {
    let db = db.clone();
    blocking(move || db.flush())
        .await?
        .map(drop)
        .map_err(std::io::Error::other)
}
