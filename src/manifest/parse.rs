//! Turning manifest text (YAML or JSON) into JSON documents that remember their lines.
//!
//! [`parse_documents`] accepts:
//!
//! * YAML: one or many documents separated by `---`. Empty documents (including documents made
//!   only of comments, and documents that are an explicit `null`) are skipped.
//! * JSON: an object, an array of objects, or several JSON values one after the other.
//!
//! Every document must be a mapping (object). A top-level sequence (array) expands to its
//! elements, and a document whose `kind` is `List` (or ends with `List` and has an `items`
//! array, like `PodList`) expands to its `items`. Expansion happens at document level only: an
//! element of a top-level array that is itself a `List` is returned as it is.
//!
//! # YAML dialect
//!
//! YAML is read with the YAML 1.2 **core schema**, which is what JSON users expect:
//!
//! * `on`, `off`, `yes`, `no`, `y`, `n` are strings (YAML 1.1 made them booleans); only
//!   `true`/`false` (also `True`, `TRUE`, ...) are booleans.
//! * Integers stay integers (`replicas: 3` is the JSON number `3`, not `3.0`); `0o17` is octal
//!   and `0x1f` hexadecimal. `0400` is octal too (256), as Kubernetes' YAML reader (YAML 1.1)
//!   reads it: manifests from the Kubernetes documentation write file modes that way
//!   (`defaultMode: 0400`), and reading them as decimal would silently give another mode.
//!   Digits after a leading `0` that are not all octal (`089`) stay decimal. An integer too
//!   large for 64 bits becomes a floating-point number.
//! * `~`, `null` and an empty value are `null`.
//! * `.inf`, `-.inf` and `.nan` are errors: JSON cannot represent them.
//! * Mapping keys must be strings: `8080: tcp` is an error naming the line (write `"8080"`).
//! * A key given twice in one mapping is an error naming both lines.
//! * Anchors and aliases are resolved; the YAML 1.1 merge key `<<` (`<<: *defaults`, or a
//!   sequence of aliases) is supported, explicit keys winning over merged ones. To guard
//!   against "billion laughs" inputs, aliases may expand to at most 1,000,000 nodes in total.
//! * Core-schema tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`,
//!   `!!binary`, `!!timestamp`) and the non-specific tag `!` are understood; any other tag is an
//!   error.
//! * Nesting is limited to 128 levels, like `serde_json`.
//!
//! # JSON input
//!
//! Text that starts like JSON (`{"`, `{}`, `[{"`, `[1`, ...) is read with `serde_json` (exact
//! numbers, speed), as one or more JSON values, and held to JSON: a JSON syntax error is
//! reported as such even where YAML would accept the text (YAML reads `{"a": }` as
//! `{"a": null}`). The one exception is JSON documents separated by `---` lines, which are
//! read as YAML. Text that does not start like JSON (`{a: b}`, `[{a: b}]`) is YAML. Like
//! `serde_json`, a key given twice in JSON keeps its last value.
//!
//! # Field lines
//!
//! [`Document::line_of`] maps a field path to the line of that field. Paths are written
//! `spec.template.spec.containers[0].image`: keys separated by `.`, array indices in brackets,
//! and keys that are not made only of ASCII letters, digits, `_` and `-` written as a JSON
//! string in brackets, e.g. `metadata.labels["app.kubernetes.io/name"]` (the format of
//! `client::merge::unknown_fields`). Kubernetes-style `metadata.labels[app.kubernetes.io/name]`
//! (unquoted in brackets) and plainly dotted `metadata.labels.app.kubernetes.io/name` are
//! accepted too.
//!
//! # The files
//!
//! This file holds the entry point and what it returns; `json` and `yaml` are the two
//! readers, `scalar` resolves YAML scalars and tags, `lines` is the line map behind
//! [`Document::line_of`], and `documents` turns each value read into documents.

mod documents;
mod json;
mod lines;
mod scalar;
mod yaml;

use json::parse_json;
use lines::{parse_path, walk_lines, Lines};
use serde_json::Value;
use yaml::parse_yaml;

/// Deepest nesting of mappings and sequences accepted in YAML (the same limit as `serde_json`).
const MAX_DEPTH: usize = 128;

