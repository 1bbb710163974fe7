#![cfg_attr(not(feature = "etcd"), allow(dead_code))] // Only the etcd backend implements the seam.
//! A store whose source of truth is elsewhere: the seam an etcd backend plugs into
//! ([`etcd`](super::etcd), feature `etcd`), the write path through it and the cache it feeds.
//!
//! # Protocol
//! - **Writes.** A write is prepared as always (defaults, validation, admission, size)
//!   against the local cache. Under the locks of the kinds it touches it is compared with the
//!   cache (a stale base ends there, exactly as in memory) and its unique fields are claimed;
//!   then the locks are released and the write goes to the source as one conditional
//!   transaction: every key it touches must still be at its base's resourceVersion (absent,
//!   for a create). No lock is held across the network, and a transaction of several objects
//!   is one transaction there too: all or nothing.
//! - **The cache changes only through [`Store::apply_remote`]**, called by one thread, the
//!   backend's watch, with every change in revision order, whoever wrote it. It takes the
//!   locks of every kind a revision touches (ascending names, as transactions do), applies
//!   the changes, sets the store's revision to theirs and publishes them. So the kind
//!   invariants of [`kind`](super::kind) hold as in memory, with the source's revisions: local
//!   watchers see exactly the source's history of the objects, in order.
//! - **Read your writes.** A writer whose transaction committed at revision `r` returns only
//!   when the cache has applied `r` ([`Applied::wait`]): a read after a write sees it (or
//!   something newer). A writer whose compare failed waits until the cache holds the state
//!   the source compared against (until a compared key changed in the cache, or the cache
//!   reached the failure's revision), then judges on the cache: a
//!   caller's precondition fails as in memory (Conflict, NotFound, AlreadyExists), any other
//!   write is prepared again from the newer state.
//! - **Fenced writes.** A write through a handle made with [`Store::fenced`] (the leader's
//!   controllers and scheduler) also compares the leader election's Lease: see [`Fence`].
//! - **The watermark** ([`Applied`]) only grows: the revision through which the cache holds
//!   every change of the source that is ours (its last applied change).
//!
//! Revisions are the source's: they grow, but not by one per change when the source also
//! holds other keys.

use super::*;
use crate::api::make_mut as uniq;
use parking_lot::Condvar;
use std::time::{Duration, Instant};

/// What a remote write asks of one key: that it is still at `expect` (`0`: absent), and
/// then `write`.
pub(crate) struct RemoteOp<'a> {
    /// The object's kind.
    pub(crate) kind: &'a str,
    /// The object's store key (`namespace/name`, or `name`).
    pub(crate) key: &'a str,
    /// The revision the key must still have; `0`: it must not exist.
    pub(crate) expect: u64,
    /// What to do when every compare holds.
    pub(crate) write: RemoteWrite,
}

/// The write of one [`RemoteOp`].
pub(crate) enum RemoteWrite {
    /// Store this JSON at the key.
    Put(Vec<u8>),
    /// Remove the key.
    Delete,
    /// Only compare.
    Check,
}

/// How a remote transaction ended.
pub(crate) enum Committed {
    /// Every compare held; the writes took this revision.
    At(u64),
    /// A compare failed at the source, whose revision was this then.
    Failed(u64),
}

/// One change read from the source: `json` is `None` for a removal. `rev` is the revision
/// of the object's last change (its resourceVersion).
pub(crate) struct RemoteEvent {
    pub(crate) kind: String,
    pub(crate) key: String,
    pub(crate) rev: u64,
    pub(crate) json: Option<Vec<u8>>,
}

/// The seam to the source of truth.
pub(crate) trait Remote: Send + Sync {
    /// Sends one conditional transaction (see [`RemoteOp`]).
    fn commit(&self, ops: Vec<RemoteOp<'_>>) -> Result<Committed>;
    /// How long a writer waits for the source and for the watch to deliver its write.
    fn timeout(&self) -> Duration;
    /// Names the source in errors (`etcd at http://127.0.0.1:2379`).
    fn describe(&self) -> String;
    /// Stops the watch and closes the connections. Later writes fail with
    /// [`Error::Closed`].
    fn close(&self);
}

/// A condition on every write through a handle of a leader-only controller or the scheduler
/// ([`Store::fenced`]), on a store whose source of truth is remote: the leader election's
/// Lease must still be, at the source, the version this engine's cache holds, and that
/// version must name this engine as holder. The write's transaction compares the Lease's
/// revision beside its own keys.
///
/// So a deposed leader's write fails even when it was decided while it led (a reconcile
/// already running when its lead lapsed) or when its cache lags: whoever took the Lease
/// wrote it, which changed the revision compared. A renewal by this engine changes it too:
/// the write then waits until the cache holds the renewal and is sent again, compared with
/// it. A store with no remote source (in memory, or durable on a data dir) ignores the
/// fence: one engine alone writes to it.
pub(crate) struct Fence {
    /// The Lease's store key, `namespace/name`.
    pub(crate) lease: String,
    /// This engine's identity, the Lease's `holderIdentity` while it leads.
    pub(crate) holder: String,
    /// Whether the engine still leads by its own clock (the time fence of
    /// [`Leadership`](crate::client::leader::Leadership)).
    pub(crate) leads: Box<dyn Fn() -> bool + Send + Sync>,
}

/// The pseudo-kind of the keys that order claims of unique values across engines:
/// `<prefix>.claims/<Kind>`, one per kind with unique fields (see [`Claims`]).
pub(crate) const CLAIMS_KIND: &str = ".claims";

/// The versions of the claims keys ([`CLAIMS_KIND`]) through the watermark, by kind.
///
/// A unique field (a Service's `clusterIP`) is checked against the allocating engine's
/// cache, which may not hold yet what another engine just committed. So a remote write
/// that claims a value its base did not hold also rewrites its kind's claims key, compared
/// with the version this engine read *before* it checked the value against its cache: two
/// engines claiming at once cannot both commit, and the one that fails waits until its
/// cache holds the other's objects, then checks (or, for an allocated value, allocates)
/// again. That read-before-check order is sound because the applier raises a kind's
/// version only after it applied the objects of the same revision.
pub(crate) type Claims = Mutex<HashMap<String, u64>>;

/// The revision through which the cache holds every change of the source.
#[derive(Default)]
pub(crate) struct Applied {
    state: Mutex<AppliedState>,
    cv: Condvar,
}

#[derive(Default)]
struct AppliedState {
    rev: u64,
    /// Set when the watch stopped for good: waiters fail with it.
    failed: Option<String>,
}

impl Applied {
    /// Raises the watermark to `rev` (never lowers it) and wakes the writers waiting for it.
    pub(crate) fn advance(&self, rev: u64) {
        let mut s = self.state.lock();
        if rev > s.rev {
            s.rev = rev;
            self.cv.notify_all();
        }
    }

