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
    api::{
        Attestation, HandoffPolicy, Incident, ModelDeployment, PromotionRecord, RollbackDrill, Team,
    },
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
    MutateIncident,
    ValidateIncident,
    ValidatePromotionRecord,
    MutateRollbackDrill,
    ValidateRollbackDrill,
}

impl Hook {
    /// Every hook, with its URL path.
    pub const ALL: [(Hook, &'static str); 11] = [
        (Hook::MutateAttestation, "/mutate/attestations"),
        (Hook::ValidateAttestation, "/validate/attestations"),
        (Hook::MutateModelDeployment, "/mutate/modeldeployments"),
        (Hook::ValidateModelDeployment, "/validate/modeldeployments"),
        (Hook::ValidateTeam, "/validate/teams"),
        (Hook::ValidateHandoffPolicy, "/validate/handoffpolicies"),
        (Hook::MutateIncident, "/mutate/incidents"),
        (Hook::ValidateIncident, "/validate/incidents"),
        (Hook::ValidatePromotionRecord, "/validate/promotionrecords"),
        (Hook::MutateRollbackDrill, "/mutate/rollbackdrills"),
        (Hook::ValidateRollbackDrill, "/validate/rollbackdrills"),
    ];

    /// The kind it admits, for metrics.
    pub fn kind(self) -> &'static str {
        match self {
            Hook::MutateAttestation | Hook::ValidateAttestation => "Attestation",
            Hook::MutateModelDeployment | Hook::ValidateModelDeployment => "ModelDeployment",
            Hook::ValidateTeam => "Team",
            Hook::ValidateHandoffPolicy => "HandoffPolicy",
            Hook::MutateIncident | Hook::ValidateIncident => "Incident",
            Hook::ValidatePromotionRecord => "PromotionRecord",
            Hook::MutateRollbackDrill | Hook::ValidateRollbackDrill => "RollbackDrill",
        }
    }

