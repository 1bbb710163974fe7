//! `Quantity`: Kubernetes resource amounts ("500m", "2", "128Mi", "1G").
//!
//! The syntax is Kubernetes' `resource.Quantity`:
//!
//! ```text
//! quantity        ::= signed-number suffix
//! signed-number   ::= [ "+" | "-" ] number
//! number          ::= digits | digits "." [ digits ] | "." digits
//! suffix          ::= binary-si | decimal-si | exponent
//! binary-si       ::= "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"          (powers of 1024)
//! decimal-si      ::= "n" | "u" | "m" | "" | "k" | "M" | "G" | "T" | "P" | "E"
//! exponent        ::= ( "e" | "E" ) [ "+" | "-" ] digits                  (powers of 10)
//! ```
//!
//! Values are computed exactly with integer arithmetic, never through floating point.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A resource quantity kept in the form it was written ("500m", "128Mi").
///
/// [`Quantity::parse`] and deserialization check the syntax; a `Quantity` built through the
/// public field is not checked, and one that does not parse has the value zero
/// ([`milli_value`](Quantity::milli_value) and friends return 0). [`validate`](Quantity::validate)
/// checks one built by hand.
///
/// Equality compares the text: `"1"` and `"1000m"` are different `Quantity`s with the same
/// [`milli_value`](Quantity::milli_value).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Quantity(pub String);

/// The error of a quantity that does not follow the Kubernetes syntax; its message quotes
/// the bad value: `invalid quantity "12x": unknown suffix "x" ...`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {input:?}: {reason}")]
pub struct QuantityError {
    input: String,
    reason: String,
}

impl QuantityError {
    /// The text that is not a quantity.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

const SYNTAX: &str = "a quantity is a number with an optional suffix: n, u, m, k, M, G, T, P, E, \
                      Ki, Mi, Gi, Ti, Pi, Ei, or an exponent such as e3";

/// A quantity taken apart: `(-1)^negative * int.frac * 1024^binary * 10^exp10`.
#[derive(Debug)]
struct Parts<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
    binary: u32,
    exp10: i64,
}

fn split(s: &str) -> Result<Parts<'_>, String> {
    if s.is_empty() {
        return Err(format!("empty string; {SYNTAX}"));
    }
    let (negative, rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (int, rest) = rest.split_at(int_len);
    let (frac, suffix) = match rest.strip_prefix('.') {
        Some(after) => {
            let frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
            after.split_at(frac_len)
        }
        None => ("", rest),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(format!("expected digits; {SYNTAX}"));
    }
    let (binary, exp10) = match suffix {
        "" => (0, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        "Ki" => (1, 0),
        "Mi" => (2, 0),
        "Gi" => (3, 0),
        "Ti" => (4, 0),
        "Pi" => (5, 0),
        "Ei" => (6, 0),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E']).filter(|e| {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            });
            match exponent {
                Some(e) => (
                    0,
                    e.parse::<i64>()
                        .map_err(|_| format!("exponent {e:?} is out of range"))?,
                ),
                None => return Err(format!("unknown suffix {suffix:?}; {SYNTAX}")),
            }
        }
    };
    Ok(Parts {
        negative,
        int,
        frac,
        binary,
        exp10,
    })
}

/// Largest integer part handled without overflow: below 10^19 before the binary factor.
const MAX_DIGITS: i128 = 19;

impl Parts<'_> {
    /// The significant digits (no leading or trailing zeros) and the power of ten they
    /// are scaled by, before the binary factor.
    fn significand(&self) -> (Vec<u8>, i128) {
        let mut digits: Vec<u8> = self
            .int
            .bytes()
            .chain(self.frac.bytes())
            .skip_while(|&b| b == b'0')
            .collect();
        let mut exp = i128::from(self.exp10) - self.frac.len() as i128;
        while digits.last() == Some(&b'0') {
            digits.pop();
            exp += 1;
        }
        (digits, exp)
    }

    /// The value times `10^scale`, rounded away from zero (as Kubernetes' `ScaledValue`),
    /// saturated to the `i64` range.
    fn scaled(&self, scale: i32) -> i64 {
        let (digits, exp) = self.significand();
        if digits.is_empty() {
            return 0;
        }
        let magnitude = if digits.len() as i128 <= MAX_DIGITS {
            magnitude_fast(&digits, exp + i128::from(scale), self.binary)
        } else {
            magnitude_slow(&digits, exp + i128::from(scale), self.binary)
        };
        to_i64(self.negative, magnitude)
    }

    fn as_f64(&self) -> f64 {
        let exp = i128::from(self.exp10) - self.frac.len() as i128;
        let text = format!(
            "{}{}{}e{exp}",
            if self.negative { "-" } else { "" },
            self.int,
            self.frac
        );
        let value: f64 = text.parse().unwrap_or(0.0);
        value * 1024f64.powi(self.binary as i32)
    }
}

