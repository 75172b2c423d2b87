//! The `kubectl accord` plugin: everyday jobs as one command each. [`cli`] holds the
//! command line and hands each subcommand to its own module (command, pure view and text
//! output together); the binary `kubectl-accord` only parses flags and prints.

// Long functions are split into named steps; the tests may be long.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

use accord_core::api;

// Layers, bottom first (`make lint` keeps each module to the layers below it): the
// connection, text and promotion helpers, the Incident views (and `incidents`), the
// subcommands, the views built from them (`teams`), the board (pages from those views),
// the command line, `__complete`.
pub mod completion;
pub mod identity;
pub mod promotion;
pub mod scope;
pub mod text;

pub mod drills;
pub mod incidents;

pub mod attest;
pub mod audit;
pub mod history;
pub mod incident;
pub mod promote;
pub mod raci;
pub mod rollback;
pub mod status;
pub mod team;
pub mod verify;

pub mod explain;
pub mod matrix;
pub mod pipeline;

pub mod teams;

pub mod board;

pub mod cli;

pub mod complete;

#[cfg(test)]
mod fixtures;
