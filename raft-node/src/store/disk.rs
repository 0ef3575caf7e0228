//! Making the database durable.

/// Flushes the whole database to disk. sled's own `flush_async` hangs under many
/// concurrent flushes, so the blocking flush runs on tokio's blocking pool instead.
pub(crate) async fn flush(db: &sled::Db) -> Result<(), std::io::Error> {
    let db = db.clone();
    match tokio::task::spawn_blocking(move || db.flush()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(std::io::Error::other(e)),
        Err(e) => Err(std::io::Error::other(format!("flush task failed: {e}"))),
    }
}
