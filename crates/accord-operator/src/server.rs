//! The operational HTTP endpoints: `/metrics`, `/healthz`, `/readyz`. They serve on
//! every replica, leader or not.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};

use crate::metrics::Metrics;

/// State behind the endpoints.
pub struct Health {
    pub metrics: Arc<Metrics>,
    /// Set once the CRDs are Established and this replica is ready to work.
    pub ready: AtomicBool,
}

/// OpenMetrics when the scraper asks for it (Prometheus does), else the classic text format.
async fn metrics(
    State(health): State<Arc<Health>>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    let wants_openmetrics = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    if wants_openmetrics {
        (
            [(
                "content-type",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            health.metrics.encode(),
        )
    } else {
        (
            [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
            crate::metrics::to_prometheus_text(&health.metrics.encode()),
        )
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    if health.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for the Accord CRDs to be Established",
        )
    }
}

/// The router, separate from serving so it can be tested in-process.
pub fn router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(health)
}

/// Serves the endpoints on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    health: Arc<Health>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    axum::serve(listener, router(health))
        .with_graceful_shutdown(shutdown)
        .await
}
