//! Accord's decisions, all pure: values in, values out, no API client, no I/O and no
//! async runtime. The operator ([`accord-operator`]) reads the world into plain values,
//! calls these, and carries out what they return; the plugin prints the same views.
//!
//! Modules, from the bottom up (`make lint` keeps a module from using one above it):
//! - [`timing`], [`events`], [`status`], [`trust`]: vocabulary every decision shares;
//! - [`signing`], [`seal`], [`policy`], [`desired`], [`drift`], [`canary`], [`history`],
//!   [`candidate`], [`team_counts`], [`notify`], [`observe`]: one concern each;
//! - [`auto_approve`], [`gate`] (which sign-offs count), [`verdicts`];
//! - [`rollout`] (what happens next), then [`decide`] (the whole decision and its writes);
//! - [`admission`]: the webhook's decisions.
//!
//! [`accord-operator`]: ../accord_operator/index.html

// Long functions are split into named steps; the tests may be long.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

/// The API types, one layer down (re-exported as kube re-exports `kube_core`).
pub use accord_api as api;

pub mod admission;
pub mod auto_approve;
pub mod canary;
pub mod candidate;
pub mod decide;
pub mod desired;
pub mod drift;
pub mod events;
pub mod gate;
pub mod history;
pub mod notify;
pub mod observe;
pub mod policy;
pub mod rollout;
pub mod seal;
pub mod signing;
pub mod status;
pub mod team_counts;
pub mod timing;
pub mod trust;
pub mod verdicts;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
