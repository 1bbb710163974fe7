//! Following every kind: one store watch per kind, read as one [`WatchSet`] by the caller's
//! thread.
//!
//! Each watch starts from revision 0, so it replays the kind's history from the engine's
//! start (nothing committed before `steady run` started watching is missed); a kind whose
//! history starts later (a store on etcd or recovered from a snapshot keeps the history
//! since it was opened, and old history is trimmed) starts from a list instead, quietly:
//! there is nothing yet to forget. Kinds registered later
//! (custom kinds a controller starts using) are picked up by [`Follower::discover`]. A watch
//! that falls behind ([`Error::Expired`]) starts over from a fresh list, announced by
//! [`Msg::Restart`] so the consumer can forget what it knew of that kind. A watch leaves the
//! set when the store closes its watches at engine shutdown.

use super::status::Change;
use serde_json::Value;

/// A Secret as `steady run` prints it: its keys, never its values (the data's values, and
/// the last-applied annotation, which holds them when apply was given them).
pub fn redact_secret(object: &mut Value) {
    if let Some(data) = object.get_mut("data").and_then(Value::as_object_mut) {
        for v in data.values_mut() {
            *v = Value::String("<redacted>".into());
        }
    }
    if let Some(a) = object
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        if let Some(v) = a.get_mut("kubectl.kubernetes.io/last-applied-configuration") {
            *v = Value::String("<redacted>".into());
        }
    }
}
use std::collections::HashSet;
use std::time::{Duration, Instant};
use steady::store::{Store, Watch, WatchEvent, WatchParams, WatchSet};
use steady::Error;

/// What the follower reports.
#[derive(Debug)]
pub enum Msg {
    /// A change of one object.
    Event {
        /// Its kind.
        kind: String,
        /// Added, modified or deleted.
        change: Change,
        /// The object (its last state, for a deletion) as JSON.
        object: Value,
    },
    /// The watch of `kind` fell behind and starts over: Added events for every current
    /// object follow.
    Restart {
        /// The kind.
        kind: String,
        /// Why (the watch error).
        reason: String,
    },
}

/// `ADDED`, `MODIFIED` or `DELETED`, as on the Kubernetes wire.
pub fn type_name(change: Change) -> &'static str {
    match change {
        Change::Added => "ADDED",
        Change::Modified => "MODIFIED",
        Change::Deleted => "DELETED",
    }
}

/// The watches of every kind. See the [module documentation](self).
pub struct Follower {
    store: Store,
    followed: HashSet<String>,
    watches: WatchSet,
    /// The kind of each watch, by its index in `watches`.
    kinds: Vec<String>,
}

impl Follower {
    /// Follows every kind registered now; read the events with [`Follower::recv_timeout`].
    pub fn start(store: &Store) -> Follower {
        let mut f = Follower {
            store: store.clone(),
            followed: HashSet::new(),
            watches: WatchSet::new(),
            kinds: Vec::new(),
        };
        f.discover();
        f
    }

    /// Starts following the kinds registered since the last call.
    pub fn discover(&mut self) {
        let mut kinds: Vec<String> = self
            .store
            .registry()
            .all()
            .iter()
            .map(|k| k.kind.clone())
            .filter(|k| !self.followed.contains(k))
            .collect();
        kinds.sort();
        for kind in kinds {
            // The watch is opened here, so every kind known when this returns is followed.
            let Some(watch) = open(&self.store, &kind) else {
                return; // the store is closed
            };
            self.followed.insert(kind.clone());
            let at = self.watches.push(watch);
            self.kinds.resize(at + 1, String::new());
            self.kinds[at] = kind;
        }
    }

    /// The next message, waiting at most `timeout`; `None` on timeout.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<Msg> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, got) = self.watches.recv_timeout(left)?;
            let kind = self.kinds[at].clone();
            let (change, object) = match got {
                Ok(WatchEvent::Added(o)) => (Change::Added, o),
                Ok(WatchEvent::Modified(o)) => (Change::Modified, o),
                Ok(WatchEvent::Deleted(o)) => (Change::Deleted, o),
                Ok(WatchEvent::Bookmark(_)) => continue,
                Err(e @ Error::Expired { .. }) => {
                    // Fell behind: start over from a list (synthetic Added for every object).
                    if let Ok(w) = self.store.watch(&kind, &WatchParams::default()) {
                        self.watches.insert(at, w);
                    }
                    return Some(Msg::Restart {
                        kind,
                        reason: e.to_string(),
                    });
                }
                // Closed: the engine is shutting down; the watch left the set.
                Err(_) => continue,
            };
            let mut object = object.to_value();
            if kind == "Secret" {
                redact_secret(&mut object);
            }
            return Some(Msg::Event {
                kind,
                change,
                object,
            });
        }
    }

    /// The next message already queued, without waiting.
    pub fn try_recv(&mut self) -> Option<Msg> {
        self.recv_timeout(Duration::ZERO)
    }
}

/// A watch of `kind` from revision 0, or from a list when that history is gone.
fn open(store: &Store, kind: &str) -> Option<Watch> {
    let from_start = WatchParams {
        since: Some(0),
        ..Default::default()
    };
    match store.watch(kind, &from_start) {
        Ok(w) => Some(w),
        // Nothing of the kind was reported yet: its current objects, as Added, say it all.
        Err(Error::Expired { .. }) => store.watch(kind, &WatchParams::default()).ok(),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use steady::api::{ConfigMap, Registry};
    use steady::store::StoreConfig;

    #[test]
    fn a_kind_whose_history_starts_late_is_listed_without_a_restart() {
        let registry = Arc::new(Registry::new());
        steady::api::register_builtins(&registry);
        let store = Store::new(
            registry,
            StoreConfig {
                history_limit: 1,
                ..Default::default()
            },
        );
        for name in ["a", "b", "c"] {
            let mut c = ConfigMap::default();
            c.metadata.name = name.into();
            store.create(Arc::new(c)).unwrap();
        }
        let mut f = Follower::start(&store);
        let mut config_maps = Vec::new();
        while let Some(m) = f.try_recv() {
            match m {
                Msg::Restart { kind, reason } => panic!("a restart of {kind}: {reason}"),
                Msg::Event {
                    kind,
                    change,
                    object,
                } if kind == "ConfigMap" => {
                    assert!(matches!(change, Change::Added));
                    config_maps.push(object["metadata"]["name"].as_str().unwrap().to_string());
                }
                Msg::Event { .. } => {}
            }
        }
        config_maps.sort();
        assert_eq!(config_maps, ["a", "b", "c"]);
    }
}
