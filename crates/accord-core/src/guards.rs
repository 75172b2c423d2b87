//! Monitoring guards (pure): which version they watch, which readings are due, what a
//! Prometheus answer means, and when a breach has lasted its `for`.
//!
//! Readings are taken by the operator (one instant query per guard per interval, with a
//! timeout); when each guard was last read is the operator's own memory, so a healthy
//! guard writes nothing. The status records a breach only when it starts, ends, or
//! opens an Incident: `breachingSince` is the operator's clock, written only by it.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::{
    api::{Guard, GuardStatus, HistoryEntry, ModelDeployment, Monitoring, MonitoringStatus},
    canary,
    timing::{self, elapsed},
};

/// How long an open Incident may go unacknowledged when `escalateAfter` is absent.
pub const DEFAULT_ESCALATE_AFTER: Duration = Duration::from_secs(30 * 60);

/// One guard's reading at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub guard: String,
    pub at: Time,
    pub value: Option<String>,
    /// `Some(true)`: out of bounds; `Some(false)`: within; `None`: no reading could be
    /// taken (`message` says why). An unreadable guard neither starts nor ends a breach.
    pub breached: Option<bool>,
    pub message: Option<String>,
}

/// A breach that lasted its guard's `for`, confirmed by a reading taken now.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub guard: Guard,
    pub since: Time,
    pub value: Option<String>,
    /// e.g. `error-rate 0.071 is above the maximum 0.02 for 5m`.
    pub summary: String,
}

/// The monitoring settings of `md`, if any.
pub fn config(md: &ModelDeployment) -> Option<&Monitoring> {
    md.spec.monitoring.as_ref()
}

/// The escalation delay of `md`'s Incidents.
pub fn escalate_after(md: &ModelDeployment) -> Duration {
    config(md)
        .and_then(|m| m.escalate_after.as_deref())
        .and_then(timing::parse_duration)
        .unwrap_or(DEFAULT_ESCALATE_AFTER)
}

/// The history entry the guards watch: the version in place, once it has been
/// available (a version still rolling out is judged by its deadline, not its guards).
pub fn watched(md: &ModelDeployment) -> Option<&HistoryEntry> {
    md.status
        .as_ref()?
        .history
        .last()
        .filter(|e| e.available_at.is_some())
}

/// The guard's query with `{{version}}` (the watched version), `{{namespace}}` and
/// `{{name}}` filled in.
pub fn render(query: &str, md: &ModelDeployment, version: &str) -> String {
    query
        .replace("{{version}}", version)
        .replace(
            "{{namespace}}",
            md.metadata.namespace.as_deref().unwrap_or_default(),
        )
        .replace("{{name}}", md.metadata.name.as_deref().unwrap_or_default())
}

fn interval(guard: &Guard) -> Duration {
    Duration::from_secs(guard.interval_seconds.max(1) as u64)
}

/// The guards to read now, with their rendered queries: those never read for the
/// watched version, or read at least an interval ago (`last_read`, the operator's
/// memory).
pub fn due(
    md: &ModelDeployment,
    last_read: &dyn Fn(&str) -> Option<Time>,
    now: &Time,
) -> Vec<(Guard, String)> {
    let (Some(monitoring), Some(entry)) = (config(md), watched(md)) else {
        return vec![];
    };
    monitoring
        .guards
        .iter()
        .filter(|g| last_read(&g.name).is_none_or(|at| elapsed(&at, now) >= interval(g)))
        .map(|g| (g.clone(), render(&g.query, md, &entry.version)))
        .collect()
}

/// When the next reading is due, from now; `None` when nothing is watched.
pub fn next_due(
    md: &ModelDeployment,
    last_read: &dyn Fn(&str) -> Option<Time>,
    now: &Time,
) -> Option<Duration> {
    watched(md)?;
    config(md)?
        .guards
        .iter()
        .map(|g| match last_read(&g.name) {
            Some(at) => interval(g).saturating_sub(elapsed(&at, now)),
            None => Duration::ZERO,
        })
        .min()
}

