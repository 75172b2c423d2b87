//! Prometheus metrics. Each component registers its own family here; names carry no
//! `_total` suffix because the OpenMetrics encoder adds it to counters.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
};

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

/// Labels naming the model a rollback drill rehearses.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct DrillLabels {
    pub namespace: String,
    pub model: String,
}

/// Labels of a conformance violation count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct ViolationLabels {
    pub namespace: String,
    pub team: String,
    pub kind: String,
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
    /// Incidents not resolved, by their Responsible (owner) Team.
    pub incidents_open: Family<TeamLabels, Gauge>,
    /// Open Incidents nobody has acknowledged, by their Responsible (owner) Team.
    pub incidents_unacknowledged: Family<TeamLabels, Gauge>,
    /// Time from an Incident's opening to its mitigation (the restored version available).
    pub time_to_mitigate: Histogram,
    /// Time from an Incident's opening to its root cause's sign-off.
    pub time_to_resolve: Histogram,
    /// Guard readings taken (one Prometheus query each).
    pub guard_readings: Counter,
    /// Why serving versions would not be promoted today, by namespace, Team and kind
    /// (from `status.conformance`).
    pub conformance_violations: Family<ViolationLabels, Gauge>,
    /// PromotionRecords written, and those that could not be.
    pub records_written: Counter,
    pub record_failures: Counter,
    /// When a rollback drill of each model last passed (Unix seconds).
    pub drill_last_success: Family<DrillLabels, Gauge>,
    /// Time from a drill's Deployment's creation until its pods were all Ready.
    pub drill_time_to_ready: Histogram,
    conformance_reported: Arc<Mutex<BTreeSet<ViolationLabels>>>,
    /// The models the drill gauge reports, to drop those whose drills are gone.
    drills_reported: Arc<Mutex<BTreeSet<DrillLabels>>>,
    /// The Teams each incident gauge family reports, to zero those that drop out.
    open_teams: Arc<Mutex<BTreeSet<String>>>,
    unacknowledged_teams: Arc<Mutex<BTreeSet<String>>>,
}

/// Buckets of a drill's time to Ready: a second to the fifteen minutes past the
/// default `deadline` (10m) a slow image pull may take.
const DRILL_READY_BUCKETS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0,
];