    /// The watch stopped for good: every waiter, now and later, fails with `why`.
    pub(crate) fn fail(&self, why: String) {
        self.state.lock().failed = Some(why);
        self.cv.notify_all();
    }

    /// Returns once the watermark reached `rev`, or once `enough` holds. Fails after
    /// `remote.timeout()`.
    ///
    /// No lost wake-up: the watermark only changes under `state`, where this checks it
    /// (and `enough`, whose inputs the applier changes before it raises the watermark)
    /// before sleeping on `cv`, and every raise notifies `cv`.
    pub(crate) fn wait(
        &self,
        rev: u64,
        remote: &dyn Remote,
        enough: impl Fn() -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + remote.timeout();
        let mut s = self.state.lock();
        loop {
            if s.rev >= rev || enough() {
                return Ok(());
            }
            if let Some(why) = &s.failed {
                return Err(Error::Backend {
                    backend: remote.describe(),
                    message: why.clone(),
                });
            }
            if self.cv.wait_until(&mut s, deadline).timed_out() && s.rev < rev && !enough() {
                return Err(Error::Backend {
                    backend: remote.describe(),
                    message: format!(
                        "its watch did not deliver revision {rev} within {:?} (delivered \
                         through {}): the write may have been made, but this engine cannot \
                         see it yet",
                        remote.timeout(),
                        s.rev
                    ),
                });
            }
        }
    }
}

/// How [`Store::commit_remote`] ended.
pub(super) enum RemoteEnd {
    /// Committed at this revision (`0`: nothing to write, nothing sent); `out` holds each
    /// write's result, as the in-memory commit returns it.
    Done(Vec<Option<Arc<dyn Object>>>),
    /// The write at this index was prepared against a state that is no longer current.
    Stale(usize),
}

impl Store {
    /// Commits prepared `writes` through `remote`, all or none (see the module docs).
    pub(super) fn commit_remote(
        &self,
        writes: &mut [Write],
        remote: &dyn Remote,
    ) -> Result<RemoteEnd> {
        // Per write: an allocator filled one of its unique fields; and the object and size
        // as prepared, before any allocation, to allocate again from.
        let mut allocated = vec![false; writes.len()];
        let prepared: Vec<Option<(Arc<dyn Object>, usize)>> = writes
            .iter()
            .map(|w| match &w.action {
                Action::Put(o) => Some((o.clone(), w.size)),
                _ => None,
            })
            .collect();
        loop {
            // The claims versions are read before the claims are checked against the cache:
            // the applier raises a version only after the objects of its revision are in
            // the cache, so the check sees every claim the version orders (see `Claims`).
            // Per write, its kind's claims version.
            let claims_seen: Vec<u64> = {
                let versions = self.inner.claims.lock();
                writes
                    .iter()
                    .map(|w| versions.get(&*w.ks.info.kind).copied().unwrap_or(0))
                    .collect()
            };
            // Writes that claim a value their base did not hold, one per kind.
            let mut claiming: Vec<usize> = Vec::new();
            {
                // Compare with the cache and claim unique fields under the kinds' locks,
                // taken in ascending name order like every multi-kind commit.
                let kinds = lock_order(writes.iter().map(|w| &w.ks));
                let mut guards = Locked::take(&kinds);
                if let Some(i) = first_stale(writes) {
                    return Ok(RemoteEnd::Stale(i));
                }
                let mut claimed = Vec::new();
                for (i, w) in writes.iter_mut().enumerate() {
                    let st = guards.state(&w.ks);
                    if !st.has_unique() {
                        continue;
                    }
                    allocated[i] |= self.claim_unique(st, w, &mut claimed)?;
                    if let Action::Put(o) = &w.action {
                        if st.claims_new_values(w.base.as_deref(), o.as_ref()) {
                            claiming.push(i);
                        }
                    }
                }
            }
            let kind_of = |i: &usize| &*writes[*i].ks.info.kind;
            claiming.sort_by(|a, b| kind_of(a).cmp(kind_of(b)));
            claiming.dedup_by(|a, b| kind_of(a) == kind_of(b));
            if writes.iter().all(|w| matches!(w.action, Action::Keep)) {
                // Nothing to write commits nothing, as in memory.
                return Ok(RemoteEnd::Done(
                    writes.iter().map(|w| w.base.clone()).collect(),
                ));
            }
            let fenced = match &self.fence {
                Some(f) => Some((f, self.fence_version(f)?)),
                None => None,
            };
            let mut ops: Vec<RemoteOp<'_>> = writes
                .iter()
                .map(|w| RemoteOp {
                    kind: &w.ks.info.kind,
                    key: &w.key,
                    expect: w.base.as_ref().map_or(0, |b| version_of(b.as_ref())),
                    write: match &w.action {
                        Action::Put(o) => RemoteWrite::Put(o.to_json()),
                        Action::Remove => RemoteWrite::Delete,
                        Action::Keep => RemoteWrite::Check,
                    },
                })
                .collect();
            for &i in &claiming {
                ops.push(RemoteOp {
                    kind: CLAIMS_KIND,
                    key: &writes[i].ks.info.kind,
                    expect: claims_seen[i],
                    write: RemoteWrite::Put(b"{}".to_vec()),
                });
            }
            if let Some((f, version)) = fenced {
                ops.push(RemoteOp {
                    kind: "Lease",
                    key: &f.lease,
                    expect: version,
                    write: RemoteWrite::Check,
                });
            }
            let fence_moved = || fenced.is_some_and(|(f, version)| self.fence_moved(f, version));
            let claims_moved = || {
                let versions = self.inner.claims.lock();
                claiming.iter().any(|&i| {
                    versions.get(&*writes[i].ks.info.kind).copied().unwrap_or(0) != claims_seen[i]
                })
            };
            match remote.commit(ops)? {
                Committed::At(rev) => {
                    self.inner.applied.wait(rev, remote, || false)?;
                    return Ok(RemoteEnd::Done(
                        writes.iter_mut().map(|w| result_of(w, rev)).collect(),
                    ));
                }
                Committed::Failed(seen) => {
                    // The changes the source compared against are ours to read (they are of
                    // the keys compared): wait until the cache holds them, or the source's
                    // whole state at the failure.
                    let writes_ref = &*writes;
                    self.inner.applied.wait(seen, remote, || {
                        first_stale(writes_ref).is_some() || fence_moved() || claims_moved()
                    })?;
                    if let Some(i) = first_stale(writes) {
                        return Ok(RemoteEnd::Stale(i));
                    }
                    if claims_moved() {
                        // Another engine claimed values of the kind meanwhile, and the cache
                        // now holds its objects. A value an allocator picked may be among
                        // them: it allocates again, from the object as prepared; values the
                        // writer chose are checked again (taken now: refused as in memory).
                        for (w, (a, p)) in
                            writes.iter_mut().zip(allocated.iter_mut().zip(&prepared))
                        {
                            if let (true, Some((o, size))) = (*a, p) {
                                w.action = Action::Put(o.clone());
                                w.size = *size;
                                *a = false;
                            }
                        }
                        continue;
                    }
                    if fence_moved() {
                        // The Lease changed: renewed by this engine (the write goes again,
                        // compared with the renewal) or taken by another (refused above).
                        continue;
                    }
                    // The cache holds every change through the revision the source compared
                    // at, and still agrees with the write: a retry would fail the same way.
                    return Err(Error::Conflict {
                        object: ObjectRef::new(&writes[0].ks.info.kind, None, &writes[0].key),
                        message: format!(
                            "{} refused the write although this engine's cache holds the \
                             versions it compared (through revision {seen})",
                            remote.describe()
                        ),
                    });
                }
            }
        }
    }

