use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::{Schedule, ScheduleError};

fn at(text: &str) -> Timestamp {
    text.parse().expect("a valid RFC 3339 timestamp")
}

fn utc(expression: &str) -> Schedule {
    Schedule::parse(expression, None).expect("a valid schedule")
}

fn berlin(expression: &str) -> Schedule {
    Schedule::parse(expression, Some("Europe/Berlin")).expect("a valid schedule")
}

fn error(expression: &str) -> String {
    Schedule::parse(expression, None)
        .expect_err("an invalid schedule")
        .0
}

/// The next `count` firings after `after`.
fn firings(schedule: &Schedule, after: &str, count: usize) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let mut last = at(after);
    for _ in 0..count {
        last = schedule.next_after(last).expect("a next firing");
        out.push(last);
    }
    out
}

fn all(texts: &[&str]) -> Vec<Timestamp> {
    texts.iter().map(|text| at(text)).collect()
}

#[test]
fn out_of_range_values_name_the_field_and_value() {
    assert_eq!(
        error("61 * * * *"),
        "spec.schedule: minute field \"61\" is out of range 0-59"
    );
    assert_eq!(
        error("0 24 * * *"),
        "spec.schedule: hour field \"24\" is out of range 0-23"
    );
    assert_eq!(
        error("0 0 0 * *"),
        "spec.schedule: day-of-month field \"0\" is out of range 1-31"
    );
    assert_eq!(
        error("0 0 * 13 *"),
        "spec.schedule: month field \"13\" is out of range 1-12"
    );
    assert_eq!(
        error("0 0 * * 8"),
        "spec.schedule: day-of-week field \"8\" is out of range 0-7"
    );
    assert_eq!(
        error("0,5,60 * * * *"),
        "spec.schedule: minute field \"60\" is out of range 0-59"
    );
}

#[test]
fn a_wrong_field_count_is_refused() {
    let message = |found: usize, expression: &str| {
        format!(
            "spec.schedule: expected 5 fields (minute hour day-of-month month day-of-week), \
             found {found} in \"{expression}\""
        )
    };
    assert_eq!(error("0 10 * *"), message(4, "0 10 * *"));
    assert_eq!(error("0 0 10 * * 2"), message(6, "0 0 10 * * 2"));
    assert_eq!(error(""), message(0, ""));
}

#[test]
fn empty_parts_are_refused() {
    assert_eq!(
        error("0 1,,2 * * *"),
        "spec.schedule: hour field \"1,,2\" has an empty part"
    );
    assert_eq!(
        error("0, * * * *"),
        "spec.schedule: minute field \"0,\" has an empty part"
    );
    assert_eq!(
        error("0 0 1- * *"),
        "spec.schedule: day-of-month field \"1-\" has an empty part"
    );
    assert_eq!(
        error("0 -5 * * *"),
        "spec.schedule: hour field \"-5\" has an empty part"
    );
}

#[test]
fn reversed_ranges_are_refused() {
    assert_eq!(
        error("0 0 10-5 * *"),
        "spec.schedule: day-of-month field \"10-5\" is a reversed range"
    );
    assert_eq!(
        error("0 0 * * FRI-MON"),
        "spec.schedule: day-of-week field \"FRI-MON\" is a reversed range"
    );
}

#[test]
fn bad_steps_are_refused() {
    assert_eq!(
        error("*/0 * * * *"),
        "spec.schedule: minute field \"*/0\" has a step of 0"
    );
    assert_eq!(
        error("0 1-5/0 * * *"),
        "spec.schedule: hour field \"1-5/0\" has a step of 0"
    );
    assert_eq!(
        error("*/x * * * *"),
        "spec.schedule: minute field \"*/x\" has a step that is not a number"
    );
    assert_eq!(
        error("*/ * * * *"),
        "spec.schedule: minute field \"*/\" has a step that is not a number"
    );
}

#[test]
fn words_and_signs_are_refused() {
    assert_eq!(
        error("0 ten * * *"),
        "spec.schedule: hour field \"ten\" is not a number"
    );
    assert_eq!(
        error("0 0 * FOO *"),
        "spec.schedule: month field \"FOO\" is not a number or a name"
    );
    assert_eq!(
        error("0 0 * * MONDAY"),
        "spec.schedule: day-of-week field \"MONDAY\" is not a number or a name"
    );
    assert_eq!(
        error("+5 * * * *"),
        "spec.schedule: minute field \"+5\" is not a number"
    );
    // Names belong to their own field only.
    assert_eq!(
        error("0 0 * MON *"),
        "spec.schedule: month field \"MON\" is not a number or a name"
    );
}

