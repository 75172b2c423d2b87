//! `/models/{ns}/{name}`: one model's checklist with every sign-off (who, when, the
//! evidence, and whether it was given here, signed, carried or auto-approved), one
//! timeline merging its history, its Attestations and its Events, the canary, and the
//! rollback plan. Pure: the Events are read by the caller and passed in.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Event;
use serde::Serialize;

use super::views::Snapshot;
use crate::{
    api::{Attestation, ItemApproval, ModelDeployment},
    status::{self, CanaryView},
};

/// How a sign-off came to count.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub enum How {
    /// An Attestation created in the cluster by the person.
    InCluster,
    /// An SSH-signed Attestation, e.g. applied from Git.
    Signed,
    /// Given upstream and carried (`spec.promotion.carry`).
    Carried,
    /// Nobody signed: a HandoffPolicy's `autoApprove` rule satisfied it.
    AutoApproved,
}

/// One sign-off of an item.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SignOff {
    pub by: String,
    pub attestation: Option<String>,
    pub at: Option<Timestamp>,
    pub evidence: Option<String>,
    pub how: How,
    /// Where it came from: the upstream model, or the auto-approve rule.
    pub from: Option<String>,
}

/// One checklist row.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub id: String,
    pub description: Option<String>,
    pub owner: String,
    pub team: String,
    pub required: bool,
    pub attested: bool,
    pub sign_offs: Vec<SignOff>,
    /// Why a sign-off did not count, when one exists.
    pub reason: Option<String>,
}

impl Item {
    /// `attested`, `pending` or `optional`.
    pub fn state(&self) -> &'static str {
        match (self.attested, self.required) {
            (true, _) => "attested",
            (false, true) => "pending",
            (false, false) => "optional",
        }
    }
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Moment {
    pub at: Option<Timestamp>,
    /// `History`, `SignOff` or `Event`.
    pub source: &'static str,
    pub what: String,
}

/// `/models/{ns}/{name}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModelPage {
    pub status: status::Status,
    pub items: Vec<Item>,
    pub timeline: Vec<Moment>,
    pub canary: Option<CanaryView>,
    pub rollback_mode: String,
    pub progress_deadline_seconds: i32,
    /// The version a rollback would restore now: the newest earlier entry that was
    /// available.
    pub rollback_target: Option<String>,
    pub deployment: String,
}

/// The Attestations in the model's namespace about it.
fn attestations_of(md: &ModelDeployment, snapshot: &Snapshot) -> Vec<Attestation> {
    let (ns, name) = (
        md.metadata.namespace.as_deref(),
        md.metadata.name.as_deref(),
    );
    snapshot
        .attestations
        .iter()
        .filter(|a| {
            a.metadata.namespace.as_deref() == ns && Some(a.spec.model_deployment.as_str()) == name
        })
        .map(|a| (**a).clone())
        .collect()
}

