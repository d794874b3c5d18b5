//! The text of one playbook file and the conversions from byte offsets to what people read
//! (`file:line:column`) and to what miette draws (`SourceSpan`, `NamedSource`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use miette::{NamedSource, SourceSpan};

/// One playbook file: its path as the user named it and its full text.
#[derive(Clone)]
pub struct Source {
    path: PathBuf,
    name: Arc<str>,
    text: Arc<str>,
    /// Byte offset of the start of each line, made on the first [`Source::location`]: each
    /// location is then a binary search, not a count from the start of the file (which made
    /// checking a large playbook quadratic).
    line_starts: Arc<OnceLock<Vec<usize>>>,
}

impl Source {
    /// A source from text already in memory; `path` is what diagnostics will call it.
    pub(crate) fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        let path = path.into();
        let name = Arc::from(path.display().to_string());
        Self {
            path,
            name,
            text: text.into(),
            line_starts: Arc::default(),
        }
    }

    /// Reads a playbook file: a regular file of at most 16 MiB of UTF-8 text
    /// ([`crate::input`]). What is wrong with the bytes is an error of the read, not of the
    /// YAML.
    pub(crate) fn read(path: &Path) -> Result<Self, crate::input::InputError> {
        let text = crate::input::read_text(path, crate::input::Kind::Playbook)?;
        Ok(Self::new(path, text))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file name as shown in diagnostics.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The source in the form miette attaches to a diagnostic.
    pub(crate) fn named_source(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(&self.name, Arc::clone(&self.text)).with_language("yaml")
    }

    /// Where a byte span sits in this file. Offsets past the end are clamped.
    pub(crate) fn location(&self, span: SourceSpan) -> Location {
        let offset = floor_char_boundary(&self.text, span.offset().min(self.text.len()));
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        // The last line starting at or before `offset`.
        let index = starts.partition_point(|&start| start <= offset) - 1;
        let line = index + 1;
        let line_start = starts[index];
        let column = self.text[line_start..offset].chars().count() + 1;
        Location {
            file: Arc::clone(&self.name),
            line,
            column,
            offset,
            len: span.len().min(self.text.len() - offset),
        }
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("path", &self.path)
            .field("len", &self.text.len())
            .finish()
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A place in a playbook file: what later stages (plan, exec, report) keep so they can point
/// back at the line that asked for something.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Location {
    /// The file as the user named it.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte offset of the start of the text.
    pub offset: usize,
    /// Length of the text in bytes.
    pub len: usize,
}

impl Location {
    /// The byte span, for miette labels.
    pub(crate) fn span(&self) -> SourceSpan {
        (self.offset, self.len).into()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_characters() {
        let source = Source::new("p.yaml", "a: 1\nbé: x\n");
        let loc = source.location((9, 1).into());
        assert_eq!((loc.line, loc.column), (2, 4));
        assert_eq!(loc.to_string(), "p.yaml:2:4");
    }

    #[test]
    fn location_at_line_starts_and_ends() {
        let source = Source::new("p.yaml", "a\n\nbc\n");
        let at = |offset: usize| {
            let loc = source.location((offset, 0).into());
            (loc.line, loc.column)
        };
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(1), (1, 2), "the newline ends its line");
        assert_eq!(at(2), (2, 1));
        assert_eq!(at(3), (3, 1));
        assert_eq!(at(6), (4, 1), "after the last newline");
    }

    #[test]
    fn location_clamps_past_the_end() {
        let source = Source::new("p.yaml", "é");
        let loc = source.location((1, 5).into());
        assert_eq!((loc.line, loc.column, loc.offset, loc.len), (1, 1, 0, 2));
    }
}
