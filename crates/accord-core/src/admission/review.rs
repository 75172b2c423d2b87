//! AdmissionReview plumbing (pure): decoding a request, routing it to a decision, and
//! encoding the answer. Kept free of I/O so it can be fuzzed and benchmarked.

use std::{collections::BTreeMap, sync::Arc};

use kube::core::{
    DynamicObject,
    admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation},
};
use serde_json::Value;

use super::{Requester, Rights, Verdict};
use crate::{
    api::{Attestation, HandoffPolicy, ModelDeployment, Team},
    seal::SealKeys,
};

/// The webhook endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    MutateAttestation,
    ValidateAttestation,
    MutateModelDeployment,
    ValidateModelDeployment,
    ValidateTeam,
    ValidateHandoffPolicy,
}

impl Hook {
    /// Every hook, with its URL path.
    pub const ALL: [(Hook, &'static str); 6] = [
        (Hook::MutateAttestation, "/mutate/attestations"),
        (Hook::ValidateAttestation, "/validate/attestations"),
        (Hook::MutateModelDeployment, "/mutate/modeldeployments"),
        (Hook::ValidateModelDeployment, "/validate/modeldeployments"),
        (Hook::ValidateTeam, "/validate/teams"),
        (Hook::ValidateHandoffPolicy, "/validate/handoffpolicies"),
    ];

    /// The kind it admits, for metrics.
    pub fn kind(self) -> &'static str {
        match self {
            Hook::MutateAttestation | Hook::ValidateAttestation => "Attestation",
            Hook::MutateModelDeployment | Hook::ValidateModelDeployment => "ModelDeployment",
            Hook::ValidateTeam => "Team",
            Hook::ValidateHandoffPolicy => "HandoffPolicy",
        }
    }

    /// Whether it may change what it admits.
    pub fn mutates(self) -> bool {
        matches!(self, Hook::MutateAttestation | Hook::MutateModelDeployment)
    }

    /// Its URL path.
    pub fn path(self) -> &'static str {
        Hook::ALL
            .iter()
            .find(|(hook, _)| *hook == self)
            .map(|(_, path)| *path)
            .expect("every hook has a path")
    }
}