#[test]
fn reboot_and_unknown_macros_are_refused() {
    assert_eq!(
        error("@reboot"),
        "spec.schedule: \"@reboot\" is not supported: a drill needs a time of day"
    );
    assert_eq!(
        error("@fortnightly"),
        "spec.schedule: unknown macro \"@fortnightly\" (use @yearly, @annually, @monthly, \
         @weekly, @daily, @midnight or @hourly)"
    );
}

#[test]
fn an_unknown_time_zone_is_refused() {
    let refused = Schedule::parse("0 10 * * 2", Some("Mars/Olympus_Mons"));
    assert_eq!(
        refused,
        Err(ScheduleError(
            "spec.timeZone: unknown time zone \"Mars/Olympus_Mons\"".into()
        ))
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "spec.timeZone: unknown time zone \"Mars/Olympus_Mons\""
    );
}

#[test]
fn tuesday_ten_in_berlin_is_nine_utc_in_winter_and_eight_in_summer() {
    let drill = berlin("0 10 * * 2");
    // Thursday 2026-01-01: the next Tuesday is 6 January (CET, +01:00).
    assert_eq!(
        drill.next_after(at("2026-01-01T00:00:00Z")),
        Some(at("2026-01-06T09:00:00Z"))
    );
    // Wednesday 2026-07-01: the next Tuesday is 7 July (CEST, +02:00).
    assert_eq!(
        drill.next_after(at("2026-07-01T00:00:00Z")),
        Some(at("2026-07-07T08:00:00Z"))
    );
}

#[test]
fn without_a_time_zone_the_schedule_is_utc() {
    assert_eq!(
        utc("0 10 * * 2").next_after(at("2026-01-01T00:00:00Z")),
        Some(at("2026-01-06T10:00:00Z"))
    );
    let named = Schedule::parse("0 10 * * 2", Some("UTC")).expect("UTC is known");
    assert_eq!(
        named.next_after(at("2026-01-01T00:00:00Z")),
        Some(at("2026-01-06T10:00:00Z"))
    );
}

#[test]
fn every_fifteen_minutes() {
    let expected = all(&[
        "2026-01-01T10:15:00Z",
        "2026-01-01T10:30:00Z",
        "2026-01-01T10:45:00Z",
        "2026-01-01T11:00:00Z",
    ]);
    assert_eq!(
        firings(&utc("*/15 * * * *"), "2026-01-01T10:07:30Z", 4),
        expected
    );
}

#[test]
fn ranges_with_steps_and_open_steps() {
    let expected = all(&[
        "2026-01-01T09:00:00Z",
        "2026-01-01T09:10:00Z",
        "2026-01-01T09:20:00Z",
        "2026-01-01T09:30:00Z",
        "2026-01-01T11:00:00Z",
    ]);
    // Minutes 0-30 every 10, hours 9-12 every 2 (9 and 11).
    assert_eq!(
        firings(&utc("0-30/10 9-12/2 * * *"), "2026-01-01T00:00:00Z", 5),
        expected
    );
    // `5/20` runs from 5 to the highest value: 5, 25, 45.
    let open = all(&[
        "2026-01-01T00:05:00Z",
        "2026-01-01T00:25:00Z",
        "2026-01-01T00:45:00Z",
        "2026-01-01T01:05:00Z",
    ]);
    assert_eq!(
        firings(&utc("5/20 * * * *"), "2026-01-01T00:00:00Z", 4),
        open
    );
    // Lists mix values, ranges and steps.
    let listed = all(&[
        "2026-01-01T00:01:00Z",
        "2026-01-01T00:40:00Z",
        "2026-01-01T00:41:00Z",
        "2026-01-01T00:50:00Z",
    ]);
    assert_eq!(
        firings(&utc("1,40-41,50/30 * * * *"), "2026-01-01T00:00:00Z", 4),
        listed
    );
}

#[test]
fn month_and_weekday_names_are_case_insensitive() {
    assert_eq!(berlin("0 9 * jan,JUL Mon-fri"), berlin("0 9 * 1,7 1-5"));
    assert_ne!(berlin("0 9 * jan,JUL Mon-fri"), berlin("0 9 * 1,7 1-6"));
    // Wednesday 2026-07-01 is the first weekday of July.
    let schedule = utc("0 9 * JUL MON-FRI");
    assert_eq!(
        schedule.next_after(at("2026-02-01T00:00:00Z")),
        Some(at("2026-07-01T09:00:00Z"))
    );
}

