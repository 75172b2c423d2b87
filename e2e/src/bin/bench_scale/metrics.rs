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

/// The operator's ModelDeployment reconciles that no change asked for (requeues).
pub(super) fn modeldeployment_requeues(operator: &Operator) -> f64 {
    operator_metric(
        operator,
        "accord_reconciles_requeued_total{controller=\"modeldeployment\"}",
    )
}

/// The guard readings the operator has taken so far (`GUARDS=1`): one Prometheus
/// instant query each.
pub(super) fn guard_readings(operator: &Operator) -> f64 {
    operator_metric(operator, "accord_guard_readings_total")
}

/// Waits (up to 5 minutes) until the reconciles a change asked for have not moved for
/// 5 s: the tail of the last phase (Deployments finishing their rollouts) is over.
/// Requeues go on regardless (every model is looked at every 5 minutes). An operator
/// without the requeue counter never looks quiet at 10,000: it goes on after 5 minutes.
pub(super) fn wait_quiet(operator: &Operator) {
    let asked = || modeldeployment_reconciles(operator) - modeldeployment_requeues(operator);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let mut last = asked();
    while std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_secs(5));
        let now = asked();
        if now == last {
            return;
        }
        last = now;
    }
    crate::say("the reconciles did not settle within 5 minutes; going on");
}

/// The peak of the operator's ModelDeployment reconcile queue, sampled once a second
/// from a thread of its own until [`QueueWatch::peak`].
pub(super) struct QueueWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<f64>,
}

impl QueueWatch {
    pub(super) fn start(metrics_port: u16) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let sampler = std::thread::spawn(move || {
            let url = format!("http://127.0.0.1:{metrics_port}/metrics");
            let mut peak: f64 = 0.0;
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                let out = std::process::Command::new("curl")
                    .args(["-sf", "--max-time", "2", &url])
                    .output();
                if let Ok(out) = out {
                    let depth = scrape(&String::from_utf8_lossy(&out.stdout))
                        .get("accord_reconcile_queue_depth{controller=\"modeldeployment\"}")
                        .copied()
                        .unwrap_or(0.0);
                    peak = peak.max(depth);
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            peak
        });
        Self { stop, sampler }
    }

    pub(super) fn peak(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.sampler.join().unwrap_or(f64::NAN)
    }
}