/// Buckets of the incident durations: a minute to two weeks. Mitigation is machine
/// time (minutes) when a guard rolls back; a root-cause sign-off takes people days.
const INCIDENT_BUCKETS: [f64; 12] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 259200.0, 604800.0,
    1209600.0,
];

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
            incidents_open: Family::default(),
            incidents_unacknowledged: Family::default(),
            time_to_mitigate: Histogram::new(INCIDENT_BUCKETS),
            time_to_resolve: Histogram::new(INCIDENT_BUCKETS),
            guard_readings: Counter::default(),
            conformance_violations: Family::default(),
            records_written: Counter::default(),
            record_failures: Counter::default(),
            drill_last_success: Family::default(),
            drill_time_to_ready: Histogram::new(DRILL_READY_BUCKETS),
            conformance_reported: Arc::default(),
            drills_reported: Arc::default(),
            open_teams: Arc::default(),
            unacknowledged_teams: Arc::default(),
        };
        metrics.register_reconciles(registry);
        metrics.register_incidents(registry);
        metrics.register_audit(registry);
        metrics.register_drills(registry);
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

    /// Keeps the per-Team gauges (pending items, incidents) to `teams` (the Teams that
    /// exist): a deleted Team's series goes instead of reporting its last count for ever.
    pub fn retain_teams<'a>(
        &self,
        known: &mut BTreeSet<String>,
        teams: impl IntoIterator<Item = &'a str>,
    ) {
        let now: BTreeSet<String> = teams.into_iter().map(String::from).collect();
        for gone in known.difference(&now) {
            let labels = TeamLabels { team: gone.clone() };
            self.pending_items.remove(&labels);
            self.incidents_open.remove(&labels);
            self.incidents_unacknowledged.remove(&labels);
            lock(&self.open_teams).remove(gone);
            lock(&self.unacknowledged_teams).remove(gone);
        }
        *known = now;
    }

    /// Sets `accord_incidents_open` to `counts` (Team → Incidents not resolved whose
    /// Responsible Team it is); a Team no longer counted is set to 0.
    pub fn set_incidents_open(&self, counts: &BTreeMap<String, i64>) {
        set_team_counts(&self.incidents_open, &self.open_teams, counts);
    }

    /// Sets `accord_incidents_unacknowledged` to `counts` (Team → open Incidents
    /// nobody acknowledged whose Responsible Team it is); a Team no longer counted is
    /// set to 0.
    pub fn set_incidents_unacknowledged(&self, counts: &BTreeMap<String, i64>) {
        set_team_counts(
            &self.incidents_unacknowledged,
            &self.unacknowledged_teams,
            counts,
        );
    }

    /// Sets `accord_conformance_violations` to `counts`; a series no longer counted
    /// goes (a fixed violation vanishes rather than reading 0 for ever).
    pub fn set_conformance(&self, counts: &BTreeMap<ViolationLabels, i64>) {
        let mut reported = self
            .conformance_reported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for gone in reported.iter().filter(|l| !counts.contains_key(*l)) {
            self.conformance_violations.remove(gone);
        }
        for (labels, count) in counts {
            self.conformance_violations
                .get_or_create(labels)
                .set(*count);
        }
        *reported = counts.keys().cloned().collect();
    }

    /// The audit families: conformance violations and records written.
    fn register_audit(&self, registry: &mut Registry) {
        registry.register(
            "accord_conformance_violations",
            "Reasons serving versions would not be promoted today, by namespace, team and kind (reporting only)",
            self.conformance_violations.clone(),
        );
        registry.register(
            "accord_records_written",
            "PromotionRecords written",
            self.records_written.clone(),
        );
        registry.register(
            "accord_record_write_failures",
            "PromotionRecords that could not be written after retries",
            self.record_failures.clone(),
        );
    }

    /// The rollback drill families: last success by model, time to Ready.
    fn register_drills(&self, registry: &mut Registry) {
        registry.register(
            "accord_rollback_drill_last_success_timestamp_seconds",
            "When a rollback drill of the model last passed, in Unix seconds",
            self.drill_last_success.clone(),
        );
        registry.register(
            "accord_rollback_drill_time_to_ready_seconds",
            "Time from a rollback drill's Deployment's creation until every pod was Ready",
            self.drill_time_to_ready.clone(),
        );
    }

    /// Sets `accord_rollback_drill_last_success_timestamp_seconds` to exactly
    /// `successes` (per model, the Unix time of its newest passed drill run): a model
    /// whose drills are all gone loses its series, so the overdue alert does not fire
    /// for what no longer exists.
    pub fn set_drill_last_successes(&self, successes: &BTreeMap<DrillLabels, i64>) {
        let mut reported = self
            .drills_reported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for gone in reported.iter().filter(|l| !successes.contains_key(*l)) {
            self.drill_last_success.remove(gone);
        }
        for (labels, seconds) in successes {
            self.drill_last_success.get_or_create(labels).set(*seconds);
        }
        *reported = successes.keys().cloned().collect();
    }

    /// Records one drill's time to Ready.
    pub fn observe_drill_time_to_ready(&self, seconds: f64) {
        self.drill_time_to_ready.observe(seconds);
    }

    /// Forgets every per-object series; a replica that stops leading stops reporting
    /// counts the leader now keeps.
    pub fn forget_objects(&self) {
        self.pending_items.clear();
        self.drill_last_success.clear();
        self.drills_reported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.conformance_violations.clear();
        self.conformance_reported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.incidents_open.clear();
        self.incidents_unacknowledged.clear();
        lock(&self.open_teams).clear();
        lock(&self.unacknowledged_teams).clear();
    }
}

fn lock(teams: &Mutex<BTreeSet<String>>) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
    teams
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sets each Team's gauge in `family` to its count, and zeroes the Teams it reported
/// before (`reported`) that `counts` no longer names: a Team whose last Incident was
/// resolved reads 0, not its last count.
fn set_team_counts(
    family: &Family<TeamLabels, Gauge>,
    reported: &Mutex<BTreeSet<String>>,
    counts: &BTreeMap<String, i64>,
) {
    let mut reported = lock(reported);
    for team in reported.iter().filter(|t| !counts.contains_key(*t)) {
        family
            .get_or_create(&TeamLabels { team: team.clone() })
            .set(0);
    }
    for (team, count) in counts {
        family
            .get_or_create(&TeamLabels { team: team.clone() })
            .set(*count);
        reported.insert(team.clone());
    }
}

impl ControllerMetrics {
    /// The Incident families: open and unacknowledged by Team, time to mitigate and
    /// to resolve; and the guard readings that open Incidents.
    fn register_incidents(&self, registry: &mut Registry) {
        registry.register(
            "accord_incidents_open",
            "Incidents not resolved, by their Responsible (owner) Team",
            self.incidents_open.clone(),
        );
        registry.register(
            "accord_incidents_unacknowledged",
            "Open Incidents nobody acknowledged, by their Responsible (owner) Team",
            self.incidents_unacknowledged.clone(),
        );
        registry.register(
            "accord_incident_time_to_mitigate_seconds",
            "Time from an Incident's opening to its mitigation (the restored version available)",
            self.time_to_mitigate.clone(),
        );
        registry.register(
            "accord_incident_time_to_resolve_seconds",
            "Time from an Incident's opening to the sign-off of its root cause",
            self.time_to_resolve.clone(),
        );
        registry.register(
            "accord_guard_readings",
            "Guard readings taken (one Prometheus query each)",
            self.guard_readings.clone(),
        );
    }

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
        let mut known = BTreeSet::new();
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

