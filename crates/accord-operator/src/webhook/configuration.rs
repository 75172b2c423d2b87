//! The Mutating- and ValidatingWebhookConfigurations named `accord`, written by the
//! operator when told to (`--manage-webhook-configurations`). They intercept only
//! Accord's kinds, fail closed, and time out after two seconds.

use k8s_openapi::{
    ByteString,
    api::admissionregistration::v1::{
        MatchCondition, MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations,
        ServiceReference, ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

use crate::api::FIELD_MANAGER;
use accord_core::admission::review::Hook;

/// Name of both webhook configurations.
pub const NAME: &str = "accord";

/// How the API server reaches the webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A base URL, e.g. `https://127.0.0.1:9443` for an operator outside the cluster.
    Url(String),
    /// A Service in the cluster.
    Service {
        namespace: String,
        name: String,
        port: i32,
    },
}

fn client_config(endpoint: &Endpoint, hook: Hook, ca: Option<&str>) -> WebhookClientConfig {
    let (url, service) = match endpoint {
        Endpoint::Url(base) => (
            Some(format!("{}{}", base.trim_end_matches('/'), hook.path())),
            None,
        ),
        Endpoint::Service {
            namespace,
            name,
            port,
        } => (
            None,
            Some(ServiceReference {
                namespace: namespace.clone(),
                name: name.clone(),
                path: Some(hook.path().into()),
                port: Some(*port),
            }),
        ),
    };
    WebhookClientConfig {
        ca_bundle: ca.map(|ca| ByteString(ca.as_bytes().to_vec())),
        url,
        service,
    }
}

/// What each hook is called for: the operations on the resources (and subresources)
/// of its kind.
fn rule(hook: Hook) -> Vec<RuleWithOperations> {
    let (resources, operations, scope): (&[&str], &[&str], &str) = match hook {
        Hook::MutateAttestation => (&["attestations"], &["CREATE"], "Namespaced"),
        Hook::MutateModelDeployment => (&["modeldeployments"], &["CREATE", "UPDATE"], "Namespaced"),
        Hook::ValidateAttestation => (
            &["attestations", "attestations/status"],
            &["CREATE", "UPDATE", "DELETE"],
            "Namespaced",
        ),
        // Creates need no second call: the mutating hook records the candidate's
        // author, and the gate verifies that record's seal anyway.
        Hook::ValidateModelDeployment => (
            &["modeldeployments", "modeldeployments/status"],
            &["UPDATE"],
            "Namespaced",
        ),
        Hook::ValidateTeam => (
            &["teams", "teams/status"],
            &["CREATE", "UPDATE", "DELETE"],
            "Cluster",
        ),
        Hook::ValidateHandoffPolicy => (
            &["handoffpolicies", "handoffpolicies/status"],
            &["CREATE", "UPDATE", "DELETE"],
            "Cluster",
        ),
        // Who opened it on create, who acknowledged it on update.
        Hook::MutateIncident => (&["incidents"], &["CREATE", "UPDATE"], "Namespaced"),
        Hook::ValidateIncident => (
            &["incidents", "incidents/status"],
            &["CREATE", "UPDATE", "DELETE"],
            "Namespaced",
        ),
        // Signed audit records: written only by the operator, deleted only by admins.
        // No status subresource.
        Hook::ValidatePromotionRecord => (
            &["promotionrecords"],
            &["CREATE", "UPDATE", "DELETE"],
            "Namespaced",
        ),
        // Who asked for a run (the run-requested-by annotation).
        Hook::MutateRollbackDrill => (&["rollbackdrills"], &["CREATE", "UPDATE"], "Namespaced"),
        // The platform Team's; status the operator's.
        Hook::ValidateRollbackDrill => (
            &["rollbackdrills", "rollbackdrills/status"],
            &["CREATE", "UPDATE", "DELETE"],
            "Namespaced",
        ),
    };
    let strings = |items: &[&str]| Some(items.iter().map(|i| i.to_string()).collect());
    vec![RuleWithOperations {
        api_groups: strings(&["accord.dev"]),
        api_versions: strings(&["v1alpha1"]),
        operations: strings(operations),
        resources: strings(resources),
        scope: Some(scope.into()),
    }]
}

/// The operator's own writes (status, labels) need no admission: a match condition
/// keeps the API server from calling the webhook for them, which halves the calls a
/// promotion makes.
fn match_conditions(exempt: &[String]) -> Option<Vec<MatchCondition>> {
    if exempt.is_empty() {
        return None;
    }
    let names: Vec<String> = exempt.iter().map(|u| format!("'{u}'")).collect();
    Some(vec![MatchCondition {
        name: "not-the-accord-operator".into(),
        expression: format!("!(request.userInfo.username in [{}])", names.join(", ")),
    }])
}

/// The mutating hooks, by webhook name.
pub const MUTATING: [(&str, Hook); 4] = [
    ("mutate.attestations.accord.dev", Hook::MutateAttestation),
    (
        "mutate.modeldeployments.accord.dev",
        Hook::MutateModelDeployment,
    ),
    ("mutate.incidents.accord.dev", Hook::MutateIncident),
    (
        "mutate.rollbackdrills.accord.dev",
        Hook::MutateRollbackDrill,
    ),
];
/// The validating hooks, by webhook name.
pub const VALIDATING: [(&str, Hook); 7] = [
    (
        "validate.attestations.accord.dev",
        Hook::ValidateAttestation,
    ),
    (
        "validate.modeldeployments.accord.dev",
        Hook::ValidateModelDeployment,
    ),
    ("validate.teams.accord.dev", Hook::ValidateTeam),
    (
        "validate.handoffpolicies.accord.dev",
        Hook::ValidateHandoffPolicy,
    ),
    ("validate.incidents.accord.dev", Hook::ValidateIncident),
    (
        "validate.promotionrecords.accord.dev",
        Hook::ValidatePromotionRecord,
    ),
    (
        "validate.rollbackdrills.accord.dev",
        Hook::ValidateRollbackDrill,
    ),
];

/// The mutating configuration.
pub fn mutating(
    endpoint: &Endpoint,
    ca: Option<&str>,
    exempt: &[String],
) -> MutatingWebhookConfiguration {
    let hook = |(name, hook): (&str, Hook)| MutatingWebhook {
        name: name.into(),
        client_config: client_config(endpoint, hook, ca),
        rules: Some(rule(hook)),
        match_conditions: match_conditions(exempt),
        failure_policy: Some("Fail".into()),
        match_policy: Some("Equivalent".into()),
        side_effects: "None".into(),
        timeout_seconds: Some(2),
        admission_review_versions: vec!["v1".into()],
        reinvocation_policy: Some("Never".into()),
        ..Default::default()
    };
    MutatingWebhookConfiguration {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            ..Default::default()
        },
        webhooks: Some(MUTATING.into_iter().map(hook).collect()),
    }
}

