//! Recording core/v1 [`Event`]s about objects, with client-go's aggregation of repeats.
//!
//! An [`EventRecorder`] writes one Event per distinct (object uid, type, reason, message): the
//! Event's name is the object's name followed by a hash of those four, so recording the same
//! thing again finds the existing Event and bumps its `count` and `lastTimestamp` (a
//! compare-and-swap update, retried on conflict) instead of piling up new objects.
//!
//! Events are informational: a reconciler should never fail because one could not be written.
//! [`EventRecorder::record`] returns the store's error for callers that care, and logs it at
//! debug level; callers may ignore it (`let _ = recorder.record(...)`).

use crate::api::core::{Event, EventSource, ObjectReference};
use crate::api::Object;
use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::store::{ListParams, Store};
use std::sync::Arc;

/// Longest message stored in an Event, in bytes (longer ones are cut at a character
/// boundary). Kubernetes limits event notes to 1 KiB too.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// Name of the field index [`register_involved_object_index`] adds to Events.
pub const INVOLVED_OBJECT_UID_INDEX: &str = "involvedObject.uid";

/// How often a conflicting or racing write is retried before giving up.
const MAX_ATTEMPTS: usize = 16;

/// The `type` of an Event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Something expected happened (`Scheduled`, `Created`, `ScalingReplicaSet`).
    Normal,
    /// Something may need attention (`BackOff`, `FailedCreate`).
    Warning,
}

impl EventKind {
    /// `Normal` or `Warning`, as written in `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Normal => "Normal",
            EventKind::Warning => "Warning",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes Events about objects on behalf of one component (a controller's name).
///
/// Cheap to clone: clones share the store and the clock.
#[derive(Clone)]
pub struct EventRecorder {
    store: Store,
    component: String,
    clock: SharedClock,
}

impl std::fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRecorder")
            .field("component", &self.component)
            .finish()
    }
}

impl EventRecorder {
    /// A recorder writing to `store` as `component` (`source.component` and
    /// `reportingComponent` of its Events), stamping times from `clock`.
    pub fn new(store: Store, component: &str, clock: SharedClock) -> Self {
        EventRecorder {
            store,
            component: component.to_string(),
            clock,
        }
    }

    /// The component Events are reported as.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Records that `reason` (CamelCase, machine-readable) happened to `object`, described
    /// by `message` (cut to [`MAX_MESSAGE_BYTES`]).
    ///
    /// The Event lives in the object's namespace (`default` for cluster-scoped objects) and
    /// is named `<object name>.<16 hex digits>`, the digits a hash of the object's uid, the
    /// type, the reason and the full message. The first record creates it with `count` 1 and
    /// `firstTimestamp` = `lastTimestamp` = now; each repeat adds one to `count`, moves
    /// `lastTimestamp` to now and refreshes `involvedObject.resourceVersion`.
    ///
    /// # Errors
    ///
    /// The store's error when the Event could not be written (after retrying conflicts and
    /// create races). Recording is best effort: reconcilers may ignore the result.
    pub fn record(
        &self,
        object: &dyn Object,
        type_: EventKind,
        reason: &str,
        message: &str,
    ) -> Result<()> {
        let res = self.record_inner(object, type_, reason, message);
        if let Err(e) = &res {
            log::debug!(
                "{}: could not record {} event {:?} for {} {:?}: {e}",
                self.component,
                type_,
                reason,
                object.kind(),
                object.meta().name
            );
        }
        res
    }

    fn record_inner(
        &self,
        object: &dyn Object,
        type_: EventKind,
        reason: &str,
        message: &str,
    ) -> Result<()> {
        let meta = object.meta();
        let uid = meta.uid.as_deref().unwrap_or("");
        let namespace = event_namespace(object);
        let name = event_name(&meta.name, uid, type_, reason, message);
        let mut last_error = None;
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let existing = match self.store.get("Event", Some(namespace), &name) {
                Ok(o) => Some(o),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            };
            let res = match existing {
                Some(cur) => {
                    let mut ev = match cur.downcast_ref::<Event>() {
                        Some(ev) => ev.clone(),
                        None => unreachable!("the store files only Events under kind Event"),
                    };
                    ev.count = Some(ev.count.unwrap_or(1).saturating_add(1));
                    ev.last_timestamp = Some(now);
                    ev.involved_object.resource_version = meta.resource_version.clone();
                    // Carries the resourceVersion read above: a compare-and-swap.
                    self.store.update(Arc::new(ev))
                }
                None => {
                    let ev = self.new_event(object, namespace, &name, type_, reason, message);
                    self.store.create(Arc::new(ev))
                }
            };
            match res {
                Ok(_) => return Ok(()),
                // Someone else wrote the same Event in between: read it again.
                Err(e @ (Error::Conflict { .. } | Error::AlreadyExists { .. })) => {
                    last_error = Some(e)
                }
                // Deleted between the read and the update: create it again.
                Err(e) if e.is_not_found() => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.expect("every retried attempt records its error"))
    }

