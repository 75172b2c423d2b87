//! When a `RollbackDrill` runs: its cron schedule (`spec.schedule`, e.g. `"0 10 * * 2"`)
//! read in its time zone (`spec.timeZone`, e.g. `Europe/Berlin`; UTC when absent).
//! Pure: "now" is always an argument, and nothing here reads a clock.
//!
//! # Cron rules
//!
//! - Five fields separated by spaces: minute (0-59), hour (0-23), day of the month
//!   (1-31), month (1-12 or `JAN`-`DEC`) and day of the week (0-7 or `SUN`-`SAT`, where
//!   both 0 and 7 are Sunday). Names are case-insensitive.
//! - Each field is `*` (every value), a value (`5`), a range (`1-5`, `MON-FRI`), a step
//!   (`*/15` every 15th value from the lowest, `0-30/10` within a range, `5/20` from 5 up
//!   to the highest value), or a comma-separated list of these (`0,15,30-40`).
//! - Macros: `@yearly` and `@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`),
//!   `@weekly` (`0 0 * * 0`), `@daily` and `@midnight` (`0 0 * * *`), `@hourly`
//!   (`0 * * * *`). `@reboot` is refused: a drill needs a time of day.
//! - Days, as in Vixie cron: when both the day of the month and the day of the week are
//!   restricted (neither is written `*`), a day matches if either one matches
//!   (`0 10 1 * MON` runs on the 1st and on every Monday); otherwise both must match.
//! - Refused, with a message naming the field and the bad text: a wrong number of
//!   fields, an empty list item, a value out of range, a reversed range (`10-5`), a step
//!   of 0, and anything that is not a number or a name.
//! - The time zone is an IANA name (`Europe/Berlin`); an unknown one is refused.
//!
//! # Time zones and daylight saving
//!
//! The schedule is read in the time zone's wall-clock time. When the clocks jump
//! forward, a time that does not exist (02:30 on the night Berlin skips from 02:00 to
//! 03:00) fires at the first instant after the gap (03:00), once, however many skipped
//! times matched. When the clocks go back, a time that happens twice (02:30 on the
//! night Berlin goes from 03:00 back to 02:00) fires only once, at its first occurrence.
//!
//! # Searching
//!
//! [`Schedule::next_after`] walks forward day by day, skipping days whose month and day
//! cannot match, then the hours, then the minutes, and gives up after five years (a
//! schedule such as `0 0 30 2 *` never fires). [`Schedule::latest_due`] walks backwards
//! the same way from "now" to the last firing already checked, also for at most five
//! years, so a long outage costs one search, not one per missed firing.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

/// How many days a search looks through before it concludes there is no firing: five
/// years and a day, so a 29 February is always within reach of the one before.
const SEARCH_DAYS: usize = 5 * 366 + 1;

/// The prefix of every error about the expression: the field of the resource it is in.
const SCHEDULE_FIELD: &str = "spec.schedule";

/// A parsed cron schedule and the time zone it is read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Bit `m` set when minute `m` (0-59) matches.
    minutes: u64,
    /// Bit `h` set when hour `h` (0-23) matches.
    hours: u32,
    /// Bit `d` set when day of the month `d` (1-31) matches.
    days_of_month: u32,
    /// Bit `m` set when month `m` (1-12) matches.
    months: u16,
    /// Bit `d` set when day of the week `d` (0 = Sunday … 6 = Saturday) matches.
    days_of_week: u8,
    /// Whether the day of the month was written `*` (then only the weekday decides).
    any_day_of_month: bool,
    /// Whether the day of the week was written `*` (then only the day of the month decides).
    any_day_of_week: bool,
    /// The time zone whose wall-clock time the fields are compared with.
    time_zone: TimeZone,
}

/// Why a schedule or time zone was refused: a message that names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(pub String);

