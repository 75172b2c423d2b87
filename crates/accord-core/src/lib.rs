//! Accord's decisions, all pure: values in, values out, no API client, no I/O and no
//! async runtime. The operator ([`accord-operator`]) reads the world into plain values,
//! calls these, and carries out what they return; the plugin prints the same views.
//!
//! Modules, from the bottom up (`make lint` keeps each to the layers below it):
//! - [`keyring`] (keys kept in a Secret);
//! - one concern each, using only the API: [`audit`] (signed records), [`timing`], [`events`], [`status`],
//!   [`trust`], [`signing`], [`desired`], [`drift`], [`canary`], [`team_counts`];
//! - [`candidate`], [`history`], [`notify`], [`policy`] (the effective checklist),
//!   [`seal`];
//! - [`auto_approve`], [`observe`];
//! - [`gate`]: which sign-offs count;
//! - [`upstream`]: what the upstream environment showed, and the sign-offs it offers;
//!   [`drills`]: a policy's `drills.maxAge` and the items a fresh drill satisfies;
//! - [`rollout`] (what happens next) and [`verdicts`];
//! - [`incidents`] and [`conformance`] (would what serves be promoted today, drills
//!   counted as for a candidate), and [`rehearsal`] (a drill's run);
//! - [`decide`] (the whole decision and its writes) and [`admission`] (the webhook's).
//!
//! [`accord-operator`]: ../accord_operator/index.html

// Long functions are split into named steps; the tests may be long.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

/// The API types, one layer down (re-exported as kube re-exports `kube_core`).
pub use accord_api as api;

// Layers, bottom first (`make lint` keeps each module to the layers below it).
pub mod keyring;

pub mod audit;
pub mod canary;
pub mod desired;
pub mod drift;
pub mod events;
pub mod schedule;
pub mod signing;
pub mod status;
pub mod team_counts;
pub mod timing;
pub mod trust;

pub mod candidate;
pub mod guards;
pub mod history;
pub mod notify;
pub mod policy;
pub mod seal;

pub mod auto_approve;
pub mod observe;

pub mod gate;

pub mod drills;
pub mod upstream;

pub mod rollout;
pub mod verdicts;

pub mod conformance;
pub mod incidents;
pub mod rehearsal;

pub mod admission;
pub mod decide;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
