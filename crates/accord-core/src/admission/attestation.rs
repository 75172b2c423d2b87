//! Attestation admission: the identity comes from the request, the candidate from the
//! ModelDeployment, and the seal covers exactly what is stored. Spec and Accord's
//! annotations never change afterwards; only the attester, their Team, an admin, the
//! operator or Kubernetes' own cleanup may withdraw one.
//!
//! A signed Attestation is different: its signature, not the request, says who signed
//! off, so it is admitted from any applier (a GitOps controller) and never changed
//! (what Git holds is what is stored, so a re-sync finds no drift).
//!
//! A root-cause analysis (`spec.incident`) is about an Incident, not a candidate: its
//! version is the Incident's, and it is signed off by the Incident's Accountable Team.
//!
//! A drill review (`spec.drill`) is about a RollbackDrill's finished run: its version
//! is the run's target, and it is given by a member of a role the drill's tabletop
//! lists.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Requester, Rights, SYSTEM_DELETERS, Verdict, annotation, describe_members, member_of};
use crate::{
    api::{
        Answerer, Attestation, ChecklistItem, Incident, ModelDeployment, Role, RollbackDrill, Team,
        fingerprint::short,
        incident::ROOT_CAUSE_ANALYSIS,
        labels::{self},
        namespaced_name,
    },
    seal::{self, SealKeys},
    signing,
    trust::Author,
};

/// Accord's annotations on an Attestation: written by the webhook, covered by the seal.
const SEALED_ANNOTATIONS: [&str; 3] = [
    labels::SEAL,
    labels::ATTESTER_GROUPS,
    labels::MODEL_DEPLOYMENT_UID,
];

/// Decides an Attestation CREATE. `md` is the ModelDeployment it names (if it exists),
/// `team` looks a Team up by name. On success the patch overwrites `spec.attestedBy`
/// and `spec.team` from the requester, fills in the candidate fingerprint, records the
/// groups that make them a member and the ModelDeployment's UID, and seals the result.
pub fn create(
    attestation: &Attestation,
    requester: &Requester,
    md: Option<&ModelDeployment>,
    team: &dyn Fn(&str) -> Option<Team>,
    keys: &SealKeys,
) -> Verdict {
    let admitted = check_candidate(attestation, md).and_then(|(md, item, fingerprint)| {
        check_separation(md, &fingerprint, &requester.username, keys)?;
        let membership = check_membership(attestation, requester, md, item, team)?;
        Ok(identity_patch(
            attestation,
            requester,
            md,
            Some(&fingerprint),
            &membership,
            keys,
        ))
    });
    match admitted {
        Ok(patch) => Verdict::Allow(patch),
        Err(message) => Verdict::Deny(message),
    }
}

/// A GitOps controller applies Git as itself, not as the person signing off: an
/// unsigned Attestation it applies would be nobody's sign-off.
pub fn gitops_unsigned(
    attestation: &Attestation,
    requester: &Requester,
    rights: &Rights,
) -> Option<Verdict> {
    (!attestation.is_signed() && rights.is_gitops(requester)).then(|| {
        Verdict::Deny(format!(
            "{} is a GitOps identity: it applies Git, it is not the person signing off, so the Attestations it applies \
             must be signed; sign it: `kubectl accord attest {} --item {} --sign` (see docs/gitops.md)",
            requester.username, attestation.spec.model_deployment, attestation.spec.item
        ))
    })
}

/// Decides a signed Attestation CREATE, from any applier, without changing it: it names
/// the current candidate, its signer did not introduce that candidate, and the signature
/// verifies against a valid key of the signer in the Team owning the item's role.
/// Runs again as validation, after every mutation, so nothing changed it since.
pub fn create_signed(
    attestation: &Attestation,
    md: Option<&ModelDeployment>,
    team: &dyn Fn(&str) -> Option<Team>,
    keys: &SealKeys,
    now: jiff::Timestamp,
) -> Verdict {
    let admitted = check_candidate(attestation, md).and_then(|(md, item, fingerprint)| {
        if attestation.spec.candidate.is_none() {
            return Err(format!(
                "spec.candidate is required on a signed Attestation: the signature binds the exact candidate, {fingerprint}"
            ));
        }
        let signer = attestation.attester().unwrap_or_default();
        check_separation(md, &fingerprint, signer, keys)?;
        check_signature(attestation, md, item, team, now)
    });
    match admitted {
        Ok(()) => Verdict::allow(),
        Err(message) => Verdict::Deny(message),
    }
}

/// Decides a root-cause analysis CREATE (`spec.incident` set): the Incident exists in
/// the namespace and is about `spec.modelDeployment`, `spec.version` is the Incident's,
/// and the requester is a member of its Accountable Team now. The patch is the one an
/// ordinary sign-off gets, without a candidate: `spec.attestedBy` and `spec.team` (the
/// Accountable Team) from the request, the groups, the ModelDeployment's UID, the seal.
pub fn create_root_cause(
    attestation: &Attestation,
    requester: &Requester,
    md: Option<&ModelDeployment>,
    incident: Option<&Incident>,
    team: &dyn Fn(&str) -> Option<Team>,
    keys: &SealKeys,
) -> Verdict {
    let admitted = check_incident(attestation, md, incident).and_then(|(md, accountable)| {
        not_the_opener(&requester.username, incident, accountable)?;
        let membership = check_accountable(attestation, requester, accountable, team)?;
        Ok(identity_patch(
            attestation,
            requester,
            md,
            None,
            &membership,
            keys,
        ))
    });
    match admitted {
        Ok(patch) => Verdict::Allow(patch),
        Err(message) => Verdict::Deny(message),
    }
}

/// Decides an unsigned drill review CREATE (`spec.drill: DRILL/RUN`): the drill and
/// its run exist and the run finished; it names the drill's ModelDeployment and the
/// run's target version; the requester is a member of a Team holding a role the
/// drill's tabletop lists. The identity patch seals `spec.drill` with the rest.
pub fn create_drill_review(
    attestation: &Attestation,
    requester: &Requester,
    md: Option<&ModelDeployment>,
    drill: Option<&RollbackDrill>,
    team: &dyn Fn(&str) -> Option<Team>,
    keys: &SealKeys,
) -> Verdict {
    let admitted = check_drill_run(attestation, md, drill).and_then(|(md, drill)| {
        let membership = check_reviewer(requester, md, drill, team)?;
        Ok(identity_patch(
            attestation,
            requester,
            md,
            None,
            &membership,
            keys,
        ))
    });
    match admitted {
        Ok(patch) => Verdict::Allow(patch),
        Err(message) => Verdict::Deny(message),
    }
}

