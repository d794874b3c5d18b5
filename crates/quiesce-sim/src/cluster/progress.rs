//! What a running datafeed does to its counters (docs/elasticsearch-ml-api.md §14): the
//! source indices receive `record_rate` documents per second from the moment the simulator
//! starts; a started, assigned datafeed searches them every `frequency` (`DatafeedJob.runRealtime`,
//! the window ending `query_delay` before now, aligned to `frequency`) and posts what it finds to
//! its job. Each search advances the datafeed's `timing_stats` (`DatafeedTimingStats`, with
//! its hourly exponential average) and the job's `data_counts`.
//!
//! The stats API reads timing stats from the results index, where `DatafeedTimingStatsReporter`
//! writes them only when they differ by 10% or more (or by 10s of search time) from what it
//! wrote last, and when the datafeed stops: `DatafeedProgress::persisted` is that copy
//! (`timing_stats.rs`).
//!
//! A stalled datafeed's searches fail: it stays `started` on its node and nothing advances, as
//! when ES's extractor throws (`ExtractionProblemException`: time does not advance, the failure
//! goes to the job's notifications). Once it recovers, the next search covers the whole gap.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::model::{Datafeed, DatafeedState, Job};
use super::timing_stats::TimingStats;
use crate::seed::EsVersion;
use crate::time_value::TimeValue;

/// How long the simulator says each search took (`total_search_time_ms` grows by it).
const SEARCH_TIME_MS: f64 = 10.0;
/// `DatafeedJob.NEXT_TASK_DELAY_MS`: the real-time search runs this long after its boundary.
const NEXT_TASK_DELAY_MS: i64 = 100;

/// The cluster's wall clock in epoch milliseconds, advancing with tokio's clock (so that a paused
/// clock in tests moves data time too).
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    origin_ms: i64,
    origin: Instant,
}

impl Clock {
    pub(super) fn start() -> Clock {
        Clock {
            origin_ms: jiff::Timestamp::now().as_millisecond(),
            origin: Instant::now(),
        }
    }

    pub(super) fn now_ms(&self) -> i64 {
        self.origin_ms + i64::try_from(self.origin.elapsed().as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// When the source data begins: the simulator's start.
    fn data_origin_ms(&self) -> i64 {
        self.origin_ms
    }
}

/// Datafeeds whose searches fail (stall fault rules): all of them, or these ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stalls {
    pub(crate) all: bool,
    pub(crate) ids: HashSet<String>,
}

impl Stalls {
    pub(super) fn contains(&self, id: &str) -> bool {
        self.all || self.ids.contains(id)
    }
}

/// A job's `data_counts`, as its process keeps them (live while it runs).
#[derive(Debug, Clone, Default)]
pub(crate) struct DataCounts {
    processed_records: u64,
    processed_fields: u64,
    input_bytes: u64,
    input_fields: u64,
    buckets: u64,
    earliest_record_ms: Option<i64>,
    latest_record_ms: Option<i64>,
    /// Wall-clock time of the last data posted.
    last_data_ms: Option<i64>,
}

impl DataCounts {
    /// Where a restarted datafeed carries on from (`DatafeedJob`'s `lastEndTimeMs`).
    pub(super) fn latest_record_ms(&self) -> Option<i64> {
        self.latest_record_ms
    }

    /// The `data_counts` object of job stats.
    pub(super) fn to_json(&self, job_id: &str) -> Value {
        let mut json = json!({
            "job_id": job_id,
            "processed_record_count": self.processed_records,
            "processed_field_count": self.processed_fields,
            "input_bytes": self.input_bytes,
            "input_field_count": self.input_fields,
            "invalid_date_count": 0,
            "missing_field_count": 0,
            "out_of_order_timestamp_count": 0,
            "empty_bucket_count": 0,
            "sparse_bucket_count": 0,
            "bucket_count": self.buckets,
        });
        for (field, value) in [
            ("earliest_record_timestamp", self.earliest_record_ms),
            ("latest_record_timestamp", self.latest_record_ms),
            ("last_data_time", self.last_data_ms),
        ] {
            if let Some(ms) = value {
                json[field] = json!(ms);
            }
        }
        json["input_record_count"] = json!(self.processed_records);
        json
    }

