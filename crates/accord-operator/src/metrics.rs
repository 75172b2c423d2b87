//! Prometheus metrics. Each component registers its own family here; names carry no
//! `_total` suffix because the OpenMetrics encoder adds it to counters.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Labels identifying a controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: String,
}

/// Labels of a reconcile error: the controller and a stable, low-cardinality reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub controller: String,
    pub reason: String,
}

/// Labels naming one ModelDeployment.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub namespace: String,
    pub model_deployment: String,
}

/// Labels naming one Team.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TeamLabels {
    pub team: String,
}

/// Labels of a notification's outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotifyLabels {
    pub team: String,
    pub event: String,
    /// `delivered`, `retried` (an attempt failed, another follows), `failed`, `dropped`.
    pub outcome: String,
}

/// Labels of `accord_build_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: String,
    pub commit: String,
}

/// The operator's version, and the Git commit when the build recorded one
/// (`ACCORD_GIT_COMMIT` at build time).
pub fn build_labels() -> BuildLabels {
    BuildLabels {
        version: env!("CARGO_PKG_VERSION").into(),
        commit: option_env!("ACCORD_GIT_COMMIT").unwrap_or("unknown").into(),
    }
}

/// The reconcilers' metrics.
#[derive(Clone)]
pub struct ControllerMetrics {
    pub reconciles: Family<ControllerLabels, Counter>,
    /// Reconciles no change asked for: a requeue (the idle look, a deadline, a retry).
    pub requeued: Family<ControllerLabels, Counter>,
    /// Objects a change asked to reconcile that have not been reconciled yet.
    pub queue_depth: Family<ControllerLabels, Gauge>,
    pub errors: Family<ErrorLabels, Counter>,
    pub reconcile_duration: Family<ControllerLabels, Histogram>,
    pub promotions: Family<ModelLabels, Counter>,
    pub rollbacks: Family<ModelLabels, Counter>,
    pub escalations: Family<ModelLabels, Counter>,
    pub sign_off_wait: Histogram,
    pub pending_items: Family<TeamLabels, Gauge>,
    pub leader: Gauge,
    pub notifications: Family<NotifyLabels, Counter>,
}

impl ControllerMetrics {
    /// Creates the families and registers them under `accord_`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            reconciles: Family::default(),
            requeued: Family::default(),
            queue_depth: Family::default(),
            errors: Family::default(),
            reconcile_duration: Family::new_with_constructor(|| {
                Histogram::new([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0])
            }),
            promotions: Family::default(),
            rollbacks: Family::default(),
            escalations: Family::default(),
            // From a minute to a week: sign-off is human time.
            sign_off_wait: Histogram::new([
                1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0, 259200.0, 604800.0,
            ]),
            pending_items: Family::default(),
            leader: Gauge::default(),
            notifications: Family::default(),
        };
        metrics.register_reconciles(registry);
        registry.register(
            "accord_promotions",
            "Candidates promoted after full sign-off",
            metrics.promotions.clone(),
        );
        registry.register(
            "accord_rollbacks",
            "Rollbacks to an earlier version",
            metrics.rollbacks.clone(),
        );
        registry.register(
            "accord_escalations",
            "Candidates whose sign-off became overdue",
            metrics.escalations.clone(),
        );
        registry.register(
            "accord_sign_off_wait_seconds",
            "Time from first seeing a candidate to its promotion",
            metrics.sign_off_wait.clone(),
        );
        registry.register(
            "accord_pending_items",
            "Required checklist items waiting for a team's attestation",
            metrics.pending_items.clone(),
        );
        registry.register(
            "accord_leader",
            "1 when this replica holds the leader lease",
            metrics.leader.clone(),
        );
        registry.register(
            "accord_notifications",
            "Team notifications, by team, event and outcome",
            metrics.notifications.clone(),
        );
        let build_info: Family<BuildLabels, Gauge> = Family::default();
        build_info.get_or_create(&build_labels()).set(1);
        registry.register(
            "accord_build_info",
            "Always 1; its labels name the operator's version and commit",
            build_info,
        );
        metrics
    }

    /// Keeps the per-Team gauges to `teams` (the Teams that exist): a deleted Team's
    /// series goes instead of reporting its last count for ever.
    pub fn retain_teams<'a>(
        &self,
        known: &mut std::collections::BTreeSet<String>,
        teams: impl IntoIterator<Item = &'a str>,
    ) {
        let now: std::collections::BTreeSet<String> = teams.into_iter().map(String::from).collect();
        for gone in known.difference(&now) {
            self.pending_items
                .remove(&TeamLabels { team: gone.clone() });
        }
        *known = now;
    }

    /// Forgets every per-object series; a replica that stops leading stops reporting
    /// counts the leader now keeps.
    pub fn forget_objects(&self) {
        self.pending_items.clear();
    }
}

