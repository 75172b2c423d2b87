//! Writes to the API server, all with server-side apply under field manager `accord`.
//! Callers decide *whether* to write (comparing desired and observed); this module
//! only knows *how*.

use k8s_openapi::{api::core::v1::Service, apimachinery::pkg::apis::meta::v1::Condition};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
};
use serde_json::json;

use super::{
    Error,
    decide::{ServiceWrite, Writes},
};
use crate::api::{
    Attestation, FIELD_MANAGER, ModelDeployment, ModelDeploymentStatus, Team, TeamStatus,
    namespaced_name,
};

/// Makes `writes` in order: the ModelDeployment's labels, its Deployment, its
/// Service, then its status — so a status never reports a rollout that was not
/// requested.
pub async fn carry_out(
    client: &Client,
    md: &ModelDeployment,
    writes: &Writes,
) -> Result<(), Error> {
    let key = namespaced_name(&md.metadata);
    if let Some(labels) = &writes.labels {
        model_deployment_labels(client, md, labels)
            .await
            .map_err(|e| Error::kube(&key, e))?;
    }
    if let Some(deployment) = &writes.deployment {
        managed(client, deployment)
            .await
            .map_err(|e| Error::kube(&format!("Deployment {key}"), e))?;
    }
    match &writes.service {
        Some(ServiceWrite::Apply(service)) => managed(client, service.as_ref()).await,
        Some(ServiceWrite::Delete) => {
            let namespace = md.namespace().unwrap_or_default();
            delete_service(client, &namespace, &md.name_any()).await
        }
        None => Ok(()),
    }
    .map_err(|e| Error::kube(&format!("Service {key}"), e))?;
    if let Some(status) = &writes.status {
        model_deployment_status(client, md, status)
            .await
            .map_err(|e| Error::kube(&key, e))?;
    }
    Ok(())
}

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
    let api = namespaced_api(client, desired);
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

/// The API of a namespaced object's kind, in its namespace.
fn namespaced_api<K>(client: &Client, object: &K) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    Api::namespaced(
        client.clone(),
        object.namespace().as_deref().unwrap_or_default(),
    )
}

/// Server-side applies `status` to `object`'s status subresource; with
/// `resource_version`, the write fails with a conflict if the object changed since.
async fn apply_status<K>(
    api: Api<K>,
    object: &K,
    status: serde_json::Value,
    resource_version: Option<String>,
) -> kube::Result<()>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut metadata = json!({"name": object.name_any()});
    if let Some(resource_version) = resource_version {
        metadata["resourceVersion"] = json!(resource_version);
    }
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": metadata,
        "status": status,
    });
    api.patch_status(&object.name_any(), &apply_params(), &Patch::Apply(body))
        .await
        .map(drop)
}

/// Applies Accord's labels to a ModelDeployment's metadata. Only `metadata.labels` is
/// sent, so spec is never touched and GitOps tools never see a diff in what they own.
pub async fn model_deployment_labels(
    client: &Client,
    md: &ModelDeployment,
    labels: &std::collections::BTreeMap<String, String>,
) -> kube::Result<()> {
    let body = json!({
        "apiVersion": ModelDeployment::api_version(&()),
        "kind": ModelDeployment::kind(&()),
        "metadata": {"name": md.name_any(), "labels": labels},
    });
    namespaced_api(client, md)
        .patch(&md.name_any(), &apply_params(), &Patch::Apply(body))
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
    let status = serde_json::to_value(status).expect("status serializes");
    apply_status(
        namespaced_api(client, md),
        md,
        status,
        md.resource_version(),
    )
    .await
}

/// Writes a Team's status.
pub async fn team_status(client: &Client, team: &Team, status: &TeamStatus) -> kube::Result<()> {
    let status = serde_json::to_value(status).expect("status serializes");
    apply_status(Api::all(client.clone()), team, status, None).await
}

/// Writes an Attestation's status conditions (its spec is immutable and never touched).
pub async fn attestation_status(
    client: &Client,
    attestation: &Attestation,
    conditions: &[Condition],
) -> kube::Result<()> {
    let status = json!({"conditions": conditions});
    apply_status(
        namespaced_api(client, attestation),
        attestation,
        status,
        None,
    )
    .await
}
