//! Files quiesce is told to read (playbooks, saved plans, CA certificates, run journals): only
//! regular files, only up to a size that fits what they are, and text only when it is UTF-8,
//! each refusal saying what is wrong with the file, not just that it cannot be used.
//!
//! Takes a path and what the file is meant to be ([`Kind`]); gives its bytes or text, or an
//! [`InputError`]. Must never open a FIFO, a device or a socket (a FIFO blocks the command
//! forever, `/dev/zero` never ends), and never read more than [`Kind::limit`] bytes of a file.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error;

const MIB: u64 = 1024 * 1024;

/// What a file is meant to be: its limit and its name in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A playbook: a playbook naming 10,000 jobs one by one is about 1 MB.
    Playbook,
    /// A plan saved by `plan -o`: one of 20,000 steps (10,000 jobs) is 17 MB.
    Plan,
    /// A PEM file of CA certificates: a whole public CA bundle is about 0.2 MB.
    CaCert,
    /// A run journal: its header holds the plan and the before-state (20 MB for 10,000 jobs),
    /// then a line per event.
    Journal,
}

impl Kind {
    /// The most bytes quiesce reads of such a file.
    pub(crate) fn limit(self) -> u64 {
        match self {
            Kind::Playbook => 16 * MIB,
            Kind::Plan => 64 * MIB,
            Kind::CaCert => 4 * MIB,
            Kind::Journal => 256 * MIB,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Playbook => "playbook",
            Kind::Plan => "plan file",
            Kind::CaCert => "CA certificate file",
            Kind::Journal => "run journal",
        }
    }
}

/// Why a file could not be used.
#[derive(Debug, Error, Diagnostic)]
pub(crate) enum InputError {
    #[error("cannot read the {} `{}`", kind.noun(), path.display())]
    #[diagnostic(
        code(quiesce::input::read),
        help("Check that the path exists and is readable.")
    )]
    Read {
        path: PathBuf,
        kind: Kind,
        #[source]
        source: std::io::Error,
    },

    #[error("the {} `{}` is {found}, not a regular file", kind.noun(), path.display())]
    #[diagnostic(
        code(quiesce::input::not_a_file),
        help(
            "quiesce reads only regular files, so that it can never wait forever on a pipe or read a device without end: save the content to a file and name that file."
        )
    )]
    NotRegular {
        path: PathBuf,
        kind: Kind,
        /// `a FIFO (named pipe)`, `a directory`, `a character device`…
        found: &'static str,
    },

    #[error("the {} `{}` is larger than {} MiB{}", kind.noun(), path.display(), kind.limit() / MIB, size.map(|s| format!(" ({s} bytes)")).unwrap_or_default())]
    #[diagnostic(
        code(quiesce::input::too_large),
        help(
            "quiesce reads at most {} MiB of a {}, several times the largest it writes or expects (see the README's limits): check that this is the file you meant.",
            kind.limit() / MIB,
            kind.noun()
        )
    )]
    TooLarge {
        path: PathBuf,
        kind: Kind,
        /// Its size, when the file system said.
        size: Option<u64>,
    },

    #[error("the {} `{}` is not UTF-8 text: {problem}", kind.noun(), path.display())]
    #[diagnostic(code(quiesce::input::not_text))]
    NotText {
        path: PathBuf,
        kind: Kind,
        problem: TextProblem,
        #[help]
        help: String,
    },
}

/// What is wrong with bytes that should be UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextProblem {
    /// A UTF-16 byte order mark, or every other byte zero.
    Utf16,
    /// A UTF-32 byte order mark.
    Utf32,
    /// NUL bytes: not text at all.
    Binary { offset: usize },
    /// A byte sequence UTF-8 does not allow.
    InvalidUtf8 {
        line: usize,
        column: usize,
        byte: u8,
    },
}

impl std::fmt::Display for TextProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextProblem::Utf16 => f.write_str("it is UTF-16 encoded"),
            TextProblem::Utf32 => f.write_str("it is UTF-32 encoded"),
            TextProblem::Binary { offset } => {
                write!(f, "it holds binary data (a NUL byte at offset {offset})")
            }
            TextProblem::InvalidUtf8 { line, column, byte } => write!(
                f,
                "byte 0x{byte:02X} at line {line}, column {column} is not valid UTF-8"
            ),
        }
    }
}

