//! The `kubectl accord` plugin: everyday jobs as one command each. This crate holds
//! the views (pure: ModelDeployments and Teams in, rows out) and the commands; the
//! binary `kubectl-accord` only parses flags.

// Long functions are split into named steps; the tests may be long.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

use accord_core::api;

pub mod commands;
pub mod complete;
pub mod gitops;
pub mod identity;
pub mod views;