/// The run a drill review names, checked against the drill's status.
fn check_drill_run<'a>(
    attestation: &Attestation,
    md: Option<&'a ModelDeployment>,
    drill: Option<&'a RollbackDrill>,
) -> Result<(&'a ModelDeployment, &'a RollbackDrill), String> {
    let spec = &attestation.spec;
    let namespace = attestation
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    let named = spec.drill.as_deref().unwrap_or_default();
    let (drill_name, run_id) = crate::api::split_run_ref(named).ok_or_else(|| {
        format!(
            "spec.drill must be DRILL/RUN (a RollbackDrill and one of its run ids), not {named:?}"
        )
    })?;
    let Some(drill) = drill else {
        return Err(format!(
            "spec.drill: RollbackDrill {namespace}/{drill_name} does not exist: a drill review names a drill in its own namespace (kubectl accord drills)"
        ));
    };
    let about = &drill.spec.model_deployment;
    if *about != spec.model_deployment {
        return Err(format!(
            "RollbackDrill {drill_name} rehearses ModelDeployment {about}, not {}: set spec.modelDeployment to {about}",
            spec.model_deployment
        ));
    }
    let Some(run) = drill.run(run_id) else {
        return Err(format!(
            "spec.drill: RollbackDrill {drill_name} has no run {run_id} (kubectl accord drill report {drill_name})"
        ));
    };
    if !run.is_finished() {
        return Err(format!(
            "run {run_id} of RollbackDrill {drill_name} is still running: review its report once it has finished"
        ));
    }
    let Some(target) = run.target.as_ref().map(|t| t.version.as_str()) else {
        return Err(format!(
            "run {run_id} of RollbackDrill {drill_name} rehearsed no version (it failed before its target was resolved: kubectl accord drill report {drill_name} --run {run_id}), so there is no rollback to review; fix what it names and run the drill again"
        ));
    };
    if spec.version != target {
        return Err(format!(
            "version {} is not the version run {run_id} of RollbackDrill {drill_name} rehearsed, which is {target}: set spec.version to {target}",
            spec.version
        ));
    }
    let md = md.ok_or_else(|| format!("ModelDeployment {namespace}/{about} does not exist"))?;
    Ok((md, drill))
}

/// The requester belongs to the Team of a role the drill's tabletop lists.
fn check_reviewer(
    requester: &Requester,
    md: &ModelDeployment,
    drill: &RollbackDrill,
    team: &dyn Fn(&str) -> Option<Team>,
) -> Result<Membership, String> {
    let name = drill.metadata.name.as_deref().unwrap_or_default();
    let Some(tabletop) = &drill.spec.tabletop else {
        return Err(format!(
            "RollbackDrill {name} has no spec.tabletop: nobody is asked to review its runs"
        ));
    };
    let mut asked = vec![];
    for role in &tabletop.acknowledge {
        let team_name = md.spec.owners.team_for(*role);
        asked.push(format!("{role}: team {team_name}"));
        if let Some(membership) = team(team_name).and_then(|t| membership_in(&t, requester)) {
            return Ok(membership);
        }
    }
    Err(format!(
        "{} is not a member of a Team the tabletop of RollbackDrill {name} asks to review its runs ({}); ask a member of one of them",
        requester.username,
        asked.join(", ")
    ))
}

/// Decides a signed root-cause analysis CREATE, from any applier, without changing it:
/// the Incident checks of [`create_root_cause`], and the signature verifies against a
/// valid key of the signer in the Incident's Accountable Team.
pub fn create_signed_root_cause(
    attestation: &Attestation,
    md: Option<&ModelDeployment>,
    incident: Option<&Incident>,
    team: &dyn Fn(&str) -> Option<Team>,
    now: jiff::Timestamp,
) -> Verdict {
    let admitted = check_incident(attestation, md, incident).and_then(|(_, accountable)| {
        if let Some(signer) = attestation
            .spec
            .signature
            .as_ref()
            .map(|s| s.signer.as_str())
        {
            not_the_opener(signer, incident, accountable)?;
        }
        let subject = format!(
            "the root cause of Incident {}",
            incident
                .map(|i| namespaced_name(&i.metadata))
                .unwrap_or_default()
        );
        verify_signed_by(attestation, accountable, &subject, team, now)
    });
    match admitted {
        Ok(()) => Verdict::allow(),
        Err(message) => Verdict::Deny(message),
    }
}

/// Separation of duties: whoever opened an Incident does not also sign off its root
/// cause.
fn not_the_opener(
    user: &str,
    incident: Option<&Incident>,
    accountable: &Answerer,
) -> Result<(), String> {
    let Some(incident) = incident.filter(|i| i.spec.opened_by.as_deref() == Some(user)) else {
        return Ok(());
    };
    Err(format!(
        "{user} opened Incident {} and may not also sign off its root cause (separation of duties): ask another member of team {}",
        namespaced_name(&incident.metadata),
        accountable.team
    ))
}

/// The Incident a root-cause analysis names exists, is about its ModelDeployment (which
/// exists) and its version, and has an Accountable Team to sign it off.
fn check_incident<'a>(
    attestation: &Attestation,
    md: Option<&'a ModelDeployment>,
    incident: Option<&'a Incident>,
) -> Result<(&'a ModelDeployment, &'a Answerer), String> {
    let spec = &attestation.spec;
    let namespace = attestation
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    let named = spec.incident.as_deref().unwrap_or_default();
    if spec.item != ROOT_CAUSE_ANALYSIS {
        return Err(format!(
            "an Attestation naming an Incident (spec.incident {named}) is its root-cause analysis: set spec.item to {ROOT_CAUSE_ANALYSIS}"
        ));
    }
    let Some(incident) = incident else {
        return Err(format!(
            "Incident {namespace}/{named} does not exist: a root-cause analysis must name an Incident in its own namespace"
        ));
    };
    let incident_name = namespaced_name(&incident.metadata);
    let about = &incident.spec.model_deployment;
    if *about != spec.model_deployment {
        return Err(format!(
            "Incident {incident_name} is about ModelDeployment {about}, not {}: set spec.modelDeployment to {about}",
            spec.model_deployment
        ));
    }
    let Some(md) = md else {
        return Err(format!(
            "ModelDeployment {namespace}/{about} does not exist: a root-cause analysis must name a ModelDeployment in its own namespace"
        ));
    };
    let version = &incident.spec.version;
    if spec.version != *version {
        return Err(format!(
            "version {} is not the version of Incident {incident_name}, which is {version}: a root-cause analysis is about \
             the version that misbehaved; set spec.version to {version}",
            spec.version
        ));
    }
    let Some(accountable) = incident
        .status
        .as_ref()
        .and_then(|s| s.accountable.as_ref())
    else {
        return Err(format!(
            "Incident {incident_name} is not triaged yet (Accord has not named its Accountable Team, who signs off its root cause): \
             try again in a moment"
        ));
    };
    Ok((md, accountable))
}

