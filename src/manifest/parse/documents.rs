//! Documents out of values: one value read from the text becomes one or more [`Document`]s,
//! top-level arrays and `List`s expanded, every one checked to be a mapping.

use super::lines::{Kids, Lines};
use super::{Document, ParseError};
use serde_json::{Map, Value};

/// Where a document came from, for errors.
#[derive(Debug, Clone, Copy)]
pub(super) struct Origin {
    /// 0-based document index.
    pub(super) index: usize,
}

impl Origin {
    pub(super) fn error(self, line: usize, message: String) -> ParseError {
        ParseError {
            document: self.index + 1,
            line: Some(line),
            column: None,
            message,
        }
    }
}

/// Turns the value of one document into objects, expanding top-level arrays and `List`s.
pub(super) fn emit(
    origin: Origin,
    value: Value,
    lines: Lines,
    out: &mut Vec<Document>,
) -> Result<(), ParseError> {
    match value {
        Value::Null => Ok(()),
        Value::Object(map) => emit_object(origin, map, lines, out),
        Value::Array(elements) => {
            let items = lines.into_items(elements.len());
            for (i, (element, lines)) in elements.into_iter().zip(items).enumerate() {
                match element {
                    Value::Object(map) => out.push(Document {
                        index: origin.index,
                        item: Some(i),
                        line: lines.line,
                        value: Value::Object(map),
                        lines,
                    }),
                    other => {
                        return Err(origin.error(
                            lines.line,
                            format!(
                                "element {i} of the top-level sequence is {}, expected a mapping (object)",
                                describe(&other)
                            ),
                        ))
                    }
                }
            }
            Ok(())
        }
        other => Err(origin.error(
            lines.line,
            format!(
                "the document is {}, expected a mapping (object)",
                describe(&other)
            ),
        )),
    }
}

/// Pushes one document object, or its items if it is a `List`.
fn emit_object(
    origin: Origin,
    mut map: Map<String, Value>,
    mut lines: Lines,
    out: &mut Vec<Document>,
) -> Result<(), ParseError> {
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    let is_list = match map.get("items") {
        Some(Value::Array(_)) => kind.ends_with("List"),
        Some(Value::Null) | None => kind == "List",
        Some(other) if kind == "List" => {
            let line = match &lines.kids {
                Kids::Map(entries) => entries.get("items").map_or(lines.line, |e| e.0),
                _ => lines.line,
            };
            return Err(origin.error(
                line,
                format!(
                    "`items` of a List is {}, expected a sequence",
                    describe(other)
                ),
            ));
        }
        Some(_) => false,
    };
    if !is_list {
        out.push(Document {
            index: origin.index,
            item: None,
            line: lines.line,
            value: Value::Object(map),
            lines,
        });
        return Ok(());
    }
    let list_line = lines.line;
    let items = match map.remove("items") {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let item_lines = lines
        .take("items")
        .unwrap_or_else(|| Lines::leaf(list_line))
        .into_items(items.len());
    for (i, (item, lines)) in items.into_iter().zip(item_lines).enumerate() {
        match item {
            Value::Object(item) => out.push(Document {
                index: origin.index,
                item: Some(i),
                line: lines.line,
                value: Value::Object(item),
                lines,
            }),
            other => {
                return Err(origin.error(
                    lines.line,
                    format!(
                        "items[{i}] of the List is {}, expected a mapping (object)",
                        describe(&other)
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// "a string", "a sequence", ... for messages.
pub(super) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence (array)",
        Value::Object(_) => "a mapping (object)",
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

#[cfg(test)]
mod tests {
    use crate::manifest::parse::tests::{parse, parse_err};
    use serde_json::json;

    #[test]
    fn list_kind_expands_to_items_with_their_lines() {
        let text = "\
apiVersion: v1
kind: List
items:
- kind: ConfigMap
  metadata:
    name: a
- kind: Secret
  metadata:
    name: b
";
        let docs = parse(text);
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].index, docs[0].item, docs[0].line), (0, Some(0), 4));
        assert_eq!((docs[1].index, docs[1].item, docs[1].line), (0, Some(1), 7));
        assert_eq!(
            docs[1].value,
            json!({"kind": "Secret", "metadata": {"name": "b"}})
        );
        assert_eq!(docs[1].line_of("metadata.name"), Some(9));
    }

    #[test]
    fn typed_list_kinds_expand_only_with_items() {
        let docs = parse("kind: PodList\nitems:\n- kind: Pod\n");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].value, json!({"kind": "Pod"}));
        // A kind that merely ends with "List" but has no items array is an ordinary object.
        let docs = parse("kind: AllowList\nspec: {}\n");
        assert_eq!(docs[0].value["kind"], json!("AllowList"));
        assert!(parse("kind: List\n").is_empty());
    }

    #[test]
    fn list_item_that_is_not_an_object_is_an_error() {
        let e = parse_err("kind: List\nitems:\n- kind: A\n- 42\n");
        assert_eq!((e.document, e.line), (1, Some(4)));
        assert!(e.message.contains("items[1]"), "{e}");
        let e = parse_err("kind: List\nitems: nope\n");
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn top_level_yaml_sequence_expands_to_elements() {
        let docs = parse("- kind: A\n- kind: B\n  x: 1\n");
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[1].item, docs[1].line), (Some(1), 2));
        assert_eq!(docs[1].line_of("x"), Some(3));
    }

    #[test]
    fn documents_that_are_not_mappings_are_errors_naming_document_and_line() {
        let e = parse_err("kind: A\n---\n\njust a string\n");
        assert_eq!((e.document, e.line), (2, Some(4)));
        assert_eq!(
            e.to_string(),
            "document 2, line 4: the document is a string, expected a mapping (object)"
        );
        let e = parse_err("- kind: A\n- 3\n");
        assert_eq!((e.document, e.line), (1, Some(2)));
    }
}
