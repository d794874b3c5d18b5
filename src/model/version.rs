//! [`EsVersion`]: an Elasticsearch release number (`9.0.0`), as a playbook's
//! `upgrade.target_version`, `--target-version` and the root endpoint give it, and the rule of
//! which model snapshots a version can open (docs/elasticsearch-ml-api.md §12.1).

use std::fmt;

use serde::{Deserialize, Serialize};

/// `major.minor.patch`; a suffix such as `-SNAPSHOT` is read and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct EsVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl EsVersion {
    pub(crate) const fn new(major: u32, minor: u32, patch: u32) -> EsVersion {
        EsVersion {
            major,
            minor,
            patch,
        }
    }

    /// Reads `9.0.0`, `8.15.2-SNAPSHOT`; the reason when it is not a version.
    pub(crate) fn parse(text: &str) -> Result<EsVersion, String> {
        let core = text.split(['-', '+']).next().unwrap_or_default();
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 {
            return Err("a version is three numbers, `major.minor.patch`".to_owned());
        }
        let number = |part: &str| {
            part.parse::<u32>()
                .map_err(|_| format!("`{part}` is not a number"))
        };
        Ok(EsVersion::new(
            number(parts[0])?,
            number(parts[1])?,
            number(parts[2])?,
        ))
    }

    /// The oldest snapshot `min_version` a cluster on this version opens
    /// (`MachineLearningField`, docs/elasticsearch-ml-api.md §12.1): 9.x requires 8.3.0, the
    /// last change of the model-state format (`MIN_SUPPORTED_SNAPSHOT_VERSION`); 8.x and 7.x
    /// check 6.4.0 (`MIN_CHECKED_SUPPORTED_SNAPSHOT_VERSION`). A later major is taken to keep
    /// Elastic's documented rule, snapshots of the current or the previous major only.
    pub(crate) fn oldest_openable_snapshot(self) -> EsVersion {
        match self.major {
            0..=8 => EsVersion::new(6, 4, 0),
            9 => EsVersion::new(8, 3, 0),
            major => EsVersion::new(major - 1, 0, 0),
        }
    }

    /// Whether a snapshot whose `min_version` is `snapshot` opens on this version.
    pub(crate) fn opens_snapshot(self, snapshot: EsVersion) -> bool {
        snapshot >= self.oldest_openable_snapshot()
    }
}

impl fmt::Display for EsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl TryFrom<String> for EsVersion {
    type Error = String;

    fn try_from(text: String) -> Result<EsVersion, String> {
        EsVersion::parse(&text)
    }
}

impl From<EsVersion> for String {
    fn from(version: EsVersion) -> String {
        version.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> EsVersion {
        EsVersion::parse(text).expect("a version")
    }

    #[test]
    fn versions_read_with_or_without_a_suffix() {
        assert_eq!(v("9.0.0"), EsVersion::new(9, 0, 0));
        assert_eq!(v("8.15.2-SNAPSHOT"), EsVersion::new(8, 15, 2));
        assert!(EsVersion::parse("9.0").is_err());
        assert!(EsVersion::parse("nine.0.0").is_err());
        assert!(v("8.10.0") > v("8.9.3"));
    }

    #[test]
    fn which_snapshots_a_version_opens_follows_elasticsearch() {
        // 9.x: `MIN_SUPPORTED_SNAPSHOT_VERSION` 8.3.0 (docs/elasticsearch-ml-api.md §12.1).
        assert!(v("9.0.0").opens_snapshot(v("8.3.0")));
        assert!(!v("9.0.0").opens_snapshot(v("8.2.9")));
        assert!(!v("9.1.0").opens_snapshot(v("7.17.0")));
        // 8.x: `MIN_CHECKED_SUPPORTED_SNAPSHOT_VERSION` 6.4.0.
        assert!(v("8.15.0").opens_snapshot(v("7.0.0")));
        assert!(v("8.15.0").opens_snapshot(v("6.4.0")));
        assert!(!v("8.15.0").opens_snapshot(v("6.3.2")));
        // Beyond what the docs record: the current or previous major.
        assert!(v("10.0.0").opens_snapshot(v("9.0.0")));
        assert!(!v("10.0.0").opens_snapshot(v("8.19.0")));
    }
}
