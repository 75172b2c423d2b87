//! How HandoffPolicies combine with a ModelDeployment's own checklist (pure).
//!
//! The effective checklist is the ModelDeployment's items plus the items of every
//! policy that selects it. Where two name the same id, the stricter requirement wins:
//! required beats optional, the larger `minApprovals` wins, and two different owner
//! roles are a conflict that blocks the item (neither side's requirement is dropped).
//! Sign-off rules take the strictest value of all matching policies. So a policy can
//! never loosen a ModelDeployment, and no set of policies is weaker than any of them.

use std::{collections::BTreeMap, time::Duration};

use kube::{
    ResourceExt,
    core::{Selector, SelectorExt},
};

use crate::{
    api::{
        After, ChecklistItem, HandoffPolicy, ModelDeployment, Role,
        handoff_policy::{SignatureRequirement, Stage},
    },
    timing::parse_duration,
};

/// Who required an item, as `status.checklist[].requiredBy` names them.
pub const BY_MODEL_DEPLOYMENT: &str = "ModelDeployment";

/// `HandoffPolicy/<name>`.
pub fn by_policy(name: &str) -> String {
    format!("HandoffPolicy/{name}")
}

/// One item of the effective checklist.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub id: String,
    pub owner: Role,
    pub description: Option<String>,
    pub required: bool,
    /// Distinct people of the owning Team whose sign-off it needs.
    pub min_approvals: u32,
    /// The ModelDeployment and/or `HandoffPolicy/<name>`s that ask for it.
    pub required_by: Vec<String>,
    /// Set when two sources give the item to different roles: it cannot be attested
    /// until they agree.
    pub conflict: Option<String>,
    /// Attested on canary evidence (`after: Canary`): the canary starts without it.
    /// A policy that requires the same item requires it before the canary.
    pub after_canary: bool,
}

/// The strictest sign-off rules of the matching policies.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignOffRules {
    /// The shortest `maxAge`, and the policy that set it.
    pub max_age: Option<(Duration, String)>,
    /// The first policy (by name) that requires signed sign-offs.
    pub signed_by: Option<String>,
}

/// An `autoApprove` rule of a matching policy.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoRule {
    /// `HandoffPolicy/<name>`.
    pub policy: String,
    pub rule: String,
    pub items: Vec<String>,
}

/// A ModelDeployment's checklist and rules with every matching policy applied.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Effective {
    pub items: Vec<Requirement>,
    pub rules: SignOffRules,
    /// The matching policies' `autoApprove` rules, by policy name then rule order.
    pub auto_approve: Vec<AutoRule>,
    /// Names of the policies that apply, sorted.
    pub policies: Vec<String>,
    /// The matching policies' promotion rules, merged.
    pub promotion: PromotionRules,
    /// The matching policies' rollback drill rules, merged; `None` when none asks for
    /// drills.
    pub drills: Option<DrillRules>,
}

/// The strictest rollback drill rules of the matching policies: the shortest `maxAge`
/// wins and the items `satisfies` names are the union.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillRules {
    /// The shortest `maxAge`. One that cannot be read counts as zero: a rule that
    /// cannot be read tightens (no drill is recent enough) rather than lapses.
    pub max_age: Duration,
    /// That `maxAge` as its policy wrote it, for messages.
    pub max_age_text: String,
    /// `HandoffPolicy/<name>` of the policy whose `maxAge` it is (the first by name
    /// among equals).
    pub set_by: String,
    /// `HandoffPolicy/<name>` of every matching policy that asks for drills, by name.
    pub required_by: Vec<String>,
    /// Item id → the first policy (`HandoffPolicy/<name>`) whose `satisfies` names it.
    pub satisfies: BTreeMap<String, String>,
}

/// The strictest promotion rules of the matching policies: any policy requiring an
/// upstream requires it, the longest `minSoak` wins, `neverCarry` is the union.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromotionRules {
    /// The first policy (by name) that requires an upstream.
    pub require_upstream: Option<String>,
    /// The longest `minSoak`, and the policy that set it.
    pub min_soak: Option<(Duration, String)>,
    /// Item id → the first policy that never carries it.
    pub never_carry: BTreeMap<String, String>,
}