/// What Prometheus' answer (`canary::parse_answer`) means for `guard` at `at`.
pub fn judge(guard: &Guard, answer: Result<Option<String>, String>, at: Time) -> Reading {
    let reading = |value, breached, message| Reading {
        guard: guard.name.clone(),
        at: at.clone(),
        value,
        breached,
        message,
    };
    let text = match answer {
        Err(message) => return reading(None, None, Some(message)),
        Ok(None) => return reading(None, None, Some("the query returned no data".into())),
        Ok(Some(text)) => text,
    };
    let Some(number) = text.parse::<f64>().ok().filter(|n| !n.is_nan()) else {
        let message = format!("{text} is not a number to compare");
        return reading(Some(text), None, Some(message));
    };
    let verdict = match (guard.max_value, guard.min_value) {
        (Some(max), _) if number > max => Some(format!("{text} is above the maximum {max}")),
        (_, Some(min)) if number < min => Some(format!("{text} is below the minimum {min}")),
        _ => None,
    };
    match verdict {
        Some(message) => reading(Some(text), Some(true), Some(message)),
        None => reading(Some(text), Some(false), None),
    }
}

/// The guard records and breaches after `readings`, taken at `now` for the watched
/// version. A breach is confirmed when a reading taken now is out of bounds and the
/// breach began at least `for` ago; a guard that already opened an Incident for this
/// version confirms nothing more.
pub fn step(md: &ModelDeployment, readings: &[Reading], now: &Time) -> Stepped {
    let (Some(monitoring), Some(entry)) = (config(md), watched(md)) else {
        return Stepped::default();
    };
    let fingerprint = entry.fingerprint_in(&md.spec);
    let previous = md
        .status
        .as_ref()
        .and_then(|s| s.monitoring.clone())
        .filter(|m| m.fingerprint == fingerprint);
    let mut out = Stepped::default();
    let mut guards = Vec::new();
    for guard in &monitoring.guards {
        let before = previous
            .as_ref()
            .and_then(|p| p.guards.iter().find(|g| g.name == guard.name).cloned());
        let reading = readings.iter().find(|r| r.guard == guard.name);
        let record = next_record(guard, before, reading, now, &mut out);
        guards.extend(record);
    }
    out.status = Some(MonitoringStatus {
        fingerprint,
        version: entry.version.clone(),
        guards,
    });
    out
}

/// What [`step`] decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stepped {
    /// The next `status.monitoring`; `None` when nothing is watched.
    pub status: Option<MonitoringStatus>,
    pub breaches: Vec<Breach>,
    /// Guards whose readings could not be taken, from now (or for another reason than
    /// before): (guard, why).
    pub unreadable: Vec<(String, String)>,
}

fn next_record(
    guard: &Guard,
    before: Option<GuardStatus>,
    reading: Option<&Reading>,
    now: &Time,
    out: &mut Stepped,
) -> Option<GuardStatus> {
    let mut record = before.unwrap_or_else(|| GuardStatus {
        name: guard.name.clone(),
        ..Default::default()
    });
    match reading.map(|r| (r.breached, r)) {
        Some((Some(true), r)) => {
            if record.breaching_since.is_none() {
                record.breaching_since = Some(now.clone());
                record.value = r.value.clone();
                record.message = r.message.clone();
            }
            let since = record.breaching_since.clone().expect("set above");
            let lasted = timing::parse_duration(&guard.for_).unwrap_or_default();
            if record.incident.is_none() && elapsed(&since, now) >= lasted {
                out.breaches.push(Breach {
                    guard: guard.clone(),
                    since,
                    value: r.value.clone(),
                    summary: format!(
                        "{} {} for {}",
                        guard.name,
                        r.message.as_deref().unwrap_or("breached"),
                        guard.for_
                    ),
                });
            }
        }
        Some((Some(false), _)) => {
            record.breaching_since = None;
            record.value = None;
            record.message = None;
        }
        Some((None, r)) => {
            let why = r.message.clone().unwrap_or_default();
            let message = Some(format!("no reading: {why}"));
            if record.breaching_since.is_none() && record.message != message {
                // Said once, when it starts (or its reason changes), not every interval.
                record.message = message;
                out.unreadable.push((guard.name.clone(), why));
            }
        }
        None => {}
    }
    let keep =
        record.breaching_since.is_some() || record.incident.is_some() || record.message.is_some();
    keep.then_some(record)
}

/// The summary Prometheus' answer would need to be one number: see
/// [`canary::parse_answer`].
pub fn parse_answer(body: &str) -> Result<Option<String>, String> {
    canary::parse_answer(body)
}

#[cfg(test)]
mod tests;
