//! Parameters and results of reads, watches and deletions: plain values, no logic
//! beyond what each names.

use super::*;

/// How a deletion treats the object's dependents (see the garbage collector).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the object now; the garbage collector deletes dependents afterwards (default).
    #[default]
    Background,
    /// Delete dependents first: the object gets finalizer `foregroundDeletion`.
    Foreground,
    /// Keep dependents, removing their owner references: finalizer `orphan`.
    Orphan,
}

impl Propagation {
    /// The finalizer this policy adds, if any.
    pub fn finalizer(self) -> Option<&'static str> {
        match self {
            Propagation::Background => None,
            Propagation::Foreground => Some("foregroundDeletion"),
            Propagation::Orphan => Some("orphan"),
        }
    }
}

/// Options of a deletion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteParams {
    /// Delete only if the object still has this uid.
    pub uid: Option<String>,
    /// Delete only if the object is still at this resourceVersion.
    pub resource_version: Option<String>,
    /// What happens to dependents.
    pub propagation: Propagation,
    /// Grace period recorded in `metadata.deletionGracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
}

/// What a deletion did.
#[derive(Clone, Debug)]
pub enum Deleted {
    /// The object is gone; this was its last state.
    Gone(Arc<dyn Object>),
    /// The object has finalizers: it now carries a deletionTimestamp and goes when they are
    /// removed.
    Pending(Arc<dyn Object>),
}

impl Deleted {
    /// The object, gone or pending.
    pub fn object(&self) -> &Arc<dyn Object> {
        match self {
            Deleted::Gone(o) | Deleted::Pending(o) => o,
        }
    }
}

/// Which objects a list or watch selects.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    /// Only this namespace (`None`: all).
    pub namespace: Option<String>,
    /// Only objects whose labels match.
    pub selector: Option<Selector>,
    /// Only objects a field index files under a value: `("spec.nodeName", "node-1")`.
    pub field: Option<(String, String)>,
    /// Only objects with an owner reference to this uid.
    pub owner_uid: Option<String>,
}

/// A consistent list: every object of a kind matching the parameters at one revision.
#[derive(Clone, Debug)]
pub struct ObjectList {
    /// The objects, sorted by namespace and name.
    pub items: Vec<Arc<dyn Object>>,
    /// The revision the list was read at; watch from it to follow on without a gap.
    pub revision: u64,
}

/// Where a watch starts.
#[derive(Clone, Debug, Default)]
pub struct WatchParams {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only objects whose labels match (objects moving in or out are Added or Deleted).
    pub selector: Option<Selector>,
    /// `None`: first a synthetic Added event per current object (in no particular order),
    /// then live changes.
    /// `Some(r)`: every change after revision `r`, replayed from history; `r` beyond the
    /// store's revision is refused ([`Error::TooNew`]).
    pub since: Option<u64>,
    /// Deliver [`WatchEvent::Bookmark`]s when a `recv_timeout` finds nothing new.
    pub bookmarks: bool,
}
