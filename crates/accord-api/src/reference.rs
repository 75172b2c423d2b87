//! The API reference (docs/reference.md), generated from the same CRD schemas the API
//! server enforces, so the documentation cannot drift from the validation.

use serde_json::Value;

use super::crds;

fn constraints(node: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(values) = node["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
            .collect();
        parts.push(format!("one of {}", values.join(", ")));
    }
    if let Some(p) = node["pattern"].as_str() {
        parts.push(format!("matches `{p}`"));
    }
    for (key, text) in [
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
    ] {
        if let Some(n) = node[key].as_u64() {
            parts.push(format!("{text} {n}"));
        }
    }
    if let Some(n) = node["minimum"].as_f64() {
        parts.push(format!("≥ {n}"));
    }
    if let Some(n) = node["maximum"].as_f64() {
        parts.push(format!("≤ {n}"));
    }
    if !node["default"].is_null() {
        parts.push(format!("default `{}`", node["default"]));
    }
    if let Some(rules) = node["x-kubernetes-validations"].as_array() {
        for rule in rules {
            parts.push(format!(
                "rule: {}",
                rule["message"]
                    .as_str()
                    .unwrap_or(rule["rule"].as_str().unwrap_or_default())
            ));
        }
    }
    if node["x-kubernetes-list-type"] == "map" {
        parts.push("list keyed by `type`".into());
    }
    parts.join("; ")
}

fn type_of(node: &Value) -> String {
    match node["type"].as_str() {
        Some("array") => format!("[]{}", type_of(&node["items"])),
        Some(t) => t.to_string(),
        None if node["x-kubernetes-int-or-string"] == true => "int or string".into(),
        None => "object".into(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn walk(node: &Value, path: &str, required: bool, depth: usize, rows: &mut Vec<String>) {
    if !path.is_empty() {
        rows.push(format!(
            "| `{path}` | {} | {} | {} | {} |",
            type_of(node),
            if required { "yes" } else { "" },
            one_line(&constraints(node)),
            one_line(node["description"].as_str().unwrap_or_default())
        ));
    }
    // Kubernetes' own types (env, resources, conditions) are documented upstream.
    if depth >= 4
        || path.ends_with(".env")
        || path.ends_with(".resources")
        || path.ends_with(".conditions")
    {
        return;
    }
    let target = if node["type"] == "array" {
        &node["items"]
    } else {
        node
    };
    let required_fields: Vec<&str> = target["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(properties) = target["properties"].as_object() {
        let suffix = if node["type"] == "array" { "[]" } else { "" };
        for (name, child) in properties {
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}{suffix}.{name}")
            };
            walk(
                child,
                &child_path,
                required_fields.contains(&name.as_str()),
                depth + 1,
                rows,
            );
        }
    }
}

/// The whole reference page, as Markdown.
pub fn markdown() -> String {
    let mut out = String::from(
        "# API reference: `accord.dev/v1alpha1`\n\n\
         Generated from the CRD schemas by `make crds`; do not edit by hand. Every constraint \
         listed here is enforced by the API server at `kubectl apply` time. Concepts are in \
         [concepts.md](concepts.md); behaviour in [reconciler.md](reconciler.md).\n",
    );
    for crd in crds() {
        let crd = serde_json::to_value(crd).expect("CRDs serialize");
        let names = &crd["spec"]["names"];
        let version = &crd["spec"]["versions"][0];
        let schema = &version["schema"]["openAPIV3Schema"];
        out.push_str(&format!(
            "\n## {}\n\n",
            names["kind"].as_str().unwrap_or_default()
        ));
        out.push_str(&format!(
            "{}\n\n",
            one_line(schema["description"].as_str().unwrap_or_default())
        ));
        let short: Vec<String> = names["shortNames"]
            .as_array()
            .map(|s| {
                s.iter()
                    .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "Scope: {}. Plural `{}`{}. Category `accord`.",
            crd["spec"]["scope"].as_str().unwrap_or_default(),
            names["plural"].as_str().unwrap_or_default(),
            if short.is_empty() {
                String::new()
            } else {
                format!(", short name {}", short.join(", "))
            }
        ));
        let columns: Vec<String> = version["additionalPrinterColumns"]
            .as_array()
            .map(|c| {
                c.iter()
                    .map(|c| c["name"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        out.push_str(&format!(
            " `kubectl get` columns: {}.\n",
            columns.join(", ")
        ));
        let root_rules = constraints(schema);
        if !root_rules.is_empty() {
            out.push_str(&format!("\nObject-level: {}.\n", one_line(&root_rules)));
        }
        out.push_str("\n| field | type | required | constraints | description |\n| --- | --- | --- | --- | --- |\n");
        let mut rows = Vec::new();
        for part in ["spec", "status"] {
            if !schema["properties"][part].is_null() {
                walk(
                    &schema["properties"][part],
                    part,
                    part == "spec",
                    0,
                    &mut rows,
                );
            }
        }
        out.push_str(&rows.join("\n"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn reference_lists_fields_with_their_rules() {
        let text = super::markdown();
        assert!(
            text.contains("## ModelDeployment")
                && text.contains("## Team")
                && text.contains("## Attestation")
        );
        assert!(text.contains("| `spec.handoff.checklist[].owner` | string | yes | one of `data`, `platform`, `application`"), "{text}");
        assert!(text.contains("rule: spec.handoff.checklist item ids must be unique"));
        assert!(text.contains("| `spec.rollback.progressDeadlineSeconds` | integer |"));
    }
}