fn items(md: &ModelDeployment, attestations: &[Attestation]) -> Vec<Item> {
    let find = |name: &str| {
        attestations
            .iter()
            .find(|a| a.metadata.name.as_deref() == Some(name))
    };
    let description = |id: &str| {
        md.spec
            .handoff
            .checklist
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| c.description.clone())
    };
    let recorded = md.status.as_ref().map(|s| s.checklist.as_slice());
    status::view(md, &[])
        .checklist
        .into_iter()
        .map(|row| {
            let st = recorded.and_then(|r| r.iter().find(|i| i.id == row.item));
            let mut approvals = st.map(|s| s.approvals.clone()).unwrap_or_default();
            // Status written before `approvals` existed names only the sign-off that
            // counted (as `audit` reads it too).
            if approvals.is_empty()
                && let Some(s) = st
                && let (Some(by), Some(name)) = (&s.attested_by, &s.attestation)
            {
                approvals.push(ItemApproval {
                    attested_by: by.clone(),
                    attestation: name.clone(),
                    carried_from: s.carried_from.clone(),
                });
            }
            let mut sign_offs: Vec<SignOff> = approvals
                .iter()
                .map(|a| {
                    let local = a
                        .carried_from
                        .is_none()
                        .then(|| find(&a.attestation))
                        .flatten();
                    SignOff {
                        by: a.attested_by.clone(),
                        attestation: Some(a.attestation.clone()),
                        at: local.and_then(|l| l.metadata.creation_timestamp.as_ref().map(|t| t.0)),
                        evidence: local.and_then(|l| l.spec.evidence.clone()),
                        how: match (&a.carried_from, local) {
                            (Some(_), _) => How::Carried,
                            (None, Some(l)) if l.is_signed() => How::Signed,
                            _ => How::InCluster,
                        },
                        from: a.carried_from.as_ref().map(|c| c.model_deployment.clone()),
                    }
                })
                .collect();
            if let Some(rule) = st.and_then(|s| s.auto_approved_by.clone()) {
                sign_offs.push(SignOff {
                    by: "Accord".into(),
                    attestation: None,
                    at: None,
                    evidence: None,
                    how: How::AutoApproved,
                    from: Some(rule),
                });
            }
            Item {
                description: description(&row.item),
                id: row.item,
                owner: row.owner,
                team: row.team,
                required: row.required,
                attested: row.attested,
                sign_offs,
                reason: row.reason,
            }
        })
        .collect()
}

fn timeline(md: &ModelDeployment, attestations: &[Attestation], events: &[Event]) -> Vec<Moment> {
    let mut out: Vec<Moment> = Vec::new();
    for h in md.status.iter().flat_map(|s| &s.history) {
        out.push(Moment {
            at: Some(h.at.0),
            source: "History",
            what: format!("{:?} {} ({})", h.outcome, h.version, h.reason),
        });
    }
    for a in attestations {
        out.push(Moment {
            at: a.metadata.creation_timestamp.as_ref().map(|t| t.0),
            source: "SignOff",
            what: format!(
                "{} signed off {} for {}",
                a.attester().unwrap_or("?"),
                a.spec.item,
                a.spec.version
            ),
        });
    }
    for e in events {
        let at = e
            .last_timestamp
            .as_ref()
            .or(e.first_timestamp.as_ref())
            .map(|t| t.0)
            .or_else(|| e.event_time.as_ref().map(|t| t.0))
            .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0));
        out.push(Moment {
            at,
            source: "Event",
            what: format!(
                "{}: {}",
                e.reason.as_deref().unwrap_or_default(),
                e.message.as_deref().unwrap_or_default()
            ),
        });
    }
    out.sort_by_key(|m| std::cmp::Reverse(m.at));
    out.truncate(200);
    out
}

/// The page of the model `ns/name`, or `None` when the caller cannot see it.
pub fn page(snapshot: &Snapshot, ns: &str, name: &str, events: &[Event]) -> Option<ModelPage> {
    let md = snapshot.mds.iter().find(|m| {
        m.metadata.namespace.as_deref() == Some(ns) && m.metadata.name.as_deref() == Some(name)
    })?;
    let attestations = attestations_of(md, snapshot);
    let mut status = status::view(md, &attestations);
    status.incidents = crate::incidents::of_model(
        md,
        &snapshot
            .incidents
            .iter()
            .map(|i| (**i).clone())
            .collect::<Vec<_>>(),
    );
    let active = status.active.clone();
    let rollback_target = md.status.as_ref().and_then(|s| {
        s.history
            .iter()
            .rev()
            .find(|h| h.available_at.is_some() && Some(&h.version) != active.as_ref())
            .map(|h| h.version.clone())
    });
    Some(ModelPage {
        items: items(md, &attestations),
        timeline: timeline(md, &attestations, events),
        canary: status.canary.clone(),
        rollback_mode: format!("{:?}", md.spec.rollback.mode),
        progress_deadline_seconds: md.spec.rollback.progress_deadline_seconds,
        rollback_target,
        deployment: name.to_string(),
        status,
    })
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
