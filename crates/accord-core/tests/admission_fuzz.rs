//! Property tests over AdmissionReview decoding and the admission decision, standing in
//! for `cargo fuzz` (which needs a nightly toolchain this project does not use).
//!
//! `make test` runs a smoke pass (PROPTEST_CASES defaults to 256 per property); a
//! longer run: `PROPTEST_CASES=200000 cargo test --release --test admission_fuzz`.

use accord_core::{
    admission::{
        Rights, Verdict,
        review::{self, Hook, StaticClusterView},
    },
    api::{ModelDeployment, Team, labels},
    seal::SealKeys,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn world() -> StaticClusterView {
    let keys = SealKeys::generate("k1");
    let mut md: ModelDeployment = serde_json::from_value(json!({
        "apiVersion": "accord.dev/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": "fraud-scorer", "namespace": "payments", "uid": "uid-md"},
        "spec": {
            "owners": {"data": "data-platform", "platform": "ml-platform", "application": "payments-app"},
            "model": {"name": "fraud-scorer", "version": "2.4.0"},
            "serving": {"image": "img:2.4.0"},
            "handoff": {"checklist": [{"id": "drift", "owner": "data"}, {"id": "latency", "owner": "platform"}]},
            "rollback": {"mode": "Automatic"}
        }
    }))
    .unwrap();
    // The candidate was introduced by a CI robot, never one of the generated users.
    let seal =
        keys.seal_candidate_author("payments", "fraud-scorer", &md.spec.fingerprint(), "ci-bot");
    md.metadata.annotations = Some(
        [
            (labels::CANDIDATE_AUTHOR.to_string(), "ci-bot".to_string()),
            (labels::CANDIDATE_AUTHOR_SEAL.to_string(), seal),
        ]
        .into(),
    );
    let team = |name: &str, group: &str| -> Team {
        serde_json::from_value(json!({"apiVersion": "accord.dev/v1alpha1", "kind": "Team",
            "metadata": {"name": name}, "spec": {"members": {"groups": [group]}}}))
        .unwrap()
    };
    StaticClusterView {
        model_deployments: vec![md],
        teams: vec![
            team("data-platform", "data-eng"),
            team("ml-platform", "ml-eng"),
            team("payments-app", "app-eng"),
        ],
        keys: Some(std::sync::Arc::new(keys)),
        rights: Rights {
            admin_groups: vec!["accord-admins".into()],
            operator_identities: vec!["accord-operator".into()],
            ..Default::default()
        },
    }
}

fn review_body(
    kind: &str,
    resource: &str,
    operation: &str,
    user: &str,
    groups: &[String],
    object: Value,
    old: Value,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "0000-1111", "kind": {"group": "accord.dev", "version": "v1alpha1", "kind": kind},
            "resource": {"group": "accord.dev", "version": "v1alpha1", "resource": resource},
            "name": "x", "namespace": "payments", "operation": operation,
            "userInfo": {"username": user, "groups": groups},
            "object": object, "oldObject": old, "dryRun": false
        }
    }))
    .unwrap()
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z0-9./:-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                "(spec|metadata|name|item|version|modelDeployment|annotations|owners|[a-z]{1,6})",
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn hook() -> impl Strategy<Value = Hook> {
    prop::sample::select(Hook::ALL.iter().map(|(hook, _)| *hook).collect::<Vec<_>>())
}

proptest! {
    /// Any bytes: decoding either fails with a message or yields a request; never panics.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = review::decode(&body);
    }

    /// Any JSON as the object: every hook answers, and the answer encodes.
    #[test]
    fn deciding_arbitrary_objects_never_panics(
        hook in hook(),
        operation in prop::sample::select(vec!["CREATE", "UPDATE", "DELETE", "CONNECT"]),
        object in arbitrary_json(),
        old in arbitrary_json(),
        user in "(alice|mallory|)",
    ) {
        let world = world();
        let body = review_body(hook.kind(), "attestations", operation, &user, &["data-eng".to_string()], object, old);
        if let Ok(request) = review::decode(&body) {
            let verdict = review::decide(hook, &request, &world);
            serde_json::to_vec(&review::respond(&request, &verdict)).unwrap();
            if user.is_empty() {
                prop_assert!(matches!(verdict, Verdict::Deny(_)), "no user must be denied");
            }
        }
    }

    /// Well-formed Attestation creates: admitted exactly when the user's groups include
    /// the owning team's; when admitted, the stored identity is the requester's and sealed.
    #[test]
    fn attestation_creates_are_admitted_only_for_owning_team_members(
        user in "[a-z]{1,8}",
        groups in prop::collection::vec(prop::sample::select(vec!["data-eng", "ml-eng", "app-eng", "other"]), 0..3),
        item in prop::sample::select(vec!["drift", "latency", "unknown"]),
        version in prop::sample::select(vec!["2.4.0", "2.3.0"]),
        spoofed in "[a-z]{0,8}",
    ) {
        let world = world();
        let groups: Vec<String> = groups.into_iter().map(String::from).collect();
        let object = json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
            "metadata": {"name": "att", "namespace": "payments"},
            "spec": {"modelDeployment": "fraud-scorer", "item": item, "version": version, "attestedBy": spoofed}
        });
        let body = review_body("Attestation", "attestations", "CREATE", &user, &groups, object.clone(), Value::Null);
        let request = review::decode(&body).unwrap();
        let verdict = review::decide(Hook::MutateAttestation, &request, &world);
        let owning_group = match item { "drift" => Some("data-eng"), "latency" => Some("ml-eng"), _ => None };
        let should_admit = version == "2.4.0" && owning_group.is_some_and(|g| groups.iter().any(|x| x == g));
        match verdict {
            Verdict::Allow(ops) => {
                prop_assert!(should_admit, "admitted {user} {groups:?} for {item} {version}");
                let mut stored = object;
                let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops)).unwrap();
                json_patch::patch(&mut stored, &patch).unwrap();
                prop_assert_eq!(stored["spec"]["attestedBy"].as_str(), Some(user.as_str()));
                let admitted: accord_core::api::Attestation = serde_json::from_value(stored).unwrap();
                prop_assert!(world.keys.as_ref().unwrap().verify(&admitted).is_ok());
            }
            Verdict::Deny(message) => {
                prop_assert!(!should_admit, "denied a member: {message}");
                prop_assert!(!message.is_empty());
            }
        }
    }
}
