//! `kubectl accord pipeline MD -n NS`: the chain of environments a model goes through
//! (dev → staging → prod). Upstream it follows `spec.promotion.from` as far as it goes;
//! downstream, every ModelDeployment in the namespaces `spec.promotion.downstream` lists
//! that cites this one, and theirs in turn. For each: the active and candidate version,
//! the phase, the soak progress against its upstream, and who owes what there.
//!
//! [`gather`] reads with the caller's credentials (what cannot be read is shown as
//! such, not fatal); [`view`] and [`text`] are pure.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use accord_core::upstream::required_soak;
use kube::{Api, api::ListParams};
use serde::Serialize;

use crate::{
    api::{ChecklistItemStatus, HandoffPolicy, ModelDeployment, UpstreamRef, namespaced_name},
    promotion::{SoakView, rules, short_fingerprint, soak_progress},
    raci::policies_of,
    scope::{Failure, Scope},
};

/// How many environments a pipeline shows at most (a guard against runaway chains).
pub const MAX_ENVIRONMENTS: usize = 32;

/// One environment as read: where it is, and its ModelDeployment or why it could not
/// be read.
#[derive(Debug, Clone)]
pub struct Node {
    pub namespace: String,
    pub name: String,
    pub md: Result<ModelDeployment, String>,
}

impl Node {
    fn read(md: ModelDeployment) -> Self {
        Node {
            namespace: md.metadata.namespace.clone().unwrap_or_default(),
            name: md.metadata.name.clone().unwrap_or_default(),
            md: Ok(md),
        }
    }

    fn is(&self, at: &UpstreamRef) -> bool {
        self.namespace == at.namespace && self.name == at.name
    }
}

/// An item still owed in an environment.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OwedItem {
    pub item: String,
    pub team: String,
    /// The item is in `spec.promotion.carry`: a sign-off upstream counts here.
    pub carried: bool,
    /// Why it does not count yet, as the operator recorded it (e.g. why an upstream
    /// sign-off does not carry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An item satisfied by a sign-off carried from upstream.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CarriedItem {
    pub item: String,
    /// The upstream ModelDeployment, `namespace/name`.
    pub from: String,
    pub attestation: String,
    pub attested_by: String,
}

/// One environment of the pipeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub namespace: String,
    pub name: String,
    /// The upstream it comes from (`spec.promotion.from`), `namespace/name`.
    pub upstream: Option<String>,
    /// The namespaces that may cite it (`spec.promotion.downstream`).
    pub downstream: Vec<String>,
    pub active: Option<String>,
    pub candidate: Option<String>,
    pub artifact_fingerprint: Option<String>,
    pub phase: Option<String>,
    /// Soak progress against the upstream; absent without one.
    pub soak: Option<SoakView>,
    /// Required items not signed off yet.
    pub owed: Vec<OwedItem>,
    /// Items satisfied by sign-offs carried from upstream.
    pub carried: Vec<CarriedItem>,
    /// Why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `kubectl accord pipeline`: the environments, upstream first.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    /// The ModelDeployment asked about.
    pub namespace: String,
    pub name: String,
    pub environments: Vec<Environment>,
    /// What could not be followed (unreadable namespaces, cycles).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// `pipeline <md>`.
pub async fn run(scope: &Scope, name: &str) -> Result<String, Failure> {
    let md = scope.model_deployment(name).await?;
    let (nodes, mut notes) = gather(scope, md).await;
    let policies = scope.policies().await.unwrap_or_else(|e| {
        notes.push(format!(
            "cannot read HandoffPolicies ({e}): soaks shown are the ModelDeployments' own"
        ));
        vec![]
    });
    let view = view(
        (&scope.namespace, name),
        &nodes,
        &policies,
        notes,
        jiff::Timestamp::now(),
    );
    scope.print(&view, || text(&view))
}

/// The ModelDeployment `at`, or why it cannot be read.
async fn get(scope: &Scope, at: &UpstreamRef) -> Result<ModelDeployment, String> {
    let api: Api<ModelDeployment> = Api::namespaced(scope.client.clone(), &at.namespace);
    match api.get_opt(&at.name).await {
        Ok(Some(md)) => Ok(md),
        Ok(None) => Err(format!("ModelDeployment {at} not found")),
        Err(e) => Err(scope.failure(e).0),
    }
}

/// The ModelDeployments of `namespace`, by name.
async fn list(scope: &Scope, namespace: &str) -> Result<Vec<ModelDeployment>, String> {
    let api: Api<ModelDeployment> = Api::namespaced(scope.client.clone(), namespace);
    let mut mds = api
        .list(&ListParams::default())
        .await
        .map_err(|e| scope.failure(e).0)?
        .items;
    mds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(mds)
}

