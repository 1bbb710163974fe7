//! kube-apiserver's Priority admission over the store, and the built-in PriorityClasses:
//! pods get `spec.priority` and `spec.preemptionPolicy` from their PriorityClass as they are
//! created (see [`crate::api::scheduling`] for the rules); a second `globalDefault` class and
//! deleting a built-in class are refused.

use crate::api::scheduling::{
    already_default_message, keep_pod_priority, resolve_pod_priority, system_priority_classes,
    SYSTEM_CLASS_DELETE_MESSAGE,
};
use crate::api::{Pod, PriorityClass};
use crate::client::Api;
use crate::error::Result;
use crate::store::{ListParams, Operation, Store, WeakStore};
use std::sync::Arc;

/// The admission hooks' name, as kube-apiserver's plugin.
pub(crate) const HOOK: &str = "Priority";

fn classes(store: &Store) -> Vec<Arc<PriorityClass>> {
    store
        .list("PriorityClass", &ListParams::default())
        .map(|l| {
            l.items
                .into_iter()
                .filter_map(|o| o.downcast_arc::<PriorityClass>().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Registers the Priority admission hooks on `store` and creates the built-in classes that
/// are missing. Does nothing when PriorityClasses are not served.
pub(crate) fn register(store: &Store) -> Result<()> {
    if store.registry().get("PriorityClass").is_none() {
        return Ok(());
    }
    let weak: WeakStore = store.downgrade();
    store.add_mutating_hook(HOOK, Some("Pod"), move |op, obj, old| {
        let Some(pod) = obj.as_any_mut().downcast_mut::<Pod>() else {
            return Ok(());
        };
        match op {
            Operation::Create => {
                let Some(store) = weak.upgrade() else {
                    return Ok(());
                };
                let all = classes(&store);
                let default = all
                    .iter()
                    .filter(|c| c.global_default == Some(true))
                    .min_by_key(|c| c.value)
                    .cloned();
                resolve_pod_priority(
                    pod,
                    |name| all.iter().find(|c| c.metadata.name == name).cloned(),
                    default,
                )
            }
            Operation::Update => {
                if let Some(old) = old.and_then(|o| o.downcast_ref::<Pod>()) {
                    keep_pod_priority(pod, old);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    });
    let weak: WeakStore = store.downgrade();
    store.add_validating_hook(HOOK, Some("PriorityClass"), move |req| {
        let Some(pc) = req.object.downcast_ref::<PriorityClass>() else {
            return Ok(());
        };
        match req.operation {
            Operation::Delete => {
                if system_priority_classes()
                    .iter()
                    .any(|s| s.metadata.name == pc.metadata.name)
                {
                    return Err(SYSTEM_CLASS_DELETE_MESSAGE.to_string());
                }
                Ok(())
            }
            Operation::Create | Operation::Update if pc.global_default == Some(true) => {
                let Some(store) = weak.upgrade() else {
                    return Ok(());
                };
                match classes(&store)
                    .iter()
                    .find(|c| c.global_default == Some(true) && c.metadata.name != pc.metadata.name)
                {
                    Some(other) => Err(already_default_message(&other.metadata.name)),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    });
    let api = Api::<PriorityClass>::all(store.clone());
    for pc in system_priority_classes() {
        if api.get_opt(&pc.metadata.name)?.is_none() {
            match api.create(pc) {
                Ok(_) => {}
                Err(crate::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