impl TextProblem {
    /// What to do about it.
    fn help(&self, kind: Kind) -> String {
        match self {
            TextProblem::Utf16 | TextProblem::Utf32 => format!(
                "Save the {} as UTF-8 (in most editors, “Save with encoding”; or `iconv -f UTF-16 -t UTF-8 FILE`).",
                kind.noun()
            ),
            TextProblem::Binary { .. } => format!(
                "This is not a {} but a binary file: check the path.",
                kind.noun()
            ),
            TextProblem::InvalidUtf8 { .. } => format!(
                "Save the {} as UTF-8; it may have been written in another encoding (Latin-1, Windows-1252).",
                kind.noun()
            ),
        }
    }

    /// The first problem with `bytes` as UTF-8 text, if any.
    fn find(bytes: &[u8]) -> Option<TextProblem> {
        if bytes.starts_with(&[0xFF, 0xFE, 0, 0]) || bytes.starts_with(&[0, 0, 0xFE, 0xFF]) {
            return Some(TextProblem::Utf32);
        }
        if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
            return Some(TextProblem::Utf16);
        }
        let head = &bytes[..bytes.len().min(4096)];
        let zeros = |parity: usize| {
            head.iter()
                .skip(parity)
                .step_by(2)
                .filter(|&&b| b == 0)
                .count()
        };
        // UTF-16 without a byte order mark: ASCII text with a zero beside every byte.
        if head.len() >= 4
            && [0, 1]
                .iter()
                .any(|&parity| zeros(parity) * 10 >= head.len() / 2 * 9)
        {
            return Some(TextProblem::Utf16);
        }
        if let Some(offset) = bytes.iter().position(|&b| b == 0) {
            return Some(TextProblem::Binary { offset });
        }
        let err = std::str::from_utf8(bytes).err()?;
        let valid = &bytes[..err.valid_up_to()];
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        Some(TextProblem::InvalidUtf8 {
            line: valid.iter().filter(|&&b| b == b'\n').count() + 1,
            column,
            byte: bytes[err.valid_up_to()],
        })
    }
}

impl InputError {
    /// What is wrong, without the file's name: for messages that name it already.
    pub(crate) fn reason(&self) -> String {
        match self {
            InputError::Read { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_owned(),
                _ => source.to_string(),
            },
            InputError::NotRegular { found, .. } => format!("it is {found}, not a regular file"),
            InputError::TooLarge { kind, .. } => {
                format!("it is larger than {} MiB", kind.limit() / MIB)
            }
            InputError::NotText { problem, .. } => format!("it is not UTF-8 text: {problem}"),
        }
    }
}

/// What a file system entry is, when it is not a regular file.
fn not_regular(metadata: &std::fs::Metadata) -> Option<&'static str> {
    let kind = metadata.file_type();
    if kind.is_file() {
        return None;
    }
    if kind.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if kind.is_char_device() {
            return Some("a character device");
        }
        if kind.is_block_device() {
            return Some("a block device");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// Opens `path` as a regular file of `kind`, refusing anything else before it is opened (a
/// FIFO blocks on open).
pub(crate) fn open(path: &Path, kind: Kind) -> Result<File, InputError> {
    let read_error = |source| InputError::Read {
        path: path.to_owned(),
        kind,
        source,
    };
    let refuse = |found| InputError::NotRegular {
        path: path.to_owned(),
        kind,
        found,
    };
    // `metadata` follows symbolic links: a link to `/dev/zero` is a character device.
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if let Some(found) = not_regular(&metadata) {
        return Err(refuse(found));
    }
    let file = File::open(path).map_err(read_error)?;
    // What was checked may have been replaced meanwhile: check what was opened.
    let opened = file.metadata().map_err(read_error)?;
    if let Some(found) = not_regular(&opened) {
        return Err(refuse(found));
    }
    if opened.len() > kind.limit() {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            kind,
            size: Some(opened.len()),
        });
    }
    Ok(file)
}

