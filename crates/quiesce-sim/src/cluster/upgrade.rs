//! Upgrade mode (docs/elasticsearch-ml-api.md §2.5): one change at a time (E11), a no-op when unchanged;
//! enabling unassigns every ML task (states kept, no node), disabling reassigns them.

use serde_json::{Value, json};

use super::effects::Effect;
use super::{Cluster, Shared, State, Timeout};
use crate::EsError;

impl Cluster {
    /// `POST /_ml/set_upgrade_mode?enabled=..`: returns once the change has settled, or when
    /// `timeout` passes.
    pub(crate) async fn set_upgrade_mode(
        &self,
        enabled: bool,
        timeout: &Timeout,
    ) -> Result<Value, EsError> {
        let changing = self.transition(|state, _| {
            if state.upgrade_change.is_some() {
                return Err(EsError::new(
                    429,
                    "status_exception",
                    "Cannot change [upgrade_mode]. Previous request is still being processed.",
                )
                .caused_by(
                    "illegal_state_exception",
                    format!(
                        "Attempted to set [upgrade_mode] to [{enabled}] from [{}] while previous \
                         request was processing.",
                        state.upgrade_mode
                    ),
                ));
            }
            if state.upgrade_mode == enabled {
                return Ok(false);
            }
            state.upgrade_mode = enabled;
            state.upgrade_change = Some(enabled);
            state.activity.state_changed();
            state.effects.push(Effect::UpgradeMode);
            Ok(true)
        })?;
        if changing {
            self.wait_for(timeout.wait, |state| {
                state.upgrade_change.is_none().then_some(())
            })
            .await;
        }
        Ok(json!({"acknowledged": true}))
    }
}

impl State {
    /// The change settled: the next one may come; tasks get reassigned after a disable.
    pub(super) fn finish_upgrade_mode(&mut self, shared: &Shared) {
        self.upgrade_change = None;
        if !self.upgrade_mode {
            self.assign_waiting(shared);
        }
    }
}
