//! Index privileges and role descriptors (docs/elasticsearch-ml-api.md §11.6): the named index
//! privileges the document API needs, the index actions each grants (ES's `IndexPrivilege`), and
//! the roles of the seed in ES's role-descriptor shape (`cluster`, `indices[].names`,
//! `indices[].privileges`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Privilege;

/// The index privileges the simulator models, in the order ES lists them when it names the
/// privileges that grant an action (fewest actions first, then by name).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IndexPrivilege {
    /// `indices:data/write/index` with `op_type=create` (never overwrites).
    CreateDoc,
    /// `indices:data/write/index` with `op_type=create`, and bulk.
    Create,
    /// `indices:data/write/delete*`.
    Delete,
    /// `indices:data/write/index*`, `indices:data/write/update*`, bulk.
    Index,
    /// `indices:admin/refresh*` (and flush, force merge).
    Maintenance,
    /// `indices:admin/create`, `indices:admin/auto_create`.
    CreateIndex,
    /// `indices:admin/delete` (not an action the simulator serves).
    DeleteIndex,
    /// `indices:admin/auto_create` (and mapping updates).
    AutoConfigure,
    /// `indices:admin/get` and other metadata reads.
    ViewIndexMetadata,
    /// `indices:data/read/*`.
    Read,
    /// `indices:data/write/*`.
    Write,
    /// `indices:admin/*`, `indices:monitor/*`.
    Manage,
    /// everything.
    All,
}

/// An index action the simulator authorizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexAction {
    /// `PUT /<index>/_doc/<id>` or `POST /<index>/_doc`; `create` is `op_type=create`.
    Index {
        create: bool,
    },
    Delete,
    /// One item of a bulk request (`indices:data/write/bulk[s]`).
    BulkItem,
    Get,
    Search,
    Refresh,
    CreateIndex,
    AutoCreate,
    GetIndex,
}

impl IndexAction {
    /// The transport action name ES prints in its 403.
    pub(crate) fn name(self) -> &'static str {
        match self {
            IndexAction::Index { .. } => "indices:data/write/index",
            IndexAction::Delete => "indices:data/write/delete",
            IndexAction::BulkItem => "indices:data/write/bulk[s]",
            IndexAction::Get => "indices:data/read/get",
            IndexAction::Search => "indices:data/read/search",
            IndexAction::Refresh => "indices:admin/refresh",
            IndexAction::CreateIndex => "indices:admin/create",
            IndexAction::AutoCreate => "indices:admin/auto_create",
            IndexAction::GetIndex => "indices:admin/get",
        }
    }

    /// The privileges ES names as granting the action, in its order (`AuthorizationDenialMessages`
    /// with `IndexPrivilege.findPrivilegesThatGrant`).
    pub(crate) fn granted_by(self) -> &'static [IndexPrivilege] {
        use IndexPrivilege::*;
        match self {
            IndexAction::Index { .. } => &[CreateDoc, Create, Index, Write, All],
            IndexAction::Delete => &[Delete, Write, All],
            IndexAction::BulkItem => &[CreateDoc, Create, Delete, Index, Write, All],
            IndexAction::Get | IndexAction::Search => &[Read, All],
            IndexAction::Refresh => &[Maintenance, Manage, All],
            IndexAction::CreateIndex => &[CreateIndex, Manage, All],
            IndexAction::AutoCreate => &[AutoConfigure, CreateIndex, Manage, All],
            IndexAction::GetIndex => &[ViewIndexMetadata, Manage, All],
        }
    }
}

/// Every action above, for implication between privileges (`_has_privileges`).
const ACTIONS: [IndexAction; 10] = [
    IndexAction::Index { create: true },
    IndexAction::Index { create: false },
    IndexAction::Delete,
    IndexAction::BulkItem,
    IndexAction::Get,
    IndexAction::Search,
    IndexAction::Refresh,
    IndexAction::CreateIndex,
    IndexAction::AutoCreate,
    IndexAction::GetIndex,
];

