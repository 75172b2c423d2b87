//! One watch per kind, shared by every consumer in the process: the admission webhook
//! reads the ModelDeployment and Team caches on every replica; the reconcilers read
//! all five and are told what to reconcile through one broadcast of [`Request`]s.
//!
//! Objects are slimmed before they enter a cache (no `managedFields`, no
//! last-applied annotation): nothing Accord decides reads them, and they are often
//! the largest part of an object. Which change asks for which reconcile is decided by
//! the pure functions in [`crate::watch::triggers`], from the cached object
//! before and after the change, so a status write by Accord itself asks for nothing.

use std::{
    collections::HashMap,
    fmt::Debug,
    hash::Hash,
    sync::{Arc, Mutex},
};

use futures::{StreamExt, future::BoxFuture};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Namespace, Service},
};
use kube::{
    Api, Client, Resource, ResourceExt,
    core::DeserializeGuard,
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store, store::Writer},
        watcher,
    },
};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

pub mod retry;
pub mod triggers;

use crate::api::{
    Attestation, HandoffPolicy, Incident, ModelDeployment, RollbackDrill, Team, labels,
    namespaced_name,
};

type Guard = DeserializeGuard<ModelDeployment>;

/// The caches every consumer reads, one per kind.
#[derive(Clone)]
pub struct Stores {
    pub model_deployments: Store<DeserializeGuard<ModelDeployment>>,
    pub teams: Store<Team>,
    pub attestations: Store<Attestation>,
    /// Deployments labelled as managed by Accord.
    pub deployments: Store<Deployment>,
    /// Services labelled as managed by Accord.
    pub services: Store<Service>,
    pub policies: Store<HandoffPolicy>,
    /// Namespaces (for their labels, which policies select on).
    pub namespaces: Store<Namespace>,
    pub incidents: Store<Incident>,
    pub drills: Store<RollbackDrill>,
}

impl Stores {
    /// Waits until every cache has listed once.
    pub async fn ready(&self) {
        // A store only fails to become ready when its writer is dropped, i.e. at shutdown.
        let _ = self.model_deployments.wait_until_ready().await;
        let _ = self.teams.wait_until_ready().await;
        let _ = self.attestations.wait_until_ready().await;
        let _ = self.deployments.wait_until_ready().await;
        let _ = self.services.wait_until_ready().await;
        let _ = self.policies.wait_until_ready().await;
        let _ = self.namespaces.wait_until_ready().await;
        let _ = self.incidents.wait_until_ready().await;
        let _ = self.drills.wait_until_ready().await;
    }

    /// The labels of namespace `name` (empty when it is not known).
    pub fn namespace_labels(&self, name: &str) -> std::collections::BTreeMap<String, String> {
        labels_of(&self.namespaces, name)
    }

    /// A ModelDeployment's cache key.
    pub fn model_deployment_ref(
        namespace: &str,
        name: &str,
    ) -> ObjectRef<DeserializeGuard<ModelDeployment>> {
        ObjectRef::new(name).within(namespace)
    }
}

/// The labels of namespace `name` in `namespaces` (empty when it is not known).
pub fn labels_of(
    namespaces: &Store<Namespace>,
    name: &str,
) -> std::collections::BTreeMap<String, String> {
    namespaces
        .get(&ObjectRef::new(name))
        .map(|ns| ns.labels().clone())
        .unwrap_or_default()
}

/// What a change asks the reconcilers to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Request {
    /// Reconcile one ModelDeployment.
    ModelDeployment(ObjectRef<DeserializeGuard<ModelDeployment>>),
    /// Recount one Team.
    Team(ObjectRef<Team>),
    /// Reconcile one RollbackDrill.
    Drill(ObjectRef<RollbackDrill>),
    /// Recount one HandoffPolicy.
    Policy(ObjectRef<HandoffPolicy>),
    /// Recount every HandoffPolicy (what they select may have changed).
    Policies,
    /// Reconcile everything: a watch re-listed, so deletions may have been missed.
    Everything,
}

/// The last status Accord wrote to each ModelDeployment (a content hash), so the watch
/// can tell its own writes from everyone else's, whichever arrives first — the write's
/// answer or its watch event: a status written by someone else (forged by a cluster
/// admin, say) is reconciled at once; Accord's own is not reconciled again.
#[derive(Default)]
pub struct OwnWrites(Mutex<HashMap<String, String>>);

impl OwnWrites {
    fn hash(status: &impl serde::Serialize) -> String {
        crate::api::fingerprint::content_hash(status)
    }

    /// Records that Accord is writing `status` to `object`.
    pub fn record(&self, object: &str, status: &impl serde::Serialize) {
        self.0
            .lock()
            .expect("not poisoned")
            .insert(object.to_string(), Self::hash(status));
    }

