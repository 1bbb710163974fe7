//! Offline checking of manifests: what `steady validate` prints, and what `steady run` checks
//! before it starts anything.
//!
//! Every document is decoded and validated as `Engine::apply` would (the same
//! [`manifest::decode`] on a store holding the built-in kinds, which nothing ever writes
//! to), one document at a time so that one bad document does not hide the problems of the
//! next. Each problem is one line, `FILE:LINE: document N: Kind/name: field: message`, the
//! line being that of the offending field. Objects that appear twice are reported too: they
//! are applied together, in one transaction, which may touch each object once.

use super::files::Source;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use steady::api::{register_builtins, CustomResourceDefinition, Registry};
use steady::manifest::parse::{parse_documents, Document};
use steady::node::ImageTable;
use steady::store::{Store, StoreConfig};
use steady::Error;

/// One problem (or warning) found in a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file, `None` for a problem that is not about one.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<usize>,
    /// Where in the file: `document 2` or `document 2 (item 3)`.
    pub document: Option<String>,
    /// `Kind/name`.
    pub object: Option<String>,
    /// Path of the offending field (`spec.containers[0].image`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// A warning (unknown field) rather than an error.
    pub warning: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            f.write_str(file)?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        }
        if self.warning {
            f.write_str("warning: ")?;
        }
        for part in [&self.document, &self.object, &self.field]
            .into_iter()
            .flatten()
        {
            write!(f, "{part}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// One object of the manifests, checked.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Index of its file in the sources.
    pub file: usize,
    /// The document (its value is what gets applied).
    pub doc: Document,
    /// `Kind/name`.
    pub label: String,
}

/// The outcome of [`check`].
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// Every object that decoded and validated, in file and document order.
    pub entries: Vec<Entry>,
    /// Problems and warnings, in file and document order.
    pub problems: Vec<Problem>,
}

impl Checked {
    /// Number of problems that are not warnings.
    pub fn errors(&self) -> usize {
        self.problems.iter().filter(|p| !p.warning).count()
    }
}

/// `document N`, with the item of a `List` or array.
fn document_label(doc: &Document) -> String {
    match doc.item {
        Some(i) => format!("document {} (item {})", doc.index + 1, i + 1),
        None => format!("document {}", doc.index + 1),
    }
}