    /// The version of the election's Lease that a write through a fenced handle compares
    /// (see [`Fence`]), or why the write is refused: the lead lapsed on this engine's clock,
    /// or its cache shows the Lease gone or held by another engine.
    fn fence_version(&self, f: &Fence) -> Result<u64> {
        let (ns, name) = f.lease.split_once('/').unwrap_or(("", &f.lease));
        // Unavailable, not Conflict: callers take a conflict for "changed meanwhile, look
        // again" (some retry at once), while this write will not go through from this engine
        // until it leads again.
        let refused = |why: String| Error::Unavailable {
            object: ObjectRef::new("Lease", Some(ns), name),
            message: format!(
                "this engine ({}) no longer leads: {why}; the write of a controller that runs \
                 on the leader only is refused",
                f.holder
            ),
        };
        if !(f.leads)() {
            return Err(refused("its lead lapsed".into()));
        }
        let cur = match self.get("Lease", Some(ns), name) {
            Ok(cur) => cur,
            Err(Error::NotFound { .. }) => return Err(refused("the Lease is gone".into())),
            Err(e) => return Err(e),
        };
        let holder = cur
            .downcast_ref::<crate::api::Lease>()
            .and_then(|l| l.spec.holder_identity.as_deref());
        if holder != Some(f.holder.as_str()) {
            return Err(refused(format!(
                "the Lease names {}",
                holder.unwrap_or("no holder")
            )));
        }
        Ok(version_of(cur.as_ref()))
    }

