//! YAML scalars resolved with the YAML 1.2 core schema (booleans, integers in any base,
//! floats, nulls, strings) and the core-schema tags, as the module documentation of
//! [`super`] describes.

use saphyr_parser::{ScalarStyle, Tag};
use serde_json::{Number, Value};

/// The non-specific tag `!`.
pub(super) fn is_non_specific(tag: &Tag) -> bool {
    (tag.handle.is_empty() && tag.suffix == "!") || (tag.handle == "!" && tag.suffix.is_empty())
}

/// A tag as written (`!!int`, `!local`).
pub(super) fn show_tag(tag: &Tag) -> String {
    if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else if tag.handle.is_empty() {
        tag.suffix.clone()
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// Resolves a scalar to JSON with the YAML 1.2 core schema.
pub(super) fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
) -> Result<Value, String> {
    let Some(tag) = tag else {
        return if style == ScalarStyle::Plain {
            resolve_plain(text)
        } else {
            Ok(Value::String(text.to_owned()))
        };
    };
    if is_non_specific(tag) {
        return Ok(Value::String(text.to_owned()));
    }
    if !tag.is_yaml_core_schema() {
        return Err(format!("unsupported tag {}", show_tag(tag)));
    }
    let invalid = || format!("{text:?} is not a valid !!{}", tag.suffix);
    match tag.suffix.as_str() {
        "str" | "binary" | "timestamp" => Ok(Value::String(text.to_owned())),
        "null" => match text {
            "" | "~" | "null" | "Null" | "NULL" => Ok(Value::Null),
            _ => Err(invalid()),
        },
        "bool" => parse_bool(text).map(Value::Bool).ok_or_else(invalid),
        "int" => parse_int(text)?.ok_or_else(invalid),
        "float" => {
            check_special_float(text)?;
            let number = if is_float(text) {
                text.parse::<f64>().map_err(|_| invalid())?
            } else {
                match parse_int(text)? {
                    Some(Value::Number(n)) => n.as_f64().ok_or_else(invalid)?,
                    _ => return Err(invalid()),
                }
            };
            float(number, text)
        }
        _ => Err(format!("unsupported tag {} on a scalar", show_tag(tag))),
    }
}

/// Resolves an untagged plain scalar.
fn resolve_plain(text: &str) -> Result<Value, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        _ => {}
    }
    if let Some(b) = parse_bool(text) {
        return Ok(Value::Bool(b));
    }
    check_special_float(text)?;
    if let Some(int) = parse_int(text)? {
        return Ok(int);
    }
    if is_float(text) {
        let number = text
            .parse::<f64>()
            .map_err(|e| format!("invalid number {text}: {e}"))?;
        return float(number, text);
    }
    Ok(Value::String(text.to_owned()))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Rejects `.inf`, `-.inf`, `.nan` and friends, which JSON cannot represent.
fn check_special_float(text: &str) -> Result<(), String> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let infinite = matches!(unsigned, ".inf" | ".Inf" | ".INF");
    let nan = matches!(text, ".nan" | ".NaN" | ".NAN");
    if infinite || nan {
        Err(format!(
            "{text} (an infinite or not-a-number float) cannot be represented in JSON"
        ))
    } else {
        Ok(())
    }
}

/// A finite float as JSON.
pub(super) fn float(number: f64, text: &str) -> Result<Value, String> {
    Number::from_f64(number)
        .map(Value::Number)
        .ok_or_else(|| format!("{text} is out of range for a JSON number"))
}

/// Core-schema integers: `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`. `Ok(None)` if `text` is
/// not an integer.
fn parse_int(text: &str) -> Result<Option<Value>, String> {
    let radix = |digits: &str, radix: u32| -> Result<Option<Value>, String> {
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Ok(None);
        }
        u64::from_str_radix(digits, radix)
            .map(|n| Some(Value::from(n)))
            .map_err(|_| format!("integer {text} is out of range"))
    };
    if let Some(digits) = text.strip_prefix("0o") {
        return radix(digits, 8);
    }
    if let Some(digits) = text.strip_prefix("0x") {
        return radix(digits, 16);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    // YAML 1.1 (Kubernetes) octal: `0644`.
    if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b < b'8') {
        let n = i64::from_str_radix(digits, 8)
            .map_err(|_| format!("integer {text} is out of range"))?;
        return Ok(Some(Value::from(if text.starts_with('-') {
            -n
        } else {
            n
        })));
    }
    if let Ok(n) = text.parse::<i64>() {
        return Ok(Some(Value::from(n)));
    }
    if !text.starts_with('-') {
        if let Ok(n) = digits.parse::<u64>() {
            return Ok(Some(Value::from(n)));
        }
    }
    let number = text
        .parse::<f64>()
        .map_err(|e| format!("invalid number {text}: {e}"))?;
    float(number, text).map(Some)
}

