//! The write path's second half: a prepared [`Write`] is compared with the stored object
//! under its kind's lock and, if still current, given the next revision, applied, indexed,
//! recorded and published. The invariants are stated in [`kind`](super::kind).

use super::*;
use crate::api::make_mut as uniq;

/// A write ready to commit: apply `action` to `key` if the stored object is still `base`.
pub(super) struct Write {
    pub(super) ks: Arc<KindStore>,
    pub(super) key: Key,
    /// The stored object the write was prepared against (`None`: must be absent).
    pub(super) base: Option<Arc<dyn Object>>,
    pub(super) action: Action,
    /// Whether a stale `base` is a conflict (the caller gave a precondition) or a retry.
    pub(super) strict: bool,
    /// Upper bound of the new object's encoded length (for `Action::Put`).
    pub(super) size: usize,
}

impl Write {
    /// A write of `action` to `key` against what `ks` stores there now: how a change
    /// decided elsewhere (a log record replayed, a change read from etcd) is applied. A
    /// removal of what is not stored has no base; the caller decides what that means.
    pub(super) fn onto_stored(
        ks: &Arc<KindStore>,
        key: &str,
        action: Action,
        size: usize,
    ) -> Write {
        let (key, base) = match ks.entry(key) {
            Some((k, s)) => (k, Some(s.obj)),
            None => (Arc::from(key), None),
        };
        Write {
            ks: ks.clone(),
            key,
            base,
            action,
            strict: false,
            size,
        }
    }

    /// Whether this removes an object that is not stored.
    pub(super) fn removes_nothing(&self) -> bool {
        self.base.is_none() && matches!(self.action, Action::Remove)
    }

    /// A write that commits nothing but still requires `cur` to be current (a no-op).
    pub(super) fn keep(ks: &Arc<KindStore>, key: Key, cur: Arc<dyn Object>, strict: bool) -> Write {
        Write {
            ks: ks.clone(),
            key,
            base: Some(cur),
            action: Action::Keep,
            strict,
            size: 0,
        }
    }
}

pub(super) enum Action {
    /// The new object; not shared until it is committed.
    Put(Arc<dyn Object>),
    Remove,
    /// Nothing to write (a no-op update, or a check); `base` is still verified.
    Keep,
}

pub(super) enum Outcome {
    Done(Option<Arc<dyn Object>>),
    Stale(Write),
}

impl Store {
    /// Commits one prepared write under its kind's lock.
    pub(super) fn commit_one(&self, w: Write) -> Result<Outcome> {
        if let Some(backend) = self.inner.backend.get() {
            return self.commit_one_durable(w, backend.as_ref());
        }
        if let Some(r) = self.inner.remote.get() {
            return self.commit_one_remote(w, r.as_ref());
        }
        let ks = w.ks.clone();
        let (mut st, mut w) = match compare(&ks, w) {
            Ok(go) => go,
            Err(end) => return end,
        };
        if st.has_unique() {
            self.claim_unique(&st, &mut w, &mut Vec::new())?;
        }
        let rev = self.inner.revision.fetch_add(1, Ordering::AcqRel) + 1;
        let mut after = AfterUnlock::default();
        let out = apply(w, &mut st, rev, &mut after);
        drop(st);
        after.run();
        Ok(Outcome::Done(out))
    }

    /// Fills and checks the unique fields of a write's object (see [`UniqueField`]). Caller
    /// holds the kind's lock `st`.
    pub(super) fn claim_unique(
        &self,
        st: &KindState,
        w: &mut Write,
        claimed: &mut Vec<(String, String)>,
    ) -> Result<bool> {
        let Action::Put(obj) = &mut w.action else {
            return Ok(false);
        };
        let invalid = |e: FieldError, o: &dyn Object| Error::Invalid {
            object: obj_ref(&w.ks.info, o.meta()),
            errors: vec![e],
        };
        match st.claim_unique(&w.key, obj, claimed) {
            Ok(false) => Ok(false),
            // The allocator added a value: measure again.
            Ok(true) => {
                w.size = self.check_size(&w.ks.info, obj.as_ref(), None)?;
                Ok(true)
            }
            Err(e) => Err(invalid(e, obj.as_ref())),
        }
    }

    /// [`Store::commit_one`] through a durable backend: the record is encoded and appended
    /// (taking the revision) under the kind's lock, after the unique fields were claimed
    /// (an allocated value is part of what is logged), and waited for after it. Kept apart
    /// so that the in-memory path stays as it was.
    #[cold]
    pub(super) fn commit_one_durable(
        &self,
        w: Write,
        backend: &dyn persist::Backend,
    ) -> Result<Outcome> {
        // Encoded before the kind's lock: the JSON is most of a durable write's CPU, and
        // every writer of the kind would wait for it under the lock. The JSON's
        // resourceVersion is never read back (the record's revision is), so the object can
        // be encoded before its revision is known; one whose unique fields are filled at
        // commit is encoded again under the lock.
        let mut payload = match w.action {
            Action::Keep => Vec::new(),
            _ => persist::replay::encode([&w]),
        };
        let ks = w.ks.clone();
        let (mut st, mut w) = match compare(&ks, w) {
            Ok(go) => go,
            Err(end) => return end,
        };
        if st.has_unique() {
            self.claim_unique(&st, &mut w, &mut Vec::new())?;
            payload = persist::replay::encode([&w]);
        }
        let rev = backend.append(&self.inner.revision, &payload)?;
        let deferred = backend.publishes_when_durable();
        let mut after = AfterUnlock::default();
        let out = if deferred {
            let (out, ev) = apply_unpublished(w, &mut st, rev);
            st.unpublished.extend(ev);
            out
        } else {
            apply(w, &mut st, rev, &mut after)
        };
        drop(st);
        after.run();
        backend.wait(rev)?;
        if deferred {
            ks.publish_durable(rev);
        }
        Ok(Outcome::Done(out))
    }
}

