//! `accord check-webhook`: proves, through the API server, that Accord's admission webhook
//! answers and decides — what the chart's `helm test` hook runs (as cert-manager's
//! `startupapicheck` does for its own webhook).
//!
//! Two server-side dry-run creates in the given namespace, so nothing is stored:
//! 1. a ModelDeployment sent without annotations must come back with the spec author and
//!    the sealed candidate author that only Accord's mutating webhook writes;
//! 2. an Attestation naming a ModelDeployment that does not exist must be denied by
//!    Accord's webhook, saying so.
//!
//! Either one passing without Accord (no webhook configuration, or one that ignores
//! failures) is a failure: the check looks for Accord's answer, not for the absence of
//! an error. Failures to reach the webhook are retried until the deadline (the
//! webhook may still be starting).

use std::time::{Duration, Instant};

use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, PostParams},
};
use serde_json::{Value, json};

use crate::api::{Attestation, ModelDeployment, labels};

/// What one probe showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accord's webhook answered as it must; the text says how.
    Answered(String),
    /// Not (yet) Accord's answer; worth retrying until the deadline.
    NotYet(String),
    /// A problem retrying will not fix (e.g. RBAC forbids the dry run).
    Broken(String),
}

/// Judges the dry-run create of a ModelDeployment sent without annotations.
pub fn judge_model_deployment(result: &Result<Value, kube::Error>) -> Outcome {
    match result {
        Ok(object) => {
            let annotations = &object["metadata"]["annotations"];
            let author = annotations[labels::SPEC_AUTHOR].as_str();
            let sealed = annotations[labels::CANDIDATE_AUTHOR_SEAL]
                .as_str()
                .is_some_and(|s| !s.is_empty());
            match author {
                Some(author) if sealed => Outcome::Answered(format!(
                    "mutate.modeldeployments.accord.dev answered: it recorded {author} as the spec author and sealed the candidate's author"
                )),
                _ => Outcome::NotYet(
                    "a ModelDeployment was admitted without the spec author Accord's webhook records: \
                     no Accord webhook intercepts ModelDeployments (are the webhook configurations installed?)"
                        .into(),
                ),
            }
        }
        Err(err) => judge_error(err),
    }
}

/// Judges the dry-run create of an Attestation naming a ModelDeployment that does not
/// exist: Accord's webhook must deny it.
pub fn judge_attestation(result: &Result<Value, kube::Error>) -> Outcome {
    match result {
        Ok(_) => Outcome::NotYet(
            "an Attestation naming a ModelDeployment that does not exist was admitted: \
             no Accord webhook decides Attestations (are the webhook configurations installed?)"
                .into(),
        ),
        Err(kube::Error::Api(status))
            if status
                .message
                .contains("attestations.accord.dev\" denied the request")
                && status.message.contains("does not exist") =>
        {
            Outcome::Answered(format!(
                "mutate.attestations.accord.dev answered: {}",
                status.message
            ))
        }
        Err(err) => judge_error(err),
    }
}

fn judge_error(err: &kube::Error) -> Outcome {
    match err {
        kube::Error::Api(status) if status.message.contains("failed calling webhook") => {
            Outcome::NotYet(format!(
                "the API server cannot reach Accord's webhook: {}",
                status.message
            ))
        }
        kube::Error::Api(status) if status.code == 403 && !status.message.contains("webhook") => {
            Outcome::Broken(format!(
                "not allowed to dry-run the create (RBAC): {}",
                status.message
            ))
        }
        kube::Error::Api(status) if status.code == 404 => Outcome::Broken(format!(
            "Accord's CRDs are not installed: {}",
            status.message
        )),
        other => Outcome::NotYet(other.to_string()),
    }
}

fn probe_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("accord-webhook-check-{:08x}", nanos ^ std::process::id())
}

async fn dry_run_create(
    client: &Client,
    namespace: &str,
    resource: &ApiResource,
    object: Value,
) -> Result<Value, kube::Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
    let object: DynamicObject = serde_json::from_value(object).map_err(kube::Error::SerdeError)?;
    let params = PostParams {
        dry_run: true,
        field_manager: Some("accord-check-webhook".into()),
    };
    let created = api.create(&params, &object).await?;
    serde_json::to_value(created).map_err(kube::Error::SerdeError)
}

