//! The controller wrapper both reconcilers share. It feeds kube's applier from the
//! shared watches' requests (after one pass over everything once the caches are
//! ready), times every reconcile on every exit path, counts reconciles and errors,
//! and keeps per-object exponential backoff that a success resets.

use std::{
    collections::HashMap,
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

use super::{Context, Error};
use crate::{
    metrics::{ControllerLabels, ControllerMetrics, ErrorLabels},
    timing,
    watch::Request,
};

/// Consecutive failures per object, for exponential backoff.
#[derive(Default)]
pub struct Backoff(Mutex<HashMap<String, u32>>);

impl Backoff {
    /// The next delay for `key`: 2 s, 4 s, … up to [`timing::MAX_BACKOFF`].
    pub fn next(&self, key: &str) -> Duration {
        let mut failures = self.0.lock().expect("not poisoned");
        let n = failures.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        Duration::from_secs(2u64.saturating_pow(*n)).min(timing::MAX_BACKOFF)
    }

    /// `key` succeeded: its next failure starts from the shortest delay again.
    pub fn reset(&self, key: &str) {
        self.0.lock().expect("not poisoned").remove(key);
    }
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
pub fn error_action(error: &Error, key: &str, backoff: &Backoff) -> Action {
    match error {
        Error::InvalidObject(_) => {
            warn!(%error, "skipping until the object changes");
            Action::await_change()
        }
        Error::Conflict(_) => Action::requeue(timing::CONFLICT_RETRY),
        Error::Gone(_) => {
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

/// Runs `reconcile` for the objects `requests` names until `shutdown` resolves,
/// finishing the reconciles in flight.
pub async fn run<K, F>(
    name: &'static str,
    ctx: Arc<Context>,
    store: Store<K>,
    requests: impl futures::Stream<Item = ObjectRef<K>> + Send + 'static,
    reconcile: fn(Arc<K>, Arc<Context>) -> F,
    config: controller::Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    K: Resource + Clone + Debug + Send + Sync + 'static,
    K::DynamicType: Debug + Eq + Hash + Clone + Unpin + Send + Sync,
    F: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let labels = ControllerLabels {
        controller: name.into(),
    };
    let key = |object: &K| crate::api::namespaced_name(object.meta());
    let instrumented = {
        let labels = labels.clone();
        move |object: Arc<K>, ctx: Arc<Context>| -> BoxFuture<'static, Result<Action, Error>> {
            let labels = labels.clone();
            async move {
                ctx.metrics.reconciles.get_or_create(&labels).inc();
                let _timer = Timer {
                    started: Instant::now(),
                    metrics: &ctx.metrics,
                    labels,
                };
                let result = reconcile(object.clone(), ctx.clone()).await;
                if result.is_ok() {
                    ctx.backoff.reset(&key(&object));
                }
                result
            }
            .boxed()
        }
    };
    let error_policy = move |object: Arc<K>, error: &Error, ctx: Arc<Context>| {
        ctx.metrics
            .errors
            .get_or_create(&ErrorLabels {
                controller: name.into(),
                reason: error.metric_label().into(),
            })
            .inc();
        error_action(error, &key(&object), &ctx.backoff)
    };
    let queue = requests.take_until(shutdown).map(Ok::<_, Infallible>);
    applier(instrumented, error_policy, ctx, store, queue, config)
        .for_each(|result| {
            if let Err(err) = result {
                debug!(%err, controller = name, "reconcile request not run");
            }
            futures::future::ready(())
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_bound_and_a_success_resets_it() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (0..12).map(|_| backoff.next("ns/a").as_secs()).collect();
        assert_eq!(&delays[..4], [2, 4, 8, 16]);
        assert_eq!(delays[11], timing::MAX_BACKOFF.as_secs());
        assert_eq!(backoff.next("ns/b").as_secs(), 2, "per object");
        backoff.reset("ns/a");
        assert_eq!(backoff.next("ns/a").as_secs(), 2);
    }

    #[test]
    fn conflicts_retry_at_once_and_invalid_objects_wait_for_a_change() {
        let backoff = Backoff::default();
        let conflict = error_action(&Error::Conflict("x".into()), "k", &backoff);
        assert_eq!(conflict, Action::requeue(timing::CONFLICT_RETRY));
        let invalid = error_action(&Error::InvalidObject("x".into()), "k", &backoff);
        assert_eq!(invalid, Action::await_change());
    }
}
