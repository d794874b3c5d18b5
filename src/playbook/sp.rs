//! `Sp<T>`: a value with the byte span of the YAML text it came from.
//!
//! A crate-local newtype over `serde_saphyr::Spanned<T>` so that it can carry our
//! `JsonSchema` impl (the orphan rule forbids one on the foreign type): in the schema an
//! `Sp<T>` is exactly a `T`.

use std::borrow::Cow;
use std::ops::Deref;

use miette::SourceSpan;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A deserialized value and where it was written.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct Sp<T>(Spanned<T>);

impl<T> Sp<T> {
    /// The value.
    pub(crate) fn value(&self) -> &T {
        &self.0.value
    }

    /// The byte span of the value's text where the user wrote it (for an alias, the alias).
    /// Empty at offset 0 when the parser could not tell, which never happens for values read
    /// from a `&str`.
    pub(crate) fn span(&self) -> SourceSpan {
        let span = self.0.referenced.span();
        match (span.byte_offset(), span.byte_len()) {
            (Some(offset), Some(len)) => (to_usize(offset), to_usize(len)).into(),
            _ => (0, 0).into(),
        }
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl<T> Deref for Sp<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0.value
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
