//! The store's side of persistence: opening a durable store (replaying what recovery read),
//! encoding commits into log records, and capturing the store for snapshots.

use super::{Backend, CaptureFn, Captured, PayloadWriter, Persist, RecoveryReport, WalLog};
use crate::api::{Object, Registry};
use crate::error::{Error, Result};
use crate::store::kind::{AfterUnlock, KindStore};
use crate::store::lifecycle::{Staged, DEFINITION_KIND};
use crate::store::{apply, make_key, Action, Inner, Store, StoreConfig, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

/// Encodes the writes of one commit (no-ops left out) as a record payload.
pub(in crate::store) fn encode<'a>(writes: impl IntoIterator<Item = &'a Write>) -> Vec<u8> {
    let mut p = PayloadWriter::new();
    for w in writes {
        match &w.action {
            Action::Put(o) => p.put(&w.ks.info.kind, &w.key, |b| {
                b.extend_from_slice(&o.to_json());
            }),
            Action::Remove => p.remove(&w.ks.info.kind, &w.key),
            Action::Keep => {}
        }
    }
    debug_assert!(p.len() > 0, "a commit that writes nothing is not logged");
    p.finish()
}

impl Store {
    /// Opens a durable store in `persist.dir`: recovers what the dir holds (see the
    /// [recovery rules](crate::store::persist)), then logs every commit there. A new dir
    /// starts as [`Store::new`] does. Errors with [`Error::Storage`] when another engine
    /// holds the dir, when it was written by a newer steady, when it holds objects of a
    /// kind `registry` does not serve, or when it cannot be read or written.
    pub fn open(registry: Arc<Registry>, config: StoreConfig, persist: &Persist) -> Result<Store> {
        let rec = super::recover(persist)?;
        let store = Store::empty(registry, config);
        let floor = rec.snapshot.as_ref().map_or(0, |(r, _)| *r);
        store.inner.history_floor.store(floor, Ordering::Release);
        store.load(&rec, persist)?;
        let mut report = rec.report.clone();
        // Nothing was ever committed (a new dir, or a first start that crashed before its
        // first commit): start as a new store does.
        let fresh = store.revision() == 1;
        let weak = Arc::downgrade(&store.inner);
        let capture: CaptureFn = Box::new(move |log: &WalLog| capture(&weak, log));
        let clock = store.inner.config.clock.clone();
        let log = WalLog::start(persist, rec, clock, capture)?;
        let backend: Arc<dyn Backend> = log;
        let _ = store.inner.backend.set(backend);
        if fresh {
            store.create_initial_namespaces();
        }
        report.revision = store.revision();
        if report.lost_data() {
            log::error!("{report}");
        } else if report.truncation.is_some() {
            log::warn!("{report}");
        } else {
            log::info!("{report}");
        }
        let _ = store.inner.recovery.set(report);
        Ok(store)
    }

    /// What recovery found when this store was opened on a data dir (`None` for an
    /// in-memory store).
    pub fn recovery_report(&self) -> Option<&RecoveryReport> {
        self.inner.recovery.get()
    }

    /// Makes every write so far durable, stops the log's background thread and releases
    /// the data dir, so another engine may open it; for a store on etcd, stops its watch
    /// and closes the connections. Later writes fail with [`Error::Closed`]. Nothing to do
    /// for an in-memory store. Idempotent; engine shutdown calls it.
    pub fn close_persistence(&self) {
        if let Some(b) = self.inner.backend.get() {
            b.close();
        }
        if let Some(r) = self.inner.remote.get() {
            r.close();
        }
    }

