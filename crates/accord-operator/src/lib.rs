//! Accord's runtime: the watches and their caches, the reconcile glue, the admission
//! webhook's server, certificates and seal keys, notifications, metrics, and the
//! `accord` binary that runs them. Every decision it carries out is made by the pure
//! [`accord_core`], one layer down.
//!
//! Modules, from the bottom up (`make lint` keeps each to the layers below it):
//! [`telemetry`], [`identity`], [`metrics`], [`http`], [`seal_store`], [`record_keys`],
//! [`watch`] (the caches and what each change asks for) → [`notify`], [`registry`]
//! (signed records attached to images), [`server`] → [`records`] (PromotionRecords) →
//! [`controller`] (the reconcilers), [`webhook`] →
//! [`operator`] (start-up, leadership, shutdown).

// Long functions are split into named steps; the tests may be long.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

// The layers below, by the names the modules here use for them.
use accord_core::{api, timing};

// Layers, bottom first (`make lint` keeps each module to the layers below it).
pub mod http;
pub mod identity;
pub mod metrics;
pub mod record_keys;
pub mod seal_store;
pub mod telemetry;
pub mod watch;

pub mod notify;
pub mod registry;
pub mod server;

pub mod records;

pub mod controller;
pub mod webhook;

pub mod operator;
