//! Scenario tests of the reconcile glue against a mocked API server (as kube-rs's
//! controller-rs does): the caches hold a world, one reconcile runs, and the tests
//! assert the exact requests it sends, in order. No cluster; the e2e suite proves the
//! same against a real one.

use std::{sync::Arc, time::Duration};

use http::{Request, Response};
use kube::{
    Client, ResourceExt,
    client::Body,
    core::DeserializeGuard,
    runtime::{controller::Action, events::Reporter},
};
use serde_json::{Value, json};
use tower_test::mock::{self, Handle};

use accord_core::testing::{Verify, World};
use kube::runtime::{
    reflector::{Store, store::Writer},
    watcher,
};

use super::{
    Contexts, Error, Step,
    model_deployment::reconcile,
    runner::{Backoff, ObjectKey, error_action},
};
use crate::{metrics::Metrics, timing, watch::Stores};

/// A cache holding `objects`, as a watch would have filled it.
fn cache<K>(objects: impl IntoIterator<Item = K>) -> Store<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let mut writer = Writer::default();
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }
    writer.as_reader()
}

/// The operator's caches holding `world`.
fn stores(world: &World) -> Stores {
    Stores {
        model_deployments: cache(
            world
                .model_deployment
                .clone()
                .map(|md| DeserializeGuard(Ok(md))),
        ),
        teams: cache(world.teams.clone()),
        attestations: cache(world.attestations.clone()),
        deployments: cache(world.deployment.clone()),
        services: cache(world.service.clone()),
        policies: cache(world.policies.clone()),
        namespaces: cache(world.namespaces.clone()),
        incidents: cache(world.incidents.clone()),
        drills: cache(vec![]),
    }
}

/// The mocked API server: it records "METHOD path" of each request and answers it
/// with an object of the kind asked for (or with `conflict` for a status write).
struct ApiServer {
    handle: Handle<Request<Body>, Response<Body>>,
    world: World,
}

impl ApiServer {
    fn answer_for(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let md = || serde_json::to_value(self.world.model_deployment.as_ref().unwrap()).unwrap();
        if method == "GET" {
            let found = if path.contains("/deployments/") {
                serde_json::to_value(&self.world.deployment).unwrap()
            } else {
                serde_json::to_value(&self.world.service).unwrap()
            };
            if found.is_null() {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "NotFound", "code": 404, "message": "not found"});
                return (404, status);
            }
            return (200, found);
        }
        let answer = if path.contains("/modeldeployments/") {
            md()
        } else if path.contains("/attestations/") {
            let name = path.rsplit('/').nth(1).unwrap_or_default();
            let att = self
                .world
                .attestations
                .iter()
                .find(|a| a.name_any() == name);
            serde_json::to_value(att.expect("a known Attestation")).unwrap()
        } else {
            // Deployments, Services and Events: what was sent is what is stored.
            body.clone()
        };
        (200, answer)
    }

    /// Answers requests until none arrives for `quiet`; returns what was asked.
    async fn serve(mut self, quiet: Duration, fault: Fault) -> Vec<String> {
        let mut seen = Vec::new();
        while let Ok(Some((request, send))) =
            tokio::time::timeout(quiet, self.handle.next_request()).await
        {
            let method = request.method().to_string();
            let path = request.uri().path().to_string();
            let bytes = request
                .into_body()
                .collect_bytes()
                .await
                .expect("request body");
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let status_write = path.ends_with("/status");
            let deployment_create = method == "POST" && path.ends_with("/deployments");
            let (code, answer) = if fault == Fault::DeploymentError && deployment_create {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "InternalError", "code": 500, "message": "etcd is having a bad day"});
                (500, status)
            } else if fault == Fault::StatusConflict && status_write {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "Conflict", "code": 409, "message": "the object has been modified"});
                (409, status)
            } else {
                self.answer_for(&method, &path, &body)
            };
            seen.push(format!("{method} {path}"));
            let response = Response::builder()
                .status(code)
                .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                .unwrap();
            send.send_response(response);
        }
        seen
    }
}

/// Runs one reconcile of the world's ModelDeployment against the mocked API server.
/// What the mocked API server gets wrong.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// Every status write conflicts.
    StatusConflict,
    /// Every Deployment create fails with a server error.
    DeploymentError,
}

async fn reconcile_once(world: World, fault: Fault) -> (Result<Action, Error>, Vec<String>) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let metrics = Metrics::default().controller;
    let keys = Arc::new(crate::record_keys::SharedRecordKeys::default());
    keys.set(accord_core::audit::keys::RecordKeys::from_seed(
        "r1", [1; 32],
    ));
    let records = Arc::new(crate::records::Records::new(
        client.clone(),
        keys,
        crate::records::RecordConfig::default(),
        metrics.clone(),
    ));
    let contexts = Contexts::new(
        client,
        Reporter {
            controller: "accord".into(),
            instance: None,
        },
        metrics,
        stores(&world),
        Default::default(),
        super::Keys {
            verifier: Arc::new(Verify::default()),
            records,
        },
        super::Reach {
            namespace: "accord-system".into(),
            drill_registry: None,
        },
    );
    let guard = Arc::new(DeserializeGuard(Ok(world
        .model_deployment
        .clone()
        .expect("a ModelDeployment"))));
    let server = tokio::spawn(ApiServer { handle, world }.serve(Duration::from_millis(300), fault));
    let result = reconcile(guard, contexts.model_deployments.clone()).await;
    // Records are created by their own task, after the reconcile.
    contexts.model_deployments.records.flush().await;
    (result, server.await.expect("the mocked API server ran"))
}

