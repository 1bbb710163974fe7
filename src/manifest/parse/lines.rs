//! The line map of a document: the line of every value inside it ([`Lines`]), built by
//! the readers, and the field paths (`spec.containers[0].image`,
//! `metadata.labels["app.kubernetes.io/name"]`) that [`Document::line_of`] looks up in it.

use std::collections::BTreeMap;

/// The line of the field at `segments` below `node` (whose own line is `line`).
pub(super) fn walk_lines(node: &Lines, segments: &[Segment], line: usize) -> Option<usize> {
    let Some((first, rest)) = segments.split_first() else {
        return Some(line);
    };
    match (first, &node.kids) {
        (Segment::Key { name, .. }, Kids::Map(entries)) => {
            // A plainly written key may have dots in it: try `a`, then `a.b`, `a.b.c`, ...
            let mut key = name.clone();
            let mut used = 1;
            loop {
                if let Some((key_line, child)) = entries.get(&key) {
                    if let Some(found) = walk_lines(child, &segments[used..], *key_line) {
                        return Some(found);
                    }
                }
                match segments.get(used) {
                    Some(Segment::Key { name, dotted: true }) => {
                        key.push('.');
                        key.push_str(name);
                        used += 1;
                    }
                    _ => return None,
                }
            }
        }
        (Segment::Index(i), Kids::Seq(items)) => {
            let child = items.get(*i)?;
            walk_lines(child, rest, child.line)
        }
        // `[8080]` on a mapping is the key "8080".
        (Segment::Index(i), Kids::Map(entries)) => {
            let (key_line, child) = entries.get(&i.to_string())?;
            walk_lines(child, rest, *key_line)
        }
        _ => None,
    }
}

/// Lines of a value and of everything inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Lines {
    /// 1-based line where the value starts.
    pub(super) line: usize,
    /// Lines of the members.
    pub(super) kids: Kids,
}

/// Lines of the members of a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum Kids {
    /// A scalar: no members.
    #[default]
    Leaf,
    /// A mapping: for each key, the line of the key and the lines of its value.
    Map(BTreeMap<String, (usize, Lines)>),
    /// A sequence: the lines of each element.
    Seq(Vec<Lines>),
}

impl Lines {
    pub(super) fn leaf(line: usize) -> Self {
        Lines {
            line,
            kids: Kids::Leaf,
        }
    }

    /// Removes and returns the lines of the value of `key`.
    pub(super) fn take(&mut self, key: &str) -> Option<Lines> {
        match &mut self.kids {
            Kids::Map(entries) => entries.remove(key).map(|(_, lines)| lines),
            _ => None,
        }
    }

    /// The lines of each element of a sequence (`len` of them; missing ones default to the
    /// line of the sequence).
    pub(super) fn into_items(self, len: usize) -> Vec<Lines> {
        let line = self.line;
        let mut items = match self.kids {
            Kids::Seq(items) => items,
            _ => Vec::new(),
        };
        items.resize_with(len, || Lines::leaf(line));
        items
    }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// A key; `dotted` when it was written plainly after a `.` (and so may be the rest of a
    /// key containing dots).
    Key { name: String, dotted: bool },
    /// `[N]`: an array index (or the key "N" of a mapping).
    Index(usize),
}

/// Parses `a.b[0]["x.y"][x.y]` into segments; `None` if malformed.
pub(super) fn parse_path(path: &str) -> Option<Vec<Segment>> {
    let bytes = path.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    let mut after_dot = false;
    while i < bytes.len() {
        match bytes[i] {
            b'[' if bytes.get(i + 1) == Some(&b'"') => {
                let start = i + 1;
                let mut j = start + 1;
                loop {
                    match bytes.get(j)? {
                        b'\\' => j += 2,
                        b'"' => break,
                        _ => j += 1,
                    }
                }
                let name: String = serde_json::from_str(path.get(start..=j)?).ok()?;
                if bytes.get(j + 1) != Some(&b']') {
                    return None;
                }
                segments.push(Segment::Key {
                    name,
                    dotted: false,
                });
                i = j + 2;
            }
            b'[' => {
                let close = i + path.get(i..)?.find(']')?;
                let inside = path.get(i + 1..close)?;
                if inside.is_empty() {
                    return None;
                }
                if inside.bytes().all(|b| b.is_ascii_digit()) {
                    segments.push(Segment::Index(inside.parse().ok()?));
                } else {
                    segments.push(Segment::Key {
                        name: inside.to_owned(),
                        dotted: false,
                    });
                }
                i = close + 1;
            }
            b'.' => {
                // A dot separates two segments: not first, not last, not doubled.
                if segments.is_empty() || matches!(bytes.get(i + 1), None | Some(b'.')) {
                    return None;
                }
                i += 1;
                after_dot = true;
                continue;
            }
            _ => {
                let rest = path.get(i..)?;
                let end = rest.find(['.', '[']).map_or(path.len(), |p| i + p);
                segments.push(Segment::Key {
                    name: path.get(i..end)?.to_owned(),
                    dotted: after_dot,
                });
                i = end;
            }
        }
        after_dot = false;
    }
    Some(segments)
}

