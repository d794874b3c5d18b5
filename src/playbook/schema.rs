//! The playbook JSON Schema, generated from the raw types (draft-07, the newest draft the
//! YAML language server of VS Code reads).

use schemars::generate::SchemaSettings;

use super::RawPlaybook;

/// The schema as pretty JSON with a final newline: exactly `schemas/playbook.schema.json`.
pub(crate) fn playbook_schema() -> String {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<RawPlaybook>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
