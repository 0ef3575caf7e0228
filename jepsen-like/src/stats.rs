//! Statistics of measured latencies: the [`Summary`] of one run (mean, percentiles,
//! maximum, throughput) and medians over repeated runs. Used by the bench's experiments
//! and by the checker's per-function latency figures.

use std::time::Duration;

/// What one kind of request did in one run. Latencies are of successful requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Summary {
    pub(crate) ok: usize,
    pub(crate) errors: usize,
    pub(crate) mean_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// Successful requests per second over the run's wall time.
    pub(crate) throughput: f64,
}

impl Summary {
    pub(crate) fn of(latencies_ms: &[f64], errors: usize, elapsed: Duration) -> Summary {
        let mut sorted = latencies_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let secs = elapsed.as_secs_f64().max(1e-9);
        Summary {
            ok: sorted.len(),
            errors,
            mean_ms: mean(&sorted),
            p50_ms: percentile(&sorted, 0.50),
            p99_ms: percentile(&sorted, 0.99),
            max_ms: sorted.last().copied().unwrap_or(f64::NAN),
            throughput: sorted.len() as f64 / secs,
        }
    }

    /// True when every figure is a number (a run with no successes has none).
    pub(crate) fn is_sane(&self) -> bool {
        [
            self.mean_ms,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.throughput,
        ]
        .iter()
        .all(|v| v.is_finite() && *v >= 0.0)
            && self.p50_ms <= self.p99_ms
            && self.p99_ms <= self.max_ms
    }
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Nearest-rank percentile of sorted values (`q` in 0..=1).
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of one figure over the summaries of repeated runs.
pub(crate) fn median_by(runs: &[Summary], figure: impl Fn(&Summary) -> f64) -> f64 {
    median(&runs.iter().map(figure).collect::<Vec<_>>())
}

/// The median of repeated measurements.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile(&sorted, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&values, 1.0), 100.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert!(percentile(&[], 0.5).is_nan());
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        let runs: Vec<Summary> = [[1.0, 9.0], [5.0, 7.0], [2.0, 4.0]]
            .iter()
            .map(|l| Summary::of(l, 0, Duration::from_secs(1)))
            .collect();
        assert_eq!(median_by(&runs, |s| s.mean_ms), 5.0);
    }

    #[test]
    fn a_summary_of_nothing_is_not_sane() {
        let empty = Summary::of(&[], 3, Duration::from_secs(1));
        assert!(!empty.is_sane());
        let some = Summary::of(&[1.0, 2.0, 3.0, 4.0], 0, Duration::from_secs(2));
        assert!(some.is_sane());
        assert_eq!(some.throughput, 2.0);
        assert_eq!(some.mean_ms, 2.5);
        assert_eq!(some.max_ms, 4.0);
    }
}
