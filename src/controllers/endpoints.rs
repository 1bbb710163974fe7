//! Service endpoints: the `endpoints` controller and the round-robin [`Resolver`].
//!
//! For every Service with a selector, the controller keeps an Endpoints object of the same
//! name listing the matching pods that have an address: ready pods under `addresses`, the
//! others under `notReadyAddresses` (terminating pods are left out, as Kubernetes does
//! without `publishNotReadyAddresses`). Each service port's `targetPort` (a number, a
//! container port name, or by default the port itself) is resolved per pod; pods with the
//! same resolved ports share a subset.
//!
//! [`Resolver::resolve`] turns a Service into one ready endpoint, round-robin: the way a host
//! routes work to healthy workers. For process pods the address is the pod's own loopback
//! address (see the node agent) and the container port.

use crate::api::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, IntOrString, ObjectMeta,
    ObjectReference, Pod, Selector, Service,
};
use crate::error::{Error, Result};
use crate::runtime::{Action, Context, Controller, ObjectKey, ReconcileResult};
use crate::store::{DeleteParams, ListParams, Store};
use crate::ObjectRef;
use dashmap::DashMap;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The endpoints controller. A pod maps to the Services that select it, or selected it
/// before its labels changed.
pub fn controller() -> Controller {
    Controller::for_kind::<Service>("endpoints")
        .watches_with_store("Pod", services_of)
        .concurrency(4)
        .build(reconcile)
}

fn services_of(store: &Store, o: &dyn crate::api::Object) -> Vec<ObjectKey> {
    let Some(pod) = o.as_any().downcast_ref::<Pod>() else {
        return Vec::new();
    };
    let ns = pod.metadata.namespace_str();
    let params = ListParams {
        namespace: Some(ns.to_string()),
        ..Default::default()
    };
    let mut keys = Vec::new();
    if let Ok(list) = store.list("Service", &params) {
        for s in list.items {
            let Some(svc) = s.downcast_ref::<Service>() else {
                continue;
            };
            if !svc.spec.selector.is_empty()
                && Selector::from_map(&svc.spec.selector).matches(&pod.metadata.labels)
            {
                keys.push(ObjectKey::new(Some(ns), &svc.metadata.name));
            }
        }
    }
    // Services that listed the pod: it may have stopped matching.
    if let Ok(list) = store.list("Endpoints", &params) {
        for e in list.items {
            let Some(ep) = e.downcast_ref::<Endpoints>() else {
                continue;
            };
            let lists = ep
                .subsets
                .iter()
                .flat_map(|s| s.addresses.iter().chain(s.not_ready_addresses.iter()));
            let mut listed = lists.filter_map(|a| a.target_ref.as_ref());
            if listed.any(|r| r.name.as_deref() == Some(pod.metadata.name.as_str())) {
                let k = ObjectKey::new(Some(ns), &ep.metadata.name);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    keys
}

/// The container port a service port targets on `pod`, if the pod has it.
fn target_port(pod: &Pod, port: &crate::api::ServicePort) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => pod
            .spec
            .containers
            .iter()
            .flat_map(|c| c.ports.iter())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port),
    }
}