impl Effective {
    pub fn item(&self, id: &str) -> Option<&Requirement> {
        self.items.iter().find(|item| item.id == id)
    }
}

/// A selector parsed once. Absent, or one that does not parse, matches everything: a
/// policy that cannot be read tightens rather than lapses.
fn parse(
    selector: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
) -> Option<Selector> {
    Selector::try_from(selector?.clone()).ok()
}

/// A policy's selectors, parsed once, to test many ModelDeployments against.
pub struct Matcher {
    namespace: Option<Selector>,
    labels: Option<Selector>,
    deleted: bool,
}

impl Matcher {
    pub fn new(policy: &HandoffPolicy) -> Self {
        Self {
            namespace: parse(policy.spec.namespace_selector.as_ref()),
            labels: parse(policy.spec.selector.as_ref()),
            deleted: policy.metadata.deletion_timestamp.is_some(),
        }
    }

    /// Its selectors only, whether or not it is being deleted: what it selected.
    pub fn selectors(policy: &HandoffPolicy) -> Self {
        Self {
            deleted: false,
            ..Self::new(policy)
        }
    }

    /// Whether the policy applies to a ModelDeployment with `labels` in a namespace
    /// with `namespace_labels`.
    pub fn matches(
        &self,
        namespace_labels: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        !self.deleted
            && self
                .namespace
                .as_ref()
                .is_none_or(|s| s.matches(namespace_labels))
            && self.labels.as_ref().is_none_or(|s| s.matches(labels))
    }
}

/// Whether `policy` applies to a ModelDeployment with `labels` in a namespace with
/// `namespace_labels`.
pub fn applies(
    policy: &HandoffPolicy,
    namespace_labels: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    Matcher::new(policy).matches(namespace_labels, labels)
}

/// Why a policy's selectors cannot be read, if they cannot.
pub fn selector_error(policy: &HandoffPolicy) -> Option<String> {
    [
        ("spec.namespaceSelector", &policy.spec.namespace_selector),
        ("spec.selector", &policy.spec.selector),
    ]
    .into_iter()
    .find_map(|(field, selector)| {
        let selector = selector.as_ref()?;
        Selector::try_from(selector.clone()).err().map(|e| {
            format!("{field} cannot be read ({e}); until fixed it selects every ModelDeployment")
        })
    })
}

fn requirement(item: &ChecklistItem) -> Requirement {
    Requirement {
        id: item.id.clone(),
        owner: item.owner,
        description: item.description.clone(),
        required: item.required,
        min_approvals: 1,
        required_by: vec![BY_MODEL_DEPLOYMENT.to_string()],
        conflict: None,
        after_canary: item.after == Some(After::Canary),
    }
}

/// The effective checklist of `md` under `policies` (any set; those that do not select
/// it are ignored).
pub fn effective<'a>(
    md: &ModelDeployment,
    namespace_labels: &BTreeMap<String, String>,
    policies: impl IntoIterator<Item = &'a HandoffPolicy>,
) -> Effective {
    let mut matching: Vec<&HandoffPolicy> = policies
        .into_iter()
        .filter(|p| applies(p, namespace_labels, md.labels()))
        .collect();
    matching.sort_by_key(|p| p.name_any());
    let mut out = Effective {
        items: md.spec.handoff.checklist.iter().map(requirement).collect(),
        ..Default::default()
    };
    for policy in matching {
        let name = policy.name_any();
        let by = by_policy(&name);
        out.policies.push(name.clone());
        for item in &policy.spec.required_items {
            match out.items.iter_mut().find(|r| r.id == item.id) {
                Some(existing) => {
                    existing.required = true;
                    existing.after_canary = false;
                    existing.min_approvals = existing.min_approvals.max(item.min_approvals);
                    if existing.owner != item.owner && existing.conflict.is_none() {
                        existing.conflict = Some(format!(
                            "{by} gives item {} to the {} role but {} gives it to the {} role: \
                             it cannot be attested until they agree",
                            item.id,
                            item.owner,
                            existing.required_by.join(", "),
                            existing.owner
                        ));
                    }
                    existing.required_by.push(by.clone());
                    if existing.description.is_none() {
                        existing.description.clone_from(&item.description);
                    }
                }
                None => out.items.push(Requirement {
                    id: item.id.clone(),
                    owner: item.owner,
                    description: item.description.clone(),
                    required: true,
                    min_approvals: item.min_approvals,
                    required_by: vec![by.clone()],
                    conflict: None,
                    after_canary: false,
                }),
            }
        }
        out.auto_approve
            .extend(policy.spec.auto_approve.iter().map(|rule| AutoRule {
                policy: by.clone(),
                rule: rule.name.clone(),
                items: rule.items.clone(),
            }));
        if let Some(rules) = &policy.spec.promotion {
            merge_promotion(&mut out.promotion, rules, &by);
        }
        if let Some(rules) = &policy.spec.drills {
            merge_drills(&mut out.drills, rules, &by);
        }
        if let Some(rules) = &policy.spec.attestations {
            if let Some(age) = rules.max_age.as_deref().and_then(parse_duration)
                && out.rules.max_age.as_ref().is_none_or(|(d, _)| age < *d)
            {
                out.rules.max_age = Some((age, name.clone()));
            }
            if rules.require == Some(SignatureRequirement::Signed) && out.rules.signed_by.is_none()
            {
                out.rules.signed_by = Some(name.clone());
            }
        }
    }
    out
}