/// Runs both probes until each shows Accord's answer or `timeout` passes. Returns what
/// each answered, or the last problem seen.
pub async fn run(
    client: &Client,
    namespace: &str,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + timeout;
    let name = probe_name();
    let model_deployment = json!({
        "apiVersion": "accord.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "owners": {"data": "webhook-check", "platform": "webhook-check", "application": "webhook-check"},
            "model": {"name": "webhook-check", "version": "0.0.0"},
            "serving": {"image": "registry.invalid/webhook-check:0.0.0"},
            "handoff": {"checklist": [{"id": "check", "owner": "data"}]},
            "rollback": {"mode": "Manual"}
        }
    });
    let attestation = json!({
        "apiVersion": "accord.dev/v1alpha1",
        "kind": "Attestation",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"modelDeployment": name, "item": "check", "version": "0.0.0"}
    });
    let mut answers = Vec::new();
    for (resource, object, judge) in [
        (
            ApiResource::erase::<ModelDeployment>(&()),
            model_deployment,
            judge_model_deployment as fn(&Result<Value, kube::Error>) -> Outcome,
        ),
        (
            ApiResource::erase::<Attestation>(&()),
            attestation,
            judge_attestation,
        ),
    ] {
        loop {
            let result = dry_run_create(client, namespace, &resource, object.clone()).await;
            match judge(&result) {
                Outcome::Answered(text) => {
                    answers.push(text);
                    break;
                }
                Outcome::Broken(problem) => return Err(problem),
                Outcome::NotYet(problem) if Instant::now() >= deadline => {
                    return Err(format!("{problem} (gave up after {}s)", timeout.as_secs()));
                }
                Outcome::NotYet(problem) => {
                    tracing::info!("{}: {problem}; retrying", resource.kind);
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, message: &str) -> Result<Value, kube::Error> {
        Err(kube::Error::Api(
            kube::core::Status::failure(message, "")
                .with_code(code)
                .boxed(),
        ))
    }

    #[test]
    fn a_model_deployment_counts_only_with_accords_sealed_annotations() {
        let stamped = Ok(json!({"metadata": {"annotations": {
            labels::SPEC_AUTHOR: "system:serviceaccount:accord-system:accord-test",
            labels::CANDIDATE_AUTHOR_SEAL: "v1.abc"
        }}}));
        assert!(
            matches!(judge_model_deployment(&stamped), Outcome::Answered(t) if t.contains("accord-test"))
        );
        let unsealed = Ok(json!({"metadata": {"annotations": {labels::SPEC_AUTHOR: "alice"}}}));
        assert!(matches!(
            judge_model_deployment(&unsealed),
            Outcome::NotYet(_)
        ));
        let bare = Ok(json!({"metadata": {}}));
        assert!(
            matches!(judge_model_deployment(&bare), Outcome::NotYet(t) if t.contains("webhook configurations"))
        );
    }

    #[test]
    fn an_attestation_must_be_denied_by_accord_saying_why() {
        let denied = api_error(
            400,
            "admission webhook \"mutate.attestations.accord.dev\" denied the request: ModelDeployment ns/x does not exist: an Attestation must name …",
        );
        assert!(matches!(judge_attestation(&denied), Outcome::Answered(_)));
        let admitted = Ok(json!({}));
        assert!(matches!(judge_attestation(&admitted), Outcome::NotYet(_)));
        let other_webhook = api_error(
            400,
            "admission webhook \"policy.example.com\" denied the request: no",
        );
        assert!(matches!(
            judge_attestation(&other_webhook),
            Outcome::NotYet(_)
        ));
    }

    #[test]
    fn unreachable_webhooks_are_retried_and_rbac_or_missing_crds_are_not() {
        let unreachable = api_error(
            500,
            "Internal error occurred: failed calling webhook \"mutate.attestations.accord.dev\": connect: connection refused",
        );
        assert!(
            matches!(judge_attestation(&unreachable), Outcome::NotYet(t) if t.contains("cannot reach"))
        );
        assert!(matches!(
            judge_model_deployment(&unreachable),
            Outcome::NotYet(_)
        ));
        let forbidden = api_error(
            403,
            "modeldeployments.accord.dev is forbidden: User \"x\" cannot create",
        );
        assert!(
            matches!(judge_model_deployment(&forbidden), Outcome::Broken(t) if t.contains("RBAC"))
        );
        let missing = api_error(404, "the server could not find the requested resource");
        assert!(matches!(judge_attestation(&missing), Outcome::Broken(t) if t.contains("CRDs")));
    }
}
