//! The error every public operation of steady returns (below every layer: any may use it).
//!
//! Each variant names the object (kind, namespace, name) and, where it applies, the field, so
//! a message read out of context still says what was wrong and where.

use std::fmt;

/// A problem with one field of an object: `spec.replicas: must be >= 0`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// JSON path of the field (`spec.template.spec.containers[0].image`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Which object an error is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct ObjectRef {
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Name; empty when a generated name was still to be chosen.
    pub name: String,
}

impl ObjectRef {
    /// A reference to `kind` `namespace/name`.
    pub fn new(kind: &str, namespace: Option<&str>, name: &str) -> Self {
        ObjectRef {
            kind: kind.to_string(),
            namespace: namespace.filter(|n| !n.is_empty()).map(str::to_string),
            name: name.to_string(),
        }
    }
}

impl ObjectRef {
    /// The object a JSON value describes (`metadata.namespace`, `metadata.name`), as `kind`.
    pub fn from_value(kind: &str, v: &serde_json::Value) -> Self {
        let m = v.get("metadata");
        let field = |f: &str| m.and_then(|m| m.get(f)).and_then(serde_json::Value::as_str);
        ObjectRef::new(kind, field("namespace"), field("name").unwrap_or(""))
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} \"{}/{}\"", self.kind, ns, self.name),
            None => write!(f, "{} \"{}\"", self.kind, self.name),
        }
    }
}

fn join_field_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn fmt_named(object: &ObjectRef) -> String {
    if object.name.is_empty() {
        String::new()
    } else {
        format!("{object}: ")
    }
}

fn fmt_version(api_version: &str) -> String {
    if api_version.is_empty() {
        String::new()
    } else {
        format!(" in version {api_version:?}")
    }
}

