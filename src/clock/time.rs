//! `Time`: a Kubernetes timestamp (metav1.Time), RFC 3339 on the wire.
//!
//! The calendar arithmetic is the proleptic Gregorian calendar in UTC, done by hand
//! (Howard Hinnant's `civil_from_days` / `days_from_civil`), with no leap seconds.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

/// A point in wall-clock time with microsecond precision, written as RFC 3339 in UTC
/// (`2024-01-01T00:00:00Z`; fractional seconds are written only when non-zero).
///
/// Years outside `0000..=9999` (which RFC 3339 cannot express) are written in the ISO 8601
/// expanded form, a sign and at least four digits (`+10000-01-01T00:00:00Z`,
/// `-0001-12-31T00:00:00Z`); parsing accepts that form too, so every `Time` round-trips.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(i64);

impl Time {
    /// The Unix epoch, `1970-01-01T00:00:00Z`.
    pub const UNIX_EPOCH: Time = Time(0);

    /// The time `micros` microseconds after the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> Self {
        Time(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// The time of a [`SystemTime`], truncated (towards the past) to the microsecond and
    /// saturated to the range of `Time`.
    pub fn from_system_time(t: SystemTime) -> Self {
        match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => Time(i64::try_from(after.as_micros()).unwrap_or(i64::MAX)),
            Err(e) => {
                // Before the epoch: round the distance up so the result is the floor.
                let micros = e.duration().as_nanos().div_ceil(1_000);
                Time(i64::try_from(micros).map_or(i64::MIN, |m| -m))
            }
        }
    }

    /// This time moved `d` into the future, truncated to the microsecond; saturates at the
    /// largest representable time.
    pub fn plus(self, d: Duration) -> Time {
        let micros = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Time(self.0.saturating_add(micros))
    }

    /// How long after `earlier` this time is; zero when it is not after `earlier`.
    pub fn saturating_duration_since(self, earlier: Time) -> Duration {
        if self.0 <= earlier.0 {
            return Duration::ZERO;
        }
        // The difference of two i64 always fits in a u64.
        let micros = (i128::from(self.0) - i128::from(earlier.0)) as u64;
        Duration::from_micros(micros)
    }
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month 1..=12, day 1..=31) to days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400); // [0, 399]
    let mp = i64::from((month + 9) % 12); // March-based month
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Time {
    /// Writes the RFC 3339 form into `buf` and returns it; no allocation, no `fmt` machinery
    /// (timestamps are written on every object encode, so this is on the write path).
    fn encode(self, buf: &mut [u8; 40]) -> &str {
        fn put(buf: &mut [u8; 40], at: &mut usize, v: u64, width: usize) {
            for i in (0..width).rev() {
                buf[*at + i] = b'0' + (v / 10u64.pow((width - 1 - i) as u32) % 10) as u8;
            }
            *at += width;
        }
        let days = self.0.div_euclid(MICROS_PER_DAY);
        let of_day = self.0.rem_euclid(MICROS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let secs = (of_day / MICROS_PER_SEC) as u64;
        let frac = (of_day % MICROS_PER_SEC) as u64;
        let mut at = 0;
        if !(0..=9999).contains(&year) {
            buf[0] = if year < 0 { b'-' } else { b'+' };
            at = 1;
        }
        let y = year.unsigned_abs();
        let width = if y > 9999 {
            (y.ilog10() + 1) as usize
        } else {
            4
        };
        put(buf, &mut at, y, width);
        for (sep, v) in [
            (b'-', month as u64),
            (b'-', day as u64),
            (b'T', secs / 3600),
            (b':', secs / 60 % 60),
            (b':', secs % 60),
        ] {
            buf[at] = sep;
            at += 1;
            put(buf, &mut at, v, 2);
        }
        if frac != 0 {
            buf[at] = b'.';
            at += 1;
            let mut digits = 6;
            let mut f = frac;
            while f % 10 == 0 {
                f /= 10;
                digits -= 1;
            }
            put(buf, &mut at, f, digits);
        }
        buf[at] = b'Z';
        at += 1;
        std::str::from_utf8(&buf[..at]).expect("only ASCII digits and separators are written")
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; 40]))
    }
}

/// The error of parsing a [`Time`] that is not an RFC 3339 timestamp.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 time {input:?}: {reason}")]
pub struct TimeParseError {
    input: String,
    reason: &'static str,
}