/// The merged promotion rules of `policies`, all known to apply (as
/// `status.policies` records them): [`effective`]'s merge, for readers that have the
/// policies but not their selectors' inputs (the plugin).
pub fn promotion_rules<'a>(
    policies: impl IntoIterator<Item = &'a HandoffPolicy>,
) -> PromotionRules {
    let mut applying: Vec<&HandoffPolicy> = policies.into_iter().collect();
    applying.sort_by_key(|p| p.name_any());
    let mut out = PromotionRules::default();
    for policy in applying {
        if let Some(rules) = &policy.spec.promotion {
            merge_promotion(&mut out, rules, &by_policy(&policy.name_any()));
        }
    }
    out
}

fn merge_promotion(
    out: &mut PromotionRules,
    rules: &crate::api::handoff_policy::PromotionRules,
    by: &str,
) {
    if rules.require_upstream && out.require_upstream.is_none() {
        out.require_upstream = Some(by.to_string());
    }
    if let Some(soak) = rules.min_soak.as_deref().and_then(parse_duration)
        && out.min_soak.as_ref().is_none_or(|(d, _)| soak > *d)
    {
        out.min_soak = Some((soak, by.to_string()));
    }
    for item in &rules.never_carry {
        out.never_carry
            .entry(item.clone())
            .or_insert_with(|| by.to_string());
    }
}

/// Adds one policy's drill rules (`by`: `HandoffPolicy/<name>`; policies come in name
/// order) to `out`.
fn merge_drills(out: &mut Option<DrillRules>, rules: &crate::api::DrillRules, by: &str) {
    let age = parse_duration(&rules.max_age).unwrap_or(Duration::ZERO);
    let merged = out.get_or_insert_with(|| DrillRules {
        max_age: age,
        max_age_text: rules.max_age.clone(),
        set_by: by.to_string(),
        required_by: vec![],
        satisfies: BTreeMap::new(),
    });
    if age < merged.max_age {
        merged.max_age = age;
        merged.max_age_text.clone_from(&rules.max_age);
        merged.set_by = by.to_string();
    }
    merged.required_by.push(by.to_string());
    if let Some(item) = &rules.satisfies {
        merged
            .satisfies
            .entry(item.clone())
            .or_insert_with(|| by.to_string());
    }
}

/// `md` with the effective checklist written into its spec, for checks that read the
/// checklist (which items exist, which role owns each). Conflicted items keep the
/// ModelDeployment's owner.
pub fn with_policy_items(md: &ModelDeployment, effective: &Effective) -> ModelDeployment {
    let mut md = md.clone();
    md.spec.handoff.checklist = effective
        .items
        .iter()
        .map(|r| ChecklistItem {
            id: r.id.clone(),
            owner: r.owner,
            description: r.description.clone(),
            required: r.required,
            after: r.after_canary.then_some(After::Canary),
        })
        .collect();
    md
}

