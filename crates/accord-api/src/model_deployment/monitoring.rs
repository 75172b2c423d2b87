//! `spec.monitoring`: guards watched while a version serves, and `status.monitoring`,
//! what the operator last recorded of them. See docs/incidents.md.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::Role;
use crate::validation::{DNS1123_LABEL, DURATION, HTTP_URL};

/// What is watched after promotion, and how long an incident may go unacknowledged.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    /// The Prometheus server, e.g. `http://prometheus.monitoring:9090`.
    #[schemars(length(min = 1, max = 1024), regex(pattern = HTTP_URL))]
    pub address: String,
    /// How long an open Incident may go unacknowledged before the Accountable Team is
    /// told (`30m` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = DURATION))]
    pub escalate_after: Option<String>,
    /// The guards, each a PromQL query that must stay within its bound.
    #[schemars(length(min = 1, max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub guards: Vec<Guard>,
}

/// What a breach does.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum GuardAction {
    /// Open an Incident; the version keeps serving.
    #[default]
    Alert,
    /// Open an Incident and roll back by the plan to the previous known-good version.
    RollBack,
}

/// A metric the serving version must keep within a bound. A breach that lasts `for`
/// opens one Incident per model and version.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = kube::core::Rule::new("has(self.maxValue) != has(self.minValue)").message(
    "spec.monitoring.guards: set exactly one of maxValue or minValue"
))]
#[serde(rename_all = "camelCase")]
pub struct Guard {
    /// The guard's name (a DNS-1123 label), unique in the list.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL))]
    pub name: String,
    /// PromQL returning one number; `{{version}}`, `{{namespace}}` and `{{name}}` are
    /// replaced with the serving version, the namespace and the ModelDeployment's name.
    #[schemars(length(min = 1, max = 4096))]
    pub query: String,
    /// A reading above this breaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<f64>,
    /// A reading below this breaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<f64>,
    /// How long readings must breach, without one within bounds, before it counts
    /// (e.g. `5m`; `0s`: the first breaching reading).
    #[serde(rename = "for", default = "default_for")]
    #[schemars(length(min = 1, max = 64), regex(pattern = DURATION))]
    pub for_: String,
    /// Seconds between readings.
    #[serde(default = "default_interval")]
    #[schemars(range(min = 1, max = 3600))]
    pub interval_seconds: i32,
    /// The role that answers this guard: its Team is Responsible for the Incident.
    pub owner: Role,
    /// What a breach does besides opening an Incident.
    #[serde(default)]
    pub action: GuardAction,
}

fn default_for() -> String {
    "0s".into()
}

fn default_interval() -> i32 {
    30
}

/// What the operator last recorded of the guards of the version that serves. Written
/// only when a breach starts, ends or opens an Incident — not on every reading.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringStatus {
    /// The candidate fingerprint of the version the guards watch; the record starts
    /// afresh when another version serves.
    pub fingerprint: String,
    /// The version the guards watch.
    pub version: String,
    /// The guards that are breaching now, or opened an Incident for this version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<GuardStatus>,
}

/// One guard's breach.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardStatus {
    pub name: String,
    /// When the operator first read a breaching value, with no reading within bounds
    /// since; absent when the last reading was within bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaching_since: Option<Time>,
    /// The reading that started the breach, or opened the Incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Why it breaches, e.g. `0.071 is above the maximum 0.02`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The Incident this guard opened for the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
}