impl ControllerMetrics {
    /// The reconcile runner's families: runs, requeues, queue depth, errors, duration.
    fn register_reconciles(&self, registry: &mut Registry) {
        let metrics = self;
        registry.register(
            "accord_reconciles",
            "Reconciles run, by controller",
            metrics.reconciles.clone(),
        );
        registry.register(
            "accord_reconciles_requeued",
            "Reconciles no change asked for (a requeue: the idle look, a deadline, a retry), by controller",
            metrics.requeued.clone(),
        );
        registry.register(
            "accord_reconcile_queue_depth",
            "Objects a change asked to reconcile that have not been reconciled yet, by controller",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "accord_reconcile_errors",
            "Failed reconciles, by controller and reason",
            metrics.errors.clone(),
        );
        registry.register(
            "accord_reconcile_duration_seconds",
            "Time spent in one reconcile",
            metrics.reconcile_duration.clone(),
        );
    }
}

/// Every metric the operator exposes.
pub struct Metrics {
    pub registry: Registry,
    pub controller: ControllerMetrics,
    pub webhook: WebhookMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let controller = ControllerMetrics::register(&mut registry);
        let webhook = WebhookMetrics::register(&mut registry);
        Self {
            registry,
            controller,
            webhook,
        }
    }
}

impl Metrics {
    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Converts the OpenMetrics exposition to the Prometheus text format 0.0.4, for scrapers
/// (and `promtool check metrics`) that do not ask for OpenMetrics: counter families are
/// named with their `_total` suffix there, and `# UNIT`/`# EOF` do not exist.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Labels of one admission request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AdmissionLabels {
    pub kind: String,
    pub operation: String,
    pub verdict: String,
}

/// Labels naming a kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

/// The admission webhook's metrics.
#[derive(Clone)]
pub struct WebhookMetrics {
    pub requests: Family<AdmissionLabels, Counter>,
    pub duration: Family<KindLabels, Histogram>,
}

impl WebhookMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new([
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
                ])
            }),
        };
        registry.register(
            "accord_admission_requests",
            "Admission requests by kind, operation and verdict",
            metrics.requests.clone(),
        );
        registry.register(
            "accord_admission_duration_seconds",
            "Time to answer an admission request",
            metrics.duration.clone(),
        );
        metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_names_counters_with_their_suffix() {
        let metrics = Metrics::default();
        let labels = ModelLabels {
            namespace: "ns".into(),
            model_deployment: "md".into(),
        };
        metrics.controller.rollbacks.get_or_create(&labels).inc();
        let text = to_prometheus_text(&metrics.encode());
        assert!(
            text.contains("# HELP accord_rollbacks_total Rollbacks"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE accord_rollbacks_total counter"),
            "{text}"
        );
        assert!(text.contains("# TYPE accord_leader gauge"));
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn build_info_names_the_version_and_stale_team_series_go() {
        let metrics = Metrics::default();
        let text = metrics.encode();
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            text.contains(&format!(
                r#"accord_build_info{{version="{version}",commit="#
            )),
            "{text}"
        );
        let c = &metrics.controller;
        for team in ["data-platform", "ml-platform"] {
            c.pending_items
                .get_or_create(&TeamLabels { team: team.into() })
                .set(2);
        }
        let mut known = std::collections::BTreeSet::new();
        c.retain_teams(&mut known, ["data-platform", "ml-platform"]);
        c.retain_teams(&mut known, ["ml-platform"]);
        let text = metrics.encode();
        assert!(
            !text.contains(r#"team="data-platform""#),
            "a deleted Team's series goes: {text}"
        );
        assert!(
            text.contains(r#"accord_pending_items{team="ml-platform"} 2"#),
            "{text}"
        );
        c.forget_objects();
        assert!(!metrics.encode().contains("accord_pending_items{"));
    }

    #[test]
    fn counters_are_exposed_with_a_single_total_suffix() {
        let metrics = Metrics::default();
        let labels = ModelLabels {
            namespace: "payments".into(),
            model_deployment: "fraud-scorer".into(),
        };
        metrics.controller.promotions.get_or_create(&labels).inc();
        metrics
            .controller
            .pending_items
            .get_or_create(&TeamLabels {
                team: "ml-platform".into(),
            })
            .set(2);
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"accord_promotions_total{namespace="payments",model_deployment="fraud-scorer"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"accord_pending_items{team="ml-platform"} 2"#),
            "{text}"
        );
        assert!(!text.contains("_total_total"));
    }
}
