//! The controller wrapper every reconciler shares. It feeds kube's applier from the
//! shared watches' requests (after one pass over everything once the caches are
//! ready), times every reconcile on every exit path, counts reconciles and errors,
//! and keeps per-object exponential backoff that a success resets. Each reconciler
//! gets its own [`Runner`] beside its own context.

use std::{
    collections::{HashMap, HashSet},
    convert::Infallible,
    fmt::Debug,
    future::Future,
    hash::Hash,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{FutureExt, StreamExt, future::BoxFuture, stream};

use kube::{
    Resource,
    runtime::{
        controller::{self, Action, applier},
        reflector::{ObjectRef, Store},
    },
};
use tokio::sync::broadcast;
use tracing::{debug, warn};

use super::Error;
use crate::{
    metrics::{ControllerLabels, ControllerMetrics, ErrorLabels},
    timing,
    watch::Request,
};

/// Which object a backoff counts for: kind, namespace and name, so a Team `x` and a
/// HandoffPolicy `x` (both cluster-scoped) never share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn new(kind: &'static str, meta: &kube::api::ObjectMeta) -> Self {
        Self {
            kind,
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

/// Consecutive failures per object, for exponential backoff.
#[derive(Default)]
pub struct Backoff(Mutex<HashMap<ObjectKey, u32>>);

impl Backoff {
    /// The next delay for `key`: 2 s, 4 s, … up to [`timing::MAX_BACKOFF`].
    pub fn next(&self, key: &ObjectKey) -> Duration {
        let mut failures = self.0.lock().expect("not poisoned");
        let n = failures.entry(key.clone()).or_insert(0);
        *n = n.saturating_add(1);
        Duration::from_secs(2u64.saturating_pow(*n)).min(timing::MAX_BACKOFF)
    }

    /// `key` succeeded: its next failure starts from the shortest delay again.
    pub fn reset(&self, key: &ObjectKey) {
        self.0.lock().expect("not poisoned").remove(key);
    }
}

/// What the wrapper keeps for one reconciler: its name (the `controller` label and the
/// kind in backoff keys), the shared reconcile metrics and its own backoff.
pub struct Runner {
    pub kind: &'static str,
    pub metrics: ControllerMetrics,
    pub backoff: Backoff,
}

impl Runner {
    pub fn new(kind: &'static str, metrics: ControllerMetrics) -> Self {
        Self {
            kind,
            metrics,
            backoff: Backoff::default(),
        }
    }
}

/// What kube's applier carries to each reconcile: the runner and the reconciler's own
/// context.
struct Scoped<C> {
    runner: Runner,
    ctx: Arc<C>,
}

/// Observes a reconcile's duration when dropped, so every exit path is timed.
struct Timer<'a> {
    started: Instant,
    metrics: &'a ControllerMetrics,
    labels: ControllerLabels,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.metrics
            .reconcile_duration
            .get_or_create(&self.labels)
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// What a requeue after `error` should be for `key`.
pub fn error_action(error: &Error, key: &ObjectKey, backoff: &Backoff) -> Action {
    match error {
        Error::InvalidObject(_) => {
            warn!(%error, "skipping until the object changes");
            Action::await_change()
        }
        Error::Conflict { .. } => Action::requeue(timing::CONFLICT_RETRY),
        Error::Gone { .. } => {
            debug!(%error, "waiting for the deletion to finish");
            Action::await_change()
        }
        Error::Kube { .. } => {
            let delay = backoff.next(key);
            warn!(%error, retry_in = ?delay, "reconcile failed");
            Action::requeue(delay)
        }
    }
}

/// Which objects of one kind a [`Request`] asks to reconcile.
pub enum Selection<K: Resource> {
    One(ObjectRef<K>),
    All,
    Nothing,
}

/// The object refs a subscription asks for: every object once the cache is ready,
/// then those `select` picks from each request (everything again after a re-list,
/// or when this consumer fell behind and missed some).
pub fn requests<K>(
    subscription: broadcast::Receiver<Request>,
    store: Store<K>,
    select: fn(&Request) -> Selection<K>,
) -> impl futures::Stream<Item = ObjectRef<K>> + Send
where
    K: Resource + Clone + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let all = |store: &Store<K>| -> Vec<ObjectRef<K>> {
        store
            .state()
            .iter()
            .map(|o| ObjectRef::from_obj(o.as_ref()))
            .collect()
    };
    let initial_store = store.clone();
    let initial = stream::once(async move {
        let _ = initial_store.wait_until_ready().await;
        stream::iter(all(&initial_store))
    })
    .flatten();
    let changes = stream::unfold(subscription, |mut subscription| async move {
        match subscription.recv().await {
            Err(broadcast::error::RecvError::Closed) => None,
            received => Some((received, subscription)),
        }
    })
    .flat_map(move |received| {
        let refs = match received {
            Ok(Request::Everything) | Err(_) => all(&store),
            Ok(request) => match select(&request) {
                Selection::One(r) => vec![r],
                Selection::All => all(&store),
                Selection::Nothing => vec![],
            },
        };
        stream::iter(refs)
    });
    initial.chain(changes)
}

/// What changes asked to reconcile and is not reconciled yet, with its size as a gauge.
struct Asked<K: Resource> {
    objects: Mutex<HashSet<ObjectRef<K>>>,
    depth: prometheus_client::metrics::gauge::Gauge,
}

impl<K: Resource> Asked<K>
where
    K::DynamicType: Eq + Hash + Clone,
{
    fn ask(&self, object: ObjectRef<K>) {
        let mut objects = self.objects.lock().expect("not poisoned");
        objects.insert(object);
        self.depth.set(objects.len() as i64);
    }

    /// Whether a change asked for `object`'s reconcile (which is now answered).
    fn answer(&self, object: &ObjectRef<K>) -> bool {
        let mut objects = self.objects.lock().expect("not poisoned");
        let asked = objects.remove(object);
        self.depth.set(objects.len() as i64);
        asked
    }

    /// Deleted before its reconcile: nothing will answer the ask.
    fn forget(&self, name: &str, namespace: Option<&str>) {
        let mut objects = self.objects.lock().expect("not poisoned");
        objects.retain(|r| r.name != name || r.namespace.as_deref() != namespace);
        self.depth.set(objects.len() as i64);
    }
}

/// Runs `reconcile` with `ctx` for the objects `requests` names until `shutdown`
/// resolves, finishing the reconciles in flight.
pub async fn run<K, C, F>(
    runner: Runner,
    ctx: Arc<C>,
    store: Store<K>,
    requests: impl futures::Stream<Item = ObjectRef<K>> + Send + 'static,
    reconcile: fn(Arc<K>, Arc<C>) -> F,
    config: controller::Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    K: Resource + Clone + Debug + Send + Sync + 'static,
    K::DynamicType: Debug + Default + Eq + Hash + Clone + Unpin + Send + Sync,
    C: Send + Sync + 'static,
    F: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let name = runner.kind;
    let labels = ControllerLabels {
        controller: name.into(),
    };
    // The objects a change asked for and not yet reconciled (the queue's depth): any
    // other reconcile is a requeue. kube's scheduler merges repeated asks into one.
    let asked = Arc::new(Asked {
        objects: Mutex::default(),
        depth: runner.metrics.queue_depth.get_or_create(&labels).clone(),
    });
    let (asking, answered, forgotten) = (asked.clone(), asked.clone(), asked);
    let requests = requests.inspect(move |r| asking.ask(r.clone()));
    let instrumented = move |object: Arc<K>,
                             scoped: Arc<Scoped<C>>|
          -> BoxFuture<'static, Result<Action, Error>> {
        let labels = labels.clone();
        let was_asked = answered.answer(&ObjectRef::from_obj(object.as_ref()));
        async move {
            let runner = &scoped.runner;
            runner.metrics.reconciles.get_or_create(&labels).inc();
            if !was_asked {
                runner.metrics.requeued.get_or_create(&labels).inc();
            }
            let _timer = Timer {
                started: Instant::now(),
                metrics: &runner.metrics,
                labels,
            };
            let result = reconcile(object.clone(), scoped.ctx.clone()).await;
            if result.is_ok() {
                runner
                    .backoff
                    .reset(&ObjectKey::new(runner.kind, object.meta()));
            }
            result
        }
        .boxed()
    };
    let error_policy = move |object: Arc<K>, error: &Error, scoped: Arc<Scoped<C>>| {
        let runner = &scoped.runner;
        runner
            .metrics
            .errors
            .get_or_create(&ErrorLabels {
                controller: name.into(),
                reason: error.metric_label().into(),
            })
            .inc();
        let key = ObjectKey::new(runner.kind, object.meta());
        error_action(error, &key, &runner.backoff)
    };
    let queue = requests.take_until(shutdown).map(Ok::<_, Infallible>);
    let scoped = Arc::new(Scoped { runner, ctx });
    applier(instrumented, error_policy, scoped, store, queue, config)
        .for_each(move |result| {
            if let Err(err) = result {
                if let controller::Error::ObjectNotFound(gone) = &err {
                    // Deleted before its reconcile: nothing will answer the ask.
                    forgotten.forget(&gone.name, gone.namespace.as_deref());
                }
                debug!(%err, controller = name, "reconcile request not run");
            }
            futures::future::ready(())
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    use kube::api::ObjectMeta;

    use super::super::Step;

    #[test]
    fn asks_are_counted_once_until_answered_and_anything_else_is_a_requeue() {
        use k8s_openapi::api::core::v1::ConfigMap;
        let asked: Asked<ConfigMap> = Asked {
            objects: Mutex::default(),
            depth: prometheus_client::metrics::gauge::Gauge::default(),
        };
        let a = ObjectRef::<ConfigMap>::new("a").within("n");
        let b = ObjectRef::<ConfigMap>::new("b").within("n");
        asked.ask(a.clone());
        asked.ask(a.clone());
        asked.ask(b.clone());
        assert_eq!(asked.depth.get(), 2, "two asks for a are one reconcile");
        assert!(asked.answer(&a), "a change asked for a");
        assert!(!asked.answer(&a), "the next reconcile of a is a requeue");
        assert_eq!(asked.depth.get(), 1);
        asked.forget("b", Some("other"));
        assert_eq!(asked.depth.get(), 1, "another namespace's b is not this b");
        asked.forget("b", Some("n"));
        assert_eq!(asked.depth.get(), 0);
    }

    fn key(kind: &'static str, namespace: Option<&str>, name: &str) -> ObjectKey {
        let meta = ObjectMeta {
            namespace: namespace.map(String::from),
            name: Some(name.into()),
            ..Default::default()
        };
        ObjectKey::new(kind, &meta)
    }

    #[test]
    fn backoff_grows_to_a_bound_and_a_success_resets_it() {
        let backoff = Backoff::default();
        let a = key("modeldeployment", Some("ns"), "a");
        let delays: Vec<u64> = (0..12).map(|_| backoff.next(&a).as_secs()).collect();
        assert_eq!(&delays[..4], [2, 4, 8, 16]);
        assert_eq!(delays[11], timing::MAX_BACKOFF.as_secs());
        let b = key("modeldeployment", Some("ns"), "b");
        assert_eq!(backoff.next(&b).as_secs(), 2, "per object");
        backoff.reset(&a);
        assert_eq!(backoff.next(&a).as_secs(), 2);
    }

    /// Teams and HandoffPolicies are both cluster-scoped: keyed by bare name (as
    /// before), a Team `x` and a HandoffPolicy `x` shared one counter and a success on
    /// either reset the other's.
    #[test]
    fn a_team_and_a_policy_of_the_same_name_back_off_separately() {
        let backoff = Backoff::default();
        let team = key("team", None, "x");
        let policy = key("handoffpolicy", None, "x");
        assert_eq!(backoff.next(&team).as_secs(), 2);
        assert_eq!(backoff.next(&team).as_secs(), 4);
        assert_eq!(
            backoff.next(&policy).as_secs(),
            2,
            "the policy starts afresh"
        );
        backoff.reset(&policy);
        assert_eq!(
            backoff.next(&team).as_secs(),
            8,
            "the policy's success does not reset the Team's backoff"
        );
    }

    #[test]
    fn conflicts_retry_at_once_and_invalid_objects_wait_for_a_change() {
        let backoff = Backoff::default();
        let k = key("modeldeployment", Some("ns"), "k");
        let conflict = Error::Conflict {
            step: Step::Apply,
            object: "x".into(),
        };
        assert_eq!(
            error_action(&conflict, &k, &backoff),
            Action::requeue(timing::CONFLICT_RETRY)
        );
        let invalid = error_action(&Error::InvalidObject("x".into()), &k, &backoff);
        assert_eq!(invalid, Action::await_change());
    }
}
