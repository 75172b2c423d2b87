//! Prometheus text, as the tests and benchmarks read it: a scrape of the API server's
//! `/metrics` (or any exposition), and what two scrapes make: a histogram's buckets
//! between them, its quantiles, the share within a bound, and the mean.

use std::collections::BTreeMap;

use crate::Kubectl;

/// A Prometheus text exposition, as (series with labels → value).
pub fn scrape(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The API server's `/metrics`, as the admin reads it.
pub fn apiserver_metrics() -> BTreeMap<String, f64> {
    scrape(&Kubectl::admin().ok(&["get", "--raw", "/metrics"]).stdout)
}

/// A histogram's buckets (upper bound → cumulative count) for series matching all of
/// `labels`, as the difference between two scrapes.
pub fn histogram(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    name: &str,
    labels: &[&str],
) -> Vec<(f64, f64)> {
    let mut buckets: BTreeMap<String, f64> = BTreeMap::new();
    for (series, value) in after {
        if !series.starts_with(&format!("{name}_bucket{{"))
            || !labels.iter().all(|l| series.contains(l))
        {
            continue;
        }
        let le = series
            .split("le=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("+Inf")
            .to_string();
        *buckets.entry(le).or_default() += value - before.get(series).copied().unwrap_or(0.0);
    }
    let mut sorted: Vec<(f64, f64)> = buckets
        .into_iter()
        .map(|(le, count)| (le.parse().unwrap_or(f64::INFINITY), count))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    sorted
}

/// `histogram_quantile` as Prometheus computes it (linear within a bucket).
pub fn quantile(buckets: &[(f64, f64)], q: f64) -> f64 {
    let total = buckets.last().map_or(0.0, |b| b.1);
    if total == 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return lower.0;
            }
            let within = (rank - lower.1) / (count - lower.1).max(f64::EPSILON);
            return lower.0 + (le - lower.0) * within;
        }
        lower = (le, count);
    }
    lower.0
}

/// The share of a histogram's observations at or under `bound` (a bucket bound).
pub fn share_within(buckets: &[(f64, f64)], bound: f64) -> f64 {
    let total = buckets.last().map_or(0.0, |b| b.1);
    let within = buckets.iter().find(|b| b.0 >= bound).map_or(total, |b| b.1);
    if total == 0.0 {
        f64::NAN
    } else {
        within / total
    }
}

/// A histogram's mean between two scrapes (sum / count over series matching `labels`).
pub fn mean(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    name: &str,
    labels: &[&str],
) -> f64 {
    let sum_of = |m: &BTreeMap<String, f64>, suffix: &str| -> f64 {
        m.iter()
            .filter(|(s, _)| {
                s.starts_with(&format!("{name}_{suffix}{{")) && labels.iter().all(|l| s.contains(l))
            })
            .map(|(_, v)| v)
            .sum()
    };
    let count = sum_of(after, "count") - sum_of(before, "count");
    (sum_of(after, "sum") - sum_of(before, "sum")) / count.max(1.0)
}

/// The histogram of an admission webhook's calls in the API server's view.
pub const WEBHOOK_DURATION: &str = "apiserver_admission_webhook_admission_duration_seconds";

/// One admission webhook's calls between two scrapes of the API server's metrics.
#[derive(Debug, Clone, Copy)]
pub struct WebhookCalls {
    /// Mean call, seconds.
    pub mean: f64,
    /// Share of the calls within 5 ms.
    pub within_5ms: f64,
    /// How many calls.
    pub count: f64,
}

/// The calls of webhook `name` of `type_` (`admit` or `validating`), of every operation
/// or only `operation` (e.g. `CREATE`).
pub fn webhook_calls(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    name: &str,
    type_: &str,
    operation: Option<&str>,
) -> WebhookCalls {
    let mut labels = vec![format!("name=\"{name}\""), format!("type=\"{type_}\"")];
    labels.extend(operation.map(|o| format!("operation=\"{o}\"")));
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let buckets = histogram(before, after, WEBHOOK_DURATION, &labels);
    WebhookCalls {
        mean: mean(before, after, WEBHOOK_DURATION, &labels),
        within_5ms: share_within(&buckets, 0.005),
        count: buckets.last().map_or(0.0, |b| b.1),
    }
}