impl IndexPrivilege {
    /// Every index privilege, in ES's listing order.
    pub const ALL: [IndexPrivilege; 13] = [
        IndexPrivilege::CreateDoc,
        IndexPrivilege::Create,
        IndexPrivilege::Delete,
        IndexPrivilege::Index,
        IndexPrivilege::Maintenance,
        IndexPrivilege::CreateIndex,
        IndexPrivilege::DeleteIndex,
        IndexPrivilege::AutoConfigure,
        IndexPrivilege::ViewIndexMetadata,
        IndexPrivilege::Read,
        IndexPrivilege::Write,
        IndexPrivilege::Manage,
        IndexPrivilege::All,
    ];

    /// The ES name (`create_doc`, `read`, …).
    pub fn name(self) -> &'static str {
        match self {
            IndexPrivilege::CreateDoc => "create_doc",
            IndexPrivilege::Create => "create",
            IndexPrivilege::Delete => "delete",
            IndexPrivilege::Index => "index",
            IndexPrivilege::Maintenance => "maintenance",
            IndexPrivilege::CreateIndex => "create_index",
            IndexPrivilege::DeleteIndex => "delete_index",
            IndexPrivilege::AutoConfigure => "auto_configure",
            IndexPrivilege::ViewIndexMetadata => "view_index_metadata",
            IndexPrivilege::Read => "read",
            IndexPrivilege::Write => "write",
            IndexPrivilege::Manage => "manage",
            IndexPrivilege::All => "all",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<IndexPrivilege> {
        IndexPrivilege::ALL
            .into_iter()
            .find(|privilege| privilege.name() == name)
    }

    /// Whether the privilege grants the action.
    pub(crate) fn grants(self, action: IndexAction) -> bool {
        use IndexPrivilege::*;
        match action {
            // `create_doc` and `create` never overwrite (ES checks the op type of the request).
            IndexAction::Index { create: false } => matches!(self, Index | Write | All),
            _ => action.granted_by().contains(&self),
        }
    }

    /// Whether holding `held` grants every modelled action `self` grants.
    pub(crate) fn covered_by(self, held: &[IndexPrivilege]) -> bool {
        if held.contains(&self) || held.contains(&IndexPrivilege::All) {
            return true;
        }
        if self == IndexPrivilege::DeleteIndex {
            // An admin action outside the modelled ones: within `manage`.
            return held.contains(&IndexPrivilege::Manage);
        }
        ACTIONS
            .iter()
            .filter(|action| self.grants(**action))
            .all(|action| held.iter().any(|privilege| privilege.grants(*action)))
    }
}

/// One entry of a role's `indices`: which index names (wildcards allowed) get which privileges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndicesPrivileges {
    /// Index names or patterns with `*`, e.g. `.quiesce*`.
    pub names: Vec<String>,
    /// Index privileges on them, e.g. `[read, write, create_index]`.
    pub privileges: Vec<IndexPrivilege>,
}

/// A role of the seed, in ES's role-descriptor shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDescriptor {
    /// Cluster privileges (the five the simulator models).
    #[serde(default)]
    pub cluster: Vec<Privilege>,
    /// Index privileges.
    #[serde(default)]
    pub indices: Vec<IndicesPrivileges>,
}

impl IndicesPrivileges {
    /// Whether the entry covers the index name (`*` matches any run of characters).
    pub(crate) fn matches(&self, index: &str) -> bool {
        self.names.iter().any(|pattern| glob(pattern, index))
    }
}

/// Simple `*` wildcard matching, as index patterns use it.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_index_patterns() {
        assert!(glob(".quiesce*", ".quiesce"));
        assert!(glob(".quiesce*", ".quiesce-runs"));
        assert!(!glob(".quiesce*", "quiesce"));
        assert!(glob("*", "anything"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXbY"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
    }

    #[test]
    fn write_implies_index_and_delete_but_not_read() {
        use IndexPrivilege::*;
        assert!(Index.covered_by(&[Write]));
        assert!(Delete.covered_by(&[Write]));
        assert!(CreateDoc.covered_by(&[Index]));
        assert!(!Index.covered_by(&[CreateDoc]));
        assert!(!Read.covered_by(&[Write]));
        assert!(Read.covered_by(&[All]));
        assert!(CreateIndex.covered_by(&[Manage]));
    }

    #[test]
    fn create_doc_does_not_overwrite() {
        use IndexPrivilege::*;
        assert!(CreateDoc.grants(IndexAction::Index { create: true }));
        assert!(!CreateDoc.grants(IndexAction::Index { create: false }));
        assert!(Write.grants(IndexAction::Index { create: false }));
    }
}
