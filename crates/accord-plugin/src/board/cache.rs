//! The board's memory of the cluster: one watch per kind, with the caller's
//! credentials, into slimmed in-memory stores (no managedFields, no last-applied
//! annotation, no serving shapes in history: the board shows none of them), and a
//! counter that moves on every change, which the live updates follow. Nothing is
//! written to disk.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{FutureExt, StreamExt, future::join_all};
use kube::{
    Api, Client, Resource,
    runtime::{
        WatchStreamExt,
        reflector::{self, Store},
        watcher,
    },
};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::views::Snapshot;
use crate::api::{Attestation, HandoffPolicy, Incident, ModelDeployment, Team};

/// The watched stores, a change counter, and the last error of each watch.
#[derive(Clone)]
pub struct Cache {
    mds: Store<ModelDeployment>,
    attestations: Store<Attestation>,
    teams: Store<Team>,
    policies: Store<HandoffPolicy>,
    incidents: Store<Incident>,
    changes: watch::Receiver<u64>,
    errors: Arc<Mutex<BTreeMap<&'static str, String>>>,
}

/// Where the namespaced kinds are watched: every namespace, or the one the caller may
/// list in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    All,
    Namespace(String),
}

/// Drops what the board never shows, so a thousand models stay small in memory.
fn slim<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

fn slim_model(md: &mut ModelDeployment) {
    slim(md);
    if let Some(st) = md.status.as_mut() {
        for entry in &mut st.history {
            entry.serving = None;
            entry.seal = None;
        }
    }
}

type Errors = Arc<Mutex<BTreeMap<&'static str, String>>>;

/// Starts one watch of `K` into a store; every change moves the counter.
fn watch_kind<K>(
    api: Api<K>,
    kind: &'static str,
    tx: Arc<watch::Sender<u64>>,
    errors: Errors,
    modify: fn(&mut K),
) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(modify)
        .reflect(writer);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Ok(_) => {
                    errors.lock().expect("errors lock").remove(kind);
                    tx.send_modify(|n| *n += 1);
                }
                Err(e) => {
                    errors
                        .lock()
                        .expect("errors lock")
                        .insert(kind, e.to_string());
                    tx.send_modify(|n| *n += 1);
                }
            }
        }
    });
    reader
}

impl Cache {
    /// Starts the watches with `client` (the caller's credentials).
    pub fn start(client: &Client, reach: &Reach) -> Cache {
        let (tx, changes) = watch::channel(0u64);
        let tx = Arc::new(tx);
        let errors: Errors = Arc::default();
        fn namespaced<K>(client: &Client, reach: &Reach) -> Api<K>
        where
            K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
        {
            match reach {
                Reach::All => Api::all(client.clone()),
                Reach::Namespace(ns) => Api::namespaced(client.clone(), ns),
            }
        }
        Cache {
            mds: watch_kind(
                namespaced(client, reach),
                "ModelDeployments",
                tx.clone(),
                errors.clone(),
                slim_model,
            ),
            attestations: watch_kind(
                namespaced(client, reach),
                "Attestations",
                tx.clone(),
                errors.clone(),
                slim,
            ),
            incidents: watch_kind(
                namespaced(client, reach),
                "Incidents",
                tx.clone(),
                errors.clone(),
                slim,
            ),
            teams: watch_kind(
                Api::all(client.clone()),
                "Teams",
                tx.clone(),
                errors.clone(),
                slim,
            ),
            policies: watch_kind(
                Api::all(client.clone()),
                "HandoffPolicies",
                tx,
                errors.clone(),
                slim,
            ),
            changes,
            errors,
        }
    }

    /// Waits until every watch has listed once, or `timeout`; says which have not.
    pub async fn ready(&self, timeout: Duration) -> Result<(), String> {
        let waits = join_all([
            self.mds.wait_until_ready().boxed(),
            self.attestations.wait_until_ready().boxed(),
            self.teams.wait_until_ready().boxed(),
            self.policies.wait_until_ready().boxed(),
            self.incidents.wait_until_ready().boxed(),
        ]);
        match tokio::time::timeout(timeout, waits).await {
            Ok(_) => Ok(()),
            Err(_) => Err(self.problems().join("; ")),
        }
    }

    /// What the board has now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            mds: self.mds.state(),
            attestations: self.attestations.state(),
            teams: self.teams.state(),
            policies: self.policies.state(),
            incidents: self.incidents.state(),
        }
    }

    /// A receiver whose value moves on every change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// The watches that fail now, and why (shown on every page).
    pub fn problems(&self) -> Vec<String> {
        self.errors
            .lock()
            .expect("errors lock")
            .iter()
            .map(|(kind, e)| format!("cannot watch {kind}: {e}"))
            .collect()
    }
}
