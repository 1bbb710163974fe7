//! The write path's first half: create, update and delete prepare the new object
//! (defaulted, validated, admitted, measured) without any lock; [`commit`](super::commit)
//! then applies it if its base is still current.

use super::*;
use crate::api::make_mut as uniq;

impl Store {
    // ----- writes -----

    /// Creates `obj`. The store assigns uid, resourceVersion, generation 1 and
    /// creationTimestamp, generates the name from `generateName` when the name is empty,
    /// and drops any status (status is written through [`Store::update_status`]).
    pub fn create(&self, obj: Arc<dyn Object>) -> Result<Arc<dyn Object>> {
        if obj.kind() == DEFINITION_KIND {
            return self.single(TxnOp::Create(obj));
        }
        let ks = self.kind_of(obj.as_ref())?;
        let generated = obj.meta().name.is_empty() && obj.meta().generate_name.is_some();
        let mut w = self.prepare_create(&ks, obj, &Staged::default())?;
        for _ in 0..8 {
            match self.commit_one(w)? {
                Outcome::Done(o) => return Ok(o.expect("a create writes an object")),
                Outcome::Stale(mut back) if generated => {
                    if let Action::Put(o) = &mut back.action {
                        let o = uniq(o);
                        let prefix = o.meta().generate_name.clone().unwrap_or_default();
                        o.meta_mut().name = self.generated_name(&prefix);
                        back.key =
                            make_key(&ks.info, o.meta().namespace.as_deref(), &o.meta().name);
                    }
                    w = back;
                }
                Outcome::Stale(back) => {
                    let Action::Put(o) = &back.action else {
                        unreachable!()
                    };
                    return Err(Error::AlreadyExists {
                        object: obj_ref(&ks.info, o.meta()),
                    });
                }
            }
        }
        Err(Error::AlreadyExists {
            object: ObjectRef::new(&ks.info.kind, None, "(generated name)"),
        })
    }

    /// Updates spec and metadata of `obj` (its status is ignored: the stored status is kept).
    /// With `metadata.resourceVersion` set, this is a compare-and-swap that fails with
    /// [`Error::Conflict`] unless the object is still at that revision; without it, the update
    /// applies to whatever is current. An update that changes nothing commits nothing.
    pub fn update(&self, obj: Arc<dyn Object>) -> Result<Arc<dyn Object>> {
        self.update_inner(obj, false)
    }

    /// [`Store::update`], of the status too with `with_status`.
    pub(super) fn update_inner(
        &self,
        mut obj: Arc<dyn Object>,
        with_status: bool,
    ) -> Result<Arc<dyn Object>> {
        if obj.kind() == DEFINITION_KIND && !with_status {
            return self.single(TxnOp::Update(obj));
        }
        let ks = self.kind_of(obj.as_ref())?;
        Self::normalize(&ks.info, uniq(&mut obj).meta_mut())?;
        loop {
            let w = self.prepare_update(&ks, obj, with_status)?;
            match self.commit_one(w)? {
                Outcome::Done(o) => return Ok(o.expect("an update keeps or writes an object")),
                Outcome::Stale(back) => match back.action {
                    Action::Put(o) => obj = o,
                    _ => unreachable!("an update that was current needs no retry"),
                },
            }
        }
    }

    /// Replaces the status of the stored object with `obj`'s status; spec and metadata of
    /// `obj` are ignored. Compare-and-swap when `obj` carries a resourceVersion.
    pub fn update_status(&self, obj: &dyn Object) -> Result<Arc<dyn Object>> {
        let ks = self.kind_of(obj)?;
        loop {
            let w = self.prepare_status(&ks, obj)?;
            if let Outcome::Done(o) = self.commit_one(w)? {
                return Ok(o.expect("a status update keeps an object"));
            }
        }
    }

    /// Updates spec, metadata and status of `obj` in one write (one resourceVersion, one
    /// watch event): what kube-apiserver's binding subresource does when it sets a pod's
    /// `spec.nodeName` and its `PodScheduled` condition together. `obj` must carry a
    /// resourceVersion: this is always a compare-and-swap ([`Error::Conflict`] when the
    /// object changed since), so no status written meanwhile is overwritten.
    pub fn update_with_status(&self, obj: Arc<dyn Object>) -> Result<Arc<dyn Object>> {
        if obj.meta().resource_version.is_none() {
            let ks = self.kind_of(obj.as_ref())?;
            return Err(Error::invalid(
                obj_ref(&ks.info, obj.meta()),
                "metadata.resourceVersion",
                "an update of spec and status together needs the resourceVersion it was read at",
            ));
        }
        self.update_inner(obj, true)
    }

