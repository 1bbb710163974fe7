//! Manifests (layer 9): YAML or JSON text to objects, and apply.
//!
//! [`apply`] is all-or-nothing: every document is parsed, decoded and validated before any is
//! committed, and the writes then commit in one store transaction under one revision. Errors
//! name the document and, where it can be found, the line of the offending field.

pub mod parse;

use crate::api::{Extra, KindInfo, Object, Registry};
use crate::client::{merge, prepare_apply, ApplyAction};
use crate::error::{Error, ObjectRef, Result};
use crate::store::{Store, TxnOp};
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
    /// Fields steady does not model (kept, but not acted upon), as paths.
    pub warnings: Vec<String>,
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
    /// Fields steady keeps but does not implement, as `Kind "ns/name": path` lines.
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

/// Parses `text` and decodes and validates every object in it, without touching the store's
/// contents (custom kinds met for the first time are registered).
pub fn decode(store: &Store, text: &str) -> Result<Vec<Decoded>> {
    let docs = parse::parse_documents(text).map_err(|e| Error::Parse {
        document: e.document,
        line: e.line,
        message: e.message.clone(),
    })?;
    docs.into_iter()
        .map(|d| decode_document(store.registry(), store, d))
        .collect()
}

fn decode_document(registry: &Registry, store: &Store, doc: Document) -> Result<Decoded> {
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
    let info = registry.get_or_dynamic(api_version, &kind);
    let mut r = r;
    if info.namespaced && r.namespace.is_none() {
        r.namespace = Some("default".into());
    }
    crate::client::check_kind(&info, v).map_err(|e| in_doc(&doc, None, e))?;
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
    store.validate(object.as_ref()).map_err(|e| {
        let field = match &e {
            Error::Invalid { errors, .. } => errors.first().map(|f| f.field.clone()),
            _ => None,
        };
        in_doc(&doc, field.as_deref(), e)
    })?;
    let warnings = if info.is_dynamic() {
        Vec::new()
    } else {
        let mut known = Extra::without(|| object.to_value());
        // A Secret's stringData is implemented: folded into data as it is decoded, so the
        // decoded object no longer has it.
        if info.kind == "Secret" {
            if let (Some(sd), Some(k)) = (v.get("stringData"), known.as_object_mut()) {
                k.insert("stringData".into(), sd.clone());
            }
        }
        merge::unknown_fields(v, &known)
    };
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
    let decoded = decode(store, text)?;
    let mut warnings = Vec::new();
    for d in &decoded {
        let r = ObjectRef::new(
            &d.info.kind,
            d.object.meta().namespace.as_deref(),
            &d.object.meta().name,
        );
        for w in &d.warnings {
            warnings.push(format!(
                "{r}: unknown field {w:?} is kept but not implemented by steady"
            ));
        }
    }
    for attempt in 0.. {
        let mut ops = Vec::with_capacity(decoded.len());
        let mut lives = Vec::with_capacity(decoded.len());
        for d in &decoded {
            let m = d.object.meta();
            let live = match store.get(&d.info.kind, m.namespace.as_deref(), &m.name) {
                Ok(o) if !m.name.is_empty() => Some(o),
                Ok(_) | Err(Error::NotFound { .. }) => None,
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
                for ((res, live), d) in results.into_iter().zip(lives).zip(&decoded) {
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
