//! Which change asks for which reconcile (pure). Each function sees one cached object
//! before and after a change and names the ModelDeployments and Teams whose decisions
//! could differ because of it — and nothing else, so that Accord's own status writes,
//! and Team status writes in particular, never set off more reconciles.

use std::collections::BTreeMap;

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Namespace, Service},
};
use kube::{Resource, ResourceExt, core::DeserializeGuard, runtime::reflector::ObjectRef};

use accord_core::{observe::rollout_complete, policy::Matcher, team_counts::contribution};

use super::{Request, Stores};
use crate::api::{Attestation, HandoffPolicy, Incident, ModelDeployment, RollbackDrill, Team};

type Guard = DeserializeGuard<ModelDeployment>;

/// Whether anything but status (and bookkeeping) changed: spec, labels, annotations,
/// deletion, or the object itself (a delete and re-create under the same name).
fn beyond_status<K: Resource>(old: &K, new: &K) -> bool {
    let (o, n) = (old.meta(), new.meta());
    o.uid != n.uid
        || o.generation != n.generation
        || o.labels != n.labels
        || o.annotations != n.annotations
        || o.deletion_timestamp != n.deletion_timestamp
        || o.owner_references != n.owner_references
}

fn md_request(namespace: &str, name: &str) -> Request {
    Request::ModelDeployment(Stores::model_deployment_ref(namespace, name))
}

fn status_of(guard: &Guard) -> Option<&crate::api::ModelDeploymentStatus> {
    guard.0.as_ref().ok().and_then(|md| md.status.as_ref())
}

fn counts(guard: Option<&Guard>) -> BTreeMap<&str, (i32, i32)> {
    guard
        .and_then(|g| g.0.as_ref().ok())
        .map(contribution)
        .unwrap_or_default()
}

/// A ModelDeployment changed: reconcile it when anything but its status changed, or
/// when its status changed and is not Accord's own write (`own`: the stored status is
/// the one Accord last wrote), and recount every Team whose counts it changes. A status
/// written by anyone else is reconciled at once; a spec change is reconciled even when
/// the status beside it is Accord's own (it usually is).
pub fn model_deployment_changed(
    old: Option<&Guard>,
    new: Option<&Guard>,
    own: bool,
) -> Vec<Request> {
    let mut requests = Vec::new();
    if let Some(new) = new {
        let reconcile = old.is_none_or(|old| {
            old.0.is_ok() != new.0.is_ok()
                || beyond_status(old, new)
                || (!own && status_of(old) != status_of(new))
        });
        if reconcile {
            let namespace = new.namespace().unwrap_or_default();
            requests.push(md_request(&namespace, &new.name_any()));
        }
    }
    // What policies select (and count) changes with the set of ModelDeployments and
    // their labels.
    if old.is_none() != new.is_none() || old.zip(new).is_some_and(|(o, n)| o.labels() != n.labels())
    {
        requests.push(Request::Policies);
    }
    let (before, after) = (counts(old), counts(new));
    let mut teams: Vec<&str> = before
        .keys()
        .chain(after.keys())
        .copied()
        .filter(|team| before.get(team) != after.get(team))
        .collect();
    teams.sort_unstable();
    teams.dedup();
    requests.extend(
        teams
            .into_iter()
            .map(|team| Request::Team(ObjectRef::new(team))),
    );
    requests
}

/// The ModelDeployments citing `namespace/name` as their upstream
/// (`spec.promotion.from`), any namespace.
fn citing<'a>(
    namespace: &str,
    name: &str,
    model_deployments: impl IntoIterator<Item = &'a Guard>,
) -> Vec<Request> {
    model_deployments
        .into_iter()
        .filter_map(|guard| guard.0.as_ref().ok())
        .filter(|md| {
            md.spec
                .upstream()
                .is_some_and(|from| from.namespace == namespace && from.name == name)
        })
        .map(|md| md_request(&md.namespace().unwrap_or_default(), &md.name_any()))
        .collect()
}

fn shares(guard: &Guard) -> bool {
    guard
        .0
        .as_ref()
        .is_ok_and(|md| !md.spec.downstream().is_empty())
}

