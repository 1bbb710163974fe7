//! What goes out to C as JSON: objects, lists, apply reports and watch events, in their
//! Kubernetes wire shapes. Serialization only; no decisions are made here.

use crate::api::{DynamicObject, KindInfo, Object};
use crate::client::ApplyAction;
use crate::error::Error;
use crate::manifest::ApplyReport;
use crate::store::WatchEvent;
use serde_json::{json, Value};
use std::io::Write;

/// Appends the object's JSON to `buf`.
pub(crate) fn write_object(buf: &mut Vec<u8>, o: &dyn Object) {
    // A dynamic object serializes straight from the store's snapshot; a typed one through
    // its wire form.
    let r = match o.as_any().downcast_ref::<DynamicObject>() {
        Some(d) => serde_json::to_writer(&mut *buf, d),
        None => serde_json::to_writer(&mut *buf, &o.to_value()),
    };
    r.expect("objects always serialize to JSON");
}

/// The object's JSON.
pub(crate) fn object(o: &dyn Object) -> Vec<u8> {
    let mut buf = Vec::with_capacity(512);
    write_object(&mut buf, o);
    buf
}

/// A list as kube-apiserver returns it: `{"apiVersion", "kind": "<Kind>List", "metadata":
/// {"resourceVersion"}, "items"}`.
pub(crate) fn list<'a>(
    info: &KindInfo,
    items: impl IntoIterator<Item = &'a dyn Object>,
    revision: u64,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(1024);
    let head = json!({
        "apiVersion": info.api_version,
        "kind": format!("{}List", info.kind),
        "metadata": {"resourceVersion": revision.to_string()},
    })
    .to_string();
    // `head` is an object: reopen it to append the items.
    buf.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    buf.extend_from_slice(b",\"items\":[");
    for (i, o) in items.into_iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        write_object(&mut buf, o);
    }
    buf.extend_from_slice(b"]}");
    buf
}

/// What an apply did: `{"objects": [{"kind", "namespace", "name", "action",
/// "resourceVersion"}], "warnings": [..]}`; `action` is `created`, `configured` or
/// `unchanged`, as `kubectl apply` prints.
pub(crate) fn apply_report(report: &ApplyReport) -> Vec<u8> {
    let objects: Vec<Value> = report
        .objects
        .iter()
        .map(|a| {
            json!({
                "kind": a.object.kind,
                "namespace": a.object.namespace,
                "name": a.object.name,
                "action": match a.action {
                    ApplyAction::Created => "created",
                    ApplyAction::Configured => "configured",
                    ApplyAction::Unchanged => "unchanged",
                },
                "resourceVersion": a.resource_version,
            })
        })
        .collect();
    serde_json::to_vec(&json!({"objects": objects, "warnings": report.warnings}))
        .expect("JSON values always serialize")
}

/// A watch event as on the Kubernetes wire: `{"type": "ADDED", "object": {..}}`; a bookmark
/// carries only the kind and `metadata.resourceVersion`.
pub(crate) fn event(info_kind: &str, api_version: &str, ev: &WatchEvent) -> Vec<u8> {
    let mut buf = Vec::with_capacity(512);
    match ev {
        WatchEvent::Bookmark(rev) => {
            serde_json::to_writer(
                &mut buf,
                &json!({"type": "BOOKMARK", "object": {
                    "apiVersion": api_version, "kind": info_kind,
                    "metadata": {"resourceVersion": rev.to_string()}}}),
            )
            .expect("JSON values always serialize");
        }
        other => {
            let o = other.object().expect("every other event carries an object");
            write!(buf, "{{\"type\":\"{}\",\"object\":", other.type_name())
                .expect("writing to a Vec cannot fail");
            write_object(&mut buf, o.as_ref());
            buf.push(b'}');
        }
    }
    buf
}

/// A recovery report, as `steady_engine_recovery_report` documents it.
pub(crate) fn recovery_report(r: &crate::store::RecoveryReport) -> Vec<u8> {
    let path = |p: &std::path::Path| p.display().to_string();
    let value = json!({
        "dir": path(&r.dir),
        "fresh": r.fresh,
        "snapshotRevision": r.snapshot_revision,
        "snapshotObjects": r.snapshot_objects,
        "recordsReplayed": r.records_replayed,
        "revision": r.revision,
        "durationMs": r.duration.as_millis() as u64,
        "skippedSnapshots": r.skipped_snapshots.iter()
            .map(|(f, why)| json!({"file": path(f), "reason": why}))
            .collect::<Vec<_>>(),
        "truncation": r.truncation.as_ref().map(|t| json!({
            "segment": path(&t.segment),
            "offset": t.offset,
            "bytes": t.bytes,
            "reason": t.reason,
            "droppedSegments": t.dropped_segments.iter().map(|p| path(p)).collect::<Vec<_>>(),
        })),
        "lostData": r.lost_data(),
        "message": r.to_string(),
    });
    serde_json::to_vec(&value).expect("JSON values always serialize")
}

/// The event that ends a callback watch, as kube-apiserver sends it: `{"type": "ERROR",
/// "object": {"kind": "Status", ..., "reason": "Expired", "code": 410, "message": ..}}`.
pub(crate) fn error_event(e: &Error) -> Vec<u8> {
    let (reason, code) = match e {
        Error::Expired { .. } => ("Expired", 410),
        Error::Closed => ("Closed", 503),
        _ => ("InternalError", 500),
    };
    serde_json::to_vec(&json!({"type": "ERROR", "object": {
        "apiVersion": "v1", "kind": "Status", "status": "Failure",
        "reason": reason, "code": code, "message": e.to_string()}}))
    .expect("JSON values always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ConfigMap;
    use std::sync::Arc;

    #[test]
    fn lists_have_the_kube_apiserver_shape() {
        let info = KindInfo::of::<ConfigMap>();
        let mut a = ConfigMap::default();
        a.metadata.name = "a".into();
        let items: Vec<Arc<dyn Object>> = vec![Arc::new(a.clone()), Arc::new(a)];
        let v: Value =
            serde_json::from_slice(&list(&info, items.iter().map(|o| o.as_ref()), 7)).unwrap();
        assert_eq!(v["kind"], "ConfigMapList");
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["metadata"]["resourceVersion"], "7");
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        assert_eq!(v["items"][1]["metadata"]["name"], "a");
        let empty: Value = serde_json::from_slice(&list(&info, [], 1)).unwrap();
        assert_eq!(empty["items"], json!([]));
    }

    #[test]
    fn events_have_the_watch_wire_shape() {
        let mut d = DynamicObject::new("example.com/v1", "Widget", "w");
        d.metadata.resource_version = Some("4".into());
        let ev = WatchEvent::Modified(Arc::new(d));
        let v: Value = serde_json::from_slice(&event("Widget", "example.com/v1", &ev)).unwrap();
        assert_eq!(v["type"], "MODIFIED");
        assert_eq!(v["object"]["metadata"]["name"], "w");
        let b: Value =
            serde_json::from_slice(&event("Widget", "example.com/v1", &WatchEvent::Bookmark(9)))
                .unwrap();
        assert_eq!(b["type"], "BOOKMARK");
        assert_eq!(b["object"]["metadata"]["resourceVersion"], "9");
        let e: Value = serde_json::from_slice(&error_event(&Error::Expired {
            requested: 3,
            oldest: 5,
        }))
        .unwrap();
        assert_eq!(e["type"], "ERROR");
        assert_eq!(e["object"]["code"], 410);
        assert_eq!(e["object"]["message"], "too old resource version: 3 (5)");
    }
}
