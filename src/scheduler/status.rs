//! Writing a pod's status from the scheduler: compare-and-swap, retried on conflict against
//! the newest version, and skipped when nothing would change.

use crate::api::{ObjectMeta, Pod, PodStatus};
use crate::error::Result;
use crate::store::Store;
use std::sync::Arc;

/// How often a status write is retried after a conflict before giving up.
const ATTEMPTS: usize = 16;

/// Applies `change` (given the pod and its status) to the status of `pod` (starting from the version given, then from the
/// stored one after a conflict) and writes it with compare-and-swap. `change` returns whether
/// it changed anything; nothing is written when it did not. A pod that is gone, or replaced
/// by another of the same name, is left alone.
pub(crate) fn update_pod_status(
    store: &Store,
    pod: &Pod,
    mut change: impl FnMut(&Pod, &mut PodStatus) -> bool,
) -> Result<()> {
    let uid = pod.metadata.uid.clone();
    let mut current: Option<Arc<Pod>> = None;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let base = current.as_deref().unwrap_or(pod);
        let mut status = base.status.clone().unwrap_or_default();
        if !change(base, &mut status) {
            return Ok(());
        }
        // A status write reads only the name, the resourceVersion (the compare-and-swap) and
        // the status: no need to copy the spec.
        let next = Pod {
            metadata: ObjectMeta {
                name: base.metadata.name.clone(),
                namespace: base.metadata.namespace.clone(),
                resource_version: base.metadata.resource_version.clone(),
                ..Default::default()
            },
            status: Some(status),
            ..Default::default()
        };
        match store.update_status(&next) {
            Ok(_) => return Ok(()),
            Err(e) if e.is_conflict() => {
                let fresh =
                    match store.get("Pod", pod.metadata.namespace.as_deref(), &pod.metadata.name) {
                        Ok(o) => o,
                        Err(e) if e.is_not_found() => return Ok(()),
                        Err(e) => return Err(e),
                    };
                let Ok(fresh) = fresh.downcast_arc::<Pod>() else {
                    return Ok(());
                };
                if fresh.metadata.uid != uid {
                    return Ok(());
                }
                current = Some(fresh);
                last = Some(e);
            }
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("only conflicts loop"))
}
