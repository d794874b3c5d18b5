//! Coordination kept in the cluster itself (issue 13): a lease, so that one run at a time
//! changes a cluster whichever machine it runs on, and a mirror of every run journal, so that
//! `resume`, `revert` and `runs` work from any machine once the one that ran it is gone.
//!
//! Both live in one index (`.quiesce` unless `--index`/`QUIESCE_INDEX` says otherwise; hidden,
//! as Elasticsearch wants of an index whose name starts with a dot): the lease document
//! (`index`), taken with `op_type=create` and renewed and released by compare-and-set
//! (`lease`); one document per journal line, the very line of the local file (`mirror`);
//! reading runs back (`fetch`). Elasticsearch is the one store every runner of a cluster can
//! reach; its optimistic concurrency (`if_seq_no` + `if_primary_term`) is the whole protocol
//! (docs/elasticsearch-ml-api.md §11).
//!
//! Owns the lease protocol and the cluster copy of journals. Talks to Elasticsearch only
//! through `es`; never prints (it tells its caller through callbacks and errors); never
//! replaces the local journal, which stays the first record of a run.

mod fetch;
mod index;
mod lease;
mod mirror;

pub(crate) use fetch::{ScratchDir, list_run_ids, restore_run};
pub(crate) use index::{CoordIndex, DEFAULT_INDEX, INDEX_PRIVILEGES, ensure};
pub(crate) use lease::{Lease, LeaseError, LeaseLoss, Who};
pub(crate) use mirror::{Mirror, MirrorNotice, catch_up, mark_mirrored};

use miette::Diagnostic;
use thiserror::Error;

/// What can go wrong keeping a run's coordination in the cluster.
#[derive(Debug, Error, Diagnostic)]
pub(crate) enum CoordError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lease(#[from] LeaseError),

    #[error("cannot use the index `{index}` that keeps the lease and run journals")]
    #[diagnostic(
        code(quiesce::coord::index),
        help(
            "The credentials need `create_index`, `read` and `write` on that index (README, \"A role for quiesce\"); `--index` names another. Nothing was changed."
        )
    )]
    Index {
        index: String,
        #[source]
        source: crate::es::Error,
    },

    #[error("cannot write the journal header of run {run_id} to the cluster: {reason}")]
    #[diagnostic(
        code(quiesce::coord::header),
        help(
            "Before its first change a run records its plan and the state before it in the cluster, so that it can be resumed or reverted from another machine; that write failed, so nothing was changed. Check the cluster's health and the index privileges, then run again."
        )
    )]
    Header { run_id: String, reason: String },

    #[error("cannot read run {run_id} from the cluster")]
    #[diagnostic(code(quiesce::coord::fetch))]
    Fetch {
        run_id: String,
        #[source]
        source: crate::es::Error,
    },

    #[error("cannot write the journal fetched from the cluster to `{}`", path.display())]
    #[diagnostic(code(quiesce::coord::restore))]
    Restore {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}
