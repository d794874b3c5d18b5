//! The small value types of a seed: byte sizes (`512kb`, `2gb`), the ES version and its
//! behaviour switches, the latency profile, and the span of a `serde_saphyr::Spanned` value in
//! the YAML it was read from.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use miette::SourceSpan;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

/// The byte span of a value in the seed text, when known (a value made in code has none).
pub(crate) fn span_of<T>(spanned: &Spanned<T>) -> Option<SourceSpan> {
    let span = spanned.referenced.span();
    let offset = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    Some(SourceSpan::from((offset, len)))
}

/// `T`'s schema written in place, for a `Spanned<T>` field (`#[schemars(schema_with = ..)]`):
/// the span is invisible in the YAML, and `with = "T"` would add a `$ref` and a definition.
pub(crate) fn inline_schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    T::json_schema(generator)
}

/// A size in bytes written as `512kb`, `1mb`, `2gb` (base 1024; units b, kb, mb, gb, tb) or a
/// plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 9] = [
    ("tb", 1 << 40),
    ("gb", 1 << 30),
    ("mb", 1 << 20),
    ("kb", 1 << 10),
    ("t", 1 << 40),
    ("g", 1 << 30),
    ("m", 1 << 20),
    ("k", 1 << 10),
    ("b", 1),
];

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<ByteSize, String> {
        let lower = text.trim().to_ascii_lowercase();
        let (number, scale) = UNITS
            .iter()
            .find_map(|(unit, scale)| lower.strip_suffix(unit).map(|number| (number, *scale)))
            .unwrap_or((lower.as_str(), 1));
        let number: u64 = number.trim().parse().map_err(|_| {
            format!("invalid byte size `{text}`: expected a whole number and a unit such as `512kb`, `1mb`, `2gb`")
        })?;
        number
            .checked_mul(scale)
            .map(ByteSize)
            .ok_or_else(|| format!("byte size `{text}` is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        for (unit, scale) in &UNITS[..4] {
            if bytes >= *scale && bytes.is_multiple_of(*scale) {
                return write!(f, "{}{unit}", bytes / scale);
            }
        }
        write!(f, "{bytes}b")
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ByteSize, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bytes(bytes) => Ok(ByteSize(bytes)),
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size: a whole number with a unit b, kb, mb, gb or tb (base 1024), e.g. `512kb`, `120mb`, `2gb`; or a number of bytes.",
            "anyOf": [
                {"type": "string", "pattern": "^\\s*[0-9]+\\s*([kKmMgGtT][bB]?|[bB])?\\s*$"},
                {"type": "integer", "minimum": 0}
            ],
            "examples": ["512kb", "120mb", "16gb"]
        })
    }
}

/// The schema of a duration written as text (`250ms`, `2s`, `1m 30s`; jiff's friendly format).
pub struct DurationText;

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration such as `250ms`, `2s`, `1m 30s` or `1h`.",
            "type": "string",
            "examples": ["250ms", "2s", "1m"]
        })
    }
}

/// The schema of an RFC 3339 timestamp (`2026-11-01T00:00:00Z`).
pub struct TimestampText;

impl JsonSchema for TimestampText {
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An RFC 3339 timestamp with a zone, e.g. `2026-11-01T00:00:00Z`.",
            "type": "string",
            "format": "date-time"
        })
    }
}

/// An Elasticsearch version; decides the version-dependent behaviour (docs/elasticsearch-ml-api.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EsVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl EsVersion {
    /// The default simulated version.
    pub const DEFAULT: EsVersion = EsVersion {
        major: 8,
        minor: 15,
        patch: 0,
    };

    const fn at_least(self, major: u32, minor: u32) -> bool {
        self.major > major || (self.major == major && self.minor >= minor)
    }

    /// 7.14+: closing a job stops its datafeed first; before, the close is a 409 (E6).
    pub fn close_stops_datafeed(self) -> bool {
        self.at_least(7, 14)
    }

    /// 7.14+: every response carries `X-elastic-product: Elasticsearch`.
    pub fn sends_product_header(self) -> bool {
        self.at_least(7, 14)
    }

    /// 7.8+: open job and start datafeed answer with the `node` they were assigned to
    /// (PR #55473, backported to 7.8 in #55570).
    pub fn answers_with_node(self) -> bool {
        self.at_least(7, 8)
    }
}

