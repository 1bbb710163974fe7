//! `DefaultBinder`: writes the decision into the store.

use crate::api::Pod;
use crate::error::{Error, ObjectRef, Result};
use crate::runtime::conditions::{condition, TRUE};
use crate::scheduler::framework::{BindContext, BindOutcome, BindPlugin, Plugin};
use crate::scheduler::status::update_pod_status;
use std::sync::Arc;

/// Sets `spec.nodeName` by compare-and-swap on the resourceVersion the pod was scheduled
/// at (a pod changed since fails with `Conflict`), then sets the condition
/// `PodScheduled=True` on the bound pod's status (a failure of that second write is logged;
/// the pod is bound).
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultBinder;

impl Plugin for DefaultBinder {
    fn name(&self) -> &str {
        "DefaultBinder"
    }
}

impl BindPlugin for DefaultBinder {
    fn bind(&self, cx: &BindContext<'_>, pod: &Pod, node: &str) -> Result<BindOutcome> {
        let mut bound = pod.clone();
        bound.spec.node_name = Some(node.to_string());
        let stored = cx.store.update(Arc::new(bound))?;
        let Some(stored) = stored.downcast_ref::<Pod>() else {
            return Err(Error::invalid(
                ObjectRef::new(
                    stored.kind(),
                    stored.meta().namespace.as_deref(),
                    &stored.meta().name,
                ),
                "kind",
                "the store returned another kind for a Pod",
            ));
        };
        let now = cx.clock.now();
        // The pod is bound whatever happens to the condition: failing here would make the
        // scheduler forget a placement the store already has.
        if let Err(e) = update_pod_status(cx.store, stored, |_, status| {
            crate::runtime::conditions::set_condition(
                &mut status.conditions,
                condition("PodScheduled", TRUE, "", "", None),
                now,
            )
        }) {
            log::warn!(
                "scheduler: pod {:?} is bound to {node} but its PodScheduled condition was not written: {e}",
                stored.metadata.name
            );
        }
        Ok(BindOutcome::Bound)
    }
}
