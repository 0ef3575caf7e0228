//! Waiting for a condition with a deadline: how tests and the harness wait instead of
//! sleeping a fixed time.

use std::time::{Duration, Instant};

use anyhow::bail;

/// Polls `condition` every 20 ms until it returns `Some`, or fails after `deadline`.
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    mut condition: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(value) = condition() {
            return Ok(value);
        }
        if Instant::now() >= end {
            bail!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Async twin of [`wait_until`], for tests on a tokio runtime.
pub async fn wait_until_async<T, F, Fut>(
    what: &str,
    deadline: Duration,
    mut condition: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = Instant::now() + deadline;
    loop {
        if let Some(value) = condition().await {
            return Ok(value);
        }
        if Instant::now() >= end {
            bail!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_times_out_and_succeeds() {
        let mut n = 0;
        let got = wait_until("n to reach 3", Duration::from_secs(5), || {
            n += 1;
            (n >= 3).then_some(n)
        })
        .unwrap();
        assert_eq!(got, 3);
        let err = wait_until::<()>("never", Duration::from_millis(50), || None).unwrap_err();
        assert!(err.to_string().contains("never"));
    }
}