    /// Whether the cache's version of the fence's Lease is no longer `version`.
    fn fence_moved(&self, f: &Fence, version: u64) -> bool {
        let (ns, name) = f.lease.split_once('/').unwrap_or(("", &f.lease));
        self.get("Lease", Some(ns), name)
            .map_or(true, |cur| version_of(cur.as_ref()) != version)
    }

    /// Applies the changes of revision `rev` read from the source to the cache and
    /// publishes them (see the module docs: one caller, in revision order). A change that
    /// cannot be applied (a kind this engine does not serve, JSON that does not decode) is
    /// left out with an error in the log; the rest of the revision applies.
    pub(crate) fn apply_remote(&self, rev: u64, events: Vec<RemoteEvent>) {
        self.apply_remote_at(rev, events, true);
    }

    /// [`Store::apply_remote`]; with `stamp` false, each put keeps the version its event
    /// carries although the change is published at `rev` (a resynchronisation).
    ///
    /// Definitions (CustomResourceDefinitions) of the revision are applied and published
    /// first, so that objects of a kind defined in the same transaction decode.
    fn apply_remote_at(&self, rev: u64, events: Vec<RemoteEvent>, stamp: bool) {
        let (claims, events): (Vec<_>, Vec<_>) =
            events.into_iter().partition(|e| e.kind == CLAIMS_KIND);
        let (definitions, rest): (Vec<_>, Vec<_>) =
            events.into_iter().partition(|e| e.kind == DEFINITION_KIND);
        if !definitions.is_empty() {
            self.apply_remote_group(rev, definitions, stamp);
        }
        if !rest.is_empty() {
            self.apply_remote_group(rev, rest, stamp);
        }
        // After the objects of the revision (see `Claims`).
        self.note_claims(claims);
        self.inner.revision.fetch_max(rev, Ordering::AcqRel);
        // After every change of the revision is in the cache (see `Applied::wait`).
        self.inner.applied.advance(rev);
    }

    /// Decodes `events` and applies them at `rev` under the locks of their kinds, then
    /// publishes the definitions among them.
    fn apply_remote_group(&self, rev: u64, events: Vec<RemoteEvent>, stamp: bool) {
        let mut decoded = Vec::with_capacity(events.len());
        for e in events {
            if let Some(d) = self.decode_remote(e) {
                decoded.push(d);
            }
        }
        let kinds = lock_order(decoded.iter().map(|(ks, ..)| ks));
        let mut guards = Locked::take(&kinds);
        let mut after = AfterUnlock::default();
        let mut definitions = Vec::new();
        for (ks, key, action, size) in decoded {
            let w = Write::onto_stored(&ks, &key, action, size);
            if w.removes_nothing() {
                continue;
            }
            let removed = matches!(w.action, Action::Remove);
            let defines = ks.info.kind == DEFINITION_KIND;
            let st = guards.state(&ks);
            let (o, ev) = apply_versioned(w, st, rev, stamp);
            if let Some(ev) = ev {
                st.publish(ev, &mut after);
            }
            if let Some(o) = o.filter(|_| defines) {
                definitions.push((o, removed));
            }
        }
        // Under the locks, as every commit takes its revision (see `kind`).
        self.inner.revision.fetch_max(rev, Ordering::AcqRel);
        drop(guards);
        after.run();
        if !definitions.is_empty() {
            self.publish(&definitions, &Staged::default());
        }
    }

    /// Decodes one change from the source: its kind store, key, action and size.
    fn decode_remote(&self, e: RemoteEvent) -> Option<(Arc<KindStore>, String, Action, usize)> {
        let Some(info) = self.inner.registry.get(&e.kind) else {
            log::error!(
                "revision {}: {} {} is of a kind this engine does not serve; left out of its \
                 cache (register the kind, as on the engine that wrote it)",
                e.rev,
                e.kind,
                e.key
            );
            return None;
        };
        let ks = self.kind_store(&info);
        let Some(json) = e.json else {
            return Some((ks, e.key, Action::Remove, 0));
        };
        let decoded = serde_json::from_slice::<serde_json::Value>(&json)
            .map_err(|err| err.to_string())
            .and_then(|v| {
                info.decode(v)
                    .map_err(|f| format!("{}: {}", f.field, f.message))
            });
        match decoded {
            Ok(mut obj) => {
                uniq(&mut obj).meta_mut().resource_version = Some(e.rev.to_string());
                Some((ks, e.key, Action::Put(obj), json.len() + 22))
            }
            Err(why) => {
                log::error!(
                    "revision {}: {} {} does not decode ({why}); left out of this engine's cache",
                    e.rev,
                    e.kind,
                    e.key
                );
                None
            }
        }
    }