/// One object read from a manifest, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 0-based position of the document in the text, counting documents as written: every
    /// YAML document separated by `---` counts, including empty ones that were skipped, and
    /// each JSON value of a JSON stream counts.
    pub index: usize,
    /// Position inside the `List` (its `items`) or top-level array this object was taken
    /// from; `None` when the document itself is the object.
    pub item: Option<usize>,
    /// 1-based line where the object starts (its first key for block YAML, its `{` for JSON
    /// and flow YAML).
    pub line: usize,
    /// The object, as JSON.
    pub value: Value,
    /// Lines of the fields of `value`.
    lines: Lines,
}

impl Document {
    /// Returns the 1-based line where the field at `path` appears, or `None` if there is no
    /// such field or the path is malformed.
    ///
    /// For a mapping key this is the line of the key; for an array element (`containers[0]`)
    /// the line where the element starts. The empty path gives [`Document::line`]. Paths use
    /// the format described in the [module documentation](self): `metadata.name`,
    /// `spec.template.spec.containers[0].image`, `metadata.labels["app.kubernetes.io/name"]`;
    /// the Kubernetes field-path forms `metadata.labels[app.kubernetes.io/name]` (a key that
    /// is not a number, unquoted in brackets) and `metadata.labels.app.kubernetes.io/name` (a
    /// dotted key written plainly, as `serde_path_to_error` does) are understood too.
    /// Fields that came from an alias or a merge key report the line of the anchored node they
    /// were copied from.
    #[must_use]
    pub fn line_of(&self, path: &str) -> Option<usize> {
        walk_lines(&self.lines, &parse_path(path)?, self.line)
    }
}

/// Why manifest text could not be turned into documents.
///
/// Displays as `document 2, line 7: mapping values are not allowed in this context` (or
/// `document 2: ...` when no line is known).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {document}{}: {message}", LineSuffix(*.line))]
pub struct ParseError {
    /// 1-based number of the document (as written in the text) where the problem is.
    pub document: usize,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// 1-based column of the problem, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Formats `, line N` when a line is known.
struct LineSuffix(Option<usize>);

impl std::fmt::Display for LineSuffix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(line) => write!(f, ", line {line}"),
            None => Ok(()),
        }
    }
}

/// Parses manifest text (YAML or JSON, see the [module documentation](self)) into documents.
///
/// Returns the objects in the order written, with `List`s and top-level arrays expanded.
/// Empty text gives an empty vector.
///
/// # Errors
///
/// Returns a [`ParseError`] naming the document and line for malformed YAML or JSON, a
/// document or list item that is not a mapping, a non-string or duplicated key, a value JSON
/// cannot represent (`.inf`, `.nan`), an unsupported tag, or an unknown alias.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !looks_like_json(text) {
        return parse_yaml(text);
    }
    match parse_json(text) {
        Ok(documents) => Ok(documents),
        // JSON documents separated by `---` are YAML.
        Err(json_error) if has_document_marker(text) => parse_yaml(text).map_err(|_| json_error),
        Err(json_error) => Err(json_error),
    }
}

/// Whether the text starts like JSON: after any `[`s, a `{` followed by a quoted key or `}`,
/// or (after at least one `[`) the start of a JSON scalar or `]`. `{a: b}` and `[{a: b}]` are
/// YAML flow collections.
fn looks_like_json(text: &str) -> bool {
    let mut chars = text.chars().filter(|c| !c.is_whitespace());
    let mut in_array = false;
    while let Some(c) = chars.next() {
        match c {
            '[' => in_array = true,
            '{' => return matches!(chars.next(), Some('"' | '}')),
            c => {
                return in_array && matches!(c, ']' | '"' | '-' | '0'..='9' | 't' | 'f' | 'n');
            }
        }
    }
    false
}

/// Whether some line starts with the YAML document marker `---`.
fn has_document_marker(text: &str) -> bool {
    text.lines().any(|line| line.starts_with("---"))
}

// ---------------------------------------------------------------------------------------------
// Line tree

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(super) fn parse(text: &str) -> Vec<Document> {
        parse_documents(text).unwrap_or_else(|e| panic!("{e}"))
    }

    pub(super) fn parse_err(text: &str) -> ParseError {
        match parse_documents(text) {
            Ok(docs) => panic!("expected an error, got {docs:?}"),
            Err(e) => e,
        }
    }

    pub(super) const DEPLOYMENT: &str = "\
# A deployment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/name: web
    tier: front
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
          - containerPort: 80
      - name: sidecar
        image: busybox