    /// Whether `status` of `object` is the one Accord last wrote.
    pub fn is_own(&self, object: &str, status: &impl serde::Serialize) -> bool {
        let writes = self.0.lock().expect("not poisoned");
        writes
            .get(object)
            .is_some_and(|ours| *ours == Self::hash(status))
    }

    /// Forgets a deleted object.
    pub fn forget(&self, object: &str) {
        self.0.lock().expect("not poisoned").remove(object);
    }
}

/// How many requests may wait for a slow consumer before it must resync everything.
const REQUEST_BUFFER: usize = 4096;

/// The shared watches: their caches, and the requests their changes make.
pub struct Watches {
    pub stores: Stores,
    /// Accord's own ModelDeployment writes; the reconcilers record them.
    pub own_writes: Arc<OwnWrites>,
    requests: broadcast::Sender<Request>,
}

impl Watches {
    /// Starts one watch per kind; they run until the process ends. Returns at once:
    /// wait for [`Stores::ready`] before trusting the caches.
    pub fn start(client: &Client) -> Self {
        let (requests, _) = broadcast::channel(REQUEST_BUFFER);
        let (model_deployments, md_writer) = reflector::store();
        let (teams, team_writer) = reflector::store();
        let (attestations, attestation_writer) = reflector::store();
        let (deployments, deployment_writer) = reflector::store();
        let (services, service_writer) = reflector::store();
        let (policies, policy_writer) = reflector::store();
        let (namespaces, namespace_writer) = reflector::store();
        let (incidents, incident_writer) = reflector::store();
        let (drills, drill_writer) = reflector::store();
        let stores = Stores {
            model_deployments,
            teams,
            attestations,
            deployments,
            services,
            policies,
            namespaces,
            incidents,
            drills,
        };
        let all = watcher::Config::default();
        let managed = watcher::Config::default().labels(&format!(
            "{}={}",
            labels::MANAGED_BY,
            labels::MANAGED_BY_VALUE
        ));
        let tx = requests.clone();
        let own_writes = Arc::new(OwnWrites::default());
        tokio::spawn(reflect(
            Api::all(client.clone()),
            all.clone(),
            md_writer,
            tx.clone(),
            model_deployment_changes(own_writes.clone(), stores.model_deployments.clone()),
        ));
        let writers = (team_writer, policy_writer, namespace_writer);
        spawn_dependency_watches(client, &stores, writers, &tx);
        let md_store = stores.model_deployments.clone();
        tokio::spawn(reflect(
            Api::all(client.clone()),
            all,
            attestation_writer,
            tx.clone(),
            move |old: Option<&Attestation>, new: Option<&Attestation>| {
                let requests = triggers::attestation_changed(old, new);
                triggers::and_downstreams(requests, &|key| md_store.get(key), || md_store.state())
            },
        ));
        spawn_model_kind_watches(client, (incident_writer, drill_writer), &tx);
        tokio::spawn(reflect(
            Api::all(client.clone()),
            managed.clone(),
            deployment_writer,
            tx.clone(),
            triggers::deployment_changed,
        ));
        tokio::spawn(reflect(
            Api::all(client.clone()),
            managed,
            service_writer,
            tx,
            triggers::service_changed,
        ));
        Self {
            stores,
            own_writes,
            requests,
        }
    }

    /// A new subscription to the requests made from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Request> {
        self.requests.subscribe()
    }
}

/// What a ModelDeployment change asks for: its own reconcile unless the change is
/// Accord's own status write, its Teams' recounts, and — as an upstream — the
/// reconciles of the ModelDeployments citing it.
fn model_deployment_changes(
    own_writes: Arc<OwnWrites>,
    md_store: Store<Guard>,
) -> impl Fn(Option<&Guard>, Option<&Guard>) -> Vec<Request> + Send + 'static {
    move |old: Option<&Guard>, new: Option<&Guard>| {
        let status = |g: &Guard| g.0.as_ref().ok().and_then(|md| md.status.clone());
        let own = match (old, new) {
            (_, Some(md)) => own_writes.is_own(&namespaced_name(md.meta()), &status(md)),
            (Some(md), None) => {
                own_writes.forget(&namespaced_name(md.meta()));
                false
            }
            (None, None) => false,
        };
        let mut requests = triggers::model_deployment_changed(old, new, own);
        requests.extend(triggers::upstream_changed(old, new, || md_store.state()));
        requests
    }
}