    /// Whether it may change what it admits.
    pub fn mutates(self) -> bool {
        matches!(
            self,
            Hook::MutateAttestation
                | Hook::MutateModelDeployment
                | Hook::MutateIncident
                | Hook::MutateRollbackDrill
        )
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
    /// The Incident `name` in `namespace` (root-cause analyses name one).
    fn incident(&self, _namespace: &str, _name: &str) -> Option<Incident> {
        None
    }
    /// The RollbackDrill `name` in `namespace` (drill reviews name one).
    fn drill(&self, _namespace: &str, _name: &str) -> Option<RollbackDrill> {
        None
    }
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
        Hook::MutateIncident | Hook::ValidateIncident => incident(hook, request, &requester, world),
        Hook::ValidatePromotionRecord => promotion_record(request, &requester, rights),
        Hook::MutateRollbackDrill | Hook::ValidateRollbackDrill => {
            rollback_drill(hook, request, &requester, world)
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
            unsigned(&attestation, requester, world)
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

/// An unsigned Attestation on create: a sign-off of a checklist item of the candidate,
/// or a root-cause analysis of an Incident.
fn unsigned(
    attestation: &Attestation,
    requester: &Requester,
    world: &dyn ClusterView,
) -> Result<Verdict, ReviewError> {
    let keys = world.keys().ok_or(ReviewError::KeysNotLoaded)?;
    let namespace = attestation
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    let md_name = &attestation.spec.model_deployment;
    let team = |name: &str| world.team(name);
    if let Some(incident) = &attestation.spec.incident {
        return Ok(super::attestation::create_root_cause(
            attestation,
            requester,
            world.model_deployment(namespace, md_name).as_ref(),
            world.incident(namespace, incident).as_ref(),
            &team,
            &keys,
        ));
    }
    if let Some(drill) = &attestation.spec.drill {
        let drill_name = crate::api::split_run_ref(drill).map_or("", |(d, _)| d);
        return Ok(super::attestation::create_drill_review(
            attestation,
            requester,
            world.model_deployment(namespace, md_name).as_ref(),
            world.drill(namespace, drill_name).as_ref(),
            &team,
            &keys,
        ));
    }
    let md = world.effective_model_deployment(namespace, md_name);
    Ok(super::attestation::create(
        attestation,
        requester,
        md.as_ref(),
        &team,
        &keys,
    ))
}

/// A signed Attestation, on create and again on validation.
fn signed(attestation: &Attestation, world: &dyn ClusterView) -> Result<Verdict, ReviewError> {
    let keys = world.keys().ok_or(ReviewError::KeysNotLoaded)?;
    let namespace = attestation
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    if attestation.is_drill_review() {
        return Ok(Verdict::Deny(
            "signed drill reviews are not supported yet: create the review (spec.drill) unsigned, as yourself, and Accord records who gave it".into(),
        ));
    }
    if let Some(incident) = &attestation.spec.incident {
        return Ok(super::attestation::create_signed_root_cause(
            attestation,
            world
                .model_deployment(namespace, &attestation.spec.model_deployment)
                .as_ref(),
            world.incident(namespace, incident).as_ref(),
            &|name| world.team(name),
            world.now(),
        ));
    }
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

/// Incidents: who opens one and what the webhook writes into it, immutability and the
/// acknowledgement on update, and only admins delete one.
fn incident(
    hook: Hook,
    request: &AdmissionRequest<DynamicObject>,
    requester: &Requester,
    world: &dyn ClusterView,
) -> Result<Verdict, ReviewError> {
    let namespace = request.namespace.clone().unwrap_or_default();
    let team = |name: &str| world.team(name);
    let rights = world.rights();
    let read = |object: &Option<DynamicObject>, what| -> Result<Option<Incident>, ReviewError> {
        let incident = match hook {
            // A malformed object is left to schema validation, which names the bad
            // field; the validating hook still judges what is stored.
            Hook::MutateIncident => typed::<Incident>(object, what).ok().flatten(),
            _ => Some(required::<Incident>(object, what)?),
        };
        Ok(incident.map(|mut incident| {
            incident.metadata.namespace = Some(namespace.clone());
            incident
        }))
    };
    let md_of =
        |incident: &Incident| world.model_deployment(&namespace, &incident.spec.model_deployment);
    let mutating = hook == Hook::MutateIncident;
    match &request.operation {
        Operation::Create => {
            let Some(new) = read(&request.object, "Incident")? else {
                return Ok(Verdict::allow());
            };
            let decide = if mutating {
                super::incident::create
            } else {
                super::incident::validate_create
            };
            Ok(decide(&new, requester, md_of(&new).as_ref(), &team, rights))
        }
        Operation::Update => {
            let (Some(old), Some(new)) = (
                read(&request.old_object, "old Incident")?,
                read(&request.object, "Incident")?,
            ) else {
                return Ok(Verdict::allow());
            };
            let decide = if mutating {
                super::incident::update
            } else {
                super::incident::validate_update
            };
            Ok(decide(
                &old,
                &new,
                requester,
                md_of(&old).as_ref(),
                &team,
                rights,
            ))
        }
        Operation::Delete if !mutating => {
            let old = read(&request.old_object, "Incident to delete")?
                .ok_or(ReviewError::Missing("Incident to delete"))?;
            Ok(super::incident::delete(&old, requester, rights))
        }
        _ => Ok(Verdict::allow()),
    }
}

/// RollbackDrills: the platform Team's (create, change, run, delete); who asked for
/// a run is written by the mutating hook and checked by the validating one.
fn rollback_drill(
    hook: Hook,
    request: &AdmissionRequest<DynamicObject>,
    requester: &Requester,
    world: &dyn ClusterView,
) -> Result<Verdict, ReviewError> {
    let namespace = request.namespace.clone().unwrap_or_default();
    let read = |object: &Option<DynamicObject>| {
        // A malformed object is left to schema validation, which names the bad field.
        typed::<RollbackDrill>(object, "RollbackDrill")
            .ok()
            .flatten()
            .map(|mut drill| {
                drill.metadata.namespace = Some(namespace.clone());
                drill
            })
    };
    let (old, new) = (read(&request.old_object), read(&request.object));
    if hook == Hook::MutateRollbackDrill {
        return Ok(match (&request.operation, &new) {
            (Operation::Create | Operation::Update, Some(new)) => {
                super::rollback_drill::mutate(old.as_ref(), new, requester)
            }
            _ => Verdict::allow(),
        });
    }
    let about = new.as_ref().or(old.as_ref());
    let Some(about) = about else {
        return Err(ReviewError::Missing("RollbackDrill"));
    };
    let md = world.model_deployment(&namespace, &about.spec.model_deployment);
    let team = |name: &str| world.team(name);
    let cx = super::rollback_drill::Context {
        md: md.as_ref(),
        team: &team,
        rights: world.rights(),
    };
    let new = match request.operation {
        Operation::Delete => None,
        _ => Some(new.ok_or(ReviewError::Missing("RollbackDrill"))?),
    };
    Ok(super::rollback_drill::validate(
        old.as_ref(),
        new.as_ref(),
        requester,
        &cx,
    ))
}

/// PromotionRecords: only the operator creates or changes one; only admins (and the
/// operator, and Kubernetes' own cleanup) delete one.
fn promotion_record(
    request: &AdmissionRequest<DynamicObject>,
    requester: &Requester,
    rights: &Rights,
) -> Result<Verdict, ReviewError> {
    let namespace = request.namespace.clone();
    let read = |object: &Option<DynamicObject>, what| {
        required::<PromotionRecord>(object, what).map(|mut record| {
            record.metadata.namespace.clone_from(&namespace);
            record
        })
    };
    match &request.operation {
        Operation::Create => {
            let new = read(&request.object, "PromotionRecord")?;
            Ok(super::promotion_record::create(&new, requester, rights))
        }
        Operation::Update => {
            let old = read(&request.old_object, "old PromotionRecord")?;
            let new = read(&request.object, "PromotionRecord")?;
            Ok(super::promotion_record::update(
                &old, &new, requester, rights,
            ))
        }
        Operation::Delete => {
            let old = read(&request.old_object, "PromotionRecord to delete")?;
            Ok(super::promotion_record::delete(&old, requester, rights))
        }
        Operation::Connect => Ok(Verdict::allow()),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{super::fixtures::denied, *};
    use crate::{
        api::{Answerer, IncidentSpec, IncidentStatus, Role, incident::ROOT_CAUSE_ANALYSIS},
        testing::{World, team},
    };

    /// A static world that also holds Incidents.
    struct WithIncidents {
        world: StaticClusterView,
        incidents: Vec<Incident>,
    }

    impl ClusterView for WithIncidents {
        fn model_deployment(&self, namespace: &str, name: &str) -> Option<ModelDeployment> {
            self.world.model_deployment(namespace, name)
        }
        fn team(&self, name: &str) -> Option<Team> {
            self.world.team(name)
        }
        fn incident(&self, namespace: &str, name: &str) -> Option<Incident> {
            self.incidents
                .iter()
                .find(|i| {
                    i.metadata.namespace.as_deref() == Some(namespace)
                        && i.metadata.name.as_deref() == Some(name)
                })
                .cloned()
        }
        fn keys(&self) -> Option<Arc<SealKeys>> {
            self.world.keys()
        }
        fn rights(&self) -> &Rights {
            self.world.rights()
        }
    }

    fn world() -> WithIncidents {
        let mut incident = Incident::new(
            "fraud-scorer-1",
            IncidentSpec {
                model_deployment: "fraud-scorer".into(),
                version: "2.4.0".into(),
                summary: "chargebacks doubled".into(),
                ..Default::default()
            },
        );
        incident.metadata.namespace = Some("payments".into());
        incident.status = Some(IncidentStatus {
            accountable: Some(Answerer {
                role: Role::Application,
                team: "payments-app".into(),
            }),
            ..Default::default()
        });
        WithIncidents {
            world: StaticClusterView {
                model_deployments: vec![World::converged().md().clone()],
                teams: vec![
                    team("data-platform", &[], &["data-eng"]),
                    team("ml-platform", &["bob"], &[]),
                    team("payments-app", &["carol"], &[]),
                ],
                keys: Some(Arc::new(SealKeys::generate("k1"))),
                rights: Rights {
                    admin_groups: vec!["accord-admins".into()],
                    operator_identities: vec!["accord-op".into()],
                    ..Default::default()
                },
            },
            incidents: vec![incident],
        }
    }

    fn request(
        resource: &str,
        sub_resource: Option<&str>,
        operation: &str,
        user: &str,
        object: Value,
        old: Value,
    ) -> AdmissionRequest<DynamicObject> {
        let kind = if resource == "incidents" {
            "Incident"
        } else {
            "Attestation"
        };
        let body = serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "0000-1111", "kind": {"group": "accord.dev", "version": "v1alpha1", "kind": kind},
                "resource": {"group": "accord.dev", "version": "v1alpha1", "resource": resource},
                "subResource": sub_resource,
                "name": "fraud-scorer-1", "namespace": "payments", "operation": operation,
                "userInfo": {"username": user, "groups": []},
                "object": object, "oldObject": old, "dryRun": false
            }
        }))
        .unwrap();
        decode(&body).unwrap()
    }

    fn incident_object(version: &str) -> Value {
        json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "Incident",
            "metadata": {"name": "fraud-scorer-1", "namespace": "payments"},
            "spec": {"modelDeployment": "fraud-scorer", "version": version, "summary": "slow", "openedBy": "mallory"}
        })
    }

    #[test]
    fn incident_hooks_have_paths_and_mutate_only_on_the_mutating_one() {
        assert_eq!(Hook::MutateIncident.path(), "/mutate/incidents");
        assert_eq!(Hook::ValidateIncident.path(), "/validate/incidents");
        assert!(Hook::MutateIncident.mutates() && !Hook::ValidateIncident.mutates());
        assert_eq!(Hook::ValidateIncident.kind(), "Incident");
    }

    #[test]
    fn incidents_are_opened_through_the_hooks_and_their_status_is_the_operators() {
        let world = world();
        let create = request(
            "incidents",
            None,
            "CREATE",
            "bob",
            incident_object("2.4.0"),
            Value::Null,
        );
        let Verdict::Allow(ops) = decide(Hook::MutateIncident, &create, &world) else {
            panic!("bob (ml-platform) opens it")
        };
        assert!(
            ops.contains(&json!({"op": "add", "path": "/spec/openedBy", "value": "bob"})),
            "{ops:?}"
        );
        let message = denied(decide(Hook::ValidateIncident, &create, &world));
        assert!(
            message.contains("written by Accord"),
            "not re-stamped: {message}"
        );
        let stale = request(
            "incidents",
            None,
            "CREATE",
            "bob",
            incident_object("2.3.0"),
            Value::Null,
        );
        assert!(denied(decide(Hook::MutateIncident, &stale, &world)).contains("2.4.0 does"));

        let status = request(
            "incidents",
            Some("status"),
            "UPDATE",
            "root",
            incident_object("2.4.0"),
            incident_object("2.4.0"),
        );
        let message = denied(decide(Hook::ValidateIncident, &status, &world));
        assert!(
            message.contains("root may not write the status of Incident payments/fraud-scorer-1"),
            "{message}"
        );
        let by_operator = request(
            "incidents",
            Some("status"),
            "UPDATE",
            "accord-op",
            incident_object("2.4.0"),
            incident_object("2.4.0"),
        );
        assert_eq!(
            decide(Hook::ValidateIncident, &by_operator, &world),
            Verdict::allow()
        );

        let delete = request(
            "incidents",
            None,
            "DELETE",
            "bob",
            Value::Null,
            incident_object("2.4.0"),
        );
        assert!(
            denied(decide(Hook::ValidateIncident, &delete, &world))
                .contains("Incidents are records")
        );
    }

    fn record_object() -> Value {
        json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "PromotionRecord",
            "metadata": {"name": "fraud-scorer-1", "namespace": "payments"},
            "spec": {
                "modelDeployment": "fraud-scorer", "modelUid": "uid-md", "sequence": 1,
                "action": "Promoted", "version": "2.4.0", "at": "2025-01-01T00:00:00Z",
                "digest": format!("sha256:{}", "a".repeat(64)),
                "envelope": {"payloadType": "application/vnd.in-toto+json", "payload": "e30=",
                             "signatures": [{"keyid": "k", "sig": "c2ln"}]}
            }
        })
    }

    #[test]
    fn promotion_records_are_the_operators_and_only_admins_delete_them() {
        assert_eq!(
            Hook::ValidatePromotionRecord.path(),
            "/validate/promotionrecords"
        );
        assert!(!Hook::ValidatePromotionRecord.mutates());
        assert_eq!(Hook::ValidatePromotionRecord.kind(), "PromotionRecord");
        let world = world();
        let by = |operation: &str, user: &str| {
            let (object, old) = match operation {
                "CREATE" => (record_object(), Value::Null),
                "UPDATE" => (record_object(), record_object()),
                _ => (Value::Null, record_object()),
            };
            let request = request("promotionrecords", None, operation, user, object, old);
            decide(Hook::ValidatePromotionRecord, &request, &world)
        };
        for operation in ["CREATE", "UPDATE", "DELETE"] {
            assert_eq!(by(operation, "accord-op"), Verdict::allow(), "{operation}");
        }
        assert_eq!(
            denied(by("CREATE", "bob")),
            "PromotionRecords are written only by Accord's operator (accord-op); bob may not create one"
        );
        assert!(
            denied(by("UPDATE", "bob"))
                .contains("bob may not change PromotionRecord payments/fraud-scorer-1")
        );
        assert!(
            denied(by("DELETE", "bob")).contains("only an admin deletes one"),
            "{:?}",
            by("DELETE", "bob")
        );
        assert_eq!(
            by(
                "DELETE",
                "system:serviceaccount:kube-system:namespace-controller"
            ),
            Verdict::allow()
        );
    }

    #[test]
    fn root_cause_analyses_are_judged_against_their_incident() {
        let world = world();
        let rca = json!({
            "apiVersion": "accord.dev/v1alpha1", "kind": "Attestation",
            "metadata": {"name": "rca", "namespace": "payments"},
            "spec": {
                "modelDeployment": "fraud-scorer", "item": ROOT_CAUSE_ANALYSIS, "version": "2.4.0",
                "incident": "fraud-scorer-1", "evidence": "https://wiki.example.com/rca/1"
            }
        });
        let by = |user: &str| {
            request(
                "attestations",
                None,
                "CREATE",
                user,
                rca.clone(),
                Value::Null,
            )
        };
        let Verdict::Allow(ops) = decide(Hook::MutateAttestation, &by("carol"), &world) else {
            panic!("carol (payments-app, accountable) signs it off")
        };
        assert!(
            ops.contains(&json!({"op": "add", "path": "/spec/team", "value": "payments-app"})),
            "{ops:?}"
        );
        let message = denied(decide(Hook::MutateAttestation, &by("bob"), &world));
        assert!(message.contains("the Accountable Team"), "{message}");
    }
}