    /// Deletes `kind` `namespace/name`. An object with finalizers (or deleted with Foreground
    /// or Orphan propagation) is only marked with a deletionTimestamp: it goes when its
    /// finalizers are removed.
    pub fn delete(
        &self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<Deleted> {
        let ks = self.kind_named(kind)?;
        if kind == DEFINITION_KIND {
            // Through a transaction: it unregisters the kind when the definition goes.
            let removing = ks.get(&make_key(&ks.info, None, name)).is_some_and(|c| {
                c.meta().finalizers.is_empty() && params.propagation.finalizer().is_none()
            });
            let o = self.single(TxnOp::Delete {
                kind: kind.to_string(),
                namespace: None,
                name: name.to_string(),
                params: params.clone(),
            })?;
            return Ok(if removing {
                Deleted::Gone(o)
            } else {
                Deleted::Pending(o)
            });
        }
        loop {
            let w = self.prepare_delete(&ks, namespace, name, params)?;
            let removing = matches!(w.action, Action::Remove);
            if let Outcome::Done(o) = self.commit_one(w)? {
                let o = o.expect("a deletion reports the object");
                return Ok(if removing {
                    Deleted::Gone(o)
                } else {
                    Deleted::Pending(o)
                });
            }
        }
    }

    /// One write of a transaction through a transaction (the path that publishes kinds).
    pub(super) fn single(&self, op: TxnOp) -> Result<Arc<dyn Object>> {
        let mut out = self.transaction(vec![op])?;
        Ok(out
            .pop()
            .flatten()
            .expect("a write of one object reports it"))
    }

    pub(super) fn prepare_op(&self, op: &TxnOp, staged: &Staged) -> Result<Write> {
        match op {
            TxnOp::Create(o) => {
                let ks = self.kind_in(o.as_ref(), staged)?;
                self.prepare_create(&ks, o.clone_arc(), staged)
            }
            TxnOp::Update(o) => {
                let ks = self.kind_in(o.as_ref(), staged)?;
                let mut o = o.clone_arc();
                Self::normalize(&ks.info, uniq(&mut o).meta_mut())?;
                self.prepare_update(&ks, o, false)
            }
            TxnOp::UpdateStatus(o) => {
                let ks = self.kind_of(o.as_ref())?;
                self.prepare_status(&ks, o.as_ref())
            }
            TxnOp::Delete {
                kind,
                namespace,
                name,
                params,
            } => {
                let ks = self.kind_named(kind)?;
                self.prepare_delete(&ks, namespace.as_deref(), name, params)
            }
            TxnOp::Check {
                kind,
                namespace,
                name,
                resource_version,
            } => {
                let ks = self.kind_named(kind)?;
                let found = with_key(&ks.info, namespace.as_deref(), name, |k| ks.entry(k));
                let r = ObjectRef::new(kind, namespace.as_deref(), name);
                match (&found, resource_version) {
                    (None, Some(_)) => return Err(Error::NotFound { object: r }),
                    (Some(_), None) => return Err(Error::AlreadyExists { object: r }),
                    (Some((_, c)), Some(rv))
                        if c.obj.meta().resource_version.as_deref() != Some(rv) =>
                    {
                        return Err(conflict(
                            &ks.info,
                            c.obj.as_ref(),
                            rv_message(rv, c.obj.as_ref()),
                        ))
                    }
                    _ => {}
                }
                let (key, base) = match found {
                    Some((k, c)) => (k, Some(c.obj)),
                    None => (make_key(&ks.info, namespace.as_deref(), name), None),
                };
                Ok(Write {
                    ks,
                    key,
                    base,
                    action: Action::Keep,
                    strict: true,
                    size: 0,
                })
            }
        }
    }

    pub(super) fn prepare_create(
        &self,
        ks: &Arc<KindStore>,
        mut obj: Arc<dyn Object>,
        staged: &Staged,
    ) -> Result<Write> {
        let info = &ks.info;
        let o = uniq(&mut obj);
        if o.meta().name.is_empty() {
            if let Some(prefix) = o.meta().generate_name.clone() {
                o.meta_mut().name = self.generated_name(&prefix);
            }
        }
        if o.api_version().is_empty() {
            return Err(Error::invalid(
                obj_ref(info, o.meta()),
                "apiVersion",
                "apiVersion is required",
            ));
        }
        Self::normalize(info, o.meta_mut())?;
        self.check_namespace(info, o, staged)?;
        if info.kind == "Namespace" && !o.meta().finalizers.iter().any(|f| f == NAMESPACE_FINALIZER)
        {
            o.meta_mut()
                .finalizers
                .push(NAMESPACE_FINALIZER.to_string());
        }
        let key = make_key(info, o.meta().namespace.as_deref(), &o.meta().name);
        {
            let now = self.inner.config.clock.now();
            let m = o.meta_mut();
            m.uid = Some(self.new_uid());
            m.resource_version = None;
            m.generation = Some(1);
            m.creation_timestamp = Some(now);
            m.deletion_timestamp = None;
            m.deletion_grace_period_seconds = None;
        }
        o.clear_status();
        // As kube-apiserver's namespace strategy: a new Namespace is Active from its creation
        // (not one write later, by the namespace controller).
        if let Some(ns) = o.as_any_mut().downcast_mut::<crate::api::Namespace>() {
            ns.status.get_or_insert_with(Default::default).phase = Some("Active".into());
        }
        o.set_defaults(true);
        self.admit(info, Operation::Create, o, None)?;
        self.validate_in(info, o)?;
        let size = self.check_size(info, o, None)?;
        Ok(Write {
            ks: ks.clone(),
            key,
            base: None,
            action: Action::Put(obj),
            strict: false,
            size,
        })
    }

    /// Prepares an update of spec and metadata, and of the status too with `with_status`
    /// (else the stored status is kept). `obj`'s namespace is already normalized.
    pub(super) fn prepare_update(
        &self,
        ks: &Arc<KindStore>,
        mut obj: Arc<dyn Object>,
        with_status: bool,
    ) -> Result<Write> {
        let info = &ks.info;
        let (
            key,
            Stored {
                obj: cur,
                size: cur_size,
            },
            strict,
        ) = current_for(ks, obj.meta())?;
        let o = uniq(&mut obj);
        if !with_status {
            o.set_status_from(cur.as_ref());
        }
        let status_same = !with_status || o.status_eq(cur.as_ref());
        let c = cur.meta();
        {
            let m = o.meta_mut();
            m.uid = c.uid.clone();
            m.creation_timestamp = c.creation_timestamp;
            m.deletion_timestamp = c.deletion_timestamp;
            m.deletion_grace_period_seconds = c.deletion_grace_period_seconds;
            m.generation = c.generation;
            m.resource_version = c.resource_version.clone();
        }
        o.set_defaults(false);
        self.admit(info, Operation::Update, o, Some(cur.as_ref()))?;
        let spec_same = o.spec_eq(cur.as_ref());
        if c.deletion_timestamp.is_some() {
            if !spec_same {
                return Err(Error::invalid(
                    obj_ref(info, c),
                    "spec",
                    "the object is being deleted (metadata.deletionTimestamp is set): spec changes are refused",
                ));
            }
            if let Some(f) = o
                .meta()
                .finalizers
                .iter()
                .find(|f| !c.finalizers.contains(f))
            {
                return Err(Error::invalid(
                    obj_ref(info, c),
                    "metadata.finalizers",
                    format!("the object is being deleted: finalizer {f:?} cannot be added"),
                ));
            }
        }
        let meta_same = o.meta() == c;
        if spec_same && meta_same && status_same {
            return Ok(Write::keep(ks, key, cur, strict));
        }
        if !spec_same {
            o.meta_mut().generation = Some(c.generation.unwrap_or(0) + 1);
        }
        // What did not change was validated when it was written: check only what changed.
        let mut errors = Vec::new();
        if !meta_same && !validated_meta_eq(o.meta(), c) {
            errors = validate_meta(o.meta(), info.namespaced);
        }
        if !spec_same {
            o.validate(&mut errors);
            o.validate_update(cur.as_ref(), &mut errors);
        }
        if !errors.is_empty() {
            return Err(Error::Invalid {
                object: obj_ref(info, o.meta()),
                errors,
            });
        }
        // Only the metadata changed: the new encoding is at most the old one plus the new
        // metadata's (over-estimated) encoding.
        let bound = (spec_same && status_same).then(|| cur_size + meta_len_bound(o.meta()));
        let size = self.check_size(info, o, bound)?;
        let action = if o.meta().deletion_timestamp.is_some()
            && o.meta().finalizers.is_empty()
            && !self.awaits_grace(&info.kind, o)
        {
            Action::Remove
        } else {
            Action::Put(obj)
        };
        Ok(Write {
            ks: ks.clone(),
            key,
            base: Some(cur),
            action,
            strict,
            size,
        })
    }

    pub(super) fn prepare_status(&self, ks: &Arc<KindStore>, input: &dyn Object) -> Result<Write> {
        let info = &ks.info;
        let (
            key,
            Stored {
                obj: cur,
                size: cur_size,
            },
            strict,
        ) = current_for(ks, input.meta())?;
        if input.status_eq(cur.as_ref()) {
            return Ok(Write::keep(ks, key, cur, strict));
        }
        let mut obj = cur.clone_arc();
        let o = uniq(&mut obj);
        o.set_status_from(input);
        self.admit(info, Operation::UpdateStatus, o, Some(cur.as_ref()))?;
        // Only the status changed (unless a hook changed more: then measure exactly).
        let bound = o
            .spec_eq(cur.as_ref())
            .then(|| cur_size + o.status_len() + 1);
        let size = self.check_size(info, o, bound)?;
        Ok(Write {
            ks: ks.clone(),
            key,
            base: Some(cur),
            action: Action::Put(obj),
            strict,
            size,
        })
    }

    pub(super) fn prepare_delete(
        &self,
        ks: &Arc<KindStore>,
        namespace: Option<&str>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<Write> {
        let info = &ks.info;
        self.check_namespace_deletion(info, name)?;
        let Some((
            key,
            Stored {
                obj: cur,
                size: cur_size,
            },
        )) = with_key(info, namespace, name, |k| ks.entry(k))
        else {
            let ns = if info.namespaced {
                Some(namespace.unwrap_or("default"))
            } else {
                None
            };
            return Err(Error::NotFound {
                object: ObjectRef::new(&info.kind, ns, name),
            });
        };
        let strict = params.resource_version.is_some() || params.uid.is_some();
        check_preconditions(
            info,
            cur.as_ref(),
            params.resource_version.as_deref(),
            params.uid.as_deref(),
        )?;
        let mut extra_finalizer = params.propagation.finalizer();
        if extra_finalizer.is_some_and(|f| cur.meta().finalizers.iter().any(|x| x == f)) {
            extra_finalizer = None;
        }
        // Graceful deletion (pods on a node): the grace asked for, else the policy's default.
        let grace = self
            .graceful_default(&info.kind, cur.as_ref())
            .map(|default| params.grace_period_seconds.unwrap_or(default).max(0));
        let graceful = grace.is_some_and(|g| g > 0);
        if cur.meta().finalizers.is_empty() && extra_finalizer.is_none() && !graceful {
            let mut probe = cur.clone_boxed();
            self.admit(info, Operation::Delete, probe.as_mut(), None)?;
            return Ok(Write {
                ks: ks.clone(),
                key,
                base: Some(cur),
                action: Action::Remove,
                strict,
                size: 0,
            });
        }
        let shorter = |m: &crate::api::ObjectMeta| {
            grace.is_some_and(|g| m.deletion_grace_period_seconds.is_none_or(|c| g < c))
        };
        if cur.meta().deletion_timestamp.is_some()
            && extra_finalizer.is_none()
            && !shorter(cur.meta())
        {
            return Ok(Write::keep(ks, key, cur, strict));
        }
        let mut obj = cur.clone_arc();
        let o = uniq(&mut obj);
        {
            let m = o.meta_mut();
            if let Some(f) = extra_finalizer {
                m.finalizers.push(f.to_string());
            }
            // A second deletion may only shorten the grace period, as in Kubernetes.
            if m.deletion_timestamp.is_some() && shorter(m) {
                m.deletion_grace_period_seconds = grace;
            }
            if m.deletion_timestamp.is_none() {
                // As kube-apiserver does, marking for deletion bumps generation: controllers
                // that ignore status-only changes still see it.
                m.generation = Some(m.generation.unwrap_or(0) + 1);
                // Graceful: the time by which it should be gone, as kube-apiserver writes it.
                let now = self.inner.config.clock.now();
                m.deletion_timestamp = Some(match grace.filter(|&g| g > 0) {
                    Some(g) => now.plus(std::time::Duration::from_secs(g as u64)),
                    None => now,
                });
                m.deletion_grace_period_seconds = grace.or(params.grace_period_seconds).or(Some(0));
            }
        }
        lifecycle::mark_terminating(o);
        self.admit(info, Operation::Delete, o, Some(cur.as_ref()))?;
        // Only metadata changed (but for a Namespace's phase): bound from the stored size.
        let bound = (o.spec_eq(cur.as_ref()) && o.status_eq(cur.as_ref()))
            .then(|| cur_size + meta_len_bound(o.meta()));
        let size = self.check_size(info, o, bound)?;
        Ok(Write {
            ks: ks.clone(),
            key,
            base: Some(cur),
            action: Action::Put(obj),
            strict,
            size,
        })
    }

    /// True for an object marked for graceful deletion whose grace has not been cut to zero:
    /// it stays until its runner deletes it with grace 0, even with no finalizers left.
    pub(super) fn awaits_grace(&self, kind: &str, o: &dyn Object) -> bool {
        o.meta().deletion_grace_period_seconds.unwrap_or(0) > 0
            && self.graceful_default(kind, o).is_some()
    }
}

/// An upper bound of the length of `m`'s JSON encoding, computed without encoding it: every
/// string counted as if each byte needed a six-byte escape, plus room for every key and
/// punctuation.
pub(super) fn meta_len_bound(m: &crate::api::ObjectMeta) -> usize {
    fn s(x: &str) -> usize {
        6 * x.len() + 40
    }
    fn o(x: &Option<String>) -> usize {
        x.as_deref().map_or(0, s)
    }
    let mut n = 200
        + s(&m.name)
        + o(&m.generate_name)
        + o(&m.namespace)
        + o(&m.uid)
        + o(&m.resource_version);
    n += m
        .labels
        .iter()
        .chain(m.annotations.iter())
        .map(|(k, v)| s(k) + s(v))
        .sum::<usize>();
    n += m.finalizers.iter().map(|f| s(f)).sum::<usize>();
    n += m
        .owner_references
        .iter()
        .map(|r| 200 + s(&r.api_version) + s(&r.kind) + s(&r.name) + s(&r.uid))
        .sum::<usize>();
    if !m.extra.is_empty() {
        n += crate::api::json_len(&m.extra) + 2;
    }
    n
}

/// True when the metadata fields that validation looks at are unchanged.
pub(super) fn validated_meta_eq(a: &crate::api::ObjectMeta, b: &crate::api::ObjectMeta) -> bool {
    a.labels == b.labels
        && a.annotations == b.annotations
        && a.finalizers == b.finalizers
        && a.owner_references == b.owner_references
        && a.generate_name == b.generate_name
}

/// The stored entry a write of `meta` applies to, after checking its preconditions
/// (resourceVersion and uid, when given); also whether a stale entry is a conflict.
pub(super) fn current_for(
    ks: &KindStore,
    meta: &crate::api::ObjectMeta,
) -> Result<(Key, Stored, bool)> {
    let info = &ks.info;
    let found = with_key(info, meta.namespace.as_deref(), &meta.name, |k| ks.entry(k));
    let Some((key, cur)) = found else {
        return Err(Error::NotFound {
            object: obj_ref(info, meta),
        });
    };
    check_preconditions(
        info,
        cur.obj.as_ref(),
        meta.resource_version.as_deref(),
        meta.uid.as_deref(),
    )?;
    Ok((key, cur, meta.resource_version.is_some()))
}

pub(super) fn rv_message(expected: &str, cur: &dyn Object) -> String {
    format!(
        "the object has been modified: resourceVersion {expected} was given but the current one is {}; read it again and retry",
        cur.meta().resource_version.as_deref().unwrap_or("")
    )
}

pub(super) fn check_preconditions(
    info: &KindInfo,
    cur: &dyn Object,
    rv: Option<&str>,
    uid: Option<&str>,
) -> Result<()> {
    if let Some(rv) = rv {
        if cur.meta().resource_version.as_deref() != Some(rv) {
            return Err(conflict(info, cur, rv_message(rv, cur)));
        }
    }
    if let Some(uid) = uid {
        if cur.meta().uid.as_deref() != Some(uid) {
            return Err(conflict(
                info,
                cur,
                format!(
                    "uid precondition failed: {uid} was given but the object's uid is {}",
                    cur.meta().uid.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    Ok(())
}