    /// Applies the snapshot and the log records recovery read.
    fn load(&self, rec: &super::Recovered, persist: &Persist) -> Result<()> {
        let dir = &persist.dir;
        if let Some((rev, entries)) = &rec.snapshot {
            // Definitions come first in a snapshot: register their kinds before the rest.
            for (kind, json) in entries {
                let (ks, obj) = self.decode(dir, kind, json)?;
                let key = make_key(&ks.info, obj.meta().namespace.as_deref(), &obj.meta().name);
                self.load_object(&ks, key, obj, json.len() + 22);
            }
            self.inner.revision.store(*rev, Ordering::Release);
        }
        for (rev, payload) in &rec.records {
            let ops = super::format::read_ops(payload)
                .map_err(|e| Error::storage(dir, format!("record {rev}: {e}")))?;
            let mut definitions = Vec::new();
            for op in ops {
                let (ks, key, action, size) = match op {
                    super::format::Op::Put { kind, key, json } => {
                        let (ks, obj) = self.decode(dir, kind, json)?;
                        (ks, key, Action::Put(obj), json.len() + 22)
                    }
                    super::format::Op::Remove { kind, key } => {
                        let info = self.inner.registry.get(kind).ok_or_else(|| {
                            Error::storage(dir, format!("record {rev}: kind {kind} is not served"))
                        })?;
                        (self.kind_store(&info), key, Action::Remove, 0)
                    }
                };
                let w = Write::onto_stored(&ks, key, action, size);
                if w.removes_nothing() {
                    return Err(Error::storage(
                        dir,
                        format!(
                            "record {rev} removes {} {key}, which does not exist: the log does not match its snapshot",
                            ks.info.kind
                        ),
                    ));
                }
                let removed = matches!(w.action, Action::Remove);
                let defines = ks.info.kind == DEFINITION_KIND;
                let mut after = AfterUnlock::default();
                let mut st = ks.state.lock();
                let o = apply(w, &mut st, *rev, &mut after);
                drop(st);
                after.run();
                if let Some(o) = o.filter(|_| defines) {
                    definitions.push((o, removed));
                }
            }
            self.publish(&definitions, &Staged::default());
            self.inner.revision.store(*rev, Ordering::Release);
        }
        // Changes before the snapshot are not in any history: a watch from there is Expired.
        self.close_history_through(self.inner.history_floor.load(Ordering::Acquire));
        Ok(())
    }

    /// Decodes an object of `kind` read from the data dir.
    fn decode(
        &self,
        dir: &std::path::Path,
        kind: &str,
        json: &[u8],
    ) -> Result<(Arc<KindStore>, Arc<dyn Object>)> {
        let info = self.inner.registry.get(kind).ok_or_else(|| {
            Error::storage(
                dir,
                format!(
                    "it holds objects of kind {kind}, which this engine does not serve: \
                     register the kind (engine configuration \"kinds\") before opening the dir"
                ),
            )
        })?;
        let value: serde_json::Value = serde_json::from_slice(json).map_err(|e| {
            Error::storage(dir, format!("an object of kind {kind} is not JSON: {e}"))
        })?;
        let obj = info.decode(value).map_err(|e| {
            Error::storage(
                dir,
                format!(
                    "an object of kind {kind} does not decode: {}: {}",
                    e.field, e.message
                ),
            )
        })?;
        Ok((self.kind_store(&info), obj))
    }
}

/// Captures the store for a snapshot (see [`CaptureFn`]).
fn capture(weak: &Weak<Inner>, log: &WalLog) -> Option<Result<Captured>> {
    let inner = weak.upgrade()?;
    let result = {
        // The kinds map stays read-locked so that no kind store appears meanwhile; every
        // kind's lock is taken in ascending name order, as transactions take them, so no
        // write is between taking its revision and applying it.
        let kinds = inner.kinds.read();
        let mut stores: Vec<&Arc<KindStore>> = kinds.values().collect();
        stores.sort_by(|a, b| a.info.kind.cmp(&b.info.kind));
        let guards: Vec<_> = stores.iter().map(|k| k.state.lock()).collect();
        let revision = inner.revision.load(Ordering::Acquire);
        match log.rotate(revision) {
            Err(e) => Err(e),
            Ok(()) => {
                let mut objects: Vec<(String, Vec<Arc<dyn Object>>)> = stores
                    .iter()
                    .map(|ks| {
                        let objs = ks.objects.iter().map(|e| e.value().obj.clone()).collect();
                        (ks.info.kind.clone(), objs)
                    })
                    .collect();
                drop(guards);
                // Definitions first: their kinds must be registered before their objects load.
                objects.sort_by_key(|(k, _)| k != DEFINITION_KIND);
                Ok(Captured { revision, objects })
            }
        }
    };
    drop(inner);
    Some(result)
}
