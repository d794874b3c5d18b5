//! [`Mirror`]: the cluster copy of a run journal, one document per line (id `RUN_ID-SEQ`, so
//! writing a line again changes nothing), written by a task of its own with `_bulk` and
//! `refresh=true`, so that a reader on another machine sees each batch once it is answered.
//!
//! The local journal stays the first record: lines reach the mirror through a tap that never
//! blocks the executor, and the mirror writes what has come in every [`BATCH_WINDOW`]. When
//! the cluster refuses (the whole request, or some items), the lines are kept and tried again
//! with back-off, and the caller is told once ([`MirrorNotice::Behind`]), and again when it
//! caught up. [`Mirror::flush`] waits until everything so far is in the cluster (the header,
//! before the first change); [`Mirror::finish`] tries what is left at the end and says how
//! many lines could not be written. Those stay in the local journal, and [`catch_up`] writes
//! the lines the cluster lacks at the start of the next `apply`, `resume` or `revert` from the
//! same state directory. Nothing is lost either way. A journal known to be whole in the
//! cluster gets a marker beside it ([`mark_mirrored`]), so that later catch-ups skip it without
//! a search while it has not grown: a state directory of a year of daily runs costs the next
//! run nothing.
//!
//! Owns the cluster copy of journals. Must never block or fail the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::es::EsClient;
use crate::journal::{JournalLine, LineTap, numbered_lines};

use super::CoordIndex;

/// Lines that came in are written at most this long after the first of them.
const BATCH_WINDOW: Duration = Duration::from_millis(200);

/// The most lines, and about the most bytes, in one `_bulk` request.
const BATCH_LINES: usize = 500;
const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Attempts of a [`Mirror::flush`] and of the last write at the end.
const FLUSH_ATTEMPTS: u32 = 4;

/// What the mirror tells its caller.
#[derive(Debug, Clone)]
pub(crate) enum MirrorNotice {
    /// A write to the cluster failed; `waiting` lines wait for the next try.
    Behind { waiting: usize, error: String },
    /// Every line so far is in the cluster again.
    CaughtUp,
}

enum Control {
    Flush(oneshot::Sender<Result<(), String>>),
}

/// A running mirror of one run's journal.
pub(crate) struct Mirror {
    tap: LineTap,
    control: mpsc::UnboundedSender<Control>,
    task: JoinHandle<usize>,
}

impl Mirror {
    /// Starts the mirror of run `run_id`'s lines into `index`; `notify` hears of failures.
    pub(crate) fn start(
        client: &EsClient,
        index: &CoordIndex,
        run_id: &str,
        notify: impl Fn(MirrorNotice) + Send + 'static,
    ) -> Mirror {
        let (tap, lines) = mpsc::unbounded_channel();
        let (control, orders) = mpsc::unbounded_channel();
        let writer = Writer {
            client: client.clone(),
            index: index.clone(),
            run_id: run_id.to_owned(),
            pending: BTreeMap::new(),
            behind: false,
            notify: Box::new(notify),
        };
        let task = tokio::spawn(writer.run(lines, orders));
        Mirror { tap, control, task }
    }

    /// The tap the journal hands its lines to.
    pub(crate) fn tap(&self) -> LineTap {
        self.tap.clone()
    }

    /// Waits until every line handed over so far is in the cluster (a few attempts with
    /// back-off); the last error otherwise.
    pub(crate) async fn flush(&self) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.control
            .send(Control::Flush(reply))
            .map_err(|_| "the journal mirror stopped".to_owned())?;
        answer
            .await
            .unwrap_or_else(|_| Err("the journal mirror stopped".to_owned()))
    }

    /// Ends the mirror once the journal (the other holder of the tap) is closed: writes what is
    /// left (a few attempts) and returns how many lines could not be written.
    pub(crate) async fn finish(self) -> usize {
        let Mirror { tap, control, task } = self;
        drop(tap);
        drop(control);
        task.await.unwrap_or(0)
    }
}

struct Writer {
    client: EsClient,
    index: CoordIndex,
    run_id: String,
    /// Lines not yet in the cluster, by sequence number.
    pending: BTreeMap<u64, String>,
    /// A failure was told and no catching up since.
    behind: bool,
    notify: Box<dyn Fn(MirrorNotice) + Send>,
}

impl Writer {
    async fn run(
        mut self,
        mut lines: mpsc::UnboundedReceiver<JournalLine>,
        mut orders: mpsc::UnboundedReceiver<Control>,
    ) -> usize {
        let mut due: Option<Instant> = None;
        let mut failures = 0u32;
        let mut open = true;
        while open {
            tokio::select! {
                line = lines.recv() => match line {
                    Some(line) => {
                        self.pending.insert(line.seq, line.text);
                        due.get_or_insert_with(|| Instant::now() + BATCH_WINDOW);
                    }
                    None => open = false,
                },
                Some(Control::Flush(reply)) = orders.recv() => {
                    drain(&mut lines, &mut self.pending);
                    let _ = reply.send(self.write_all(FLUSH_ATTEMPTS).await);
                    due = None;
                    failures = 0;
                }
                () = sleep_until(due), if due.is_some() => {
                    drain(&mut lines, &mut self.pending);
                    if self.write_batch().await.is_ok() && self.pending.is_empty() {
                        due = None;
                        failures = 0;
                    } else if self.pending.is_empty() {
                        due = None;
                    } else {
                        failures = if self.behind { failures + 1 } else { 0 };
                        due = Some(Instant::now() + backoff(failures));
                    }
                }
            }
        }
        let _ = self.write_all(FLUSH_ATTEMPTS).await;
        self.pending.len()
    }

