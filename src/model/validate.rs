//! Raw tree -> [`Playbook`]: every check of meaning, collecting every problem.
//!
//! Nothing here reads files or the network; environment variables come through the lookup the
//! caller passes in. A problem in one value never hides a problem in another: each value is
//! checked on its own, and cross-entry checks run over whatever could be read.

use std::collections::HashMap;
use std::time::Duration;

use miette::SourceSpan;

use super::after::{self, Entry};
use super::duration::parse_duration;
use super::playbook::{
    DatafeedTarget, JobRef, JobTarget, Maintenance, MaintenanceWork, Playbook, Reference,
    TargetRef, UpgradeModeTarget, UpgradeTarget, Window,
};
use super::{
    DatafeedId, DatafeedState, EsVersion, JobId, JobState, OldSnapshots, Pattern, Selector,
    UpgradeMode,
};
use crate::playbook::Keyword;
use crate::playbook::{
    ExpandError, Problem, RawDatafeed, RawJob, RawMaintenance, RawPlaybook, RawUpgrade, RawWindow,
    Source, Sp, did_you_mean, expand,
};

/// Looks an environment variable up.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Checks a raw playbook and builds the model, or returns every problem found.
pub(crate) fn validate(
    raw: &RawPlaybook,
    source: &Source,
    env: EnvLookup<'_>,
) -> Result<Playbook, Vec<Problem>> {
    let mut check = Checker {
        source,
        env,
        problems: Vec::new(),
    };
    check.version(raw);
    let name = match &raw.name {
        Some(name) => check.text(name),
        None => Some(source.path().file_stem().map_or_else(
            || source.name().to_owned(),
            |s| s.to_string_lossy().into_owned(),
        )),
    };
    let description = raw.description.as_ref().and_then(|d| check.text(d));
    let cluster = check.cluster(raw.cluster.as_ref().map(|c| c.value()));
    let settings = check.settings(raw.settings.as_ref());
    let jobs: Vec<Option<JobTarget>> = raw.jobs.iter().map(|j| check.job(j)).collect();
    let datafeeds: Vec<Option<DatafeedTarget>> =
        raw.datafeeds.iter().map(|d| check.datafeed(d)).collect();
    check.duplicates("job", &jobs, |j| (j.name(), j.location.span()));
    check.duplicates("datafeed", &datafeeds, |d| (d.name(), d.location.span()));
    check.datafeed_jobs(&jobs, &datafeeds);
    let upgrade_mode = raw.upgrade_mode.as_ref().and_then(|u| {
        let state = check.keyword::<UpgradeMode>("upgrade_mode", u)?;
        Some(UpgradeModeTarget {
            state,
            location: source.location(u.span()),
        })
    });
    let upgrade = raw.upgrade.as_ref().and_then(|u| check.upgrade(u));

    let maintenance = raw.maintenance.as_ref().and_then(|m| check.maintenance(m));

    let entry = |target,
                 id: Option<&Sp<String>>,
                 pattern: Option<&Sp<String>>,
                 span: SourceSpan,
                 direction,
                 after: &[Sp<String>]| {
        let named = id.or(pattern);
        Entry {
            target,
            name: named.and_then(|n| check.expanded(n)),
            span: named.map_or(span, Sp::span),
            direction,
            after: after
                .iter()
                .filter_map(|a| Some((check.expanded(a)?, a.span())))
                .collect(),
        }
    };
    let entries: Vec<Entry> = raw
        .jobs
        .iter()
        .zip(&jobs)
        .enumerate()
        .map(|(i, (r, j))| {
            let v = r.value();
            entry(
                TargetRef::Job(i),
                v.id.as_ref(),
                v.selector.as_ref(),
                r.span(),
                j.as_ref().map(JobTarget::direction),
                &v.after,
            )
        })
        .chain(
            raw.datafeeds
                .iter()
                .zip(&datafeeds)
                .enumerate()
                .map(|(i, (r, d))| {
                    let v = r.value();
                    entry(
                        TargetRef::Datafeed(i),
                        v.id.as_ref(),
                        v.selector.as_ref(),
                        r.span(),
                        d.as_ref().map(DatafeedTarget::direction),
                        &v.after,
                    )
                }),
        )
        .collect();
    let edges = after::check(&entries, &mut check.problems);

    let (Some(name), Some(cluster), Some(settings), true) =
        (name, cluster, settings, check.problems.is_empty())
    else {
        return Err(check.problems);
    };
    let mut jobs: Vec<JobTarget> = jobs.into_iter().flatten().collect();
    let mut datafeeds: Vec<DatafeedTarget> = datafeeds.into_iter().flatten().collect();
    for (entry, edges) in entries.iter().zip(edges) {
        let references = edges
            .into_iter()
            .map(|edge| Reference {
                target: entries[edge.to].target,
                location: source.location(edge.span),
            })
            .collect();
        match entry.target {
            TargetRef::Job(i) => jobs[i].after = references,
            TargetRef::Datafeed(i) => datafeeds[i].after = references,
        }
    }
    Ok(Playbook {
        source: source.clone(),
        name,
        description,
        cluster,
        settings,
        jobs,
        datafeeds,
        upgrade_mode,
        upgrade,
        maintenance,
    })
}