    fn new_event(
        &self,
        object: &dyn Object,
        namespace: &str,
        name: &str,
        type_: EventKind,
        reason: &str,
        message: &str,
    ) -> Event {
        let now = self.clock.now();
        let mut ev = Event::default();
        ev.metadata.name = name.to_string();
        ev.metadata.namespace = Some(namespace.to_string());
        ev.involved_object = involved_object(object);
        ev.reason = Some(reason.to_string());
        ev.message = Some(truncate(message, MAX_MESSAGE_BYTES).to_string());
        ev.type_ = Some(type_.as_str().to_string());
        ev.count = Some(1);
        ev.first_timestamp = Some(now);
        ev.last_timestamp = Some(now);
        ev.source = Some(EventSource {
            component: Some(self.component.clone()),
            ..EventSource::default()
        });
        ev.reporting_component = Some(self.component.clone());
        ev
    }
}

/// The `involvedObject` reference of an Event about `object`.
pub fn involved_object(object: &dyn Object) -> ObjectReference {
    let meta = object.meta();
    ObjectReference {
        kind: Some(object.kind().to_string()),
        api_version: Some(object.api_version().to_string()),
        name: Some(meta.name.clone()),
        namespace: meta.namespace.clone().filter(|n| !n.is_empty()),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..ObjectReference::default()
    }
}

/// The namespace Events about `object` live in: its own, or `default` when cluster-scoped.
fn event_namespace(object: &dyn Object) -> &str {
    object
        .meta()
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
}

/// Every Event about `object` (matched by uid, or by kind and name when it has no uid), in
/// name order. Works with or without [`register_involved_object_index`].
pub fn events_for(store: &Store, object: &dyn Object) -> Result<Vec<Arc<Event>>> {
    let meta = object.meta();
    let list = store.list(
        "Event",
        &ListParams {
            namespace: Some(event_namespace(object).to_string()),
            ..ListParams::default()
        },
    )?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|o| o.downcast_arc::<Event>().ok())
        .filter(|ev| {
            let r = &ev.involved_object;
            match &meta.uid {
                Some(uid) => r.uid.as_ref() == Some(uid),
                None => {
                    r.kind.as_deref() == Some(object.kind())
                        && r.name.as_deref() == Some(meta.name.as_str())
                }
            }
        })
        .collect())
}

/// Adds the field index [`INVOLVED_OBJECT_UID_INDEX`] to Events, so
/// `ListParams { field: Some(("involvedObject.uid".into(), uid)), .. }` finds an object's
/// Events without a scan. Call it once per store (the engine's builder is the place): the
/// store keeps every registration it is given.
pub fn register_involved_object_index(store: &Store) {
    store.add_field_index(
        "Event",
        INVOLVED_OBJECT_UID_INDEX,
        Arc::new(|o| {
            o.downcast_ref::<Event>()
                .and_then(|ev| ev.involved_object.uid.as_deref())
        }),
    );
}