/// The validating configuration.
pub fn validating(
    endpoint: &Endpoint,
    ca: Option<&str>,
    exempt: &[String],
) -> ValidatingWebhookConfiguration {
    let hook = |(name, hook): (&str, Hook)| ValidatingWebhook {
        name: name.into(),
        client_config: client_config(endpoint, hook, ca),
        rules: Some(rule(hook)),
        match_conditions: match_conditions(exempt),
        failure_policy: Some("Fail".into()),
        match_policy: Some("Equivalent".into()),
        side_effects: "None".into(),
        timeout_seconds: Some(2),
        admission_review_versions: vec!["v1".into()],
        ..Default::default()
    };
    ValidatingWebhookConfiguration {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            ..Default::default()
        },
        webhooks: Some(VALIDATING.into_iter().map(hook).collect()),
    }
}

async fn apply(
    client: &Client,
    endpoint: &Endpoint,
    ca: Option<&str>,
    exempt: &[String],
) -> kube::Result<()> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut body = serde_json::to_value(mutating(endpoint, ca, exempt)).expect("serializes");
    body["apiVersion"] = json!("admissionregistration.k8s.io/v1");
    body["kind"] = json!("MutatingWebhookConfiguration");
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .patch(NAME, &params, &Patch::Apply(body))
        .await?;
    let mut body = serde_json::to_value(validating(endpoint, ca, exempt)).expect("serializes");
    body["apiVersion"] = json!("admissionregistration.k8s.io/v1");
    body["kind"] = json!("ValidatingWebhookConfiguration");
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(NAME, &params, &Patch::Apply(body))
        .await?;
    Ok(())
}

/// In a cluster the chart owns the configurations; the operator only fills in the
/// `caBundle` of its webhooks (a strategic merge by webhook name), so `helm upgrade`
/// and the operator never fight over a field.
async fn patch_ca_bundle(client: &Client, ca: Option<&str>) -> kube::Result<()> {
    let Some(ca) = ca else { return Ok(()) };
    let bundle = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ca.as_bytes());
    let patch = |hooks: &[(&str, Hook)]| {
        let webhooks: Vec<Value> = hooks
            .iter()
            .map(|(name, _)| json!({"name": name, "clientConfig": {"caBundle": bundle}}))
            .collect();
        json!({ "webhooks": webhooks })
    };
    let params = PatchParams::default();
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .patch(NAME, &params, &Patch::Strategic(patch(&MUTATING)))
        .await?;
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(NAME, &params, &Patch::Strategic(patch(&VALIDATING)))
        .await?;
    Ok(())
}

