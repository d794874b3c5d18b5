//! Files the commands write for the user (`capture -o`, `plan -o`): never over an existing file
//! unless asked, and whole or not at all. Also where such a file finds the playbook schema.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `text` to a temporary file beside `path`, syncs it, then renames it over `path`, so
/// that `path` holds either the whole text or what it held before, never a torn one.
pub(crate) fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary_name);
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// The schema a playbook written into `dir` should name in its modeline: the relative path to
/// `schemas/playbook.schema.json` of the checkout `dir` is in (looking up to the checkout's
/// root, the first directory with a `.git`), or `None` outside one. A path that only works in
/// one checkout is no worse than none: editors skip a modeline whose schema they cannot find.
pub(crate) fn schema_path_from(dir: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    for (ups, ancestor) in dir.ancestors().enumerate() {
        if ancestor.join("schemas/playbook.schema.json").is_file() {
            return Some(format!("{}schemas/playbook.schema.json", "../".repeat(ups)));
        }
        if ancestor.join(".git").exists() {
            return None;
        }
    }
    None
}

/// The directory a file named on the command line will be written in.
pub(crate) fn directory_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_found_relative_to_the_output_inside_a_checkout_only() {
        let checkout = tempfile::tempdir().expect("temp dir");
        let root = checkout.path();
        std::fs::create_dir_all(root.join(".git")).expect("git");
        std::fs::create_dir_all(root.join("schemas")).expect("schemas");
        std::fs::write(root.join("schemas/playbook.schema.json"), "{}").expect("schema");
        std::fs::create_dir_all(root.join("ops/captures")).expect("dirs");
        assert_eq!(
            schema_path_from(root).as_deref(),
            Some("schemas/playbook.schema.json")
        );
        assert_eq!(
            schema_path_from(&root.join("ops/captures")).as_deref(),
            Some("../../schemas/playbook.schema.json")
        );
        let elsewhere = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(elsewhere.path().join(".git")).expect("git");
        assert_eq!(schema_path_from(elsewhere.path()), None);
    }
}