    /// Fills an empty cache with the source's objects as of revision `rev` (each entry's
    /// `rev` is its own version) and starts the history there: a watch from an older
    /// revision is Expired. Definitions are loaded first, so their kinds decode.
    pub(crate) fn load_remote(&self, rev: u64, entries: Vec<RemoteEvent>) {
        let (claims, mut entries): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|e| e.kind == CLAIMS_KIND);
        entries.sort_by_key(|e| e.kind != DEFINITION_KIND);
        self.inner.history_floor.store(rev, Ordering::Release);
        for e in entries {
            let Some((ks, key, Action::Put(obj), size)) = self.decode_remote(e) else {
                continue;
            };
            self.load_object(&ks, Arc::from(key), obj, size);
        }
        // After the objects, as the applier does (see `Claims`).
        self.note_claims(claims);
        self.close_history_through(rev);
        self.inner.revision.store(rev, Ordering::Release);
        self.inner.applied.advance(rev);
    }

    /// Brings the cache to the source's state `entries` as of revision `rev` after the
    /// watch lost changes (the source compacted them before they were read): every object
    /// that differs is published as changed at `rev`, every one gone as deleted, and the
    /// history before `rev` is closed (a watch from an older revision is Expired, since
    /// the changes in between are not known one by one).
    pub(crate) fn resync_remote(&self, rev: u64, entries: Vec<RemoteEvent>) {
        let mut changes = Vec::new();
        let mut present: std::collections::HashSet<(String, String)> =
            std::collections::HashSet::with_capacity(entries.len());
        let kinds_now = self.inner.kinds.read();
        for e in entries {
            present.insert((e.kind.clone(), e.key.clone()));
            let cached = kinds_now
                .get(&e.kind)
                .and_then(|ks| ks.get(&e.key))
                .map(|o| version_of(o.as_ref()));
            if cached != Some(e.rev) {
                changes.push(e);
            }
        }
        let kinds: Vec<Arc<KindStore>> = kinds_now.values().cloned().collect();
        drop(kinds_now);
        for ks in &kinds {
            for entry in ks.objects.iter() {
                let k = (ks.info.kind.clone(), entry.key().to_string());
                if !present.contains(&k) {
                    changes.push(RemoteEvent {
                        kind: k.0,
                        key: k.1,
                        rev,
                        json: None,
                    });
                }
            }
        }
        // In order of the objects' versions (a removal last, at `rev`): what watchers see
        // still grows.
        changes.sort_by_key(|e| e.rev);
        log::warn!(
            "the source compacted changes this engine had not read: its cache was listed again \
             at revision {rev} ({} objects changed or gone since)",
            changes.len()
        );
        self.inner
            .history_floor
            .fetch_max(rev.saturating_sub(1), Ordering::AcqRel);
        self.close_history_through(rev.saturating_sub(1));
        self.apply_remote_at(rev, changes, false);
    }

    /// Records the versions of claims keys read from the source (see [`Claims`]).
    fn note_claims(&self, claims: Vec<RemoteEvent>) {
        if claims.is_empty() {
            return;
        }
        let mut versions = self.inner.claims.lock();
        for c in claims {
            match c.json {
                Some(_) => versions.insert(c.key, c.rev),
                None => versions.remove(&c.key),
            };
        }
    }

    /// The watch stopped for good: writers waiting for it fail with `why`.
    #[cfg(feature = "etcd")]
    pub(crate) fn remote_failed(&self, why: String) {
        self.inner.applied.fail(why);
    }
}

/// The index of the first write whose base is no longer the cached object.
fn first_stale(writes: &[Write]) -> Option<usize> {
    writes
        .iter()
        .position(|w| !same(&w.ks.get(&w.key), &w.base))
}