/// The requester is a member, now, of the Accountable Team of the Incident.
fn check_accountable(
    attestation: &Attestation,
    requester: &Requester,
    accountable: &Answerer,
    team: &dyn Fn(&str) -> Option<Team>,
) -> Result<Membership, String> {
    let namespace = attestation
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    let incident = attestation.spec.incident.as_deref().unwrap_or_default();
    let Answerer {
        role,
        team: team_name,
    } = accountable;
    let Some(accountable_team) = team(team_name) else {
        return Err(format!(
            "team {team_name}, the Accountable Team ({role} role) of Incident {namespace}/{incident}, does not exist: \
             create it before signing off the root cause"
        ));
    };
    membership_in(&accountable_team, requester).ok_or_else(|| {
        format!(
            "{} is not a member of team {team_name}, the Accountable Team ({role} role) of Incident {namespace}/{incident}, \
             which signs off its root cause; ask a member of {team_name} ({}) to attest it",
            requester.username,
            describe_members(&accountable_team)
        )
    })
}

/// The signature verifies against the Team owning the item's role as it is now, and
/// `spec.team`, if written, names that Team.
fn check_signature(
    attestation: &Attestation,
    md: &ModelDeployment,
    item: &ChecklistItem,
    team: &dyn Fn(&str) -> Option<Team>,
    now: jiff::Timestamp,
) -> Result<(), String> {
    let owner = Answerer {
        role: item.owner,
        team: md.spec.owners.team_for(item.owner).to_string(),
    };
    let subject = format!(
        "item {} of ModelDeployment {}",
        item.id,
        namespaced_name(&md.metadata)
    );
    verify_signed_by(attestation, &owner, &subject, team, now)
}

/// The signature verifies against `signer_team` (the Team that signs off `subject`) as
/// it is now, and `spec.team`, if written, names that Team.
fn verify_signed_by(
    attestation: &Attestation,
    signer_team: &Answerer,
    subject: &str,
    team: &dyn Fn(&str) -> Option<Team>,
    now: jiff::Timestamp,
) -> Result<(), String> {
    let Answerer {
        role,
        team: team_name,
    } = signer_team;
    let name = namespaced_name(&attestation.metadata);
    if let Some(recorded) = attestation.spec.team.as_deref()
        && recorded != team_name
    {
        return Err(format!(
            "spec.team of Attestation {name} is {recorded}, but {subject} belongs to team {team_name} \
             (the {role} role): leave spec.team out or set it to {team_name}"
        ));
    }
    let Some(signing_team) = team(team_name) else {
        return Err(format!(
            "team {team_name}, which signs off {subject} (the {role} role), does not exist: create it before attesting"
        ));
    };
    let namespace = attestation
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    signing::verify(namespace, &attestation.spec, &signing_team, now)
        .map(drop)
        .map_err(|e| format!("the signature of Attestation {name} does not verify: {e}"))
}

/// The ModelDeployment exists, and the attestation names an item on its checklist, its
/// candidate version, digest (when set) and fingerprint (when given).
fn check_candidate<'a>(
    attestation: &Attestation,
    md: Option<&'a ModelDeployment>,
) -> Result<(&'a ModelDeployment, &'a ChecklistItem, String), String> {
    let spec = &attestation.spec;
    let Some(md) = md else {
        let namespace = attestation
            .metadata
            .namespace
            .as_deref()
            .unwrap_or_default();
        return Err(format!(
            "ModelDeployment {namespace}/{} does not exist: an Attestation must name a ModelDeployment in its own namespace",
            spec.model_deployment
        ));
    };
    let md_name = namespaced_name(&md.metadata);
    let Some(item) = md.spec.checklist_item(&spec.item) else {
        return Err(format!(
            "item {:?} is not on the checklist of ModelDeployment {md_name}; its items are: {}",
            spec.item,
            md.spec.checklist_ids()
        ));
    };
    let candidate = &md.spec.model.version;
    if &spec.version != candidate {
        return Err(format!(
            "version {} is not the candidate of ModelDeployment {md_name}, which is {candidate}: attest {candidate} instead",
            spec.version
        ));
    }
    if !md.spec.digest_matches(spec.digest.as_deref()) {
        return Err(format!(
            "digest {} does not match the candidate {candidate} of ModelDeployment {md_name}, which has digest {}: set spec.digest to it",
            spec.digest.as_deref().unwrap_or("(none)"),
            md.spec.model.digest.as_deref().unwrap_or_default()
        ));
    }
    let fingerprint = md.spec.fingerprint();
    if let Some(named) = &spec.candidate
        && *named != fingerprint
    {
        return Err(format!(
            "spec.candidate {named} is not the current candidate of ModelDeployment {md_name}, which is {fingerprint} \
             (version {candidate}): what will run changed since; review it and attest the current candidate (or leave spec.candidate empty)"
        ));
    }
    Ok((md, item, fingerprint))
}

/// Separation of duties: whoever introduced the candidate may not attest it, and when
/// Accord cannot tell who did, nobody may until the spec goes through the webhook.
fn check_separation(
    md: &ModelDeployment,
    fingerprint: &str,
    user: &str,
    keys: &SealKeys,
) -> Result<(), String> {
    let md_name = namespaced_name(&md.metadata);
    match seal::candidate_author(md, fingerprint, keys) {
        Author::Known(author) if author == user => Err(format!(
            "{user} last changed the spec of ModelDeployment {md_name} to its candidate {} ({}) and cannot attest their own change \
             (separation of duties): ask another member of the owning team to attest it",
            md.spec.model.version,
            short(fingerprint)
        )),
        Author::Unknown(why) => Err(format!(
            "Accord cannot tell who introduced the candidate of ModelDeployment {md_name}: {why}; \
             re-apply the ModelDeployment (any change through the API server records it) and attest again"
        )),
        _ => Ok(()),
    }
}