    /// Writes everything pending, batch after batch, `attempts` tries for each.
    async fn write_all(&mut self, attempts: u32) -> Result<(), String> {
        let mut failed = 0;
        while !self.pending.is_empty() {
            if let Err(err) = self.write_batch().await {
                failed += 1;
                if failed >= attempts {
                    return Err(err);
                }
                tokio::time::sleep(backoff(failed)).await;
            }
        }
        Ok(())
    }

    /// One `_bulk` of the oldest pending lines; those written leave `pending`.
    async fn write_batch(&mut self) -> Result<(), String> {
        let mut docs: Vec<(String, u64, Value)> = Vec::new();
        let mut bytes = 0;
        for (seq, text) in &self.pending {
            if docs.len() == BATCH_LINES || (bytes > 0 && bytes + text.len() > BATCH_BYTES) {
                break;
            }
            bytes += text.len();
            docs.push((
                doc_id(&self.run_id, *seq),
                *seq,
                json!({ "kind": "journal", "run_id": self.run_id, "seq": seq, "line": text }),
            ));
        }
        if docs.is_empty() {
            return Ok(());
        }
        let answer = self
            .client
            .bulk_index(
                self.index.name(),
                docs.iter().map(|(id, _, source)| (id.as_str(), source)),
            )
            .await;
        let result = match answer {
            Ok(answer) => {
                let (failed, first) = answer.failed();
                for (id, seq, _) in &docs {
                    if !failed.contains(id) {
                        self.pending.remove(seq);
                    }
                }
                match first {
                    None => Ok(()),
                    Some(error) => Err(format!("{} line(s) refused, {error}", failed.len())),
                }
            }
            Err(err) => Err(err.to_string()),
        };
        match &result {
            Err(error) if !self.behind => {
                self.behind = true;
                (self.notify)(MirrorNotice::Behind {
                    waiting: self.pending.len(),
                    error: error.clone(),
                });
            }
            Ok(()) if self.behind && self.pending.is_empty() => {
                self.behind = false;
                (self.notify)(MirrorNotice::CaughtUp);
            }
            _ => {}
        }
        result
    }
}

fn drain(lines: &mut mpsc::UnboundedReceiver<JournalLine>, pending: &mut BTreeMap<u64, String>) {
    while let Ok(line) = lines.try_recv() {
        pending.insert(line.seq, line.text);
    }
}

async fn sleep_until(due: Option<Instant>) {
    if let Some(due) = due {
        tokio::time::sleep_until(due).await;
    }
}

/// 250 ms, doubling, at most 5 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(250)
        .saturating_mul(1 << failures.min(5))
        .min(Duration::from_secs(5))
}

/// A line's document id: the same line always lands on the same document.
fn doc_id(run_id: &str, seq: u64) -> String {
    format!("{run_id}-{seq}")
}

/// Writes into the cluster the lines of these local journals that it lacks (a mirror that fell
/// behind, a run that ended while the cluster refused); how many lines were written. A
/// journal that does not read is left for `runs` to report.
pub(crate) async fn catch_up(
    client: &EsClient,
    index: &CoordIndex,
    journals: &[(String, PathBuf)],
) -> Result<usize, String> {
    let mut written = 0;
    for (run_id, path) in journals {
        let Some(length) = journal_length(path) else {
            continue;
        };
        if mirrored_length(path, index) == Some(length) {
            continue;
        }
        let Ok(local) = numbered_lines(path) else {
            continue;
        };
        let present = super::fetch::present(client, index, run_id)
            .await
            .map_err(|err| err.to_string())?;
        let missing: BTreeMap<u64, String> = local
            .into_iter()
            .filter(|line| !present.contains(&line.seq))
            .map(|line| (line.seq, line.text))
            .collect();
        let count = missing.len();
        if count > 0 {
            let mut writer = Writer {
                client: client.clone(),
                index: index.clone(),
                run_id: run_id.clone(),
                pending: missing,
                behind: true,
                notify: Box::new(|_| {}),
            };
            writer.write_all(FLUSH_ATTEMPTS).await?;
            written += count;
        }
        // What was read is whole in the cluster now; lines appended since make it longer.
        write_marker(path, index, length);
    }
    Ok(written)
}

/// Records that every line of the journal at `path`, as long as it is now, is in `index`
/// (the run's own mirror wrote them all). Best effort: without the marker, the next catch-up
/// only searches once more.
pub(crate) fn mark_mirrored(path: &Path, index: &CoordIndex) {
    if let Some(length) = journal_length(path) {
        write_marker(path, index, length);
    }
}

/// `runs/RUN_ID.mirrored` beside `runs/RUN_ID.jsonl`.
fn marker_path(journal: &Path) -> PathBuf {
    journal.with_extension("mirrored")
}

fn journal_length(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn write_marker(journal: &Path, index: &CoordIndex, length: u64) {
    let marker = json!({"index": index.name(), "bytes": length});
    let _ = std::fs::write(marker_path(journal), marker.to_string());
}

/// How long the journal was when `index` was known to hold all of it; `None` without a
/// marker for that index (another index, or one unreadable).
fn mirrored_length(journal: &Path, index: &CoordIndex) -> Option<u64> {
    let text = std::fs::read_to_string(marker_path(journal)).ok()?;
    let marker: Value = serde_json::from_str(&text).ok()?;
    marker["bytes"]
        .as_u64()
        .filter(|_| marker["index"] == index.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_seconds() {
        let waits: Vec<u64> = (0..8)
            .map(|n| u64::try_from(backoff(n).as_millis()).unwrap_or(u64::MAX))
            .collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    }

    #[test]
    fn a_line_always_lands_on_one_document() {
        assert_eq!(
            doc_id("20261130T100000Z-abcd", 7),
            "20261130T100000Z-abcd-7"
        );
    }
}
