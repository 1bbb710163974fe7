//! Following every kind: one store watch per kind, fanned into one channel.
//!
//! Each watch starts from revision 0, so it replays the kind's history from the engine's
//! start (nothing committed before `steady run` started watching is missed); a kind the
//! store no longer has the history for starts from a list instead. Kinds registered later
//! (custom kinds a controller starts using) are picked up by [`Follower::discover`]. A watch
//! that falls behind ([`Error::Expired`]) starts over from a fresh list, announced by
//! [`Msg::Restart`] so the consumer can forget what it knew of that kind. The threads end
//! when the store closes its watches at engine shutdown.

use super::status::Change;
use crossbeam_channel::{Receiver, Sender};
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
use std::thread::JoinHandle;
use steady::store::{Store, Watch, WatchEvent, WatchParams};
use steady::Error;

/// What the follower threads send.
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
    tx: Sender<Msg>,
    followed: HashSet<String>,
    threads: Vec<JoinHandle<()>>,
}

impl Follower {
    /// Follows every kind registered now; events arrive on the returned channel.
    pub fn start(store: &Store) -> (Follower, Receiver<Msg>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut f = Follower {
            store: store.clone(),
            tx,
            followed: HashSet::new(),
            threads: Vec::new(),
        };
        f.discover();
        (f, rx)
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
            let Some(watch) = open(&self.store, &kind, &self.tx) else {
                return; // the store is closed
            };
            self.followed.insert(kind.clone());
            let (store, tx) = (self.store.clone(), self.tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("steady-follow-{kind}"))
                .spawn(move || follow(store, kind, watch, tx));
            match spawned {
                Ok(t) => self.threads.push(t),
                Err(e) => log::error!("cannot start a watch thread: {e}"),
            }
        }
    }

    /// Waits for every thread to end; call after the store closed its watches.
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// A watch of `kind` from revision 0, or from a list when that history is gone.
fn open(store: &Store, kind: &str, tx: &Sender<Msg>) -> Option<Watch> {
    let from_start = WatchParams {
        since: Some(0),
        ..Default::default()
    };
    match store.watch(kind, &from_start) {
        Ok(w) => Some(w),
        Err(Error::Expired { .. }) => {
            let _ = tx.send(Msg::Restart {
                kind: kind.to_string(),
                reason: "history from the start is gone; listing".into(),
            });
            store.watch(kind, &WatchParams::default()).ok()
        }
        Err(_) => None,
    }
}

fn follow(store: Store, kind: String, mut watch: Watch, tx: Sender<Msg>) {
    loop {
        let (change, object) = match watch.recv() {
            Ok(WatchEvent::Added(o)) => (Change::Added, o),
            Ok(WatchEvent::Modified(o)) => (Change::Modified, o),
            Ok(WatchEvent::Deleted(o)) => (Change::Deleted, o),
            Ok(WatchEvent::Bookmark(_)) => continue,
            Err(e @ Error::Expired { .. }) => {
                // Fell behind: start over from a list (synthetic Added for every object).
                if tx
                    .send(Msg::Restart {
                        kind: kind.clone(),
                        reason: e.to_string(),
                    })
                    .is_err()
                {
                    return;
                }
                match store.watch(&kind, &WatchParams::default()) {
                    Ok(w) => {
                        watch = w;
                        continue;
                    }
                    Err(_) => return,
                }
            }
            // Closed: the engine is shutting down.
            Err(_) => return,
        };
        let mut object = object.to_value();
        if kind == "Secret" {
            redact_secret(&mut object);
        }
        let msg = Msg::Event {
            kind: kind.clone(),
            change,
            object,
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}