pub(super) struct Checker<'a> {
    pub(super) source: &'a Source,
    pub(super) env: EnvLookup<'a>,
    pub(super) problems: Vec<Problem>,
}

impl Checker<'_> {
    /// The `upgrade:` section: a version to check snapshots against, and what to do with old
    /// ones.
    fn upgrade(&mut self, raw: &Sp<RawUpgrade>) -> Option<UpgradeTarget> {
        let section = raw.value();
        let Some(written) = &section.target_version else {
            self.problems.push(Problem::MissingKey {
                key: "target_version".to_owned(),
                at: raw.span(),
            });
            return None;
        };
        let old_snapshots = match &section.old_snapshots {
            Some(value) => self.keyword::<OldSnapshots>("old_snapshots", value)?,
            None => OldSnapshots::default(),
        };
        let text = self.text(written)?;
        match EsVersion::parse(&text) {
            Ok(target_version) => Some(UpgradeTarget {
                target_version,
                old_snapshots,
                location: Some(self.source.location(written.span())),
            }),
            Err(reason) => {
                self.problems.push(Problem::InvalidVersion {
                    key: "target_version",
                    value: text,
                    reason,
                    at: written.span(),
                });
                None
            }
        }
    }

    fn version(&mut self, raw: &RawPlaybook) {
        match &raw.version {
            None => self.problems.push(Problem::MissingVersion {
                at: first_content(self.source.text()),
            }),
            Some(v) if *v.value() != 1 => self.problems.push(Problem::UnsupportedVersion {
                version: *v.value(),
                at: v.span(),
            }),
            Some(_) => {}
        }
    }

    /// A string value with `${VAR}` expanded; problems point inside the YAML text.
    pub(super) fn text(&mut self, value: &Sp<String>) -> Option<String> {
        match expand(value.value(), self.env) {
            Ok(text) => Some(text),
            Err(errors) => {
                for error in errors {
                    let problem = match error {
                        ExpandError::Unset { name, at } => Problem::UnsetVariable {
                            at: self.inner(value, &value.value()[at]),
                            name,
                        },
                        ExpandError::Malformed { text, at } => Problem::MalformedVariable {
                            at: self.inner(value, &value.value()[at]),
                            text,
                        },
                    };
                    self.problems.push(problem);
                }
                None
            }
        }
    }

    /// A string value with `${VAR}` expanded, or `None` (its problems are reported by `text`).
    fn expanded(&self, value: &Sp<String>) -> Option<String> {
        expand(value.value(), self.env).ok()
    }

    /// An empty span widened to the rest of its line, so the label underlines something.
    fn rest_of_line(&self, span: SourceSpan) -> SourceSpan {
        if !span.is_empty() {
            return span;
        }
        let rest = self.source.text().get(span.offset()..).unwrap_or("");
        let line = rest.lines().next().unwrap_or("").trim_end();
        (span.offset(), line.len()).into()
    }

    /// The span of `fragment` inside the YAML text of `value`, or the whole value.
    fn inner(&self, value: &Sp<String>, fragment: &str) -> SourceSpan {
        let span = value.span();
        self.source
            .text()
            .get(span.offset()..span.offset() + span.len())
            .and_then(|text| text.find(fragment))
            .map_or(span, |i| (span.offset() + i, fragment.len()).into())
    }

    pub(super) fn keyword<K: Keyword>(
        &mut self,
        key: &'static str,
        value: &Sp<String>,
    ) -> Option<K> {
        let text = self.text(value)?;
        let found = K::from_name(&text);
        if found.is_none() {
            let names: Vec<&str> = K::NAMES.iter().map(|(n, _)| *n).collect();
            self.problems.push(Problem::UnknownValue {
                key,
                help: did_you_mean(&text, &names, "values"),
                value: text,
                at: value.span(),
            });
        }
        found
    }

    pub(super) fn duration(
        &mut self,
        key: &'static str,
        value: Option<&Sp<String>>,
        default: Duration,
    ) -> Option<Duration> {
        let Some(value) = value else {
            return Some(default);
        };
        let text = self.text(value)?;
        match parse_duration(&text) {
            Ok(duration) => Some(duration),
            Err(reason) => {
                self.problems.push(Problem::InvalidDuration {
                    key,
                    value: text,
                    reason,
                    at: value.span(),
                });
                None
            }
        }
    }

    /// `id` xor `match`, each checked; the name as written and where.
    fn selector<I>(
        &mut self,
        what: &'static str,
        entry: SourceSpan,
        id: Option<&Sp<String>>,
        pattern: Option<&Sp<String>>,
        parse_id: fn(&str) -> Result<I, String>,
    ) -> Option<(Selector<I>, SourceSpan)> {
        match (id, pattern) {
            (Some(id), Some(pattern)) => {
                self.problems.push(Problem::IdAndMatch {
                    id: id.span(),
                    selector: pattern.span(),
                });
                None
            }
            (None, None) => {
                self.problems.push(Problem::NoIdOrMatch {
                    at: self.rest_of_line(entry),
                });
                None
            }
            (Some(id), None) => {
                let text = self.text(id)?;
                match parse_id(&text) {
                    Ok(parsed) => Some((Selector::Id(parsed), id.span())),
                    Err(reason) => {
                        self.problems.push(Problem::InvalidId {
                            what,
                            id: text,
                            reason,
                            at: id.span(),
                        });
                        None
                    }
                }
            }
            (None, Some(pattern)) => {
                let text = self.text(pattern)?;
                match Pattern::parse(&text) {
                    Ok(parsed) => Some((Selector::Pattern(parsed), pattern.span())),
                    Err(reason) => {
                        self.problems.push(Problem::InvalidSelector {
                            selector: text,
                            reason,
                            at: pattern.span(),
                        });
                        None
                    }
                }
            }
        }
    }

    fn job(&mut self, raw: &Sp<RawJob>) -> Option<JobTarget> {
        let entry = raw.value();
        let selector = self.selector(
            "job id",
            raw.span(),
            entry.id.as_ref(),
            entry.selector.as_ref(),
            JobId::parse,
        );
        let state = self
            .required(raw.span(), entry.state.as_ref())
            .and_then(|state| self.keyword::<JobState>("job state", state));
        for after in &entry.after {
            self.text(after);
        }
        let (selector, span) = selector?;
        Some(JobTarget {
            selector,
            state: state?,
            after: Vec::new(),
            location: self.source.location(span),
        })
    }

    fn datafeed(&mut self, raw: &Sp<RawDatafeed>) -> Option<DatafeedTarget> {
        let entry = raw.value();
        let selector = self.selector(
            "datafeed id",
            raw.span(),
            entry.id.as_ref(),
            entry.selector.as_ref(),
            DatafeedId::parse,
        );
        let state = self
            .required(raw.span(), entry.state.as_ref())
            .and_then(|state| self.keyword::<DatafeedState>("datafeed state", state));
        let job = match &entry.job {
            None => Some(None),
            Some(_) if entry.selector.is_some() && entry.id.is_none() => {
                self.problems.push(Problem::JobWithMatch {
                    at: entry.job.as_ref().map_or(raw.span(), Sp::span),
                });
                None
            }
            Some(job) => {
                let text = self.text(job)?;
                match JobId::parse(&text) {
                    Ok(id) => Some(Some(JobRef {
                        id,
                        location: self.source.location(job.span()),
                    })),
                    Err(reason) => {
                        self.problems.push(Problem::InvalidId {
                            what: "job id",
                            id: text,
                            reason,
                            at: job.span(),
                        });
                        None
                    }
                }
            }
        };
        for after in &entry.after {
            self.text(after);
        }
        let (selector, span) = selector?;
        Some(DatafeedTarget {
            selector,
            job: job?,
            state: state?,
            after: Vec::new(),
            location: self.source.location(span),
        })
    }

    /// `maintenance:`: a calendar id, and exactly one of `window`, `duration` and `undo`.
    fn maintenance(&mut self, raw: &Sp<RawMaintenance>) -> Option<Maintenance> {
        let m = raw.value();
        let at = self.rest_of_line(raw.span());
        let calendar = match &m.calendar {
            None => {
                self.problems.push(Problem::MissingKey {
                    key: "calendar".to_owned(),
                    at,
                });
                None
            }
            Some(value) => self.calendar_id(value),
        };
        let given = [m.window.is_some(), m.duration.is_some(), m.undo.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            self.problems.push(Problem::InvalidMaintenance {
                reason: "give exactly one of `window`, `duration` and `undo`".into(),
                at,
                help: "A window is `window: {start: 2026-12-01T20:00:00Z, end: 2026-12-02T00:00:00Z}` or `duration: 4h` from when the plan is made; `undo` is written by `quiesce revert`.".into(),
            });
            return None;
        }
        let work = if let Some(undo) = &m.undo {
            let u = undo.value();
            let run = match &u.run {
                Some(run) => self.text(run),
                None => {
                    self.problems.push(Problem::MissingKey {
                        key: "run".to_owned(),
                        at: self.rest_of_line(undo.span()),
                    });
                    None
                }
            };
            let jobs: Vec<Option<String>> = u
                .jobs
                .iter()
                .map(|job| {
                    let text = self.text(job)?;
                    match JobId::parse(&text) {
                        Ok(id) => Some(id.as_str().to_owned()),
                        Err(reason) => {
                            self.problems.push(Problem::InvalidId {
                                what: "job id",
                                id: text,
                                reason,
                                at: job.span(),
                            });
                            None
                        }
                    }
                })
                .collect();
            MaintenanceWork::Undo {
                run: run?,
                jobs: jobs.into_iter().collect::<Option<Vec<_>>>()?,
                calendar: u.calendar.as_ref().is_some_and(|c| *c.value()),
            }
        } else {
            let description = match &m.description {
                Some(d) => self.text(d)?,
                None => "maintenance window".to_owned(),
            };
            let window = if let Some(window) = &m.window {
                self.window(window)?
            } else {
                Window::For(self.duration(
                    "maintenance.duration",
                    m.duration.as_ref(),
                    Duration::ZERO,
                )?)
            };
            MaintenanceWork::Schedule {
                description,
                window,
            }
        };
        Some(Maintenance {
            calendar: calendar?,
            work,
            location: self.source.location(raw.span()),
        })
    }

    /// A calendar id: the rules of job ids (docs/elasticsearch-ml-api.md §13.1).
    fn calendar_id(&mut self, value: &Sp<String>) -> Option<String> {
        let text = self.text(value)?;
        match JobId::parse(&text) {
            Ok(_) if text == "_all" => None,
            Ok(id) => Some(id.as_str().to_owned()),
            Err(reason) => {
                self.problems.push(Problem::InvalidId {
                    what: "calendar id",
                    id: text,
                    reason,
                    at: value.span(),
                });
                None
            }
        }
    }

    /// `window: {start, end}`: two RFC 3339 times, the start first.
    fn window(&mut self, raw: &Sp<RawWindow>) -> Option<Window> {
        let w = raw.value();
        let mut time = |key: &'static str, value: Option<&Sp<String>>| {
            let Some(value) = value else {
                self.problems.push(Problem::MissingKey {
                    key: key.trim_start_matches("maintenance.window.").to_owned(),
                    at: self.rest_of_line(raw.span()),
                });
                return None;
            };
            let text = self.text(value)?;
            match text.parse::<jiff::Timestamp>() {
                Ok(time) => Some((time, value.span())),
                Err(err) => {
                    self.problems.push(Problem::InvalidTime {
                        key,
                        value: text,
                        reason: err.to_string(),
                        at: value.span(),
                    });
                    None
                }
            }
        };
        let start = time("maintenance.window.start", w.start.as_ref());
        let end = time("maintenance.window.end", w.end.as_ref());
        let ((start, _), (end, end_at)) = (start?, end?);
        if end <= start {
            self.problems.push(Problem::InvalidMaintenance {
                reason: "the window ends before it starts".into(),
                at: end_at,
                help: "Make `end` later than `start`.".into(),
            });
            return None;
        }
        Some(Window::Between { start, end })
    }

    /// The `state` of an entry, which it must have; its absence is reported at the entry.
    fn required<'v>(
        &mut self,
        entry: SourceSpan,
        value: Option<&'v Sp<String>>,
    ) -> Option<&'v Sp<String>> {
        if value.is_none() {
            self.problems.push(Problem::MissingKey {
                key: "state".to_owned(),
                at: self.rest_of_line(entry),
            });
        }
        value
    }

    /// The same id or selector twice in one section.
    fn duplicates<T>(
        &mut self,
        what: &'static str,
        targets: &[Option<T>],
        key: fn(&T) -> (&str, SourceSpan),
    ) {
        let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
        for target in targets.iter().flatten() {
            let (name, span) = key(target);
            if let Some(first) = seen.get(name) {
                self.problems.push(Problem::DuplicateId {
                    what,
                    id: name.to_owned(),
                    first: *first,
                    second: span,
                });
            } else {
                seen.insert(name, span);
            }
        }
    }

    /// Two datafeeds for one job; a started datafeed whose job the playbook closes.
    fn datafeed_jobs(&mut self, jobs: &[Option<JobTarget>], datafeeds: &[Option<DatafeedTarget>]) {
        let closed: HashMap<&str, &JobTarget> = jobs
            .iter()
            .flatten()
            .filter(|j| j.state == JobState::Closed && matches!(j.selector, Selector::Id(_)))
            .map(|j| (j.name(), j))
            .collect();
        let mut first_for_job: HashMap<&str, SourceSpan> = HashMap::new();
        for datafeed in datafeeds.iter().flatten() {
            let Some(job) = &datafeed.job else {
                continue;
            };
            let job_id = job.id.as_str();
            if let Some(first) = first_for_job.get(job_id) {
                self.problems.push(Problem::SharedJob {
                    job: job_id.to_owned(),
                    first: *first,
                    second: job.location.span(),
                });
            } else {
                first_for_job.insert(job_id, job.location.span());
            }
            if datafeed.state == DatafeedState::Started
                && let Some(closed_job) = closed.get(job_id)
            {
                self.problems.push(Problem::ContradictoryState {
                    datafeed: datafeed.name().to_owned(),
                    job: job_id.to_owned(),
                    datafeed_at: datafeed.location.span(),
                    job_at: closed_job.location.span(),
                });
            }
        }
    }
}

/// The first line that is not blank or a comment: where a missing `version` is reported.
fn first_content(text: &str) -> SourceSpan {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if !trimmed.trim_start().is_empty() && !trimmed.trim_start().starts_with('#') {
            return (offset, trimmed.len()).into();
        }
        offset += line.len();
    }
    (0, 0).into()
}
