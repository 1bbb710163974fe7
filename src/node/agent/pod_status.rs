//! A pod's status as the kubelet writes it: phase, conditions, container statuses and the
//! QoS class, written back with the conditions other components own kept.

use super::kubelet::Kubelet;
use super::pod_state::{ContRt, PodRt};
use super::pod_sync::PodSync;
use crate::api::conditions::{condition, set_condition, status_of};
use crate::api::{
    Condition, ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus,
    ObjectMeta, Pod, PodIp, PodStatus,
};
use crate::runtime::Context;
use std::sync::Arc;

impl Kubelet {
    /// Writes the pod's status if it changed; a conflict (someone else wrote the pod) is
    /// retried on the fresh object, keeping conditions others own.
    pub(super) fn write_status(
        &self,
        ctx: &Context,
        pod: &Arc<Pod>,
        status: PodStatus,
    ) -> Result<(), crate::runtime::ReconcileError> {
        let api = ctx.api::<Pod>();
        let mut cur = pod.clone();
        for _ in 0..5 {
            let mut merged = status.clone();
            if let Some(old) = cur.status.as_deref() {
                // Conditions the kubelet does not own (DisruptionTarget, readiness gates...)
                // are kept; PodScheduled stays as the scheduler wrote it.
                for c in &old.conditions {
                    if !KUBELET_CONDITIONS.contains(&c.type_.as_str()) {
                        merged.conditions.push(c.clone());
                    }
                }
                merged.nominated_node_name = old.nominated_node_name.clone();
                merged.extra = old.extra.clone();
                if merged.start_time.is_none() {
                    merged.start_time = old.start_time;
                }
                // Keep transition times of conditions whose status did not change.
                for c in merged.conditions.iter_mut() {
                    if let Some(o) = old.conditions.iter().find(|o| o.type_ == c.type_) {
                        if o.status == c.status {
                            c.last_transition_time = o.last_transition_time;
                        }
                    }
                }
                if *old == merged {
                    return Ok(());
                }
            }
            // The status subresource reads only the identity, the resourceVersion (the
            // compare-and-swap) and the status: no copy of the spec and the rest of the pod.
            let p = Pod {
                metadata: ObjectMeta {
                    name: cur.metadata.name.clone(),
                    namespace: cur.metadata.namespace.clone(),
                    uid: cur.metadata.uid.clone(),
                    resource_version: cur.metadata.resource_version.clone(),
                    ..Default::default()
                },
                status: Some(Box::new(merged)),
                ..Default::default()
            };
            match api.update_status(&p) {
                Ok(_) => return Ok(()),
                Err(e) if e.is_conflict() => match api.get_opt(&pod.metadata.name)? {
                    Some(fresh) if fresh.metadata.uid == pod.metadata.uid => cur = fresh,
                    _ => return Ok(()),
                },
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::runtime::ReconcileError::retry(
            "pod status kept changing under the kubelet",
        ))
    }
}

/// Pod condition types the kubelet writes.
const KUBELET_CONDITIONS: &[&str] = &["Initialized", "ContainersReady", "Ready", "PodScheduled"];

impl PodSync<'_> {
    /// `Some(phase)` when every container is done for good.
    pub(super) fn terminal(&self, st: &PodRt) -> Option<&'static str> {
        if st.failed.is_some() {
            return Some("Failed");
        }
        if st.containers.is_empty() || !st.containers.iter().all(|c| c.final_state.is_some()) {
            return None;
        }
        let ok = st
            .containers
            .iter()
            .all(|c| c.final_state.as_ref().is_some_and(|t| t.exit_code == 0));
        Some(if ok { "Succeeded" } else { "Failed" })
    }

    pub(super) fn status(&self, st: &PodRt) -> PodStatus {
        let now = self.wall;
        let statuses =
            |cs: &[ContRt]| -> Vec<ContainerStatus> { cs.iter().map(container_status).collect() };
        let container_statuses = statuses(&st.containers);
        let init_statuses = statuses(&st.init);
        let terminal = self.terminal(st);
        let init_done = st.init_done >= st.init.len();
        let any_running = st.containers.iter().any(ContRt::running);
        let phase = match terminal {
            Some(p) => p,
            None if init_done && any_running => "Running",
            None if init_done
                && !st.containers.is_empty()
                && st.containers.iter().all(|c| {
                    c.current.is_some() || c.final_state.is_some() || c.last_terminated.is_some()
                }) =>
            {
                "Running"
            }
            None => "Pending",
        };
        // The sidecars' readiness counts with the main containers', as in Kubernetes.
        let serving = || {
            st.init
                .iter()
                .filter(|c| c.spec.is_sidecar())
                .chain(&st.containers)
        };
        let containers_ready = terminal.is_none()
            && !st.containers.is_empty()
            && serving().all(|c| {
                c.current
                    .as_ref()
                    .is_some_and(|i| i.ready && i.exit.lock().is_none())
            });
        let not_ready: Vec<&str> = serving()
            .filter(|c| !c.current.as_ref().is_some_and(|i| i.ready))
            .map(|c| c.spec.name.as_str())
            .collect();
        let mut conditions: Vec<Condition> = Vec::new();
        let init_cond = if init_done {
            condition("Initialized", "True", "", "", None)
        } else {
            let pending: Vec<&str> = st.init[st.init_done..]
                .iter()
                .map(|c| c.spec.name.as_str())
                .collect();
            condition(
                "Initialized",
                "False",
                "ContainersNotInitialized",
                &format!("containers with incomplete status: [{}]", pending.join(" ")),
                None,
            )
        };
        set_condition(&mut conditions, init_cond, now);
        let ready_cond = |t: &str| {
            if containers_ready {
                condition(t, "True", "", "", None)
            } else if terminal.is_some() {
                condition(t, "False", "PodCompleted", "", None)
            } else {
                condition(
                    t,
                    "False",
                    "ContainersNotReady",
                    &format!("containers with unready status: [{}]", not_ready.join(" ")),
                    None,
                )
            }
        };
        set_condition(&mut conditions, ready_cond("ContainersReady"), now);
        set_condition(&mut conditions, ready_cond("Ready"), now);
        set_condition(
            &mut conditions,
            condition("PodScheduled", status_of(true), "", "", None),
            now,
        );
        let (reason, message) = match &st.failed {
            Some((r, m)) => (Some(r.clone()), Some(m.clone())),
            None => (None, None),
        };
        PodStatus {
            phase: Some(phase.to_string()),
            conditions,
            container_statuses,
            init_container_statuses: init_statuses,
            host_ip: Some("127.0.0.1".into()),
            pod_ip: Some(self.ip.clone()),
            pod_ips: vec![PodIp {
                ip: self.ip.clone(),
                ..Default::default()
            }],
            start_time: st.start_time,
            reason,
            message,
            qos_class: Some(qos_class(self.pod).into()),
            ..Default::default()
        }
    }
}

