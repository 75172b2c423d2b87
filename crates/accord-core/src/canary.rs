//! Canaries (pure): whether a candidate runs as a canary first, when its analysis is
//! due, the query it runs, and how a Prometheus answer becomes a measurement.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::Value;

use crate::api::{Analysis, Canary, CanaryStatus, Measurement, ModelDeployment};

/// How many measurements the status keeps.
pub const MAX_MEASUREMENTS: usize = 20;

/// The canary settings of `md`, if it has any.
pub fn config(md: &ModelDeployment) -> Option<&Canary> {
    md.spec.rollout.as_ref()?.canary.as_ref()
}

/// Whether a signed-off candidate of `md` runs as a canary first: a canary is set and
/// a version already runs to compare it with (the first version is promoted directly).
pub fn applies(md: &ModelDeployment) -> bool {
    config(md).is_some()
        && md
            .status
            .as_ref()
            .is_some_and(|s| s.history.iter().any(|e| e.available_at.is_some()))
}

/// The analysis query with `{{version}}`, `{{namespace}}` and `{{name}}` filled in.
pub fn render(query: &str, md: &ModelDeployment) -> String {
    query
        .replace("{{version}}", &md.spec.model.version)
        .replace(
            "{{namespace}}",
            md.metadata.namespace.as_deref().unwrap_or_default(),
        )
        .replace("{{name}}", md.metadata.name.as_deref().unwrap_or_default())
}

/// The analysis to run now for the canary of `fingerprint`, with its query rendered:
/// the canary is available and the last measurement is at least an interval old.
pub fn analysis_due(
    md: &ModelDeployment,
    fingerprint: &str,
    now: &Time,
) -> Option<(Analysis, String)> {
    let analysis = config(md)?.analysis.clone()?;
    let canary = md.status.as_ref()?.canary.as_ref()?;
    if canary.fingerprint != fingerprint || canary.available_at.is_none() {
        return None;
    }
    let interval = Duration::from_secs(analysis.interval_seconds.max(1) as u64);
    let due = canary
        .measurements
        .last()
        .is_none_or(|m| now.0.duration_since(m.at.0).unsigned_abs() >= interval);
    let query = render(&analysis.query, md);
    due.then_some((analysis, query))
}

/// When the next measurement is due, from now.
pub fn next_measurement_in(canary: &CanaryStatus, analysis: &Analysis, now: &Time) -> Duration {
    let interval = Duration::from_secs(analysis.interval_seconds.max(1) as u64);
    match canary.measurements.last() {
        Some(m) => interval.saturating_sub(now.0.duration_since(m.at.0).unsigned_abs()),
        None => Duration::ZERO,
    }
}

