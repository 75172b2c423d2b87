//! The `kubectl accord` plugin: everyday jobs as one command each. This module holds
//! the views (pure: ModelDeployments and Teams in, rows out) and the commands; the
//! binary `kubectl-accord` only parses flags.

pub mod commands;
pub mod complete;
pub mod gitops;
pub mod views;
