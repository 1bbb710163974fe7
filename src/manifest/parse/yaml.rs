//! The YAML reader: `saphyr-parser`'s events built into JSON values with their line map
//! ([`Builder`]): anchors and aliases, merge keys, duplicate keys, depth and alias limits.

use super::documents::{describe, emit, Origin};
use super::lines::{Kids, Lines};
use super::scalar::{is_non_specific, resolve_scalar, show_tag};
use super::{Document, ParseError, MAX_DEPTH};
use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// Most nodes that aliases may expand to in one input, against "billion laughs" inputs.
const MAX_ALIAS_NODES: usize = 1_000_000;

/// A finished YAML node.
#[derive(Debug, Clone)]
struct Node {
    pub(super) value: Value,
    pub(super) lines: Lines,
    /// Number of nodes inside, itself included (for the alias budget).
    size: usize,
}

/// A key waiting for its value.
pub(super) enum Key {
    /// An ordinary key, with its 1-based line and column.
    Plain(String, usize, usize),
    /// The merge key `<<`.
    Merge,
}

/// A collection being built, with the 1-based line and column where it starts.
enum Frame {
    Seq {
        anchor: usize,
        line: usize,
        column: usize,
        values: Vec<Value>,
        lines: Vec<Lines>,
        size: usize,
    },
    Map {
        anchor: usize,
        line: usize,
        column: usize,
        values: Map<String, Value>,
        lines: BTreeMap<String, (usize, Lines)>,
        key: Option<Key>,
        merges: Vec<Node>,
        size: usize,
    },
}

/// An error found while building, with its 1-based line and column.
struct At {
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) message: String,
}

impl At {
    pub(super) fn new(line: usize, column: usize, message: impl Into<String>) -> Self {
        At {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Builds JSON values (and their lines) out of parser events.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    root: Option<Node>,
}

impl Builder {
    pub(super) fn start(&mut self, frame: Frame, line: usize, column: usize) -> Result<(), At> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(At::new(
                line,
                column,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Finishes the collection on top of the stack and attaches it to its parent.
    pub(super) fn end(&mut self) -> Result<(), At> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (anchor, column, node) = match frame {
            Frame::Seq {
                anchor,
                line,
                column,
                values,
                lines,
                size,
            } => (
                anchor,
                column,
                Node {
                    value: Value::Array(values),
                    lines: Lines {
                        line,
                        kids: Kids::Seq(lines),
                    },
                    size: size + 1,
                },
            ),
            Frame::Map {
                anchor,
                line,
                column,
                mut values,
                mut lines,
                merges,
                mut size,
                ..
            } => {
                // Explicit keys win over merged ones, earlier merged mappings over later ones.
                for merged in merges {
                    size += merged.size;
                    let Value::Object(merged_values) = merged.value else {
                        continue;
                    };
                    let mut merged_lines = match merged.lines.kids {
                        Kids::Map(entries) => entries,
                        _ => BTreeMap::new(),
                    };
                    for (key, value) in merged_values {
                        if !values.contains_key(&key) {
                            let key_lines = merged_lines
                                .remove(&key)
                                .unwrap_or((merged.lines.line, Lines::leaf(merged.lines.line)));
                            lines.insert(key.clone(), key_lines);
                            values.insert(key, value);
                        }
                    }
                }
                (
                    anchor,
                    column,
                    Node {
                        value: Value::Object(values),
                        lines: Lines {
                            line,
                            kids: Kids::Map(lines),
                        },
                        size: size + 1,
                    },
                )
            }
        };
        let line = node.lines.line;
        self.finish(node, anchor, false, line, column)
    }

    /// Records a finished node under its anchor and attaches it to its parent.
    fn finish(
        &mut self,
        node: Node,
        anchor: usize,
        merge_key: bool,
        line: usize,
        column: usize,
    ) -> Result<(), At> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.attach(node, merge_key, line, column)
    }

    /// Expands an alias.
    pub(super) fn alias(&mut self, id: usize, line: usize, column: usize) -> Result<(), At> {
        let Some(node) = self.anchors.get(&id) else {
            return Err(At::new(line, column, "alias to an unknown anchor"));
        };
        self.alias_nodes = self.alias_nodes.saturating_add(node.size);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(At::new(
                line,
                column,
                format!("aliases expand to more than {MAX_ALIAS_NODES} nodes"),
            ));
        }
        let mut node = node.clone();
        node.lines.line = line;
        self.attach(node, false, line, column)
    }

    fn attach(
        &mut self,
        node: Node,
        merge_key: bool,
        line: usize,
        column: usize,
    ) -> Result<(), At> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq {
                values,
                lines,
                size,
                ..
            }) => {
                *size += node.size;
                values.push(node.value);
                lines.push(node.lines);
            }
            Some(Frame::Map {
                values,
                lines,
                key,
                merges,
                size,
                ..
            }) => match key.take() {
                None if merge_key => *key = Some(Key::Merge),
                None => match node.value {
                    Value::String(name) => *key = Some(Key::Plain(name, line, column)),
                    // As kubectl does (YAML to JSON), a number or boolean key becomes its text:
                    // ConfigMaps such as `data: {8080: "default/web:80"}` apply unchanged.
                    Value::Bool(_) | Value::Number(_) => {
                        *key = Some(Key::Plain(node.value.to_string(), line, column))
                    }
                    other => {
                        let hint = match &other {
                            Value::Null => format!(" (quote it: \"{other}\")"),
                            _ => String::new(),
                        };
                        return Err(At::new(
                            line,
                            column,
                            format!(
                                "mapping keys must be strings, found {} {}{hint}",
                                describe(&other),
                                compact(&other)
                            ),
                        ));
                    }
                },
                Some(Key::Plain(name, key_line, key_column)) => {
                    if let Some((first, _)) = lines.get(&name) {
                        return Err(At::new(
                            key_line,
                            key_column,
                            format!("duplicate key {name:?} (first given at line {first})"),
                        ));
                    }
                    *size += node.size;
                    values.insert(name.clone(), node.value);
                    lines.insert(name, (key_line, node.lines));
                }
                Some(Key::Merge) => match node.value {
                    Value::Object(_) => merges.push(node),
                    Value::Array(elements) => {
                        let items = node.lines.into_items(elements.len());
                        for (element, lines) in elements.into_iter().zip(items) {
                            if !element.is_object() {
                                return Err(At::new(
                                    lines.line,
                                    column,
                                    "the merge key `<<` takes a mapping or a sequence of mappings",
                                ));
                            }
                            merges.push(Node {
                                value: element,
                                lines,
                                size: 1,
                            });
                        }
                    }
                    _ => {
                        return Err(At::new(
                            line,
                            column,
                            "the merge key `<<` takes a mapping or a sequence of mappings",
                        ))
                    }
                },
            },
        }
        Ok(())
    }
}

