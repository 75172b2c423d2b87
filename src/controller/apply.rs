//! Writes to the API server, all with server-side apply under field manager `accord`.
//! Callers decide *whether* to write (comparing desired and observed); this module
//! only knows *how*.

use k8s_openapi::api::core::v1::Service;
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
};
use serde_json::json;

use crate::api::{FIELD_MANAGER, ModelDeployment, ModelDeploymentStatus, Team, TeamStatus};

fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// Applies a managed, namespaced object (the Deployment or the Service).
pub async fn managed<K>(client: &Client, desired: &K) -> kube::Result<()>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(
        client.clone(),
        desired.namespace().as_deref().unwrap_or_default(),
    );
    let mut body = serde_json::to_value(desired).expect("managed objects serialize");
    body["apiVersion"] = json!(K::api_version(&()));
    body["kind"] = json!(K::kind(&()));
    api.patch(&desired.name_any(), &apply_params(), &Patch::Apply(body))
        .await
        .map(drop)
}

/// Deletes a managed Service that is no longer wanted (its port was removed).
pub async fn delete_service(client: &Client, namespace: &str, name: &str) -> kube::Result<()> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(err) => Err(err),
    }
}

/// Applies Accord's labels to a ModelDeployment's metadata. Only `metadata.labels` is
/// sent, so spec is never touched and GitOps tools never see a diff in what they own.
pub async fn model_deployment_labels(
    client: &Client,
    md: &ModelDeployment,
    labels: &std::collections::BTreeMap<String, String>,
) -> kube::Result<()> {
    let api: Api<ModelDeployment> = Api::namespaced(
        client.clone(),
        md.namespace().as_deref().unwrap_or_default(),
    );
    let body = json!({
        "apiVersion": ModelDeployment::api_version(&()),
        "kind": ModelDeployment::kind(&()),
        "metadata": {"name": md.name_any(), "labels": labels},
    });
    api.patch(&md.name_any(), &apply_params(), &Patch::Apply(body))
        .await
        .map(drop)
}

/// Writes a ModelDeployment's status. The resourceVersion read is a precondition, so a
/// decision made on a stale copy fails with a conflict instead of overwriting newer state.
pub async fn model_deployment_status(
    client: &Client,
    md: &ModelDeployment,
    status: &ModelDeploymentStatus,
) -> kube::Result<()> {
    let api: Api<ModelDeployment> = Api::namespaced(
        client.clone(),
        md.namespace().as_deref().unwrap_or_default(),
    );
    let body = json!({
        "apiVersion": ModelDeployment::api_version(&()),
        "kind": ModelDeployment::kind(&()),
        "metadata": {"name": md.name_any(), "resourceVersion": md.resource_version()},
        "status": status,
    });
    api.patch_status(&md.name_any(), &apply_params(), &Patch::Apply(body))
        .await
        .map(drop)
}

/// Writes a Team's status.
pub async fn team_status(client: &Client, team: &Team, status: &TeamStatus) -> kube::Result<()> {
    let api: Api<Team> = Api::all(client.clone());
    let body = json!({
        "apiVersion": Team::api_version(&()),
        "kind": Team::kind(&()),
        "metadata": {"name": team.name_any()},
        "status": status,
    });
    api.patch_status(&team.name_any(), &apply_params(), &Patch::Apply(body))
        .await
        .map(drop)
}

/// Writes an Attestation's status conditions (its spec is immutable and never touched).
pub async fn attestation_status(
    client: &Client,
    attestation: &crate::api::Attestation,
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> kube::Result<()> {
    use crate::api::Attestation;
    let api: Api<Attestation> = Api::namespaced(
        client.clone(),
        attestation.namespace().as_deref().unwrap_or_default(),
    );
    let body = json!({
        "apiVersion": Attestation::api_version(&()),
        "kind": Attestation::kind(&()),
        "metadata": {"name": attestation.name_any()},
        "status": {"conditions": conditions},
    });
    api.patch_status(
        &attestation.name_any(),
        &apply_params(),
        &Patch::Apply(body),
    )
    .await
    .map(drop)
}