    /// Records posted to the job; gives the buckets the data entered.
    fn post(
        &mut self,
        batch: &Batch,
        shape: &RecordShape,
        bucket_span_ms: i64,
        now_ms: i64,
    ) -> u64 {
        let buckets = match self.latest_record_ms {
            Some(previous) => (batch.latest_ms.div_euclid(bucket_span_ms)
                - previous.div_euclid(bucket_span_ms))
            .unsigned_abs(),
            None => 1,
        };
        self.processed_records += batch.records;
        self.processed_fields += batch.records * shape.analysis_fields;
        self.input_fields += batch.records * (shape.analysis_fields + 1);
        self.input_bytes += batch.records * shape.bytes;
        self.buckets += buckets;
        self.earliest_record_ms.get_or_insert(batch.earliest_ms);
        self.latest_record_ms = Some(batch.latest_ms);
        self.last_data_ms = Some(now_ms);
        buckets
    }
}

/// How a datafeed's source data and searches are shaped.
#[derive(Debug, Clone)]
pub(crate) struct SearchSettings {
    /// Documents per second the source indices receive.
    pub(crate) record_rate: f64,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings { record_rate: 1.0 }
    }
}

/// A running datafeed's place in the data and its timing stats.
#[derive(Debug, Clone, Default)]
pub(crate) struct DatafeedProgress {
    pub(crate) settings: SearchSettings,
    /// Where the next search starts (`lastEndTimeMs + 1`), set when the datafeed starts.
    next_start_ms: Option<i64>,
    /// The node whose datafeed runner holds it, once its first (lookback) search ran there;
    /// `None` while unassigned. A new node starts with a new runner.
    runner: Option<usize>,
    /// The interval of the runner's last search (`running_state.search_interval`).
    search_interval: Option<(i64, i64)>,
    timing: TimingStats,
    /// What the results index holds, which the stats API shows.
    persisted: TimingStats,
}

/// The records one search found.
struct Batch {
    records: u64,
    earliest_ms: i64,
    latest_ms: i64,
}

/// What one record of a job's input looks like.
struct RecordShape {
    /// Fields the detectors and influencers analyse (the time field not included).
    analysis_fields: u64,
    /// Bytes of one JSON document: `{"<time>":<13 digits>,"<field>":"value-00000",…}`.
    bytes: u64,
}

impl RecordShape {
    fn of(job: &Job) -> RecordShape {
        let mut fields: Vec<&str> = Vec::new();
        let detector_fields = [
            "field_name",
            "by_field_name",
            "over_field_name",
            "partition_field_name",
        ];
        for detector in &job.config.detectors {
            for key in detector_fields {
                if let Some(field) = detector.get(key).and_then(Value::as_str) {
                    fields.push(field);
                }
            }
        }
        fields.extend(job.config.influencers.iter().filter_map(Value::as_str));
        fields.sort_unstable();
        fields.dedup();
        let time_field = job
            .config
            .data_description
            .get("time_field")
            .and_then(Value::as_str)
            .unwrap_or("time");
        let bytes = 2
            + time_field.len()
            + 3
            + 13
            + fields
                .iter()
                .map(|field| field.len() + 3 + 1 + 13 + 1)
                .sum::<usize>();
        RecordShape {
            analysis_fields: fields.len() as u64,
            bytes: bytes as u64,
        }
    }
}

/// Which search a datafeed runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Search {
    /// The first search of a runner: up to `query_delay` before now (or to `end`).
    Lookback,
    /// The next real-time search: up to the last `frequency` boundary before now − `query_delay`.
    RealTime,
}

impl DatafeedProgress {
    /// A start from `start_ms` (the request's `start`, 0 without one): continue after the job's
    /// latest record when it is later (`DatafeedJob.skipToStartTime`).
    pub(super) fn start(&mut self, start_ms: i64, job_latest_ms: Option<i64>) {
        self.next_start_ms = Some(match job_latest_ms {
            Some(latest) if latest + 1 > start_ms => latest + 1,
            _ => start_ms,
        });
        self.runner = None;
        self.search_interval = None;
    }

    /// The runner lost its node (isolation, upgrade mode, a node leaving).
    pub(super) fn lose_runner(&mut self) {
        self.runner = None;
        self.search_interval = None;
    }