    #[test]
    fn incident_gauges_follow_the_counts_and_zero_teams_that_drop_out() {
        let metrics = Metrics::default();
        let c = &metrics.controller;
        let counts = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
            pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
        };
        c.set_incidents_open(&counts(&[("ml-platform", 2), ("payments-app", 1)]));
        c.set_incidents_unacknowledged(&counts(&[("ml-platform", 1)]));
        let text = metrics.encode();
        for line in [
            r#"accord_incidents_open{team="ml-platform"} 2"#,
            r#"accord_incidents_open{team="payments-app"} 1"#,
            r#"accord_incidents_unacknowledged{team="ml-platform"} 1"#,
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
        c.set_incidents_open(&counts(&[("ml-platform", 1)]));
        c.set_incidents_unacknowledged(&counts(&[]));
        let text = metrics.encode();
        for line in [
            r#"accord_incidents_open{team="ml-platform"} 1"#,
            r#"accord_incidents_open{team="payments-app"} 0"#,
            r#"accord_incidents_unacknowledged{team="ml-platform"} 0"#,
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
        // A deleted Team's series goes, and is not brought back at 0.
        let mut known = BTreeSet::from(["ml-platform".to_string(), "payments-app".to_string()]);
        c.retain_teams(&mut known, ["ml-platform"]);
        c.set_incidents_open(&counts(&[]));
        let text = metrics.encode();
        assert!(!text.contains(r#"team="payments-app""#), "{text}");
        assert!(text.contains(r#"accord_incidents_open{team="ml-platform"} 0"#));
        c.forget_objects();
        assert!(!metrics.encode().contains("accord_incidents_open{"));
    }

    #[test]
    fn drill_families_are_exposed_and_a_forgotten_model_goes() {
        let metrics = Metrics::default();
        let c = &metrics.controller;
        let text = to_prometheus_text(&metrics.encode());
        assert!(
            text.contains("# TYPE accord_rollback_drill_time_to_ready_seconds histogram"),
            "{text}"
        );
        let labels = |namespace: &str, model: &str| DrillLabels {
            namespace: namespace.into(),
            model: model.into(),
        };
        c.set_drill_last_successes(&BTreeMap::from([
            (labels("payments", "fraud-scorer"), 1_800_000_000),
            (labels("retail", "churn"), 1_700_000_000),
        ]));
        c.observe_drill_time_to_ready(41.0);
        let text = to_prometheus_text(&metrics.encode());
        for line in [
            "# TYPE accord_rollback_drill_last_success_timestamp_seconds gauge",
            r#"accord_rollback_drill_last_success_timestamp_seconds{namespace="payments",model="fraud-scorer"} 1800000000"#,
            r#"accord_rollback_drill_last_success_timestamp_seconds{namespace="retail",model="churn"} 1700000000"#,
            r#"accord_rollback_drill_time_to_ready_seconds_bucket{le="30.0"} 0"#,
            r#"accord_rollback_drill_time_to_ready_seconds_bucket{le="60.0"} 1"#,
            r#"accord_rollback_drill_time_to_ready_seconds_bucket{le="900.0"} 1"#,
            "accord_rollback_drill_time_to_ready_seconds_sum 41.0",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
        // churn's drills are gone: its series goes with them.
        c.set_drill_last_successes(&BTreeMap::from([(
            labels("payments", "fraud-scorer"),
            1_800_000_100,
        )]));
        let text = metrics.encode();
        assert!(
            text.contains(r#"model="fraud-scorer"} 1800000100"#),
            "{text}"
        );
        assert!(!text.contains(r#"model="churn""#), "{text}");
        assert!(text.contains(r#"model="fraud-scorer""#), "{text}");
        c.forget_objects();
        assert!(
            !metrics
                .encode()
                .contains("accord_rollback_drill_last_success_timestamp_seconds{")
        );
    }

    #[test]
    fn incident_durations_are_histograms_from_minutes_to_weeks() {
        let metrics = Metrics::default();
        metrics.controller.time_to_mitigate.observe(240.0);
        metrics.controller.time_to_resolve.observe(2.0 * 86400.0);
        metrics.controller.guard_readings.inc();
        let text = to_prometheus_text(&metrics.encode());
        for line in [
            "# TYPE accord_incident_time_to_mitigate_seconds histogram",
            r#"accord_incident_time_to_mitigate_seconds_bucket{le="300.0"} 1"#,
            r#"accord_incident_time_to_mitigate_seconds_bucket{le="60.0"} 0"#,
            r#"accord_incident_time_to_resolve_seconds_bucket{le="259200.0"} 1"#,
            r#"accord_incident_time_to_resolve_seconds_bucket{le="1209600.0"} 1"#,
            "accord_guard_readings_total 1",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
    }
}