/// One of the five fields: its name in messages, its bounds, and its names if any.
struct Field {
    /// The name used in error messages (`minute`, `day-of-week`, …).
    name: &'static str,
    /// The lowest value allowed.
    min: u32,
    /// The highest value allowed.
    max: u32,
    /// Names standing for `min`, `min + 1`, … (months and weekdays), upper case.
    names: &'static [&'static str],
}

/// The five fields, in the order they are written.
const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
    },
    Field {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    },
];

impl Schedule {
    /// Parses a standard 5-field cron expression (minute hour day-of-month month
    /// day-of-week), or a macro such as `@daily`, read in the named IANA time zone
    /// (e.g. `"Europe/Berlin"`; `None` means UTC).
    pub fn parse(expression: &str, time_zone: Option<&str>) -> Result<Schedule, ScheduleError> {
        let expanded = expand_macro(expression.trim())?;
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day_of_month, month, day_of_week] = parts[..] else {
            return Err(ScheduleError(format!(
                "{SCHEDULE_FIELD}: expected 5 fields (minute hour day-of-month month day-of-week), \
                 found {} in {expression:?}",
                parts.len()
            )));
        };
        let weekdays = parse_field(day_of_week, &FIELDS[4])?;
        let time_zone = match time_zone {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name)
                .map_err(|_| ScheduleError(format!("spec.timeZone: unknown time zone {name:?}")))?,
        };
        Ok(Schedule {
            minutes: parse_field(minute, &FIELDS[0])?,
            hours: u32::try_from(parse_field(hour, &FIELDS[1])?).unwrap_or(u32::MAX),
            days_of_month: u32::try_from(parse_field(day_of_month, &FIELDS[2])?)
                .unwrap_or(u32::MAX),
            months: u16::try_from(parse_field(month, &FIELDS[3])?).unwrap_or(u16::MAX),
            // Day 7 is Sunday, like day 0.
            days_of_week: u8::try_from((weekdays | (weekdays >> 7)) & 0x7f).unwrap_or(u8::MAX),
            any_day_of_month: day_of_month == "*",
            any_day_of_week: day_of_week == "*",
            time_zone,
        })
    }

    /// The first firing strictly after `after`, or `None` if there is none within the
    /// next five years.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let start = self.time_zone.to_datetime(after);
        let mut date = start.date();
        let mut from = Some((start.hour(), start.minute()));
        for _ in 0..SEARCH_DAYS {
            if self.day_matches(date)
                && let Some(found) = self.first_in_day(date, from, after)
            {
                return Some(found);
            }
            date = date.tomorrow().ok()?;
            from = None;
        }
        None
    }

    /// The latest firing `t` with `after < t <= now`, if any: however many firings
    /// were missed since `after`, they collapse into this one.
    ///
    /// Searches backwards from `now`, day by day, down to the day of `after` and at
    /// most five years back; one search however long the gap.
    pub fn latest_due(&self, after: Timestamp, now: Timestamp) -> Option<Timestamp> {
        if now <= after {
            return None;
        }
        let floor = self.time_zone.to_datetime(after).date();
        let start = self.latest_wall_clock(now);
        let mut date = start.date();
        let mut until = Some((start.hour(), start.minute()));
        for _ in 0..SEARCH_DAYS {
            if date < floor {
                return None;
            }
            if self.day_matches(date)
                && let Some(found) = self.last_in_day(date, until, now)
            {
                return (found > after).then_some(found);
            }
            date = date.yesterday().ok()?;
            until = None;
        }
        None
    }

    /// Whether a day can fire: its month matches, and its day of the month and day of
    /// the week match under the Vixie-cron rule (either, when both are restricted).
    fn day_matches(&self, date: Date) -> bool {
        if !has_bit(u64::from(self.months), date.month()) {
            return false;
        }
        let by_day = has_bit(u64::from(self.days_of_month), date.day());
        let by_weekday = has_bit(
            u64::from(self.days_of_week),
            date.weekday().to_sunday_zero_offset(),
        );
        if self.any_day_of_month || self.any_day_of_week {
            by_day && by_weekday
        } else {
            by_day || by_weekday
        }
    }

    /// The earliest firing on `date` later than `after`, looking only at wall-clock
    /// times from `from` (hour, minute) on, or the whole day when `None`.
    fn first_in_day(
        &self,
        date: Date,
        from: Option<(i8, i8)>,
        after: Timestamp,
    ) -> Option<Timestamp> {
        let (from_hour, from_minute) = from.unwrap_or((0, 0));
        for hour in (from_hour..24).filter(|&h| has_bit(u64::from(self.hours), h)) {
            let first_minute = if hour == from_hour { from_minute } else { 0 };
            for minute in (first_minute..60).filter(|&m| has_bit(self.minutes, m)) {
                let instant = self.instant(date.at(hour, minute, 0, 0))?;
                if instant > after {
                    return Some(instant);
                }
            }
        }
        None
    }

    /// The latest firing on `date` at or before `now`, looking only at wall-clock times
    /// up to `until` (hour, minute), or the whole day when `None`.
    fn last_in_day(
        &self,
        date: Date,
        until: Option<(i8, i8)>,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let (until_hour, until_minute) = until.unwrap_or((23, 59));
        for hour in (0..=until_hour)
            .rev()
            .filter(|&h| has_bit(u64::from(self.hours), h))
        {
            let last_minute = if hour == until_hour { until_minute } else { 59 };
            for minute in (0..=last_minute)
                .rev()
                .filter(|&m| has_bit(self.minutes, m))
            {
                let instant = self.instant(date.at(hour, minute, 0, 0))?;
                if instant <= now {
                    return Some(instant);
                }
            }
        }
        None
    }

    /// The instant a wall-clock time fires at: itself when it exists once, its first
    /// occurrence when the clocks went back over it, and the end of the gap when the
    /// clocks jumped over it. Later wall-clock times never fire earlier, which is what
    /// lets the searches stop at the first match.
    fn instant(&self, wall_clock: DateTime) -> Option<Timestamp> {
        match self.time_zone.to_ambiguous_timestamp(wall_clock).offset() {
            AmbiguousOffset::Unambiguous { offset }
            | AmbiguousOffset::Fold { before: offset, .. } => offset.to_timestamp(wall_clock).ok(),
            // Read with the later offset, a time in the gap falls before the jump, so
            // the next transition is the end of the gap.
            AmbiguousOffset::Gap { after, .. } => {
                let before_jump = after.to_timestamp(wall_clock).ok()?;
                let jump = self.time_zone.following(before_jump).next()?;
                Some(jump.timestamp())
            }
        }
    }

    /// The latest wall-clock time whose firing could be at or before `now`: the clock
    /// at `now`, or, just after the clocks went back, the end of the repeated hour (its
    /// first occurrence is already past).
    fn latest_wall_clock(&self, now: Timestamp) -> DateTime {
        let offset_now = self.time_zone.to_offset(now);
        let offset_before = self
            .time_zone
            .preceding(
                now.checked_add(jiff::SignedDuration::from_nanos(1))
                    .unwrap_or(now),
            )
            .next()
            .and_then(|t| {
                t.timestamp()
                    .checked_sub(jiff::SignedDuration::from_nanos(1))
                    .ok()
            })
            .map_or(offset_now, |just_before| {
                self.time_zone.to_offset(just_before)
            });
        let offset: Offset = offset_now.max(offset_before);
        offset.to_datetime(now)
    }
}

