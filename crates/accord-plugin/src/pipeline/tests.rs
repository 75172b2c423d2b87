use accord_core::testing::time;
use serde_json::json;

use super::*;
use crate::{
    api::{
        CarriedFrom, HistoryEntry, ItemApproval, ModelDeploymentStatus, Phase,
        handoff_policy::PromotionRules,
    },
    fixtures::{history_entry, in_environment},
};

fn status(active: &str, phase: Phase, history: Vec<HistoryEntry>) -> ModelDeploymentStatus {
    ModelDeploymentStatus {
        active_version: Some(active.into()),
        phase: Some(phase),
        history,
        ..Default::default()
    }
}

fn item(id: &str, team: &str, attested_by: Option<&str>) -> ChecklistItemStatus {
    ChecklistItemStatus {
        id: id.into(),
        owner: "data".into(),
        team: team.into(),
        required: true,
        attested: attested_by.is_some(),
        attested_by: attested_by.map(String::from),
        ..Default::default()
    }
}

/// dev serves 2.4.0; staging took it with drift carried from dev and has served it
/// since t=200; prod (soak 24h, active 2.3.1) waits for 2.4.0.
fn chain() -> Vec<Node> {
    let mut dev = in_environment("payments-dev", "2.4.0", None, &["payments-staging"]);
    dev.status = Some(status(
        "2.4.0",
        Phase::Serving,
        vec![history_entry("2.4.0", 0, Some(10))],
    ));
    let mut staging = in_environment(
        "payments-staging",
        "2.4.0",
        Some("payments-dev"),
        &["payments-prod"],
    );
    let carried = CarriedFrom {
        model_deployment: "payments-dev/fraud-scorer".into(),
        attestation: "fraud-scorer-2.4.0-drift".into(),
        uid: None,
    };
    let mut st = status(
        "2.4.0",
        Phase::Serving,
        vec![
            history_entry("2.3.1", 0, Some(5)),
            history_entry("2.4.0", 100, Some(200)),
        ],
    );
    st.checklist = vec![ChecklistItemStatus {
        attestation: Some(carried.attestation.clone()),
        carried_from: Some(carried.clone()),
        approvals: vec![ItemApproval {
            attested_by: "alice".into(),
            attestation: carried.attestation.clone(),
            carried_from: Some(carried),
        }],
        ..item("drift", "data-platform", Some("alice"))
    }];
    staging.status = Some(st);
    let mut prod = in_environment("payments-prod", "2.4.0", Some("payments-staging"), &[]);
    prod.spec.promotion.as_mut().unwrap().soak = Some("24h".into());
    let mut st = status(
        "2.3.1",
        Phase::AwaitingAttestations,
        vec![history_entry("2.3.1", 0, Some(5))],
    );
    st.checklist = vec![
        ChecklistItemStatus {
            reason: Some("no sign-off of item drift counted upstream".into()),
            ..item("drift", "data-platform", None)
        },
        item("latency", "ml-platform", Some("bob")),
        item("kpis", "payments-app", None),
    ];
    prod.status = Some(st);
    [dev, staging, prod].into_iter().map(Node::read).collect()
}

/// Ten minutes after 2.4.0 became available in staging.
fn now() -> jiff::Timestamp {
    time(200 + 600).0
}

#[test]
fn pipeline_shows_each_environment_with_its_soak_and_who_owes_what() {
    let view = view(
        ("payments-prod", "fraud-scorer"),
        &chain(),
        &[],
        vec![],
        now(),
    );
    let text = text(&view);
    let artifact = short_fingerprint(
        &accord_core::testing::md("2.4.0")
            .spec
            .artifact_fingerprint(),
    );
    let expected = format!(
        "Pipeline of payments-prod/fraud-scorer: payments-dev/fraud-scorer → payments-staging/fraud-scorer → payments-prod/fraud-scorer

payments-dev/fraud-scorer
  active 2.4.0   candidate 2.4.0 (artifact {artifact})   phase Serving
  owes nothing

payments-staging/fraud-scorer (from payments-dev/fraud-scorer)
  active 2.4.0   candidate 2.4.0 (artifact {artifact})   phase Serving
  soak: met: runs here since 2027-01-15T08:01:40Z
  carried: drift from payments-dev/fraud-scorer (attestation fraud-scorer-2.4.0-drift by alice)
  owes nothing

payments-prod/fraud-scorer (from payments-staging/fraud-scorer)
  active 2.3.1   candidate 2.4.0 (artifact {artifact})   phase AwaitingAttestations
  soak: soaking: 10m of 24h, 23h50m left
  owed:
    data-platform: drift (carried from payments-staging/fraud-scorer)
    payments-app: kpis
"
    );
    assert_eq!(text, expected);
}