#[test]
fn seven_is_sunday_like_zero() {
    assert_eq!(utc("0 0 * * 7"), utc("0 0 * * 0"));
    assert_eq!(utc("0 0 * * SUN"), utc("0 0 * * 0"));
    assert_eq!(utc("0 0 * * 5-7"), utc("0 0 * * 0,5,6"));
    // Thursday 2026-01-01: the next Sunday is 4 January.
    assert_eq!(
        utc("0 0 * * 7").next_after(at("2026-01-01T00:00:00Z")),
        Some(at("2026-01-04T00:00:00Z"))
    );
}

#[test]
fn restricted_day_of_month_and_weekday_match_either() {
    // The 13th of any month or any Friday: Friday 2 Jan, Friday 9 Jan, Tuesday 13 Jan.
    let either = all(&[
        "2026-01-02T00:00:00Z",
        "2026-01-09T00:00:00Z",
        "2026-01-13T00:00:00Z",
        "2026-01-16T00:00:00Z",
    ]);
    assert_eq!(
        firings(&utc("0 0 13 * FRI"), "2026-01-01T00:00:00Z", 4),
        either
    );
    // With one of them `*`, the other alone decides.
    let thirteenths = all(&["2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"]);
    assert_eq!(
        firings(&utc("0 0 13 * *"), "2026-01-01T00:00:00Z", 2),
        thirteenths
    );
    let fridays = all(&[
        "2026-01-02T00:00:00Z",
        "2026-01-09T00:00:00Z",
        "2026-01-16T00:00:00Z",
    ]);
    assert_eq!(
        firings(&utc("0 0 * * FRI"), "2026-01-01T00:00:00Z", 3),
        fridays
    );
}

