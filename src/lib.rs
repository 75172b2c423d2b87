//! Accord: a Kubernetes operator that enforces shared responsibility on machine-learning
//! deployments. A `ModelDeployment` names its data, platform and application owner
//! Teams; a new version is promoted only once every required checklist item is attested,
//! for that exact version, by a verified member of the owning Team.

// Long functions are split into named steps; the tests may be long.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod api;
pub mod controller;
pub mod identity;
pub mod metrics;
pub mod notify;
pub mod operator;
pub mod plugin;
pub mod policy;
pub mod seal;
pub mod server;
pub mod signing;
pub mod telemetry;
pub mod timing;
pub mod watch;
pub mod webhook;