impl Store {
    /// [`Store::commit_one`] through a remote source of truth (see [`remote`]).
    #[cold]
    fn commit_one_remote(&self, w: Write, r: &dyn remote::Remote) -> Result<Outcome> {
        let mut ws = [w];
        match self.commit_remote(&mut ws, r)? {
            remote::RemoteEnd::Done(mut out) => Ok(Outcome::Done(out.pop().flatten())),
            remote::RemoteEnd::Stale(_) => {
                let [w] = ws;
                if w.strict {
                    Err(stale_error(&w))
                } else {
                    Ok(Outcome::Stale(w))
                }
            }
        }
    }
}

/// The compare half of a single write's compare-and-swap: takes `ks`'s lock and returns it
/// with the write when the stored object is still the write's base, or how the commit ends
/// (stale: released before its error is built; nothing to write: done).
pub(super) fn compare(
    ks: &KindStore,
    w: Write,
) -> std::result::Result<(MutexGuard<'_, KindState>, Write), Result<Outcome>> {
    let st = ks.state.lock();
    if !same(&ks.get(&w.key), &w.base) {
        drop(st);
        return Err(if w.strict {
            Err(stale_error(&w))
        } else {
            Ok(Outcome::Stale(w))
        });
    }
    if matches!(w.action, Action::Keep) {
        return Err(Ok(Outcome::Done(w.base)));
    }
    Ok((st, w))
}

pub(super) fn stale_error(w: &Write) -> Error {
    let info = &w.ks.info;
    match (w.ks.get(&w.key), &w.base) {
        (Some(cur), None) => Error::AlreadyExists {
            object: obj_ref(info, cur.meta()),
        },
        (None, Some(base)) => Error::NotFound {
            object: obj_ref(info, base.meta()),
        },
        (Some(cur), Some(base)) => conflict(
            info,
            cur.as_ref(),
            rv_message(
                base.meta().resource_version.as_deref().unwrap_or(""),
                cur.as_ref(),
            ),
        ),
        (None, None) => Error::Conflict {
            object: ObjectRef::new(&info.kind, None, &w.key),
            message: "changed concurrently".into(),
        },
    }
}

/// Applies a verified write at revision `rev` and publishes it, leaving to `after` what can
/// wait for the lock's release (see [`KindState::publish`]). Caller holds the kind's lock,
/// and runs `after` once it released it.
#[inline]
pub(super) fn apply(
    w: Write,
    st: &mut KindState,
    rev: u64,
    after: &mut AfterUnlock,
) -> Option<Arc<dyn Object>> {
    let (o, ev) = apply_unpublished(w, st, rev);
    if let Some(ev) = ev {
        st.publish(ev, after);
    }
    o
}

/// Applies a verified write at revision `rev` and returns its event, not yet published.
/// Caller holds the kind's lock.
#[inline]
pub(super) fn apply_unpublished(
    w: Write,
    st: &mut KindState,
    rev: u64,
) -> (Option<Arc<dyn Object>>, Option<Arc<Change>>) {
    apply_versioned(w, st, rev, true)
}

/// [`apply_unpublished`], leaving a put object's resourceVersion as it is when `stamp` is
/// false (a cache resynchronised from its source keeps each object's own version).
#[inline]
pub(super) fn apply_versioned(
    w: Write,
    st: &mut KindState,
    rev: u64,
    stamp: bool,
) -> (Option<Arc<dyn Object>>, Option<Arc<Change>>) {
    let Write {
        ks,
        key,
        base,
        action,
        size,
        ..
    } = w;
    match action {
        Action::Keep => (base, None),
        Action::Put(mut obj) => {
            if stamp {
                uniq(&mut obj).meta_mut().resource_version = Some(rev.to_string());
            }
            ks.objects.insert(
                key.clone(),
                Stored {
                    obj: obj.clone(),
                    size,
                },
            );
            st.reindex(&key, base.as_deref(), Some(obj.as_ref()));
            let kind = if base.is_some() {
                ChangeType::Modified
            } else {
                ChangeType::Added
            };
            let ev = Arc::new(Change {
                revision: rev,
                kind,
                object: obj.clone(),
                prev: base,
                key: key.clone(),
            });
            (Some(obj), Some(ev))
        }
        Action::Remove => {
            let base = base.expect("a removal has a base");
            ks.objects.remove(&key);
            st.reindex(&key, Some(base.as_ref()), None);
            // The DELETED event carries the deletion's revision, as in Kubernetes.
            let mut last = base.clone_arc();
            uniq(&mut last).meta_mut().resource_version = Some(rev.to_string());
            let ev = Arc::new(Change {
                revision: rev,
                kind: ChangeType::Deleted,
                object: last.clone(),
                prev: Some(base),
                key: key.clone(),
            });
            (Some(last), Some(ev))
        }
    }
}
