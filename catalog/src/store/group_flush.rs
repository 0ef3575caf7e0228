//! Group commit: every change waits for a flush that began after it was written, and one
//! flush serves every change that arrived while the previous one ran.
//!
//! A durable change is a cheap in-memory write followed by an fsync. Under concurrent
//! requests, one fsync per request makes the disk the queue; here a single flusher task
//! runs one flush at a time, and each flush covers everything written before it started.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

/// Told after every successful flush: how long it took, and how many changes it made
/// durable (the size of the group).
pub(crate) type FlushObserver = Arc<dyn Fn(Duration, u64) + Send + Sync>;

/// Where the flusher is: the highest ticket known durable, and the last failed round.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every ticket up to this one was written before a flush that succeeded.
    durable: u64,
    /// The highest ticket of a round whose flush failed, and why.
    failed: Option<(u64, String)>,
}

/// A handle on the flusher; clones share it. The flusher stops when the last handle goes.
#[derive(Clone)]
pub(crate) struct GroupFlush {
    tickets: Arc<AtomicU64>,
    wake: mpsc::Sender<()>,
    progress: watch::Receiver<Progress>,
}

impl GroupFlush {
    /// Starts the flusher task; `flush` makes everything written so far durable and runs on
    /// tokio's blocking pool; `observe` hears of every successful round.
    pub(crate) fn start<F>(flush: F, observe: FlushObserver) -> Self
    where
        F: Fn() -> Result<(), String> + Send + Sync + 'static,
    {
        let tickets = Arc::new(AtomicU64::new(0));
        let (wake, wakes) = mpsc::channel(1);
        let (progress_tx, progress) = watch::channel(Progress::default());
        let flusher = Flusher {
            flush: Arc::new(flush),
            observe,
            tickets: tickets.clone(),
            progress: progress_tx,
        };
        tokio::spawn(flusher.run(wakes));
        GroupFlush {
            tickets,
            wake,
            progress,
        }
    }

    /// Returns once everything this task wrote before calling it is durable.
    pub(crate) async fn flush(&self) -> Result<(), String> {
        // Taken after the caller's write: a flush that starts after seeing this ticket
        // covers that write.
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        // A full channel already holds a wake-up the flusher has not taken yet.
        let _ = self.wake.try_send(());
        let mut progress = self.progress.clone();
        let seen = progress
            .wait_for(|p| p.durable >= ticket || p.failed.as_ref().is_some_and(|f| f.0 >= ticket))
            .await
            .map_err(|_| "the flusher stopped".to_string())?;
        if seen.durable >= ticket {
            return Ok(());
        }
        Err(seen
            .failed
            .as_ref()
            .map_or_else(String::new, |f| f.1.clone()))
    }
}

type FlushFn = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The task that owns the flushing.
struct Flusher {
    flush: FlushFn,
    observe: FlushObserver,
    tickets: Arc<AtomicU64>,
    progress: watch::Sender<Progress>,
}

impl Flusher {
    /// Flushes while tickets wait, one flush at a time, until every handle is gone.
    async fn run(self, mut wakes: mpsc::Receiver<()>) {
        let mut durable = 0;
        while wakes.recv().await.is_some() {
            let target = self.tickets.load(Ordering::SeqCst);
            if target == durable {
                continue;
            }
            let flush = self.flush.clone();
            let started = Instant::now();
            let result = tokio::task::spawn_blocking(move || flush())
                .await
                .unwrap_or_else(|e| Err(format!("flush task failed: {e}")));
            match result {
                Ok(()) => {
                    (self.observe)(started.elapsed(), target - durable);
                    durable = target;
                    self.progress.send_modify(|p| p.durable = target);
                }
                Err(err) => {
                    tracing::error!("flush failed: {err}");
                    self.progress
                        .send_modify(|p| p.failed = Some((target, err)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_flushes_and_each_sees_its_write_durable() {
        // The "disk": what was written, and what the last flush made durable.
        let written = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let flushes = Arc::new(AtomicUsize::new(0));
        let grouped = Arc::new(AtomicU64::new(0));
        let group = {
            let (written, durable, flushes) = (written.clone(), durable.clone(), flushes.clone());
            let grouped = grouped.clone();
            GroupFlush::start(
                move || {
                    let upto = written.load(Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    durable.fetch_max(upto, Ordering::SeqCst);
                    flushes.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                },
                Arc::new(move |_took, changes| {
                    grouped.fetch_add(changes, Ordering::SeqCst);
                }),
            )
        };
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (group, written, durable) = (group.clone(), written.clone(), durable.clone());
            tasks.push(tokio::spawn(async move {
                let mine = written.fetch_add(1, Ordering::SeqCst) + 1;
                group.flush().await.unwrap();
                assert!(
                    durable.load(Ordering::SeqCst) >= mine,
                    "acknowledged before durable"
                );
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        // Every caller was counted in exactly one successful round.
        assert_eq!(grouped.load(Ordering::SeqCst), 64);
        let flushes = flushes.load(Ordering::SeqCst);
        assert!(
            (1..64).contains(&flushes),
            "{flushes} flushes for 64 callers"
        );
    }

    #[tokio::test]
    async fn a_failed_flush_fails_its_callers_and_the_next_one_recovers() {
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let group = {
            let fail = fail.clone();
            GroupFlush::start(
                move || {
                    if fail.load(Ordering::SeqCst) {
                        Err("disk on fire".to_string())
                    } else {
                        Ok(())
                    }
                },
                Arc::new(|_, _| {}),
            )
        };
        assert_eq!(group.flush().await, Err("disk on fire".to_string()));
        fail.store(false, Ordering::SeqCst);
        assert_eq!(group.flush().await, Ok(()));
    }
}