fn reconcile(ctx: &Context) -> ReconcileResult {
    let endpoints = ctx.api::<Endpoints>();
    let Some(svc) = ctx.get::<Service>() else {
        match endpoints.delete(ctx.name(), &DeleteParams::default()) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(Action::done());
    };
    if svc.spec.selector.is_empty() {
        // Endpoints of a Service without a selector are the user's to write.
        return Ok(Action::done());
    }
    let pods = ctx.api::<Pod>().list(&ListParams {
        selector: Some(Selector::from_map(&svc.spec.selector)),
        ..Default::default()
    })?;
    // Subsets keyed by their resolved ports (name, port, protocol).
    type Ports = Vec<(Option<String>, i32, Option<String>)>;
    type Addrs = (Vec<EndpointAddress>, Vec<EndpointAddress>);
    let mut subsets: BTreeMap<Ports, Addrs> = BTreeMap::new();
    for pod in pods.items.iter() {
        // Deleting and finished pods serve nothing (the resolver applies the same rule).
        if !super::pod_util::is_active(pod) {
            continue;
        }
        let Some(ip) = pod.status.as_deref().and_then(|s| s.pod_ip.clone()) else {
            continue;
        };
        let mut ports = Vec::new();
        for p in &svc.spec.ports {
            if let Some(tp) = target_port(pod, p) {
                ports.push((p.name.clone(), tp, p.protocol.clone()));
            }
        }
        if ports.is_empty() && !svc.spec.ports.is_empty() {
            continue;
        }
        let addr = EndpointAddress {
            ip,
            node_name: pod.spec.node_name.clone(),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                namespace: pod.metadata.namespace.clone(),
                name: Some(pod.metadata.name.clone()),
                uid: pod.metadata.uid.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let entry = subsets.entry(ports).or_default();
        if super::pod_util::is_ready(pod) {
            entry.0.push(addr);
        } else {
            entry.1.push(addr);
        }
    }
    let desired: Vec<EndpointSubset> = subsets
        .into_iter()
        .map(|(ports, (mut ready, mut not_ready))| {
            ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            not_ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            EndpointSubset {
                addresses: ready,
                not_ready_addresses: not_ready,
                ports: ports
                    .into_iter()
                    .map(|(name, port, protocol)| EndpointPort {
                        name,
                        port,
                        protocol,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    match endpoints.get_opt(ctx.name())? {
        None => {
            endpoints.create(Endpoints {
                metadata: ObjectMeta {
                    name: ctx.name().to_string(),
                    labels: svc.metadata.labels.clone(),
                    ..Default::default()
                },
                subsets: desired,
                ..Default::default()
            })?;
        }
        Some(cur) if cur.subsets != desired || cur.metadata.labels != svc.metadata.labels => {
            let mut e = (*cur).clone();
            e.subsets = desired;
            e.metadata.labels = svc.metadata.labels.clone();
            endpoints.update(e)?;
        }
        Some(_) => {}
    }
    Ok(Action::done())
}

/// Resolves Services to ready endpoints, round-robin per Service.
///
/// The Endpoints object trails the pods by one reconcile of the endpoints controller: a pod
/// whose process just died is marked not ready in the store before its address leaves the
/// ready list. So the resolver also checks the pod behind the address it picks (its
/// `targetRef`) and passes over one that is not ready, or deleting, or gone: once a pod is
/// not ready, no resolve returns it.
pub struct Resolver {
    store: Store,
    next: DashMap<String, AtomicUsize>,
    /// Set on a store shared with other engines: only endpoints on these nodes are used.
    local: Option<crate::node::LocalNodes>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("services", &self.next.len())
            .field("only_local", &self.local.is_some())
            .finish()
    }
}

impl Resolver {
    /// A resolver reading the Endpoints of `store`.
    pub fn new(store: Store) -> Self {
        Resolver {
            store,
            next: DashMap::new(),
            local: None,
        }
    }

    /// Uses only the endpoints on the nodes `local` accepts (see [`crate::node::LocalNodes`]).
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))] // only stores shared through etcd
    pub(crate) fn only_local(mut self, local: crate::node::LocalNodes) -> Self {
        self.local = Some(local);
        self
    }

    /// One ready endpoint of Service `namespace/name` for the service port named `port`
    /// (`None`: the first port), taking turns among the ready addresses. `NotFound` when
    /// the Service does not exist; `Unavailable` when it has no ready endpoint.
    pub fn resolve(&self, namespace: &str, name: &str, port: Option<&str>) -> Result<SocketAddr> {
        let svc = self.store.get("Service", Some(namespace), name)?;
        let svc = svc
            .downcast_ref::<Service>()
            .ok_or_else(|| Error::NotFound {
                object: ObjectRef::new("Service", Some(namespace), name),
            })?;
        let port_name = match port {
            Some(p) => {
                if !svc
                    .spec
                    .ports
                    .iter()
                    .any(|sp| sp.name.as_deref() == Some(p))
                {
                    return Err(Error::invalid(
                        ObjectRef::new("Service", Some(namespace), name),
                        "spec.ports",
                        format!("the service has no port named {p:?}"),
                    ));
                }
                Some(p.to_string())
            }
            None => svc.spec.ports.first().and_then(|p| p.name.clone()),
        };
        let unavailable = |msg: &str| Error::Unavailable {
            object: ObjectRef::new("Service", Some(namespace), name),
            message: msg.to_string(),
        };
        let ep = match self.store.get("Endpoints", Some(namespace), name) {
            Ok(ep) => ep,
            Err(e) if e.is_not_found() => return Err(unavailable("no endpoints yet")),
            Err(e) => return Err(e),
        };
        let ep: Arc<Endpoints> = ep
            .downcast_arc::<Endpoints>()
            .map_err(|_| unavailable("endpoints of an unexpected type"))?;
        let mut candidates: Vec<(SocketAddr, Option<&ObjectReference>)> = Vec::new();
        let mut elsewhere = 0;
        for s in &ep.subsets {
            let port = match &port_name {
                Some(n) => s
                    .ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(n.as_str())),
                None => s.ports.first(),
            };
            let Some(port) = port else { continue };
            for a in &s.addresses {
                if !crate::node::is_local(a, self.local.as_ref()) {
                    elsewhere += 1;
                    continue;
                }
                if let Ok(ip) = a.ip.parse::<IpAddr>() {
                    candidates.push((SocketAddr::new(ip, port.port as u16), a.target_ref.as_ref()));
                }
            }
        }
        if candidates.is_empty() && elsewhere > 0 {
            return Err(unavailable(&format!(
                "no ready endpoints on this engine's nodes ({elsewhere} on other hosts, whose \
                 pod addresses are loopback addresses of those hosts)"
            )));
        }
        if candidates.is_empty() {
            return Err(unavailable("no ready endpoints"));
        }
        let key = format!("{namespace}/{name}");
        let n = self
            .next
            .entry(key)
            .or_insert_with(|| AtomicUsize::new(0))
            .fetch_add(1, Ordering::Relaxed);
        // From this turn's address on, the first whose pod is still ready: usually the
        // first one looked at, so a resolve costs one pod read.
        (0..candidates.len())
            .map(|i| candidates[(n + i) % candidates.len()])
            .find(|(_, target)| target.is_none_or(|t| self.pod_ready(namespace, t)))
            .map(|(addr, _)| addr)
            .ok_or_else(|| unavailable("no ready endpoints"))
    }

    /// Whether the pod an address points to would be a ready address now: the endpoints
    /// controller's rule (active and ready), read from the store instead of the Endpoints.
    fn pod_ready(&self, namespace: &str, target: &ObjectReference) -> bool {
        if target.kind.as_deref().is_some_and(|k| k != "Pod") {
            return true;
        }
        let Some(name) = target.name.as_deref() else {
            return true;
        };
        let ns = target.namespace.as_deref().unwrap_or(namespace);
        match self.store.get("Pod", Some(ns), name) {
            Ok(o) => o.downcast_ref::<Pod>().is_some_and(|p| {
                target
                    .uid
                    .as_ref()
                    .is_none_or(|u| p.metadata.uid.as_ref() == Some(u))
                    && super::pod_util::is_active(p)
                    && super::pod_util::is_ready(p)
            }),
            Err(_) => false,
        }
    }
}