impl TimeParseError {
    /// The text that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it (`month out of range`, ...).
    pub fn reason(&self) -> &str {
        self.reason
    }
}

/// A cursor over the bytes of a timestamp being parsed.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize, what: &'static str) -> Result<u32, &'static str> {
        let mut value = 0u32;
        for _ in 0..n {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    value = value * 10 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => return Err(what),
            }
        }
        Ok(value)
    }

    fn expect(&mut self, accepted: &[u8], what: &'static str) -> Result<u8, &'static str> {
        match self.peek() {
            Some(b) if accepted.contains(&b) => {
                self.pos += 1;
                Ok(b)
            }
            _ => Err(what),
        }
    }
}

fn parse_rfc3339(s: &str) -> Result<Time, &'static str> {
    let mut c = Cursor {
        bytes: s.as_bytes(),
        pos: 0,
    };

    // Year: four digits, or the ISO 8601 expanded form (sign, four or more digits).
    let year: i64 = match c.peek() {
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let start = c.pos;
            while matches!(c.peek(), Some(b'0'..=b'9')) {
                c.pos += 1;
            }
            let digits = &s[start..c.pos];
            if digits.len() < 4 {
                return Err("expected at least four year digits after the sign");
            }
            // Anything longer than this is far outside the range of `Time`.
            if digits.len() > 9 {
                return Err("year out of range");
            }
            let magnitude: i64 = digits.parse().map_err(|_| "invalid year")?;
            if sign == b'-' {
                -magnitude
            } else {
                magnitude
            }
        }
        _ => i64::from(c.digits(4, "expected a four-digit year")?),
    };
    c.expect(b"-", "expected '-' after the year")?;
    let month = c.digits(2, "expected a two-digit month")?;
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    c.expect(b"-", "expected '-' after the month")?;
    let day = c.digits(2, "expected a two-digit day")?;
    if day < 1 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    c.expect(b"Tt", "expected 'T' between the date and the time")?;
    let hour = c.digits(2, "expected a two-digit hour")?;
    if hour > 23 {
        return Err("hour out of range");
    }
    c.expect(b":", "expected ':' after the hour")?;
    let minute = c.digits(2, "expected two-digit minutes")?;
    if minute > 59 {
        return Err("minute out of range");
    }
    c.expect(b":", "expected ':' after the minutes")?;
    let second = c.digits(2, "expected two-digit seconds")?;
    if second > 59 {
        return Err("second out of range");
    }

    // Fractional seconds: 1 to 9 digits, truncated to microseconds.
    let mut micros = 0i64;
    if c.peek() == Some(b'.') {
        c.pos += 1;
        let mut n = 0;
        while let Some(b @ b'0'..=b'9') = c.peek() {
            if n < 6 {
                micros = micros * 10 + i64::from(b - b'0');
            }
            n += 1;
            c.pos += 1;
        }
        if n == 0 {
            return Err("expected digits after the decimal point");
        }
        if n > 9 {
            return Err("more than nine fractional digits");
        }
        for _ in n..6 {
            micros *= 10;
        }
    }

    // Offset from UTC: `Z`, `z`, `+hh:mm` or `-hh:mm`.
    let offset_secs: i64 = match c.expect(b"Zz+-", "expected 'Z' or a '+hh:mm'/'-hh:mm' offset")? {
        b'Z' | b'z' => 0,
        sign => {
            let oh = c.digits(2, "expected a two-digit offset hour")?;
            c.expect(b":", "expected ':' in the offset")?;
            let om = c.digits(2, "expected two-digit offset minutes")?;
            if oh > 23 || om > 59 {
                return Err("offset out of range");
            }
            let secs = i64::from(oh * 3600 + om * 60);
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
    };
    if c.pos != s.len() {
        return Err("unexpected text after the offset");
    }

    let days = i128::from(days_from_civil(year, month, day));
    let secs = i128::from(hour * 3600 + minute * 60 + second) - i128::from(offset_secs);
    let total = (days * 86_400 + secs) * i128::from(MICROS_PER_SEC) + i128::from(micros);
    i64::try_from(total)
        .map(Time)
        .map_err(|_| "time out of range")
}

impl FromStr for Time {
    type Err = TimeParseError;

