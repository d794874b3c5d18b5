//! Timed background work queued by transitions: restoring and persisting models (through the
//! persistence slots), datafeeds starting and stopping, lookbacks running to their end, upgrade
//! mode settling. Each piece of work holds the receiving end of its resource's `transition`
//! channel: replacing or dropping the sender (a force close, a failure) cancels it, and a
//! cancelled piece of work never touches the state.

use std::time::Duration;

use tokio::sync::oneshot::{self, error::TryRecvError};

use super::Cluster;
use super::persistence::Ticket;
use super::progress::Search;

pub(super) type Cancel = oneshot::Receiver<()>;

/// One piece of background work.
pub(super) enum Effect {
    /// Open: wait the base latency, then restore the model in a persistence slot.
    Restore {
        job: String,
        ticket: Ticket,
        cancel: Cancel,
    },
    /// Graceful close: wait the base latency, then persist the model in a persistence slot.
    Persist {
        job: String,
        ticket: Ticket,
        cancel: Cancel,
    },
    StartDatafeed {
        datafeed: String,
        cancel: Cancel,
    },
    /// `auto_close`: whether a lookback datafeed closes its job once stopped;
    /// `give_up_after`: the node's stop timeout, past which it stops the datafeed all the same.
    StopDatafeed {
        datafeed: String,
        auto_close: bool,
        give_up_after: Option<Duration>,
        cancel: Cancel,
    },
    /// A datafeed with an `end` finishes its lookback, stops, and closes its job.
    Lookback {
        datafeed: String,
        cancel: Cancel,
    },
    /// A real-time datafeed searches every `frequency` until stopped.
    Searches {
        datafeed: String,
        cancel: Cancel,
    },
    /// `set_upgrade_mode` change number `change` settles after its latency.
    UpgradeMode {
        change: u64,
    },
}

/// A fresh transition channel: the sender goes in the resource, the receiver in the effect.
pub(super) fn transition_channel() -> (oneshot::Sender<()>, Cancel) {
    oneshot::channel()
}

/// Whether the transition this receiver belongs to is still the resource's current one.
pub(super) fn still_current(cancel: &mut Cancel) -> bool {
    matches!(cancel.try_recv(), Err(TryRecvError::Empty))
}

async fn sleep_or_cancel(duration: Duration, cancel: &mut Cancel) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => true,
        _ = cancel => false,
    }
}

impl Cluster {
    pub(super) async fn run_effect(self, effect: Effect) {
        let latency = self.shared.latency.clone();
        match effect {
            Effect::Restore {
                job,
                ticket,
                mut cancel,
            } => {
                if self
                    .persist_model(&job, latency.open_job, &mut cancel)
                    .await
                {
                    drop(ticket);
                    self.transition(|state, _| state.finish_open(&job, &mut cancel));
                }
            }
            Effect::Persist {
                job,
                ticket,
                mut cancel,
            } => {
                if self
                    .persist_model(&job, latency.close_job, &mut cancel)
                    .await
                {
                    drop(ticket);
                    self.transition(|state, shared| state.finish_close(shared, &job, &mut cancel));
                }
            }
            Effect::StartDatafeed {
                datafeed,
                mut cancel,
            } => {
                if sleep_or_cancel(latency.start_datafeed, &mut cancel).await {
                    self.transition(|state, _| state.finish_start(&datafeed, &mut cancel));
                }
            }
            Effect::StopDatafeed {
                datafeed,
                auto_close,
                give_up_after,
                mut cancel,
            } => {
                let wait = give_up_after.map_or(latency.stop_datafeed, |limit| {
                    latency.stop_datafeed.min(limit)
                });
                if sleep_or_cancel(wait, &mut cancel).await {
                    self.transition(|state, shared| {
                        state.finish_stop(shared, &datafeed, &mut cancel, auto_close);
                    });
                }
            }
            Effect::Lookback {
                datafeed,
                mut cancel,
            } => {
                // Upgrade mode halts datafeed tasks: a lookback ends only once it is off.
                let upgrade_mode_off = async {
                    self.wait_for(None, |state| (!state.upgrade_mode).then_some(()))
                        .await;
                };
                let finished = sleep_or_cancel(latency.lookback, &mut cancel).await
                    && tokio::select! {
                        () = upgrade_mode_off => true,
                        _ = &mut cancel => false,
                    };
                if finished {
                    self.transition(|state, shared| {
                        state.finish_stop(shared, &datafeed, &mut cancel, true);
                    });
                }
            }
            Effect::Searches {
                datafeed,
                mut cancel,
            } => {
                while let Some(wait) = self.read(|state, _| state.until_next_search(&datafeed)) {
                    if !sleep_or_cancel(wait, &mut cancel).await {
                        break;
                    }
                    let searching = self.transition(|state, _| {
                        let current = still_current(&mut cancel);
                        if current {
                            state.datafeed_search(&datafeed, Search::RealTime);
                        }
                        current
                    });
                    if !searching {
                        break;
                    }
                }
            }
            Effect::UpgradeMode { change } => {
                tokio::time::sleep(latency.set_upgrade_mode).await;
                self.transition(|state, shared| state.finish_upgrade_mode(shared, change));
            }
        }
    }

    /// Base latency, then a persistence slot held for `model_bytes` / persist rate. `false` when
    /// cancelled on the way.
    async fn persist_model(&self, job: &str, base: Duration, cancel: &mut Cancel) -> bool {
        if !sleep_or_cancel(base, cancel).await {
            return false;
        }
        let slot = tokio::select! {
            slot = self.shared.persistence.acquire() => slot,
            _ = &mut *cancel => return false,
        };
        let bytes = self.read(|state, _| state.jobs.get(job).map_or(0, |j| j.model_bytes));
        let rate = self.shared.latency.persist_bytes_per_sec;
        let hold = if rate == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(bytes as f64 / rate as f64)
        };
        let done = sleep_or_cancel(hold, cancel).await;
        drop(slot);
        done
    }
}
