//! `DefaultBinder`: writes the decision into the store.

use crate::api::conditions::{condition, set_condition, TRUE};
use crate::api::Pod;
use crate::error::Result;
use crate::scheduler::framework::{BindContext, BindOutcome, BindPlugin, Plugin};
use std::sync::Arc;

/// Sets `spec.nodeName` and the condition `PodScheduled=True` in one write, by
/// compare-and-swap on the resourceVersion the pod was scheduled at (a pod changed since
/// fails with `Conflict`): kube-apiserver's binding subresource, which also writes both at
/// once, so watchers see a pod bound and marked scheduled in one event.
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
        let status = bound.status.get_or_insert_with(Default::default);
        set_condition(
            &mut status.conditions,
            condition("PodScheduled", TRUE, "", "", None),
            cx.clock.now(),
        );
        cx.store.update_with_status(Arc::new(bound))?;
        Ok(BindOutcome::Bound)
    }
}
