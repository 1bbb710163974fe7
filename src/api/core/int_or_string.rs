//! [`IntOrString`]: a field that holds either an integer or a string (`maxSurge: 1` or
//! `"25%"`, `targetPort: 8080` or `http`), and how a percentage resolves to a count.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A field that holds either an integer or a string: `maxSurge: 1` or `maxSurge: "25%"`,
/// `targetPort: 8080` or `targetPort: http`. Written back in the form it was read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// An integer: a count or a port number.
    Int(i32),
    /// A string: a percentage (`"25%"`) or a port name (`"http"`).
    String(String),
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl From<i32> for IntOrString {
    fn from(v: i32) -> Self {
        IntOrString::Int(v)
    }
}

impl From<&str> for IntOrString {
    fn from(v: &str) -> Self {
        IntOrString::String(v.to_string())
    }
}

impl From<String> for IntOrString {
    fn from(v: String) -> Self {
        IntOrString::String(v)
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl IntOrString {
    /// The percentage when the value is a string `"<integer>%"`.
    pub fn percent(&self) -> Option<i64> {
        match self {
            IntOrString::String(s) => s.strip_suffix('%')?.parse().ok(),
            IntOrString::Int(_) => None,
        }
    }

    /// The value as a count out of `total`: an integer as is, a percentage of `total`, rounded
    /// up or down (Kubernetes' `GetScaledValueFromIntOrPercent`). A string that is not a
    /// percentage is an error.
    pub fn resolve(&self, total: i32, round_up: bool) -> Result<i32, String> {
        match self {
            IntOrString::Int(i) => Ok(*i),
            IntOrString::String(s) => {
                let Some(number) = s.strip_suffix('%') else {
                    return Err(format!(
                        "invalid value {s:?}: not an integer or a percentage"
                    ));
                };
                let pct: i64 = number.parse().map_err(|_| {
                    format!("invalid value {s:?}: a percentage is an integer followed by '%'")
                })?;
                let product = i64::from(total) * pct;
                let scaled = if round_up {
                    -(-product).div_euclid(100)
                } else {
                    product.div_euclid(100)
                };
                i32::try_from(scaled).map_err(|_| format!("{s} of {total} is out of range"))
            }
        }
    }
}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(i) => s.serialize_i32(*i),
            IntOrString::String(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 32-bit integer or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn int_or_string_resolves_percentages() {
        assert_eq!(IntOrString::Int(3).resolve(10, true), Ok(3));
        assert_eq!(IntOrString::from("25%").resolve(10, true), Ok(3));
        assert_eq!(IntOrString::from("25%").resolve(10, false), Ok(2));
        assert_eq!(IntOrString::from("100%").resolve(7, false), Ok(7));
        assert_eq!(IntOrString::from("0%").resolve(7, true), Ok(0));
        assert!(IntOrString::from("http").resolve(10, true).is_err());
        assert!(IntOrString::from("x%").resolve(10, true).is_err());
        assert!(serde_json::from_value::<IntOrString>(json!(1u64 << 40)).is_err());
        assert_eq!(
            serde_json::to_value(IntOrString::from("25%")).unwrap(),
            json!("25%")
        );
    }
}