";

    #[test]
    fn single_yaml_document_becomes_one_json_object() {
        let docs = parse(DEPLOYMENT);
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        assert_eq!((doc.index, doc.item, doc.line), (0, None, 2));
        assert_eq!(doc.value["spec"]["replicas"], json!(3));
        assert!(doc.value["spec"]["replicas"].is_i64());
        assert_eq!(
            doc.value["spec"]["template"]["spec"]["containers"][1]["image"],
            json!("busybox")
        );
    }

    #[test]
    fn json_documents_separated_by_dashes_are_read_as_yaml() {
        let docs = parse("{\"kind\": \"A\"}\n---\n{\"kind\": \"B\",\n \"x\": 1}\n");
        let got: Vec<_> = docs
            .iter()
            .map(|d| (d.index, d.line, d.line_of("x")))
            .collect();
        assert_eq!(got, vec![(0, 1, None), (1, 3, Some(4))]);
    }

    #[test]
    fn yaml_flow_mapping_starting_with_brace_is_yaml() {
        let docs = parse("{kind: Pod, spec: {replicas: 2}}\n");
        assert_eq!(
            docs[0].value,
            json!({"kind": "Pod", "spec": {"replicas": 2}})
        );
        let docs = parse("[{kind: A}, {kind: B}]\n");
        assert_eq!(docs[1].value, json!({"kind": "B"}));
    }

    #[test]
    fn json_detection_looks_past_opening_brackets() {
        assert!(looks_like_json(" \n{\"a\": 1}"));
        assert!(looks_like_json("{}"));
        assert!(looks_like_json("[ [ {\"a\": 1}]]"));
        assert!(looks_like_json("[]"));
        assert!(looks_like_json("[1, 2]"));
        assert!(!looks_like_json("{a: 1}"));
        assert!(!looks_like_json("[{a: 1}]"));
        assert!(!looks_like_json("[a, b]"));
        assert!(!looks_like_json("# {\"a\": 1}"));
        assert!(!looks_like_json(""));
    }

    #[test]
    fn error_display_omits_unknown_line() {
        let e = ParseError {
            document: 3,
            line: None,
            column: None,
            message: "boom".into(),
        };
        assert_eq!(e.to_string(), "document 3: boom");
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        assert_eq!(parse("\u{feff}kind: A\n")[0].value, json!({"kind": "A"}));
        assert_eq!(
            parse("\u{feff}{\"kind\": \"A\"}")[0].value,
            json!({"kind": "A"})
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                (-1.0e6f64..1.0e6).prop_map(Value::from),
                "[a-zA-Z0-9 .:/_-]{0,12}".prop_map(Value::String),
            ]
        }

        fn json_value() -> impl Strategy<Value = Value> {
            scalar().prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z.]{1,6}", inner, 0..5)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn object() -> impl Strategy<Value = Value> {
            prop::collection::btree_map("[a-z]{1,6}", json_value(), 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        }

        proptest! {
            #[test]
            fn json_text_round_trips(value in object()) {
                let pretty = serde_json::to_string_pretty(&value).unwrap();
                let docs = parse_documents(&pretty).unwrap();
                prop_assert_eq!(docs.len(), 1);
                // Exactly what serde_json reads (its float parsing may differ in the last bit
                // from the value printed).
                prop_assert_eq!(&docs[0].value, &serde_json::from_str::<Value>(&pretty).unwrap());
            }

            #[test]
            fn json_read_as_yaml_gives_the_same_value(value in object()) {
                // A leading comment forces the YAML path; JSON is YAML 1.2.
                let text = format!("# yaml\n{}", serde_json::to_string_pretty(&value).unwrap());
                let docs = parse_documents(&text).unwrap();
                prop_assert_eq!(docs.len(), 1);
                let expected = serde_json::to_string(&value).unwrap();
                let got = serde_json::to_string(&docs[0].value).unwrap();
                // Floats may print differently only if they differ: compare as values.
                prop_assert_eq!(
                    serde_json::from_str::<Value>(&got).unwrap(),
                    serde_json::from_str::<Value>(&expected).unwrap()
                );
            }

            #[test]
            fn parsing_arbitrary_text_never_panics(text in "\\PC{0,64}") {
                let _ = parse_documents(&text);
            }
        }
    }
}
