//! The floor every admission webhook is measured against: an HTTPS server that answers
//! every AdmissionReview with `allowed: true` and does nothing else, registered as a
//! mutating and a validating webhook for ConfigMaps in one namespace.
//!
//! It runs in the test's own process, on the same stack as Accord's webhook (hyper over
//! rustls, HTTP/2 offered by ALPN, `TCP_NODELAY`) with a URL client configuration like
//! Accord's, so what Accord costs above it is Accord's own work. `make bench-scale` and
//! the e2e guard time ConfigMap creates in that namespace against creates in a namespace
//! without it, in the same run.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, thread};

use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Bytes, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use serde_json::{Value, json};

use crate::Kubectl;

/// Names of the two webhook configurations (and of their one webhook each).
pub const NAME: &str = "noop.bench.accord.dev";

/// A running no-op webhook. Dropping it removes its configurations; the server thread
/// ends with the process.
pub struct NoopWebhook {
    addr: SocketAddr,
    ca_pem: String,
    namespaces: Vec<String>,
    rules: Vec<Value>,
}

/// What the no-op webhook intercepts: ConfigMaps.
pub fn config_maps() -> Value {
    json!({"apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"],
           "operations": ["CREATE", "UPDATE"], "scope": "Namespaced"})
}

/// What the no-op webhook intercepts: creates of Accord's namespaced kinds, beside
/// Accord's own webhooks, so both are timed on the very same requests (not updates: the
/// operator's own writes would add calls Accord's webhooks are spared).
pub fn accord_kinds() -> Value {
    json!({"apiGroups": ["accord.dev"], "apiVersions": ["v1alpha1"],
           "resources": ["attestations", "modeldeployments"],
           "operations": ["CREATE"], "scope": "Namespaced"})
}

impl NoopWebhook {
    /// Serves on a free loopback port and registers for `rules` (see [`config_maps`],
    /// [`accord_kinds`]) in `namespaces` (fail closed, like Accord's), waiting until the
    /// API server calls it. The first namespace must take ConfigMaps: the probe is one.
    pub fn start(namespaces: &[&str], rules: Vec<Value>) -> Self {
        let key = rcgen::KeyPair::generate().expect("a key pair");
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("parameters");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "noop-webhook");
        let cert = params.self_signed(&key).expect("a self-signed certificate");
        let ca_pem = cert.pem();
        let tls = tls_config(cert.der().to_vec(), key.serialize_der());

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("an address");
        thread::Builder::new()
            .name("noop-webhook".into())
            .spawn(move || serve(listener, tls))
            .expect("the webhook thread");

        let webhook = NoopWebhook {
            addr,
            ca_pem,
            namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
            rules,
        };
        webhook.register();
        webhook
    }

    fn register(&self) {
        let admin = Kubectl::admin();
        let ca = base64_encode(self.ca_pem.as_bytes());
        let hook = |path: &str| {
            json!({
                "name": NAME,
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "timeoutSeconds": 2,
                "clientConfig": {"url": format!("https://{}{path}", self.addr), "caBundle": ca},
                "namespaceSelector": {"matchExpressions": [{
                    "key": "kubernetes.io/metadata.name", "operator": "In", "values": self.namespaces
                }]},
                "rules": self.rules
            })
        };
        let list = json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": "MutatingWebhookConfiguration",
                    "metadata": {"name": NAME},
                    "webhooks": [hook("/mutate")]
                },
                {
                    "apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": "ValidatingWebhookConfiguration",
                    "metadata": {"name": NAME},
                    "webhooks": [hook("/validate")]
                }
            ]
        });
        let applied = admin.apply(&list.to_string());
        assert!(
            applied.success,
            "registering the no-op webhook: {}",
            applied.stderr
        );
        // The API server picks configurations up from its own watch: wait until a create
        // in the namespace has gone through the webhook (a dry run leaves nothing).
        let probe = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "noop-webhook-probe", "namespace": self.namespaces[0]}
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while CALLS.load(std::sync::atomic::Ordering::Relaxed) < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the API server did not call the no-op webhook within 30 s"
            );
            let _ = admin.run_with_stdin(
                &["create", "--dry-run=server", "-f", "-"],
                Some(&probe.to_string()),
            );
            thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// How many AdmissionReviews it has answered (in this process).
    pub fn calls() -> u64 {
        CALLS.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for NoopWebhook {
    fn drop(&mut self) {
        let admin = Kubectl::admin();
        for kind in [
            "mutatingwebhookconfiguration",
            "validatingwebhookconfiguration",
        ] {
            let _ = admin.run(&["delete", kind, NAME, "--ignore-not-found"]);
        }
    }
}

static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn tls_config(cert_der: Vec<u8>, key_der: Vec<u8>) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert_der.into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into()),
        )
        .expect("the certificate");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

fn serve(listener: std::net::TcpListener, tls: Arc<rustls::ServerConfig>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls_stream) = acceptor.accept(stream).await else {
                    return;
                };
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls_stream), service_fn(answer))
                    .await;
            });
        }
    });
}

/// `allowed: true` for the request's uid, and nothing else.
async fn answer(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let review: Value = serde_json::from_slice(&body).unwrap_or_default();
    CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let answer = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": review["request"]["uid"], "allowed": true}
    });
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(answer.to_string())))
        .expect("a response"))
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
