//! `POST /_security/user/_has_privileges` (docs/elasticsearch-ml-api.md §2.14, §11.6): answers
//! from the role model; index privileges from the roles' `indices`, never application
//! privileges.

use serde_json::{Map, Value, json};

use super::{IndexPrivilege, Principal, Privilege};
use crate::EsError;

impl Principal {
    /// `POST /_security/user/_has_privileges` (§2.14). `body` is `Value::Null` when the request
    /// had none.
    pub(crate) fn has_privileges(&self, body: &Value) -> Result<Value, EsError> {
        let object = match body {
            Value::Null => {
                return Err(EsError::new(
                    400,
                    "parse_exception",
                    "request body or source parameter is required",
                ));
            }
            Value::Object(object) => object,
            _ => {
                return Err(body_error(
                    "[1:1] [has_privileges_request] Expected START_OBJECT",
                ));
            }
        };
        if let Some(key) = object
            .keys()
            .find(|key| !matches!(key.as_str(), "cluster" | "index" | "application"))
        {
            return Err(body_error(&format!(
                "[1:2] [has_privileges_request] unknown field [{key}]"
            )));
        }
        let requested = ["cluster", "index", "application"].iter().any(|field| {
            object
                .get(*field)
                .is_some_and(|value| value.as_array().is_none_or(|items| !items.is_empty()))
        });
        if !requested {
            return Err(EsError::new(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: must specify at least one privilege;",
            ));
        }
        let mut all = true;
        let mut cluster = Map::new();
        for name in string_list(object.get("cluster"), "cluster")? {
            let granted = self.cluster_privilege(&name)?;
            all &= granted;
            cluster.insert(name, Value::Bool(granted));
        }
        let mut index = Map::new();
        for entry in object_list(object.get("index"), "index")? {
            let names = string_list(entry.get("names"), "names")?;
            let privileges = string_list(entry.get("privileges"), "privileges")?;
            for name in names {
                let held: Vec<IndexPrivilege> = self
                    .indices
                    .iter()
                    .filter(|entry| entry.matches(&name))
                    .flat_map(|entry| entry.privileges.iter().copied())
                    .collect();
                let slot = index.entry(name).or_insert_with(|| json!({}));
                for privilege in &privileges {
                    let granted = index_privilege(privilege)?.covered_by(&held);
                    all &= granted;
                    slot[privilege.as_str()] = Value::Bool(granted);
                }
            }
        }
        let mut application = Map::new();
        for entry in object_list(object.get("application"), "application")? {
            let app = entry
                .get("application")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let resources = string_list(entry.get("resources"), "resources")?;
            let privileges = string_list(entry.get("privileges"), "privileges")?;
            let slot = application.entry(app).or_insert_with(|| json!({}));
            for resource in resources {
                let granted: Map<String, Value> = privileges
                    .iter()
                    .map(|privilege| (privilege.clone(), Value::Bool(false)))
                    .collect();
                all &= granted.is_empty();
                slot[resource.as_str()] = Value::Object(granted);
            }
        }
        Ok(json!({
            "username": self.username,
            "has_all_requested": all,
            "cluster": cluster,
            "index": index,
            "application": application,
        }))
    }

    /// One requested cluster privilege: a known name, or an action pattern
    /// (`cluster:…`, as ES's `isClusterAction`); anything else is ES's 400.
    fn cluster_privilege(&self, name: &str) -> Result<bool, EsError> {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("cluster:") || lower.starts_with("indices:admin/template/") {
            return Ok(self.roles.iter().any(|role| role.grants_pattern(&lower)));
        }
        match Privilege::from_name(&lower) {
            Some(privilege) => Ok(self.holds(privilege)),
            None => {
                let names: Vec<&str> = Privilege::ALL.iter().map(|p| p.name()).collect();
                Err(EsError::new(
                    400,
                    "illegal_argument_exception",
                    format!(
                        "unknown cluster privilege [{lower}]. a privilege must be either one of \
                         the predefined cluster privilege names [{}] or a pattern over one of \
                         the available cluster actions",
                        names.join(",")
                    ),
                ))
            }
        }
    }
}