/// Replaces a macro (`@daily`, …) with its five fields; anything else is returned as is.
fn expand_macro(expression: &str) -> Result<&str, ScheduleError> {
    if !expression.starts_with('@') {
        return Ok(expression);
    }
    match expression.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Ok("0 0 1 1 *"),
        "@monthly" => Ok("0 0 1 * *"),
        "@weekly" => Ok("0 0 * * 0"),
        "@daily" | "@midnight" => Ok("0 0 * * *"),
        "@hourly" => Ok("0 * * * *"),
        "@reboot" => Err(ScheduleError(format!(
            "{SCHEDULE_FIELD}: \"@reboot\" is not supported: a drill needs a time of day"
        ))),
        _ => Err(ScheduleError(format!(
            "{SCHEDULE_FIELD}: unknown macro {expression:?} (use @yearly, @annually, @monthly, \
             @weekly, @daily, @midnight or @hourly)"
        ))),
    }
}

/// Parses one field into a bit set of the values it matches.
fn parse_field(text: &str, field: &Field) -> Result<u64, ScheduleError> {
    let mut bits = 0;
    for part in text.split(',') {
        if part.is_empty() {
            return Err(field_error(field, text, "has an empty part"));
        }
        bits |= parse_part(part, field)?;
    }
    Ok(bits)
}

