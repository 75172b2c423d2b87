//! Canary analysis I/O: one Prometheus instant query per due measurement, over HTTP(S),
//! with a timeout. What the answer means is decided in [`accord_core::canary`].

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use accord_core::canary;

use crate::{
    api::{Analysis, Measurement},
    http::connector,
};

/// How long one query may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The most of an answer read.
const MAX_ANSWER: usize = 1 << 20;

/// An HTTP(S) client for Prometheus servers (system trust roots for https).
#[derive(Clone)]
pub struct Prometheus {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl Prometheus {
    pub fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector()),
        }
    }

    /// Runs `query` against `analysis.address` and judges the answer at `at`.
    pub async fn measure(&self, analysis: &Analysis, query: &str, at: Time) -> Measurement {
        let answer = match tokio::time::timeout(TIMEOUT, self.query(&analysis.address, query)).await
        {
            Ok(answer) => answer,
            Err(_) => Err(format!(
                "Prometheus at {} did not answer within {}s",
                analysis.address,
                TIMEOUT.as_secs()
            )),
        };
        canary::measurement(answer, analysis, at)
    }

    /// Runs `query` against `address` with the timeout: the one number it returned,
    /// `None` for no data, or why there is no answer.
    pub async fn read(&self, address: &str, query: &str) -> Result<Option<String>, String> {
        match tokio::time::timeout(TIMEOUT, self.query(address, query)).await {
            Ok(answer) => answer,
            Err(_) => Err(format!(
                "Prometheus at {address} did not answer within {}s",
                TIMEOUT.as_secs()
            )),
        }
    }

    async fn query(&self, address: &str, query: &str) -> Result<Option<String>, String> {
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", query)
            .finish();
        let url = format!("{}/api/v1/query?{encoded}", address.trim_end_matches('/'));
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("{address} is not a usable address: {e}"))?;
        let response = self
            .client
            .get(uri)
            .await
            .map_err(|e| format!("cannot reach Prometheus at {address}: {e}"))?;
        let status = response.status();
        let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("Prometheus at {address} sent an unreadable answer: {e}"))?
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        match canary::parse_answer(&text) {
            Err(why) if !status.is_success() => Err(format!("Prometheus answered {status}: {why}")),
            other => other,
        }
    }
}

impl Default for Prometheus {
    fn default() -> Self {
        Self::new()
    }
}