impl Default for EsVersion {
    fn default() -> EsVersion {
        EsVersion::DEFAULT
    }
}

impl FromStr for EsVersion {
    type Err = String;

    /// `X.Y.Z` (a `-SNAPSHOT`-style suffix is ignored) or `X.Y` (patch 0).
    fn from_str(text: &str) -> Result<EsVersion, String> {
        let core = text.trim().split(['-', '+']).next().unwrap_or("");
        let parts: Vec<&str> = core.split('.').collect();
        let number = |part: &str| part.parse::<u32>().ok();
        let invalid =
            || format!("invalid Elasticsearch version `{text}`: expected X.Y.Z, e.g. 8.15.0");
        match parts.as_slice() {
            [major, minor, patch] => Ok(EsVersion {
                major: number(major).ok_or_else(invalid)?,
                minor: number(minor).ok_or_else(invalid)?,
                patch: number(patch).ok_or_else(invalid)?,
            }),
            [major, minor] => Ok(EsVersion {
                major: number(major).ok_or_else(invalid)?,
                minor: number(minor).ok_or_else(invalid)?,
                patch: 0,
            }),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for EsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl<'de> Deserialize<'de> for EsVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EsVersion, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for EsVersion {
    fn schema_name() -> Cow<'static, str> {
        "EsVersion".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An Elasticsearch version X.Y.Z; 7.13.x and older give the pre-7.14 behaviour.",
            "type": "string",
            "pattern": "^[0-9]+\\.[0-9]+(\\.[0-9]+)?([-+].*)?$",
            "examples": ["8.15.0", "7.13.4"]
        })
    }
}

/// How slow the simulated cluster is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// About a millisecond per operation and a very fast persist rate: for tests.
    #[default]
    Fast,
    /// Hundreds of milliseconds per operation and 150 MB/s persistence: to watch progress.
    Realistic,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_use_base_1024() {
        assert_eq!("512kb".parse(), Ok(ByteSize(512 * 1024)));
        assert_eq!("1mb".parse(), Ok(ByteSize(1 << 20)));
        assert_eq!("2GB".parse(), Ok(ByteSize(2 << 30)));
        assert_eq!("16g".parse(), Ok(ByteSize(16 << 30)));
        assert_eq!("1tb".parse(), Ok(ByteSize(1 << 40)));
        assert_eq!("100b".parse(), Ok(ByteSize(100)));
        assert_eq!("4096".parse(), Ok(ByteSize(4096)));
        assert!("1.5gb".parse::<ByteSize>().is_err());
        assert!("lots".parse::<ByteSize>().is_err());
        assert!("99999999tb".parse::<ByteSize>().is_err());
    }

    #[test]
    fn byte_sizes_display_in_the_largest_whole_unit() {
        assert_eq!(ByteSize(1024 << 20).to_string(), "1gb");
        assert_eq!(ByteSize(120 << 20).to_string(), "120mb");
        assert_eq!(ByteSize(1000).to_string(), "1000b");
    }

    #[test]
    fn versions_parse_and_switch_at_7_14() {
        let old: EsVersion = "7.13.4".parse().unwrap();
        let new: EsVersion = "7.14.0".parse().unwrap();
        assert!(!old.close_stops_datafeed() && !old.sends_product_header());
        assert!(new.close_stops_datafeed() && new.sends_product_header());
        assert!(EsVersion::DEFAULT.close_stops_datafeed());
        assert!("6.8.23".parse::<EsVersion>().unwrap() < old);
        assert_eq!("8.15".parse::<EsVersion>().unwrap().to_string(), "8.15.0");
        assert_eq!(
            "9.1.0-SNAPSHOT".parse::<EsVersion>().unwrap().to_string(),
            "9.1.0"
        );
        assert!("eight".parse::<EsVersion>().is_err());
        assert!("8.x.1".parse::<EsVersion>().is_err());
    }
}