#[test]
fn macros_expand_to_their_fields() {
    assert_eq!(utc("@daily"), utc("0 0 * * *"));
    assert_eq!(utc("@midnight"), utc("0 0 * * *"));
    assert_eq!(utc("@hourly"), utc("0 * * * *"));
    assert_eq!(utc("@weekly"), utc("0 0 * * 0"));
    assert_eq!(utc("@monthly"), utc("0 0 1 * *"));
    assert_eq!(utc("@yearly"), utc("0 0 1 1 *"));
    assert_eq!(utc("@annually"), utc("0 0 1 1 *"));
    let daily = all(&["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]);
    assert_eq!(firings(&utc("@daily"), "2026-01-01T12:00:00Z", 2), daily);
    assert_eq!(
        berlin("@daily").next_after(at("2026-01-01T12:00:00Z")),
        Some(at("2026-01-01T23:00:00Z"))
    );
}

#[test]
fn the_leap_day_fires_in_leap_years_only() {
    let leap = utc("0 0 29 2 *");
    assert_eq!(
        leap.next_after(at("2026-03-01T00:00:00Z")),
        Some(at("2028-02-29T00:00:00Z"))
    );
    assert_eq!(
        leap.next_after(at("2028-02-29T00:00:00Z")),
        Some(at("2032-02-29T00:00:00Z"))
    );
}

#[test]
fn a_schedule_that_never_fires_gives_up_quickly() {
    let started = Instant::now();
    assert_eq!(
        utc("0 0 30 2 *").next_after(at("2026-01-01T00:00:00Z")),
        None
    );
    assert_eq!(
        berlin("* * 31 4,6,9,11 *").next_after(at("2026-01-01T00:00:00Z")),
        None
    );
    assert_eq!(
        utc("0 0 30 2 *").latest_due(at("2000-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z")),
        None
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_time_skipped_by_spring_forward_fires_when_the_gap_ends() {
    // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z); 02:30 does not exist.
    let schedule = berlin("30 2 * * *");
    let expected = all(&[
        "2026-03-28T01:30:00Z",
        "2026-03-29T01:00:00Z",
        "2026-03-30T00:30:00Z",
    ]);
    assert_eq!(firings(&schedule, "2026-03-27T12:00:00Z", 3), expected);
    // Every skipped minute that matches collapses into one firing at 03:00.
    let quarter_hours = berlin("*/15 1-3 * * *");
    let expected = all(&[
        "2026-03-29T00:45:00Z",
        "2026-03-29T01:00:00Z",
        "2026-03-29T01:15:00Z",
    ]);
    assert_eq!(firings(&quarter_hours, "2026-03-29T00:40:00Z", 3), expected);
}

#[test]
fn a_time_repeated_by_fall_back_fires_once_at_its_first_occurrence() {
    // Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET (01:00Z); 02:30 happens at
    // 00:30Z and again at 01:30Z.
    let schedule = berlin("30 2 * * *");
    let expected = all(&[
        "2026-10-24T00:30:00Z",
        "2026-10-25T00:30:00Z",
        "2026-10-26T01:30:00Z",
    ]);
    assert_eq!(firings(&schedule, "2026-10-23T12:00:00Z", 3), expected);
    // From inside the repeated hour, the repeated times are already past.
    assert_eq!(
        schedule.next_after(at("2026-10-25T01:10:00Z")),
        Some(at("2026-10-26T01:30:00Z"))
    );
    // The hourly schedule fires once per wall-clock hour: 02:00 CEST, then 03:00 CET.
    let hourly = all(&["2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"]);
    assert_eq!(
        firings(&berlin("0 * * * *"), "2026-10-24T23:30:00Z", 2),
        hourly
    );
}

#[test]
fn latest_due_collapses_missed_firings_into_the_latest() {
    let drill = berlin("0 10 * * 2");
    // Missed: 13, 20 and 27 January (09:00Z each).
    let due = drill.latest_due(at("2026-01-07T00:00:00Z"), at("2026-01-28T12:00:00Z"));
    assert_eq!(due, Some(at("2026-01-27T09:00:00Z")));
    // A firing exactly at `now` is due.
    let due = drill.latest_due(at("2026-01-07T00:00:00Z"), at("2026-01-27T09:00:00Z"));
    assert_eq!(due, Some(at("2026-01-27T09:00:00Z")));
    // Years of minutes collapse as well, in one search.
    let due = utc("* * * * *").latest_due(at("2000-01-01T00:00:00Z"), at("2026-05-01T12:34:56Z"));
    assert_eq!(due, Some(at("2026-05-01T12:34:00Z")));
}

#[test]
fn latest_due_is_none_when_nothing_is_due() {
    let drill = berlin("0 10 * * 2");
    // The last firing was handled; the next one is still ahead.
    assert_eq!(
        drill.latest_due(at("2026-01-06T09:00:00Z"), at("2026-01-13T08:59:59Z")),
        None
    );
    // `now` not after `after`.
    assert_eq!(
        drill.latest_due(at("2026-01-28T00:00:00Z"), at("2026-01-28T00:00:00Z")),
        None
    );
    assert_eq!(
        drill.latest_due(at("2026-01-28T00:00:00Z"), at("2026-01-01T00:00:00Z")),
        None
    );
}

#[test]
fn latest_due_inside_a_repeated_hour_sees_its_first_occurrence() {
    // At 02:30 CET (01:30Z), 02:45 CEST (00:45Z) is already past.
    let schedule = berlin("45 2 * * *");
    let due = schedule.latest_due(at("2026-10-24T12:00:00Z"), at("2026-10-25T01:30:00Z"));
    assert_eq!(due, Some(at("2026-10-25T00:45:00Z")));
    // And at 02:50 CEST (00:50Z) too, while 03:45 CET is not yet.
    let due = schedule.latest_due(at("2026-10-24T12:00:00Z"), at("2026-10-25T00:50:00Z"));
    assert_eq!(due, Some(at("2026-10-25T00:45:00Z")));
}

#[test]
fn latest_due_agrees_with_next_after() {
    let schedules = [
        berlin("30 2 * * *"),
        berlin("*/20 1-3 * * *"),
        utc("0 0 13 * FRI"),
        berlin("0 10 * * 2"),
    ];
    // Both starts run through a daylight-saving change.
    let starts = ["2026-03-27T00:00:00Z", "2026-10-23T00:00:00Z"];
    for (schedule, start) in schedules
        .iter()
        .flat_map(|s| starts.map(|start| (s, start)))
    {
        let mut after = at(start);
        for _ in 0..40 {
            let next = schedule.next_after(after).expect("a next firing");
            assert_eq!(
                schedule.latest_due(after, next),
                Some(next),
                "{schedule:?} after {after}"
            );
            let just_before = next
                .checked_sub(jiff::SignedDuration::from_nanos(1))
                .unwrap();
            assert_eq!(
                schedule.latest_due(after, just_before),
                None,
                "{schedule:?} after {after}"
            );
            after = next;
        }
    }
}

#[test]
fn next_after_is_strictly_after() {
    let drill = berlin("0 10 * * 2");
    assert_eq!(
        drill.next_after(at("2026-01-06T09:00:00Z")),
        Some(at("2026-01-13T09:00:00Z"))
    );
    assert_eq!(
        drill.next_after(at("2026-01-06T08:59:59.999Z")),
        Some(at("2026-01-06T09:00:00Z"))
    );
    let minutely = utc("* * * * *");
    assert_eq!(
        minutely.next_after(at("2026-01-06T09:00:00Z")),
        Some(at("2026-01-06T09:01:00Z"))
    );
    assert_eq!(
        minutely.next_after(at("2026-01-06T09:00:00.5Z")),
        Some(at("2026-01-06T09:01:00Z"))
    );
}