fn reference(md: &ModelDeployment) -> UpstreamRef {
    UpstreamRef {
        namespace: md.metadata.namespace.clone().unwrap_or_default(),
        name: md.metadata.name.clone().unwrap_or_default(),
    }
}

/// Reads the pipeline around `md`: its upstreams (root first), itself, then its
/// downstreams breadth first. Returns the environments and what could not be followed.
pub async fn gather(scope: &Scope, md: ModelDeployment) -> (Vec<Node>, Vec<String>) {
    let mut notes = Vec::new();
    let mut seen = BTreeSet::from([reference(&md)]);
    let mut upstreams = Vec::new();
    let mut current = md.clone();
    while let Some(from) = current.spec.upstream().cloned() {
        if !seen.insert(from.clone()) {
            notes.push(format!(
                "{from} is cited again upstream of {}: the chain is a cycle",
                namespaced_name(&current.metadata)
            ));
            break;
        }
        if upstreams.len() >= MAX_ENVIRONMENTS {
            notes.push(format!("stopped after {MAX_ENVIRONMENTS} upstreams"));
            break;
        }
        match get(scope, &from).await {
            Ok(up) => {
                upstreams.push(Node::read(up.clone()));
                current = up;
            }
            Err(why) => {
                upstreams.push(Node {
                    namespace: from.namespace.clone(),
                    name: from.name.clone(),
                    md: Err(why),
                });
                break;
            }
        }
    }
    upstreams.reverse();
    let mut nodes = upstreams;
    nodes.push(Node::read(md.clone()));
    let mut listed: BTreeMap<String, Result<Vec<ModelDeployment>, String>> = BTreeMap::new();
    let mut queue = VecDeque::from([md]);
    while let Some(parent) = queue.pop_front() {
        let at = reference(&parent);
        for namespace in parent.spec.downstream() {
            if !listed.contains_key(namespace) {
                listed.insert(namespace.clone(), list(scope, namespace).await);
            }
            let citing = match &listed[namespace] {
                Err(why) => {
                    notes.push(format!(
                        "cannot list ModelDeployments in {namespace} (a downstream of {at}): {why}"
                    ));
                    continue;
                }
                Ok(mds) => mds.iter().filter(|d| d.spec.upstream() == Some(&at)),
            };
            let mut any = false;
            for downstream in citing {
                any = true;
                if nodes.len() < MAX_ENVIRONMENTS && seen.insert(reference(downstream)) {
                    nodes.push(Node::read(downstream.clone()));
                    queue.push_back(downstream.clone());
                }
            }
            if !any {
                notes.push(format!(
                    "{at} lists {namespace} as downstream, but no ModelDeployment there cites it"
                ));
            }
        }
    }
    (nodes, notes)
}

/// The pipeline of `asked` (namespace, name) from the environments read, at `now`.
pub fn view(
    asked: (&str, &str),
    nodes: &[Node],
    policies: &[HandoffPolicy],
    notes: Vec<String>,
    now: jiff::Timestamp,
) -> Pipeline {
    Pipeline {
        namespace: asked.0.to_string(),
        name: asked.1.to_string(),
        environments: nodes
            .iter()
            .map(|node| match &node.md {
                Ok(md) => environment(md, nodes, policies, now),
                Err(why) => Environment {
                    namespace: node.namespace.clone(),
                    name: node.name.clone(),
                    upstream: None,
                    downstream: vec![],
                    active: None,
                    candidate: None,
                    artifact_fingerprint: None,
                    phase: None,
                    soak: None,
                    owed: vec![],
                    carried: vec![],
                    error: Some(why.clone()),
                },
            })
            .collect(),
        notes,
    }
}

/// One environment, its upstream looked up among `nodes`.
fn environment(
    md: &ModelDeployment,
    nodes: &[Node],
    policies: &[HandoffPolicy],
    now: jiff::Timestamp,
) -> Environment {
    let from = md.spec.upstream();
    let upstream = from.and_then(|from| {
        nodes
            .iter()
            .find(|n| n.is(from))
            .and_then(|n| n.md.as_ref().ok())
    });
    let required = required_soak(md, &rules(&policies_of(md, policies)));
    let st = md.status.clone().unwrap_or_default();
    let (owed, carried) = checklist(md, &st.checklist);
    Environment {
        namespace: md.metadata.namespace.clone().unwrap_or_default(),
        name: md.metadata.name.clone().unwrap_or_default(),
        upstream: from.map(ToString::to_string),
        downstream: md.spec.downstream().to_vec(),
        active: st.active_version.clone(),
        candidate: Some(md.spec.model.version.clone()),
        artifact_fingerprint: Some(md.spec.artifact_fingerprint()),
        phase: st.phase.map(|p| format!("{p:?}")),
        soak: soak_progress(md, upstream, required, now),
        owed,
        carried,
        error: None,
    }
}

