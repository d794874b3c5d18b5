//! Reading a playbook from disk for the commands that act on one: read, parse, validate, with
//! `${VAR}` expanded from the process environment.

use std::path::Path;

use crate::error::Error;
use crate::model::{self, Playbook};
use crate::playbook::{Location, Source};

use super::cluster::unset_help;

/// A validated playbook with the text it came from (kept for diagnostics and digests).
pub(crate) struct Loaded {
    pub source: Source,
    pub playbook: Playbook,
}

pub(crate) fn load(path: &Path) -> Result<Loaded, Error> {
    let source = Source::read(path)?;
    let env = |name: &str| std::env::var(name).ok();
    let playbook =
        model::load(&source, &env).map_err(|invalid| Error::Playbook(Box::new(invalid)))?;
    Ok(Loaded { source, playbook })
}

/// One note per connection setting of `playbook` whose variable is unset, with where it is
/// written: fine for what contacts nothing, needed by what contacts the cluster.
pub(crate) fn unresolved_notes(playbook: &Playbook) -> Vec<(Location, String)> {
    playbook
        .cluster
        .unresolved
        .iter()
        .flat_map(|unresolved| {
            unresolved.variables.iter().map(|name| {
                (
                    unresolved.location.clone(),
                    format!(
                        "`{name}` is not set, so `{}` stays unresolved: fine here, since nothing is contacted; commands that contact the cluster need it. {}",
                        unresolved.key.name(),
                        unset_help(unresolved.key, name)
                    ),
                )
            })
        })
        .collect()
}
