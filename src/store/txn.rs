//! Transactions: several writes committed under one revision, all or none. Every write is
//! prepared without a lock, then the locks of every kind touched are taken in a fixed
//! order and each write's base is checked before any is applied.

use super::*;

impl TxnOp {
    /// The kind the operation writes or checks.
    pub fn kind(&self) -> &str {
        match self {
            TxnOp::Create(o) | TxnOp::Update(o) | TxnOp::UpdateStatus(o) => o.kind(),
            TxnOp::Delete { kind, .. } | TxnOp::Check { kind, .. } => kind,
        }
    }
}

/// One operation of a [`Store::transaction`].
#[derive(Debug)]
pub enum TxnOp {
    /// Create the object.
    Create(Arc<dyn Object>),
    /// Update spec and metadata; compare-and-swap when it carries a resourceVersion.
    Update(Arc<dyn Object>),
    /// Update the status; compare-and-swap when it carries a resourceVersion.
    UpdateStatus(Arc<dyn Object>),
    /// Delete the object.
    Delete {
        /// Kind.
        kind: String,
        /// Namespace (`None`: `default` for namespaced kinds).
        namespace: Option<String>,
        /// Name.
        name: String,
        /// Preconditions and propagation.
        params: DeleteParams,
    },
    /// Write nothing, but commit only if the object is at this resourceVersion (or, with
    /// `None`, does not exist).
    Check {
        /// Kind.
        kind: String,
        /// Namespace.
        namespace: Option<String>,
        /// Name.
        name: String,
        /// Required resourceVersion; `None` requires absence.
        resource_version: Option<String>,
    },
}

/// Whether a transaction ends when `w` turned out stale: the caller gave a precondition, or
/// it creates an object that exists meanwhile (preparing it again would not change that).
/// Any other write is prepared again from the newer state.
fn ends_stale(w: &Write) -> bool {
    w.strict || w.base.is_none()
}

impl Store {
    /// Applies several writes atomically under one revision: either every operation commits
    /// or none does. Each operation's preconditions (resourceVersion, uid, absence) are
    /// checked against the state at commit time. Returns, per operation, the object written
    /// (for a deletion its last state; for a check, the object checked).
    pub fn transaction(&self, ops: Vec<TxnOp>) -> Result<Vec<Option<Arc<dyn Object>>>> {
        let defines = ops.iter().any(|op| op.kind() == DEFINITION_KIND);
        let _definitions = defines.then(|| self.inner.definitions.lock());
        loop {
            let mut writes = Vec::with_capacity(ops.len());
            let mut staged = Staged::default();
            for op in &ops {
                if let TxnOp::Delete { kind, name, .. } = op {
                    if kind == DEFINITION_KIND {
                        self.check_undefine(name)?;
                    }
                }
                let w = self.prepare_op(op, &staged)?;
                if defines || w.ks.info.kind == "Namespace" {
                    self.stage(&w, &mut staged)?;
                }
                writes.push(w);
            }
            let mut seen = std::collections::HashSet::with_capacity(writes.len());
            for a in &writes {
                if !seen.insert((Arc::as_ptr(&a.ks), a.key.clone())) {
                    return Err(Error::invalid(
                        ObjectRef::new(&a.ks.info.kind, None, &a.key),
                        "",
                        "a transaction may touch each object only once",
                    ));
                }
            }
            if let Some(r) = self.inner.remote.get() {
                // The cache's watch applies the commit and publishes its definitions.
                match self.commit_remote(&mut writes, r.as_ref())? {
                    remote::RemoteEnd::Done(out) => return Ok(out),
                    remote::RemoteEnd::Stale(i) if ends_stale(&writes[i]) => {
                        return Err(stale_error(&writes[i]))
                    }
                    remote::RemoteEnd::Stale(_) => continue,
                }
            }
            let backend = self.inner.backend.get();
            // A transaction is one log record, encoded before the locks (as in
            // `commit_one_durable`) and again under them if a kind fills unique fields.
            let writes_any = writes.iter().any(|w| !matches!(w.action, Action::Keep));
            let mut payload = match backend {
                Some(_) if writes_any => persist::replay::encode(&writes),
                _ => Vec::new(),
            };
            // Lock every kind involved, in ascending name order (see `kind` invariants).
            let kinds = lock_order(writes.iter().map(|w| &w.ks));
            let mut guards = Locked::take(&kinds);
            let mut stale = None;
            for w in &writes {
                if !same(&w.ks.get(&w.key), &w.base) {
                    stale = Some(w);
                    break;
                }
            }
            if let Some(w) = stale {
                if ends_stale(w) {
                    return Err(stale_error(w));
                }
                drop(guards);
                continue;
            }
            // Unique fields, in write order: a value claimed by an earlier write of this
            // transaction is taken for the later ones.
            let mut claimed = Vec::new();
            let mut unique = false;
            for w in writes.iter_mut() {
                let st = guards.state(&w.ks);
                if st.has_unique() {
                    self.claim_unique(st, w, &mut claimed)?;
                    unique = true;
                }
            }
            // An allocated unique value is part of what is logged.
            if unique && backend.is_some() && writes_any {
                payload = persist::replay::encode(&writes);
            }
            // A transaction that writes nothing commits nothing: no revision is taken.
            let rev = match backend {
                _ if !writes_any => 0,
                None => self.inner.revision.fetch_add(1, Ordering::AcqRel) + 1,
                Some(b) => b.append(&self.inner.revision, &payload)?,
            };
            let mut out = Vec::with_capacity(writes.len());
            let mut after = AfterUnlock::default();
            let mut definitions = Vec::new();
            let deferred = backend.is_some_and(|b| b.publishes_when_durable());
            for w in writes {
                let st = guards.state(&w.ks);
                let defines = w.ks.info.kind == DEFINITION_KIND;
                let removed = matches!(w.action, Action::Remove);
                let o = if deferred {
                    let (o, ev) = apply_unpublished(w, st, rev);
                    st.unpublished.extend(ev);
                    o
                } else {
                    apply(w, st, rev, &mut after)
                };
                if let Some(o) = o.as_ref().filter(|_| defines) {
                    definitions.push((o.clone(), removed));
                }
                out.push(o);
            }
            drop(guards);
            after.run();
            if defines {
                self.publish(&definitions, &staged);
            }
            if let Some(b) = backend.filter(|_| writes_any) {
                b.wait(rev)?;
                if deferred {
                    for k in &kinds {
                        k.publish_durable(rev);
                    }
                }
            }
            return Ok(out);
        }
    }

    /// Checks `op` exactly as a write would (kind, namespace, admission hooks, validation,
    /// immutable fields, preconditions, size) and returns what it would write, committing
    /// nothing: a server-side dry run (`kubectl apply --dry-run=server`). A deletion returns
    /// the object as it would be marked, or as it is when it would go.
    pub fn dry_run(&self, op: &TxnOp) -> Result<Option<Arc<dyn Object>>> {
        if let TxnOp::Delete { kind, name, .. } = op {
            if kind == DEFINITION_KIND {
                self.check_undefine(name)?;
            }
        }
        let w = self.prepare_op(op, &Staged::default())?;
        Ok(match w.action {
            Action::Put(o) => Some(o),
            Action::Remove | Action::Keep => w.base,
        })
    }
}