/// A requested index privilege by name; an unknown name is ES's 400.
fn index_privilege(name: &str) -> Result<IndexPrivilege, EsError> {
    let lower = name.to_ascii_lowercase();
    IndexPrivilege::from_name(&lower).ok_or_else(|| {
        let names: Vec<&str> = IndexPrivilege::ALL.iter().map(|p| p.name()).collect();
        EsError::new(
            400,
            "illegal_argument_exception",
            format!(
                "unknown index privilege [{lower}]. a privilege must be either one of the \
                 predefined fixed indices privileges [{}] or a pattern over one of the available \
                 index actions",
                names.join(",")
            ),
        )
    })
}

fn body_error(reason: &str) -> EsError {
    EsError::new(400, "x_content_parse_exception", reason)
}

fn string_list(value: Option<&Value>, field: &str) -> Result<Vec<String>, EsError> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                _ => Err(body_error(&format!(
                    "[1:2] [has_privileges_request] failed to parse field [{field}]"
                ))),
            })
            .collect(),
        Some(Value::String(text)) => Ok(vec![text.clone()]),
        Some(_) => Err(body_error(&format!(
            "[1:2] [has_privileges_request] failed to parse field [{field}]"
        ))),
    }
}

fn object_list<'a>(
    value: Option<&'a Value>,
    field: &str,
) -> Result<Vec<&'a Map<String, Value>>, EsError> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_object().ok_or_else(|| {
                    body_error(&format!(
                        "[1:2] [has_privileges_request] failed to parse field [{field}]"
                    ))
                })
            })
            .collect(),
        Some(_) => Err(body_error(&format!(
            "[1:2] [has_privileges_request] failed to parse field [{field}]"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{basic, security};
    use super::*;

    #[test]
    fn has_privileges_answers_from_the_role_model() {
        let admin = security()
            .authenticate(&basic("admin", "s3cret"), "/")
            .unwrap();
        let answer = admin
            .has_privileges(&json!({"cluster": ["manage_ml", "monitor_ml"]}))
            .unwrap();
        assert_eq!(
            answer,
            json!({"username": "admin", "has_all_requested": true,
                   "cluster": {"manage_ml": true, "monitor_ml": true},
                   "index": {}, "application": {}})
        );
        let answer = admin
            .has_privileges(&json!({"cluster": ["manage", "cluster:admin/xpack/ml/*"],
                                    "index": [{"names": ["logs"], "privileges": ["read"]}]}))
            .unwrap();
        assert_eq!(answer["has_all_requested"], false);
        assert_eq!(answer["cluster"]["manage"], false);
        assert_eq!(answer["cluster"]["cluster:admin/xpack/ml/*"], true);
        assert_eq!(answer["index"], json!({"logs": {"read": false}}));
    }

    #[test]
    fn has_privileges_refuses_unknown_names_and_missing_body() {
        let admin = security()
            .authenticate(&basic("admin", "s3cret"), "/")
            .unwrap();
        let error = admin
            .has_privileges(&json!({"cluster": ["manage_everything"]}))
            .unwrap_err();
        assert_eq!(error.status.as_u16(), 400);
        assert!(
            error
                .reason()
                .starts_with("unknown cluster privilege [manage_everything]. ")
        );
        let error = admin.has_privileges(&json!({"cluster": []})).unwrap_err();
        assert_eq!(
            error.error_type(),
            Some("action_request_validation_exception")
        );
        assert_eq!(
            error.reason(),
            "Validation Failed: 1: must specify at least one privilege;"
        );
        let error = admin.has_privileges(&Value::Null).unwrap_err();
        assert_eq!(error.error_type(), Some("parse_exception"));
        assert_eq!(
            error.reason(),
            "request body or source parameter is required"
        );
    }
}