    /// The datafeed stopped: the runner goes and the stats are written
    /// (`DatafeedTimingStatsReporter.finishReporting`).
    pub(super) fn stop(&mut self) {
        self.lose_runner();
        if self.timing != self.persisted {
            self.persisted = self.timing.clone();
        }
    }

    /// Whether the runner on `node` has run its first search (`Holder.isLookbackFinished`).
    fn lookback_done(&self, node: Option<usize>) -> bool {
        self.runner.is_some() && self.runner == node
    }

    /// The timing stats the stats API shows.
    pub(super) fn timing_stats_json(&self, job_id: &str) -> Value {
        self.persisted.to_json(job_id)
    }

    /// `running_state` (any datafeed with a task; `GetDatafeedRunningStateAction`): an
    /// unassigned or still `starting` one has not finished its lookback; `search_interval`
    /// from 8.1, once a search of the current runner succeeded.
    pub(super) fn running_state_json(
        &self,
        df: &Datafeed,
        node: Option<usize>,
        version: EsVersion,
    ) -> Option<Value> {
        if !df.state.has_task() {
            return None;
        }
        let real_time_configured = df.end_ms.is_none();
        let runs = df.state != DatafeedState::Starting && self.lookback_done(node);
        let mut json = json!({
            "real_time_configured": real_time_configured,
            "real_time_running": real_time_configured && runs,
        });
        if let (true, Some((start, end)), true) = (
            runs,
            self.search_interval,
            (version.major, version.minor) >= (8, 1),
        ) {
            json["search_interval"] = json!({"start_ms": start, "end_ms": end});
        }
        Some(json)
    }

    /// One search of the datafeed's runner on `node` at `now_ms`, posting what it finds to
    /// `job`; nothing when stalled, when there is no new window, or for a lookback the runner
    /// already ran.
    pub(super) fn search(&mut self, run: SearchRun<'_>, job: &mut Job) {
        let SearchRun {
            kind,
            node,
            now_ms,
            stalled,
            end_ms,
            config,
            clock,
        } = run;
        if kind == Search::Lookback && self.lookback_done(Some(node)) {
            return;
        }
        if self.runner != Some(node) {
            self.runner = Some(node);
            self.search_interval = None;
        }
        if stalled {
            return;
        }
        let Some(start) = self.next_start_ms else {
            return;
        };
        let end = match (kind, end_ms) {
            (Search::Lookback, Some(end)) => end,
            (Search::Lookback, None) => now_ms - config.query_delay_ms,
            (Search::RealTime, _) => {
                let frequency = config.frequency_ms;
                (now_ms - config.query_delay_ms).div_euclid(frequency) * frequency
            }
        };
        if end <= start {
            return;
        }
        self.timing.searched(SEARCH_TIME_MS);
        self.flush_if_significant();
        self.search_interval = Some((start, end));
        let mut last_end = end - 1;
        if let Some(batch) = self
            .settings
            .batch(start, end.min(now_ms), clock.data_origin_ms())
        {
            let shape = RecordShape::of(job);
            let buckets = job
                .data_counts
                .post(&batch, &shape, config.bucket_span_ms, now_ms);
            self.timing.posted(buckets, batch.latest_ms);
            self.flush_if_significant();
            last_end = last_end.max(batch.latest_ms);
        }
        self.next_start_ms = Some(last_end + 1);
    }

    fn flush_if_significant(&mut self) {
        if self.timing.differs_significantly(&self.persisted) {
            self.persisted = self.timing.clone();
        }
    }
}

impl SearchSettings {
    /// The records of `[start, end)`: at `rate` documents per second, the `k`-th document since
    /// `origin` is stamped `origin + ceil(k / rate)` seconds, in milliseconds (rates count to
    /// three decimals).
    fn batch(&self, start: i64, end: i64, origin: i64) -> Option<Batch> {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a rate of at most a few million documents per second"
        )]
        let per_million_ms = (self.record_rate * 1000.0).round().max(0.0) as u128;
        if per_million_ms == 0 {
            return None;
        }
        // Documents stamped before `at`: those with k * 1e6 / rate <= at - origin - 1.
        let count = |at: i64| -> u128 {
            let elapsed = u128::try_from(at - origin).unwrap_or(0);
            if elapsed == 0 {
                0
            } else {
                (elapsed - 1) * per_million_ms / 1_000_000 + 1
            }
        };
        let stamp = |k: u128| {
            origin + i64::try_from((k * 1_000_000).div_ceil(per_million_ms)).unwrap_or(i64::MAX / 2)
        };
        let (first, last) = (count(start), count(end));
        (last > first).then(|| Batch {
            records: u64::try_from(last - first).unwrap_or(u64::MAX),
            earliest_ms: stamp(first),
            latest_ms: stamp(last - 1),
        })
    }
}

