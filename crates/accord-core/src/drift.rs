//! Drift on managed objects (pure): whether a live Deployment or Service still is what
//! Accord wrote, and the first field where it is not.
//!
//! The API server fills in defaults (`imagePullPolicy`, `protocol`, `dnsPolicy`, …), so
//! the live object is compared as a superset of the desired one: every field Accord
//! sets must be there with its value, and lists must have the same length (an added
//! sidecar, env var or volume is drift). Where the *absence* of a field matters —
//! what a container runs (`command`, `args`, `workingDir`) and its privileges
//! (`securityContext`), and the pod's privileges, identity and host access — a field
//! set only on the live object is drift too. Quantities are compared by value
//! (`1000m` is `1`).

use serde_json::Value;

/// Container fields that must be exactly as desired, absent included.
const EXACT_CONTAINER: [&str; 5] = [
    "command",
    "args",
    "workingDir",
    "securityContext",
    "lifecycle",
];
/// Pod fields that must be exactly as desired, absent included.
const EXACT_POD: [&str; 11] = [
    "initContainers",
    "securityContext",
    "serviceAccountName",
    "automountServiceAccountToken",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "shareProcessNamespace",
    "nodeName",
    "runtimeClassName",
    "hostUsers",
];

/// What a value is, for the comparison rules.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    /// A pod template's spec.
    Pod,
    /// A list of containers, and one container.
    Containers,
    Container,
    /// Under `resources`: quantities compare by value.
    Quantities,
    /// A label selector: no key may be added (it would select other pods).
    Selector,
}

fn child_kind(parent: Kind, path: &str, field: &str) -> Kind {
    match (parent, field) {
        (Kind::Quantities, _) | (_, "resources") => Kind::Quantities,
        (_, "selector" | "matchLabels") => Kind::Selector,
        (Kind::Pod, "containers" | "initContainers") => Kind::Containers,
        (_, "spec") if path.ends_with("template") => Kind::Pod,
        _ => Kind::Plain,
    }
}

/// Whether a value means "not set": absent, null, false, or an empty list or object.
fn unset(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => true,
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(map)) => map.is_empty(),
        _ => false,
    }
}

/// A Kubernetes quantity as a number (`500m` → 0.5, `1Gi` → 1073741824).
pub fn quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => 10f64.powi(exponent[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * factor)
}

fn same_quantity(desired: &Value, live: &Value) -> bool {
    match (
        desired.as_str().and_then(quantity),
        live.as_str().and_then(quantity),
    ) {
        (Some(a), Some(b)) => (a - b).abs() <= f64::EPSILON * a.abs().max(1.0),
        _ => desired == live,
    }
}

