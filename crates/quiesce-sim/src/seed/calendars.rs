//! The seed's `calendars:`: each id valid (and not `_all`) and used once, each event starting
//! before it ends (docs/elasticsearch-ml-api.md §13.4). Job ids are not checked, as
//! Elasticsearch does not check them.

use std::collections::HashMap;

use miette::SourceSpan;

use super::spec::{CalendarSpec, EventSpec, check_id};
use super::units::span_of;
use super::{Seed, SeedProblem};

impl Seed {
    /// The calendars, each id valid and used once, each event starting before it ends.
    pub(super) fn calendars(&self, problems: &mut Vec<SeedProblem>) -> Vec<CalendarSpec> {
        let mut first: HashMap<&str, Option<SourceSpan>> = HashMap::new();
        for calendar in &self.calendars {
            let span = span_of(&calendar.id);
            if calendar.id.value == "_all" {
                problems.push(SeedProblem::InvalidId {
                    kind: "calendar",
                    id: calendar.id.value.clone(),
                    rule: "`_all` is reserved",
                    span,
                });
            } else {
                check_id("calendar", &calendar.id.value, span, problems);
            }
            if let Some(earlier) = first.insert(&calendar.id.value, span) {
                problems.push(SeedProblem::DuplicateId {
                    kind: "calendar",
                    id: calendar.id.value.clone(),
                    first: earlier,
                    again: span,
                });
            }
            for event in &calendar.events {
                if event.start_time.value >= event.end_time {
                    problems.push(SeedProblem::EventOrder {
                        calendar: calendar.id.value.clone(),
                        description: event.description.clone(),
                        span: span_of(&event.start_time),
                    });
                }
            }
        }
        self.calendars
            .iter()
            .map(|calendar| CalendarSpec {
                id: calendar.id.value.clone(),
                job_ids: calendar.job_ids.clone(),
                description: calendar.description.clone(),
                events: calendar
                    .events
                    .iter()
                    .map(|event| EventSpec {
                        description: event.description.clone(),
                        start: event.start_time.value,
                        end: event.end_time,
                    })
                    .collect(),
            })
            .collect()
    }
}
