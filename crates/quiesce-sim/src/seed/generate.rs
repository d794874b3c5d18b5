//! The seed's `generate:` form: many jobs and datafeeds from a few numbers, the same ones for the
//! same `seed` on every machine (`SmallRng::seed_from_u64`).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::spec::{
    DEFAULT_MODEL_MEMORY_LIMIT, DEFAULT_RECORD_RATE, DatafeedSpec, Draft, JobSpec,
    SeedDatafeedState, SeedJobState, value_problem,
};
use super::{GenerateSeed, SeedProblem};

const MB: u64 = 1 << 20;
const MAX_JOBS: u32 = 1_000_000;

/// Generated jobs and datafeeds, not yet validated.
type Generated = (Vec<Draft<JobSpec>>, Vec<Draft<DatafeedSpec>>);

/// Generated jobs `<prefix>-00001…` (width grows past 99999) and datafeeds
/// `datafeed-<job id>`, or the first invalid setting.
pub(super) fn generate(settings: &GenerateSeed) -> Result<Generated, SeedProblem> {
    let fraction = |field: &'static str, value: Option<f64>, default: f64| {
        let value = value.unwrap_or(default);
        if (0.0..=1.0).contains(&value) {
            Ok(value)
        } else {
            Err(value_problem(
                field,
                format!("must be a fraction between 0 and 1, not {value}"),
                "Fractions are written like `0.9` for 90%.",
            ))
        }
    };
    if settings.jobs > MAX_JOBS {
        return Err(value_problem(
            "generate.jobs",
            format!("at most {MAX_JOBS} jobs, not {}", settings.jobs),
            "The generator builds every job in memory at start-up; 5000 is already a big cluster.",
        ));
    }
    let with_datafeed = fraction("generate.with_datafeed", settings.with_datafeed, 1.0)?;
    let started = fraction("generate.started", settings.started, 1.0)?;
    let opened = fraction("generate.opened", settings.opened, started)?;
    let (min, max) = settings
        .model_bytes
        .as_ref()
        .map_or((MB, 256 * MB), |range| (range.min.0, range.max.0));
    if min == 0 || min > max {
        return Err(value_problem(
            "generate.model_bytes",
            format!("needs 0 < min <= max, got min {min} and max {max} bytes"),
            "Give a range such as `{min: 1mb, max: 2gb}`.",
        ));
    }
    let prefix = settings.prefix.as_deref().unwrap_or("gen");
    let width = settings.jobs.to_string().len().max(5);
    let mut rng = SmallRng::seed_from_u64(settings.seed);
    let mut jobs = Vec::with_capacity(settings.jobs as usize);
    let mut datafeeds = Vec::new();
    for index in 0..settings.jobs {
        let id = format!("{prefix}-{:0width$}", index + 1);
        let model_bytes = log_uniform(&mut rng, min, max);
        let is_opened = rng.random::<f64>() < opened;
        let has_datafeed = rng.random::<f64>() < with_datafeed;
        let is_started = rng.random::<f64>() < started;
        let groups = if settings.groups.is_empty() {
            Vec::new()
        } else {
            vec![settings.groups[index as usize % settings.groups.len()].clone()]
        };
        if has_datafeed {
            let state = if is_opened && is_started {
                SeedDatafeedState::Started
            } else {
                SeedDatafeedState::Stopped
            };
            datafeeds.push(draft(DatafeedSpec {
                id: format!("datafeed-{id}"),
                job_id: id.clone(),
                state,
                end: None,
                indices: vec![format!("{id}-*")],
                record_rate: DEFAULT_RECORD_RATE,
                frequency: None,
                query_delay: None,
            }));
        }
        jobs.push(draft(JobSpec {
            model_memory_limit: DEFAULT_MODEL_MEMORY_LIMIT.max(model_bytes.div_ceil(MB) * MB),
            id,
            groups,
            model_bytes,
            state: if is_opened {
                SeedJobState::Opened
            } else {
                SeedJobState::Closed
            },
            allow_lazy_open: false,
            snapshots: Vec::new(),
            model_snapshot_id: None,
        }));
    }
    Ok((jobs, datafeeds))
}

fn draft<T>(spec: T) -> Draft<T> {
    Draft {
        spec,
        id_span: None,
        ref_span: None,
        state_span: None,
    }
}

/// A size between `min` and `max` whose logarithm is uniform: many small models, a few large,
/// as in real clusters.
fn log_uniform(rng: &mut SmallRng, min: u64, max: u64) -> u64 {
    if min == max {
        return min;
    }
    #[expect(clippy::cast_precision_loss, reason = "sizes far below 2^52 bytes")]
    let (low, high) = ((min as f64).ln(), (max as f64).ln());
    let draw = rng.random_range(low..=high).exp();
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "within min..=max"
    )]
    let bytes = draw.round() as u64;
    bytes.clamp(min, max)
}
