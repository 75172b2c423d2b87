use super::*;
use crate::{
    api::{GuardAction, Role},
    testing::{World, time},
};

fn guard(max: Option<f64>, min: Option<f64>, interval: i32) -> Guard {
    Guard {
        name: "error-rate".into(),
        query: "max(errors{ns=\"{{namespace}}\",name=\"{{name}}\",version=\"{{version}}\"})".into(),
        max_value: max,
        min_value: min,
        for_: "5m".into(),
        interval_seconds: interval,
        owner: Role::Platform,
        action: GuardAction::Alert,
    }
}

fn watched_world(guards: Vec<Guard>) -> ModelDeployment {
    let mut world = World::converged();
    let md = world.model_deployment.as_mut().unwrap();
    md.spec.monitoring = Some(Monitoring {
        address: "http://prometheus:9090".into(),
        escalate_after: None,
        guards,
    });
    // A new candidate in the spec: the guards still watch the version that serves.
    md.spec.model.version = "9.9.9".into();
    md.clone()
}

#[test]
fn readings_are_judged_against_the_bound_and_no_answer_is_no_reading() {
    let g = guard(Some(0.02), None, 30);
    let r = judge(&g, Ok(Some("0.071".into())), time(1));
    assert_eq!(r.breached, Some(true));
    assert_eq!(
        r.message.as_deref(),
        Some("0.071 is above the maximum 0.02")
    );
    assert_eq!(
        judge(&g, Ok(Some("0.02".into())), time(1)).breached,
        Some(false)
    );
    let low = guard(None, Some(0.9), 30);
    assert_eq!(
        judge(&low, Ok(Some("0.5".into())), time(1)).breached,
        Some(true)
    );
    for answer in [Ok(None), Err("refused".to_string()), Ok(Some("NaN".into()))] {
        let r = judge(&g, answer, time(1));
        assert_eq!(r.breached, None, "{r:?}");
        assert!(r.message.is_some());
    }
}

#[test]
fn guards_watch_the_serving_version_and_are_due_each_interval() {
    let md = watched_world(vec![guard(Some(0.02), None, 30)]);
    let never = |_: &str| None;
    let due = due(&md, &never, &time(100));
    assert_eq!(due.len(), 1);
    assert_eq!(
        due[0].1, "max(errors{ns=\"payments\",name=\"fraud-scorer\",version=\"2.4.0\"})",
        "the serving version, not the candidate"
    );
    let read_at_90 = |_: &str| Some(time(90));
    assert!(super::due(&md, &read_at_90, &time(100)).is_empty());
    assert_eq!(
        next_due(&md, &read_at_90, &time(100)),
        Some(Duration::from_secs(20))
    );
    assert_eq!(super::due(&md, &read_at_90, &time(120)).len(), 1);
    assert_eq!(escalate_after(&md), DEFAULT_ESCALATE_AFTER);
}

#[test]
fn nothing_is_watched_before_a_version_has_been_available() {
    let mut md = watched_world(vec![guard(Some(0.02), None, 30)]);
    md.status
        .as_mut()
        .unwrap()
        .history
        .last_mut()
        .unwrap()
        .available_at = None;
    assert!(due(&md, &|_| None, &time(100)).is_empty());
    assert_eq!(next_due(&md, &|_| None, &time(100)), None);
    assert_eq!(step(&md, &[], &time(100)), Stepped::default());
}

#[test]
fn a_guard_without_readings_is_reported_once_not_every_interval() {
    let mut md = watched_world(vec![guard(Some(0.02), None, 30)]);
    let g = guard(Some(0.02), None, 30);
    let unreadable = |t| judge(&g, Err("cannot reach Prometheus".into()), time(t));
    let first = step(&md, &[unreadable(100)], &time(100));
    assert_eq!(first.unreadable.len(), 1);
    md.status.as_mut().unwrap().monitoring = first.status.clone();
    let again = step(&md, &[unreadable(130)], &time(130));
    assert!(again.unreadable.is_empty(), "same reason: said once");
    assert_eq!(again.status, first.status, "and nothing to write");
    let back = step(
        &md,
        &[judge(&g, Ok(Some("0.01".into())), time(160))],
        &time(160),
    );
    assert!(
        back.status.unwrap().guards.is_empty(),
        "a reading clears it"
    );
}
