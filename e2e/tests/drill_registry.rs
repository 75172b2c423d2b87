//! A rollback drill's ImagePresent step with registry access (`--drill-registry`): the
//! operator asks the target image's registry (a real one on loopback, `crane registry
//! serve`) whether the manifest a rollback would pull is still there. A target whose
//! image is gone fails at ImagePresent and nothing is created for it; once the image is
//! pushed again, the same drill, run on request, passes.

mod support;

use std::time::Duration;

use accord_e2e::{Kubectl, Operator, TestNamespace, plugin_as, poll, registry::Registry};
use serde_json::{Value, json};
use support::{attest_all, create, get_md, patch_md, serving};

const WAIT: Duration = Duration::from_secs(120);

fn get(kind: &str, n: &str, name: &str) -> Option<Value> {
    Kubectl::admin().get_json(&[kind, name, "-n", n])
}

fn step<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or(&Value::Null)
}

/// The newest run of drill `name` once it has finished and is the `count`th run.
fn finished_run(n: &str, name: &str, count: usize) -> Value {
    poll(&format!("drill {name} to finish run {count}"), WAIT, || {
        let drill = get("rollbackdrill", n, name).unwrap_or_default();
        let runs = drill["status"]["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        match runs.first() {
            Some(run) if runs.len() == count && run["result"] != "Running" => Ok(run.clone()),
            _ => Err(drill["status"].to_string()),
        }
    })
}

/// Moves `name` to `version` with `image`, signs it off and waits until it serves.
fn promote(n: &str, name: &str, version: &str, image: &str) {
    patch_md(
        n,
        name,
        json!({"spec": {"model": {"version": version}, "serving": {"image": image}}}),
    );
    attest_all(n, name, version);
    poll(&format!("{name} {version} to serve"), WAIT, || {
        let md = get_md(n, name);
        (md["status"]["activeVersion"] == version && md["status"]["phase"] == "Serving")
            .then_some(())
            .ok_or_else(|| md["status"].to_string())
    });
}

fn drill_objects(n: &str, drill: &str) -> usize {
    ["deployments", "services"]
        .iter()
        .map(|kind| {
            Kubectl::admin()
                .get_json(&[kind, "-n", n, "-l", &format!("accord.dev/drill={drill}")])
                .and_then(|l| l["items"].as_array().map(Vec::len))
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn a_drill_asks_the_registry_for_its_target_image_and_creates_nothing_when_it_is_gone() {
    accord_e2e::prepare();
    let registry = Registry::start();
    // 1.0.0 is pinned by digest and in the registry; 2.0.0 names a tag nobody pushed.
    let pinned = registry.push_image("scorer:1.0.0", "1.0.0");
    let unpushed = format!("{}/scorer:2.0.0", registry.address);
    let _operator = Operator::start(
        "drill-registry",
        "accord-operator",
        &["--drill-registry=true"],
    );
    let ns = TestNamespace::create("drill-registry");
    let n = ns.name.as_str();
    serving(n, "scorer", "1.0.0", |md| {
        md["spec"]["serving"]["image"] = json!(pinned);
    });
    promote(n, "scorer", "2.0.0", &unpushed);
    promote(n, "scorer", "3.0.0", "registry.example.com/scorer:3.0.0");
    let production_version = get("deployment", n, "scorer").unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    for (name, version) in [("present", "1.0.0"), ("gone", "2.0.0")] {
        create(
            &json!({"apiVersion": "accord.dev/v1alpha1", "kind": "RollbackDrill",
            "metadata": {"name": name, "namespace": n},
            "spec": {"modelDeployment": "scorer", "target": {"version": version}, "deadline": "2m"}}),
        );
    }

    let present = finished_run(n, "present", 1);
    let image = step(&present, "ImagePresent");
    assert_eq!(image["result"], "Passed", "{present:#}");
    assert!(
        image["message"].as_str().unwrap().contains(&pinned),
        "names the image it found: {image}"
    );
    assert_eq!(present["result"], "Passed", "{present:#}");

    let gone = finished_run(n, "gone", 1);
    let image = step(&gone, "ImagePresent");
    assert_eq!(
        (&gone["result"], &image["result"]),
        (&json!("Failed"), &json!("Failed")),
        "{gone:#}"
    );
    let message = image["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{unpushed} is gone from its registry"))
            && message.contains("no manifest 2.0.0 in scorer")
            && message.contains("push it again"),
        "{message}"
    );
    assert_eq!(step(&gone, "Scheduled")["result"], "Skipped", "{gone:#}");
    assert!(gone["workload"].is_null(), "{gone:#}");
    assert_eq!(
        drill_objects(n, "gone"),
        0,
        "nothing is created for a target that cannot be pulled"
    );

    // Pushed again, the same drill passes when bob asks for a run: the check is the
    // registry's answer, not the version.
    registry.push_image("scorer:2.0.0", "2.0.0");
    let (ok, out, err) = plugin_as("bob", &["drill", "run", "gone", "-n", n]);
    assert!(ok, "drill run: {out}\n{err}");
    let again = finished_run(n, "gone", 2);
    let image = step(&again, "ImagePresent");
    assert_eq!(
        (&again["result"], &image["result"]),
        (&json!("Passed"), &json!("Passed")),
        "{again:#}"
    );
    assert!(
        image["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{unpushed} (now sha256:")),
        "a tag says what it resolves to: {image}"
    );
    poll("the run's objects to be deleted", WAIT, || {
        match drill_objects(n, "gone") + drill_objects(n, "present") {
            0 => Ok(()),
            left => Err(format!("{left} left")),
        }
    });
    assert_eq!(
        get("deployment", n, "scorer").unwrap()["metadata"]["resourceVersion"],
        json!(production_version),
        "production's Deployment is never written by a drill"
    );
}