/// The path of the first field where `live` is not `desired` (see the module docs), or
/// `None` when they agree.
pub fn first_difference(desired: &Value, live: &Value) -> Option<String> {
    diff(desired, live, "", Kind::Plain)
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn diff(desired: &Value, live: &Value, path: &str, kind: Kind) -> Option<String> {
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => {
            let exact: &[&str] = match kind {
                Kind::Container => &EXACT_CONTAINER,
                Kind::Pod => &EXACT_POD,
                _ => &[],
            };
            for field in exact {
                if unset(want.get(*field)) && !unset(have.get(*field)) {
                    return Some(child(path, field));
                }
            }
            if kind == Kind::Selector && want.len() != have.len() {
                return Some(path.to_string());
            }
            want.iter().find_map(|(field, value)| {
                let at = child(path, field);
                match have.get(field) {
                    _ if value.is_null() => None,
                    None => (!unset(Some(value))).then_some(at),
                    Some(found) if exact.contains(&field.as_str()) => {
                        (found != value).then_some(at)
                    }
                    Some(found) => diff(value, found, &at, child_kind(kind, path, field)),
                }
            })
        }
        (Value::Array(want), Value::Array(have)) => {
            if want.len() != have.len() {
                return Some(path.to_string());
            }
            let element = match kind {
                Kind::Containers => Kind::Container,
                Kind::Quantities => Kind::Quantities,
                _ => Kind::Plain,
            };
            want.iter()
                .zip(have)
                .enumerate()
                .find_map(|(i, (w, h))| diff(w, h, &format!("{path}[{i}]"), element))
        }
        (want, have) if kind == Kind::Quantities => {
            (!same_quantity(want, have)).then(|| path.to_string())
        }
        (want, have) => (want != have).then(|| path.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn desired() -> Value {
        json!({
            "metadata": {"labels": {"accord.dev/model": "m"}, "annotations": {"accord.dev/serving-hash": "h"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"accord.dev/instance": "m"}},
                "template": {
                    "metadata": {"labels": {"accord.dev/instance": "m"}},
                    "spec": {
                        "containers": [{
                            "name": "model", "image": "img:1",
                            "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                            "resources": {"limits": {"cpu": "0.5", "memory": "1Gi"}},
                            "securityContext": {"runAsNonRoot": true},
                        }],
                    },
                },
            },
        })
    }

    /// What the API server stores for `desired()`: the same plus defaults.
    fn live() -> Value {
        let mut live = desired();
        live["metadata"]["labels"]["extra"] = json!("x");
        live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("3");
        let spec = &mut live["spec"];
        spec["strategy"] = json!({"type": "RollingUpdate"});
        let pod = &mut spec["template"]["spec"];
        pod["dnsPolicy"] = json!("ClusterFirst");
        pod["securityContext"] = json!({});
        let container = &mut pod["containers"][0];
        container["imagePullPolicy"] = json!("IfNotPresent");
        container["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] = json!("v1");
        container["resources"]["limits"]["cpu"] = json!("500m");
        live
    }

    #[test]
    fn defaults_added_by_the_api_server_are_not_drift() {
        assert_eq!(first_difference(&desired(), &live()), None);
    }

    #[test]
    fn every_kind_of_tampering_is_drift_and_says_where() {
        type Tamper = fn(&mut Value);
        let cases: [(&str, Tamper); 10] = [
            ("spec.template.spec.containers[0].image", |l| {
                l["spec"]["template"]["spec"]["containers"][0]["image"] = json!("evil:1")
            }),
            ("spec.template.spec.containers", |l| {
                l["spec"]["template"]["spec"]["containers"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "sidecar", "image": "miner"}))
            }),
            ("spec.template.spec.containers[0].command", |l| {
                l["spec"]["template"]["spec"]["containers"][0]["command"] =
                    json!(["sh", "-c", "evil"])
            }),
            ("spec.template.spec.containers[0].securityContext", |l| {
                l["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] =
                    json!(true)
            }),
            ("spec.template.spec.hostNetwork", |l| {
                l["spec"]["template"]["spec"]["hostNetwork"] = json!(true)
            }),
            ("spec.template.spec.containers[0].env", |l| {
                l["spec"]["template"]["spec"]["containers"][0]["env"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "B", "value": "1"}))
            }),
            ("spec.replicas", |l| l["spec"]["replicas"] = json!(0)),
            ("spec.selector.matchLabels", |l| {
                l["spec"]["selector"]["matchLabels"]["other"] = json!("x")
            }),
            ("metadata.labels.accord.dev/model", |l| {
                l["metadata"]["labels"]["accord.dev/model"] = json!("other")
            }),
            (
                "spec.template.spec.containers[0].resources.limits.cpu",
                |l| {
                    l["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] =
                        json!("2")
                },
            ),
        ];
        for (path, tamper) in cases {
            let mut live = live();
            tamper(&mut live);
            assert_eq!(first_difference(&desired(), &live).as_deref(), Some(path));
        }
    }

    #[test]
    fn quantities_compare_by_value() {
        assert_eq!(quantity("500m"), Some(0.5));
        assert_eq!(quantity("1Gi"), Some(1073741824.0));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("2"), Some(2.0));
        assert!(same_quantity(&json!("1000m"), &json!("1")));
        assert!(!same_quantity(&json!("1"), &json!("1.5")));
        assert_eq!(quantity("lots"), None);
    }
}