/// A ModelDeployment changed as an upstream: those citing it are decided again when
/// it came or went, or when anything of it changed while it shares itself
/// (`spec.promotion.downstream`) — its history, failures, and Accord's own status
/// writes included, since a downstream's soak and carry read them. An upstream that
/// shares itself with nobody asks for nothing after it exists, and `all` (every
/// cached ModelDeployment) is only read when something is asked.
pub fn upstream_changed(
    old: Option<&Guard>,
    new: Option<&Guard>,
    all: impl FnOnce() -> Vec<std::sync::Arc<Guard>>,
) -> Vec<Request> {
    let relevant = match (old, new) {
        (Some(old), Some(new)) => {
            // A spec change moves the generation, which `beyond_status` compares.
            (shares(old) || shares(new))
                && (beyond_status(old, new) || status_of(old) != status_of(new))
        }
        _ => true,
    };
    let Some(changed) = new.or(old).filter(|_| relevant) else {
        return vec![];
    };
    citing(
        &changed.namespace().unwrap_or_default(),
        &changed.name_any(),
        all().iter().map(AsRef::as_ref),
    )
}

/// Adds, for every ModelDeployment `requests` names that shares itself as an
/// upstream (`get` looks one up), the ModelDeployments citing it: what decides the
/// upstream (its Attestations, its Teams) decides what carries from it too. `all` is
/// only read when one does.
pub fn and_downstreams(
    requests: Vec<Request>,
    get: &dyn Fn(&ObjectRef<Guard>) -> Option<std::sync::Arc<Guard>>,
    all: impl FnOnce() -> Vec<std::sync::Arc<Guard>>,
) -> Vec<Request> {
    let upstreams: Vec<(String, String)> = requests
        .iter()
        .filter_map(|request| match request {
            Request::ModelDeployment(key) => get(key)
                .filter(|guard| shares(guard))
                .map(|_| (key.namespace.clone().unwrap_or_default(), key.name.clone())),
            _ => None,
        })
        .collect();
    if upstreams.is_empty() {
        return requests;
    }
    let all = all();
    let mut requests = requests;
    for (namespace, name) in upstreams {
        requests.extend(citing(&namespace, &name, all.iter().map(AsRef::as_ref)));
    }
    requests
}

/// A HandoffPolicy changed: when its spec did (or it came or went), every
/// ModelDeployment it selected before or selects now is decided again, and the policy
/// is recounted. A policy status write asks for nothing.
pub fn policy_changed<'a>(
    old: Option<&HandoffPolicy>,
    new: Option<&HandoffPolicy>,
    model_deployments: impl IntoIterator<Item = &'a Guard>,
    namespace_labels: &dyn Fn(&str) -> BTreeMap<String, String>,
) -> Vec<Request> {
    let spec_changed = match (old, new) {
        (Some(old), Some(new)) => {
            old.spec != new.spec
                || old.uid() != new.uid()
                || old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
        }
        _ => true,
    };
    let Some(policy) = new.or(old).filter(|_| spec_changed) else {
        return vec![];
    };
    let matchers: Vec<Matcher> = [old, new]
        .into_iter()
        .flatten()
        .map(Matcher::selectors)
        .collect();
    let mut requests: Vec<Request> = model_deployments
        .into_iter()
        .filter_map(|guard| guard.0.as_ref().ok())
        .filter(|md| {
            let labels = namespace_labels(&md.namespace().unwrap_or_default());
            matchers.iter().any(|m| m.matches(&labels, md.labels()))
        })
        .map(|md| md_request(&md.namespace().unwrap_or_default(), &md.name_any()))
        .collect();
    if new.is_some() {
        requests.push(Request::Policy(ObjectRef::from_obj(policy)));
    }
    requests
}

/// A namespace's labels changed (or it came or went): policies may select its
/// ModelDeployments differently, so they are decided again and policies recounted.
pub fn namespace_changed<'a>(
    old: Option<&Namespace>,
    new: Option<&Namespace>,
    model_deployments: impl IntoIterator<Item = &'a Guard>,
) -> Vec<Request> {
    let (before, after) = (old.map(ResourceExt::labels), new.map(ResourceExt::labels));
    if old.is_some() && new.is_some() && before == after {
        return vec![];
    }
    let Some(name) = new.or(old).map(ResourceExt::name_any) else {
        return vec![];
    };
    let mut requests: Vec<Request> = model_deployments
        .into_iter()
        .filter(|guard| guard.namespace().as_deref() == Some(name.as_str()))
        .map(|guard| md_request(&name, &guard.name_any()))
        .collect();
    requests.push(Request::Policies);
    requests
}