fn index_of(requests: &[String], wanted: &str) -> usize {
    requests
        .iter()
        .position(|r| r.contains(wanted))
        .unwrap_or_else(|| panic!("no request matching {wanted:?} in {requests:#?}"))
}

#[tokio::test]
async fn a_converged_object_makes_no_requests() {
    let (result, requests) = reconcile_once(World::converged(), Fault::None).await;
    assert!(
        requests.is_empty(),
        "a converged reconcile sent {requests:#?}"
    );
    assert_eq!(result.unwrap(), Action::requeue(timing::IDLE_REQUEUE));
}

#[tokio::test]
async fn the_promotion_is_recorded_before_the_deployment_and_any_event() {
    let (result, requests) = reconcile_once(World::signed_off(), Fault::None).await;
    result.expect("reconciled");
    let status = index_of(&requests, "/modeldeployments/fraud-scorer/status");
    let deployment = index_of(
        &requests,
        "POST /apis/apps/v1/namespaces/payments/deployments",
    );
    let promoted_event = index_of(
        &requests,
        "POST /apis/events.k8s.io/v1/namespaces/payments/events",
    );
    assert!(
        status < deployment,
        "the promotion is recorded first: {requests:#?}"
    );
    assert!(status < promoted_event, "{requests:#?}");
    let verdicts = requests
        .iter()
        .filter(|r| r.contains("/attestations/") && r.ends_with("/status"))
        .count();
    assert_eq!(verdicts, 3, "{requests:#?}");
    assert_eq!(
        requests.iter().filter(|r| r.contains("/events")).count(),
        1,
        "exactly the Promoted Event: {requests:#?}"
    );
    // The signed record follows the Deployment: it costs the gate nothing.
    let record = index_of(
        &requests,
        "POST /apis/accord.dev/v1alpha1/namespaces/payments/promotionrecords",
    );
    assert!(deployment < record, "{requests:#?}");
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.contains("promotionrecords"))
            .count(),
        1,
        "exactly one record: {requests:#?}"
    );
}

#[tokio::test]
async fn a_failed_deployment_write_after_the_status_still_records_the_promotion() {
    let (result, requests) = reconcile_once(World::signed_off(), Fault::DeploymentError).await;
    result.expect_err("the Deployment write failed");
    let status = index_of(&requests, "/modeldeployments/fraud-scorer/status");
    let record = index_of(
        &requests,
        "POST /apis/accord.dev/v1alpha1/namespaces/payments/promotionrecords",
    );
    // The status names the record, and the retry will not plan it again: it is queued
    // as soon as the status is written.
    assert!(status < record, "{requests:#?}");
}

#[tokio::test]
async fn a_conflict_on_status_is_retried_at_once_and_publishes_nothing() {
    let mut world = World::signed_off();
    world
        .model_deployment
        .as_mut()
        .unwrap()
        .metadata
        .resource_version = Some("7".into());
    let (result, requests) = reconcile_once(world, Fault::StatusConflict).await;
    let error = result.expect_err("the status write conflicted");
    assert!(
        matches!(
            error,
            Error::Conflict {
                step: Step::Apply,
                ..
            }
        ),
        "{error}"
    );
    let key = ObjectKey::new("modeldeployment", &world_md_meta());
    assert_eq!(
        error_action(&error, &key, &Backoff::default()),
        Action::requeue(timing::CONFLICT_RETRY)
    );
    assert!(
        !requests.iter().any(|r| r.contains("/events")),
        "no Event for a state that was not recorded: {requests:#?}"
    );
    assert!(
        !requests.iter().any(|r| r.contains("promotionrecords")),
        "no record of a promotion whose status was not written: {requests:#?}"
    );
}

#[tokio::test]
async fn a_deployment_changed_by_someone_else_is_applied_once() {
    let mut world = World::converged();
    let deployment = world.deployment.as_mut().unwrap();
    deployment
        .annotations_mut()
        .insert(crate::api::labels::SERVING_HASH.into(), "edited".into());
    let (result, requests) = reconcile_once(world, Fault::None).await;
    result.expect("reconciled");
    assert_eq!(
        requests,
        ["PUT /apis/apps/v1/namespaces/payments/deployments/fraud-scorer"]
    );
}

/// The core's test world reads itself the way the operator reads its caches, so the
/// pure decisions' tests see what a reconcile would.
#[test]
fn the_test_world_observes_what_the_caches_hold() {
    for world in [World::signed_off(), World::converged()] {
        let by_name = |mut observed: accord_core::observe::Observed| {
            observed.attestations.sort_by_key(|a| a.name_any());
            format!("{observed:?}")
        };
        let from_caches = super::observe::observe(&stores(&world), world.md());
        assert_eq!(by_name(from_caches), by_name(world.observed()));
    }
}

fn world_md_meta() -> kube::api::ObjectMeta {
    World::signed_off().md().metadata.clone()
}
