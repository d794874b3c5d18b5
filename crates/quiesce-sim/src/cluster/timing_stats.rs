//! `DatafeedTimingStats` (docs/elasticsearch-ml-api.md §14.1): search and bucket counts, total
//! search time, and the hourly exponential average of `ExponentialAverageCalculationContext`;
//! and `DatafeedTimingStatsReporter`'s rule for when the results index gets a new copy.

use serde_json::{Value, json};

/// `ExponentialAverageCalculationContext.WINDOW_SIZE`: one hour of data time.
const WINDOW_MS: i64 = 3_600_000;
/// `DatafeedTimingStatsReporter.MIN_VALID_RATIO`, `MAX_VALID_ABS_DIFFERENCE_MS`.
const MIN_VALID_RATIO: f64 = 0.9;
const MAX_VALID_ABS_DIFFERENCE_MS: f64 = 10_000.0;

/// `ExponentialAverageCalculationContext`: the search time of the current hour of data time,
/// folded into an exponential average when the data crosses into the next hour.
#[derive(Debug, Clone, Default, PartialEq)]
struct ExponentialAverage {
    incremental_ms: f64,
    latest_ms: Option<i64>,
    previous_ms: Option<f64>,
}

impl ExponentialAverage {
    fn current_ms(&self) -> f64 {
        let (Some(previous), Some(latest)) = (self.previous_ms, self.latest_ms) else {
            return self.incremental_ms;
        };
        let window_start = latest - latest.rem_euclid(WINDOW_MS);
        #[expect(
            clippy::cast_precision_loss,
            reason = "less than an hour of milliseconds"
        )]
        let alpha = (-((latest - window_start) as f64) / WINDOW_MS as f64).exp();
        alpha * previous + (1.0 - alpha) * self.incremental_ms
    }

    fn set_latest(&mut self, latest: i64) {
        if let Some(current) = self.latest_ms {
            let next_window = current - current.rem_euclid(WINDOW_MS) + WINDOW_MS;
            if latest >= next_window {
                self.previous_ms = Some(self.current_ms());
                self.incremental_ms = 0.0;
            }
        }
        if self.latest_ms.is_none_or(|current| latest > current) {
            self.latest_ms = Some(latest);
        }
    }
}

/// `DatafeedTimingStats` of one datafeed's job.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TimingStats {
    search_count: u64,
    bucket_count: u64,
    total_search_time_ms: f64,
    average: ExponentialAverage,
}

impl TimingStats {
    fn average_per_bucket_ms(&self) -> Option<f64> {
        #[expect(clippy::cast_precision_loss, reason = "bucket counts far below 2^52")]
        (self.bucket_count > 0).then(|| self.total_search_time_ms / self.bucket_count as f64)
    }

    /// The `timing_stats` object of datafeed stats (with the calculated fields).
    pub(super) fn to_json(&self, job_id: &str) -> Value {
        let mut json = json!({
            "job_id": job_id,
            "search_count": self.search_count,
            "bucket_count": self.bucket_count,
            "total_search_time_ms": self.total_search_time_ms,
        });
        if let Some(average) = self.average_per_bucket_ms() {
            json["average_search_time_per_bucket_ms"] = json!(average);
        }
        json["exponential_average_search_time_per_hour_ms"] = json!(self.average.current_ms());
        json
    }

    /// `DatafeedTimingStatsReporter.differSignificantly`.
    pub(super) fn differs_significantly(&self, other: &TimingStats) -> bool {
        #[expect(clippy::cast_precision_loss, reason = "search counts far below 2^52")]
        let counts = {
            let (a, b) = (self.search_count as f64, other.search_count as f64);
            b / a < MIN_VALID_RATIO || a / b < MIN_VALID_RATIO
        };
        let values = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => {
                b / a < MIN_VALID_RATIO
                    || a / b < MIN_VALID_RATIO
                    || (a - b).abs() > MAX_VALID_ABS_DIFFERENCE_MS
            }
            (a, b) => a.is_some() || b.is_some(),
        };
        counts
            || values(
                Some(self.total_search_time_ms),
                Some(other.total_search_time_ms),
            )
            || values(self.average_per_bucket_ms(), other.average_per_bucket_ms())
            || values(
                Some(self.average.current_ms()),
                Some(other.average.current_ms()),
            )
    }
}

impl TimingStats {
    /// One successful search that took `ms` (`reportSearchDuration`).
    pub(super) fn searched(&mut self, ms: f64) {
        self.search_count += 1;
        self.total_search_time_ms += ms;
        self.average.incremental_ms += ms;
    }

    /// Data posted to the job: its buckets, and the latest record (`reportDataCounts`).
    pub(super) fn posted(&mut self, buckets: u64, latest_ms: i64) {
        self.bucket_count += buckets;
        self.average.set_latest(latest_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exponential_average_folds_at_each_hour_of_data() {
        let mut average = ExponentialAverage::default();
        average.incremental_ms += 10.0;
        average.set_latest(0);
        assert!((average.current_ms() - 10.0).abs() < f64::EPSILON);
        average.incremental_ms += 10.0;
        average.set_latest(WINDOW_MS + WINDOW_MS / 2);
        // Into the next hour: the 20ms become the previous average; half an hour in,
        // alpha = e^-0.5.
        let alpha = (-0.5_f64).exp();
        assert!((average.current_ms() - alpha * 20.0).abs() < 1e-9);
    }

    #[test]
    fn timing_stats_are_written_when_they_move_by_ten_percent() {
        let mut stats = TimingStats::default();
        let mut persisted = TimingStats::default();
        let mut writes = 0;
        for _ in 0..100 {
            stats.search_count += 1;
            stats.total_search_time_ms += 10.0;
            stats.average.incremental_ms += 10.0;
            if stats.differs_significantly(&persisted) {
                persisted = stats.clone();
                writes += 1;
            }
        }
        // Every search up to 10, then each ~11% more: far fewer writes than searches.
        assert!(writes < 40, "{writes} writes");
        assert!(persisted.search_count < 100 && persisted.search_count >= 90);
    }
}