/// The watches of the kinds about one ModelDeployment each: Incidents and
/// RollbackDrills.
fn spawn_model_kind_watches(
    client: &Client,
    (incident_writer, drill_writer): (Writer<Incident>, Writer<RollbackDrill>),
    tx: &broadcast::Sender<Request>,
) {
    tokio::spawn(reflect(
        Api::all(client.clone()),
        watcher::Config::default(),
        incident_writer,
        tx.clone(),
        triggers::incident_changed,
    ));
    tokio::spawn(reflect(
        Api::all(client.clone()),
        watcher::Config::default(),
        drill_writer,
        tx.clone(),
        triggers::drill_changed,
    ));
}

/// The watches of what ModelDeployments depend on: a Team change reconciles the
/// ModelDeployments naming it; a HandoffPolicy change those it selected or selects; a
/// namespace's labels, those in it.
fn spawn_dependency_watches(
    client: &Client,
    stores: &Stores,
    (team_writer, policy_writer, namespace_writer): (
        Writer<Team>,
        Writer<HandoffPolicy>,
        Writer<Namespace>,
    ),
    tx: &broadcast::Sender<Request>,
) {
    let all = watcher::Config::default();
    let md_store = stores.model_deployments.clone();
    tokio::spawn(reflect(
        Api::all(client.clone()),
        all.clone(),
        team_writer,
        tx.clone(),
        move |old: Option<&Team>, new: Option<&Team>| {
            let named_by = md_store.state();
            let requests = triggers::team_changed(old, new, named_by.iter().map(AsRef::as_ref));
            let get = |key: &ObjectRef<Guard>| md_store.get(key);
            triggers::and_downstreams(requests, &get, || named_by.clone())
        },
    ));
    let (md_store, all_stores) = (stores.model_deployments.clone(), stores.clone());
    tokio::spawn(reflect(
        Api::all(client.clone()),
        all.clone(),
        policy_writer,
        tx.clone(),
        move |old: Option<&HandoffPolicy>, new: Option<&HandoffPolicy>| {
            let named_by = md_store.state();
            triggers::policy_changed(old, new, named_by.iter().map(AsRef::as_ref), &|ns| {
                all_stores.namespace_labels(ns)
            })
        },
    ));
    let md_store = stores.model_deployments.clone();
    tokio::spawn(reflect(
        Api::all(client.clone()),
        all.clone(),
        namespace_writer,
        tx.clone(),
        move |old: Option<&Namespace>, new: Option<&Namespace>| {
            let in_namespace = md_store.state();
            triggers::namespace_changed(old, new, in_namespace.iter().map(AsRef::as_ref))
        },
    ));
}

/// Drops what no decision reads before an object is cached.
pub fn slim<K: Resource>(object: &mut K) {
    object.managed_fields_mut().clear();
    let annotations = object.annotations_mut();
    annotations.remove(labels::LAST_APPLIED);
}

/// Runs one watch: slims each object, keeps the cache, and broadcasts the requests
/// `changed(old, new)` makes for each applied or deleted object. A failure waits as
/// [`retry`] says before the watch tries again.
fn reflect<K, F>(
    api: Api<K>,
    config: watcher::Config,
    mut writer: Writer<K>,
    requests: broadcast::Sender<Request>,
    changed: F,
) -> BoxFuture<'static, ()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
    F: Fn(Option<&K>, Option<&K>) -> Vec<Request> + Send + 'static,
{
    let reader = writer.as_reader();
    let mut listed_once = false;
    Box::pin(async move {
        let mut events = std::pin::pin!(watcher(api, config).modify(slim));
        let mut retry = retry::Retry::default();
        while let Some(event) = events.next().await {
            let made = match &event {
                Ok(event) => {
                    retry.succeeded();
                    let before = changed_object(event)
                        .and_then(|object| reader.get(&ObjectRef::from_obj(object)));
                    writer.apply_watcher_event(event);
                    match event {
                        watcher::Event::Apply(object) => changed(before.as_deref(), Some(object)),
                        watcher::Event::Delete(object) => changed(Some(object), None),
                        // A re-list may hide deletions: reconcile everything once.
                        watcher::Event::InitDone if listed_once => vec![Request::Everything],
                        watcher::Event::InitDone => {
                            listed_once = true;
                            vec![]
                        }
                        watcher::Event::Init | watcher::Event::InitApply(_) => vec![],
                    }
                }
                Err(err) => {
                    let failure = retry::Failure::of(err);
                    let wait = retry.after(failure, retry::jitter());
                    tracing::warn!(%err, kind = %K::kind(&Default::default()), ?failure, retry_in = ?wait, "watch failed; retrying");
                    tokio::time::sleep(wait).await;
                    vec![]
                }
            };
            for request in made {
                // No subscriber (a standby replica) simply drops the request.
                let _ = requests.send(request);
            }
        }
    })
}

fn changed_object<K>(event: &watcher::Event<K>) -> Option<&K> {
    match event {
        watcher::Event::Apply(object) | watcher::Event::Delete(object) => Some(object),
        _ => None,
    }
}