/// A Team changed: when its spec did (members, contacts) or it came or went, every
/// ModelDeployment naming it is decided again and the Team is recounted. A Team
/// status write asks for nothing.
pub fn team_changed<'a>(
    old: Option<&Team>,
    new: Option<&Team>,
    model_deployments: impl IntoIterator<Item = &'a Guard>,
) -> Vec<Request> {
    let spec_changed = match (old, new) {
        (Some(old), Some(new)) => old.spec != new.spec || old.uid() != new.uid(),
        _ => true,
    };
    let Some(team) = new.or(old).filter(|_| spec_changed) else {
        return vec![];
    };
    let name = team.name_any();
    let mut requests: Vec<Request> = model_deployments
        .into_iter()
        .filter(|guard| guard.0.as_ref().is_ok_and(|md| md.spec.owners.names(&name)))
        .map(|guard| md_request(&guard.namespace().unwrap_or_default(), &guard.name_any()))
        .collect();
    if new.is_some() {
        requests.push(Request::Team(ObjectRef::new(&name)));
    }
    requests
}

/// An Attestation came, went, or had its metadata or spec changed: its
/// ModelDeployment is decided again. Its `Counted` status (written by Accord) asks
/// for nothing.
pub fn attestation_changed(old: Option<&Attestation>, new: Option<&Attestation>) -> Vec<Request> {
    let relevant = match (old, new) {
        (Some(old), Some(new)) => old.spec != new.spec || beyond_status(old, new),
        _ => true,
    };
    let Some(attestation) = new.or(old).filter(|_| relevant) else {
        return vec![];
    };
    let namespace = attestation.namespace().unwrap_or_default();
    // A drill review is about a drill's run: that drill records it.
    if let Some((drill, _)) = attestation
        .spec
        .drill
        .as_deref()
        .and_then(crate::api::split_run_ref)
    {
        return vec![Request::Drill(ObjectRef::new(drill).within(&namespace))];
    }
    vec![md_request(&namespace, &attestation.spec.model_deployment)]
}

/// A RollbackDrill changed. Its spec or metadata (a run requested by annotation), its
/// creation or deletion reconcile the drill; its runs (Accord's own status writes) are
/// what a policy's `drills.maxAge` reads, so they decide its ModelDeployment again.
pub fn drill_changed(old: Option<&RollbackDrill>, new: Option<&RollbackDrill>) -> Vec<Request> {
    let Some(drill) = new.or(old) else {
        return vec![];
    };
    let namespace = drill.namespace().unwrap_or_default();
    let (drill_relevant, runs_changed) = match (old, new) {
        (Some(old), Some(new)) => (
            old.spec != new.spec || beyond_status(old, new),
            old.status != new.status,
        ),
        _ => (true, true),
    };
    let mut requests = vec![];
    if drill_relevant {
        requests.push(Request::Drill(ObjectRef::from_obj(drill)));
    }
    if runs_changed || drill_relevant {
        requests.push(md_request(&namespace, &drill.spec.model_deployment));
    }
    requests
}

/// An Incident was opened, deleted, or its metadata changed (an acknowledgement): its
/// ModelDeployment is decided again. Its status is Accord's own write (the webhook
/// lets nobody else write it) and its spec is immutable, so neither asks for anything.
pub fn incident_changed(old: Option<&Incident>, new: Option<&Incident>) -> Vec<Request> {
    let relevant = match (old, new) {
        (Some(old), Some(new)) => old.spec != new.spec || beyond_status(old, new),
        _ => true,
    };
    let Some(incident) = new.or(old).filter(|_| relevant) else {
        return vec![];
    };
    let namespace = incident.namespace().unwrap_or_default();
    vec![md_request(&namespace, &incident.spec.model_deployment)]
}

/// A managed Deployment changed: decided again when someone edited it, or when its
/// rollout finished or stopped being finished — not for every status update on the
/// way.
pub fn deployment_changed(old: Option<&Deployment>, new: Option<&Deployment>) -> Vec<Request> {
    let relevant = match (old, new) {
        (Some(old), Some(new)) => {
            old.spec != new.spec
                || beyond_status(old, new)
                || rollout_complete(old) != rollout_complete(new)
        }
        _ => true,
    };
    if !relevant {
        return vec![];
    }
    managed_changed(old, new)
}

