//! Reading runs back from the cluster: the runs its index records, the lines of one run, and a
//! run's journal rebuilt on local disk from them (for `resume` and `revert` on a machine that
//! never had it, and `runs --cluster URL`). Searches page with `search_after` on a sort key, so
//! no run is too long (docs/elasticsearch-ml-api.md §11.4).

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::es::EsClient;
use crate::journal::runs_dir;

use super::{CoordError, CoordIndex};

/// Hits per page: a page of ordinary lines is small; the header of a 10,000-job run is 20 MB.
const PAGE: usize = 500;

/// Every hit of `query` sorted by `key` ascending, page after page.
async fn search_all<T: DeserializeOwned>(
    client: &EsClient,
    index: &CoordIndex,
    query: &Value,
    key: &str,
    source: &[&str],
) -> Result<Vec<T>, crate::es::Error> {
    let mut all = Vec::new();
    let mut after: Option<Vec<Value>> = None;
    loop {
        let mut body = json!({
            "query": query,
            "sort": [{ key: "asc" }],
            "size": PAGE,
            "_source": source,
        });
        if let Some(after) = &after {
            body["search_after"] = Value::from(after.clone());
        }
        let answer = client.search::<T>(index.name(), body).await?;
        let full = answer.hits.hits.len() == PAGE;
        let mut last = None;
        for hit in answer.hits.hits {
            last = Some(hit.sort);
            all.push(hit.source);
        }
        match last {
            Some(sort) if full => after = Some(sort),
            _ => return Ok(all),
        }
    }
}

fn journal_of(run_id: &str) -> Value {
    json!({ "bool": { "filter": [
        { "term": { "kind": "journal" } },
        { "term": { "run_id": run_id } },
    ] } })
}

/// The runs the cluster records (one header line each), oldest first: run ids sort by time.
pub(crate) async fn list_run_ids(
    client: &EsClient,
    index: &CoordIndex,
) -> Result<Vec<String>, crate::es::Error> {
    #[derive(Deserialize)]
    struct Run {
        run_id: String,
    }
    let query = json!({ "bool": { "filter": [
        { "term": { "kind": "journal" } },
        { "term": { "seq": 0 } },
    ] } });
    let runs: Vec<Run> = search_all(client, index, &query, "run_id", &["run_id"]).await?;
    Ok(runs.into_iter().map(|run| run.run_id).collect())
}

#[derive(Deserialize)]
struct Stored {
    seq: u64,
    #[serde(default)]
    line: String,
}

/// A scratch state directory for journals fetched from a cluster to be read, removed when
/// dropped.
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    pub(crate) fn new() -> ScratchDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        ScratchDir(
            std::env::temp_dir().join(format!("quiesce-runs-{}-{nanos:08x}", std::process::id())),
        )
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The sequence numbers of `run_id` the cluster holds.
pub(super) async fn present(
    client: &EsClient,
    index: &CoordIndex,
    run_id: &str,
) -> Result<BTreeSet<u64>, crate::es::Error> {
    let stored: Vec<Stored> =
        search_all(client, index, &journal_of(run_id), "seq", &["seq"]).await?;
    Ok(stored.into_iter().map(|s| s.seq).collect())
}

/// The journal of `run_id` as the cluster holds it, rebuilt at
/// `<state_dir>/runs/RUN_ID.jsonl`. The lines are kept up to the first gap (a line the mirror
/// had not written when its run ended), so that the file reads whole; how many were left out
/// is returned with the path. `None` when the cluster has no such run.
pub(crate) async fn restore_run(
    client: &EsClient,
    index: &CoordIndex,
    run_id: &str,
    state_dir: &Path,
) -> Result<Option<(PathBuf, usize, usize)>, CoordError> {
    let stored: Vec<Stored> =
        search_all(client, index, &journal_of(run_id), "seq", &["seq", "line"])
            .await
            .map_err(|source| CoordError::Fetch {
                run_id: run_id.to_owned(),
                source,
            })?;
    if stored.first().is_none_or(|first| first.seq != 0) {
        return Ok(None);
    }
    let whole = stored
        .iter()
        .zip(0u64..)
        .take_while(|(line, expected)| line.seq == *expected)
        .count();
    let dir = runs_dir(state_dir);
    let path = dir.join(format!("{run_id}.jsonl"));
    let restore_error = |source| CoordError::Restore {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(restore_error)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(restore_error)?;
    let mut text = String::new();
    for line in &stored[..whole] {
        text.push_str(&line.line);
        text.push('\n');
    }
    file.write_all(text.as_bytes()).map_err(restore_error)?;
    file.sync_all().map_err(restore_error)?;
    Ok(Some((path, whole, stored.len() - whole)))
}