/// How the requester belongs to the Team that owns an item.
struct Membership {
    team: String,
    /// The requester's groups that are members (empty when a member by name).
    via_groups: Vec<String>,
}

/// How `requester` belongs to `team`, if they do.
fn membership_in(team: &Team, requester: &Requester) -> Option<Membership> {
    let members = &team.spec.members;
    let by_name = members.users.contains(&requester.username);
    let via_groups: Vec<String> = requester
        .groups
        .iter()
        .filter(|g| members.groups.contains(g))
        .cloned()
        .collect();
    (by_name || !via_groups.is_empty()).then(|| Membership {
        team: team.metadata.name.clone().unwrap_or_default(),
        via_groups,
    })
}

/// The requester is a member of the Team owning `item`.
fn check_membership(
    attestation: &Attestation,
    requester: &Requester,
    md: &ModelDeployment,
    item: &ChecklistItem,
    team: &dyn Fn(&str) -> Option<Team>,
) -> Result<Membership, String> {
    let md_name = namespaced_name(&md.metadata);
    let item_id = &attestation.spec.item;
    let user = &requester.username;
    let role: Role = item.owner;
    let team_name = md.spec.owners.team_for(role);
    let Some(owning_team) = team(team_name) else {
        return Err(format!(
            "team {team_name}, the {role} owner of ModelDeployment {md_name}, does not exist: create it before attesting {item_id}"
        ));
    };
    membership_in(&owning_team, requester).ok_or_else(|| {
        format!(
            "{user} is not a member of team {team_name}, which owns item {item_id} (the {role} role) of ModelDeployment {md_name}; \
             ask a member of {team_name} ({}) to attest it",
            describe_members(&owning_team)
        )
    })
}

/// The JSON patch writing who attested (from the request), the candidate (none for a
/// root-cause analysis), and the seal over exactly what will be stored.
fn identity_patch(
    attestation: &Attestation,
    requester: &Requester,
    md: &ModelDeployment,
    candidate: Option<&str>,
    membership: &Membership,
    keys: &SealKeys,
) -> Vec<Value> {
    let user = &requester.username;
    let mut admitted = attestation.clone();
    admitted.spec.attested_by = Some(user.clone());
    admitted.spec.team = Some(membership.team.clone());
    if let Some(fingerprint) = candidate {
        admitted.spec.candidate = Some(fingerprint.to_string());
    }
    let mut annotations: BTreeMap<String, String> =
        admitted.metadata.annotations.clone().unwrap_or_default();
    for key in SEALED_ANNOTATIONS {
        annotations.remove(key);
    }
    if !membership.via_groups.is_empty() {
        annotations.insert(
            labels::ATTESTER_GROUPS.into(),
            membership.via_groups.join(","),
        );
    }
    annotations.insert(
        labels::MODEL_DEPLOYMENT_UID.into(),
        md.metadata.uid.clone().unwrap_or_default(),
    );
    admitted.metadata.annotations = Some(annotations);
    let seal = keys.seal(&admitted);
    let mut annotations = admitted.metadata.annotations.take().unwrap_or_default();
    annotations.insert(labels::SEAL.into(), seal);
    let mut ops = vec![
        json!({"op": "add", "path": "/spec/attestedBy", "value": user}),
        json!({"op": "add", "path": "/spec/team", "value": membership.team}),
    ];
    if let Some(fingerprint) = candidate {
        ops.push(json!({"op": "add", "path": "/spec/candidate", "value": fingerprint}));
    }
    ops.push(json!({"op": "add", "path": "/metadata/annotations", "value": annotations}));
    ops
}

/// Decides an Attestation UPDATE: the spec and Accord's annotations never change.
pub fn update(old: &Attestation, new: &Attestation) -> Verdict {
    if old.spec != new.spec {
        return Verdict::Deny(format!(
            "the spec of Attestation {} is immutable: delete it and create a new one",
            namespaced_name(&new.metadata)
        ));
    }
    for key in SEALED_ANNOTATIONS {
        if annotation(&old.metadata, key) != annotation(&new.metadata, key) {
            return Verdict::Deny(format!(
                "the annotation {key} is written by Accord and cannot be changed"
            ));
        }
    }
    Verdict::allow()
}

/// Re-checks a created Attestation after every mutation: the identity is the
/// requester's and the seal verifies (no later webhook changed what Accord sealed).
pub fn validate_create(
    attestation: &Attestation,
    requester: &Requester,
    keys: &SealKeys,
) -> Verdict {
    if attestation.spec.attested_by.as_deref() != Some(requester.username.as_str()) {
        return Verdict::Deny(format!(
            "spec.attestedBy must be the requesting user {}; it was changed after Accord admitted it",
            requester.username
        ));
    }
    match keys.verify(attestation) {
        Ok(()) => Verdict::allow(),
        Err(reason) => Verdict::Deny(format!("the Attestation cannot be admitted: {reason}")),
    }
}

/// Withdrawal: the attester, a member of their Team, an admin, the operator, or
/// Kubernetes deleting the namespace may delete an Attestation; nobody else.
pub fn delete(
    attestation: &Attestation,
    requester: &Requester,
    team: &dyn Fn(&str) -> Option<Team>,
    rights: &Rights,
) -> Verdict {
    let user = &requester.username;
    let attester = attestation.attester();
    let verified_team = attestation
        .status
        .as_ref()
        .and_then(|s| s.verified_by.as_ref())
        .map(|v| v.team.as_str());
    let recorded_team = attestation.spec.team.as_deref().or(verified_team);
    let allowed = attester == Some(user.as_str())
        || recorded_team.is_some_and(|t| member_of(team, t, requester))
        || rights.is_admin(requester)
        || rights.is_operator(requester)
        || (attestation.is_signed() && rights.is_gitops(requester))
        || SYSTEM_DELETERS.contains(&user.as_str());
    if allowed {
        return Verdict::allow();
    }
    Verdict::Deny(format!(
        "{user} may not withdraw Attestation {} by {}: only its attester, members of team {}{} may",
        namespaced_name(&attestation.metadata),
        attester.unwrap_or("an unknown user"),
        recorded_team.unwrap_or("(none)"),
        rights.admins_clause()
    ))
}

#[cfg(test)]
mod tests {
    use super::{
        super::fixtures::{allowed, apply_patch, denied, request, teams, user},
        *,
    };
    use crate::testing::md;