/// What a decision may look up.
pub trait ClusterView {
    fn model_deployment(&self, namespace: &str, name: &str) -> Option<ModelDeployment>;
    fn team(&self, name: &str) -> Option<Team>;
    fn keys(&self) -> Option<Arc<SealKeys>>;
    fn rights(&self) -> &Rights;
    /// Every HandoffPolicy (attestations may be for items a policy adds).
    fn policies(&self) -> Vec<Arc<HandoffPolicy>> {
        vec![]
    }
    /// The labels of a namespace, for policies' namespace selectors.
    fn namespace_labels(&self, _namespace: &str) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    /// The ModelDeployment with the checklist items of the policies that select it.
    fn effective_model_deployment(&self, namespace: &str, name: &str) -> Option<ModelDeployment> {
        let md = self.model_deployment(namespace, name)?;
        let policies = self.policies();
        let effective = crate::policy::effective(
            &md,
            &self.namespace_labels(namespace),
            policies.iter().map(AsRef::as_ref),
        );
        Some(crate::policy::with_policy_items(&md, &effective))
    }
    /// The time signatures are judged at.
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// Why a request could not be decided; the webhook denies it with this message.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("not an AdmissionReview: {0}")]
    NotAReview(serde_json::Error),
    #[error("the AdmissionReview has no request")]
    NoRequest,
    #[error("cannot read the {what}: {source}")]
    Unreadable {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("the request carries no {0}")]
    Missing(&'static str),
    #[error("the seal keys are not loaded yet; retry in a moment")]
    KeysNotLoaded,
}

/// Decodes an AdmissionReview body.
pub fn decode(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, ReviewError> {
    let review: AdmissionReview<DynamicObject> =
        serde_json::from_slice(body).map_err(ReviewError::NotAReview)?;
    review.try_into().map_err(|_| ReviewError::NoRequest)
}

/// The object (or old object) of a request as `T`; `None` when the request has none.
fn typed<T: serde::de::DeserializeOwned>(
    object: &Option<DynamicObject>,
    what: &'static str,
) -> Result<Option<T>, ReviewError> {
    object
        .as_ref()
        .map(|o| serde_json::to_value(o).and_then(serde_json::from_value::<T>))
        .transpose()
        .map_err(|source| ReviewError::Unreadable { what, source })
}

/// Like [`typed`], for an object the request must carry.
fn required<T: serde::de::DeserializeOwned>(
    object: &Option<DynamicObject>,
    what: &'static str,
) -> Result<T, ReviewError> {
    typed(object, what)?.ok_or(ReviewError::Missing(what))
}

fn operation(op: &Operation) -> &'static str {
    match op {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// The operation's name, for metrics.
pub fn operation_label(request: &AdmissionRequest<DynamicObject>) -> &'static str {
    operation(&request.operation)
}

/// Decides one request. Anything unexpected is denied with a reason: this webhook
/// fails closed.
pub fn decide(
    hook: Hook,
    request: &AdmissionRequest<DynamicObject>,
    world: &dyn ClusterView,
) -> Verdict {
    let requester = Requester {
        username: request.user_info.username.clone().unwrap_or_default(),
        groups: request.user_info.groups.clone().unwrap_or_default(),
    };
    if requester.username.is_empty() {
        return Verdict::Deny("the request has no authenticated user".into());
    }
    let rights = world.rights();
    if request.sub_resource.as_deref() == Some("status") {
        if hook.mutates() {
            return Verdict::allow();
        }
        let name = match &request.namespace {
            Some(namespace) => format!("{namespace}/{}", request.name),
            None => request.name.clone(),
        };
        return super::status_write(&requester, hook.kind(), &name, rights);
    }
    if !hook.mutates()
        && let Some(denied) = super::field_manager(&requester, options(request).as_ref(), rights)
    {
        return denied;
    }
    let decided = match hook {
        Hook::MutateAttestation | Hook::ValidateAttestation => {
            attestation(hook, request, &requester, world)
        }
        Hook::MutateModelDeployment | Hook::ValidateModelDeployment => {
            model_deployment(hook, request, &requester, world)
        }
        Hook::ValidateTeam => team(request, &requester, world),
        Hook::ValidateHandoffPolicy => {
            let policy = match request.operation {
                Operation::Delete => None,
                _ => typed::<HandoffPolicy>(&request.object, "HandoffPolicy")
                    .ok()
                    .flatten(),
            };
            Ok(super::handoff_policy::change(
                &request.name,
                operation(&request.operation),
                policy.as_ref(),
                &requester,
                rights,
            ))
        }
    };
    decided.unwrap_or_else(|err| Verdict::Deny(err.to_string()))
}

/// The request's options (`CreateOptions`, `UpdateOptions`, `PatchOptions`) as JSON.
fn options(request: &AdmissionRequest<DynamicObject>) -> Option<Value> {
    serde_json::to_value(request.options.as_ref()?).ok()
}

/// Attestations: identity and seal on create, immutability on update, and who may
/// withdraw on delete.
fn attestation(
    hook: Hook,
    request: &AdmissionRequest<DynamicObject>,
    requester: &Requester,
    world: &dyn ClusterView,
) -> Result<Verdict, ReviewError> {
    let namespace = request.namespace.clone().unwrap_or_default();
    let team = |name: &str| world.team(name);
    match (hook, &request.operation) {
        (Hook::MutateAttestation, Operation::Create) => {
            // A malformed object is left to schema validation, which names the bad field;
            // the validating webhook still refuses anything that was not sealed here.
            let Ok(Some(mut attestation)) = typed::<Attestation>(&request.object, "Attestation")
            else {
                return Ok(Verdict::allow());
            };
            attestation.metadata.namespace = Some(namespace.clone());
            if attestation.is_signed() {
                return signed(&attestation, world);
            }
            if let Some(denied) =
                super::attestation::gitops_unsigned(&attestation, requester, world.rights())
            {
                return Ok(denied);
            }
            // generateName: the name is not known yet, and the seal covers it.
            if attestation
                .metadata
                .name
                .as_deref()
                .unwrap_or_default()
                .is_empty()
            {
                return Ok(Verdict::Deny("Attestations need an explicit metadata.name (generateName is not supported): the seal covers the name".into()));
            }
            let keys = world.keys().ok_or(ReviewError::KeysNotLoaded)?;
            let md =
                world.effective_model_deployment(&namespace, &attestation.spec.model_deployment);
            Ok(super::attestation::create(
                &attestation,
                requester,
                md.as_ref(),
                &team,
                &keys,
            ))
        }
        (Hook::MutateAttestation, _) => Ok(Verdict::allow()),
        (_, Operation::Create) => {
            let mut attestation: Attestation = required(&request.object, "Attestation")?;
            attestation.metadata.namespace = Some(namespace);
            if attestation.is_signed() {
                return signed(&attestation, world);
            }
            let keys = world.keys().ok_or(ReviewError::KeysNotLoaded)?;
            Ok(super::attestation::validate_create(
                &attestation,
                requester,
                &keys,
            ))
        }
        (_, Operation::Update) => {
            let old: Attestation = required(&request.old_object, "old Attestation")?;
            let new: Attestation = required(&request.object, "Attestation")?;
            Ok(super::attestation::update(&old, &new))
        }
        (_, Operation::Delete) => {
            let mut old: Attestation = required(&request.old_object, "Attestation to delete")?;
            old.metadata.namespace = Some(namespace);
            Ok(super::attestation::delete(
                &old,
                requester,
                &team,
                world.rights(),
            ))
        }
        _ => Ok(Verdict::allow()),
    }
}

/// A signed Attestation, on create and again on validation.
fn signed(attestation: &Attestation, world: &dyn ClusterView) -> Result<Verdict, ReviewError> {
    let keys = world.keys().ok_or(ReviewError::KeysNotLoaded)?;
    let namespace = attestation
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    let md = world.effective_model_deployment(namespace, &attestation.spec.model_deployment);
    Ok(super::attestation::create_signed(
        attestation,
        md.as_ref(),
        &|name| world.team(name),
        &keys,
        world.now(),
    ))
}

/// ModelDeployments: the spec and candidate authors on every write, decision rights
/// on updates.
fn model_deployment(
    hook: Hook,
    request: &AdmissionRequest<DynamicObject>,
    requester: &Requester,
    world: &dyn ClusterView,
) -> Result<Verdict, ReviewError> {
    let namespace = request.namespace.clone().unwrap_or_default();
    match (hook, &request.operation) {
        (Hook::MutateModelDeployment, Operation::Create | Operation::Update) => {
            let raw =
                |o: &Option<DynamicObject>| o.as_ref().and_then(|o| serde_json::to_value(o).ok());
            let new = raw(&request.object).ok_or(ReviewError::Missing("ModelDeployment"))?;
            let keys = world.keys().ok_or(ReviewError::KeysNotLoaded)?;
            Ok(super::model_deployment::mutate(
                raw(&request.old_object).as_ref(),
                &new,
                &namespace,
                requester,
                world.rights(),
                &keys,
            ))
        }
        (Hook::ValidateModelDeployment, Operation::Create | Operation::Update) => {
            // An object this operator cannot read (a newer or older CRD) is the schema's
            // to judge; the operator will not act on it either.
            let Ok(Some(mut new)) = typed::<ModelDeployment>(&request.object, "ModelDeployment")
            else {
                return Ok(Verdict::allow());
            };
            new.metadata.namespace = Some(namespace.clone());
            let old = typed::<ModelDeployment>(&request.old_object, "old ModelDeployment")
                .ok()
                .flatten();
            let keys = world.keys().ok_or(ReviewError::KeysNotLoaded)?;
            let record = super::model_deployment::validate_record(
                old.as_ref(),
                &new,
                requester,
                world.rights(),
                &keys,
            );
            let Some(old) = old.filter(|_| record == Verdict::allow()) else {
                return Ok(record);
            };
            let team = |name: &str| world.team(name);
            Ok(super::model_deployment::validate_update(
                &old,
                &new,
                requester,
                &team,
                world.rights(),
            ))
        }
        _ => Ok(Verdict::allow()),
    }
}

/// Teams: no all-users groups; only members (or admins) change or delete one.
fn team(
    request: &AdmissionRequest<DynamicObject>,
    requester: &Requester,
    world: &dyn ClusterView,
) -> Result<Verdict, ReviewError> {
    match &request.operation {
        Operation::Create => {
            let new: Team = required(&request.object, "Team")?;
            Ok(super::team::validate_spec(&new))
        }
        Operation::Update | Operation::Delete => {
            let old: Team = required(&request.old_object, "old Team")?;
            let new: Option<Team> = typed(&request.object, "Team")?;
            Ok(super::team::validate_change(
                &old,
                new.as_ref(),
                requester,
                world.rights(),
            ))
        }
        _ => Ok(Verdict::allow()),
    }
}

/// The AdmissionReview answering `request` with `verdict`.
pub fn respond(
    request: &AdmissionRequest<DynamicObject>,
    verdict: &Verdict,
) -> AdmissionReview<DynamicObject> {
    let response = AdmissionResponse::from(request);
    let response = match verdict {
        Verdict::Deny(message) => {
            let mut denied = response.deny(message);
            denied.result.code = 403;
            denied.result.reason = "Forbidden".into();
            denied
        }
        Verdict::Allow(ops) if ops.is_empty() => response,
        Verdict::Allow(ops) => {
            let patch: Result<json_patch::Patch, _> =
                serde_json::from_value(Value::Array(ops.clone()));
            match patch
                .map_err(|e| e.to_string())
                .and_then(|p| response.clone().with_patch(p).map_err(|e| e.to_string()))
            {
                Ok(patched) => patched,
                Err(err) => response.deny(format!(
                    "internal error building the admission patch: {err}"
                )),
            }
        }
    };
    response.into_review()
}

/// The answer to a body that is not a usable AdmissionReview.
pub fn invalid(message: &str) -> AdmissionReview<DynamicObject> {
    AdmissionResponse::invalid(message).into_review()
}

/// An in-memory world, for deciding without a cluster (tests, benchmarks, tools).
#[derive(Clone, Default)]
pub struct StaticClusterView {
    pub model_deployments: Vec<ModelDeployment>,
    pub teams: Vec<Team>,
    pub keys: Option<Arc<SealKeys>>,
    pub rights: Rights,
}

impl ClusterView for StaticClusterView {
    fn model_deployment(&self, namespace: &str, name: &str) -> Option<ModelDeployment> {
        self.model_deployments
            .iter()
            .find(|md| {
                md.metadata.namespace.as_deref() == Some(namespace)
                    && md.metadata.name.as_deref() == Some(name)
            })
            .cloned()
    }
    fn team(&self, name: &str) -> Option<Team> {
        self.teams
            .iter()
            .find(|t| t.metadata.name.as_deref() == Some(name))
            .cloned()
    }
    fn keys(&self) -> Option<Arc<SealKeys>> {
        self.keys.clone()
    }
    fn rights(&self) -> &Rights {
        &self.rights
    }
}
