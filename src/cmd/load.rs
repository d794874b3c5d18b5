//! Reading a playbook from disk for the commands that act on one: read, parse, validate, with
//! `${VAR}` expanded from the process environment.

use std::path::Path;

use crate::error::Error;
use crate::model::{self, Playbook};
use crate::playbook::Source;

/// A validated playbook with the text it came from (kept for diagnostics and digests).
pub(crate) struct Loaded {
    pub source: Source,
    pub playbook: Playbook,
}

pub(crate) fn load(path: &Path) -> Result<Loaded, Error> {
    let source = Source::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let env = |name: &str| std::env::var(name).ok();
    let playbook =
        model::load(&source, &env).map_err(|invalid| Error::Playbook(Box::new(invalid)))?;
    Ok(Loaded { source, playbook })
}