/// Parses one list item: `*`, `a`, `a-b`, `*/n`, `a-b/n` or `a/n`.
fn parse_part(part: &str, field: &Field) -> Result<u64, ScheduleError> {
    let (range, step) = match part.split_once('/') {
        None => (part, None),
        Some((range, step)) => (range, Some(parse_step(step, part, field)?)),
    };
    let (low, high) = if range == "*" {
        (field.min, field.max)
    } else if let Some((low, high)) = range.split_once('-') {
        if low.is_empty() || high.is_empty() {
            return Err(field_error(field, part, "has an empty part"));
        }
        let (low, high) = (parse_value(low, field)?, parse_value(high, field)?);
        if low > high {
            return Err(field_error(field, part, "is a reversed range"));
        }
        (low, high)
    } else {
        let value = parse_value(range, field)?;
        // `a/n` runs from a to the highest value; a plain `a` is just a.
        (value, if step.is_some() { field.max } else { value })
    };
    let step = step.unwrap_or(1);
    Ok((low..=high)
        .step_by(step)
        .fold(0, |bits, value| bits | (1 << value)))
}

/// Parses the step after `/`: a whole number of at least 1.
fn parse_step(step: &str, part: &str, field: &Field) -> Result<usize, ScheduleError> {
    let digits = !step.is_empty() && step.chars().all(|c| c.is_ascii_digit());
    match step.parse::<usize>() {
        Ok(0) => Err(field_error(field, part, "has a step of 0")),
        Ok(step) if digits => Ok(step),
        _ => Err(field_error(field, part, "has a step that is not a number")),
    }
}

/// Parses one value: digits or, for months and weekdays, a name; checks the bounds.
fn parse_value(text: &str, field: &Field) -> Result<u32, ScheduleError> {
    let by_name = field
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
        .and_then(|index| u32::try_from(index).ok())
        .map(|index| field.min + index);
    let value = match by_name {
        Some(value) => value,
        None if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) => {
            text.parse::<u32>().unwrap_or(u32::MAX)
        }
        None if field.names.is_empty() => {
            return Err(field_error(field, text, "is not a number"));
        }
        None => return Err(field_error(field, text, "is not a number or a name")),
    };
    if value < field.min || value > field.max {
        let bounds = format!("is out of range {}-{}", field.min, field.max);
        return Err(field_error(field, text, &bounds));
    }
    Ok(value)
}

/// `spec.schedule: <field> field "<text>" <problem>`.
fn field_error(field: &Field, text: &str, problem: &str) -> ScheduleError {
    ScheduleError(format!(
        "{SCHEDULE_FIELD}: {} field {text:?} {problem}",
        field.name
    ))
}

/// Whether bit `index` of `bits` is set.
fn has_bit(bits: u64, index: i8) -> bool {
    u32::try_from(index).is_ok_and(|index| index < 64 && bits & (1 << index) != 0)
}

#[cfg(test)]
mod tests;
