//! Writes to the API server under field manager `accord`. Callers decide *whether*
//! to write (comparing desired and observed); this module only knows *how*.
//!
//! The ModelDeployment's labels and every status are written by server-side apply.
//! Managed Deployments and Services are not: server-side apply creates *or adopts*,
//! and Accord never adopts. They are created with a create (which fails when the
//! name is taken) and replaced whole, conditional on the resourceVersion and UID of
//! the object Accord controls, so nothing someone else added survives a revert.

use k8s_openapi::{
    NamespaceResourceScope,
    api::{apps::v1::Deployment, core::v1::Service},
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::json;

use accord_core::decide::{ObjectWrite, Writes};

use super::{Error, Step};
use crate::{
    api::{
        Attestation, AttestationStatus, FIELD_MANAGER, HandoffPolicy, HandoffPolicyStatus,
        Incident, IncidentStatus, ModelDeployment, ModelDeploymentStatus, RollbackDrill,
        RollbackDrillStatus, Team, TeamStatus, namespaced_name,
    },
    watch::OwnWrites,
};

/// Someone else's change that a write reverted: for the `DriftReverted` Event.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftReport {
    pub kind: &'static str,
    /// The first field that differed.
    pub field: String,
    /// The field manager that last changed the object before Accord restored it.
    pub manager: String,
}

/// Makes `writes` in order: the ModelDeployment's labels and status (so a promotion is
/// recorded before it happens), then its Deployment and Service. Returns the drift it
/// reverted.
pub async fn carry_out(
    client: &Client,
    md: &ModelDeployment,
    writes: &Writes,
    own_writes: &OwnWrites,
    status_written: impl FnOnce() + Send,
) -> Result<Vec<DriftReport>, Error> {
    let key = namespaced_name(&md.metadata);
    if let Some(labels) = &writes.labels {
        model_deployment_labels(client, md, labels)
            .await
            .map_err(|e| Error::kube(Step::Apply, &format!("ModelDeployment {key}"), e))?;
    }
    if let Some(status) = &writes.status {
        own_writes.record(&key, &Some(status));
        model_deployment_status(client, md, status)
            .await
            .map_err(|e| Error::kube(Step::Apply, &format!("ModelDeployment {key}"), e))?;
        status_written();
    }
    // An Incident is opened before the status that rolls back for it: a failed
    // create is retried with the breach still recorded, never lost.
    for incident in &writes.incidents {
        open_incident(client, incident).await.map_err(|e| {
            Error::kube(
                Step::Apply,
                &format!("Incident {}", namespaced_name(&incident.metadata)),
                e,
            )
        })?;
    }
    let mut drift = Vec::new();
    let name = md.name_any();
    if let Some(write) = &writes.deployment {
        let object = format!("Deployment {key}");
        drift.extend(
            object_write::<Deployment>(client, md, &name, write)
                .await
                .map_err(|e| Error::kube(Step::Apply, &object, e))?,
        );
    }
    if let Some(write) = &writes.service {
        let object = format!("Service {key}");
        drift.extend(
            object_write::<Service>(client, md, &name, write)
                .await
                .map_err(|e| Error::kube(Step::Apply, &object, e))?,
        );
    }
    if let Some(write) = &writes.canary {
        let canary = accord_core::desired::canary_name(md);
        let object = format!("Deployment {key}{}", crate::api::labels::CANARY_SUFFIX);
        drift.extend(
            object_write::<Deployment>(client, md, &canary, write)
                .await
                .map_err(|e| Error::kube(Step::Apply, &object, e))?,
        );
    }
    Ok(drift)
}

fn params() -> PostParams {
    PostParams {
        dry_run: false,
        field_manager: Some(FIELD_MANAGER.into()),
    }
}

/// Carries out one managed-object write; returns the drift it reverted, if that is
/// what it did.
async fn object_write<K>(
    client: &Client,
    md: &ModelDeployment,
    name: &str,
    write: &ObjectWrite<K>,
) -> kube::Result<Option<DriftReport>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Serialize
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), &md.namespace().unwrap_or_default());
    match write {
        ObjectWrite::Create(object) => api.create(&params(), object).await.map(|_| None),
        ObjectWrite::Replace { object, drift } => {
            // Who changed it is only in the live object's managed fields, which the
            // caches drop: read it before restoring.
            let manager = match drift {
                Some(_) => api
                    .get(&object.name_any())
                    .await
                    .ok()
                    .map(|live| last_manager(&live)),
                None => None,
            };
            api.replace(&object.name_any(), &params(), object).await?;
            Ok(drift.clone().map(|field| DriftReport {
                kind: kind_name::<K>(),
                field,
                manager: manager.unwrap_or_else(|| "an unknown field manager".into()),
            }))
        }
        ObjectWrite::Delete => {
            let uid = api.get_opt(name).await?.and_then(|o| o.uid());
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid,
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match api.delete(name, &params).await {
                Ok(_) => Ok(None),
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
                Err(err) => Err(err),
            }
        }
    }
}

