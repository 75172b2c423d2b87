//! The generated CRDs carry every validation rule the API server must enforce. These
//! tests read the CRDs exactly as `crdgen` emits them (not a copy), and check the
//! patterns against good and bad values so a loosened rule fails here.

use accord_api::crds;
use regex::Regex;
use serde_json::Value;

fn crd(kind: &str) -> Value {
    let crd = crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("no CRD for {kind}"));
    serde_json::to_value(crd).unwrap()
}

fn schema(kind: &str) -> Value {
    crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Walks `properties` (and `items` for `[]`) along a dotted path.
fn at<'a>(schema: &'a Value, path: &str) -> &'a Value {
    let mut node = schema;
    for part in path.split('.') {
        node = if part == "[]" {
            &node["items"]
        } else {
            &node["properties"][part]
        };
        assert!(!node.is_null(), "schema has no {path} (stopped at {part})");
    }
    node
}

fn rules(node: &Value) -> Vec<(String, String)> {
    node["x-kubernetes-validations"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    (
                        r["rule"].as_str().unwrap().to_string(),
                        r["message"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn required(node: &Value) -> Vec<&str> {
    node["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn pattern(node: &Value) -> Regex {
    Regex::new(node["pattern"].as_str().expect("pattern present")).unwrap()
}

fn enum_values(node: &Value) -> Vec<&str> {
    node["enum"]
        .as_array()
        .expect("enum present")
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn model_deployment_required_fields() {
    let s = schema("ModelDeployment");
    assert!(required(&s).contains(&"spec"));
    let spec = at(&s, "spec");
    for field in ["owners", "model", "serving", "handoff", "rollback"] {
        assert!(
            required(spec).contains(&field),
            "spec.{field} must be required"
        );
    }
    for field in ["data", "platform", "application"] {
        assert!(required(at(&s, "spec.owners")).contains(&field));
    }
    assert_eq!(required(at(&s, "spec.model")), ["name", "version"]);
    // Exactly one of image and template: a CEL rule, not a required field.
    assert!(required(at(&s, "spec.serving")).is_empty());
    assert_eq!(required(at(&s, "spec.handoff")), ["checklist"]);
    assert_eq!(
        required(at(&s, "spec.handoff.checklist.[]")),
        ["id", "owner"]
    );
    assert_eq!(required(at(&s, "spec.rollback")), ["mode"]);
}

#[test]
fn model_deployment_enums() {
    let s = schema("ModelDeployment");
    assert_eq!(
        enum_values(at(&s, "spec.handoff.checklist.[].owner")),
        ["data", "platform", "application"]
    );
    assert_eq!(
        enum_values(at(&s, "spec.rollback.mode")),
        ["Automatic", "Manual"]
    );
    assert_eq!(
        enum_values(at(&s, "spec.handoff.checklist.[].after")),
        ["Canary"]
    );
    assert_eq!(
        enum_values(at(&s, "status.phase")),
        [
            "AwaitingAttestations",
            "Canary",
            "Promoting",
            "Serving",
            "RollingBack",
            "RolledBack",
            "Degraded",
            "Invalid"
        ]
    );
}

#[test]
fn checklist_is_non_empty_bounded_and_ids_unique_by_cel() {
    let s = schema("ModelDeployment");
    let checklist = at(&s, "spec.handoff.checklist");
    assert_eq!(checklist["minItems"], 1);
    assert!(
        checklist["maxItems"].as_u64().unwrap() <= 64,
        "maxItems bounds the CEL cost"
    );
    let handoff_rules = rules(at(&s, "spec.handoff"));
    assert!(
        handoff_rules.iter().any(
            |(rule, message)| rule.contains("exists_one(y, y.id == x.id)")
                && message.contains("spec.handoff.checklist")
                && message.contains("unique")
        ),
        "uniqueness rule missing: {handoff_rules:?}"
    );
    assert_eq!(
        at(&s, "spec.handoff.checklist.[].required")["default"],
        true
    );
}

#[test]
fn identifiers_follow_kubernetes_name_rules() {
    let s = schema("ModelDeployment");
    let id = at(&s, "spec.handoff.checklist.[].id");
    let dns_label = pattern(id);
    assert_eq!(id["maxLength"], 63);
    for good in ["data-drift-checked", "a", "x1"] {
        assert!(dns_label.is_match(good), "{good}");
    }
    for bad in [
        "Data-Drift",
        "-drift",
        "drift-",
        "drift_checked",
        "drift.checked",
        "",
    ] {
        assert!(!dns_label.is_match(bad), "{bad}");
    }

    let version = at(&s, "spec.model.version");
    let label_value = pattern(version);
    assert_eq!(version["maxLength"], 63);
    assert_eq!(version["minLength"], 1);
    for good in ["2.4.0", "v1", "2.4.0-rc.1", "release_7"] {
        assert!(label_value.is_match(good), "{good}");
    }
    for bad in ["2.4.0+build", "-1", "v1.", "has space", "a/b"] {
        assert!(!label_value.is_match(bad), "{bad}");
    }

    let digest = pattern(at(&s, "spec.model.digest"));
    assert!(digest.is_match(&format!("sha256:{}", "ab".repeat(32))));
    for bad in [
        "sha256:abc",
        "md5:0123",
        &format!("sha256:{}", "AB".repeat(32)),
        &format!("sha512:{}", "ab".repeat(32)),
    ] {
        assert!(!digest.is_match(bad), "{bad}");
    }

    for role in ["data", "platform", "application"] {
        let owner = at(&s, &format!("spec.owners.{role}"));
        assert_eq!(owner["maxLength"], 63, "owner names become label values");
        assert!(pattern(owner).is_match("data-platform"));
        assert!(!pattern(owner).is_match("Data Platform"));
    }
}

#[test]
fn numeric_bounds_and_defaults() {
    let s = schema("ModelDeployment");
    assert_eq!(at(&s, "spec.serving.image")["minLength"], 1);
    let replicas = at(&s, "spec.serving.replicas");
    assert_eq!(
        (replicas["minimum"].as_f64(), replicas["maximum"].as_f64()),
        (Some(0.0), Some(100.0))
    );
    assert_eq!(replicas["default"], 1);
    let deadline = at(&s, "spec.rollback.progressDeadlineSeconds");
    assert_eq!(
        (deadline["minimum"].as_f64(), deadline["maximum"].as_f64()),
        (Some(10.0), Some(3600.0))
    );
    assert_eq!(deadline["default"], 600);
    let port = at(&s, "spec.serving.port");
    assert_eq!(
        (port["minimum"].as_f64(), port["maximum"].as_f64()),
        (Some(1.0), Some(65535.0))
    );
}

#[test]
fn escalate_after_is_a_duration() {
    let s = schema("ModelDeployment");
    let duration = pattern(at(&s, "spec.handoff.escalateAfter"));
    for good in ["30s", "15m", "24h", "1h30m", "500ms"] {
        assert!(duration.is_match(good), "{good}");
    }
    for bad in ["24", "1d", "tomorrow", "-5m", "1.5h", ""] {
        assert!(!duration.is_match(bad), "{bad}");
    }
}

#[test]
fn names_that_become_label_values_are_bounded_by_cel() {
    for kind in ["Team", "ModelDeployment"] {
        let root_rules = rules(&schema(kind));
        assert!(
            root_rules
                .iter()
                .any(|(rule, message)| rule == "size(self.metadata.name) <= 63"
                    && message.contains("metadata.name")),
            "{kind}: {root_rules:?}"
        );
    }
}

#[test]
fn team_needs_a_member_by_cel() {
    let s = schema("Team");
    assert!(required(at(&s, "spec")).contains(&"members"));
    let member_rules = rules(at(&s, "spec.members"));
    assert!(
        member_rules
            .iter()
            .any(|(rule, message)| rule.contains("size(self.users)")
                && rule.contains("size(self.groups)")
                && message.contains("spec.members")),
        "{member_rules:?}"
    );
}

#[test]
fn attestation_spec_is_immutable_by_cel_transition_rule() {
    let s = schema("Attestation");
    let spec_rules = rules(at(&s, "spec"));
    assert!(
        spec_rules
            .iter()
            .any(|(rule, message)| rule == "self == oldSelf" && message.contains("immutable")),
        "{spec_rules:?}"
    );
    assert_eq!(
        required(at(&s, "spec")),
        ["item", "modelDeployment", "version"]
    );
    assert!(pattern(at(&s, "spec.item")).is_match("latency-slo-met"));
    assert!(pattern(at(&s, "spec.digest")).is_match(&format!("sha256:{}", "0".repeat(64))));
}

#[test]
fn names_scope_categories_subresources_and_columns() {
    let expect = [
        (
            "Team",
            "Cluster",
            Some("tm"),
            vec!["Users", "Groups", "Models", "Pending", "Age"],
        ),
        (
            "ModelDeployment",
            "Namespaced",
            Some("md"),
            vec!["Candidate", "Active", "Phase", "Pending", "Age"],
        ),
        (
            "HandoffPolicy",
            "Cluster",
            Some("hp"),
            vec!["Matched", "Ready", "Age"],
        ),
        (
            "Attestation",
            "Namespaced",
            Some("att"),
            vec![
                "ModelDeployment",
                "Item",
                "Version",
                "Candidate",
                "AttestedBy",
                "Signer",
                "Counts",
                "Why",
                "Age",
            ],
        ),
    ];
    for (kind, scope, short, columns) in expect {
        let c = crd(kind);
        assert_eq!(c["spec"]["group"], "accord.dev");
        assert_eq!(c["spec"]["scope"], scope, "{kind}");
        assert_eq!(
            c["spec"]["names"]["categories"],
            serde_json::json!(["accord"]),
            "{kind}"
        );
        let shorts = c["spec"]["names"]["shortNames"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(shorts.first().and_then(Value::as_str), short, "{kind}");
        let version = &c["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1");
        assert!(
            version["subresources"]["status"].is_object(),
            "{kind} has a status subresource"
        );
        let names: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|col| col["name"].as_str())
            .collect();
        assert_eq!(names, columns, "{kind}");
    }
}

#[test]
fn conditions_are_list_maps_keyed_by_type() {
    for kind in ["Team", "ModelDeployment", "Attestation"] {
        let s = schema(kind);
        let conditions = at(&s, "status.conditions");
        assert_eq!(conditions["x-kubernetes-list-type"], "map", "{kind}");
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"],
            serde_json::json!(["type"]),
            "{kind}"
        );
        for field in ["type", "status", "reason", "message", "lastTransitionTime"] {
            assert!(
                required(&conditions["items"]).contains(&field),
                "{kind}: condition.{field}"
            );
        }
    }
}