/// `Kind/name` as the document says (`?` for what is missing; a generated name as
/// `prefix*`).
fn object_label(value: &serde_json::Value) -> String {
    let kind = value
        .get("kind")
        .and_then(|k| k.as_str())
        .filter(|k| !k.is_empty())
        .unwrap_or("?");
    let meta = value.get("metadata");
    let field = |f: &str| {
        meta.and_then(|m| m.get(f))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let name = match (field("name"), field("generateName")) {
        (Some(n), _) => n.to_string(),
        (None, Some(g)) => format!("{g}*"),
        (None, None) => "?".into(),
    };
    format!("{kind}/{name}")
}

/// A store that knows the built-in kinds and writes nothing but its initial namespaces;
/// [`check`] registers in it the kinds that definitions in the checked files define.
fn offline_store() -> Store {
    let registry = Registry::new();
    register_builtins(&registry);
    Store::new(Arc::new(registry), StoreConfig::default())
}

/// The line of `field`, or of its nearest enclosing field that is present (a missing
/// `metadata.name` is reported on the line of `metadata`), or of the document.
fn line_near(doc: &Document, field: &str) -> usize {
    let mut path = field;
    loop {
        if let Some(line) = doc.line_of(path) {
            return line;
        }
        // Drop the last segment: `.key`, `[index]` or `["quoted key"]`.
        let cut = if path.ends_with(']') {
            path.rfind('[')
        } else {
            path.rfind(['.', '['])
        };
        match cut {
            Some(i) if i > 0 => path = &path[..i],
            _ => return doc.line,
        }
    }
}

/// The problems an error about `doc` (of file `file`) stands for: one per invalid field,
/// each on the line of its field.
pub fn problems_of(file: &str, doc: &Document, label: &str, error: &Error) -> Vec<Problem> {
    let problem = |field: Option<&str>, message: String| {
        let field = field.filter(|f| !f.is_empty());
        Problem {
            file: Some(file.to_string()),
            line: Some(field.map_or(doc.line, |f| line_near(doc, f))),
            document: Some(document_label(doc)),
            object: Some(label.to_string()),
            field: field.map(str::to_string),
            message,
            warning: false,
        }
    };
    match error.root() {
        Error::Invalid { errors, .. } if !errors.is_empty() => errors
            .iter()
            .map(|e| problem(Some(&e.field), e.message.clone()))
            .collect(),
        Error::NoMatch {
            object,
            api_version,
        } => vec![problem(
            Some("kind"),
            Error::no_match(api_version, &object.kind).to_string(),
        )],
        other => vec![problem(None, other.to_string())],
    }
}

/// Warnings for the containers of `doc` that have no `command` and whose image the image
/// table does not map: `steady run` registers no in-process worker, so such a container
/// would wait with ErrImageNeverPull for good.
fn commandless(
    file: &str,
    doc: &Document,
    label: &str,
    kind: &str,
    images: &ImageTable,
) -> Vec<Problem> {
    let Some(prefix) = steady::manifest::fields::pod_spec_prefix(kind) else {
        return Vec::new();
    };
    let spec = prefix.split('.').try_fold(&doc.value, |v, k| v.get(k));
    let mut out = Vec::new();
    for list in ["initContainers", "containers"] {
        let containers = spec
            .and_then(|s| s.get(list))
            .and_then(|c| c.as_array())
            .cloned()
            .unwrap_or_default();
        for (i, c) in containers.iter().enumerate() {
            let image = c.get("image").and_then(|i| i.as_str()).unwrap_or("");
            if c.get("command").is_some() || images.lookup(image).is_some() {
                continue;
            }
            let field = format!("{prefix}.{list}[{i}]");
            out.push(Problem {
                file: Some(file.to_string()),
                line: Some(line_near(doc, &format!("{field}.image"))),
                document: Some(document_label(doc)),
                object: Some(label.to_string()),
                field: Some(field),
                message: format!(
                    "no command: steady runs a container's command on the host, the program \
                     the image table maps its image to (--images FILE), or a worker a host \
                     registers under its image; image {image:?} is none of these, so it would \
                     wait with ErrImageNeverPull"
                ),
                warning: true,
            });
        }
    }
    out
}

/// The warning about a field that neither steady nor Kubernetes defines.
const MISSPELT: &str = "unknown field: Kubernetes does not define it either (misspelt?), and \
                        kubectl's default validation refuses it; kept but not implemented by steady";

/// Warnings for the `Pods` metrics of an autoscaler: such a metric comes only from a host
/// that reports it (`Engine::report_pod_metric`, and the same from C and Python), and
/// `steady run` is no such host, so the autoscaler would never measure it.
fn unreported_metrics(file: &str, doc: &Document, label: &str, kind: &str) -> Vec<Problem> {
    if kind != "HorizontalPodAutoscaler" {
        return Vec::new();
    }
    let metrics = doc
        .value
        .pointer("/spec/metrics")
        .and_then(|m| m.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    metrics
        .iter()
        .enumerate()
        .filter(|(_, m)| m.get("type").and_then(|t| t.as_str()) == Some("Pods"))
        .map(|(i, m)| {
            let name = m
                .pointer("/pods/metric/name")
                .and_then(|n| n.as_str())
                .unwrap_or("");
            let field = format!("spec.metrics[{i}]");
            Problem {
                file: Some(file.to_string()),
                line: Some(line_near(doc, &format!("{field}.pods"))),
                document: Some(document_label(doc)),
                object: Some(label.to_string()),
                field: Some(field),
                message: format!(
                    "Pods metric {name:?} comes only from a host reporting it \
                     (Engine::report_pod_metric, steady_engine_report_pod_metric, \
                     Engine.report_pod_metric): steady run reports none, so it is never measured"
                ),
                warning: true,
            }
        })
        .collect()
}

/// Parses, decodes and validates every document of `sources`; `images` is the image table
/// the engine would run with.
pub fn check(sources: &[Source], images: &ImageTable) -> Checked {
    let store = offline_store();
    let parsed: Vec<_> = sources.iter().map(|s| parse_documents(&s.text)).collect();
    // Definitions first, wherever they are: their kinds serve every document, as in apply.
    for docs in parsed.iter().filter_map(|p| p.as_ref().ok()) {
        for doc in docs {
            if doc.value.get("kind").and_then(|k| k.as_str()) != Some("CustomResourceDefinition") {
                continue;
            }
            if let Ok(mut d) = steady::manifest::decode(&store, &doc.value.to_string()) {
                if let Some(def) = d
                    .pop()
                    .and_then(|d| d.object.downcast_ref::<CustomResourceDefinition>().cloned())
                {
                    store.registry().register(def.served_kind());
                }
            }
        }
    }
    let mut out = Checked::default();
    // (kind, namespace, name) -> (file, line, document) of its first appearance.
    let mut seen: HashMap<(String, String, String), (usize, usize, String)> = HashMap::new();
    for (fi, (src, parsed)) in sources.iter().zip(parsed).enumerate() {
        let docs = match parsed {
            Ok(d) => d,
            Err(e) => {
                out.problems.push(Problem {
                    file: Some(src.name.clone()),
                    line: e.line,
                    document: Some(format!("document {}", e.document)),
                    object: None,
                    field: None,
                    message: e.message.clone(),
                    warning: false,
                });
                continue;
            }
        };
        if docs.is_empty() {
            out.problems.push(Problem {
                file: Some(src.name.clone()),
                line: None,
                document: None,
                object: None,
                field: None,
                message: "no objects in this file".into(),
                warning: true,
            });
        }
        for doc in docs {
            let label = object_label(&doc.value);
            // One document at a time: an error in one does not hide the next one's.
            let decoded = match steady::manifest::decode(&store, &doc.value.to_string()) {
                Ok(mut d) => d.pop().expect("one document decodes to one object"),
                Err(e) => {
                    out.problems
                        .extend(problems_of(&src.name, &doc, &label, &e));
                    continue;
                }
            };
            for w in &decoded.warnings {
                // A field Kubernetes does not define either is most likely misspelt: said
                // so, as kubectl's default (strict) validation would refuse it.
                let foreign = w.message == steady::manifest::fields::UNKNOWN_FIELD
                    && steady::apiserver::kubernetes_field(&decoded.info.kind, &w.path)
                        == Some(false);
                let message = if foreign {
                    MISSPELT.to_string()
                } else {
                    w.message.clone()
                };
                out.problems.push(Problem {
                    file: Some(src.name.clone()),
                    line: Some(line_near(&doc, &w.path)),
                    document: Some(document_label(&doc)),
                    object: Some(label.clone()),
                    field: Some(w.path.clone()),
                    message,
                    warning: true,
                });
            }
            out.problems.extend(commandless(
                &src.name,
                &doc,
                &label,
                &decoded.info.kind,
                images,
            ));
            out.problems.extend(unreported_metrics(
                &src.name,
                &doc,
                &label,
                &decoded.info.kind,
            ));
            let meta = decoded.object.meta();
            let key = (
                decoded.info.kind.clone(),
                meta.namespace.clone().unwrap_or_default(),
                meta.name.clone(),
            );
            // Generated names cannot collide.
            if !meta.name.is_empty() {
                if let Some((f, line, d)) = seen.get(&key) {
                    out.problems.push(Problem {
                        file: Some(src.name.clone()),
                        line: Some(doc.line),
                        document: Some(document_label(&doc)),
                        object: Some(label.clone()),
                        field: None,
                        message: format!(
                            "the same object as {}:{line} ({d}); an object may appear only once",
                            sources[*f].name
                        ),
                        warning: false,
                    });
                    continue;
                }
                seen.insert(key, (fi, doc.line, document_label(&doc)));
            }
            out.entries.push(Entry {
                file: fi,
                doc,
                label,
            });
        }
    }
    // In file order, then line order (a document's problems come from several checks).
    let rank = |p: &Problem| {
        let file = p
            .file
            .as_ref()
            .and_then(|f| sources.iter().position(|s| &s.name == f));
        (file, p.line)
    };
    out.problems.sort_by_key(rank);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, text: &str) -> Source {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    fn lines(c: &Checked) -> Vec<String> {
        c.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_invalid_field_is_a_line_naming_file_line_document_object_and_field() {
        let text = "\
apiVersion: v1
kind: Pod
metadata: {name: good}
spec:
  containers: [{name: main, image: busybox, command: [sleep, '1']}]
---
apiVersion: v1
kind: Pod
metadata:
  name: Bad_Name
spec:
  containers:
  - name: main
    image: busybox
    command: [sleep, '1']
    ports:
    - containerPort: 99999
";
        let c = check(&[src("pods.yaml", text)], &ImageTable::new());
        assert_eq!(c.entries.len(), 1);
        let l = lines(&c);
        assert_eq!(l.len(), 2, "{l:#?}");
        assert!(
            l[0].starts_with("pods.yaml:10: document 2: Pod/Bad_Name: metadata.name: "),
            "{l:#?}"
        );
        assert!(
            l[1].starts_with(
                "pods.yaml:17: document 2: Pod/Bad_Name: spec.containers[0].ports[0].containerPort: "
            ),
            "{l:#?}"
        );
        assert_eq!(c.errors(), 2);
    }

    #[test]
    fn a_decode_error_names_the_field_and_its_line() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: many\n";
        let c = check(&[src("d.yaml", text)], &ImageTable::new());
        let l = lines(&c);
        assert_eq!(l.len(), 1);
        assert!(
            l[0].starts_with("d.yaml:5: document 1: Deployment/web: spec.replicas: "),
            "{l:?}"
        );
    }

    #[test]
    fn parse_errors_stop_at_their_file_and_the_next_file_is_still_checked() {
        let c = check(
            &[
                src("broken.yaml", "kind: Pod\nmetadata: {name: a\n"),
                src(
                    "ok.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
                ),
            ],
            &ImageTable::new(),
        );
        let l = lines(&c);
        assert_eq!(l.len(), 1, "{l:?}");
        assert!(l[0].starts_with("broken.yaml:"), "{l:?}");
        assert!(l[0].contains(": document 1: "), "{l:?}");
        assert_eq!(c.entries.len(), 1);
    }

    #[test]
    fn unknown_fields_are_warnings_on_their_line() {
        let text =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nimmutable: true\nsurprise: 1\n";
        let c = check(&[src("c.yaml", text)], &ImageTable::new());
        assert_eq!(c.errors(), 0);
        let l = lines(&c);
        assert!(
            l.iter().any(|w| w
                == "c.yaml:5: warning: document 1: ConfigMap/c: surprise: unknown field: Kubernetes does not define it either (misspelt?), and kubectl's default validation refuses it; kept but not implemented by steady"),
            "{l:?}"
        );
        assert_eq!(c.entries.len(), 1);
    }

    #[test]
    fn a_pods_metric_is_warned_as_never_measured_under_steady_run() {
        let text = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 3\n  metrics:\n  - type: Pods\n    pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: '10'}}\n";
        let c = check(&[src("h.yaml", text)], &ImageTable::new());
        assert_eq!(c.errors(), 0);
        let l = lines(&c);
        assert!(
            l.iter().any(|w| w.starts_with("h.yaml:9: warning: document 1: HorizontalPodAutoscaler/h: spec.metrics[0]: Pods metric \"qps\" comes only from a host")),
            "{l:?}"
        );
    }

    #[test]
    fn an_object_given_twice_is_a_problem_pointing_at_the_first() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n";
        let other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n";
        let c = check(
            &[
                src("a.yaml", cm),
                src("b.yaml", &format!("{other}---\n{cm}")),
            ],
            &ImageTable::new(),
        );
        assert_eq!(
            lines(&c),
            ["b.yaml:5: document 2: ConfigMap/c: the same object as a.yaml:1 (document 1); an object may appear only once"]
        );
        assert_eq!(c.entries.len(), 2);
    }

    #[test]
    fn missing_kind_and_name_are_reported_with_placeholders() {
        let c = check(
            &[src(
                "x.yaml",
                "apiVersion: v1\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\n",
            )],
            &ImageTable::new(),
        );
        let l = lines(&c);
        assert_eq!(
            l,
            [
                "x.yaml:1: document 1: ?/a: kind: kind is required",
                "x.yaml:4: document 2: Pod/?: metadata.name: name is required",
            ]
        );
        let c = check(
            &[src(
                "y.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {a: b}\n",
            )],
            &ImageTable::new(),
        );
        assert_eq!(
            lines(&c),
            ["y.yaml:3: document 1: Pod/?: metadata.name: name is required",]
        );
    }

    #[test]
    fn unserved_kinds_are_refused_defined_ones_accepted_and_empty_files_warned_about() {
        const FLEET: &str =
            "apiVersion: games.example.com/v1\nkind: Fleet\nmetadata: {name: f}\nspec: {replicas: 2}\n";
        let c = check(
            &[src("f.yaml", FLEET), src("empty.yaml", "# nothing yet\n")],
            &ImageTable::new(),
        );
        assert_eq!(c.errors(), 1);
        let l = lines(&c);
        assert!(
            l[0].starts_with(
                "f.yaml:2: document 1: Fleet/f: kind: no matches for kind \"Fleet\" in version \"games.example.com/v1\""
            ),
            "{l:?}"
        );
        assert!(l[0].contains("CustomResourceDefinition"), "a hint: {l:?}");
        assert_eq!(l[1], "empty.yaml: warning: no objects in this file");

        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
                   metadata: {name: fleets.games.example.com}\n\
                   spec: {group: games.example.com, scope: Namespaced, names: {kind: Fleet, plural: fleets},\n\
                   \x20 versions: [{name: v1, served: true, storage: true}]}\n";
        let c = check(
            &[src("crd.yaml", crd), src("f.yaml", FLEET)],
            &ImageTable::new(),
        );
        assert_eq!(c.errors(), 0, "{:?}", lines(&c));
        assert_eq!(c.entries.len(), 2);
    }

    #[test]
    fn a_namespace_on_a_cluster_scoped_kind_is_an_error() {
        let c = check(
            &[src(
                "n.yaml",
                "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  namespace: default\n",
            )],
            &ImageTable::new(),
        );
        assert_eq!(
            lines(&c),
            ["n.yaml:5: document 1: Node/n1: metadata.namespace: Node is cluster-scoped: namespace must not be set"]
        );
    }

    #[test]
    fn a_container_without_a_command_is_a_warning_naming_its_image() {
        let c = check(&[src(
            "nginx.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nginx}\nspec:\n\
             \x20 selector: {matchLabels: {app: nginx}}\n  template:\n    metadata: {labels: {app: nginx}}\n\
             \x20   spec:\n      containers:\n      - name: nginx\n        image: nginx:1.14.2\n",
        )], &ImageTable::new());
        assert_eq!(c.errors(), 0);
        let l = lines(&c);
        assert_eq!(l.len(), 1, "{l:?}");
        assert!(
            l[0].starts_with(
                "nginx.yaml:11: warning: document 1: Deployment/nginx: spec.template.spec.containers[0]: no command"
            ) && l[0].contains("image \"nginx:1.14.2\" is none of these"),
            "{l:?}"
        );
        // Mapped by the image table (any tag of nginx): no warning.
        let images = ImageTable::new()
            .with("nginx", steady::node::Image::command(["nginx"]))
            .unwrap();
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n\
                    spec: {containers: [{name: a, image: 'nginx:1.14.2'}]}\n";
        let c = check(&[src("p.yaml", text)], &images);
        assert_eq!(lines(&c), Vec::<String>::new());
    }
}