    /// Parses an RFC 3339 timestamp: `T` or `t` between date and time, `Z`, `z` or a
    /// `±hh:mm` offset, and 0 to 9 fractional digits (truncated to microseconds).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_rfc3339(s).map_err(|reason| TimeParseError {
            input: s.to_owned(),
            reason,
        })
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.encode(&mut [0; 40]))
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Time;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp such as \"2024-01-01T00:00:00Z\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Time, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> Time {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn epoch_is_written_as_rfc3339_utc() {
        assert_eq!(Time::UNIX_EPOCH.to_string(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn whole_seconds_have_no_fraction() {
        assert_eq!(
            Time::from_unix_micros(1_704_067_200_000_000).to_string(),
            "2024-01-01T00:00:00Z"
        );
    }

    #[test]
    fn fraction_is_written_with_trailing_zeros_trimmed() {
        assert_eq!(
            Time::from_unix_micros(1_500_000).to_string(),
            "1970-01-01T00:00:01.5Z"
        );
        assert_eq!(
            Time::from_unix_micros(1_000_001).to_string(),
            "1970-01-01T00:00:01.000001Z"
        );
        assert_eq!(
            Time::from_unix_micros(120_000).to_string(),
            "1970-01-01T00:00:00.12Z"
        );
    }

    #[test]
    fn times_before_the_epoch_are_written_correctly() {
        assert_eq!(
            Time::from_unix_micros(-1).to_string(),
            "1969-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            Time::from_unix_micros(-86_400_000_000).to_string(),
            "1969-12-31T00:00:00Z"
        );
    }

    #[test]
    fn leap_days_are_handled() {
        assert_eq!(
            t("2024-02-29T12:00:00Z").to_string(),
            "2024-02-29T12:00:00Z"
        );
        assert_eq!(
            t("2000-02-29T00:00:00Z").to_string(),
            "2000-02-29T00:00:00Z"
        );
        assert!("2023-02-29T00:00:00Z".parse::<Time>().is_err());
        assert!("1900-02-29T00:00:00Z".parse::<Time>().is_err());
    }

    #[test]
    fn parses_known_instants() {
        assert_eq!(
            t("2024-01-01T00:00:00Z").unix_micros(),
            1_704_067_200_000_000
        );
        assert_eq!(t("1970-01-01T00:00:00Z"), Time::UNIX_EPOCH);
        assert_eq!(
            t("0000-01-01T00:00:00Z").unix_micros(),
            -62_167_219_200_000_000
        );
        assert_eq!(
            t("9999-12-31T23:59:59Z").unix_micros(),
            253_402_300_799_000_000
        );
    }

    #[test]
    fn lowercase_separators_are_accepted() {
        assert_eq!(t("2024-01-01t00:00:00z"), t("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        assert_eq!(t("2024-01-01T02:30:00+02:30"), t("2024-01-01T00:00:00Z"));
        assert_eq!(t("2023-12-31T19:00:00-05:00"), t("2024-01-01T00:00:00Z"));
        assert_eq!(t("2024-01-01T00:00:00-00:00"), t("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn fractional_digits_are_truncated_to_microseconds() {
        assert_eq!(t("1970-01-01T00:00:00.123456789Z").unix_micros(), 123_456);
        assert_eq!(t("1970-01-01T00:00:00.1Z").unix_micros(), 100_000);
        assert_eq!(t("1969-12-31T23:59:59.9999999Z").unix_micros(), -1);
    }

    #[test]
    fn malformed_timestamps_are_rejected_naming_the_input() {
        for bad in [
            "",
            "2024-01-01",
            "2024-01-01 00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-32T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.1234567890Z",
            "2024-01-01T00:00:00+0100",
            "2024-01-01T00:00:00+24:00",
            "2024-01-01T00:00:00Zjunk",
            "24-01-01T00:00:00Z",
            "1704067200",
        ] {
            let err = bad.parse::<Time>().expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
            assert_eq!(err.input(), bad);
        }
    }

    #[test]
    fn out_of_range_years_use_the_expanded_form() {
        let far = t("9999-12-31T23:59:59Z").plus(Duration::from_secs(1));
        assert_eq!(far.to_string(), "+10000-01-01T00:00:00Z");
        assert_eq!(t("+10000-01-01T00:00:00Z"), far);
        let before_zero = Time::from_unix_micros(-62_167_219_200_000_000 - 1);
        assert_eq!(before_zero.to_string(), "-0001-12-31T23:59:59.999999Z");
        assert_eq!(t("-0001-12-31T23:59:59.999999Z"), before_zero);
        assert!("+999999999-01-01T00:00:00Z".parse::<Time>().is_err());
    }

    #[test]
    fn extremes_round_trip() {
        for micros in [i64::MIN, i64::MAX, 0, -1, 1] {
            let time = Time::from_unix_micros(micros);
            assert_eq!(t(&time.to_string()), time);
        }
    }

    #[test]
    fn serializes_as_the_rfc3339_string() {
        let time = t("2024-05-06T07:08:09.5Z");
        assert_eq!(
            serde_json::to_string(&time).unwrap(),
            "\"2024-05-06T07:08:09.5Z\""
        );
        let back: Time = serde_json::from_str("\"2024-05-06T09:08:09.5+02:00\"").unwrap();
        assert_eq!(back, time);
        let from_value: Time =
            serde_json::from_value(serde_json::json!("2024-05-06T07:08:09.5Z")).unwrap();
        assert_eq!(from_value, time);
    }

    #[test]
    fn deserializing_a_bad_string_names_it() {
        let err = serde_json::from_str::<Time>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("\"yesterday\""), "{err}");
        assert!(serde_json::from_str::<Time>("12").is_err());
    }

    #[test]
    fn plus_adds_and_saturates() {
        let time = Time::UNIX_EPOCH.plus(Duration::from_millis(1500));
        assert_eq!(time.unix_micros(), 1_500_000);
        assert_eq!(
            Time::UNIX_EPOCH.plus(Duration::from_nanos(999)),
            Time::UNIX_EPOCH
        );
        assert_eq!(
            Time::from_unix_micros(i64::MAX - 1)
                .plus(Duration::from_secs(1))
                .unix_micros(),
            i64::MAX
        );
        assert_eq!(Time::UNIX_EPOCH.plus(Duration::MAX).unix_micros(), i64::MAX);
    }

    #[test]
    fn duration_since_is_zero_when_not_later() {
        let a = Time::from_unix_micros(10);
        let b = Time::from_unix_micros(2_000_010);
        assert_eq!(b.saturating_duration_since(a), Duration::from_secs(2));
        assert_eq!(a.saturating_duration_since(b), Duration::ZERO);
        assert_eq!(a.saturating_duration_since(a), Duration::ZERO);
        let span = Time::from_unix_micros(i64::MAX)
            .saturating_duration_since(Time::from_unix_micros(i64::MIN));
        assert_eq!(span, Duration::from_micros(u64::MAX));
    }

    #[test]
    fn system_time_converts_on_both_sides_of_the_epoch() {
        let after = SystemTime::UNIX_EPOCH + Duration::from_micros(1_234_567);
        assert_eq!(Time::from_system_time(after).unix_micros(), 1_234_567);
        let before = SystemTime::UNIX_EPOCH - Duration::from_micros(5);
        assert_eq!(Time::from_system_time(before).unix_micros(), -5);
        let before_fraction = SystemTime::UNIX_EPOCH - Duration::from_nanos(1);
        assert_eq!(Time::from_system_time(before_fraction).unix_micros(), -1);
    }

    #[test]
    fn date_math_agrees_with_day_by_day_counting() {
        // Walk forward from 1969-01-01 for more than four centuries' worth of leap rules.
        let (mut y, mut m, mut d) = (1969i64, 1u32, 1u32);
        for days in -365..(365 * 450) {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            assert_eq!(days_from_civil(y, m, d), days);
            d += 1;
            if d > days_in_month(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(micros in any::<i64>()) {
            let time = Time::from_unix_micros(micros);
            prop_assert_eq!(time.to_string().parse::<Time>().unwrap(), time);
        }

        #[test]
        fn serde_round_trips(micros in -62_167_219_200_000_000i64..253_402_300_800_000_000) {
            let time = Time::from_unix_micros(micros);
            let json = serde_json::to_string(&time).unwrap();
            prop_assert_eq!(json.len(), 22 + if micros % 1_000_000 != 0 {
                1 + format!("{:06}", micros.rem_euclid(1_000_000)).trim_end_matches('0').len()
            } else { 0 });
            prop_assert_eq!(serde_json::from_str::<Time>(&json).unwrap(), time);
        }
    }
}