/// Core-schema floats: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits_from = |mut i: usize| {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i - start
    };
    let mut i = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
    let whole = digits_from(i);
    i += whole;
    if bytes.get(i) == Some(&b'.') {
        let fraction = digits_from(i + 1);
        if whole == 0 && fraction == 0 {
            return false;
        }
        i += 1 + fraction;
    } else if whole == 0 {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exponent = digits_from(i);
        if exponent == 0 {
            return false;
        }
        i += exponent;
    }
    i == bytes.len()
}

#[cfg(test)]
mod tests {
    use crate::manifest::parse::tests::{parse, parse_err};
    use serde_json::json;

    #[test]
    fn integers_stay_integers_and_floats_stay_floats() {
        let doc = &parse(
            "a: 3\nb: -7\nc: +4\nd: 0o17\ne: 0x1F\nf: 1.5\ng: 2.0\nh: 1e3\ni: .5\nj: 017\nk: 18446744073709551615\nl: 99999999999999999999999\nm: 0400\nn: 089\no: 0\n",
        )[0];
        let v = &doc.value;
        assert!(v["a"].is_i64() && v["a"] == json!(3));
        assert_eq!(v["b"], json!(-7));
        assert_eq!(v["c"], json!(4));
        assert_eq!(v["d"], json!(15));
        assert_eq!(v["e"], json!(31));
        assert_eq!(v["f"], json!(1.5));
        assert!(v["g"].is_f64());
        assert_eq!(v["h"], json!(1000.0));
        assert_eq!(v["i"], json!(0.5));
        // Kubernetes reads a leading 0 as octal: `defaultMode: 0400` is 256.
        assert_eq!(v["j"], json!(15));
        assert_eq!(v["m"], json!(256));
        assert_eq!(v["n"], json!(89));
        assert_eq!(v["o"], json!(0));
        assert_eq!(v["k"], json!(u64::MAX));
        assert!(v["l"].is_f64());
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let doc =
            &parse("on: yes\noff: no\ny: n\nt: true\nT: TRUE\nf: False\nx: 1_000\nv: 1.2.3\n")[0];
        assert_eq!(
            doc.value,
            json!({"on": "yes", "off": "no", "y": "n", "t": true, "T": true, "f": false, "x": "1_000", "v": "1.2.3"})
        );
    }

    #[test]
    fn nulls_and_quoted_scalars_resolve_like_yaml_1_2() {
        let doc = &parse("a:\nb: ~\nc: null\nd: 'null'\ne: \"3\"\nf: |\n  text\ng: '~'\n")[0];
        assert_eq!(
            doc.value,
            json!({"a": null, "b": null, "c": null, "d": "null", "e": "3", "f": "text\n", "g": "~"})
        );
    }

    #[test]
    fn tags_from_the_core_schema_are_applied() {
        let doc = &parse(
            "a: !!str 3\nb: !!int \"4\"\nc: !!float 5\nd: ! 6\ne: !!bool 'true'\nf: !!map {x: 1}\n",
        )[0];
        assert_eq!(
            doc.value,
            json!({"a": "3", "b": 4, "c": 5.0, "d": "6", "e": true, "f": {"x": 1}})
        );
    }

    #[test]
    fn unknown_and_mismatched_tags_are_errors() {
        let e = parse_err("a: 1\nb: !Ref thing\n");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("!Ref"), "{e}");
        assert!(parse_err("a: !!int nope\n").message.contains("!!int"));
        assert!(parse_err("a: !!seq {x: 1}\n").message.contains("!!seq"));
    }

    #[test]
    fn non_json_floats_are_errors_naming_the_line() {
        for bad in [".inf", "-.inf", ".NaN", "1e999"] {
            let e = parse_err(&format!("kind: X\nvalue: {bad}\n"));
            assert_eq!((e.document, e.line), (1, Some(2)), "{bad}: {e}");
        }
    }
}