/// FNV-1a, 64 bits: stable across runs, platforms and Rust versions (unlike `DefaultHasher`),
/// so an Event recorded before a restart of the host is found again after it.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // 0xff never occurs in UTF-8: parts cannot run into each other.
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in part.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// `<object name>.<16 hex digits>`, the object name shortened (and stripped of a trailing
/// `-` or `.`) when needed to keep the whole a valid object name of at most 253 characters.
fn event_name(
    object_name: &str,
    uid: &str,
    type_: EventKind,
    reason: &str,
    message: &str,
) -> String {
    let hash = fnv1a(&[uid, type_.as_str(), reason, message]);
    let max_prefix = crate::api::validation::DNS1123_SUBDOMAIN_MAX_LEN - 17;
    let prefix = truncate(object_name, max_prefix).trim_end_matches(['-', '.']);
    if prefix.is_empty() {
        format!("{hash:016x}")
    } else {
        format!("{prefix}.{hash:016x}")
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConfigMap, Node};
    use crate::clock::{Clock, ManualClock};
    use crate::Engine;
    use std::time::Duration;

    struct Fixture {
        engine: Engine,
        clock: Arc<ManualClock>,
        recorder: EventRecorder,
    }

    fn fixture() -> Fixture {
        let clock = Arc::new(ManualClock::default());
        let engine = Engine::builder().clock(clock.clone()).build().unwrap();
        let recorder =
            EventRecorder::new(engine.store().clone(), "widget-controller", clock.clone());
        Fixture {
            engine,
            clock,
            recorder,
        }
    }

    fn config_map(f: &Fixture, ns: &str, name: &str) -> Arc<ConfigMap> {
        let mut cm = ConfigMap::default();
        cm.metadata.name = name.into();
        cm.metadata.namespace = Some(ns.into());
        crate::store::ensure_namespaces(f.engine.store(), &[ns]);
        f.engine.api::<ConfigMap>().create(cm).unwrap()
    }

    fn all_events(f: &Fixture) -> Vec<Arc<Event>> {
        f.engine
            .api::<Event>()
            .list(&ListParams::default())
            .unwrap()
            .items
    }

    #[test]
    fn the_first_record_creates_an_event_with_count_one() {
        let f = fixture();
        let cm = config_map(&f, "team-a", "settings");
        f.recorder
            .record(cm.as_ref(), EventKind::Normal, "Synced", "settings synced")
            .unwrap();
        let events = all_events(&f);
        assert_eq!(events.len(), 1);
        let ev = &events[0];
        assert!(
            ev.metadata.name.starts_with("settings."),
            "{}",
            ev.metadata.name
        );
        assert_eq!(ev.metadata.name.len(), "settings.".len() + 16);
        assert_eq!(ev.metadata.namespace.as_deref(), Some("team-a"));
        let io = &ev.involved_object;
        assert_eq!(io.kind.as_deref(), Some("ConfigMap"));
        assert_eq!(io.api_version.as_deref(), Some("v1"));
        assert_eq!(io.name.as_deref(), Some("settings"));
        assert_eq!(io.namespace.as_deref(), Some("team-a"));
        assert_eq!(io.uid, cm.metadata.uid);
        assert_eq!(io.resource_version, cm.metadata.resource_version);
        assert_eq!(ev.reason.as_deref(), Some("Synced"));
        assert_eq!(ev.message.as_deref(), Some("settings synced"));
        assert_eq!(ev.type_.as_deref(), Some("Normal"));
        assert_eq!(ev.count, Some(1));
        let now = f.clock.now();
        assert_eq!(ev.first_timestamp, Some(now));
        assert_eq!(ev.last_timestamp, Some(now));
        assert_eq!(
            ev.source.as_ref().and_then(|s| s.component.as_deref()),
            Some("widget-controller")
        );
        assert_eq!(ev.reporting_component.as_deref(), Some("widget-controller"));
    }

    #[test]
    fn a_repeat_increments_the_count_and_advances_the_last_timestamp() {
        let f = fixture();
        let cm = config_map(&f, "default", "settings");
        let first = f.clock.now();
        f.recorder
            .record(cm.as_ref(), EventKind::Warning, "BackOff", "retrying")
            .unwrap();
        f.clock.advance(Duration::from_secs(30));
        f.recorder
            .record(cm.as_ref(), EventKind::Warning, "BackOff", "retrying")
            .unwrap();
        let events = all_events(&f);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].count, Some(2));
        assert_eq!(events[0].first_timestamp, Some(first));
        assert_eq!(
            events[0].last_timestamp,
            Some(first.plus(Duration::from_secs(30)))
        );
        assert_eq!(events[0].type_.as_deref(), Some("Warning"));
    }

    #[test]
    fn a_different_reason_type_or_message_makes_another_event() {
        let f = fixture();
        let cm = config_map(&f, "default", "settings");
        let r = &f.recorder;
        r.record(cm.as_ref(), EventKind::Normal, "Synced", "ok")
            .unwrap();
        r.record(cm.as_ref(), EventKind::Normal, "Updated", "ok")
            .unwrap();
        r.record(cm.as_ref(), EventKind::Warning, "Synced", "ok")
            .unwrap();
        r.record(cm.as_ref(), EventKind::Normal, "Synced", "not ok")
            .unwrap();
        let events = all_events(&f);
        assert_eq!(events.len(), 4);
        assert!(events.iter().all(|e| e.count == Some(1)));
    }

    #[test]
    fn a_recreated_object_gets_its_own_events() {
        let f = fixture();
        let cm = config_map(&f, "default", "settings");
        f.recorder
            .record(cm.as_ref(), EventKind::Normal, "Synced", "ok")
            .unwrap();
        f.engine
            .api::<ConfigMap>()
            .delete("settings", &Default::default())
            .unwrap();
        let again = config_map(&f, "default", "settings");
        f.recorder
            .record(again.as_ref(), EventKind::Normal, "Synced", "ok")
            .unwrap();
        assert_eq!(all_events(&f).len(), 2);
        assert_eq!(
            events_for(f.engine.store(), again.as_ref()).unwrap().len(),
            1
        );
    }

    #[test]
    fn events_show_in_a_list_by_involved_object() {
        let f = fixture();
        register_involved_object_index(f.engine.store());
        let a = config_map(&f, "default", "a");
        let b = config_map(&f, "default", "b");
        let r = &f.recorder;
        r.record(a.as_ref(), EventKind::Normal, "Synced", "one")
            .unwrap();
        r.record(a.as_ref(), EventKind::Normal, "Synced", "two")
            .unwrap();
        r.record(b.as_ref(), EventKind::Normal, "Synced", "one")
            .unwrap();

        let a_uid = a.metadata.uid.clone().unwrap();
        let by_index = f
            .engine
            .api::<Event>()
            .list(&ListParams {
                field: Some((INVOLVED_OBJECT_UID_INDEX.into(), a_uid.clone())),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(by_index.items.len(), 2);
        assert!(by_index
            .items
            .iter()
            .all(|e| e.involved_object.uid.as_deref() == Some(a_uid.as_str())));

        let scanned = events_for(f.engine.store(), a.as_ref()).unwrap();
        let mut messages: Vec<_> = scanned.iter().filter_map(|e| e.message.clone()).collect();
        messages.sort();
        assert_eq!(messages, ["one", "two"]);
        assert_eq!(events_for(f.engine.store(), b.as_ref()).unwrap().len(), 1);
    }

    #[test]
    fn events_about_cluster_scoped_objects_go_to_the_default_namespace() {
        let f = fixture();
        let mut node = Node::default();
        node.metadata.name = "node-1".into();
        let node = f.engine.api::<Node>().create(node).unwrap();
        f.recorder
            .record(node.as_ref(), EventKind::Normal, "NodeReady", "ready")
            .unwrap();
        let events = events_for(f.engine.store(), node.as_ref()).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].metadata.namespace.as_deref(), Some("default"));
        assert_eq!(events[0].involved_object.namespace, None);
        assert_eq!(events[0].involved_object.kind.as_deref(), Some("Node"));
    }

    #[test]
    fn concurrent_repeats_are_all_counted() {
        let f = fixture();
        let cm = config_map(&f, "default", "busy");
        std::thread::scope(|s| {
            for _ in 0..4 {
                let r = f.recorder.clone();
                let cm = cm.clone();
                s.spawn(move || {
                    for _ in 0..10 {
                        r.record(cm.as_ref(), EventKind::Normal, "Tick", "tick")
                            .unwrap();
                    }
                });
            }
        });
        let events = all_events(&f);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].count, Some(40));
    }

    #[test]
    fn long_names_and_messages_are_cut_to_valid_sizes() {
        let f = fixture();
        let long_name = format!("{}-{}", "a".repeat(235), "b".repeat(10));
        let cm = config_map(&f, "default", &long_name);
        let message = "é".repeat(MAX_MESSAGE_BYTES);
        f.recorder
            .record(cm.as_ref(), EventKind::Normal, "Synced", &message)
            .unwrap();
        let ev = &all_events(&f)[0];
        assert!(ev.metadata.name.len() <= 253);
        assert!(ev.metadata.name.starts_with(&"a".repeat(235)));
        let stored = ev.message.as_deref().unwrap();
        assert!(stored.len() <= MAX_MESSAGE_BYTES);
        assert!(message.starts_with(stored));
        // The full message is what identifies the Event: a repeat still aggregates.
        f.recorder
            .record(cm.as_ref(), EventKind::Normal, "Synced", &message)
            .unwrap();
        assert_eq!(all_events(&f)[0].count, Some(2));
    }

    #[test]
    fn event_names_are_stable() {
        let a = event_name("web", "uid-1", EventKind::Normal, "Synced", "ok");
        assert_eq!(
            a,
            event_name("web", "uid-1", EventKind::Normal, "Synced", "ok")
        );
        assert_ne!(
            a,
            event_name("web", "uid-2", EventKind::Normal, "Synced", "ok")
        );
        // Field boundaries matter: ("ab", "c") is not ("a", "bc").
        assert_ne!(
            event_name("web", "u", EventKind::Normal, "ab", "c"),
            event_name("web", "u", EventKind::Normal, "a", "bc")
        );
        assert_eq!(fnv1a(&[""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&["a"]), 0xaf63_dc4c_8601_ec8c);
    }
}
