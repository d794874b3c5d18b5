//! What the reporters need to know about each step of the plan: how to name it
//! (`#7 close job web-latency`) and which playbook line asked for it.

use crate::exec::StepNo;
use crate::plan::PlanView;

#[derive(Debug, Clone)]
struct StepLabel {
    what: String,
    source: Option<String>,
}

/// Names and playbook locations of a plan's steps, looked up by step number.
#[derive(Debug, Clone)]
pub(super) struct StepLabels {
    steps: Vec<StepLabel>,
}

impl StepLabels {
    pub(super) fn new(view: &PlanView) -> StepLabels {
        let mut steps = Vec::with_capacity(view.steps.len());
        for step in &view.steps {
            // Views made by `PlanView::new` number steps 1..=n in order; stay correct even if a
            // hand-edited plan file does not.
            let index = step.id.saturating_sub(1);
            if steps.len() <= index {
                steps.resize(
                    index + 1,
                    StepLabel {
                        what: String::new(),
                        source: None,
                    },
                );
            }
            steps[index] = StepLabel {
                what: format!("{} {}", step.action.verb(), step.target),
                source: step.source.as_ref().map(ToString::to_string),
            };
        }
        StepLabels { steps }
    }

    pub(super) fn len(&self) -> usize {
        self.steps.len()
    }

    /// `#7 close job web-latency` (or just `#7` for a step the plan does not know).
    pub(super) fn name(&self, step: StepNo) -> String {
        match step.checked_sub(1).and_then(|i| self.steps.get(i)) {
            Some(label) if !label.what.is_empty() => format!("#{step} {}", label.what),
            _ => format!("#{step}"),
        }
    }

    /// `workflows/demo.yaml:14`, when the step came from a playbook line.
    pub(super) fn source(&self, step: StepNo) -> Option<&str> {
        step.checked_sub(1)
            .and_then(|i| self.steps.get(i))
            .and_then(|label| label.source.as_deref())
    }
}
