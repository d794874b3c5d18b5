//! Field types: explicit `mappings.properties`, and dynamic mapping of new fields the way ES's
//! default dynamic templates map them (strings as `text` with a `.keyword` sub-field, or `date`
//! when they look like one; integers `long`, decimals `float`, booleans `boolean`;
//! docs/elasticsearch-ml-api.md §11.4).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::EsError;
use crate::params::parse_date;

/// A field's type, as far as queries and sorts need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Keyword,
    Text,
    Long,
    Double,
    Date,
    Boolean,
    /// A type the simulator stores but does not query (`object`, `nested`, `flattened`, …).
    Other,
}

impl FieldType {
    fn from_name(name: &str) -> FieldType {
        match name {
            "keyword" | "constant_keyword" | "wildcard" => FieldType::Keyword,
            "text" | "match_only_text" => FieldType::Text,
            "long" | "integer" | "short" | "byte" | "unsigned_long" => FieldType::Long,
            "double" | "float" | "half_float" | "scaled_float" => FieldType::Double,
            "date" | "date_nanos" => FieldType::Date,
            "boolean" => FieldType::Boolean,
            _ => FieldType::Other,
        }
    }
}

/// One index's mapping: its fields by dotted path, and the mapping JSON as `GET /<index>` shows
/// it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mapping {
    fields: BTreeMap<String, FieldType>,
    /// `properties` as given or added, for `GET /<index>`.
    properties: Map<String, Value>,
}

impl Mapping {
    /// The mapping of `PUT /<index>`'s `mappings` (`{"properties": {…}}`).
    pub(crate) fn explicit(mappings: Option<&Value>) -> Result<Mapping, EsError> {
        let mut mapping = Mapping::default();
        let Some(mappings) = mappings else {
            return Ok(mapping);
        };
        let Some(object) = mappings.as_object() else {
            return Err(mapper_error(
                "Failed to parse mapping: mappings must be an object",
            ));
        };
        if let Some(properties) = object.get("properties").and_then(Value::as_object) {
            mapping.properties = properties.clone();
            mapping.add_properties("", properties)?;
        }
        Ok(mapping)
    }

    fn add_properties(
        &mut self,
        prefix: &str,
        properties: &Map<String, Value>,
    ) -> Result<(), EsError> {
        for (name, definition) in properties {
            let path = format!("{prefix}{name}");
            if let Some(nested) = definition.get("properties").and_then(Value::as_object) {
                self.fields.insert(path.clone(), FieldType::Other);
                self.add_properties(&format!("{path}."), nested)?;
                continue;
            }
            let Some(kind) = definition.get("type").and_then(Value::as_str) else {
                return Err(mapper_error(&format!(
                    "Failed to parse mapping: No type specified for field [{name}]"
                )));
            };
            self.fields.insert(path.clone(), FieldType::from_name(kind));
            if let Some(fields) = definition.get("fields").and_then(Value::as_object) {
                for (sub, sub_definition) in fields {
                    let kind = sub_definition
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    self.fields
                        .insert(format!("{path}.{sub}"), FieldType::from_name(kind));
                }
            }
        }
        Ok(())
    }

    /// The type of a dotted field path, if mapped.
    pub(crate) fn field(&self, path: &str) -> Option<FieldType> {
        self.fields.get(path).copied()
    }

    /// Maps the fields of a new document that are not mapped yet (dynamic mapping).
    pub(crate) fn learn(&mut self, source: &Map<String, Value>) {
        let mut added = Vec::new();
        self.learn_object("", source, &mut added);
        for (path, definition) in added {
            insert_property(&mut self.properties, &path, definition);
        }
    }

    fn learn_object(
        &mut self,
        prefix: &str,
        object: &Map<String, Value>,
        added: &mut Vec<(String, Value)>,
    ) {
        for (name, value) in object {
            let path = format!("{prefix}{name}");
            self.learn_value(&path, value, added);
        }
    }