/// Who does what at one lifecycle stage for a model, by role, from its policies.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageRoles {
    pub stage: Stage,
    pub responsible: Vec<Role>,
    /// One role, unless policies disagree (then all they name, and `conflict`).
    pub accountable: Vec<Role>,
    pub consulted: Vec<Role>,
    pub informed: Vec<Role>,
    /// The `HandoffPolicy/<name>`s that declare the stage.
    pub declared_by: Vec<String>,
    /// Set when the policies name different accountable roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
}

fn add_roles(to: &mut Vec<Role>, roles: &[Role]) {
    to.extend(roles);
    to.sort();
    to.dedup();
}

/// The responsibility matrix the given policies (those that apply to one model)
/// declare, in lifecycle order; stages no policy declares are left out. Where several
/// declare a stage, the roles they name are combined; different accountable roles are
/// a conflict, reported rather than resolved.
pub fn responsibilities<'a>(
    policies: impl IntoIterator<Item = &'a HandoffPolicy>,
) -> Vec<StageRoles> {
    let mut policies: Vec<&HandoffPolicy> = policies.into_iter().collect();
    policies.sort_by_key(|p| p.name_any());
    let mut by_stage: BTreeMap<Stage, StageRoles> = BTreeMap::new();
    for policy in policies {
        for r in &policy.spec.responsibilities {
            let entry = by_stage.entry(r.stage).or_insert_with(|| StageRoles {
                stage: r.stage,
                responsible: vec![],
                accountable: vec![],
                consulted: vec![],
                informed: vec![],
                declared_by: vec![],
                conflict: None,
            });
            add_roles(&mut entry.responsible, &r.responsible);
            add_roles(&mut entry.accountable, &[r.accountable]);
            add_roles(&mut entry.consulted, &r.consulted);
            add_roles(&mut entry.informed, &r.informed);
            entry.declared_by.push(by_policy(&policy.name_any()));
        }
    }
    by_stage
        .into_values()
        .map(|mut stage| {
            if stage.accountable.len() > 1 {
                stage.conflict = Some(format!(
                    "{} name different accountable roles",
                    stage.declared_by.join(", ")
                ));
            }
            stage
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        HandoffPolicySpec,
        handoff_policy::{AttestationRules, PolicyItem},
    };
    use crate::testing::md;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use proptest::prelude::*;

    fn policy(name: &str, items: &[(&str, Role, u32)]) -> HandoffPolicy {
        HandoffPolicy::new(
            name,
            HandoffPolicySpec {
                required_items: items
                    .iter()
                    .map(|(id, owner, min)| PolicyItem {
                        id: id.to_string(),
                        owner: *owner,
                        description: None,
                        min_approvals: *min,
                    })
                    .collect(),
                ..Default::default()
            },
        )
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_policy_adds_items_only_where_its_selectors_match() {
        let mut prod = policy("prod", &[("bias-reviewed", Role::Application, 2)]);
        prod.spec.namespace_selector = Some(LabelSelector {
            match_labels: Some(labels(&[("tier", "prod")])),
            ..Default::default()
        });
        let model = md("2.4.0");
        let in_prod = effective(&model, &labels(&[("tier", "prod")]), [&prod]);
        let bias = in_prod.item("bias-reviewed").unwrap();
        assert_eq!(
            (bias.required, bias.min_approvals, bias.owner),
            (true, 2, Role::Application)
        );
        assert_eq!(bias.required_by, ["HandoffPolicy/prod"]);
        assert_eq!(in_prod.policies, ["prod"]);
        let in_dev = effective(&model, &labels(&[("tier", "dev")]), [&prod]);
        assert!(in_dev.item("bias-reviewed").is_none());
        assert_eq!(in_dev.items.len(), model.spec.handoff.checklist.len());
    }

    #[test]
    fn the_stricter_requirement_wins_and_a_role_conflict_blocks() {
        let mut model = md("2.4.0");
        model.spec.handoff.checklist[0].required = false;
        let first = model.spec.handoff.checklist[0].clone();
        let same_owner = policy("a", &[(&first.id, first.owner, 3)]);
        let e = effective(&model, &BTreeMap::new(), [&same_owner]);
        let item = e.item(&first.id).unwrap();
        assert!(item.required, "required: false cannot override a policy");
        assert_eq!(item.min_approvals, 3);
        assert_eq!(item.required_by, ["ModelDeployment", "HandoffPolicy/a"]);
        assert!(item.conflict.is_none());
        let other = Role::ALL.into_iter().find(|r| *r != first.owner).unwrap();
        let moved = policy("b", &[(&first.id, other, 1)]);
        let e = effective(&model, &BTreeMap::new(), [&moved]);
        let item = e.item(&first.id).unwrap();
        assert_eq!(item.owner, first.owner);
        assert!(
            item.conflict
                .as_deref()
                .unwrap()
                .contains("HandoffPolicy/b gives item")
        );
    }

    #[test]
    fn the_shortest_max_age_and_any_signed_requirement_win() {
        let mut a = policy("a", &[]);
        a.spec.attestations = Some(AttestationRules {
            max_age: Some("720h".into()),
            require: Some(SignatureRequirement::Any),
        });
        let mut b = policy("b", &[]);
        b.spec.attestations = Some(AttestationRules {
            max_age: Some("24h".into()),
            require: Some(SignatureRequirement::Signed),
        });
        let e = effective(&md("1.0.0"), &BTreeMap::new(), [&a, &b]);
        assert_eq!(
            e.rules.max_age,
            Some((Duration::from_secs(86_400), "b".into()))
        );
        assert_eq!(e.rules.signed_by.as_deref(), Some("b"));
    }

    #[test]
    fn drill_rules_take_the_shortest_max_age_and_the_union_of_satisfied_items() {
        use crate::api::DrillRules as Rules;
        let drills = |name: &str, max_age: &str, satisfies: Option<&str>| {
            let mut p = policy(name, &[]);
            p.spec.drills = Some(Rules {
                max_age: max_age.into(),
                satisfies: satisfies.map(String::from),
            });
            p
        };
        let none = effective(&md("1.0.0"), &BTreeMap::new(), [&policy("plain", &[])]);
        assert_eq!(none.drills, None, "no policy asks for drills");
        let a = drills("a", "720h", Some("rollback-tested"));
        let b = drills("b", "168h", Some("dr-reviewed"));
        let c = drills("c", "168h", Some("rollback-tested"));
        let e = effective(&md("1.0.0"), &BTreeMap::new(), [&c, &a, &b]);
        let rules = e.drills.expect("drills are required");
        assert_eq!(rules.max_age, Duration::from_secs(168 * 3600));
        assert_eq!(rules.max_age_text, "168h");
        assert_eq!(
            rules.set_by, "HandoffPolicy/b",
            "the first by name among equals"
        );
        assert_eq!(
            rules.required_by,
            ["HandoffPolicy/a", "HandoffPolicy/b", "HandoffPolicy/c"]
        );
        assert_eq!(
            rules.satisfies,
            BTreeMap::from([
                ("dr-reviewed".to_string(), "HandoffPolicy/b".to_string()),
                ("rollback-tested".to_string(), "HandoffPolicy/a".to_string()),
            ])
        );
        // A maxAge that cannot be read tightens to zero.
        let broken = drills("z", "soon", None);
        let e = effective(&md("1.0.0"), &BTreeMap::new(), [&a, &broken]);
        let rules = e.drills.unwrap();
        assert_eq!(
            (rules.max_age, rules.set_by.as_str()),
            (Duration::ZERO, "HandoffPolicy/z")
        );
        assert_eq!(rules.satisfies.len(), 1);
    }

    #[test]
    fn an_unreadable_selector_selects_everything_and_says_why() {
        let mut broken = policy("broken", &[("x", Role::Data, 1)]);
        broken.spec.selector = Some(LabelSelector {
            match_expressions: Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "Sometimes".into(),
                    values: None,
                },
            ]),
            ..Default::default()
        });
        assert!(applies(&broken, &BTreeMap::new(), &BTreeMap::new()));
        assert!(
            selector_error(&broken)
                .unwrap()
                .starts_with("spec.selector cannot be read")
        );
    }

    #[test]
    fn responsibilities_combine_in_lifecycle_order_and_flag_two_accountable_roles() {
        use crate::api::handoff_policy::Responsibility;
        let stage = |stage, responsible: &[Role], accountable, informed: &[Role]| Responsibility {
            stage,
            responsible: responsible.to_vec(),
            accountable,
            consulted: vec![],
            informed: informed.to_vec(),
        };
        let mut a = policy("a", &[]);
        a.spec.responsibilities = vec![
            stage(
                Stage::Monitoring,
                &[Role::Platform],
                Role::Platform,
                &[Role::Application],
            ),
            stage(Stage::DataAccess, &[Role::Data], Role::Data, &[]),
        ];
        let mut b = policy("b", &[]);
        b.spec.responsibilities = vec![stage(
            Stage::Monitoring,
            &[Role::Application],
            Role::Application,
            &[],
        )];
        let matrix = responsibilities([&b, &a]);
        assert_eq!(
            matrix.iter().map(|s| s.stage).collect::<Vec<_>>(),
            [Stage::DataAccess, Stage::Monitoring]
        );
        assert!(matrix[0].conflict.is_none());
        let monitoring = &matrix[1];
        assert_eq!(monitoring.responsible, [Role::Platform, Role::Application]);
        assert_eq!(monitoring.accountable, [Role::Platform, Role::Application]);
        assert_eq!(
            monitoring.declared_by,
            ["HandoffPolicy/a", "HandoffPolicy/b"]
        );
        assert!(
            monitoring
                .conflict
                .as_deref()
                .unwrap()
                .contains("different accountable")
        );
    }

    fn role() -> impl Strategy<Value = Role> {
        prop_oneof![
            Just(Role::Data),
            Just(Role::Platform),
            Just(Role::Application)
        ]
    }

    fn item() -> impl Strategy<Value = (String, Role, u32, bool)> {
        (
            prop_oneof![Just("a"), Just("b"), Just("c"), Just("d")],
            role(),
            1u32..4,
            any::<bool>(),
        )
            .prop_map(|(id, role, min, required)| (id.to_string(), role, min, required))
    }

    /// Whether `effective` asks at least as much of `item` as its source did.
    fn at_least(e: &Effective, id: &str, owner: Role, min: u32, required: bool) -> bool {
        e.item(id).is_some_and(|r| {
            (r.required || !required)
                && r.min_approvals >= min
                && (r.owner == owner || r.conflict.is_some())
        })
    }

    proptest! {
        #[test]
        fn merging_never_yields_a_checklist_weaker_than_any_input(
            own in prop::collection::vec(item(), 1..4),
            policies in prop::collection::vec(prop::collection::vec(item(), 0..4), 0..4),
        ) {
            let mut model = md("1.0.0");
            let mut seen = std::collections::BTreeSet::new();
            model.spec.handoff.checklist = own
                .iter()
                .filter(|(id, ..)| seen.insert(id.clone()))
                .map(|(id, owner, _, required)| ChecklistItem {
                    id: id.clone(), owner: *owner, description: None, required: *required, after: None
                })
                .collect();
            let policies: Vec<HandoffPolicy> = policies
                .iter()
                .enumerate()
                .map(|(n, items)| {
                    let mut seen = std::collections::BTreeSet::new();
                    let items: Vec<(&str, Role, u32)> = items
                        .iter()
                        .filter(|(id, ..)| seen.insert(id.clone()))
                        .map(|(id, owner, min, _)| (id.as_str(), *owner, *min))
                        .collect();
                    policy(&format!("p{n}"), &items)
                })
                .collect();
            let e = effective(&model, &BTreeMap::new(), &policies);
            for item in &model.spec.handoff.checklist {
                prop_assert!(at_least(&e, &item.id, item.owner, 1, item.required));
            }
            for p in &policies {
                for item in &p.spec.required_items {
                    prop_assert!(at_least(&e, &item.id, item.owner, item.min_approvals, true));
                }
            }
            // Order of policies does not matter.
            let reversed: Vec<&HandoffPolicy> = policies.iter().rev().collect();
            prop_assert_eq!(effective(&model, &BTreeMap::new(), reversed), e);
        }
    }
}