    /// fraud-scorer 2.4.0 whose candidate bob (ml-platform) introduced.
    fn candidate(version: &str, keys: &SealKeys) -> ModelDeployment {
        authored_by(md(version), "bob", keys)
    }

    fn authored_by(mut m: ModelDeployment, author: &str, keys: &SealKeys) -> ModelDeployment {
        let seal =
            keys.seal_candidate_author("payments", "fraud-scorer", &m.spec.fingerprint(), author);
        let annotations = m.metadata.annotations.get_or_insert_default();
        annotations.insert(labels::CANDIDATE_AUTHOR.into(), author.into());
        annotations.insert(labels::CANDIDATE_AUTHOR_SEAL.into(), seal);
        m
    }

    fn admit(
        att: &Attestation,
        requester: &Requester,
        m: &ModelDeployment,
        keys: &SealKeys,
    ) -> Attestation {
        apply_patch(att, &allowed(create(att, requester, Some(m), &teams, keys)))
    }

    #[test]
    fn member_is_admitted_with_identity_candidate_and_object_from_the_request_and_a_valid_seal() {
        let keys = SealKeys::generate("k1");
        let alice = user("alice", &["data-platform-eng", "system:authenticated"]);
        let m = candidate("2.4.0", &keys);
        let stored = admit(&request("drift", "2.4.0"), &alice, &m, &keys);
        assert_eq!(
            stored.spec.attested_by.as_deref(),
            Some("alice"),
            "the spoofed attestedBy is overwritten"
        );
        assert_eq!(stored.spec.team.as_deref(), Some("data-platform"));
        assert_eq!(stored.spec.candidate, Some(m.spec.fingerprint()));
        let annotations = stored.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations[labels::ATTESTER_GROUPS], "data-platform-eng");
        assert_eq!(annotations[labels::MODEL_DEPLOYMENT_UID], "uid-md");
        assert_eq!(keys.verify(&stored), Ok(()));
        assert_eq!(validate_create(&stored, &alice, &keys), Verdict::allow());
    }

    #[test]
    fn member_by_user_name_records_no_groups() {
        let keys = SealKeys::generate("k1");
        let stored = admit(
            &request("kpis", "2.4.0"),
            &user("carol", &[]),
            &candidate("2.4.0", &keys),
            &keys,
        );
        assert!(
            !stored
                .metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(labels::ATTESTER_GROUPS)
        );
        assert_eq!(keys.verify(&stored), Ok(()));
    }

    #[test]
    fn wrong_team_and_no_team_are_denied_naming_the_team() {
        let keys = SealKeys::generate("k1");
        let m = candidate("2.4.0", &keys);
        let message = denied(create(
            &request("latency", "2.4.0"),
            &user("alice", &["data-platform-eng"]),
            Some(&m),
            &teams,
            &keys,
        ));
        assert!(
            message.contains("alice is not a member of team ml-platform"),
            "{message}"
        );
        assert!(message.contains("item latency"), "{message}");
        assert!(message.contains("payments/fraud-scorer"), "{message}");
        assert!(message.contains("groups ml-platform-eng"), "{message}");
        let message = denied(create(
            &request("drift", "2.4.0"),
            &user("mallory", &["system:authenticated"]),
            Some(&m),
            &teams,
            &keys,
        ));
        assert!(
            message.contains("mallory is not a member of team data-platform"),
            "{message}"
        );
    }

    #[test]
    fn stale_version_wrong_digest_other_candidate_unknown_item_and_missing_md_are_denied() {
        let keys = SealKeys::generate("k1");
        let alice = user("alice", &["data-platform-eng"]);
        let m = candidate("2.4.0", &keys);
        let message = denied(create(
            &request("drift", "2.3.0"),
            &alice,
            Some(&m),
            &teams,
            &keys,
        ));
        assert!(
            message.contains("version 2.3.0 is not the candidate")
                && message.contains("attest 2.4.0"),
            "{message}"
        );
        let mut with_digest = md("2.4.0");
        with_digest.spec.model.digest = Some(format!("sha256:{}", "a".repeat(64)));
        let with_digest = authored_by(with_digest, "bob", &keys);
        let mut wrong = request("drift", "2.4.0");
        wrong.spec.digest = Some(format!("sha256:{}", "b".repeat(64)));
        assert!(
            denied(create(&wrong, &alice, Some(&with_digest), &teams, &keys))
                .contains("does not match")
        );
        let mut other = request("drift", "2.4.0");
        other.spec.candidate = Some(format!("sha256:{}", "c".repeat(64)));
        let message = denied(create(&other, &alice, Some(&m), &teams, &keys));
        assert!(
            message.contains("is not the current candidate"),
            "{message}"
        );
        let message = denied(create(
            &request("vibes", "2.4.0"),
            &alice,
            Some(&m),
            &teams,
            &keys,
        ));
        assert!(
            message.contains("\"vibes\" is not on the checklist")
                && message.contains("drift, latency, kpis"),
            "{message}"
        );
        let message = denied(create(
            &request("drift", "2.4.0"),
            &alice,
            None,
            &teams,
            &keys,
        ));
        assert!(
            message.contains("payments/fraud-scorer does not exist"),
            "{message}"
        );
    }

    #[test]
    fn whoever_introduced_the_candidate_cannot_attest_it() {
        let keys = SealKeys::generate("k1");
        let changed = authored_by(md("2.4.0"), "dave", &keys);
        let dave = user("dave", &["data-platform-eng", "ml-platform-eng"]);
        let message = denied(create(
            &request("drift", "2.4.0"),
            &dave,
            Some(&changed),
            &teams,
            &keys,
        ));
        assert!(
            message.contains("dave last changed the spec")
                && message.contains("separation of duties"),
            "{message}"
        );
        let alice = user("alice", &["data-platform-eng"]);
        allowed(create(
            &request("drift", "2.4.0"),
            &alice,
            Some(&changed),
            &teams,
            &keys,
        ));
        // No record, or a record for another candidate: nobody may attest.
        let unknown = md("2.4.0");
        let message = denied(create(
            &request("drift", "2.4.0"),
            &alice,
            Some(&unknown),
            &teams,
            &keys,
        ));
        assert!(message.contains("cannot tell who introduced"), "{message}");
        let mut moved = changed.clone();
        moved.spec.serving.image = Some("registry.example.com/fraud-scorer:other".into());
        let message = denied(create(
            &request("drift", "2.4.0"),
            &alice,
            Some(&moved),
            &teams,
            &keys,
        ));
        assert!(message.contains("does not verify"), "{message}");
    }

    #[test]
    fn attestation_updates_keep_spec_and_sealed_annotations() {
        let old = request("drift", "2.4.0");
        let mut new = old.clone();
        new.metadata.labels = Some(BTreeMap::from([(
            "reviewed".to_string(),
            "yes".to_string(),
        )]));
        assert_eq!(update(&old, &new), Verdict::allow());
        new.spec.version = "2.5.0".into();
        assert!(denied(update(&old, &new)).contains("immutable"));
        for key in SEALED_ANNOTATIONS {
            let mut changed = old.clone();
            changed.metadata.annotations =
                Some(BTreeMap::from([(key.to_string(), "x".to_string())]));
            assert!(denied(update(&old, &changed)).contains(key));
        }
    }

    #[test]
    fn validation_catches_changes_after_mutation() {
        let keys = SealKeys::generate("k1");
        let alice = user("alice", &["data-platform-eng"]);
        let mut stored = admit(
            &request("drift", "2.4.0"),
            &alice,
            &candidate("2.4.0", &keys),
            &keys,
        );
        stored.spec.comment = Some("fine".into());
        assert_eq!(validate_create(&stored, &alice, &keys), Verdict::allow());
        stored.spec.attested_by = Some("bob".into());
        assert!(denied(validate_create(&stored, &alice, &keys)).contains("requesting user alice"));
        stored.spec.attested_by = Some("alice".into());
        stored.spec.item = "latency".into();
        assert!(denied(validate_create(&stored, &alice, &keys)).contains("altered"));
    }

    #[test]
    fn only_the_attester_their_team_admins_the_operator_and_kubernetes_withdraw() {
        let keys = SealKeys::generate("k1");
        let alice = user("alice", &["data-platform-eng"]);
        let stored = admit(
            &request("drift", "2.4.0"),
            &alice,
            &candidate("2.4.0", &keys),
            &keys,
        );
        let rights = Rights {
            admin_groups: vec!["accord-admins".into()],
            operator_identities: vec!["accord-op".into()],
            ..Default::default()
        };
        for who in [
            alice.clone(),
            user("erin", &["data-platform-eng"]),
            user("root", &["accord-admins"]),
            user("accord-op", &[]),
            user(
                "system:serviceaccount:kube-system:namespace-controller",
                &[],
            ),
        ] {
            assert_eq!(
                delete(&stored, &who, &teams, &rights),
                Verdict::allow(),
                "{who:?}"
            );
        }
        let message = denied(delete(
            &stored,
            &user("bob", &["ml-platform-eng"]),
            &teams,
            &rights,
        ));
        assert!(
            message.contains("bob may not withdraw")
                && message.contains("by alice")
                && message.contains("data-platform"),
            "{message}"
        );
    }

    mod signed_sign_offs {
        use super::*;
        use crate::testing::{TestKey, signed, ssh_key, team, time, with_key};

        fn with_alice(alice: &TestKey) -> impl Fn(&str) -> Option<Team> + '_ {
            move |name: &str| match name {
                "data-platform" => Some(with_key(
                    team("data-platform", &["alice"], &[]),
                    "alice",
                    alice,
                )),
                other => teams(other),
            }
        }

        fn now() -> jiff::Timestamp {
            time(60).0
        }

        #[test]
        fn a_valid_signature_is_admitted_unchanged_from_any_applier() {
            let keys = SealKeys::generate("k1");
            let alice = ssh_key("alice");
            let m = candidate("2.4.0", &keys);
            let att = signed(&m, "drift", "alice", &alice, 10);
            assert_eq!(
                create_signed(&att, Some(&m), &with_alice(&alice), &keys, now()),
                Verdict::allow(),
                "no patch: what Git holds is what is stored"
            );
            let rights = Rights {
                gitops_identities: vec!["flux".into()],
                ..Default::default()
            };
            assert!(gitops_unsigned(&att, &user("flux", &[]), &rights).is_none());
        }

        #[test]
        fn unsigned_attestations_from_gitops_identities_are_refused() {
            let rights = Rights {
                gitops_identities: vec![
                    "system:serviceaccount:flux-system:kustomize-controller".into(),
                ],
                ..Default::default()
            };
            let flux = user(
                "system:serviceaccount:flux-system:kustomize-controller",
                &[],
            );
            let message =
                denied(gitops_unsigned(&request("drift", "2.4.0"), &flux, &rights).unwrap());
            assert!(
                message.contains("is a GitOps identity")
                    && message.contains("kubectl accord attest fraud-scorer --item drift --sign"),
                "{message}"
            );
            assert!(
                gitops_unsigned(&request("drift", "2.4.0"), &user("alice", &[]), &rights).is_none()
            );
        }

        #[test]
        fn every_bad_signature_is_refused_saying_what_failed() {
            let keys = SealKeys::generate("k1");
            let alice = ssh_key("alice");
            let mallory = ssh_key("mallory");
            let m = candidate("2.4.0", &keys);
            let lookup = with_alice(&alice);
            let deny =
                |att: &Attestation| denied(create_signed(att, Some(&m), &lookup, &keys, now()));

            let mut tampered = signed(&m, "drift", "alice", &alice, 10);
            tampered.spec.evidence = Some("https://ci.example.com/runs/forged".into());
            let message = deny(&tampered);
            assert!(
                message.contains("does not verify")
                    && message.contains("does not match the statement"),
                "{message}"
            );

            let forged = signed(&m, "drift", "alice", &mallory, 10);
            assert!(
                deny(&forged).contains("not one of alice's signing keys"),
                "{}",
                deny(&forged)
            );

            let other_team = signed(&m, "latency", "alice", &alice, 10);
            assert!(deny(&other_team).contains("alice has no signing key in team ml-platform"));

            let mut wrong_team = signed(&m, "drift", "alice", &alice, 10);
            wrong_team.spec.team = Some("ml-platform".into());
            assert!(deny(&wrong_team).contains("leave spec.team out or set it to data-platform"));

            let mut no_candidate = signed(&m, "drift", "alice", &alice, 10);
            no_candidate.spec.candidate = None;
            assert!(
                deny(&no_candidate).contains("spec.candidate is required on a signed Attestation")
            );

            let moved = candidate("2.5.0", &keys);
            let stale = signed(&m, "drift", "alice", &alice, 10);
            let message = denied(create_signed(&stale, Some(&moved), &lookup, &keys, now()));
            assert!(message.contains("is not the candidate"), "{message}");

            let authored = authored_by(md("2.4.0"), "alice", &keys);
            let own = signed(&authored, "drift", "alice", &alice, 10);
            let message = denied(create_signed(&own, Some(&authored), &lookup, &keys, now()));
            assert!(message.contains("separation of duties"), "{message}");
        }

        #[test]
        fn gitops_identities_prune_signed_attestations_but_not_unsigned_ones() {
            let keys = SealKeys::generate("k1");
            let alice = ssh_key("alice");
            let m = candidate("2.4.0", &keys);
            let att = signed(&m, "drift", "alice", &alice, 10);
            let rights = Rights {
                gitops_identities: vec!["flux".into()],
                ..Default::default()
            };
            let lookup = with_alice(&alice);
            assert_eq!(
                delete(&att, &user("flux", &[]), &lookup, &rights),
                Verdict::allow()
            );
            assert_eq!(
                delete(&att, &user("alice", &[]), &lookup, &rights),
                Verdict::allow()
            );
            assert!(
                denied(delete(&att, &user("mallory", &[]), &lookup, &rights))
                    .contains("mallory may not withdraw")
            );
            let unsigned = admit(
                &request("drift", "2.4.0"),
                &user("alice", &["data-platform-eng"]),
                &m,
                &keys,
            );
            assert!(
                denied(delete(&unsigned, &user("flux", &[]), &teams, &rights))
                    .contains("flux may not withdraw")
            );
        }
    }

    mod root_cause_analyses {
        use super::*;
        use crate::{
            api::{IncidentSpec, IncidentStatus},
            testing::{TestKey, ssh_key, team, time, with_key},
        };

        /// Incident `name` on fraud-scorer 2.4.0, with `accountable` (role, Team) once
        /// triaged.
        fn incident(name: &str, accountable: Option<(Role, &str)>) -> Incident {
            let mut incident = Incident::new(
                name,
                IncidentSpec {
                    model_deployment: "fraud-scorer".into(),
                    version: "2.4.0".into(),
                    summary: "chargebacks doubled".into(),
                    ..Default::default()
                },
            );
            incident.metadata.namespace = Some("payments".into());
            incident.status = accountable.map(|(role, team)| IncidentStatus {
                accountable: Some(Answerer {
                    role,
                    team: team.into(),
                }),
                ..Default::default()
            });
            incident
        }

        /// A root-cause analysis of `incident` as a client sends it.
        fn rca(incident: &str, version: &str) -> Attestation {
            let mut att = request(ROOT_CAUSE_ANALYSIS, version);
            att.spec.incident = Some(incident.into());
            att.spec.evidence = Some("https://wiki.example.com/rca/42".into());
            att.spec.follow_ups = vec!["load-test".into()];
            att
        }

        /// The candidate moved on since: a root cause is about the Incident's version.
        fn moved_on() -> ModelDeployment {
            md("2.5.0")
        }

        fn accountable_app() -> Incident {
            incident("fraud-scorer-1", Some((Role::Application, "payments-app")))
        }

        #[test]
        fn the_accountable_team_signs_it_off_stamped_and_sealed_like_any_sign_off() {
            let keys = SealKeys::generate("k1");
            let carol = user("carol", &[]);
            let att = rca("fraud-scorer-1", "2.4.0");
            let inc = accountable_app();
            let ops = allowed(create_root_cause(
                &att,
                &carol,
                Some(&moved_on()),
                Some(&inc),
                &teams,
                &keys,
            ));
            assert!(
                ops.iter().all(|op| op["path"] != "/spec/candidate"),
                "no candidate: {ops:?}"
            );
            let stored = apply_patch(&att, &ops);
            assert_eq!(stored.spec.attested_by.as_deref(), Some("carol"));
            assert_eq!(stored.spec.team.as_deref(), Some("payments-app"));
            assert_eq!(stored.spec.candidate, None);
            let annotations = stored.metadata.annotations.as_ref().unwrap();
            assert_eq!(annotations[labels::MODEL_DEPLOYMENT_UID], "uid-md");
            assert!(!annotations.contains_key(labels::ATTESTER_GROUPS));
            assert_eq!(keys.verify(&stored), Ok(()));
            assert_eq!(validate_create(&stored, &carol, &keys), Verdict::allow());
            // By group: the groups that make them a member are recorded.
            let platform = incident("fraud-scorer-1", Some((Role::Platform, "ml-platform")));
            let bob = user("bob", &["ml-platform-eng", "system:authenticated"]);
            let ops = allowed(create_root_cause(
                &att,
                &bob,
                Some(&moved_on()),
                Some(&platform),
                &teams,
                &keys,
            ));
            let stored = apply_patch(&att, &ops);
            assert_eq!(
                stored.metadata.annotations.as_ref().unwrap()[labels::ATTESTER_GROUPS],
                "ml-platform-eng"
            );
        }

        #[test]
        fn whoever_opened_the_incident_does_not_also_sign_its_root_cause() {
            let keys = SealKeys::generate("k1");
            let mut opened_by_carol = accountable_app();
            opened_by_carol.spec.opened_by = Some("carol".into());
            let message = denied(create_root_cause(
                &rca("fraud-scorer-1", "2.4.0"),
                &user("carol", &[]),
                Some(&moved_on()),
                Some(&opened_by_carol),
                &teams,
                &keys,
            ));
            assert!(
                message.contains("carol opened Incident payments/fraud-scorer-1")
                    && message.contains("separation of duties"),
                "{message}"
            );
        }

        #[test]
        fn only_the_accountable_team_and_only_once_triaged() {
            let keys = SealKeys::generate("k1");
            let m = moved_on();
            let att = rca("fraud-scorer-1", "2.4.0");
            let message = denied(create_root_cause(
                &att,
                &user("alice", &["data-platform-eng"]),
                Some(&m),
                Some(&accountable_app()),
                &teams,
                &keys,
            ));
            assert!(
                message.contains(
                    "alice is not a member of team payments-app, the Accountable Team (application role) of Incident \
                     payments/fraud-scorer-1, which signs off its root cause"
                ) && message.contains("users carol"),
                "{message}"
            );
            let message = denied(create_root_cause(
                &att,
                &user("carol", &[]),
                Some(&m),
                Some(&incident("fraud-scorer-1", None)),
                &teams,
                &keys,
            ));
            assert!(
                message.contains("Incident payments/fraud-scorer-1 is not triaged yet")
                    && message.contains("try again in a moment"),
                "{message}"
            );
        }

        #[test]
        fn it_names_an_existing_incident_of_its_model_and_the_incidents_version() {
            let keys = SealKeys::generate("k1");
            let m = moved_on();
            let carol = user("carol", &[]);
            let inc = accountable_app();
            let deny = |att: &Attestation, md: Option<&ModelDeployment>, inc: Option<&Incident>| {
                denied(create_root_cause(att, &carol, md, inc, &teams, &keys))
            };
            let message = deny(&rca("fraud-scorer-1", "2.5.0"), Some(&m), Some(&inc));
            assert!(
                message.contains("version 2.5.0 is not the version of Incident payments/fraud-scorer-1, which is 2.4.0")
                    && message.contains("set spec.version to 2.4.0"),
                "{message}"
            );
            let message = deny(&rca("fraud-scorer-9", "2.4.0"), Some(&m), None);
            assert!(
                message.contains("Incident payments/fraud-scorer-9 does not exist"),
                "{message}"
            );
            let mut elsewhere = inc.clone();
            elsewhere.spec.model_deployment = "other-model".into();
            let message = deny(&rca("fraud-scorer-1", "2.4.0"), Some(&m), Some(&elsewhere));
            assert!(
                message.contains("is about ModelDeployment other-model, not fraud-scorer"),
                "{message}"
            );
            let message = deny(&rca("fraud-scorer-1", "2.4.0"), None, Some(&inc));
            assert!(
                message.contains("ModelDeployment payments/fraud-scorer does not exist"),
                "{message}"
            );
            let mut not_rca = rca("fraud-scorer-1", "2.4.0");
            not_rca.spec.item = "drift".into();
            let message = deny(&not_rca, Some(&m), Some(&inc));
            assert!(
                message.contains("set spec.item to root-cause-analysis"),
                "{message}"
            );
        }

        #[test]
        fn a_root_cause_replayed_onto_another_incident_needs_that_incidents_accountable_team() {
            let keys = SealKeys::generate("k1");
            let m = moved_on();
            let carol = user("carol", &[]);
            let first = apply_patch(
                &rca("fraud-scorer-1", "2.4.0"),
                &allowed(create_root_cause(
                    &rca("fraud-scorer-1", "2.4.0"),
                    &carol,
                    Some(&m),
                    Some(&accountable_app()),
                    &teams,
                    &keys,
                )),
            );
            let mut replayed = first.clone();
            replayed.metadata.name = Some("replayed".into());
            replayed.spec.incident = Some("fraud-scorer-2".into());
            let other = incident("fraud-scorer-2", Some((Role::Data, "data-platform")));
            let message = denied(create_root_cause(
                &replayed,
                &carol,
                Some(&m),
                Some(&other),
                &teams,
                &keys,
            ));
            assert!(
                message.contains("carol is not a member of team data-platform"),
                "{message}"
            );
            // And the stored seal does not follow it to the other Incident.
            assert!(keys.verify(&replayed).is_err());
        }

        /// `att` signed by `signer` with `key`, as `kubectl accord attest --sign` does.
        fn sign(mut att: Attestation, signer: &str, key: &TestKey) -> Attestation {
            use std::{
                io::Write,
                process::{Command, Stdio},
            };
            att.metadata.annotations = None;
            att.spec.team = None;
            att.spec.attested_by = None;
            att.spec.signature = Some(crate::api::AttestationSignature {
                signer: signer.into(),
                signed_at: time(10).0.to_string(),
                sshsig: String::new(),
            });
            let statement = signing::signed_statement("payments", &att.spec).unwrap();
            let mut child = Command::new("ssh-keygen")
                .args(["-q", "-Y", "sign", "-n", signing::NAMESPACE, "-f"])
                .arg(&key.path)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("ssh-keygen runs");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(statement.as_bytes())
                .unwrap();
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "ssh-keygen signed");
            att.spec.signature.as_mut().unwrap().sshsig = String::from_utf8(output.stdout).unwrap();
            att
        }

        #[test]
        fn a_signed_root_cause_verifies_against_the_accountable_teams_keys() {
            let carol_key = ssh_key("carol");
            let mallory_key = ssh_key("mallory");
            let lookup = |name: &str| match name {
                "payments-app" => Some(with_key(
                    team("payments-app", &["carol"], &[]),
                    "carol",
                    &carol_key,
                )),
                other => teams(other),
            };
            let m = moved_on();
            let inc = accountable_app();
            let now = time(60).0;
            let att = sign(rca("fraud-scorer-1", "2.4.0"), "carol", &carol_key);
            assert_eq!(
                create_signed_root_cause(&att, Some(&m), Some(&inc), &lookup, now),
                Verdict::allow(),
                "admitted unchanged"
            );
            let forged = sign(rca("fraud-scorer-1", "2.4.0"), "carol", &mallory_key);
            let message = denied(create_signed_root_cause(
                &forged,
                Some(&m),
                Some(&inc),
                &lookup,
                now,
            ));
            assert!(message.contains("does not verify"), "{message}");
            let mut wrong_team = att.clone();
            wrong_team.spec.team = Some("ml-platform".into());
            let message = denied(create_signed_root_cause(
                &wrong_team,
                Some(&m),
                Some(&inc),
                &lookup,
                now,
            ));
            assert!(
                message.contains(
                    "the root cause of Incident payments/fraud-scorer-1 belongs to team payments-app (the application role): \
                     leave spec.team out or set it to payments-app"
                ),
                "{message}"
            );
            // Signed for one Incident, replayed onto another: the statement differs.
            let mut replayed = att.clone();
            replayed.spec.incident = Some("fraud-scorer-2".into());
            let mut other = inc.clone();
            other.metadata.name = Some("fraud-scorer-2".into());
            let message = denied(create_signed_root_cause(
                &replayed,
                Some(&m),
                Some(&other),
                &lookup,
                now,
            ));
            assert!(message.contains("does not verify"), "{message}");
            // Not yet triaged: nobody's key counts.
            let message = denied(create_signed_root_cause(
                &att,
                Some(&m),
                Some(&incident("fraud-scorer-1", None)),
                &lookup,
                now,
            ));
            assert!(message.contains("not triaged yet"), "{message}");
        }
    }
}