#[test]
fn pipeline_json_names_the_fields_a_script_reads() {
    let view = view(
        ("payments-prod", "fraud-scorer"),
        &chain(),
        &[],
        vec![],
        now(),
    );
    let json = serde_json::to_value(&view).unwrap();
    let prod = &json["environments"][2];
    assert_eq!(prod["namespace"], "payments-prod");
    assert_eq!(prod["upstream"], "payments-staging/fraud-scorer");
    assert_eq!(prod["active"], "2.3.1");
    assert_eq!(prod["candidate"], "2.4.0");
    assert_eq!(prod["phase"], "AwaitingAttestations");
    assert_eq!(
        prod["soak"],
        json!({
            "state": "soaking", "required": "24h", "served": "10m", "left": "23h50m",
            "leftSeconds": 85800, "text": "soaking: 10m of 24h, 23h50m left"
        })
    );
    assert_eq!(
        prod["owed"][0],
        json!({"item": "drift", "team": "data-platform", "carried": true,
               "reason": "no sign-off of item drift counted upstream"})
    );
    assert_eq!(
        json["environments"][1]["carried"][0],
        json!({"item": "drift", "from": "payments-dev/fraud-scorer",
               "attestation": "fraud-scorer-2.4.0-drift", "attestedBy": "alice"})
    );
    assert_eq!(json["environments"][0]["soak"], serde_json::Value::Null);
    assert_eq!(
        json["environments"][1]["downstream"],
        json!(["payments-prod"])
    );
}

#[test]
fn a_policy_soak_longer_than_the_spec_wins() {
    let mut nodes = chain();
    let mut policy = HandoffPolicy::new("prod", Default::default());
    policy.spec.promotion = Some(PromotionRules {
        require_upstream: true,
        min_soak: Some("48h".into()),
        never_carry: vec![],
    });
    if let Ok(prod) = &mut nodes[2].md {
        prod.status.as_mut().unwrap().policies = vec!["prod".into()];
    }
    let view = view(
        ("payments-prod", "fraud-scorer"),
        &nodes,
        &[policy],
        vec![],
        now(),
    );
    assert_eq!(
        view.environments[2].soak.as_ref().unwrap().text,
        "soaking: 10m of 48h, 47h50m left"
    );
}

#[test]
fn what_cannot_be_read_is_shown_not_fatal() {
    let mut nodes = chain();
    nodes[0].md = Err("modeldeployments.accord.dev \"fraud-scorer\" is forbidden".into());
    nodes.remove(1);
    let view = view(
        ("payments-prod", "fraud-scorer"),
        &nodes,
        &[],
        vec!["cannot list ModelDeployments in payments-qa".into()],
        now(),
    );
    let text = text(&view);
    assert!(
        text.starts_with(
            "Pipeline of payments-prod/fraud-scorer: payments-dev/fraud-scorer, payments-prod/fraud-scorer\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("payments-dev/fraud-scorer\n  cannot be read: modeldeployments"),
        "{text}"
    );
    assert!(
        text.contains("  soak: unknown: the upstream payments-staging/fraud-scorer cannot be read"),
        "{text}"
    );
    assert!(
        text.ends_with("\nnote: cannot list ModelDeployments in payments-qa\n"),
        "{text}"
    );
}

#[test]
fn a_model_without_environments_says_so() {
    let alone = Node::read(accord_core::testing::md("2.4.0"));
    let text = text(&view(
        ("payments", "fraud-scorer"),
        &[alone],
        &[],
        vec![],
        now(),
    ));
    assert!(
        text.starts_with(
            "Pipeline of payments/fraud-scorer: payments/fraud-scorer (no spec.promotion: no upstream, no downstream)\n"
        ),
        "{text}"
    );
}
