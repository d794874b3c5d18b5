//! The cluster privileges the simulator models and how they imply each other (ES's
//! `ClusterPrivilegeResolver`, docs/elasticsearch-ml-api.md §2.14): `manage_ml` ⊇ `monitor_ml`, `monitor` ⊇
//! `monitor_ml`, `manage` ⊇ all three, `all` ⊇ everything.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The cluster privileges the simulator models, least to most privileged (ES's order).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Privilege {
    /// `cluster:monitor/xpack/ml/*`: read jobs, datafeeds, stats.
    MonitorMl,
    /// `cluster:admin/xpack/ml/*` and `monitor_ml`.
    ManageMl,
    /// `cluster:monitor/*` (includes `monitor_ml`).
    Monitor,
    /// every cluster action but security administration (includes the three above).
    Manage,
    /// everything.
    All,
}

impl Privilege {
    /// All of them, in ES's least-to-most order.
    pub const ALL: [Privilege; 5] = [
        Privilege::MonitorMl,
        Privilege::ManageMl,
        Privilege::Monitor,
        Privilege::Manage,
        Privilege::All,
    ];

    /// The ES name (`manage_ml`, …).
    pub fn name(self) -> &'static str {
        match self {
            Privilege::MonitorMl => "monitor_ml",
            Privilege::ManageMl => "manage_ml",
            Privilege::Monitor => "monitor",
            Privilege::Manage => "manage",
            Privilege::All => "all",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<Privilege> {
        Privilege::ALL
            .into_iter()
            .find(|privilege| privilege.name() == name)
    }

    /// Whether holding `self` grants `other`.
    pub fn implies(self, other: Privilege) -> bool {
        use Privilege::*;
        match self {
            All => true,
            Manage => other != All,
            Monitor => matches!(other, Monitor | MonitorMl),
            ManageMl => matches!(other, ManageMl | MonitorMl),
            MonitorMl => other == MonitorMl,
        }
    }

    /// The action-name prefixes it grants (every action under each prefix).
    fn action_prefixes(self) -> &'static [&'static str] {
        match self {
            Privilege::MonitorMl => &["cluster:monitor/xpack/ml/"],
            Privilege::ManageMl => &["cluster:admin/xpack/ml/", "cluster:monitor/xpack/ml/"],
            Privilege::Monitor => &["cluster:monitor/"],
            Privilege::Manage => &["cluster:"],
            Privilege::All => &[""],
        }
    }

    /// Whether it grants every action an action pattern (`cluster:admin/xpack/ml/*`) covers.
    pub(super) fn grants_pattern(self, pattern: &str) -> bool {
        let literal = pattern.split('*').next().unwrap_or("");
        let security = "cluster:admin/xpack/security/";
        if self == Privilege::Manage
            && (literal.starts_with(security) || security.starts_with(literal))
        {
            return false;
        }
        self.action_prefixes()
            .iter()
            .any(|prefix| literal.starts_with(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manage_ml_implies_monitor_ml_and_manage_implies_both() {
        use Privilege::*;
        assert!(ManageMl.implies(MonitorMl));
        assert!(!MonitorMl.implies(ManageMl));
        assert!(Manage.implies(ManageMl) && Manage.implies(MonitorMl) && Manage.implies(Monitor));
        assert!(Monitor.implies(MonitorMl) && !Monitor.implies(ManageMl));
        assert!(Privilege::ALL.iter().all(|p| All.implies(*p)));
        assert!(!Manage.implies(All));
    }
}
