//! Hand-made schema pieces for the CRDs. A pod template's full schema is about
//! 600 KB with its descriptions; embedded twice (spec and history) it would pass the
//! size an object may have in etcd and break `kubectl apply`. So the spec embeds it
//! without descriptions (every field is still validated, as in a Deployment), and the
//! operator-written history keeps the snapshot unvalidated.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::Value;

fn strip_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("description");
            // A field literally named `description` is a property, not a doc: keep it.
            for (key, child) in map.iter_mut() {
                if key == "properties" {
                    if let Value::Object(properties) = child {
                        properties.values_mut().for_each(strip_descriptions);
                    }
                } else {
                    strip_descriptions(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

/// `spec.serving.template`: a PodTemplateSpec, validated field by field.
pub fn pod_template(generator: &mut SchemaGenerator) -> Schema {
    let schema = generator.subschema_for::<k8s_openapi::api::core::v1::PodTemplateSpec>();
    let mut value = schema.to_value();
    strip_descriptions(&mut value);
    let mut schema = Schema::try_from(value).expect("a schema stays a schema");
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "description".into(),
            "A full pod template (the template form): probes, GPUs, tolerations, volumes, a ServiceAccount, security contexts. Accord merges its labels in and passes the rest through; `replicas` still comes from `spec.serving.replicas`. Its fields are those of a Deployment's `spec.template`.".into(),
        );
    }
    schema
}

/// An object kept as written (for operator-written snapshots).
pub fn opaque_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true,
        "description": "The full serving shape that ran (as spec.serving), so a rollback restores exactly it."
    })
}
