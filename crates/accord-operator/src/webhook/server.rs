//! The HTTPS admission server (axum over rustls), serving on every replica.

use std::{collections::BTreeMap, sync::Arc, time::Instant};

use axum::{Router, body::Bytes, extract::State, routing::post};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api, Client, ResourceExt,
    core::DeserializeGuard,
    runtime::reflector::{ObjectRef, Store},
};
use tokio::net::TcpListener;

use accord_core::{
    admission::{
        Rights, Verdict,
        review::{self, ClusterView, Hook},
    },
    seal::{SealKeys, SharedKeys},
};

use super::certs::CertStore;
use crate::{
    api::{HandoffPolicy, Incident, ModelDeployment, RollbackDrill, Team},
    metrics::{AdmissionLabels, KindLabels, WebhookMetrics},
};

/// What the handlers read: watch-fed stores, with a live read when they might be stale.
pub struct WebhookState {
    pub client: Client,
    pub model_deployments: Store<DeserializeGuard<ModelDeployment>>,
    pub teams: Store<Team>,
    pub policies: Store<HandoffPolicy>,
    pub namespaces: Store<Namespace>,
    pub incidents: Store<Incident>,
    pub drills: Store<RollbackDrill>,
    pub keys: Arc<SharedKeys>,
    pub rights: Rights,
    pub metrics: WebhookMetrics,
}

/// The stores' view of the world.
struct Cached<'a>(&'a WebhookState);

impl ClusterView for Cached<'_> {
    fn model_deployment(&self, namespace: &str, name: &str) -> Option<ModelDeployment> {
        let guard = self
            .0
            .model_deployments
            .get(&ObjectRef::new(name).within(namespace))?;
        guard.0.as_ref().ok().cloned()
    }
    fn team(&self, name: &str) -> Option<Team> {
        self.0
            .teams
            .get(&ObjectRef::new(name))
            .map(|t| (*t).clone())
    }
    fn incident(&self, namespace: &str, name: &str) -> Option<Incident> {
        self.0
            .incidents
            .get(&ObjectRef::new(name).within(namespace))
            .map(|i| (*i).clone())
    }
    fn drill(&self, namespace: &str, name: &str) -> Option<RollbackDrill> {
        self.0
            .drills
            .get(&ObjectRef::new(name).within(namespace))
            .map(|d| (*d).clone())
    }
    fn keys(&self) -> Option<Arc<SealKeys>> {
        self.0.keys.get()
    }
    fn rights(&self) -> &Rights {
        &self.0.rights
    }
    fn policies(&self) -> Vec<Arc<HandoffPolicy>> {
        self.0.policies.state()
    }
    fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        crate::watch::labels_of(&self.0.namespaces, namespace)
    }
}

/// A world read live from the API server, for a second opinion before denying.
struct Live {
    model_deployment: Option<ModelDeployment>,
    /// The Incident a root-cause analysis names.
    incident: Option<Incident>,
    /// The RollbackDrill a drill review names.
    drill: Option<RollbackDrill>,
    teams: Vec<Team>,
    /// Policies and namespace labels come from the caches: they change rarely, and a
    /// stale one can only make the answer stricter or name an item not yet known.
    policies: Vec<Arc<HandoffPolicy>>,
    namespace_labels: BTreeMap<String, String>,
    keys: Option<Arc<SealKeys>>,
    rights: Rights,
}

impl ClusterView for Live {
    fn model_deployment(&self, _: &str, _: &str) -> Option<ModelDeployment> {
        self.model_deployment.clone()
    }
    fn team(&self, name: &str) -> Option<Team> {
        self.teams.iter().find(|t| t.name_any() == name).cloned()
    }
    fn incident(&self, _: &str, _: &str) -> Option<Incident> {
        self.incident.clone()
    }
    fn drill(&self, _: &str, _: &str) -> Option<RollbackDrill> {
        self.drill.clone()
    }
    fn keys(&self) -> Option<Arc<SealKeys>> {
        self.keys.clone()
    }
    fn rights(&self) -> &Rights {
        &self.rights
    }
    fn policies(&self) -> Vec<Arc<HandoffPolicy>> {
        self.policies.clone()
    }
    fn namespace_labels(&self, _: &str) -> BTreeMap<String, String> {
        self.namespace_labels.clone()
    }
}

/// The names a request's spec points at, read live when a decision might be stale.
struct Named {
    model_deployment: Option<String>,
    incident: Option<String>,
    drill: Option<String>,
}