fn kind_name<K: Resource<DynamicType = ()>>() -> &'static str {
    if K::kind(&()) == Deployment::kind(&()) {
        "Deployment"
    } else {
        "Service"
    }
}

/// The field manager that most recently changed `object` other than Accord (status
/// writes by controllers aside).
pub fn last_manager<K: Resource>(object: &K) -> String {
    object
        .meta()
        .managed_fields
        .iter()
        .flatten()
        .filter(|entry| {
            entry.manager.as_deref() != Some(FIELD_MANAGER)
                && entry.subresource.as_deref().unwrap_or_default() != "status"
        })
        .max_by_key(|entry| entry.time.as_ref().map(|t| t.0))
        .and_then(|entry| entry.manager.clone())
        .unwrap_or_else(|| "an unknown field manager".into())
}

/// The object `name` of kind `K` in `md`'s namespace, read live (for a name check
/// before creating).
pub async fn get<K>(client: &Client, md: &ModelDeployment, name: &str) -> kube::Result<Option<K>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    Api::<K>::namespaced(client.clone(), &md.namespace().unwrap_or_default())
        .get_opt(name)
        .await
}

fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
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
) -> kube::Result<K>
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
}

/// Creates an Incident; one already there of the name (a retried create) is fine.
async fn open_incident(client: &Client, incident: &Incident) -> kube::Result<()> {
    match namespaced_api::<Incident>(client, incident)
        .create(&params(), incident)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes an Incident's status, conditional on the version the decision read: a
/// decision made on a stale cache conflicts and is made again, so nothing it would
/// announce (an opening, an escalation) is announced twice.
pub async fn incident_status(
    client: &Client,
    incident: &Incident,
    status: &IncidentStatus,
) -> kube::Result<()> {
    let body = serde_json::to_value(status).expect("status serializes");
    apply_status(
        namespaced_api(client, incident),
        incident,
        body,
        incident.resource_version(),
    )
    .await
    .map(drop)
}

/// Applies Accord's labels to a ModelDeployment's metadata. Only `metadata.labels` is
/// sent, so spec is never touched and GitOps tools never see a diff in what they own.
pub async fn model_deployment_labels(
    client: &Client,
    md: &ModelDeployment,
    labels: &std::collections::BTreeMap<String, String>,
) -> kube::Result<Option<String>> {
    let body = json!({
        "apiVersion": ModelDeployment::api_version(&()),
        "kind": ModelDeployment::kind(&()),
        "metadata": {"name": md.name_any(), "labels": labels},
    });
    namespaced_api(client, md)
        .patch(&md.name_any(), &apply_params(), &Patch::Apply(body))
        .await
        .map(|written| written.resource_version())
}

/// Writes a ModelDeployment's status. The resourceVersion read is a precondition, so a
/// decision made on a stale copy fails with a conflict instead of overwriting newer state.
pub async fn model_deployment_status(
    client: &Client,
    md: &ModelDeployment,
    status: &ModelDeploymentStatus,
) -> kube::Result<Option<String>> {
    let status = serde_json::to_value(status).expect("status serializes");
    apply_status(
        namespaced_api(client, md),
        md,
        status,
        md.resource_version(),
    )
    .await
    .map(|written| written.resource_version())
}

/// Writes a Team's status.
pub async fn team_status(client: &Client, team: &Team, status: &TeamStatus) -> kube::Result<()> {
    let status = serde_json::to_value(status).expect("status serializes");
    apply_status(Api::all(client.clone()), team, status, None)
        .await
        .map(drop)
}

/// Writes a HandoffPolicy's status.
pub async fn policy_status(
    client: &Client,
    policy: &HandoffPolicy,
    status: &HandoffPolicyStatus,
) -> kube::Result<()> {
    let status = serde_json::to_value(status).expect("status serializes");
    apply_status(Api::all(client.clone()), policy, status, None)
        .await
        .map(drop)
}

/// Writes an Attestation's status conditions (its spec is immutable and never touched).
pub async fn attestation_status(
    client: &Client,
    attestation: &Attestation,
    status: &AttestationStatus,
) -> kube::Result<()> {
    let status = serde_json::to_value(status).expect("status serializes");
    apply_status(
        namespaced_api(client, attestation),
        attestation,
        status,
        None,
    )
    .await
    .map(drop)
}

/// Writes a RollbackDrill's status.
pub async fn drill_status(
    client: &Client,
    drill: &RollbackDrill,
    status: &RollbackDrillStatus,
) -> kube::Result<()> {
    drill_status_at(client, drill, status, None).await.map(drop)
}

/// Writes a RollbackDrill's status, conditional on `resource_version` when given (a
/// run is started once, by one replica); returns the drill as written.
pub async fn drill_status_at(
    client: &Client,
    drill: &RollbackDrill,
    status: &RollbackDrillStatus,
    resource_version: Option<String>,
) -> kube::Result<RollbackDrill> {
    let status = serde_json::to_value(status).expect("status serializes");
    apply_status(
        namespaced_api(client, drill),
        drill,
        status,
        resource_version,
    )
    .await
}
