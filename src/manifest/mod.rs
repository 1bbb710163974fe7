//! Manifests (layer 8): YAML or JSON text to objects, and apply.
//!
//! [`apply`] is all-or-nothing: every document is parsed, decoded and validated before any is
//! committed, and the writes then commit in one store transaction under one revision. Errors
//! name the document and, where it can be found, the line of the offending field.

pub mod fields;
pub mod parse;

use crate::api::{CustomResourceDefinition, KindInfo, Object};
use crate::client::{prepare_apply, ApplyAction};
use crate::error::{Error, ObjectRef, Result};
use crate::store::{Store, TxnOp};
use fields::FieldWarning;
use parse::Document;
use serde_json::Value;
use std::sync::Arc;

/// One object of a manifest, decoded and validated.
#[derive(Debug)]
pub struct Decoded {
    /// Where it came from.
    pub document: Document,
    /// Its kind's registration.
    pub info: Arc<KindInfo>,
    /// The object, as the store would hold it.
    pub object: Arc<dyn Object>,
    /// Fields steady keeps but does not act on (unknown ones, and those
    /// [`fields::NOT_IMPLEMENTED`] lists).
    pub warnings: Vec<FieldWarning>,
}

/// What one apply did, per object.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The object.
    pub object: ObjectRef,
    /// Created, configured or unchanged.
    pub action: ApplyAction,
    /// Its resourceVersion after the apply.
    pub resource_version: String,
}

/// The result of [`apply`].
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    /// Per object, in document order.
    pub objects: Vec<Applied>,
    /// Fields steady keeps but does not implement, one line each:
    /// `document N, line L: Kind "ns/name": path: why`.
    pub warnings: Vec<String>,
}

fn in_doc(doc: &Document, field: Option<&str>, e: Error) -> Error {
    let line = field
        .filter(|f| !f.is_empty())
        .and_then(|f| doc.line_of(f))
        .or(Some(doc.line));
    Error::InDocument {
        document: doc.index + 1,
        line,
        source: Box::new(e),
    }
}

const DEFINITION: &str = "CustomResourceDefinition";

/// The order in which apply writes kinds: definitions, then Namespaces, then the rest, so
/// one apply can bring a kind or a namespace and what uses it, in any document order.
fn apply_rank(kind: &str) -> u8 {
    match kind {
        DEFINITION => 0,
        "Namespace" => 1,
        _ => 2,
    }
}

/// Parses `text` and decodes and validates every object in it, without touching the store.
/// A kind the engine does not serve is [`Error::NoMatch`], unless a CustomResourceDefinition
/// in the same text defines it.
pub fn decode(store: &Store, text: &str) -> Result<Vec<Decoded>> {
    let docs = parse::parse_documents(text).map_err(|e| Error::Parse {
        document: e.document,
        line: e.line,
        message: e.message.clone(),
    })?;
    // Definitions first, wherever they are in the text: their kinds serve every document.
    let mut defined: Vec<Arc<KindInfo>> = Vec::new();
    let mut slots: Vec<Option<Decoded>> = docs.iter().map(|_| None).collect();
    for (i, d) in docs.iter().enumerate() {
        if d.value.get("kind").and_then(Value::as_str) != Some(DEFINITION) {
            continue;
        }
        let decoded = decode_document(store, &defined, d.clone())?;
        if let Some(def) = decoded.object.downcast_ref::<CustomResourceDefinition>() {
            defined.push(Arc::new(def.served_kind()));
        }
        slots[i] = Some(decoded);
    }
    let mut out = Vec::with_capacity(docs.len());
    for (d, slot) in docs.into_iter().zip(slots) {
        out.push(match slot {
            Some(decoded) => decoded,
            None => decode_document(store, &defined, d)?,
        });
    }
    Ok(out)
}