/// A short rendering of a scalar for messages.
fn compact(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => String::new(),
        other => other.to_string(),
    }
}

/// Parses a YAML stream.
pub(super) fn parse_yaml(text: &str) -> Result<Vec<Document>, ParseError> {
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();
    let mut out = Vec::new();
    // Number of documents started so far (the current document's 1-based number).
    let mut documents = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| ParseError {
            document: documents.max(1),
            line: Some(e.marker().line()),
            column: Some(e.marker().col() + 1),
            message: e.info().to_owned(),
        })?;
        let line = span.start.line();
        let column = span.start.col() + 1;
        let step = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                documents += 1;
                builder = Builder::default();
                Ok(())
            }
            Event::DocumentEnd => {
                if let Some(root) = builder.root.take() {
                    let origin = Origin {
                        index: documents.saturating_sub(1),
                    };
                    emit(origin, root.value, root.lines, &mut out)?;
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let merge_key = text == "<<" && style == ScalarStyle::Plain && tag.is_none();
                match resolve_scalar(&text, style, tag.as_deref()) {
                    Ok(value) => builder.finish(
                        Node {
                            value,
                            lines: Lines::leaf(line),
                            size: 1,
                        },
                        anchor,
                        merge_key,
                        line,
                        column,
                    ),
                    Err(message) => Err(At::new(line, column, message)),
                }
            }
            Event::Alias(id) => builder.alias(id, line, column),
            Event::SequenceStart(anchor, tag) => check_collection_tag(tag.as_deref(), "seq")
                .map_err(|message| At::new(line, column, message))
                .and_then(|()| {
                    let frame = Frame::Seq {
                        anchor,
                        line,
                        column,
                        values: Vec::new(),
                        lines: Vec::new(),
                        size: 0,
                    };
                    builder.start(frame, line, column)
                }),
            Event::MappingStart(anchor, tag) => check_collection_tag(tag.as_deref(), "map")
                .map_err(|message| At::new(line, column, message))
                .and_then(|()| {
                    let frame = Frame::Map {
                        anchor,
                        line,
                        column,
                        values: Map::new(),
                        lines: BTreeMap::new(),
                        key: None,
                        merges: Vec::new(),
                        size: 0,
                    };
                    builder.start(frame, line, column)
                }),
            Event::SequenceEnd | Event::MappingEnd => builder.end(),
        };
        step.map_err(|at| ParseError {
            document: documents.max(1),
            line: Some(at.line),
            column: Some(at.column),
            message: at.message,
        })?;
    }
    Ok(out)
}

