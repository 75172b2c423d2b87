//! The operator's own metrics; the scraping and the histogram arithmetic are
//! [`accord_e2e::metrics`]'s.

use accord_e2e::{Operator, metrics::scrape};

fn operator_metric(operator: &Operator, series: &str) -> f64 {
    scrape(&operator.http_get("/metrics").unwrap_or_default())
        .iter()
        .filter(|(s, _)| s.starts_with(series))
        .map(|(_, v)| v)
        .sum()
}

/// The operator's ModelDeployment reconciles so far.
pub(super) fn modeldeployment_reconciles(operator: &Operator) -> f64 {
    operator_metric(
        operator,
        "accord_reconciles_total{controller=\"modeldeployment\"}",
    )
}