/// The bytes of the regular file `path`, at most `kind`'s limit.
pub(crate) fn read_bytes(path: &Path, kind: Kind) -> Result<Vec<u8>, InputError> {
    let file = open(path, kind)?;
    let mut bytes = Vec::new();
    file.take(kind.limit() + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Read {
            path: path.to_owned(),
            kind,
            source,
        })?;
    // The file grew after it was measured.
    if bytes.len() as u64 > kind.limit() {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            kind,
            size: None,
        });
    }
    Ok(bytes)
}

/// The text of the regular file `path`, at most `kind`'s limit, which must be UTF-8.
pub(crate) fn read_text(path: &Path, kind: Kind) -> Result<String, InputError> {
    text(path, kind, read_bytes(path, kind)?)
}

/// `bytes` read from `path` as UTF-8 text, or what is wrong with them.
pub(crate) fn text(path: &Path, kind: Kind, bytes: Vec<u8>) -> Result<String, InputError> {
    match TextProblem::find(&bytes) {
        None => String::from_utf8(bytes).map_err(|_| InputError::NotText {
            path: path.to_owned(),
            kind,
            help: TextProblem::Binary { offset: 0 }.help(kind),
            problem: TextProblem::Binary { offset: 0 },
        }),
        Some(problem) => Err(InputError::NotText {
            path: path.to_owned(),
            kind,
            help: problem.help(kind),
            problem,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("scratch");
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        (dir, path)
    }

    #[test]
    fn utf8_text_reads() {
        let (_dir, path) = scratch("p.yaml", "version: 1 # é\n".as_bytes());
        assert_eq!(
            read_text(&path, Kind::Playbook).expect("reads"),
            "version: 1 # é\n"
        );
    }

    #[test]
    fn bad_bytes_are_named() {
        let utf16: Vec<u8> = "\u{feff}version: 1\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let no_bom: Vec<u8> = "version: 1\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        for (bytes, expected) in [
            (utf16, TextProblem::Utf16),
            (no_bom, TextProblem::Utf16),
            (
                b"version: 1\n\x00\x01\x02".to_vec(),
                TextProblem::Binary { offset: 11 },
            ),
            (
                b"version: 1\nname: caf\xe9\n".to_vec(),
                TextProblem::InvalidUtf8 {
                    line: 2,
                    column: 10,
                    byte: 0xE9,
                },
            ),
        ] {
            assert_eq!(TextProblem::find(&bytes), Some(expected));
        }
        let (_dir, path) = scratch("p.yaml", b"name: caf\xe9\n");
        let err = read_text(&path, Kind::Playbook).expect_err("latin-1");
        assert!(
            err.to_string()
                .contains("is not UTF-8 text: byte 0xE9 at line 1, column 10"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn devices_directories_and_fifos_are_refused_unopened() {
        let dir = tempfile::tempdir().expect("scratch");
        let err = read_text(dir.path(), Kind::Playbook).expect_err("a directory");
        assert!(err.to_string().contains("is a directory"), "{err}");

        let zero = dir.path().join("zero.yaml");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        let err = read_bytes(&zero, Kind::CaCert).expect_err("a device");
        assert!(err.to_string().contains("a character device"), "{err}");

        // A FIFO blocks its opener until a writer comes: it must be refused before opening.
        let fifo = dir.path().join("fifo.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if made {
            let err = read_text(&fifo, Kind::Playbook).expect_err("a FIFO");
            assert!(err.to_string().contains("FIFO"), "{err}");
        }
    }

    #[test]
    fn a_file_beyond_the_limit_is_refused_unread() {
        let dir = tempfile::tempdir().expect("scratch");
        let path = dir.path().join("ca.pem");
        let file = File::create(&path).expect("create");
        // Sparse: no disk used.
        file.set_len(Kind::CaCert.limit() + 1).expect("grow");
        let err = read_bytes(&path, Kind::CaCert).expect_err("too large");
        assert!(err.to_string().contains("larger than 4 MiB"), "{err}");
    }
}
