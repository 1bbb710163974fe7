//! Cron schedules as a CronJob's `spec.schedule` means them: the syntax and the next-time
//! rule of the standard parser of `github.com/robfig/cron/v3` (`cron.ParseStandard`), which
//! kube-apiserver validates with and kube-controller-manager schedules with.
//!
//! # Accepted syntax
//!
//! A schedule is five fields separated by white space, `minute hour day-of-month month
//! day-of-week`, or a descriptor:
//!
//! | field        | values | names |
//! |--------------|--------|-------|
//! | minute       | 0-59   |       |
//! | hour         | 0-23   |       |
//! | day of month | 1-31   |       |
//! | month        | 1-12   | `jan`..`dec` (any case) |
//! | day of week  | 0-6 (0 is Sunday; 7 is refused, as robfig/cron refuses it) | `sun`..`sat` (any case) |
//!
//! Each field is a comma-separated list of: `*` or `?` (every value); a value `N`; a range
//! `N-M`; and any of these with a step, `*/S`, `N-M/S` or `N/S` (which means `N-max/S`).
//! Names stand for numbers anywhere a number may, but a step is always a number.
//!
//! When both day fields are restricted (neither starts with `*` or `?`; a `*/S` with a step
//! above 1 counts as restricted), a day matches when **either** matches (`0 0 1,15 * mon`
//! runs on the 1st, the 15th and every Monday); otherwise both must match.
//!
//! Descriptors: `@yearly` and `@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`), `@weekly`
//! (`0 0 * * 0`), `@daily` and `@midnight` (`0 0 * * *`), `@hourly` (`0 * * * *`), and
//! `@every <duration>` (a Go duration such as `1h30m` or `90s`, in whole seconds, at least
//! 1 s: the next time is the given time plus the duration).
//!
//! A schedule may start with `CRON_TZ=<zone> ` or `TZ=<zone> ` to be read in that IANA time
//! zone; otherwise it is read in the zone it is given ([`Schedule::next_after`]).
//!
//! The next time after `t` follows robfig/cron's `SpecSchedule.Next`, daylight-saving
//! quirks included: an hour that a spring-forward gap skips does not run that day (`30 2 * *
//! *` in New York skips 10 March 2024), an hour that a fall-back fold repeats runs twice,
//! and no time is looked for more than five years ahead.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime as Zoned};
use std::fmt;
use std::time::Duration;

use super::Time;

/// Bit set on a field written `*` or `?` (robfig/cron's `starBit`): decides how the two day
/// fields combine.
const STAR: u64 = 1 << 63;

/// A field's bounds and names.
struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The number the first name stands for.
    first_name: u32,
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
    first_name: 0,
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
    first_name: 0,
};
const DAYS_OF_MONTH: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
    first_name: 0,
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    first_name: 1,
};
const DAYS_OF_WEEK: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    first_name: 0,
};

/// Why a schedule does not parse; the message is robfig/cron's, which Kubernetes shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronError(String);

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CronError {}

fn err(message: String) -> CronError {
    CronError(message)
}

/// When a schedule fires.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    /// Five fields, as bit sets (bit `n` set: value `n` matches; [`STAR`] as in robfig/cron).
    Spec {
        minute: u64,
        hour: u64,
        dom: u64,
        month: u64,
        dow: u64,
    },
    /// `@every`: a fixed delay in whole seconds.
    Every(u64),
}

/// A parsed schedule (see the [module documentation](self) for the syntax).
#[derive(Clone, Debug)]
pub struct Schedule {
    rule: Rule,
    /// The zone of a `CRON_TZ=` / `TZ=` prefix, with its name.
    zone: Option<(String, TimeZone)>,
}