/// Checks the tag of a mapping (`want` = `map`) or sequence (`seq`).
fn check_collection_tag(tag: Option<&Tag>, want: &str) -> Result<(), String> {
    match tag {
        None => Ok(()),
        Some(tag) if is_non_specific(tag) => Ok(()),
        Some(tag) if tag.is_yaml_core_schema() && tag.suffix == want => Ok(()),
        Some(tag) => Err(format!("unsupported tag {}", show_tag(tag))),
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::parse::tests::{parse, parse_err};
    use serde_json::json;

    #[test]
    fn multiple_documents_are_split_and_empty_ones_skipped_but_counted() {
        let text = "\
---
kind: A
---
# only a comment
---
---
kind: B
...
---
kind: C
";
        let docs = parse(text);
        let summary: Vec<_> = docs
            .iter()
            .map(|d| (d.index, d.value["kind"].as_str().unwrap(), d.line))
            .collect();
        assert_eq!(summary, vec![(0, "A", 2), (3, "B", 7), (4, "C", 10)]);
    }

    #[test]
    fn empty_and_comment_only_text_gives_no_documents() {
        assert!(parse("").is_empty());
        assert!(parse("   \n\n").is_empty());
        assert!(parse("# nothing\n---\n# still nothing\n").is_empty());
        assert!(parse("~\n").is_empty());
    }

    #[test]
    fn number_and_boolean_keys_become_strings_as_kubectl_does() {
        assert_eq!(
            parse("kind: ConfigMap\ndata:\n  8080: default/web:80\n  true: x\n")[0].value,
            json!({"kind": "ConfigMap", "data": {"8080": "default/web:80", "true": "x"}})
        );
        assert_eq!(parse("\"8080\": tcp\n")[0].value, json!({"8080": "tcp"}));
    }

    #[test]
    fn null_and_compound_keys_are_errors_naming_the_line() {
        let e = parse_err("kind: A\n? [a, b]\n: x\n");
        assert!(e.message.contains("sequence"), "{e}");
        assert_eq!((e.line, e.column), (Some(2), Some(3)));
        assert!(parse_err("~: x\n").message.contains("null"));
    }

    #[test]
    fn duplicate_keys_are_errors_naming_both_lines() {
        let e = parse_err("a: 1\nb: 2\n  \nx:\n  a: 0\n  b: 1\n  a: 3\n");
        assert_eq!((e.line, e.column), (Some(7), Some(3)));
        assert!(e.message.contains("line 5"), "{e}");
        let e = parse_err("a: 1\nb: 2\na: 3\n");
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("line 1"), "{e}");
    }

    #[test]
    fn syntax_errors_name_document_line_and_column() {
        let e = parse_err("kind: A\n---\nkind: B\nmetadata:\n  name: a: b\n");
        assert_eq!(e.document, 2);
        assert_eq!(e.line, Some(5));
        assert!(e.column.is_some());
        assert_eq!(e.to_string(), format!("document 2, line 5: {}", e.message));
    }

    #[test]
    fn anchors_and_aliases_are_resolved() {
        let text = "\
base: &labels
  app: web
  tier: front
metadata:
  labels: *labels
name: &n web
other: *n
";
        let doc = &parse(text)[0];
        assert_eq!(
            doc.value["metadata"]["labels"],
            json!({"app": "web", "tier": "front"})
        );
        assert_eq!(doc.value["other"], json!("web"));
        assert_eq!(doc.line_of("metadata.labels"), Some(5));
        // Fields inside an alias report where they were written.
        assert_eq!(doc.line_of("metadata.labels.tier"), Some(3));
        assert!(parse_err("a: *nope\n").line.is_some());
    }

    #[test]
    fn merge_keys_merge_with_explicit_keys_winning() {
        let text = "\
defaults: &d
  a: 1
  b: 2
more: &m
  b: 20
  c: 30
one:
  <<: *d
  b: 3
two:
  <<: [*m, *d]
";
        let doc = &parse(text)[0];
        assert_eq!(doc.value["one"], json!({"a": 1, "b": 3}));
        assert_eq!(doc.value["two"], json!({"a": 1, "b": 20, "c": 30}));
        assert_eq!(doc.line_of("one.b"), Some(9));
        assert_eq!(doc.line_of("one.a"), Some(2));
        // Quoted, `<<` is an ordinary key.
        assert_eq!(parse("'<<': x\n")[0].value, json!({"<<": "x"}));
        assert!(parse_err("a:\n  <<: 3\n").message.contains("merge key"));
    }

    #[test]
    fn alias_bombs_are_rejected() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        assert!(parse_err(&text).message.contains("aliases"));
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let text = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
        assert!(parse_err(&text).message.contains("nesting"));
    }

    #[test]
    fn crlf_line_endings_keep_line_numbers() {
        let doc = &parse("kind: A\r\nmetadata:\r\n  name: x\r\n---\r\nkind: B\r\n")[0];
        assert_eq!(doc.line_of("metadata.name"), Some(3));
        let docs = parse("{\r\n\"kind\": \"A\",\r\n\"x\": 1}");
        assert_eq!(docs[0].line_of("x"), Some(3));
    }

    #[test]
    fn flow_and_explicit_keys_report_their_lines() {
        let doc = &parse("metadata: {name: a,\n  namespace: b}\n? spec\n: {x: [1,\n  2]}\n")[0];
        assert_eq!(doc.line_of("metadata.namespace"), Some(2));
        assert_eq!(doc.line_of("spec"), Some(3));
        assert_eq!(doc.line_of("spec.x[1]"), Some(5));
    }
}