/// A datafeed's search timing: `frequency`, `query_delay` and its job's `bucket_span`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    frequency_ms: i64,
    query_delay_ms: i64,
    bucket_span_ms: i64,
}

impl Timing {
    /// How long until the next real-time search (`DatafeedJob.nextRealtimeTimestamp`).
    pub(super) fn until_next_search(&self, now_ms: i64) -> Duration {
        let frequency = self.frequency_ms;
        let next = (now_ms + frequency) / frequency * frequency
            + self.query_delay_ms % frequency
            + NEXT_TASK_DELAY_MS;
        Duration::from_millis(u64::try_from((next - now_ms).max(1)).unwrap_or(1))
    }

    /// From the configs: `frequency` defaults as `DatafeedJobBuilder` sets it from the bucket
    /// span (`DefaultFrequency`: ≤ 2m → 1m, ≤ 20m → span / 2, ≤ 12h → 10m, else 1h); the query
    /// delay as the datafeed config shows it.
    pub(super) fn of(df: &Datafeed, job: &Job) -> Timing {
        let millis = |text: Option<&str>| {
            text.and_then(|text| TimeValue::parse(text, "time").ok())
                .and_then(|value| value.duration())
                .and_then(|duration| i64::try_from(duration.as_millis()).ok())
        };
        let positive = |text: Option<&str>| millis(text).filter(|ms| *ms > 0);
        let bucket_span_ms = positive(Some(&job.config.bucket_span)).unwrap_or(300_000);
        let seconds = bucket_span_ms / 1000;
        let default_frequency = match seconds {
            ..=120 => 60_000,
            121..=1200 => seconds / 2 * 1000,
            1201..=43_200 => 600_000,
            _ => 3_600_000,
        };
        Timing {
            frequency_ms: positive(df.config.frequency.as_deref()).unwrap_or(default_frequency),
            query_delay_ms: millis(df.config.query_delay.as_deref()).unwrap_or(60_000),
            bucket_span_ms,
        }
    }
}

/// Everything one search needs besides the progress and the job.
pub(super) struct SearchRun<'a> {
    pub(super) kind: Search,
    pub(super) node: usize,
    pub(super) now_ms: i64,
    pub(super) stalled: bool,
    /// The datafeed's `end`, for a lookback-only run.
    pub(super) end_ms: Option<i64>,
    pub(super) config: Timing,
    pub(super) clock: &'a Clock,
}

/// An ES time value for a duration given in a seed (`150s`, `2m`, `500ms`), as
/// `TimeValue.getStringRep` prints a value put in whole units.
pub(super) fn time_text(duration: Duration) -> String {
    let millis = duration.as_millis();
    match millis {
        0 => "0ms".to_owned(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_arrive_at_the_rate() {
        let settings = SearchSettings { record_rate: 2.0 };
        let batch = settings.batch(0, 10_000, 1000).expect("records");
        // Documents at 1000, 1500, …, 9500 ms.
        assert_eq!(batch.records, 18);
        assert_eq!(batch.earliest_ms, 1000);
        assert_eq!(batch.latest_ms, 9500);
        assert!(settings.batch(0, 1000, 1000).is_none());
        let next = settings.batch(10_000, 11_000, 1000).expect("records");
        assert_eq!((next.records, next.earliest_ms), (2, 10_000));
    }

    #[test]
    fn default_frequency_follows_the_bucket_span() {
        let text = |ms: u64| time_text(Duration::from_millis(ms));
        assert_eq!(text(150_000), "150s");
        assert_eq!(text(60_000), "1m");
        assert_eq!(text(250), "250ms");
    }
}