impl Schedule {
    /// Parses `spec` as `cron.ParseStandard` does.
    pub fn parse(spec: &str) -> Result<Schedule, CronError> {
        if spec.is_empty() {
            return Err(err("empty spec string".into()));
        }
        let mut spec = spec;
        let mut zone = None;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let eq = spec.find('=').unwrap_or_default();
            let Some(space) = spec.find(' ') else {
                return Err(err(format!("no schedule after the time zone: {spec}")));
            };
            let name = &spec[eq + 1..space];
            let tz =
                time_zone(name).map_err(|e| err(format!("provided bad location {name}: {e}")))?;
            zone = Some((name.to_string(), tz));
            spec = spec[space..].trim();
        }
        let rule = if spec.starts_with('@') {
            descriptor(spec)?
        } else {
            let fields: Vec<&str> = spec.split_whitespace().collect();
            if fields.len() != 5 {
                return Err(err(format!(
                    "expected exactly 5 fields, found {}: [{}]",
                    fields.len(),
                    fields.join(" ")
                )));
            }
            Rule::Spec {
                minute: field(fields[0], &MINUTES)?,
                hour: field(fields[1], &HOURS)?,
                dom: field(fields[2], &DAYS_OF_MONTH)?,
                month: field(fields[3], &MONTHS)?,
                dow: field(fields[4], &DAYS_OF_WEEK)?,
            }
        };
        Ok(Schedule { rule, zone })
    }

    /// The zone of a `CRON_TZ=` or `TZ=` prefix, if the schedule has one.
    pub fn zone_name(&self) -> Option<&str> {
        self.zone.as_ref().map(|(n, _)| n.as_str())
    }

    /// Why the schedule can never fire, if it cannot: a day of month that none of its
    /// months has (`0 0 30 2 *`), or an empty list. robfig/cron parses such a schedule and
    /// then finds no time; steady refuses it up front.
    pub fn never_fires(&self) -> Option<String> {
        let Rule::Spec {
            minute,
            hour,
            dom,
            month,
            dow,
        } = self.rule
        else {
            return None;
        };
        let bits = |b: u64| b & !STAR;
        if [minute, hour, dom, month, dow]
            .iter()
            .any(|&b| bits(b) == 0)
        {
            return Some("a field matches no value".into());
        }
        let either = dom & STAR == 0 && dow & STAR == 0;
        if either {
            return None;
        }
        // Both day fields must match: a weekday always comes round, a day of month only in
        // the months long enough for it (29 February included: leap years come within the
        // five years looked ahead).
        let longest = |m: u32| match m {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let possible = (1..=12u32)
            .filter(|m| month & (1 << m) != 0)
            .any(|m| (1..=longest(m)).any(|d| dom & (1 << d) != 0));
        (!possible).then(|| "no month of the schedule has its day of month".into())
    }

    /// The first time strictly after `after` (at whole seconds) that the schedule fires,
    /// read in its `CRON_TZ` zone, else in `zone`; `None` when none comes within five years.
    pub fn next_after(&self, after: Time, zone: &TimeZone) -> Option<Time> {
        let zone = self.zone.as_ref().map_or(zone, |(_, tz)| tz);
        let micros = after.unix_micros();
        match self.rule {
            Rule::Every(secs) => {
                let whole = micros.div_euclid(1_000_000);
                let next = whole.checked_add(i64::try_from(secs).ok()?)?;
                Some(Time::from_unix_micros(next.checked_mul(1_000_000)?))
            }
            Rule::Spec {
                minute,
                hour,
                dom,
                month,
                dow,
            } => {
                let secs = micros.div_euclid(1_000_000) + 1;
                let start = Timestamp::from_second(secs)
                    .ok()?
                    .to_zoned_datetime(zone.clone());
                let t = next_spec(start, zone, [minute, hour, dom, month, dow])?;
                Some(Time::from_unix_micros(t.timestamp().as_microsecond()))
            }
        }
    }
}

/// Looks up an IANA time zone as Go's `time.LoadLocation` does: `""` and `UTC` are UTC,
/// `Local` is the host's zone, anything else is read from the system's zoneinfo.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    match name {
        "" | "UTC" => Ok(TimeZone::UTC),
        "Local" => Ok(TimeZone::system()),
        _ => TimeZone::get(name).map_err(|_| format!("unknown time zone {name}")),
    }
}

/// `t` written as Go's `time.RFC3339` writes it in `zone`: `2024-01-01T09:00:00+01:00`, or
/// with `Z` at offset zero.
pub fn rfc3339_in(t: Time, zone: &TimeZone) -> String {
    let secs = t.unix_micros().div_euclid(1_000_000);
    let Ok(ts) = Timestamp::from_second(secs) else {
        return t.to_string();
    };
    let z = ts.to_zoned_datetime(zone.clone());
    let offset = z.offset().seconds();
    let tail = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let o = offset.unsigned_abs();
        format!("{sign}{:02}:{:02}", o / 3600, o / 60 % 60)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{tail}",
        z.year(),
        z.month(),
        z.day(),
        z.hour(),
        z.minute(),
        z.second()
    )
}

