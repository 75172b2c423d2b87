//! Outgoing HTTP(S) for the operator's own requests (canary analysis queries, Team
//! notifications): one connector, so both trust the same roots.

use hyper_util::client::legacy::connect::HttpConnector;

/// An HTTP and HTTPS connector trusting the system's roots (none when it has none:
/// https then fails to verify, with the reason).
pub fn connector() -> hyper_rustls::HttpsConnector<HttpConnector> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    match builder.with_provider_and_native_roots(provider.clone()) {
        Ok(builder) => builder,
        Err(error) => {
            tracing::warn!(%error, "no system trust roots: https servers will not verify");
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
                rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default protocol versions")
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            )
        }
    }
    .https_or_http()
    .enable_http1()
    .build()
}