/// `(floor(|value|), inexact)` of `digits * 1024^binary * 10^exp`, or `None` past `u128`.
/// `digits` has at most 19 digits, so `digits * 1024^6 < 2^124` fits in a `u128`.
fn magnitude_fast(digits: &[u8], exp: i128, binary: u32) -> Option<(u128, bool)> {
    let m = digits
        .iter()
        .fold(0u128, |m, d| m * 10 + u128::from(d - b'0'));
    let v = m << (10 * binary);
    if exp >= 0 {
        let factor = 10u128.checked_pow(u32::try_from(exp).ok()?)?;
        v.checked_mul(factor).map(|q| (q, false))
    } else if exp < -38 {
        // v < 2^124 < 10^38: the value is below one.
        Some((0, true))
    } else {
        let divisor = 10u128.pow((-exp) as u32);
        Some((v / divisor, v % divisor != 0))
    }
}

/// As [`magnitude_fast`], for any number of digits, by decimal long multiplication.
fn magnitude_slow(digits: &[u8], exp: i128, binary: u32) -> Option<(u128, bool)> {
    if digits.len() as i128 + exp > MAX_DIGITS {
        return None; // >= 10^19 > i64::MAX, whatever the binary factor
    }
    // Little-endian decimal digits.
    let mut v: Vec<u32> = digits.iter().rev().map(|d| u32::from(d - b'0')).collect();
    for _ in 0..binary {
        let mut carry = 0;
        for d in v.iter_mut() {
            let x = *d * 1024 + carry;
            *d = x % 10;
            carry = x / 10;
        }
        while carry > 0 {
            v.push(carry % 10);
            carry /= 10;
        }
    }
    let len = v.len() as i128;
    if len + exp <= 0 {
        return Some((0, true)); // non-zero, below one
    }
    // Fewer than 19 + 19 integer digits: they fit in a u128.
    let cut = if exp < 0 { (-exp) as usize } else { 0 };
    let mut q = v[cut..]
        .iter()
        .rev()
        .fold(0u128, |q, &d| q * 10 + u128::from(d));
    for _ in 0..exp.max(0) {
        q = q.checked_mul(10)?;
    }
    Some((q, v[..cut].iter().any(|&d| d != 0)))
}

fn to_i64(negative: bool, magnitude: Option<(u128, bool)>) -> i64 {
    let Some((q, inexact)) = magnitude else {
        return if negative { i64::MIN } else { i64::MAX };
    };
    let q = q.saturating_add(u128::from(inexact));
    if negative {
        i64::try_from(-(q.min(1 << 63) as i128)).unwrap_or(i64::MIN)
    } else {
        i64::try_from(q).unwrap_or(i64::MAX)
    }
}

/// `mantissa * 1000^exp3` written with the largest decimal suffix that keeps it an integer.
fn canonical_decimal(mut mantissa: i128, mut exp3: i32) -> Quantity {
    if mantissa == 0 {
        return Quantity("0".to_owned());
    }
    while mantissa % 1000 == 0 && exp3 < 6 {
        mantissa /= 1000;
        exp3 += 1;
    }
    let suffix = match exp3 {
        -1 => "m",
        0 => "",
        1 => "k",
        2 => "M",
        3 => "G",
        4 => "T",
        5 => "P",
        _ => "E",
    };
    Quantity(format!("{mantissa}{suffix}"))
}