/// `t` written as Go's `time.RFC1123Z` writes it in UTC: `Mon, 01 Jan 2024 09:00:00 +0000`
/// (the form of Kubernetes' `MissSchedule` event).
pub fn rfc1123z_utc(t: Time) -> String {
    match Timestamp::from_second(t.unix_micros().div_euclid(1_000_000)) {
        Ok(ts) => ts.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string(),
        Err(_) => t.to_string(),
    }
}

/// `@yearly` and friends.
fn descriptor(spec: &str) -> Result<Rule, CronError> {
    let fields = |m: &str, h: &str, dom: &str, mon: &str, dow: &str| -> Result<Rule, CronError> {
        Ok(Rule::Spec {
            minute: field(m, &MINUTES)?,
            hour: field(h, &HOURS)?,
            dom: field(dom, &DAYS_OF_MONTH)?,
            month: field(mon, &MONTHS)?,
            dow: field(dow, &DAYS_OF_WEEK)?,
        })
    };
    match spec {
        "@yearly" | "@annually" => fields("0", "0", "1", "1", "*"),
        "@monthly" => fields("0", "0", "1", "*", "*"),
        "@weekly" => fields("0", "0", "*", "*", "0"),
        "@daily" | "@midnight" => fields("0", "0", "*", "*", "*"),
        "@hourly" => fields("0", "*", "*", "*", "*"),
        _ => match spec.strip_prefix("@every ") {
            Some(d) => {
                let d = go_duration(d)
                    .map_err(|e| err(format!("failed to parse duration {spec}: {e}")))?;
                // robfig/cron: at least a second, truncated to whole seconds.
                Ok(Rule::Every(d.as_secs().max(1)))
            }
            None => Err(err(format!("unrecognized descriptor: {spec}"))),
        },
    }
}

/// A Go duration (`time.ParseDuration`): a sequence of decimal numbers, each with an
/// optional fraction and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), e.g. `1h30m`.
/// Negative durations are refused (no schedule could use one).
fn go_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

/// One field: a comma-separated list of ranges, OR-ed (empty list elements are skipped, as
/// Go's `strings.FieldsFunc` skips them).
fn field(f: &str, b: &Bounds) -> Result<u64, CronError> {
    f.split(',')
        .filter(|r| !r.is_empty())
        .try_fold(0, |bits, r| Ok(bits | range(r, b)?))
}

/// `*`, `?`, `N`, `N-M`, each with an optional `/step` (robfig/cron's `getRange`).
fn range(expr: &str, b: &Bounds) -> Result<u64, CronError> {
    let mut range_and_step = expr.split('/');
    let low_high_str = range_and_step.next().unwrap_or_default();
    let step_str = range_and_step.next();
    if range_and_step.next().is_some() {
        return Err(err(format!("too many slashes: {expr}")));
    }
    let low_high: Vec<&str> = low_high_str.split('-').collect();
    let single = low_high.len() == 1;
    let mut extra = 0;
    let (start, mut end) = if low_high[0] == "*" || low_high[0] == "?" {
        extra = STAR;
        (b.min, b.max)
    } else {
        let start = int_or_name(low_high[0], b)?;
        let end = match low_high.len() {
            1 => start,
            2 => int_or_name(low_high[1], b)?,
            _ => return Err(err(format!("too many hyphens: {expr}"))),
        };
        (start, end)
    };
    let step = match step_str {
        None => 1,
        Some(s) => {
            let step = int(s)?;
            // "N/step" means "N-max/step".
            if single {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
    };
    if start < b.min {
        return Err(err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        )));
    }
    if end > b.max {
        return Err(err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        )));
    }
    if start > end {
        return Err(err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        )));
    }
    if step == 0 {
        return Err(err(format!(
            "step of range should be a positive number: {expr}"
        )));
    }
    let bits = (start..=end)
        .step_by(step as usize)
        .fold(0u64, |acc, v| acc | 1 << v);
    Ok(bits | extra)
}

