//! Scenario tests of the reconcile glue against a mocked API server (as kube-rs's
//! controller-rs does): the caches hold a world, one reconcile runs, and the tests
//! assert the exact requests it sends, in order. No cluster; the e2e suite proves the
//! same against a real one.

use std::{sync::Arc, time::Duration};

use http::{Request, Response};
use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentStatus},
        core::v1::Service,
    },
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{
    Client, ResourceExt,
    client::Body,
    core::DeserializeGuard,
    runtime::{
        controller::Action,
        events::Reporter,
        reflector::{self, store::Writer},
        watcher,
    },
};
use serde_json::{Value, json};
use tower_test::mock::{self, Handle};

use super::{
    Context, Error,
    decide::{ServiceWrite, decide},
    gate::TrustAsWritten,
    model_deployment::reconcile,
    observe::observe,
    runner::{Backoff, error_action},
    testing::{attestation, md, team},
};
use crate::{
    api::{Attestation, AttestationStatus, ModelDeployment, Team},
    metrics::Metrics,
    timing,
    watch::Stores,
};

/// The world in the caches.
#[derive(Clone, Default)]
struct World {
    model_deployment: Option<ModelDeployment>,
    teams: Vec<Team>,
    attestations: Vec<Attestation>,
    deployment: Option<Deployment>,
    service: Option<Service>,
}

fn cache<K>(objects: impl IntoIterator<Item = K>) -> reflector::Store<K>
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

impl World {
    fn stores(&self) -> Stores {
        Stores {
            model_deployments: cache(
                self.model_deployment
                    .clone()
                    .map(|md| DeserializeGuard(Ok(md))),
            ),
            teams: cache(self.teams.clone()),
            attestations: cache(self.attestations.clone()),
            deployments: cache(self.deployment.clone()),
            services: cache(self.service.clone()),
        }
    }

    /// fraud-scorer 2.4.0 with its three Teams and every item attested.
    fn signed_off() -> Self {
        Self {
            model_deployment: Some(md("2.4.0")),
            teams: vec![
                team("data-platform", &[], &["data-platform-eng"]),
                team("ml-platform", &["bob"], &[]),
                team("payments-app", &["carol"], &[]),
            ],
            attestations: vec![
                attestation("a1", "drift", "2.4.0", "alice", &["data-platform-eng"]),
                attestation("a2", "latency", "2.4.0", "bob", &[]),
                attestation("a3", "kpis", "2.4.0", "carol", &[]),
            ],
            ..Default::default()
        }
    }

    /// The same world once Accord has promoted 2.4.0 and the Deployment is available,
    /// built by carrying out each decision's writes the way the API server would.
    fn converged() -> Self {
        let mut world = Self::signed_off();
        for t in 0..4 {
            let md = world.model_deployment.clone().expect("set");
            let decision = decide(
                &md,
                &observe(&world.stores(), &md),
                &TrustAsWritten,
                Time(jiff::Timestamp::from_second(1_800_000_000 + t).unwrap()),
            );
            world.carry_out(decision);
        }
        world
    }

    fn carry_out(&mut self, decision: super::decide::Decision) {
        let md = self.model_deployment.as_mut().expect("set");
        if let Some(labels) = decision.writes.labels {
            md.metadata.labels = Some(labels);
        }
        if let Some(status) = decision.writes.status {
            md.status = Some(status);
        }
        if let Some(mut deployment) = decision.writes.deployment {
            let replicas = deployment.spec.as_ref().and_then(|s| s.replicas);
            deployment.metadata.generation = Some(1);
            deployment.status = Some(DeploymentStatus {
                observed_generation: Some(1),
                replicas,
                updated_replicas: replicas,
                available_replicas: replicas,
                ..Default::default()
            });
            self.deployment = Some(deployment);
        }
        if let Some(ServiceWrite::Apply(service)) = decision.writes.service {
            self.service = Some(*service);
        }
        for verdict in decision.verdicts {
            let name = verdict.attestation.name_any();
            if let Some(att) = self.attestations.iter_mut().find(|a| a.name_any() == name) {
                att.status = Some(AttestationStatus {
                    conditions: verdict.conditions,
                });
            }
        }
    }
}

/// The mocked API server: it records "METHOD path" of each request and answers it
/// with an object of the kind asked for (or with `conflict` for a status write).
struct ApiServer {
    handle: Handle<Request<Body>, Response<Body>>,
    world: World,
}

impl ApiServer {
    fn answer_for(&self, path: &str, body: &Value) -> Value {
        let md = || serde_json::to_value(self.world.model_deployment.as_ref().unwrap()).unwrap();
        if path.contains("/modeldeployments/") {
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
        }
    }

    /// Answers requests until none arrives for `quiet`; returns what was asked.
    async fn serve(mut self, quiet: Duration, conflict_on_status: bool) -> Vec<String> {
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
            let (code, answer) = if conflict_on_status && status_write {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "Conflict", "code": 409, "message": "the object has been modified"});
                (409, status)
            } else {
                (200, self.answer_for(&path, &body))
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
async fn reconcile_once(
    world: World,
    conflict_on_status: bool,
) -> (Result<Action, Error>, Vec<String>) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let ctx = Arc::new(Context::new(
        client,
        Reporter {
            controller: "accord".into(),
            instance: None,
        },
        Metrics::default().controller,
        world.stores(),
        Arc::new(TrustAsWritten),
    ));
    let guard = Arc::new(DeserializeGuard(Ok(world
        .model_deployment
        .clone()
        .expect("a ModelDeployment"))));
    let server = tokio::spawn(
        ApiServer { handle, world }.serve(Duration::from_millis(300), conflict_on_status),
    );
    let result = reconcile(guard, ctx).await;
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
    let (result, requests) = reconcile_once(World::converged(), false).await;
    assert!(
        requests.is_empty(),
        "a converged reconcile sent {requests:#?}"
    );
    assert_eq!(result.unwrap(), Action::requeue(timing::IDLE_REQUEUE));
}

#[tokio::test]
async fn status_is_written_before_any_event() {
    let (result, requests) = reconcile_once(World::signed_off(), false).await;
    result.expect("reconciled");
    let status = index_of(&requests, "/modeldeployments/fraud-scorer/status");
    let deployment = index_of(&requests, "/deployments/fraud-scorer");
    let promoted_event = index_of(
        &requests,
        "POST /apis/events.k8s.io/v1/namespaces/payments/events",
    );
    assert!(deployment < status, "{requests:#?}");
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
    let (result, requests) = reconcile_once(world, true).await;
    let error = result.expect_err("the status write conflicted");
    assert!(matches!(error, Error::Conflict(_)), "{error}");
    assert_eq!(
        error_action(&error, "payments/fraud-scorer", &Backoff::default()),
        Action::requeue(timing::CONFLICT_RETRY)
    );
    assert!(
        !requests.iter().any(|r| r.contains("/events")),
        "no Event for a state that was not recorded: {requests:#?}"
    );
}

#[tokio::test]
async fn a_deployment_changed_by_someone_else_is_applied_once() {
    let mut world = World::converged();
    let deployment = world.deployment.as_mut().unwrap();
    deployment
        .annotations_mut()
        .insert(crate::api::labels::SERVING_HASH.into(), "edited".into());
    let (result, requests) = reconcile_once(world, false).await;
    result.expect("reconciled");
    assert_eq!(
        requests,
        ["PATCH /apis/apps/v1/namespaces/payments/deployments/fraud-scorer"]
    );
}