/// Keeps the configurations current: by URL (outside the cluster) the operator writes
/// them whole; behind a Service (the chart) it writes only their `caBundle`. Runs now
/// and whenever the CA changes.
pub async fn keep_applied(
    client: Client,
    endpoint: Endpoint,
    exempt: Vec<String>,
    mut ca: tokio::sync::watch::Receiver<Option<String>>,
) {
    loop {
        let current = ca.borrow_and_update().clone();
        let mut delay = crate::timing::WEBHOOK_CONFIG_RETRY_MIN;
        loop {
            let result = match endpoint {
                Endpoint::Url(_) => apply(&client, &endpoint, current.as_deref(), &exempt).await,
                Endpoint::Service { .. } => patch_ca_bundle(&client, current.as_deref()).await,
            };
            match result {
                Ok(()) => {
                    tracing::info!(?endpoint, "webhook configurations applied");
                    break;
                }
                Err(err) => {
                    tracing::warn!(%err, retry_in = ?delay, "cannot apply the webhook configurations");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(crate::timing::WEBHOOK_CONFIG_RETRY_MAX);
                }
            }
        }
        if ca.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields that matter of one webhook, mutating or validating.
    struct Hook {
        failure_policy: Option<String>,
        rules: Vec<RuleWithOperations>,
        timeout: Option<i32>,
        url: Option<String>,
        side_effects: String,
    }

    #[test]
    fn only_accord_kinds_fail_closed_within_two_seconds() {
        let endpoint = Endpoint::Url("https://127.0.0.1:9443/".into());
        let mutating_hooks = mutating(&endpoint, Some("CA"), &[])
            .webhooks
            .unwrap()
            .into_iter()
            .map(|h| Hook {
                failure_policy: h.failure_policy,
                rules: h.rules.unwrap_or_default(),
                timeout: h.timeout_seconds,
                url: h.client_config.url,
                side_effects: h.side_effects,
            });
        let validating_hooks = validating(&endpoint, Some("CA"), &[])
            .webhooks
            .unwrap()
            .into_iter()
            .map(|h| Hook {
                failure_policy: h.failure_policy,
                rules: h.rules.unwrap_or_default(),
                timeout: h.timeout_seconds,
                url: h.client_config.url,
                side_effects: h.side_effects,
            });
        let hooks: Vec<Hook> = mutating_hooks.chain(validating_hooks).collect();
        assert_eq!(hooks.len(), 11);
        for hook in hooks {
            assert_eq!(hook.failure_policy.as_deref(), Some("Fail"));
            assert!(hook.timeout.unwrap() <= 2);
            assert_eq!(hook.side_effects, "None");
            assert!(!hook.rules.is_empty());
            assert!(
                hook.rules
                    .iter()
                    .all(|r| r.api_groups.as_deref() == Some(&["accord.dev".to_string()][..]))
            );
            assert!(hook.url.unwrap().starts_with("https://127.0.0.1:9443/"));
        }
    }

    #[test]
    fn promotion_records_are_validated_on_every_write_and_delete() {
        let endpoint = Endpoint::Service {
            namespace: "accord-system".into(),
            name: "accord-webhook".into(),
            port: 443,
        };
        let hooks = validating(&endpoint, None, &[]).webhooks.unwrap();
        let hook = hooks
            .iter()
            .find(|h| h.name == "validate.promotionrecords.accord.dev")
            .expect("a promotionrecords hook");
        let rule = &hook.rules.as_ref().unwrap()[0];
        let strings = |items: &[&str]| Some(items.iter().map(|i| i.to_string()).collect());
        assert_eq!(rule.resources, strings(&["promotionrecords"]));
        assert_eq!(rule.operations, strings(&["CREATE", "UPDATE", "DELETE"]));
        assert_eq!(rule.scope.as_deref(), Some("Namespaced"));
        assert_eq!(hook.failure_policy.as_deref(), Some("Fail"));
        assert_eq!(
            hook.client_config.service.as_ref().unwrap().path.as_deref(),
            Some("/validate/promotionrecords")
        );
    }

    #[test]
    fn service_endpoint_uses_paths_per_hook() {
        let endpoint = Endpoint::Service {
            namespace: "accord-system".into(),
            name: "accord-webhook".into(),
            port: 443,
        };
        let m = mutating(&endpoint, None, &["op".to_string()]);
        assert!(
            m.webhooks.as_ref().unwrap()[0]
                .match_conditions
                .as_ref()
                .unwrap()[0]
                .expression
                .contains("'op'")
        );
        let service = m.webhooks.unwrap()[0]
            .client_config
            .service
            .clone()
            .unwrap();
        assert_eq!(service.path.as_deref(), Some("/mutate/attestations"));
        assert_eq!(service.port, Some(443));
    }
}