// ---------------------------------------------------------------------------------------------
// Documents out of values

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse::tests::{parse, DEPLOYMENT};

    #[test]
    fn line_of_finds_keys_and_list_elements_in_block_yaml() {
        let doc = &parse(DEPLOYMENT)[0];
        assert_eq!(doc.line_of(""), Some(2));
        assert_eq!(doc.line_of("kind"), Some(3));
        assert_eq!(doc.line_of("metadata.name"), Some(5));
        assert_eq!(
            doc.line_of("metadata.labels[\"app.kubernetes.io/name\"]"),
            Some(7)
        );
        assert_eq!(doc.line_of("metadata[\"labels\"].tier"), Some(8));
        assert_eq!(doc.line_of("spec.replicas"), Some(10));
        assert_eq!(doc.line_of("spec.template.spec.containers[0]"), Some(14));
        assert_eq!(
            doc.line_of("spec.template.spec.containers[0].image"),
            Some(15)
        );
        assert_eq!(
            doc.line_of("spec.template.spec.containers[0].ports[0].containerPort"),
            Some(17)
        );
        assert_eq!(
            doc.line_of("spec.template.spec.containers[1].image"),
            Some(19)
        );
    }

    #[test]
    fn line_of_understands_kubernetes_field_path_forms() {
        let doc = &parse(DEPLOYMENT)[0];
        // Unquoted key in brackets, as validation errors write label keys.
        assert_eq!(
            doc.line_of("metadata.labels[app.kubernetes.io/name]"),
            Some(7)
        );
        assert_eq!(doc.line_of("metadata.labels[tier]"), Some(8));
        // A dotted key written plainly, as serde_path_to_error does.
        assert_eq!(
            doc.line_of("metadata.labels.app.kubernetes.io/name"),
            Some(7)
        );
        assert_eq!(doc.line_of("metadata.labels.app.kubernetes"), None);
        // A numeric key in brackets on a mapping.
        let doc = &parse("data:\n  \"8080\": a\n  x.y:\n    z: 1\n")[0];
        assert_eq!(doc.line_of("data[8080]"), Some(2));
        assert_eq!(doc.line_of("data.x.y.z"), Some(4));
    }

    #[test]
    fn line_of_returns_none_for_missing_fields_and_bad_paths() {
        let doc = &parse(DEPLOYMENT)[0];
        assert_eq!(doc.line_of("spec.missing"), None);
        assert_eq!(doc.line_of("spec.template.spec.containers[5]"), None);
        assert_eq!(doc.line_of("spec.replicas.deeper"), None);
        assert_eq!(doc.line_of("spec[0]"), None);
        assert_eq!(doc.line_of("spec..replicas"), None);
        assert_eq!(doc.line_of(".spec"), None);
        assert_eq!(doc.line_of("spec."), None);
        assert_eq!(doc.line_of("spec[x]"), None);
        assert_eq!(doc.line_of("metadata.labels[\"unterminated"), None);
    }

    #[test]
    fn path_parser_reads_keys_indices_and_quoted_keys() {
        let key = |name: &str, dotted| Segment::Key {
            name: name.into(),
            dotted,
        };
        assert_eq!(
            parse_path("a.b[0][\"x.y\"].c[d.e/f]"),
            Some(vec![
                key("a", false),
                key("b", true),
                Segment::Index(0),
                key("x.y", false),
                key("c", true),
                key("d.e/f", false),
            ])
        );
        assert_eq!(
            parse_path("[\"q\\\"uote\"]"),
            Some(vec![key("q\"uote", false)])
        );
        assert_eq!(parse_path("a[]"), None);
        assert_eq!(parse_path(""), Some(vec![]));
    }
}
