//! Admission: the mutating and validating hooks every write passes before it is stored,
//! and the validation (metadata, kind rules, size) a write and a dry run share. Hooks run
//! without any store lock held.

use super::*;

/// What a write is; told to admission hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A create.
    Create,
    /// An update of spec and metadata.
    Update,
    /// An update of the status subresource.
    UpdateStatus,
    /// A deletion (the object is the one being deleted).
    Delete,
}

/// A write presented to admission hooks.
pub struct AdmissionRequest<'a> {
    /// What the write is.
    pub operation: Operation,
    /// The object as it will be stored (the object being deleted, for deletions).
    pub object: &'a dyn Object,
    /// The stored object being replaced, for updates.
    pub old: Option<&'a dyn Object>,
}

pub(super) type MutateFn = dyn Fn(Operation, &mut dyn Object, Option<&dyn Object>) -> std::result::Result<(), String>
    + Send
    + Sync;
pub(super) type ValidateFn =
    dyn Fn(&AdmissionRequest<'_>) -> std::result::Result<(), String> + Send + Sync;

pub(super) enum Hook {
    Mutate(Arc<MutateFn>),
    Validate(Arc<ValidateFn>),
}

pub(super) struct Admission {
    name: String,
    kind: Option<String>,
    hook: Hook,
}

impl Store {
    /// Registers a mutating admission hook: it may change objects before they are validated
    /// and stored. Hooks run in registration order, without any store lock held, for `kind`
    /// (or every kind with `None`). An `Err` refuses the write with [`Error::Denied`].
    pub fn add_mutating_hook<F>(&self, name: &str, kind: Option<&str>, hook: F)
    where
        F: Fn(Operation, &mut dyn Object, Option<&dyn Object>) -> std::result::Result<(), String>
            + Send
            + Sync
            + 'static,
    {
        self.inner.admission.write().push(Admission {
            name: name.to_string(),
            kind: kind.map(str::to_string),
            hook: Hook::Mutate(Arc::new(hook)),
        });
    }

    /// Registers a validating admission hook; it runs after every mutating hook.
    pub fn add_validating_hook<F>(&self, name: &str, kind: Option<&str>, hook: F)
    where
        F: Fn(&AdmissionRequest<'_>) -> std::result::Result<(), String> + Send + Sync + 'static,
    {
        self.inner.admission.write().push(Admission {
            name: name.to_string(),
            kind: kind.map(str::to_string),
            hook: Hook::Validate(Arc::new(hook)),
        });
    }

    pub(super) fn admit(
        &self,
        info: &KindInfo,
        op: Operation,
        obj: &mut dyn Object,
        old: Option<&dyn Object>,
    ) -> Result<()> {
        let hooks = self.inner.admission.read();
        if hooks.is_empty() {
            return Ok(());
        }
        let applies = |h: &&Admission| h.kind.as_deref().is_none_or(|k| k == info.kind);
        // Hooks are cloned out so none runs under the registry lock (a hook may register more).
        let mutators: Vec<(String, Arc<MutateFn>)> = hooks
            .iter()
            .filter(applies)
            .filter_map(|h| match &h.hook {
                Hook::Mutate(f) => Some((h.name.clone(), f.clone())),
                _ => None,
            })
            .collect();
        let validators: Vec<(String, Arc<ValidateFn>)> = hooks
            .iter()
            .filter(applies)
            .filter_map(|h| match &h.hook {
                Hook::Validate(f) => Some((h.name.clone(), f.clone())),
                _ => None,
            })
            .collect();
        drop(hooks);
        let deny = |name: &str, obj: &dyn Object, message: String| Error::Denied {
            object: obj_ref(info, obj.meta()),
            hook: name.to_string(),
            message,
        };
        for (name, f) in mutators {
            if op == Operation::Delete {
                break;
            }
            f(op, obj, old).map_err(|m| deny(&name, obj, m))?;
        }
        for (name, f) in validators {
            let req = AdmissionRequest {
                operation: op,
                object: obj,
                old,
            };
            f(&req).map_err(|m| deny(&name, obj, m))?;
        }
        Ok(())
    }

    /// Checks `obj` as a write would (metadata, kind-specific rules, size), without writing.
    pub fn validate(&self, obj: &dyn Object) -> Result<()> {
        let ks = self.kind_of(obj)?;
        self.validate_as(&ks.info, obj)
    }

    /// [`Store::validate`] of an object of the kind `info` describes, which need not be
    /// registered yet (a kind whose definition comes earlier in the same manifest).
    pub fn validate_as(&self, info: &KindInfo, obj: &dyn Object) -> Result<()> {
        self.validate_in(info, obj)?;
        self.check_size(info, obj, None).map(|_| ())
    }

    pub(super) fn validate_in(&self, info: &KindInfo, obj: &dyn Object) -> Result<()> {
        let mut errors: Vec<FieldError> = validate_meta(obj.meta(), info.namespaced);
        obj.validate(&mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid {
                object: obj_ref(info, obj.meta()),
                errors,
            })
        }
    }

    /// Checks the object's encoded length against the limit and returns the bound to store
    /// with it. `bound`, when given, is an upper bound of the length derived from the stored
    /// version; only when it exceeds the limit is the object encoded to measure it exactly.
    pub(super) fn check_size(
        &self,
        info: &KindInfo,
        obj: &dyn Object,
        bound: Option<usize>,
    ) -> Result<usize> {
        let limit = self.inner.config.max_object_bytes;
        if let Some(b) = bound.filter(|b| *b <= limit) {
            return Ok(b);
        }
        // The resourceVersion is written after measuring: leave room for its widest form.
        let size = obj.encoded_len() + 22;
        if size > limit {
            return Err(Error::TooLarge {
                object: obj_ref(info, obj.meta()),
                size,
                limit,
            });
        }
        Ok(size)
    }
}
