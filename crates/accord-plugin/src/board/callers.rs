//! Who a request is from, and what they may see. The local board has one caller: the
//! kubeconfig's user, whose own watches fill the cache. The board in the cluster
//! (`--proxy-auth`) has many: the proxy names each, every API call impersonates them,
//! and the shared cache (read with the board's ServiceAccount) is filtered to the
//! namespaces each may list, asked of the API server as that person and kept 30 s.

use std::{
    collections::{BTreeSet, HashMap},
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::http::HeaderMap;
use futures::future::join_all;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::{Api, Client, api::PostParams};

use super::{
    guard::CsrfToken,
    proxy::{NotIdentified, ProxyAuth},
    views::{Me, Snapshot},
};

/// What a caller may see of the shared cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible {
    /// Everything the cache holds (the local board: its watches are the caller's own).
    All,
    /// Each namespaced kind in the namespaces where the caller may list it; Teams and
    /// HandoffPolicies when `cluster` (the caller may list Teams).
    Some {
        models: BTreeSet<String>,
        attestations: BTreeSet<String>,
        incidents: BTreeSet<String>,
        cluster: bool,
    },
}

impl Visible {
    /// `snapshot` without what the caller may not read.
    pub fn filter(&self, snapshot: Snapshot) -> Snapshot {
        let Visible::Some {
            models,
            attestations,
            incidents,
            cluster,
        } = self
        else {
            return snapshot;
        };
        let within = |set: &BTreeSet<String>, ns: &Option<String>| {
            ns.as_ref().is_some_and(|n| set.contains(n))
        };
        Snapshot {
            mds: keep(snapshot.mds, |m| within(models, &m.metadata.namespace)),
            attestations: keep(snapshot.attestations, |a| {
                within(attestations, &a.metadata.namespace)
            }),
            incidents: keep(snapshot.incidents, |i| {
                within(incidents, &i.metadata.namespace)
            }),
            teams: if *cluster { snapshot.teams } else { vec![] },
            policies: if *cluster { snapshot.policies } else { vec![] },
        }
    }
}

fn keep<T>(mut items: Vec<Arc<T>>, ok: impl Fn(&T) -> bool) -> Vec<Arc<T>> {
    items.retain(|i| ok(i));
    items
}

/// One person using the board: who, the client acting as them, their form token and
/// what they may see.
pub struct Caller {
    pub me: Me,
    pub client: Client,
    pub token: CsrfToken,
    pub visible: Visible,
}

/// Whether `client`'s user may `list` `resource` (in `namespace`, or cluster-wide).
pub async fn may_list(client: &Client, resource: &str, namespace: Option<&str>) -> bool {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some("accord.dev".into()),
                resource: Some(resource.into()),
                verb: Some("list".into()),
                namespace: namespace.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .ok()
        .and_then(|r| r.status)
        .is_some_and(|s| s.allowed)
}

/// A person as the proxy names them: user and groups.
type Identity = (String, Vec<String>);

/// How long what a person may see is believed before it is asked again.
const VISIBILITY_TTL: Duration = Duration::from_secs(30);

/// The board in the cluster: the proxy's identity headers, the board's own client
/// configuration (impersonated per person), and each person's [`Caller`], kept 30 s.
pub struct ProxyMode {
    pub auth: ProxyAuth,
    pub config: kube::Config,
    callers: Mutex<HashMap<Identity, (Arc<Caller>, Instant)>>,
}

impl ProxyMode {
    pub fn new(auth: ProxyAuth, config: kube::Config) -> ProxyMode {
        ProxyMode {
            auth,
            config,
            callers: Mutex::default(),
        }
    }

    /// The caller a request is from: refused unless it came from the proxy and names a
    /// user. `namespaces` are those the cache holds now.
    pub async fn caller(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
        key: &CsrfToken,
        namespaces: BTreeSet<String>,
    ) -> Result<Arc<Caller>, CallerError> {
        let peer = peer.ok_or(CallerError::Refused(NotIdentified::UnknownPeer))?;
        let me = self
            .auth
            .identify(peer, headers)
            .map_err(CallerError::Refused)?;
        let id = (me.user.clone(), me.groups.clone());
        if let Some((caller, made)) = self.callers.lock().expect("callers lock").get(&id)
            && made.elapsed() < VISIBILITY_TTL
        {
            return Ok(caller.clone());
        }
        let mut config = self.config.clone();
        config.auth_info.impersonate = Some(me.user.clone());
        config.auth_info.impersonate_groups = Some(me.groups.clone());
        let client = Client::try_from(config).map_err(|e| CallerError::Client(e.to_string()))?;
        let visible = visible_to(&client, namespaces).await;
        let caller = Arc::new(Caller {
            token: key.for_user(&me.user),
            me,
            client,
            visible,
        });
        let mut callers = self.callers.lock().expect("callers lock");
        callers.retain(|_, (_, made)| made.elapsed() < VISIBILITY_TTL);
        callers.insert(id, (caller.clone(), Instant::now()));
        Ok(caller)
    }
}

/// What the impersonated `client`'s person may see: each namespaced kind everywhere
/// when they may list it cluster-wide, else in the namespaces among `namespaces` where
/// they may (all asked together).
async fn visible_to(client: &Client, namespaces: BTreeSet<String>) -> Visible {
    let cluster = may_list(client, "teams", None).await;
    let kinds = ["modeldeployments", "attestations", "incidents"];
    let everywhere = join_all(kinds.map(|kind| may_list(client, kind, None))).await;
    if cluster && everywhere.iter().all(|ok| *ok) {
        return Visible::All;
    }
    let mut sets: [BTreeSet<String>; 3] = Default::default();
    for ((kind, all), set) in kinds.iter().zip(everywhere).zip(sets.iter_mut()) {
        if all {
            set.clone_from(&namespaces);
            continue;
        }
        let checks = join_all(
            namespaces
                .iter()
                .map(|ns| async move { (ns.clone(), may_list(client, kind, Some(ns)).await) }),
        )
        .await;
        set.extend(checks.into_iter().filter_map(|(ns, ok)| ok.then_some(ns)));
    }
    let [models, attestations, incidents] = sets;
    Visible::Some {
        models,
        attestations,
        incidents,
        cluster,
    }
}

/// Why no caller could be made for a request.
#[derive(Debug)]
pub enum CallerError {
    /// 401: not from the proxy, or no user named.
    Refused(NotIdentified),
    /// 500: the impersonating client could not be made.
    Client(String),
}