    fn learn_value(&mut self, path: &str, value: &Value, added: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(object) => {
                self.fields
                    .entry(path.to_owned())
                    .or_insert(FieldType::Other);
                self.learn_object(&format!("{path}."), object, added);
            }
            Value::Array(items) => {
                for item in items {
                    self.learn_value(path, item, added);
                }
            }
            Value::Null => {}
            _ if self.fields.contains_key(path) => {}
            Value::String(text) if looks_like_date(text) => {
                self.fields.insert(path.to_owned(), FieldType::Date);
                added.push((path.to_owned(), json!({"type": "date"})));
            }
            Value::String(_) => {
                self.fields.insert(path.to_owned(), FieldType::Text);
                self.fields
                    .insert(format!("{path}.keyword"), FieldType::Keyword);
                added.push((
                    path.to_owned(),
                    json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}),
                ));
            }
            Value::Number(number) => {
                let (kind, name) = if number.is_f64() {
                    (FieldType::Double, "float")
                } else {
                    (FieldType::Long, "long")
                };
                self.fields.insert(path.to_owned(), kind);
                added.push((path.to_owned(), json!({"type": name})));
            }
            Value::Bool(_) => {
                self.fields.insert(path.to_owned(), FieldType::Boolean);
                added.push((path.to_owned(), json!({"type": "boolean"})));
            }
        }
    }

    /// The `mappings` object of `GET /<index>`.
    pub(crate) fn to_json(&self) -> Value {
        if self.properties.is_empty() {
            json!({})
        } else {
            json!({"properties": self.properties})
        }
    }
}

/// Adds `definition` at a dotted path of a `properties` tree.
fn insert_property(properties: &mut Map<String, Value>, path: &str, definition: Value) {
    match path.split_once('.') {
        None => {
            properties.insert(path.to_owned(), definition);
        }
        Some((head, rest)) => {
            let entry = properties
                .entry(head.to_owned())
                .or_insert_with(|| json!({"properties": {}}));
            if entry.get("properties").is_none() {
                entry["properties"] = json!({});
            }
            if let Some(nested) = entry["properties"].as_object_mut() {
                insert_property(nested, rest, definition);
            }
        }
    }
}

/// ES's default `dynamic_date_formats` (`strict_date_optional_time`, `yyyy/MM/dd HH:mm:ss Z`):
/// the simulator detects the ISO form.
fn looks_like_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && parse_date(text, jiff::Timestamp::now()).is_some()
}

fn mapper_error(reason: &str) -> EsError {
    EsError::new(400, "mapper_parsing_exception", reason)
}

/// The values at a dotted path of a source document (arrays flattened). A `.keyword` sub-field
/// of a dynamically mapped string reads the string itself.
pub(crate) fn values_at<'a>(source: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut found = Vec::new();
    collect(source, path, &mut found);
    if found.is_empty()
        && let Some(parent) = path.strip_suffix(".keyword")
    {
        collect(source, parent, &mut found);
    }
    found
}

fn collect<'a>(value: &'a Value, path: &str, found: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => {
            for item in items {
                collect(item, path, found);
            }
        }
        Value::Object(object) => {
            if let Some(direct) = object.get(path) {
                flatten(direct, found);
                return;
            }
            for (key, child) in object {
                if let Some(rest) = path
                    .strip_prefix(key.as_str())
                    .and_then(|rest| rest.strip_prefix('.'))
                {
                    collect(child, rest, found);
                }
            }
        }
        _ => {}
    }
}

fn flatten<'a>(value: &'a Value, found: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => {
            for item in items {
                flatten(item, found);
            }
        }
        Value::Null => {}
        other => found.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_mapping_follows_es_defaults() {
        let mut mapping = Mapping::default();
        let doc = json!({"run": "r-1", "seq": 3, "at": "2024-05-01T10:00:00Z", "ok": true,
                         "ratio": 0.5, "meta": {"host": "h1"}});
        mapping.learn(doc.as_object().unwrap());
        assert_eq!(mapping.field("run"), Some(FieldType::Text));
        assert_eq!(mapping.field("run.keyword"), Some(FieldType::Keyword));
        assert_eq!(mapping.field("seq"), Some(FieldType::Long));
        assert_eq!(mapping.field("at"), Some(FieldType::Date));
        assert_eq!(mapping.field("ok"), Some(FieldType::Boolean));
        assert_eq!(mapping.field("ratio"), Some(FieldType::Double));
        assert_eq!(mapping.field("meta.host"), Some(FieldType::Text));
        assert_eq!(
            mapping.to_json()["properties"]["meta"]["properties"]["host"]["type"],
            "text"
        );
    }

    #[test]
    fn explicit_mappings_win_and_values_are_found_by_path() {
        let mappings =
            json!({"properties": {"run": {"type": "keyword"}, "n": {"type": "integer"}}});
        let mut mapping = Mapping::explicit(Some(&mappings)).unwrap();
        mapping.learn(json!({"run": "2024-05-01"}).as_object().unwrap());
        assert_eq!(mapping.field("run"), Some(FieldType::Keyword));
        let doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        assert_eq!(values_at(&doc, "a.b").len(), 2);
        assert_eq!(values_at(&doc, "c.keyword"), [&json!("x")]);
    }
}