fn container_status(c: &ContRt) -> ContainerStatus {
    let state = if let Some(i) = &c.current {
        ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(i.started_at),
                ..Default::default()
            }),
            ..Default::default()
        }
    } else if let Some(t) = &c.final_state {
        ContainerState {
            terminated: Some(Box::new(t.clone())),
            ..Default::default()
        }
    } else {
        let (reason, message) = c
            .waiting
            .clone()
            .unwrap_or_else(|| ("ContainerCreating".into(), String::new()));
        ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason),
                message: (!message.is_empty()).then_some(message),
                ..Default::default()
            }),
            ..Default::default()
        }
    };
    let (ready, started, id) = match &c.current {
        Some(i) => (
            i.ready,
            Some(i.started && i.post_start.is_none()),
            Some(i.handle.id().to_string()),
        ),
        None => (
            false,
            Some(false),
            c.final_state.as_ref().and_then(|t| t.container_id.clone()),
        ),
    };
    ContainerStatus {
        name: c.spec.name.clone(),
        state: Some(state),
        last_state: c.last_terminated.as_ref().map(|t| {
            Box::new(ContainerState {
                terminated: Some(Box::new(t.clone())),
                ..Default::default()
            })
        }),
        ready,
        started,
        restart_count: c.restart_count,
        image: c.spec.image.clone().unwrap_or_default(),
        container_id: id,
        ..Default::default()
    }
}

/// Kubernetes' QoS class of a pod.
fn qos_class(pod: &Pod) -> &'static str {
    let cs = pod
        .spec
        .containers
        .iter()
        .chain(pod.spec.init_containers.iter());
    let mut any = false;
    let mut guaranteed = true;
    for c in cs {
        let Some(r) = &c.resources else {
            guaranteed = false;
            continue;
        };
        if !r.requests.is_empty() || !r.limits.is_empty() {
            any = true;
        }
        for res in ["cpu", "memory"] {
            match (r.limits.get(res), r.requests.get(res)) {
                (Some(l), Some(q)) if l.milli_value() == q.milli_value() => {}
                (Some(_), None) => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}
