//! The HandoffPolicy reconciler: keeps `status.matchedModelDeployments` and the
//! `Ready` condition current. What a policy requires is applied by the ModelDeployment
//! reconciler ([`accord_core::policy::effective`]); this only reports it.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{ResourceExt, runtime::controller::Action};

use accord_core::{
    policy::{Matcher, selector_error},
    status::set_condition,
};

use super::{Error, Step, apply};
use crate::{
    api::{HandoffPolicy, HandoffPolicyStatus, conditions, reasons::condition},
    timing,
};

/// What the HandoffPolicy reconciler uses.
pub struct Context {
    pub client: kube::Client,
    pub stores: crate::watch::Stores,
}

/// Recounts one policy.
pub async fn reconcile(policy: Arc<HandoffPolicy>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = policy.name_any();
    let matcher = Matcher::new(&policy);
    let matched = ctx
        .stores
        .model_deployments
        .state()
        .iter()
        .filter_map(|g| g.0.as_ref().ok())
        .filter(|md| {
            let namespace = md.namespace().unwrap_or_default();
            matcher.matches(&ctx.stores.namespace_labels(&namespace), md.labels())
        })
        .count();
    let old = policy.status.clone().unwrap_or_default();
    let mut status = HandoffPolicyStatus {
        observed_generation: policy.metadata.generation,
        matched_model_deployments: i32::try_from(matched).unwrap_or(i32::MAX),
        conditions: old.conditions.clone(),
    };
    let (ready, reason, message) = match selector_error(&policy) {
        Some(error) => (false, condition::INVALID_SELECTOR, error),
        None => (
            true,
            condition::IN_FORCE,
            format!("applies to {matched} ModelDeployments"),
        ),
    };
    set_condition(
        &mut status.conditions,
        conditions::READY,
        ready,
        reason,
        message,
        policy.metadata.generation,
        &Time(jiff::Timestamp::now()),
    );
    if policy.status.as_ref() != Some(&status) {
        apply::policy_status(&ctx.client, &policy, &status)
            .await
            .map_err(|e| Error::kube(Step::WriteStatus, &format!("HandoffPolicy {name}"), e))?;
    }
    Ok(Action::requeue(timing::IDLE_REQUEUE))
}