/// A managed Service changed (someone edited it): decided again; status aside.
pub fn service_changed(old: Option<&Service>, new: Option<&Service>) -> Vec<Request> {
    let relevant = match (old, new) {
        (Some(old), Some(new)) => old.spec != new.spec || beyond_status(old, new),
        _ => true,
    };
    if relevant {
        managed_changed(old, new)
    } else {
        vec![]
    }
}

/// A managed object changed: the ModelDeployment controlling it is decided again.
pub fn managed_changed<K: Resource>(old: Option<&K>, new: Option<&K>) -> Vec<Request> {
    let Some(object) = new.or(old) else {
        return vec![];
    };
    let namespace = object.meta().namespace.clone().unwrap_or_default();
    object
        .meta()
        .owner_references
        .iter()
        .flatten()
        .filter(|owner| owner.controller == Some(true))
        .filter_map(|owner| {
            if owner.kind == ModelDeployment::kind(&())
                && owner.api_version == ModelDeployment::api_version(&())
            {
                Some(md_request(&namespace, &owner.name))
            } else if owner.kind == RollbackDrill::kind(&())
                && owner.api_version == RollbackDrill::api_version(&())
            {
                Some(Request::Drill(
                    ObjectRef::new(&owner.name).within(&namespace),
                ))
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use accord_core::testing::{attestation, md, team};

    use super::*;
    use crate::api::{ChecklistItemStatus, ModelDeploymentStatus, Phase};

    fn guard(md: ModelDeployment) -> Guard {
        DeserializeGuard(Ok(md))
    }

    fn md_requests(requests: &[Request]) -> Vec<String> {
        requests
            .iter()
            .filter_map(|r| match r {
                Request::ModelDeployment(r) => Some(r.name.clone()),
                _ => None,
            })
            .collect()
    }

    fn team_requests(requests: &[Request]) -> Vec<String> {
        requests
            .iter()
            .filter_map(|r| match r {
                Request::Team(r) => Some(r.name.clone()),
                _ => None,
            })
            .collect()
    }

    fn awaiting(mut m: ModelDeployment, attested: bool) -> ModelDeployment {
        m.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::AwaitingAttestations),
            checklist: vec![ChecklistItemStatus {
                id: "latency".into(),
                team: "ml-platform".into(),
                required: true,
                attested,
                ..Default::default()
            }],
            ..Default::default()
        });
        m
    }

    #[test]
    fn a_status_write_by_accord_asks_for_no_reconcile_of_itself_anyone_elses_does() {
        let before = guard(awaiting(md("1.0.0"), false));
        let mut after = before.clone();
        if let Ok(m) = after.0.as_mut() {
            m.status.as_mut().unwrap().observed_generation = Some(9);
        }
        assert!(model_deployment_changed(Some(&before), Some(&after), true).is_empty());
        assert_eq!(
            md_requests(&model_deployment_changed(
                Some(&before),
                Some(&after),
                false
            )),
            ["fraud-scorer"],
            "a status forged by someone else is corrected at once"
        );
    }

    #[test]
    fn spec_label_annotation_and_recreate_changes_reconcile_the_model_deployment() {
        let before = guard(md("1.0.0"));
        let mut spec = md("1.0.1");
        spec.metadata.generation = Some(2);
        let mut annotated = md("1.0.0");
        annotated
            .annotations_mut()
            .insert(crate::api::labels::ROLLBACK_REQUESTED_AT.into(), "t".into());
        let mut recreated = md("1.0.0");
        recreated.metadata.uid = Some("another".into());
        for after in [spec, annotated, recreated] {
            let after = guard(after);
            let requests = model_deployment_changed(Some(&before), Some(&after), false);
            assert_eq!(md_requests(&requests), ["fraud-scorer"]);
            // The status beside the change is Accord's own: the change still counts.
            let requests = model_deployment_changed(Some(&before), Some(&after), true);
            assert_eq!(md_requests(&requests), ["fraud-scorer"]);
        }
        assert_eq!(
            md_requests(&model_deployment_changed(None, Some(&before), false)),
            ["fraud-scorer"]
        );
    }

    #[test]
    fn teams_are_recounted_only_when_their_numbers_move() {
        let waiting = guard(awaiting(md("1.0.0"), false));
        let signed = guard(awaiting(md("1.0.0"), true));
        let requests = model_deployment_changed(Some(&waiting), Some(&signed), true);
        assert!(md_requests(&requests).is_empty(), "status only");
        assert_eq!(team_requests(&requests), ["ml-platform"]);
        assert!(
            team_requests(&model_deployment_changed(
                Some(&signed),
                Some(&signed),
                false
            ))
            .is_empty()
        );
        let created = model_deployment_changed(None, Some(&signed), false);
        assert_eq!(
            team_requests(&created),
            ["data-platform", "ml-platform", "payments-app"]
        );
    }

    #[test]
    fn a_team_status_write_asks_for_nothing_and_a_spec_change_for_its_models() {
        let mds = [guard(md("1.0.0")), {
            let mut other = md("1.0.0");
            other.metadata.name = Some("unrelated".into());
            other.spec.owners.data = "x".into();
            other.spec.owners.platform = "x".into();
            other.spec.owners.application = "x".into();
            guard(other)
        }];
        let old = team("ml-platform", &["bob"], &[]);
        let mut status_only = old.clone();
        status_only.status = Some(Default::default());
        assert!(team_changed(Some(&old), Some(&status_only), &mds).is_empty());
        let mut members = old.clone();
        members.spec.members.users.push("erin".into());
        let requests = team_changed(Some(&old), Some(&members), &mds);
        assert_eq!(md_requests(&requests), ["fraud-scorer"]);
        assert_eq!(team_requests(&requests), ["ml-platform"]);
        let deleted = team_changed(Some(&old), None, &mds);
        assert_eq!(md_requests(&deleted), ["fraud-scorer"]);
        assert!(team_requests(&deleted).is_empty());
    }

    #[test]
    fn attestations_reconcile_their_model_deployment_except_on_status_writes() {
        let att = attestation("a1", "drift", "1.0.0", "alice", &[]);
        assert_eq!(
            md_requests(&attestation_changed(None, Some(&att))),
            ["fraud-scorer"]
        );
        assert_eq!(
            md_requests(&attestation_changed(Some(&att), None)),
            ["fraud-scorer"]
        );
        let mut counted = att.clone();
        counted.status = Some(Default::default());
        assert!(attestation_changed(Some(&att), Some(&counted)).is_empty());
        let mut withdrawing = att.clone();
        withdrawing.metadata.deletion_timestamp = Some(accord_core::testing::time(1));
        assert_eq!(
            md_requests(&attestation_changed(Some(&att), Some(&withdrawing))),
            ["fraud-scorer"]
        );
    }

    #[test]
    fn a_deployment_is_decided_again_when_edited_or_when_its_rollout_finishes() {
        let owner = OwnerReference {
            api_version: "accord.dev/v1alpha1".into(),
            kind: "ModelDeployment".into(),
            name: "fraud-scorer".into(),
            uid: "uid-md".into(),
            controller: Some(true),
            block_owner_deletion: None,
        };
        let mut rolling = Deployment::default();
        rolling.metadata.namespace = Some("payments".into());
        rolling.metadata.generation = Some(2);
        rolling.metadata.owner_references = Some(vec![owner]);
        rolling.spec = Some(k8s_openapi::api::apps::v1::DeploymentSpec {
            replicas: Some(2),
            ..Default::default()
        });
        let mut progressing = rolling.clone();
        progressing.status = Some(k8s_openapi::api::apps::v1::DeploymentStatus {
            observed_generation: Some(2),
            replicas: Some(3),
            updated_replicas: Some(1),
            ..Default::default()
        });
        assert!(
            deployment_changed(Some(&rolling), Some(&progressing)).is_empty(),
            "still rolling"
        );
        let mut done = progressing.clone();
        done.status = Some(k8s_openapi::api::apps::v1::DeploymentStatus {
            observed_generation: Some(2),
            replicas: Some(2),
            updated_replicas: Some(2),
            available_replicas: Some(2),
            ..Default::default()
        });
        assert_eq!(
            md_requests(&deployment_changed(Some(&progressing), Some(&done))),
            ["fraud-scorer"]
        );
        let mut edited = done.clone();
        edited.spec.as_mut().unwrap().replicas = Some(0);
        assert_eq!(
            md_requests(&deployment_changed(Some(&done), Some(&edited))),
            ["fraud-scorer"]
        );
    }

    #[test]
    fn managed_objects_reconcile_only_the_controlling_model_deployment() {
        let owner = |kind: &str, controller| OwnerReference {
            api_version: "accord.dev/v1alpha1".into(),
            kind: kind.into(),
            name: "fraud-scorer".into(),
            uid: "uid-md".into(),
            controller: Some(controller),
            block_owner_deletion: None,
        };
        let mut deployment = k8s_openapi::api::apps::v1::Deployment::default();
        deployment.metadata.namespace = Some("payments".into());
        deployment.metadata.owner_references = Some(vec![owner("ModelDeployment", true)]);
        assert_eq!(
            md_requests(&managed_changed(None, Some(&deployment))),
            ["fraud-scorer"]
        );
        deployment.metadata.owner_references = Some(vec![
            owner("ModelDeployment", false),
            owner("ReplicaSet", true),
        ]);
        assert!(managed_changed(None, Some(&deployment)).is_empty());
    }

    #[test]
    fn drills_reconcile_on_spec_and_requests_and_their_runs_decide_the_model_again() {
        use crate::api::{RollbackDrill, RollbackDrillSpec};
        let mut drill = RollbackDrill::new(
            "weekly",
            RollbackDrillSpec {
                model_deployment: "fraud-scorer".into(),
                ..serde_json::from_value(serde_json::json!({"modelDeployment": "x"})).unwrap()
            },
        );
        drill.metadata.namespace = Some("payments".into());
        drill.metadata.uid = Some("d1".into());
        let drills = |requests: &[Request]| -> Vec<String> {
            requests
                .iter()
                .filter_map(|r| match r {
                    Request::Drill(r) => Some(r.name.clone()),
                    _ => None,
                })
                .collect()
        };
        let created = drill_changed(None, Some(&drill));
        assert_eq!(drills(&created), ["weekly"]);
        assert_eq!(md_requests(&created), ["fraud-scorer"]);
        // A run requested by annotation: the drill again.
        let mut requested = drill.clone();
        requested.metadata.annotations = Some(BTreeMap::from([(
            crate::api::labels::RUN_REQUESTED_AT.to_string(),
            "2026-12-05T10:00:00Z".to_string(),
        )]));
        assert_eq!(
            drills(&drill_changed(Some(&drill), Some(&requested))),
            ["weekly"]
        );
        // Accord's own status write (a run): only the model, which the gate reads.
        let mut ran = drill.clone();
        ran.status = Some(Default::default());
        let after_run = drill_changed(Some(&drill), Some(&ran));
        assert!(drills(&after_run).is_empty());
        assert_eq!(md_requests(&after_run), ["fraud-scorer"]);
        assert!(drill_changed(Some(&ran), Some(&ran.clone())).is_empty());
        // A drill's own Deployment reconciles the drill, not a ModelDeployment.
        let mut deployment = k8s_openapi::api::apps::v1::Deployment::default();
        deployment.metadata.namespace = Some("payments".into());
        deployment.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "accord.dev/v1alpha1".into(),
            kind: "RollbackDrill".into(),
            name: "weekly".into(),
            uid: "d1".into(),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
        let requests = managed_changed(None, Some(&deployment));
        assert_eq!(drills(&requests), ["weekly"]);
        assert!(md_requests(&requests).is_empty());
        // A drill review asks for its drill.
        let mut review = attestation("review", "drill-review", "2.3.1", "bob", &[]);
        review.metadata.namespace = Some("payments".into());
        review.spec.drill = Some("weekly/20261205-100000".into());
        let requests = attestation_changed(None, Some(&review));
        assert_eq!(drills(&requests), ["weekly"]);
        assert!(md_requests(&requests).is_empty());
    }

    #[test]
    fn a_policy_change_reconciles_what_it_selected_and_selects_and_a_status_write_nothing() {
        use crate::api::{HandoffPolicy, HandoffPolicySpec};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
        let mut in_prod = md("1.0.0");
        in_prod.metadata.namespace = Some("prod".into());
        let mut in_dev = md("1.0.0");
        in_dev.metadata.name = Some("dev-model".into());
        in_dev.metadata.namespace = Some("dev".into());
        let mds = [guard(in_prod), guard(in_dev)];
        let labels = |ns: &str| BTreeMap::from([("tier".to_string(), ns.to_string())]);
        let selecting = |tier: &str| {
            let mut policy = HandoffPolicy::new(
                "baseline",
                HandoffPolicySpec {
                    namespace_selector: Some(LabelSelector {
                        match_labels: Some(BTreeMap::from([("tier".into(), tier.into())])),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            );
            policy.metadata.uid = Some("p1".into());
            policy
        };
        let prod = selecting("prod");
        let created = policy_changed(None, Some(&prod), &mds, &labels);
        assert_eq!(md_requests(&created), ["fraud-scorer"]);
        assert!(created.iter().any(|r| matches!(r, Request::Policy(_))));
        let mut status_only = prod.clone();
        status_only.status = Some(Default::default());
        assert!(policy_changed(Some(&prod), Some(&status_only), &mds, &labels).is_empty());
        let moved = selecting("dev");
        assert_eq!(
            md_requests(&policy_changed(Some(&prod), Some(&moved), &mds, &labels)),
            ["fraud-scorer", "dev-model"],
            "what it selected before and what it selects now"
        );
        let deleted = policy_changed(Some(&moved), None, &mds, &labels);
        assert_eq!(md_requests(&deleted), ["dev-model"]);
    }

    #[test]
    fn a_namespace_label_change_reconciles_its_models_and_recounts_policies() {
        use k8s_openapi::api::core::v1::Namespace;
        let mut model = md("1.0.0");
        model.metadata.namespace = Some("payments".into());
        let mds = [guard(model)];
        let mut before = Namespace::default();
        before.metadata.name = Some("payments".into());
        let mut after = before.clone();
        after.metadata.labels = Some(BTreeMap::from([("tier".into(), "prod".into())]));
        let requests = namespace_changed(Some(&before), Some(&after), &mds);
        assert_eq!(md_requests(&requests), ["fraud-scorer"]);
        assert!(requests.contains(&Request::Policies));
        assert!(namespace_changed(Some(&after), Some(&after.clone()), &mds).is_empty());
    }

    #[test]
    fn an_upstream_change_reconciles_only_its_downstreams() {
        use crate::api::{Promotion, UpstreamRef};
        use std::sync::Arc;
        let mut staging = md("2.4.0");
        staging.metadata.namespace = Some("staging".into());
        staging.spec.promotion = Some(Promotion {
            downstream: vec!["prod".into()],
            ..Default::default()
        });
        let mut prod = md("2.4.0");
        prod.metadata.namespace = Some("prod".into());
        prod.spec.promotion = Some(Promotion {
            from: Some(UpstreamRef {
                namespace: "staging".into(),
                name: "fraud-scorer".into(),
            }),
            ..Default::default()
        });
        let mut other = md("1.0.0");
        other.metadata.namespace = Some("elsewhere".into());
        let arcs: Vec<Arc<Guard>> = [staging.clone(), prod, other]
            .into_iter()
            .map(|m| Arc::new(guard(m)))
            .collect();
        let all = || arcs.clone();
        let unread = || -> Vec<Arc<Guard>> { panic!("listed every model for nothing") };
        // Accord's own status write on the upstream (its availability) reaches prod only.
        let mut available = staging.clone();
        available.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::Serving),
            ..Default::default()
        });
        let (before, after) = (guard(staging), guard(available));
        let requests = upstream_changed(Some(&before), Some(&after), all);
        assert_eq!(requests, vec![md_request("prod", "fraud-scorer")]);
        // Nothing changed: nothing asked, and nothing listed.
        assert!(upstream_changed(Some(&after), Some(&after), unread).is_empty());
        // A model that shares itself with nobody asks nothing on a status write.
        let mut alone = md("1.0.0");
        alone.metadata.namespace = Some("staging".into());
        let mut written = alone.clone();
        written.status = Some(ModelDeploymentStatus::default());
        assert!(upstream_changed(Some(&guard(alone)), Some(&guard(written)), unread).is_empty());
        // An upstream Attestation reconciles the upstream and its downstream.
        let get = |key: &ObjectRef<Guard>| {
            arcs.iter()
                .find(|g| g.name_any() == key.name && g.namespace() == key.namespace)
                .cloned()
        };
        let requests = and_downstreams(vec![md_request("staging", "fraud-scorer")], &get, all);
        assert_eq!(
            requests,
            vec![
                md_request("staging", "fraud-scorer"),
                md_request("prod", "fraud-scorer")
            ]
        );
        let alone = and_downstreams(vec![md_request("elsewhere", "fraud-scorer")], &get, unread);
        assert_eq!(alone.len(), 1);
    }
}
