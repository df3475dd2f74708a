//! Schema and deserialization helpers that let our types live beside the vitistack platform's CRDs.
//!
//! The platform's objects lack fields our own CRD requires (`clusterName`, …) and carry values our enums
//! do not know. So the Rust types are lenient (serde defaults, unknown enum values read as absent) while
//! the schema we publish stays strict: [`RequireFields`] re-adds the `required` list that the serde
//! defaults would otherwise drop from the generated schema.

use schemars::Schema;
use schemars::transform::Transform;
use serde::{Deserialize, Deserializer};

/// Marks object properties as required in a generated schema and removes their `default`, so a field
/// that serde fills in when absent (to accept the platform's objects) is still mandatory in our CRD.
#[derive(Debug, Clone, Copy)]
pub struct RequireFields(pub &'static [&'static str]);

impl Transform for RequireFields {
    fn transform(&mut self, schema: &mut Schema) {
        let Some(object) = schema.as_object_mut() else {
            return;
        };
        if let Some(serde_json::Value::Object(properties)) = object.get_mut("properties") {
            for name in self.0 {
                if let Some(serde_json::Value::Object(property)) = properties.get_mut(*name) {
                    property.remove("default");
                }
            }
        }
        let mut required: Vec<String> = match object.get("required") {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        for name in self.0 {
            if !required.iter().any(|r| r == name) {
                required.push((*name).to_owned());
            }
        }
        required.sort();
        object.insert("required".into(), required.into());
    }
}

/// Reads an optional value, treating anything this version does not understand as absent.
///
/// Status written by another controller (or an older/newer operator) must never make the whole object
/// unreadable: the operator recomputes these fields anyway.
pub fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

/// Like [`lenient`] for lists: entries that do not parse are dropped, a non-list reads as empty.
pub fn lenient_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}
