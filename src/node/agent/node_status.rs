//! A node's own objects: registering its Node, writing the Node's status (capacity,
//! allocatable, conditions, addresses, node info) and renewing its Lease in
//! `kube-node-lease`, as the kubelet's node status loop does.

use super::kubelet::Kubelet;
use super::node_claim::ENGINE_ANNOTATION;
use crate::api::conditions::{condition, set_condition};
use crate::api::{Lease, Node, NodeAddress, NodeSpec, NodeStatus, ObjectMeta, Quantity, Time};
use crate::node::config::{NodeConfig, HOSTNAME_LABEL, LEASE_NAMESPACE};
use crate::runtime::{Action, Context, ReconcileResult};
use std::sync::atomic::Ordering;

impl Kubelet {
    pub(super) fn reconcile_node(&self, ctx: &Context) -> ReconcileResult {
        let name = ctx.name();
        let Some(agent) = self.inner.nodes.read().get(name).cloned() else {
            return Ok(Action::done());
        };
        // Held to the end of the reconcile: see `NodeAgent::stopped`.
        let stopped = agent.stopped.read();
        if *stopped || self.inner.shutting_down.load(Ordering::Acquire) {
            return Ok(Action::done());
        }
        // Before anything is written for the node: whether another engine took it over
        // (this one was cut off from the store past its Lease's duration). Then this one
        // stops it at once, as a power failure would; the other runs its pods.
        if let Some(other) = self.claim_taken(ctx, name)? {
            drop(stopped);
            return Ok(self.give_up_node(name, &other));
        }
        let now = ctx.now();
        let nodes = ctx.api::<Node>();
        let status = self.node_status(&agent.config, now);
        match nodes.get_opt(name)? {
            None => {
                let mut labels = agent.config.labels.clone();
                labels.insert(HOSTNAME_LABEL.to_string(), name.to_string());
                labels.insert("kubernetes.io/os".into(), std::env::consts::OS.into());
                labels.insert("kubernetes.io/arch".into(), go_arch().into());
                let node = Node {
                    metadata: ObjectMeta {
                        name: name.to_string(),
                        labels,
                        ..Default::default()
                    },
                    spec: NodeSpec {
                        taints: agent.config.taints.clone(),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                // Created in two steps as kubelets do: the object, then its status. A
                // conflict (someone created it meanwhile) retries with backoff.
                let created = nodes.create(node)?;
                let mut n = (*created).clone();
                let mut status = status;
                heartbeat(&mut status.conditions, now);
                n.status = Some(status);
                let written = nodes.update_status(&n)?;
                note_registered(&agent, &written);
            }
            Some(cur) => {
                let mut n = (*cur).clone();
                let mut st = n.status.clone().unwrap_or_default();
                st.capacity = status.capacity.clone();
                st.allocatable = status.allocatable.clone();
                st.addresses = status.addresses.clone();
                if st.node_info.is_none() {
                    st.node_info = status.node_info.clone();
                }
                for c in status.conditions {
                    set_condition(&mut st.conditions, c, now);
                }
                heartbeat(&mut st.conditions, now);
                n.status = Some(st);
                let written = nodes.update_status(&n)?;
                note_registered(&agent, &written);
            }
        }
        if let Some(other) = self.renew_lease(ctx, name, now)? {
            drop(stopped);
            return Ok(self.give_up_node(name, &other));
        }
        Ok(Action::requeue(self.inner.config.heartbeat_period))
    }

    /// Stops node `name`, which engine `other` took over while this engine could not renew
    /// its Lease, as a power failure would: the other engine runs its pods now.
    fn give_up_node(&self, name: &str, other: &str) -> Action {
        log::error!(
            "node {name}: engine {other} took it over while this engine could not renew its \
             Lease; this engine stops running it (restart it under another node name)"
        );
        self.stop_node(name);
        Action::done()
    }

    fn node_status(&self, config: &NodeConfig, _now: Time) -> NodeStatus {
        let host = crate::node::host::system_info();
        let mut capacity = crate::api::ResourceList::new();
        capacity.insert("cpu".into(), Quantity::from_milli(config.cpu_millis));
        capacity.insert(
            "memory".into(),
            Quantity::from_bytes_binary(config.memory_bytes),
        );
        capacity.insert("pods".into(), Quantity::from_value(config.max_pods));
        let ready = condition(
            "Ready",
            "True",
            "KubeletReady",
            "steady node agent is posting ready status",
            None,
        );
        let pressure = |t: &str, reason: &str, msg: &str| condition(t, "False", reason, msg, None);
        NodeStatus {
            allocatable: capacity.clone(),
            capacity,
            conditions: vec![
                pressure(
                    "MemoryPressure",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                pressure(
                    "DiskPressure",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                pressure(
                    "PIDPressure",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                ready,
            ],
            addresses: vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: "127.0.0.1".into(),
                    ..Default::default()
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: config.name.clone(),
                    ..Default::default()
                },
            ],
            node_info: Some(serde_json::json!({
                "kubeletVersion": concat!("steady-", env!("CARGO_PKG_VERSION")),
                "operatingSystem": std::env::consts::OS,
                "architecture": go_arch(),
                "containerRuntimeVersion": if config.simulated { "simulated" } else { "process" },
                "kernelVersion": host.kernel_version,
                "osImage": host.os_image,
                "machineID": host.machine_id,
                "bootID": host.boot_id,
            })),
            ..Default::default()
        }
    }

    /// The engine that holds the claim on node `name`, when the store is shared, this
    /// engine claimed its nodes, and the node's Lease names another engine.
    fn claim_taken(
        &self,
        ctx: &Context,
        name: &str,
    ) -> Result<Option<String>, crate::runtime::ReconcileError> {
        let Some(me) = self.inner.claimed_as.get() else {
            return Ok(None);
        };
        let lease = ctx
            .api::<Lease>()
            .namespace(LEASE_NAMESPACE)
            .get_opt(name)?;
        Ok(lease
            .and_then(|l| l.metadata.annotations.get(ENGINE_ANNOTATION).cloned())
            .filter(|holder| holder != me))
    }

    /// Renews node `name`'s Lease; `Some(engine)` instead when the Lease, read fresh here,
    /// names another engine (the node was taken over: nothing is written).
    fn renew_lease(
        &self,
        ctx: &Context,
        name: &str,
        now: Time,
    ) -> Result<Option<String>, crate::runtime::ReconcileError> {
        let leases = ctx.api::<Lease>().namespace(LEASE_NAMESPACE);
        let secs = self.inner.config.lease_duration.as_secs().max(1) as i32;
        match leases.get_opt(name)? {
            None => {
                let lease = super::node_claim::node_lease(
                    name,
                    self.inner.claimed_as.get().map(String::as_str),
                    self.inner.config.lease_duration,
                    now,
                );
                leases.create(lease)?;
            }
            Some(cur) => {
                let mut l = (*cur).clone();
                // The renewal keeps the claim. It is a compare-and-swap on the version read
                // here, checked here: an engine that took the node over before this read is
                // seen, one that takes it over after makes the update a conflict (and the
                // next heartbeat sees it).
                if let Some(me) = self.inner.claimed_as.get() {
                    if let Some(other) = l
                        .metadata
                        .annotations
                        .get(ENGINE_ANNOTATION)
                        .filter(|owner| *owner != me)
                    {
                        return Ok(Some(other.clone()));
                    }
                    l.metadata
                        .annotations
                        .insert(ENGINE_ANNOTATION.to_string(), me.clone());
                }
                l.spec.renew_time = Some(now);
                l.spec.lease_duration_seconds = Some(secs);
                leases.update(l)?;
            }
        }
        Ok(None)
    }
}

/// Go's name of this architecture, as Kubernetes labels nodes.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// Records the revision of the agent's first status write (see `NodeAgent::registered`).
fn note_registered(agent: &super::kubelet::NodeAgent, written: &Node) {
    let rev = written.metadata.revision().unwrap_or(0);
    let _ = agent
        .registered
        .compare_exchange(0, rev, Ordering::AcqRel, Ordering::Acquire);
}

/// Moves the heartbeat time of every condition of a node to `now`, as the kubelet's status
/// update does (`lastHeartbeatTime`, which `kubectl describe node` shows).
fn heartbeat(conditions: &mut [crate::api::Condition], now: Time) {
    let at = serde_json::to_value(now).unwrap_or_default();
    for c in conditions {
        c.extra.insert("lastHeartbeatTime".into(), at.clone());
    }
}