fn decode_document(store: &Store, defined: &[Arc<KindInfo>], doc: Document) -> Result<Decoded> {
    let v = &doc.value;
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let r = ObjectRef::from_value(&kind, v);
    if !v.is_object() {
        return Err(in_doc(
            &doc,
            None,
            Error::invalid(r, "", "a manifest document must be an object"),
        ));
    }
    if kind.is_empty() {
        return Err(in_doc(
            &doc,
            None,
            Error::invalid(r, "kind", "kind is required"),
        ));
    }
    let Some(api_version) = v.get("apiVersion").and_then(Value::as_str) else {
        return Err(in_doc(
            &doc,
            None,
            Error::invalid(r, "apiVersion", "apiVersion is required"),
        ));
    };
    let meta = v.get("metadata");
    let has_name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let has_generate = meta.and_then(|m| m.get("generateName")).is_some();
    if !has_name && !has_generate {
        return Err(in_doc(
            &doc,
            Some("metadata"),
            Error::invalid(r, "metadata.name", "name is required"),
        ));
    }
    let registry = store.registry();
    let info = match registry.get(&kind).or_else(|| {
        defined
            .iter()
            .find(|k| k.kind == kind && k.serves(api_version))
            .cloned()
    }) {
        Some(info) => info,
        None => {
            return Err(in_doc(
                &doc,
                Some("kind"),
                Error::NoMatch {
                    object: r,
                    api_version: api_version.to_string(),
                },
            ))
        }
    };
    let mut r = r;
    if info.namespaced && r.namespace.is_none() {
        r.namespace = Some("default".into());
    }
    if !info.namespaced && r.namespace.is_some() {
        return Err(in_doc(
            &doc,
            Some("metadata.namespace"),
            Error::invalid(
                r,
                "metadata.namespace",
                format!("{kind} is cluster-scoped: namespace must not be set"),
            ),
        ));
    }
    crate::client::check_kind(&info, v).map_err(|e| in_doc(&doc, Some("apiVersion"), e))?;
    let mut object = info.decode(v.clone()).map_err(|e| {
        let field = e.field.clone();
        in_doc(
            &doc,
            Some(&field),
            Error::Invalid {
                object: r.clone(),
                errors: vec![e],
            },
        )
    })?;
    if info.namespaced && object.meta().namespace.is_none() {
        crate::api::make_mut(&mut object).meta_mut().namespace = Some("default".into());
    }
    store.validate_as(&info, object.as_ref()).map_err(|mut e| {
        // A field the object does not model is often why a required one is missing
        // (`contaienrs` for `containers`): the refusal names them too, where apply would
        // only have warned about them.
        if let Error::Invalid { errors, .. } = &mut e {
            for w in fields::warnings(&info, v, object.as_ref()) {
                if w.message == fields::UNKNOWN_FIELD {
                    errors.push(crate::api::FieldError::new(
                        w.path,
                        "unknown field (steady does not model it: misspelt?)",
                    ));
                }
            }
        }
        let field = match &e {
            Error::Invalid { errors, .. } => errors.first().map(|f| f.field.clone()),
            _ => None,
        };
        in_doc(&doc, field.as_deref(), e)
    })?;
    let warnings = fields::warnings(&info, v, object.as_ref());
    Ok(Decoded {
        document: doc,
        info,
        object,
        warnings,
    })
}

/// Applies every object in `text` (YAML or JSON, one or many documents) as `kubectl apply`
/// does, all-or-nothing. Applying the same text twice commits nothing the second time.
pub fn apply(store: &Store, text: &str) -> Result<ApplyReport> {
    let mut decoded = decode(store, text)?;
    let mut warnings = Vec::new();
    for d in &decoded {
        let r = ObjectRef::new(
            &d.info.kind,
            d.object.meta().namespace.as_deref(),
            &d.object.meta().name,
        );
        for w in &d.warnings {
            let line = d.document.line_of(&w.path).unwrap_or(d.document.line);
            warnings.push(format!(
                "document {}, line {line}: {r}: {}: {}",
                d.document.index + 1,
                w.path,
                w.message
            ));
        }
    }
    // Written in rank order (stable); reported in document order.
    decoded.sort_by_key(|d| apply_rank(&d.info.kind));
    for attempt in 0.. {
        let mut ops = Vec::with_capacity(decoded.len());
        let mut lives = Vec::with_capacity(decoded.len());
        for d in &decoded {
            let m = d.object.meta();
            let live = match store.get(&d.info.kind, m.namespace.as_deref(), &m.name) {
                Ok(o) if !m.name.is_empty() => Some(o),
                // A kind defined earlier in this apply has no objects yet.
                Ok(_) | Err(Error::NotFound { .. } | Error::NoMatch { .. }) => None,
                Err(e) => return Err(in_doc(&d.document, None, e)),
            };
            let mut desired = d.document.value.clone();
            if let (Some(ns), Some(meta)) = (
                &m.namespace,
                desired.get_mut("metadata").and_then(Value::as_object_mut),
            ) {
                meta.insert("namespace".into(), ns.clone().into());
            }
            let (obj, action) = prepare_apply(&d.info, desired, live.as_ref())
                .map_err(|e| in_doc(&d.document, None, e))?;
            ops.push(match action {
                ApplyAction::Created => TxnOp::Create(obj),
                _ => TxnOp::Update(obj),
            });
            lives.push(live);
        }
        match store.transaction(ops) {
            Ok(results) => {
                let mut objects = Vec::with_capacity(results.len());
                let mut order = Vec::with_capacity(results.len());
                for ((res, live), d) in results.into_iter().zip(lives).zip(&decoded) {
                    order.push(d.document.index);
                    let o = res.expect("apply writes every object");
                    let action = match &live {
                        None => ApplyAction::Created,
                        Some(l) if Arc::ptr_eq(l, &o) => ApplyAction::Unchanged,
                        Some(_) => ApplyAction::Configured,
                    };
                    objects.push(Applied {
                        object: ObjectRef::new(
                            &d.info.kind,
                            o.meta().namespace.as_deref(),
                            &o.meta().name,
                        ),
                        action,
                        resource_version: o.meta().resource_version.clone().unwrap_or_default(),
                    });
                }
                let mut objects: Vec<(usize, Applied)> = order.into_iter().zip(objects).collect();
                objects.sort_by_key(|(i, _)| *i);
                let objects = objects.into_iter().map(|(_, a)| a).collect();
                return Ok(ApplyReport { objects, warnings });
            }
            // Someone changed an object between our read and the commit: merge again.
            Err(
                e @ (Error::Conflict { .. } | Error::AlreadyExists { .. } | Error::NotFound { .. }),
            ) => {
                if attempt >= 64 {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the retry loop returns")
}
