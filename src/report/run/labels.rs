//! What the reporters need to know about each step of the plan: how to name it
//! (`#7 close job web-latency`) and which playbook line asked for it, for the steps an event
//! refers to by number (the dependency that failed) and for the summary.
//!
//! Owns the lookup by step number. Must never hold anything but what the plan says.

use crate::exec::{StepNo, StepRef};
use crate::plan::PlanView;

use super::words;

/// The plan's steps, looked up by step number.
#[derive(Debug, Clone, Default)]
pub(in crate::report) struct StepLabels {
    steps: Vec<Option<StepRef>>,
}

impl StepLabels {
    pub(in crate::report) fn new(view: &PlanView) -> StepLabels {
        let mut steps = Vec::with_capacity(view.steps.len());
        for step in &view.steps {
            // Views made by `PlanView::new` number steps 1..=n in order; stay correct even if a
            // hand-edited plan file does not.
            let index = step.id.saturating_sub(1);
            if steps.len() <= index {
                steps.resize(index + 1, None);
            }
            steps[index] = Some(StepRef::from(step));
        }
        StepLabels { steps }
    }

    pub(super) fn len(&self) -> usize {
        self.steps.len()
    }

    fn get(&self, step: StepNo) -> Option<&StepRef> {
        step.checked_sub(1)
            .and_then(|i| self.steps.get(i))
            .and_then(Option::as_ref)
    }

    /// `#7 close job web-latency` (or just `#7` for a step the plan does not know).
    pub(super) fn name(&self, step: StepNo) -> String {
        self.get(step)
            .map_or_else(|| format!("#{step}"), words::step_name)
    }

    /// `workflows/demo.yaml:14`, when the step came from a playbook line.
    pub(super) fn source(&self, step: StepNo) -> Option<&str> {
        self.get(step).and_then(|step| step.source.as_deref())
    }
}
