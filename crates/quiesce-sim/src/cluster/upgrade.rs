//! Upgrade mode (docs/elasticsearch-ml-api.md §2.5): one change at a time (E11), a no-op when
//! unchanged; enabling unassigns every ML task (states kept, no node), disabling reassigns them.
//! A change whose wait outlasts `timeout` fails, and the next call is accepted again
//! (`TransportSetUpgradeModeAction` resets `isRunning` on failure), though the change goes on.

use serde_json::{Value, json};

use super::effects::Effect;
use super::{Cluster, Shared, State, Timeout};
use crate::EsError;

impl Cluster {
    /// `POST /_ml/set_upgrade_mode?enabled=..`: returns once the change has settled, or fails
    /// when `timeout` passes first.
    pub(crate) async fn set_upgrade_mode(
        &self,
        enabled: bool,
        timeout: &Timeout,
    ) -> Result<Value, EsError> {
        let change = self.transition(|state, _| {
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
                return Ok(None);
            }
            state.upgrade_changes += 1;
            let change = state.upgrade_changes;
            state.upgrade_mode = enabled;
            state.upgrade_change = Some(change);
            if enabled {
                // Every datafeed is isolated: its runner stops searching.
                for df in state.datafeeds.values_mut() {
                    df.progress.lose_runner();
                }
            }
            state.activity.state_changed();
            state.effects.push(Effect::UpgradeMode { change });
            Ok(Some(change))
        })?;
        let Some(change) = change else {
            return Ok(json!({"acknowledged": true}));
        };
        let settled = self
            .wait_for(timeout.wait, |state| {
                (state.upgrade_change != Some(change)).then_some(())
            })
            .await;
        if settled.is_some() {
            return Ok(json!({"acknowledged": true}));
        }
        let node = self.transition(|state, _| {
            if state.upgrade_change == Some(change) {
                state.upgrade_change = None;
            }
            state.nodes.iter().position(|node| node.up).unwrap_or(0)
        });
        Err(upgrade_mode_timeout(
            enabled,
            timeout,
            &self.shared.nodes[node].id,
        ))
    }
}

/// The failure of a change whose wait timed out. Disabling waits for the persistent tasks to
/// lose the upgrade-mode assignment (`PersistentTasksService.waitForPersistentTasksCondition`,
/// E14's text); enabling waits, through list tasks with `wait_for_completion`, for the ML tasks
/// on the nodes to end, and a node's timeout comes back as a `FailedNodeException`
/// (`TransportListTasksAction`, `SubscribableListener.addTimeout`, 8.x).
fn upgrade_mode_timeout(enabled: bool, timeout: &Timeout, node_id: &str) -> EsError {
    if !enabled {
        return EsError::close_timeout(&timeout.text);
    }
    let millis = timeout.wait.map_or(0, |wait| wait.as_millis());
    EsError::new(
        500,
        "failed_node_exception",
        format!("Failed node [{node_id}]"),
    )
    .caused_by(
        "timeout_exception",
        format!("timed out after [{}/{millis}ms]", timeout.text),
    )
}

impl State {
    /// Change number `change` settled: the next one may come (unless it timed out and another
    /// began); tasks get reassigned after a disable.
    pub(super) fn finish_upgrade_mode(&mut self, shared: &Shared, change: u64) {
        if self.upgrade_change == Some(change) {
            self.upgrade_change = None;
        }
        if !self.upgrade_mode {
            self.assign_waiting(shared);
            let started: Vec<String> = self.datafeeds.keys().cloned().collect();
            self.resume_datafeeds(&started);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn enabling_times_out_as_a_node_failure() {
        let timeout = Timeout {
            wait: Some(Duration::from_millis(10)),
            text: "10ms".to_owned(),
        };
        let error = upgrade_mode_timeout(true, &timeout, "n0");
        let body = error.to_json();
        assert_eq!(body["error"]["type"], "failed_node_exception");
        assert_eq!(body["error"]["reason"], "Failed node [n0]");
        assert_eq!(
            body["error"]["caused_by"]["reason"],
            "timed out after [10ms/10ms]"
        );
        assert_eq!(body["error"]["root_cause"][0]["type"], "timeout_exception");
        assert_eq!(body["status"], 500);
    }
}