fn fmt_line(line: &Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

/// The error of every store, client, manifest and engine operation.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist.
    #[error("{object} not found")]
    NotFound {
        /// The missing object.
        object: ObjectRef,
    },
    /// Create of a name that is taken.
    #[error("{object} already exists")]
    AlreadyExists {
        /// The existing object.
        object: ObjectRef,
    },
    /// A compare-and-swap precondition failed: the object changed since it was read.
    #[error("{object}: conflict: {message}")]
    Conflict {
        /// The object.
        object: ObjectRef,
        /// Which precondition failed, with the expected and current values.
        message: String,
    },
    /// The object is invalid; every problem found is listed.
    #[error("{object} is invalid: {}", join_field_errors(errors))]
    Invalid {
        /// The object.
        object: ObjectRef,
        /// Each invalid field with its problem.
        errors: Vec<FieldError>,
    },
    /// The object's JSON encoding is over the store's size limit.
    #[error("{object}: object is {size} bytes, over the size limit of {limit} bytes")]
    TooLarge {
        /// The object.
        object: ObjectRef,
        /// Its encoded size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A watch asked for history the store no longer keeps, or fell too far behind.
    /// Relist, then watch from the list's revision.
    #[error("too old resource version: {requested} ({oldest})")]
    Expired {
        /// The revision the watch was at.
        requested: u64,
        /// The oldest revision the store can still deliver from.
        oldest: u64,
    },
    /// A watch asked to start after a revision the store has not reached: a resourceVersion
    /// from another store, or made up. Refused, as kube-apiserver refuses it, instead of
    /// waiting for revisions that may never come.
    #[error("too large resource version: {requested}, current: {current}")]
    TooNew {
        /// The revision asked for.
        requested: u64,
        /// The store's revision.
        current: u64,
    },
    /// The object exists but cannot serve the request now (a Service with no ready
    /// endpoint; an eviction the pod's PodDisruptionBudget does not allow now, which the
    /// HTTP API answers with 429 TooManyRequests). Retry later.
    #[error("{object}: unavailable: {message}")]
    Unavailable {
        /// The object.
        object: ObjectRef,
        /// Why.
        message: String,
    },
    /// An admission hook refused the write; also an eviction refused for good (more than
    /// one PodDisruptionBudget selects the pod, or its budget forbids evictions: `hook` is
    /// `"eviction"`).
    #[error("{object}: denied by admission hook {hook:?}: {message}")]
    Denied {
        /// The object.
        object: ObjectRef,
        /// The hook's name.
        hook: String,
        /// The hook's reason.
        message: String,
    },
    /// Manifest text that could not be parsed.
    #[error("document {document}{}: {message}", fmt_line(line))]
    Parse {
        /// 1-based document number in the input.
        document: usize,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// An error in one document of a multi-document manifest.
    #[error("document {document}{}: {source}", fmt_line(line))]
    InDocument {
        /// 1-based document number in the input.
        document: usize,
        /// 1-based line of the offending field (or of the document), when known.
        line: Option<usize>,
        /// The error.
        source: Box<Error>,
    },
    /// The kind is not served: no built-in has it, and neither engine configuration nor a
    /// CustomResourceDefinition registered it (as kubectl's "no matches for kind").
    #[error("{}no matches for kind {:?}{}: steady does not serve it; \
             register it (EngineBuilder::kind, \"kinds\" in the C/Python engine config) or apply \
             a CustomResourceDefinition for it first", fmt_named(object), object.kind,
             fmt_version(api_version))]
    NoMatch {
        /// The object of that kind (its name empty when no object is involved).
        object: ObjectRef,
        /// The apiVersion asked for.
        api_version: String,
    },
    /// A watch or wait ran out of time.
    #[error("timed out")]
    Timeout,
    /// The engine or store has shut down.
    #[error("the engine is shut down")]
    Closed,
    /// The data dir of a durable store cannot be used: locked by another engine, written by
    /// a newer steady, unreadable, or a write or fsync failed. `path` is the dir or file.
    #[error("data dir {path}: {message}")]
    Storage {
        /// The data dir, or the file in it that the message is about.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The store's source of truth (etcd, for an engine on several hosts) cannot be
    /// reached, refused a request, or did not deliver a change in time. `backend` names it
    /// (`etcd at http://127.0.0.1:2379`).
    #[error("{backend}: {message}")]
    Backend {
        /// The source and its address.
        backend: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// An [`Error::Invalid`] with one field error.
    pub fn invalid(
        object: ObjectRef,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            object,
            errors: vec![FieldError::new(field, message)],
        }
    }

    /// An [`Error::Storage`] about `path`.
    pub fn storage(path: &std::path::Path, message: impl Into<String>) -> Self {
        Error::Storage {
            path: path.display().to_string(),
            message: message.into(),
        }
    }

    /// The object the error is about, when it is about one.
    pub fn object(&self) -> Option<&ObjectRef> {
        match self {
            Error::NotFound { object }
            | Error::AlreadyExists { object }
            | Error::Conflict { object, .. }
            | Error::Invalid { object, .. }
            | Error::TooLarge { object, .. }
            | Error::Denied { object, .. }
            | Error::NoMatch { object, .. } => Some(object),
            Error::InDocument { source, .. } => source.object(),
            _ => None,
        }
    }

    /// The error itself, looking through [`Error::InDocument`].
    pub fn root(&self) -> &Error {
        match self {
            Error::InDocument { source, .. } => source.root(),
            e => e,
        }
    }

    /// True for [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self.root(), Error::NotFound { .. })
    }

    /// An [`Error::NoMatch`] for `kind` in `api_version`, about no object in particular.
    pub fn no_match(api_version: &str, kind: &str) -> Self {
        Error::NoMatch {
            object: ObjectRef::new(kind, None, ""),
            api_version: api_version.to_string(),
        }
    }

    /// True for [`Error::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self.root(), Error::Conflict { .. })
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_looked_up_by_name_alone_names_no_version() {
        let by_name = Error::NoMatch {
            object: ObjectRef::new("Ingress", None, ""),
            api_version: String::new(),
        };
        assert!(by_name
            .to_string()
            .starts_with("no matches for kind \"Ingress\": steady does not serve it"));
        let versioned = Error::no_match("networking.k8s.io/v1", "Ingress");
        assert!(versioned
            .to_string()
            .starts_with("no matches for kind \"Ingress\" in version \"networking.k8s.io/v1\": "));
    }
}