/// An object's resourceVersion as a revision (`0` when it has none).
fn version_of(o: &dyn Object) -> u64 {
    o.meta()
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// What a committed write returns, as the in-memory commit does: the object written at
/// `rev`, a removed object's last state at `rev`, or the checked base.
fn result_of(w: &mut Write, rev: u64) -> Option<Arc<dyn Object>> {
    match std::mem::replace(&mut w.action, Action::Keep) {
        Action::Put(mut o) => {
            uniq(&mut o).meta_mut().resource_version = Some(rev.to_string());
            Some(o)
        }
        Action::Remove => w.base.as_ref().map(|b| {
            let mut last = b.clone_arc();
            uniq(&mut last).meta_mut().resource_version = Some(rev.to_string());
            last
        }),
        Action::Keep => w.base.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConfigMap, Registry};
    use std::time::Duration;

    fn since(rev: u64) -> WatchParams {
        WatchParams {
            since: Some(rev),
            ..Default::default()
        }
    }

    fn store() -> Store {
        let registry = Arc::new(Registry::new());
        crate::api::register_builtins(&registry);
        Store::empty(registry, StoreConfig::default())
    }

    fn json(name: &str, value: &str) -> Vec<u8> {
        let mut c = ConfigMap::default();
        c.metadata.name = name.into();
        c.metadata.namespace = Some("default".into());
        c.metadata.uid = Some(format!("uid-{name}"));
        c.data.insert("v".into(), value.into());
        c.to_json()
    }

    fn put(name: &str, rev: u64, value: &str) -> RemoteEvent {
        RemoteEvent {
            kind: "ConfigMap".into(),
            key: format!("default/{name}"),
            rev,
            json: Some(json(name, value)),
        }
    }

    fn gone(name: &str, rev: u64) -> RemoteEvent {
        RemoteEvent {
            kind: "ConfigMap".into(),
            key: format!("default/{name}"),
            rev,
            json: None,
        }
    }

    fn value(s: &Store, name: &str) -> Option<(String, String)> {
        let o = s.get("ConfigMap", Some("default"), name).ok()?;
        let c = o.downcast_ref::<ConfigMap>().unwrap();
        Some((
            c.data["v"].clone(),
            c.metadata.resource_version.clone().unwrap(),
        ))
    }

    /// `(type, name, revision)` of what `w` holds now.
    fn drain(w: &mut Watch) -> Vec<(&'static str, String, u64)> {
        let mut out = Vec::new();
        while let Ok(Some(ev)) = w.recv_timeout(Duration::from_millis(20)) {
            let name = ev
                .object()
                .map(|o| o.meta().name.clone())
                .unwrap_or_default();
            out.push((ev.type_name(), name, ev.revision()));
        }
        out
    }

    #[test]
    fn the_cache_takes_each_object_s_version_and_publishes_changes_in_order() {
        let s = store();
        s.load_remote(10, vec![put("a", 7, "1"), put("b", 9, "1")]);
        assert_eq!(s.revision(), 10);
        assert_eq!(value(&s, "a"), Some(("1".into(), "7".into())));
        assert_eq!(value(&s, "b"), Some(("1".into(), "9".into())));
        // The history starts at the listing.
        let old = s.watch("ConfigMap", &since(9));
        assert!(matches!(old, Err(Error::Expired { .. })), "{old:?}");
        let mut w = s.watch("ConfigMap", &since(10)).unwrap();
        // A revision with two changes (one transaction), then a removal, then a removal
        // of what the cache never held (ignored), then an unknown kind (left out).
        s.apply_remote(12, vec![put("a", 12, "2"), put("c", 12, "1")]);
        s.apply_remote(15, vec![gone("b", 15)]);
        s.apply_remote(16, vec![gone("never", 16)]);
        s.apply_remote(
            17,
            vec![RemoteEvent {
                kind: "Unserved".into(),
                key: "x".into(),
                rev: 17,
                json: Some(b"{}".to_vec()),
            }],
        );
        assert_eq!(
            drain(&mut w),
            [
                ("MODIFIED", "a".to_string(), 12),
                ("ADDED", "c".to_string(), 12),
                ("DELETED", "b".to_string(), 15),
            ]
        );
        assert_eq!(value(&s, "a"), Some(("2".into(), "12".into())));
        assert_eq!(value(&s, "b"), None);
        assert_eq!(s.revision(), 17);
    }

    #[test]
    fn a_resync_publishes_the_difference_and_closes_the_history_before_it() {
        let s = store();
        s.load_remote(
            10,
            vec![
                put("same", 3, "1"),
                put("changed", 4, "1"),
                put("gone", 5, "1"),
            ],
        );
        let mut w = s.watch("ConfigMap", &since(10)).unwrap();
        // Changes 11..=29 were compacted away unread; the listing at 30 holds the result.
        s.resync_remote(
            30,
            vec![
                put("same", 3, "1"),
                put("changed", 21, "2"),
                put("new", 25, "1"),
            ],
        );
        // In version order; a changed object carries its own version, a removal the
        // listing's revision.
        assert_eq!(
            drain(&mut w),
            [
                ("MODIFIED", "changed".to_string(), 21),
                ("ADDED", "new".to_string(), 25),
                ("DELETED", "gone".to_string(), 30),
            ]
        );
        // Each object keeps its own version (what etcd compares writes against).
        assert_eq!(value(&s, "changed"), Some(("2".into(), "21".into())));
        assert_eq!(value(&s, "new"), Some(("1".into(), "25".into())));
        assert_eq!(value(&s, "same"), Some(("1".into(), "3".into())));
        // A watch from before the gap cannot be served: Expired.
        let old = s.watch("ConfigMap", &since(20));
        assert!(matches!(old, Err(Error::Expired { .. })), "{old:?}");
    }

    #[test]
    fn a_waiter_wakes_when_the_watermark_passes_or_its_condition_holds() {
        struct Slow;
        impl Remote for Slow {
            fn commit(&self, _: Vec<RemoteOp<'_>>) -> Result<Committed> {
                unreachable!()
            }
            fn timeout(&self) -> Duration {
                Duration::from_secs(10)
            }
            fn describe(&self) -> String {
                "test".into()
            }
            fn close(&self) {}
        }
        let applied = Arc::new(Applied::default());
        let done = Arc::new(AtomicBool::new(false));
        std::thread::scope(|scope| {
            let (a, d) = (applied.clone(), done.clone());
            let waiter = scope.spawn(move || {
                let r = a.wait(5, &Slow, || false);
                d.store(true, Ordering::Release);
                r
            });
            for rev in 1..=5 {
                applied.advance(rev);
                applied.advance(rev - 1); // never lowers it
            }
            assert!(waiter.join().unwrap().is_ok());
        });
        assert!(done.load(Ordering::Acquire));
        // A condition that holds ends the wait below the watermark; a failed watch ends
        // every wait with its reason.
        assert!(applied.wait(100, &Slow, || true).is_ok());
        applied.fail("stopped".into());
        let e = applied.wait(100, &Slow, || false).unwrap_err();
        assert!(e.to_string().contains("test: stopped"), "{e}");
    }

    /// A source of truth in memory for the fence's tests: keys with their revisions; a
    /// commit first writes the Lease held by `before`, when set (a renewal or a takeover
    /// meanwhile), then compares and applies to the cache as etcd's watch would.
    struct Source {
        cache: WeakStore,
        state: Mutex<(u64, HashMap<String, u64>)>,
        commits: std::sync::atomic::AtomicUsize,
        before: Mutex<Option<&'static str>>,
        /// Committed at the source by someone else, not yet delivered to the cache: the
        /// next commit delivers them first, as the watch would.
        unseen: Mutex<Vec<(u64, Vec<RemoteEvent>)>>,
    }

    impl Source {
        fn on(cache: &Store, rev: u64) -> Arc<Source> {
            let src = Arc::new(Source {
                cache: cache.downgrade(),
                state: Mutex::new((rev, HashMap::new())),
                commits: std::sync::atomic::AtomicUsize::new(0),
                before: Mutex::new(None),
                unseen: Mutex::new(Vec::new()),
            });
            let _ = cache.inner.remote.set(src.clone());
            src
        }

        /// Another engine's create of ConfigMap `name` holding `slot`, with its claim: at
        /// the source now, in the cache only at the next commit.
        fn their_claim(&self, name: &str, slot: &str) {
            let mut c = ConfigMap::default();
            c.metadata.name = name.into();
            c.metadata.namespace = Some("default".into());
            c.metadata.uid = Some(format!("uid-{name}"));
            c.data.insert("slot".into(), slot.into());
            let mut st = self.state.lock();
            st.0 += 1;
            let rev = st.0;
            let key = format!("default/{name}");
            st.1.insert(format!("ConfigMap/{key}"), rev);
            st.1.insert(format!("{CLAIMS_KIND}/ConfigMap"), rev);
            let events = vec![
                RemoteEvent {
                    kind: "ConfigMap".into(),
                    key,
                    rev,
                    json: Some(c.to_json()),
                },
                RemoteEvent {
                    kind: CLAIMS_KIND.into(),
                    key: "ConfigMap".into(),
                    rev,
                    json: Some(b"{}".to_vec()),
                },
            ];
            self.unseen.lock().push((rev, events));
        }

        /// Writes the election's Lease held by `holder` (someone else's write: a renewal, or
        /// a takeover).
        fn lease(&self, holder: &str) {
            let mut l = crate::api::Lease::default();
            l.metadata.name = "steady-controllers".into();
            l.metadata.namespace = Some("kube-system".into());
            l.metadata.uid = Some("uid-lease".into());
            l.spec.holder_identity = Some(holder.into());
            let rev = {
                let mut st = self.state.lock();
                st.0 += 1;
                let rev = st.0;
                st.1.insert("Lease/kube-system/steady-controllers".into(), rev);
                rev
            };
            self.cache.upgrade().unwrap().apply_remote(
                rev,
                vec![RemoteEvent {
                    kind: "Lease".into(),
                    key: "kube-system/steady-controllers".into(),
                    rev,
                    json: Some(l.to_json()),
                }],
            );
        }
    }

    impl Remote for Source {
        fn commit(&self, ops: Vec<RemoteOp<'_>>) -> Result<Committed> {
            self.commits.fetch_add(1, Ordering::SeqCst);
            if let Some(holder) = self.before.lock().take() {
                self.lease(holder);
            }
            for (rev, events) in std::mem::take(&mut *self.unseen.lock()) {
                self.cache.upgrade().unwrap().apply_remote(rev, events);
            }
            let mut st = self.state.lock();
            let holds = ops.iter().all(|op| {
                st.1.get(&format!("{}/{}", op.kind, op.key))
                    .copied()
                    .unwrap_or(0)
                    == op.expect
            });
            if !holds {
                return Ok(Committed::Failed(st.0));
            }
            st.0 += 1;
            let rev = st.0;
            let mut events = Vec::new();
            for op in ops {
                let json = match op.write {
                    RemoteWrite::Put(json) => Some(json),
                    RemoteWrite::Delete => None,
                    RemoteWrite::Check => continue,
                };
                st.1.insert(format!("{}/{}", op.kind, op.key), rev);
                events.push(RemoteEvent {
                    kind: op.kind.into(),
                    key: op.key.into(),
                    rev,
                    json,
                });
            }
            drop(st);
            self.cache.upgrade().unwrap().apply_remote(rev, events);
            Ok(Committed::At(rev))
        }
        fn timeout(&self) -> Duration {
            Duration::from_secs(10)
        }
        fn describe(&self) -> String {
            "source".into()
        }
        fn close(&self) {}
    }

    fn fence(holder: &str, leads: bool) -> Fence {
        Fence {
            lease: "kube-system/steady-controllers".into(),
            holder: holder.into(),
            leads: Box::new(move || leads),
        }
    }

    fn config_map(name: &str) -> Arc<ConfigMap> {
        let mut c = ConfigMap::default();
        c.metadata.name = name.into();
        c.metadata.namespace = Some("default".into());
        Arc::new(c)
    }

    /// A cache of a [`Source`] holding the namespace `default`.
    fn cache_of_a_source() -> (Store, Arc<Source>) {
        let s = store();
        let mut ns = crate::api::Namespace::default();
        ns.metadata.name = "default".into();
        ns.metadata.uid = Some("uid-default".into());
        let ns = RemoteEvent {
            kind: "Namespace".into(),
            key: "default".into(),
            rev: 1,
            json: Some(ns.to_json()),
        };
        s.load_remote(1, vec![ns]);
        let src = Source::on(&s, 1);
        (s, src)
    }

    fn slot(s: &Store, name: &str) -> String {
        let o = s.get("ConfigMap", Some("default"), name).unwrap();
        o.downcast_ref::<ConfigMap>().unwrap().data["slot"].clone()
    }

    #[test]
    fn a_unique_value_claimed_by_another_engine_unseen_yet_is_never_taken_twice() {
        let (s, src) = cache_of_a_source();
        // `data.slot` of ConfigMaps is unique, filled with the lowest free slot when absent.
        s.add_unique_field(
            "ConfigMap",
            UniqueField {
                field: "data.slot".into(),
                extract: Arc::new(|o| {
                    o.downcast_ref::<ConfigMap>()
                        .and_then(|c| c.data.get("slot"))
                        .map(String::as_str)
                }),
                message: "slot is already taken".into(),
                allocate: Some(Arc::new(|o, taken| {
                    let c = o.as_any_mut().downcast_mut::<ConfigMap>().unwrap();
                    let free = (1..10).map(|i| i.to_string()).find(|v| !taken(v)).unwrap();
                    c.data.insert("slot".into(), free);
                    Ok(())
                })),
            },
        );
        // Another engine took slot 1 at the source; this cache does not know yet and picks
        // slot 1 too. The claims key refuses the second claim; once the cache holds the
        // other's object, the write is prepared again and gets slot 2.
        src.their_claim("theirs", "1");
        let before = src.commits.load(Ordering::SeqCst);
        s.create(config_map("mine")).unwrap();
        assert_eq!(src.commits.load(Ordering::SeqCst) - before, 2);
        assert_eq!(
            (slot(&s, "theirs"), slot(&s, "mine")),
            ("1".into(), "2".into())
        );
        // A slot the writer chose, taken meanwhile unseen: refused as in memory.
        src.their_claim("other", "5");
        let mut chosen = (*config_map("chosen")).clone();
        chosen.data.insert("slot".into(), "5".into());
        let e = s.create(Arc::new(chosen)).unwrap_err();
        assert!(
            matches!(e, Error::Invalid { .. }) && e.to_string().contains("slot is already taken"),
            "{e}"
        );
        // A write that keeps its value claims nothing: it does not touch the claims key.
        let claims = s.inner.claims.lock().get("ConfigMap").copied();
        let mut mine = (*s.get("ConfigMap", Some("default"), "mine").unwrap())
            .downcast_ref::<ConfigMap>()
            .unwrap()
            .clone();
        mine.data.insert("other".into(), "x".into());
        s.update(Arc::new(mine)).unwrap();
        assert_eq!(s.inner.claims.lock().get("ConfigMap").copied(), claims);
    }

    #[test]
    fn a_fenced_write_holds_only_while_the_lease_names_this_engine_at_the_source() {
        let (s, src) = cache_of_a_source();
        src.lease("me");
        let leader = s.fenced(fence("me", true));
        // A plain write carries no fence; a fenced one while the Lease names this engine
        // commits.
        s.create(config_map("plain")).unwrap();
        leader.create(config_map("led")).unwrap();
        // This engine renews its Lease between the fence's read and the commit: the source
        // refuses the first try (the revision compared moved), the cache catches up with the
        // renewal, and the write goes again, compared with it.
        *src.before.lock() = Some("me");
        let before = src.commits.load(Ordering::SeqCst);
        leader.create(config_map("across-a-renewal")).unwrap();
        assert_eq!(src.commits.load(Ordering::SeqCst) - before, 2);
        // Another engine takes the Lease between the read and the commit (this one's cache
        // did not know yet): refused at the source, then here, and nothing is written.
        *src.before.lock() = Some("other");
        let e = leader.create(config_map("deposed")).unwrap_err();
        assert!(
            matches!(e, Error::Unavailable { .. })
                && e.to_string().contains("the Lease names other"),
            "{e}"
        );
        assert!(s.get("ConfigMap", Some("default"), "deposed").is_err());
        // Refused before anything is sent: the cache names another holder, or the lead
        // lapsed on this engine's clock.
        let before = src.commits.load(Ordering::SeqCst);
        assert!(leader.create(config_map("later")).is_err());
        src.lease("me");
        let lapsed = s.fenced(fence("me", false));
        let e = lapsed.create(config_map("lapsed")).unwrap_err();
        assert!(e.to_string().contains("its lead lapsed"), "{e}");
        assert_eq!(src.commits.load(Ordering::SeqCst), before);
        // The unfenced handle is unaffected.
        s.create(config_map("still-plain")).unwrap();
    }
}