/// What is owed (required, not signed off, not auto-approved) and what was carried,
/// from the checklist the operator recorded; before it decided anything, every required
/// item of the spec is owed.
fn checklist(
    md: &ModelDeployment,
    recorded: &[ChecklistItemStatus],
) -> (Vec<OwedItem>, Vec<CarriedItem>) {
    let carry = md.spec.carried_items();
    let undecided = md.status.as_ref().is_none_or(|s| s.phase.is_none());
    if recorded.is_empty() && undecided {
        let owed = md
            .spec
            .handoff
            .checklist
            .iter()
            .filter(|i| i.required)
            .map(|i| OwedItem {
                item: i.id.clone(),
                team: md.spec.owners.team_for(i.owner).to_string(),
                carried: carry.contains(&i.id),
                reason: None,
            })
            .collect();
        return (owed, vec![]);
    }
    let owed = recorded
        .iter()
        .filter(|i| i.required && !i.attested && i.auto_approved_by.is_none())
        .map(|i| OwedItem {
            item: i.id.clone(),
            team: i.team.clone(),
            carried: carry.contains(&i.id),
            reason: i.reason.clone(),
        })
        .collect();
    let carried = recorded
        .iter()
        .flat_map(|i| {
            let approvals = i.approvals.iter().filter_map(|a| {
                let from = a.carried_from.as_ref()?;
                Some((from, a.attested_by.clone()))
            });
            let single = i
                .approvals
                .is_empty()
                .then_some(i.carried_from.as_ref())
                .flatten()
                .map(|from| (from, i.attested_by.clone().unwrap_or_default()));
            approvals.chain(single).map(|(from, by)| CarriedItem {
                item: i.id.clone(),
                from: from.model_deployment.clone(),
                attestation: from.attestation.clone(),
                attested_by: by,
            })
        })
        .collect();
    (owed, carried)
}

/// The header: `a → b → c` when each environment comes from the one before.
fn chain(view: &Pipeline) -> String {
    let envs = &view.environments;
    let names: Vec<String> = envs
        .iter()
        .map(|e| format!("{}/{}", e.namespace, e.name))
        .collect();
    let linear = envs
        .iter()
        .zip(names.iter())
        .skip(1)
        .zip(names.iter())
        .all(|((e, _), previous)| e.upstream.as_ref() == Some(previous));
    let alone = envs.len() == 1 && envs[0].upstream.is_none() && envs[0].downstream.is_empty();
    if alone {
        format!(
            "{} (no spec.promotion: no upstream, no downstream)",
            names[0]
        )
    } else if linear {
        names.join(" → ")
    } else {
        names.join(", ")
    }
}

/// `pipeline` as text: the chain, then one block per environment.
pub fn text(view: &Pipeline) -> String {
    let mut out = format!(
        "Pipeline of {}/{}: {}\n",
        view.namespace,
        view.name,
        chain(view)
    );
    for env in &view.environments {
        out.push('\n');
        out.push_str(&environment_text(env));
    }
    if !view.notes.is_empty() {
        out.push('\n');
        for note in &view.notes {
            out.push_str(&format!("note: {note}\n"));
        }
    }
    out
}

/// One environment's block.
fn environment_text(env: &Environment) -> String {
    let mut out = format!("{}/{}", env.namespace, env.name);
    if let Some(from) = &env.upstream {
        out.push_str(&format!(" (from {from})"));
    }
    out.push('\n');
    if let Some(why) = &env.error {
        out.push_str(&format!("  cannot be read: {why}\n"));
        return out;
    }
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let artifact = env
        .artifact_fingerprint
        .as_deref()
        .map(|a| format!(" (artifact {})", short_fingerprint(a)))
        .unwrap_or_default();
    out.push_str(&format!(
        "  active {}   candidate {}{artifact}   phase {}\n",
        dash(&env.active),
        dash(&env.candidate),
        dash(&env.phase)
    ));
    if let Some(soak) = &env.soak {
        out.push_str(&format!("  soak: {}\n", soak.text));
    }
    for c in &env.carried {
        out.push_str(&format!(
            "  carried: {} from {} (attestation {} by {})\n",
            c.item, c.from, c.attestation, c.attested_by
        ));
    }
    if env.owed.is_empty() {
        out.push_str("  owes nothing\n");
        return out;
    }
    out.push_str("  owed:\n");
    let mut teams: Vec<(&str, Vec<String>)> = Vec::new();
    for owed in &env.owed {
        let item = match (&env.upstream, owed.carried) {
            (Some(from), true) => format!("{} (carried from {from})", owed.item),
            _ => owed.item.clone(),
        };
        match teams.iter_mut().find(|(team, _)| *team == owed.team) {
            Some((_, items)) => items.push(item),
            None => teams.push((&owed.team, vec![item])),
        }
    }
    for (team, items) in teams {
        out.push_str(&format!("    {team}: {}\n", items.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests;