async fn live_world(state: &WebhookState, namespace: &str, named: &Named) -> Option<Live> {
    let (md_name, incident_name) = (named.model_deployment.as_deref(), named.incident.as_deref());
    let model_deployment = match md_name {
        Some(name) => Api::<ModelDeployment>::namespaced(state.client.clone(), namespace)
            .get_opt(name)
            .await
            .ok()?,
        None => None,
    };
    let incident = match incident_name {
        Some(name) => Api::<Incident>::namespaced(state.client.clone(), namespace)
            .get_opt(name)
            .await
            .ok()?,
        None => None,
    };
    let drill = match named.drill.as_deref() {
        Some(name) => Api::<RollbackDrill>::namespaced(state.client.clone(), namespace)
            .get_opt(name)
            .await
            .ok()?,
        None => None,
    };
    let teams = Api::<Team>::all(state.client.clone())
        .list(&Default::default())
        .await
        .ok()?
        .items;
    let cached = Cached(state);
    Some(Live {
        model_deployment,
        incident,
        drill,
        teams,
        policies: cached.policies(),
        namespace_labels: cached.namespace_labels(namespace),
        keys: state.keys.get(),
        rights: state.rights.clone(),
    })
}

async fn admit(
    state: Arc<WebhookState>,
    hook: Hook,
    body: Bytes,
) -> axum::Json<kube::core::admission::AdmissionReview<kube::core::DynamicObject>> {
    let started = Instant::now();
    let request = match review::decode(&body) {
        Ok(request) => request,
        Err(err) => {
            tracing::warn!(%err, "rejecting a malformed admission request");
            return axum::Json(review::invalid(&err.to_string()));
        }
    };
    let mut verdict = review::decide(hook, &request, &Cached(&state));
    if matches!(verdict, Verdict::Deny(_))
        && matches!(
            hook,
            Hook::MutateAttestation
                | Hook::ValidateAttestation
                | Hook::MutateIncident
                | Hook::ValidateIncident
                | Hook::ValidateRollbackDrill
        )
    {
        // The stores may lag a change made a moment ago: ask the API server before denying.
        let namespace = request.namespace.clone().unwrap_or_default();
        let spec = |field: &str| {
            let object = request.object.as_ref().or(request.old_object.as_ref())?;
            object.data["spec"][field].as_str().map(String::from)
        };
        let named = Named {
            model_deployment: spec("modelDeployment"),
            incident: spec("incident"),
            drill: spec("drill").and_then(|d| d.split_once('/').map(|(d, _)| d.to_string())),
        };
        if let Some(live) = live_world(&state, &namespace, &named).await {
            verdict = review::decide(hook, &request, &live);
        }
    }
    let operation = review::operation_label(&request);
    state
        .metrics
        .requests
        .get_or_create(&AdmissionLabels {
            kind: hook.kind().into(),
            operation: operation.into(),
            verdict: verdict.label().into(),
        })
        .inc();
    state
        .metrics
        .duration
        .get_or_create(&KindLabels {
            kind: hook.kind().into(),
        })
        .observe(started.elapsed().as_secs_f64());
    if let Verdict::Deny(message) = &verdict {
        tracing::info!(
            user = request.user_info.username.as_deref().unwrap_or_default(),
            kind = hook.kind(),
            operation,
            name = %request.name,
            namespace = request.namespace.as_deref().unwrap_or_default(),
            dry_run = request.dry_run,
            "denied: {message}"
        );
    }
    axum::Json(review::respond(&request, &verdict))
}

/// The admission routes.
pub fn router(state: Arc<WebhookState>) -> Router {
    let mut router = Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    for (hook, path) in Hook::ALL {
        router = router.route(
            path,
            post(move |State(state): State<Arc<WebhookState>>, body: Bytes| {
                admit(state, hook, body)
            }),
        );
    }
    router.with_state(state)
}

/// Serves the admission routes over TLS on `listener`, with certificates from `certs`.
pub async fn serve(
    listener: TcpListener,
    state: Arc<WebhookState>,
    certs: Arc<CertStore>,
) -> std::io::Result<()> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    tracing::info!(addr = %listener.local_addr()?, "serving admission webhooks over TLS");
    let app = router(state);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(%err, "accept failed");
                continue;
            }
        };
        // An AdmissionReview answer is a few small writes: without TCP_NODELAY, Nagle's
        // algorithm and the API server's delayed ACKs add tens of milliseconds to each.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, %peer, "cannot set TCP_NODELAY");
        }
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls_stream = match acceptor.accept(stream).await {
                Ok(s) => s,
                Err(err) => {
                    tracing::debug!(%err, %peer, "TLS handshake failed");
                    return;
                }
            };
            let service = TowerToHyperService::new(app);
            if let Err(err) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls_stream), service)
                .await
            {
                tracing::debug!(%err, %peer, "admission connection ended with an error");
            }
        });
    }
}
