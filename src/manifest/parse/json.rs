//! The JSON reader: one or more JSON values read with `serde_json`, and their line map
//! found by scanning the text alongside ([`JsonLines`]).

use super::documents::{emit, Origin};
use super::lines::{Kids, Lines};
use super::{Document, ParseError, MAX_DEPTH};
use serde_json::Value;
use std::collections::BTreeMap;

/// Parses a stream of JSON values (usually one).
pub(super) fn parse_json(text: &str) -> Result<Vec<Document>, ParseError> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut index = 0;
    loop {
        let offset = stream.byte_offset();
        let value = match stream.next() {
            None => break,
            Some(Ok(value)) => value,
            Some(Err(e)) => {
                return Err(ParseError {
                    document: index + 1,
                    line: Some(e.line()),
                    column: Some(e.column()),
                    message: e.to_string(),
                })
            }
        };
        let lines = JsonLines::new(text, offset).value(0);
        emit(Origin { index }, value, lines, &mut out)?;
        index += 1;
    }
    Ok(out)
}

/// A lenient scanner over JSON text (already validated by `serde_json`) that records the line
/// of every key and value.
struct JsonLines<'a> {
    pub(super) text: &'a str,
    pos: usize,
    pub(super) line: usize,
}

impl<'a> JsonLines<'a> {
    pub(super) fn new(text: &'a str, pos: usize) -> Self {
        let before = text.get(..pos).unwrap_or("");
        let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
        JsonLines { text, pos, line }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
            self.pos += 1;
        }
    }

    /// Lines of the value at the cursor.
    pub(super) fn value(&mut self, depth: usize) -> Lines {
        self.skip_blanks();
        let line = self.line;
        if depth > MAX_DEPTH {
            return Lines::leaf(line);
        }
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut entries = BTreeMap::new();
                loop {
                    self.skip_blanks();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'"') => {
                            let key_line = self.line;
                            let key = self.string();
                            self.skip_blanks();
                            if self.peek() == Some(b':') {
                                self.pos += 1;
                            }
                            let value = self.value(depth + 1);
                            entries.insert(key, (key_line, value));
                        }
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        _ => break,
                    }
                }
                Lines {
                    line,
                    kids: Kids::Map(entries),
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_blanks();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        None => break,
                        Some(_) => {
                            let before = self.pos;
                            items.push(self.value(depth + 1));
                            if self.pos == before {
                                break;
                            }
                        }
                    }
                }
                Lines {
                    line,
                    kids: Kids::Seq(items),
                }
            }
            Some(b'"') => {
                self.string();
                Lines::leaf(line)
            }
            _ => {
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.pos += 1;
                }
                Lines::leaf(line)
            }
        }
    }

    /// Reads the string at the cursor (which is on its opening quote) and returns its text.
    pub(super) fn string(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'\\' => {
                    escaped = true;
                    self.pos += 1;
                }
                b'"' => break,
                _ => {}
            }
        }
        let raw = self.text.get(start..self.pos).unwrap_or("");
        if escaped {
            serde_json::from_str(raw).unwrap_or_default()
        } else {
            raw.get(1..raw.len().saturating_sub(1))
                .unwrap_or("")
                .to_owned()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// YAML

#[cfg(test)]
mod tests {
    use crate::manifest::parse::tests::{parse, parse_err};
    use serde_json::{json, Value};

    #[test]
    fn json_object_is_parsed_exactly() {
        let text = "{\n  \"kind\": \"Pod\",\n  \"spec\": {\n    \"n\": 12345678901234567890,\n    \"f\": 1.5,\n    \"i\": -3\n  }\n}\n";
        let docs = parse(text);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].value, serde_json::from_str::<Value>(text).unwrap());
        assert!(docs[0].value["spec"]["n"].is_u64());
        assert_eq!(docs[0].line, 1);
        assert_eq!(docs[0].line_of("kind"), Some(2));
        assert_eq!(docs[0].line_of("spec.f"), Some(5));
    }

    #[test]
    fn json_array_expands_to_objects_with_lines() {
        let text = "[\n  {\"kind\": \"A\"},\n  {\n    \"kind\": \"B\",\n    \"list\": [1, {\"x\": \"y\"}],\n    \"a.b\": \"esc\\\"aped\"\n  }\n]";
        let docs = parse(text);
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].item, docs[0].line), (Some(0), 2));
        assert_eq!((docs[1].item, docs[1].line), (Some(1), 3));
        assert_eq!(docs[1].line_of("kind"), Some(4));
        assert_eq!(docs[1].line_of("list[1].x"), Some(5));
        assert_eq!(docs[1].line_of("[\"a.b\"]"), Some(6));
        assert_eq!(docs[1].value["a.b"], json!("esc\"aped"));
    }

    #[test]
    fn json_list_kind_and_json_streams_expand() {
        let text = "{\"kind\": \"List\", \"items\": [{\"kind\": \"A\"}]}\n{\"kind\": \"B\"}\n";
        let docs = parse(text);
        let got: Vec<_> = docs.iter().map(|d| (d.index, d.item, d.line)).collect();
        assert_eq!(got, vec![(0, Some(0), 1), (1, None, 2)]);
    }

    #[test]
    fn json_with_escaped_keys_reports_lines() {
        let text = "{\n\"we\\u0069rd\": {\n  \"k\": 1}}";
        let doc = &parse(text)[0];
        assert_eq!(doc.line_of("weird.k"), Some(3));
    }

    #[test]
    fn invalid_json_reports_the_json_error() {
        // YAML would read `"spec": }` as null; JSON-looking text is held to JSON.
        let e = parse_err("{\n  \"kind\": \"Pod\",\n  \"spec\": }\n");
        assert_eq!((e.document, e.line), (1, Some(3)));
        let e = parse_err("[{\"kind\": \"A\"}, {\"kind\": \"B\",}]");
        assert_eq!((e.document, e.line), (1, Some(1)));
        assert!(e.column.is_some());
    }

    #[test]
    fn errors_in_later_json_values_name_their_document() {
        let e = parse_err("{\"kind\": \"A\"}\n{\"kind\": \"B\"\n");
        assert_eq!(e.document, 2);
        let e = parse_err("{\"kind\": \"A\"}\n\"text\"\n");
        assert_eq!((e.document, e.line), (2, Some(2)));
    }
}
