//! The tokio runtime a service runs on, sized by its `--worker-threads` flag.
//!
//! One thread (the default) is a current-thread runtime: every task of the service runs on
//! the thread that started it, and only disk flushes and whole-store scans go to tokio's
//! blocking pool. A buy crosses a dozen tasks in each process it passes through; on a
//! multi-threaded runtime each of those hand-offs may wake another thread, and on the
//! project's 2-core test machine, five services sharing it, the wake-ups cost more than the
//! work (`bench breakdown`, A B A B: 3,419 and 3,489 buys/s at 64 connections with tokio's
//! default of a worker per core, 4,713 and 4,404 with one thread; at 1 connection p50 2.26
//! against 2.13-2.15 ms). A service alone on a larger host can be given more threads.

use std::future::Future;
use std::process::ExitCode;

/// Runs `main` to its end on a runtime of `worker_threads` threads (1: current-thread) and
/// turns its result into the exit code, as [`crate::server::exit_code`] does.
pub fn run<F>(service: &str, worker_threads: u16, main: F) -> ExitCode
where
    F: Future<Output = anyhow::Result<()>>,
{
    let runtime = if worker_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(worker_threads))
            .enable_all()
            .build()
    };
    match runtime {
        Ok(runtime) => crate::server::exit_code(service, runtime.block_on(main)),
        Err(err) => {
            eprintln!("{service}: cannot start the tokio runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads_seen(worker_threads: u16) -> usize {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let record = seen.clone();
        let code = run("test", worker_threads, async move {
            let tasks: Vec<_> = (0..64)
                .map(|_| {
                    let record = record.clone();
                    tokio::spawn(async move {
                        // Long enough that idle workers steal some of the others.
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        record.lock().unwrap().insert(std::thread::current().id());
                    })
                })
                .collect();
            for task in tasks {
                task.await?;
            }
            Ok(())
        });
        assert_eq!(code, ExitCode::SUCCESS);
        let count = seen.lock().unwrap().len();
        count
    }

    #[test]
    fn one_thread_runs_every_task_on_it_and_more_spread_them() {
        assert_eq!(threads_seen(1), 1);
        assert!(threads_seen(4) > 1);
    }

    #[test]
    fn a_failed_main_exits_non_zero() {
        let code = run("test", 1, async { anyhow::bail!("no") });
        assert_eq!(code, ExitCode::FAILURE);
    }
}