fn int_or_name(s: &str, b: &Bounds) -> Result<u32, CronError> {
    let lower = s.to_ascii_lowercase();
    if let Some(i) = b.names.iter().position(|n| *n == lower) {
        return Ok(b.first_name + i as u32);
    }
    int(s)
}

fn int(s: &str) -> Result<u32, CronError> {
    let n: i64 = s
        .parse()
        .map_err(|_| err(format!("failed to parse int from {s}: invalid syntax")))?;
    if n < 0 {
        return Err(err(format!("negative number ({n}) not allowed: {s}")));
    }
    // Larger than any bound: reported as out of range by the caller.
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// `y-m-d h:mi:s` in `zone`, a month past December rolling into the next year; a wall time
/// in a gap moves forward by the gap, one in a fold takes the earlier offset (as Go's
/// `time.Date`).
fn civil(zone: &TimeZone, y: i16, m: i8, d: i8, h: i8, mi: i8, s: i8) -> Option<Zoned> {
    let (y, m) = if m > 12 { (y + 1, m - 12) } else { (y, m) };
    let dt = DateTime::new(y, m, d, h, mi, s, 0).ok()?;
    zone.to_ambiguous_zoned_datetime(dt).compatible().ok()
}

fn plus_secs(t: &Zoned, secs: i64) -> Option<Zoned> {
    let ts = Timestamp::from_second(t.timestamp().as_second() + secs).ok()?;
    Some(ts.to_zoned_datetime(t.time_zone().clone()))
}

fn truncate(t: &Zoned, unit: i64) -> Option<Zoned> {
    let s = t.timestamp().as_second();
    plus_secs(t, s.div_euclid(unit) * unit - s)
}

fn day_matches(dom: u64, dow: u64, t: &Zoned) -> bool {
    let dom_match = dom & (1 << t.day()) != 0;
    let dow_match = dow & (1 << t.weekday().to_sunday_zero_offset()) != 0;
    if dom & STAR != 0 || dow & STAR != 0 {
        dom_match && dow_match
    } else {
        dom_match || dow_match
    }
}

/// robfig/cron's `SpecSchedule.Next` from `t` (already at the next whole second), with the
/// seconds field fixed to 0 as the standard parser fixes it.
fn next_spec(
    mut t: Zoned,
    zone: &TimeZone,
    [minute, hour, dom, month, dow]: [u64; 5],
) -> Option<Zoned> {
    let year_limit = t.year() + 5;
    let mut added = false;
    'wrap: loop {
        if t.year() > year_limit {
            return None;
        }
        while month & (1 << t.month()) == 0 {
            if !added {
                added = true;
                t = civil(zone, t.year(), t.month(), 1, 0, 0, 0)?;
            }
            t = civil(
                zone,
                t.year(),
                t.month() + 1,
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
            )?;
            if t.month() == 1 {
                continue 'wrap;
            }
        }
        while !day_matches(dom, dow, &t) {
            if !added {
                added = true;
                t = civil(zone, t.year(), t.month(), t.day(), 0, 0, 0)?;
            }
            let tomorrow = t.date().tomorrow().ok()?;
            t = civil(
                zone,
                tomorrow.year(),
                tomorrow.month(),
                tomorrow.day(),
                t.hour(),
                t.minute(),
                t.second(),
            )?;
            // Midnight may not exist (a DST change at 00:00): go back to the day's start.
            let h = i64::from(t.hour());
            if h != 0 {
                t = if h > 12 {
                    plus_secs(&t, (24 - h) * 3600)?
                } else {
                    plus_secs(&t, -h * 3600)?
                };
            }
            if t.day() == 1 {
                continue 'wrap;
            }
        }
        while hour & (1 << t.hour()) == 0 {
            if !added {
                added = true;
                t = civil(zone, t.year(), t.month(), t.day(), t.hour(), 0, 0)?;
            }
            t = plus_secs(&t, 3600)?;
            if t.hour() == 0 {
                continue 'wrap;
            }
        }
        while minute & (1 << t.minute()) == 0 {
            if !added {
                added = true;
                t = truncate(&t, 60)?;
            }
            t = plus_secs(&t, 60)?;
            if t.minute() == 0 {
                continue 'wrap;
            }
        }
        while t.second() != 0 {
            if !added {
                added = true;
                t = truncate(&t, 1)?;
            }
            t = plus_secs(&t, 1)?;
            if t.second() == 0 {
                continue 'wrap;
            }
        }
        return Some(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Time {
        s.parse().unwrap()
    }

    fn next(spec: &str, after: &str, zone: &str) -> String {
        let tz = time_zone(zone).unwrap();
        Schedule::parse(spec)
            .unwrap()
            .next_after(at(after), &tz)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    fn parse_err(spec: &str) -> String {
        Schedule::parse(spec).unwrap_err().to_string()
    }

    #[test]
    fn fields_ranges_steps_lists_and_names() {
        let utc = "UTC";
        assert_eq!(
            next("*/15 * * * *", "2024-01-01T00:00:00Z", utc),
            "2024-01-01T00:15:00Z"
        );
        assert_eq!(
            next("5 4 * * *", "2024-01-01T04:05:00Z", utc),
            "2024-01-02T04:05:00Z"
        );
        assert_eq!(
            next("0 9-17/4 * * mon-fri", "2024-01-05T13:00:00Z", utc),
            "2024-01-05T17:00:00Z"
        );
        // Friday 17:00 done: next is Monday 09:00.
        assert_eq!(
            next("0 9-17/4 * * MON-FRI", "2024-01-05T17:00:00Z", utc),
            "2024-01-08T09:00:00Z"
        );
        assert_eq!(
            next("30 2 1,15 jan,Jul ?", "2024-01-15T02:30:00Z", utc),
            "2024-07-01T02:30:00Z"
        );
        // "N/step" is "N-max/step".
        assert_eq!(
            next("50/5 * * * *", "2024-01-01T00:56:00Z", utc),
            "2024-01-01T01:50:00Z"
        );
        // Seconds within the minute are skipped; exactly on a time moves to the next.
        assert_eq!(
            next("* * * * *", "2024-01-01T00:00:30Z", utc),
            "2024-01-01T00:01:00Z"
        );
    }

    #[test]
    fn restricted_day_fields_match_either_and_a_star_makes_both_needed() {
        // 2024-01-02 is a Tuesday: "1st or Monday" next fires Monday the 8th.
        assert_eq!(
            next("0 0 1 * 1", "2024-01-02T00:00:00Z", "UTC"),
            "2024-01-08T00:00:00Z"
        );
        // "*/1" keeps the star: only Mondays.
        assert_eq!(
            next("0 0 */1 * 1", "2024-01-02T00:00:00Z", "UTC"),
            "2024-01-08T00:00:00Z"
        );
        // "*/2" is restricted: odd days or Mondays, so the 3rd.
        assert_eq!(
            next("0 0 */2 * 1", "2024-01-02T00:00:00Z", "UTC"),
            "2024-01-03T00:00:00Z"
        );
    }

    #[test]
    fn descriptors() {
        let utc = "UTC";
        let after = "2024-05-17T10:20:00Z";
        assert_eq!(next("@yearly", after, utc), "2025-01-01T00:00:00Z");
        assert_eq!(next("@annually", after, utc), "2025-01-01T00:00:00Z");
        assert_eq!(next("@monthly", after, utc), "2024-06-01T00:00:00Z");
        // 2024-05-17 is a Friday.
        assert_eq!(next("@weekly", after, utc), "2024-05-19T00:00:00Z");
        assert_eq!(next("@daily", after, utc), "2024-05-18T00:00:00Z");
        assert_eq!(next("@midnight", after, utc), "2024-05-18T00:00:00Z");
        assert_eq!(next("@hourly", after, utc), "2024-05-17T11:00:00Z");
        assert_eq!(next("@every 1h30m", after, utc), "2024-05-17T11:50:00Z");
        assert_eq!(
            parse_err("@fortnightly"),
            "unrecognized descriptor: @fortnightly"
        );
        assert!(parse_err("@every 5x").starts_with("failed to parse duration @every 5x"));
    }

    #[test]
    fn errors_are_robfig_crons() {
        assert_eq!(parse_err(""), "empty spec string");
        assert_eq!(
            parse_err("* * * *"),
            "expected exactly 5 fields, found 4: [* * * *]"
        );
        assert_eq!(
            parse_err("0 0 * * 7"),
            "end of range (7) above maximum (6): 7"
        );
        assert_eq!(
            parse_err("60 * * * *"),
            "end of range (60) above maximum (59): 60"
        );
        assert_eq!(
            parse_err("* * 0 * *"),
            "beginning of range (0) below minimum (1): 0"
        );
        assert_eq!(
            parse_err("5-1 * * * *"),
            "beginning of range (5) beyond end of range (1): 5-1"
        );
        assert_eq!(
            parse_err("*/0 * * * *"),
            "step of range should be a positive number: */0"
        );
        assert_eq!(parse_err("1-2-3 * * * *"), "too many hyphens: 1-2-3");
        assert_eq!(parse_err("*/2/2 * * * *"), "too many slashes: */2/2");
        assert_eq!(
            parse_err("x * * * *"),
            "failed to parse int from x: invalid syntax"
        );
        assert_eq!(
            parse_err("* * * * mon/fri"),
            "failed to parse int from fri: invalid syntax"
        );
        assert!(parse_err("CRON_TZ=Mars/Olympus * * * * *")
            .starts_with("provided bad location Mars/Olympus"));
        // Quartz and Vixie extensions robfig's standard parser refuses.
        assert!(Schedule::parse("0 0 L * *").is_err());
        assert!(Schedule::parse("0 0 * * 1#2").is_err());
        assert!(Schedule::parse("0 0 0 * * *").is_err());
    }

    #[test]
    fn a_schedule_that_never_fires_is_found() {
        let never = |s: &str| Schedule::parse(s).unwrap().never_fires();
        assert!(never("0 0 30 2 *").is_some());
        assert!(never("0 0 31 4,6 *").is_some());
        assert!(never("0 0 29 2 *").is_none());
        // Either day field may match: Mondays in February.
        assert!(never("0 0 30 2 mon").is_none());
        assert!(never("0 0 , * *").is_some());
        assert_eq!(
            Schedule::parse("0 0 29 2 *")
                .unwrap()
                .next_after(at("2024-03-01T00:00:00Z"), &TimeZone::UTC)
                .unwrap()
                .to_string(),
            "2028-02-29T00:00:00Z"
        );
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        // 09:00 in Berlin is 08:00 UTC in winter, 07:00 UTC in summer.
        assert_eq!(
            next("0 9 * * *", "2024-01-01T00:00:00Z", "Europe/Berlin"),
            "2024-01-01T08:00:00Z"
        );
        assert_eq!(
            next(
                "CRON_TZ=Europe/Berlin 0 9 * * *",
                "2024-07-01T00:00:00Z",
                "UTC"
            ),
            "2024-07-01T07:00:00Z"
        );
        // 02:30 does not exist on 2024-03-10 in New York: robfig/cron (so Kubernetes) skips
        // that day.
        assert_eq!(
            next("30 2 * * *", "2024-03-10T05:00:00Z", "America/New_York"),
            "2024-03-11T06:30:00Z"
        );
        // 01:30 comes twice on 2024-11-03: it runs at both.
        assert_eq!(
            next("30 1 * * *", "2024-11-03T04:00:00Z", "America/New_York"),
            "2024-11-03T05:30:00Z"
        );
        assert_eq!(
            next("30 1 * * *", "2024-11-03T05:30:00Z", "America/New_York"),
            "2024-11-03T06:30:00Z"
        );
        let tz = time_zone("Europe/Berlin").unwrap();
        assert_eq!(
            rfc3339_in(at("2024-01-01T08:00:00Z"), &tz),
            "2024-01-01T09:00:00+01:00"
        );
        assert_eq!(
            rfc3339_in(at("2024-01-01T08:00:00Z"), &TimeZone::UTC),
            "2024-01-01T08:00:00Z"
        );
        assert_eq!(
            rfc1123z_utc(at("2024-01-01T08:00:00Z")),
            "Mon, 01 Jan 2024 08:00:00 +0000"
        );
        assert_eq!(
            time_zone("Nowhere/Here").unwrap_err(),
            "unknown time zone Nowhere/Here"
        );
    }
}