/// The one number a Prometheus instant query returned, or why there is none: `Ok(None)`
/// for no data, an error for anything else than one number.
pub fn parse_answer(body: &str) -> Result<Option<String>, String> {
    let answer: Value =
        serde_json::from_str(body).map_err(|e| format!("Prometheus answered no JSON: {e}"))?;
    if answer["status"] != "success" {
        return Err(format!(
            "Prometheus refused the query: {}",
            answer["error"].as_str().unwrap_or("no reason given")
        ));
    }
    let data = &answer["data"];
    let sample = match data["resultType"].as_str() {
        Some("scalar") => &data["result"],
        Some("vector") => {
            let series = data["result"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            match series {
                [] => return Ok(None),
                [one] => &one["value"],
                many => {
                    return Err(format!(
                        "the query returned {} series; it must return one number (aggregate it, e.g. with sum or max)",
                        many.len()
                    ));
                }
            }
        }
        other => {
            return Err(format!(
                "the query returned a {}, not one number",
                other.unwrap_or("nothing")
            ));
        }
    };
    sample[1]
        .as_str()
        .map(|v| Some(v.to_string()))
        .ok_or_else(|| "Prometheus returned a sample without a value".to_string())
}

/// A measurement taken at `at` from Prometheus' answer (`Err`: it could not be taken).
pub fn measurement(
    answer: Result<Option<String>, String>,
    analysis: &Analysis,
    at: Time,
) -> Measurement {
    let failed = |value: Option<String>, message: String| Measurement {
        at: at.clone(),
        value,
        passed: false,
        message: Some(message),
    };
    let text = match answer {
        Err(message) => return failed(None, message),
        Ok(None) => return failed(None, "the query returned no data".into()),
        Ok(Some(text)) => text,
    };
    let Some(number) = text.parse::<f64>().ok().filter(|n| !n.is_nan()) else {
        return failed(
            Some(text.clone()),
            format!("{text} is not a number to compare"),
        );
    };
    let verdict = match (analysis.max_value, analysis.min_value) {
        (Some(max), _) if number > max => Some(format!("{text} is above the maximum {max}")),
        (_, Some(min)) if number < min => Some(format!("{text} is below the minimum {min}")),
        _ => None,
    };
    match verdict {
        Some(message) => failed(Some(text), message),
        None => Measurement {
            at,
            value: Some(text),
            passed: true,
            message: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::{HistoryEntry, HistoryOutcome, ModelDeploymentStatus, RolloutStrategy},
        testing::{md, time},
    };

    fn analysis(max: Option<f64>, min: Option<f64>) -> Analysis {
        Analysis {
            address: "http://127.0.0.1:9090".into(),
            query: r#"max(errors{version="{{version}}",namespace="{{namespace}}",md="{{name}}"})"#
                .into(),
            max_value: max,
            min_value: min,
            interval_seconds: 10,
            failure_limit: 1,
        }
    }

    fn with_canary(mut m: ModelDeployment) -> ModelDeployment {
        m.spec.rollout = Some(RolloutStrategy {
            canary: Some(Canary {
                replicas: 1,
                bake_seconds: 60,
                analysis: Some(analysis(Some(0.05), None)),
            }),
        });
        m
    }

    #[test]
    fn a_canary_needs_a_version_that_already_ran() {
        let mut m = with_canary(md("2.0.0"));
        assert!(!applies(&m), "the first version is promoted directly");
        let entry: HistoryEntry = serde_json::from_value(serde_json::json!({
            "version": "1.0.0", "image": "i:1", "outcome": "Promoted",
            "at": "2026-01-01T00:00:00Z", "reason": "AllItemsAttested",
            "availableAt": "2026-01-01T00:01:00Z"}))
        .unwrap();
        assert_eq!(entry.outcome, HistoryOutcome::Promoted);
        m.status = Some(ModelDeploymentStatus {
            history: vec![entry],
            ..Default::default()
        });
        assert!(applies(&m));
        assert!(!applies(&md("2.0.0")));
    }

    #[test]
    fn the_query_names_the_candidate() {
        let m = md("2.4.1");
        assert_eq!(
            render(&analysis(None, Some(1.0)).query, &m),
            r#"max(errors{version="2.4.1",namespace="payments",md="fraud-scorer"})"#
        );
    }

    #[test]
    fn analysis_is_due_once_available_and_then_every_interval() {
        let mut m = with_canary(md("2.0.0"));
        let fingerprint = m.spec.fingerprint();
        let mut canary = CanaryStatus {
            fingerprint: fingerprint.clone(),
            version: "2.0.0".into(),
            started_at: time(0),
            available_at: None,
            measurements: vec![],
            failed_measurements: 0,
        };
        let set = |m: &mut ModelDeployment, c: &CanaryStatus| {
            m.status = Some(ModelDeploymentStatus {
                canary: Some(c.clone()),
                ..Default::default()
            })
        };
        set(&mut m, &canary);
        assert!(
            analysis_due(&m, &fingerprint, &time(5)).is_none(),
            "not available yet"
        );
        canary.available_at = Some(time(5));
        set(&mut m, &canary);
        let (_, query) = analysis_due(&m, &fingerprint, &time(6)).unwrap();
        assert!(query.contains("2.0.0"));
        assert!(analysis_due(&m, "sha256:other", &time(6)).is_none());
        canary.measurements.push(measurement(
            Ok(Some("0.01".into())),
            &analysis(Some(0.05), None),
            time(6),
        ));
        set(&mut m, &canary);
        assert!(analysis_due(&m, &fingerprint, &time(10)).is_none());
        assert!(analysis_due(&m, &fingerprint, &time(16)).is_some());
        let a = analysis(Some(0.05), None);
        assert_eq!(
            next_measurement_in(&canary, &a, &time(10)),
            Duration::from_secs(6)
        );
    }

    #[test]
    fn prometheus_answers_become_measurements() {
        let vector = |v: &str| {
            format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1700000000.1,"{v}"]}}]}}}}"#
            )
        };
        let max = analysis(Some(0.05), None);
        let ok = measurement(parse_answer(&vector("0.01")), &max, time(1));
        assert!(ok.passed && ok.value.as_deref() == Some("0.01") && ok.message.is_none());
        let high = measurement(parse_answer(&vector("0.5")), &max, time(1));
        assert!(!high.passed);
        assert_eq!(
            high.message.as_deref(),
            Some("0.5 is above the maximum 0.05")
        );
        let min = analysis(None, Some(100.0));
        let low = measurement(parse_answer(&vector("42")), &min, time(1));
        assert_eq!(low.message.as_deref(), Some("42 is below the minimum 100"));
        let nan = measurement(parse_answer(&vector("NaN")), &max, time(1));
        assert_eq!(
            nan.message.as_deref(),
            Some("NaN is not a number to compare")
        );
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        let none = measurement(parse_answer(empty), &max, time(1));
        assert_eq!(
            (none.passed, none.message.as_deref()),
            (false, Some("the query returned no data"))
        );
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"0.02"]}}"#;
        assert_eq!(parse_answer(scalar), Ok(Some("0.02".into())));
        let two = r#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}"#;
        assert!(parse_answer(two).unwrap_err().contains("returned 2 series"));
        let bad = r#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#;
        assert_eq!(
            parse_answer(bad),
            Err("Prometheus refused the query: parse error at char 4".into())
        );
        assert!(
            parse_answer("<html>")
                .unwrap_err()
                .starts_with("Prometheus answered no JSON")
        );
    }
}