impl Quantity {
    /// Checks the syntax and keeps the text as written.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        match split(s) {
            Ok(_) => Ok(Quantity(s.to_owned())),
            Err(reason) => Err(QuantityError {
                input: s.to_owned(),
                reason,
            }),
        }
    }

    /// Checks the syntax of a `Quantity` built through its public field.
    pub fn validate(&self) -> Result<(), QuantityError> {
        split(&self.0).map(|_| ()).map_err(|reason| QuantityError {
            input: self.0.clone(),
            reason,
        })
    }

    /// The value in thousandths (`"500m"` → 500, `"2"` → 2000, `"1Ki"` → 1 024 000).
    ///
    /// Like Kubernetes' `MilliValue`, a value finer than a thousandth is rounded up, away
    /// from zero (`"1n"` → 1, `"-1n"` → -1); values past the `i64` range saturate; a
    /// quantity that does not parse is 0.
    pub fn milli_value(&self) -> i64 {
        split(&self.0).map_or(0, |p| p.scaled(3))
    }

    /// The value in units (`"2"` → 2, `"1Ki"` → 1024, `"1k"` → 1000), rounded up away from
    /// zero like Kubernetes' `Value` (`"100m"` → 1); saturating; 0 when it does not parse.
    pub fn value(&self) -> i64 {
        split(&self.0).map_or(0, |p| p.scaled(0))
    }

    /// The value as a float, for display and ratios; 0.0 when it does not parse.
    pub fn as_f64(&self) -> f64 {
        split(&self.0).map_or(0.0, |p| p.as_f64())
    }

    /// The canonical decimal form of `milli` thousandths: `500m`, `2`, `1500m`, `2k`.
    pub fn from_milli(milli: i64) -> Quantity {
        canonical_decimal(i128::from(milli), -1)
    }

    /// The canonical decimal form of `value` units: `2`, `1500`, `2k`, `5M`.
    pub fn from_value(value: i64) -> Quantity {
        canonical_decimal(i128::from(value), 0)
    }

    /// A byte count in binary units when exact (`128Mi`, `1Gi`), otherwise a plain integer
    /// (`1000`, `1536`).
    pub fn from_bytes_binary(bytes: i64) -> Quantity {
        const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
        let (mut mantissa, mut power) = (bytes, 0);
        while mantissa != 0 && mantissa % 1024 == 0 && power < 6 {
            mantissa /= 1024;
            power += 1;
        }
        Quantity(format!("{mantissa}{}", SUFFIXES[power]))
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// Accepts a string (surrounding whitespace is trimmed, as Kubernetes does) or a number
    /// (YAML `cpu: 2`, kept as its decimal text), and checks the syntax.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity string (\"500m\", \"128Mi\") or number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v.trim()).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                if v.is_finite() {
                    Ok(Quantity(v.to_string()))
                } else {
                    Err(E::custom(format!(
                        "invalid quantity \"{v}\": not a finite number"
                    )))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn accepts_every_kubernetes_form() {
        for ok in [
            "0", "1", "+1", "-1", "1.", ".5", "0.1", "100m", "500u", "10n", "1k", "1M", "1G", "1T",
            "1P", "1E", "1Ki", "1Mi", "1.5Gi", "1Ti", "1Pi", "1Ei", "1e3", "12E-3", "1e+3",
            "1.5e2", "007",
        ] {
            assert_eq!(q(ok).0, ok);
        }
    }

    #[test]
    fn rejects_malformed_quantities_quoting_them() {
        for bad in [
            "",
            " 1",
            "1 ",
            "abc",
            "1x",
            "1K",
            "1mi",
            "1KiB",
            "1e",
            "1e+",
            "1E-",
            "1.2.3",
            ".",
            "-",
            "+m",
            "1e3.5",
            "1Gi3",
            "--1",
            "1e99999999999999999999",
            "m",
        ] {
            let err = Quantity::parse(bad).expect_err(bad);
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("invalid quantity {bad:?}: ")),
                "{text}"
            );
            assert_eq!(err.input(), bad);
        }
    }

    #[test]
    fn unknown_suffix_is_named_in_the_error() {
        let err = Quantity::parse("12x").unwrap_err();
        assert!(err.reason().starts_with("unknown suffix \"x\""), "{err}");
    }

    #[test]
    fn milli_value_is_exact_for_common_forms() {
        for (s, milli) in [
            ("0.1", 100),
            ("100m", 100),
            ("2", 2000),
            ("1Gi", 1_073_741_824_000),
            ("1e3", 1_000_000),
            ("12E-3", 12),
            ("1.5Gi", 1_610_612_736_000),
            ("123456789n", 124),
            ("1k", 1_000_000),
            ("-1.5", -1500),
            ("0.0001Ki", 103),
            (".5", 500),
            ("5.", 5000),
            ("0", 0),
            ("-0", 0),
            ("0.000e10", 0),
        ] {
            assert_eq!(q(s).milli_value(), milli, "{s}");
        }
    }

    #[test]
    fn milli_value_rounds_away_from_zero_like_kubernetes() {
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("1u").milli_value(), 1);
        assert_eq!(q("-1n").milli_value(), -1);
        assert_eq!(q("1001u").milli_value(), 2);
        assert_eq!(q("1e-100").milli_value(), 1);
    }

    #[test]
    fn value_rounds_up() {
        assert_eq!(q("100m").value(), 1);
        assert_eq!(q("1500m").value(), 2);
        assert_eq!(q("2").value(), 2);
        assert_eq!(q("1Ki").value(), 1024);
        assert_eq!(q("0.1Ki").value(), 103);
        assert_eq!(q("-100m").value(), -1);
        assert_eq!(q("1Ei").value(), 1 << 60);
    }

    #[test]
    fn huge_values_saturate() {
        assert_eq!(q("8Ei").value(), i64::MAX);
        assert_eq!(q("-8Ei").value(), i64::MIN);
        assert_eq!(q("9223372036854775807").value(), i64::MAX);
        assert_eq!(q("9223372036854775808").value(), i64::MAX);
        assert_eq!(q("-9223372036854775808").value(), i64::MIN);
        assert_eq!(q("-9223372036854775809").value(), i64::MIN);
        assert_eq!(q("1E").milli_value(), i64::MAX);
        assert_eq!(q("1e400").value(), i64::MAX);
        assert_eq!(q("-1e9223372036854775807").milli_value(), i64::MIN);
        assert_eq!(q("123456789012345678901234567890").value(), i64::MAX);
    }

    #[test]
    fn long_significands_are_exact() {
        assert_eq!(q("1.23456789012345678901234567890").milli_value(), 1235);
        assert_eq!(
            q("0.00000000000000000000000000000000000001Ei").milli_value(),
            1
        );
        assert_eq!(q("1.000000000000000000000000000001Ki").value(), 1025);
        assert_eq!(q("4.00000000000000000000000Ki").value(), 4096);
        assert_eq!(q("12345678901234567890123e-10").value(), 1_234_567_890_124);
    }

    #[test]
    fn a_quantity_that_does_not_parse_is_zero() {
        let bad = Quantity("lots".to_owned());
        assert_eq!(bad.milli_value(), 0);
        assert_eq!(bad.value(), 0);
        assert_eq!(bad.as_f64(), 0.0);
        assert!(bad.validate().is_err());
        assert!(q("1Mi").validate().is_ok());
    }

    #[test]
    fn as_f64_follows_the_suffix() {
        assert_eq!(q("500m").as_f64(), 0.5);
        assert_eq!(q("1.5Gi").as_f64(), 1.5 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(q("-2k").as_f64(), -2000.0);
        assert_eq!(q("1e-3").as_f64(), 0.001);
        assert_eq!(q("1e999").as_f64(), f64::INFINITY);
    }

    #[test]
    fn from_milli_writes_canonical_decimal() {
        assert_eq!(Quantity::from_milli(500).0, "500m");
        assert_eq!(Quantity::from_milli(2000).0, "2");
        assert_eq!(Quantity::from_milli(1500).0, "1500m");
        assert_eq!(Quantity::from_milli(0).0, "0");
        assert_eq!(Quantity::from_milli(-250).0, "-250m");
        assert_eq!(Quantity::from_milli(3_000_000).0, "3k");
        assert_eq!(Quantity::from_milli(i64::MIN).milli_value(), i64::MIN);
    }

    #[test]
    fn from_value_writes_canonical_decimal() {
        assert_eq!(Quantity::from_value(2).0, "2");
        assert_eq!(Quantity::from_value(1500).0, "1500");
        assert_eq!(Quantity::from_value(5_000_000).0, "5M");
        assert_eq!(Quantity::from_value(i64::MAX).value(), i64::MAX);
    }

    #[test]
    fn from_bytes_binary_uses_binary_suffixes_when_exact() {
        assert_eq!(Quantity::from_bytes_binary(128 << 20).0, "128Mi");
        assert_eq!(Quantity::from_bytes_binary(1 << 30).0, "1Gi");
        assert_eq!(Quantity::from_bytes_binary(1536).0, "1536");
        assert_eq!(Quantity::from_bytes_binary(1000).0, "1000");
        assert_eq!(Quantity::from_bytes_binary(0).0, "0");
        assert_eq!(Quantity::from_bytes_binary(i64::MIN).0, "-8Ei");
        assert_eq!(Quantity::from_bytes_binary(1 << 62).0, "4Ei");
    }

    #[test]
    fn deserializes_strings_and_numbers() {
        let from_str: Quantity = serde_json::from_str("\"128Mi\"").unwrap();
        assert_eq!(from_str.0, "128Mi");
        let from_int: Quantity = serde_json::from_str("2").unwrap();
        assert_eq!(from_int.0, "2");
        let from_neg: Quantity = serde_json::from_str("-3").unwrap();
        assert_eq!(from_neg.0, "-3");
        let from_float: Quantity = serde_json::from_str("0.5").unwrap();
        assert_eq!(from_float.milli_value(), 500);
        let from_value: Quantity = serde_json::from_value(serde_json::json!(1.5)).unwrap();
        assert_eq!(from_value.milli_value(), 1500);
        let trimmed: Quantity = serde_json::from_str("\" 1Gi \"").unwrap();
        assert_eq!(trimmed.0, "1Gi");
    }

    #[test]
    fn deserializing_garbage_quotes_the_value() {
        let err = serde_json::from_str::<Quantity>("\"2 cores\"").unwrap_err();
        assert!(
            err.to_string().contains("invalid quantity \"2 cores\""),
            "{err}"
        );
        assert!(serde_json::from_str::<Quantity>("true").is_err());
        assert!(serde_json::from_str::<Quantity>("null").is_err());
    }

    #[test]
    fn serializes_the_text_as_written() {
        assert_eq!(serde_json::to_string(&q("1.50")).unwrap(), "\"1.50\"");
    }

    fn suffix() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
            "e0", "e3", "E-3", "e-12", "e+5", "e21", "e-40",
        ])
    }

    proptest! {
        #[test]
        fn from_milli_round_trips(milli in any::<i64>()) {
            prop_assert_eq!(q(&Quantity::from_milli(milli).0).milli_value(), milli);
            prop_assert_eq!(Quantity::from_milli(milli).to_string().parse::<Quantity>().unwrap(), Quantity::from_milli(milli));
        }

        #[test]
        fn from_value_round_trips(value in any::<i64>()) {
            prop_assert_eq!(q(&Quantity::from_value(value).0).value(), value);
        }

        #[test]
        fn from_bytes_binary_round_trips(bytes in any::<i64>()) {
            let canonical = Quantity::from_bytes_binary(bytes);
            prop_assert_eq!(canonical.value(), bytes);
            prop_assert_eq!(canonical.to_string().parse::<Quantity>().unwrap(), canonical);
        }

        #[test]
        fn milli_value_of_canonical_milli_is_canonical(s in "-?[0-9]{1,18}") {
            let milli: i64 = s.parse().unwrap();
            prop_assert_eq!(Quantity::from_milli(q(&format!("{s}m")).milli_value()), Quantity::from_milli(milli));
        }

        #[test]
        fn long_multiplication_agrees_with_the_fast_path(
            digits in "[1-9][0-9]{0,17}[1-9]",
            exp in -45i128..25,
            binary in 0u32..=6,
        ) {
            prop_assert_eq!(
                magnitude_slow(digits.as_bytes(), exp, binary).filter(|(q, _)| *q <= i64::MAX as u128),
                magnitude_fast(digits.as_bytes(), exp, binary).filter(|(q, _)| *q <= i64::MAX as u128)
            );
        }

        #[test]
        fn every_generated_quantity_parses_and_agrees_with_floats(
            sign in "[+-]?",
            int in "[0-9]{0,6}",
            frac in "[0-9]{1,6}",
            suffix in suffix(),
        ) {
            let text = format!("{sign}{int}.{frac}{suffix}");
            let quantity = q(&text);
            let exact = quantity.milli_value() as f64;
            let approx = quantity.as_f64() * 1000.0;
            if approx.abs() < 1e15 {
                // Rounding away from zero moves the value by less than one milli.
                prop_assert!((exact - approx).abs() <= 1.0 + approx.abs() * 1e-12, "{} {} {}", text, exact, approx);
            }
        }
    }
}
