//! The Service proxy: kube-proxy's userspace mode, in process.
//!
//! Every Service with a virtual address (`spec.clusterIP`, see
//! [`crate::api::service_ip`]) is served on that address: for each TCP port the proxy
//! listens on `clusterIP:port` and forwards each accepted connection to a ready endpoint of
//! the port, round-robin, or with `sessionAffinity: ClientIP` to the endpoint the client used
//! last (see `balancer.rs`). It follows the Service's Endpoints as they change. A port without
//! a ready endpoint has no listener, so a connection to it is refused at once; UDP and SCTP
//! ports are not served (a warning event on the Service says so).
//!
//! Two parts: a controller (`service-proxy`, on Services and their Endpoints) that turns
//! each Service into the ports to serve and hands them to the event loop (`forward.rs`), one
//! thread that owns every listener and connection. So the proxy costs one thread however
//! many Services and connections there are.
//!
//! Client addresses: a process that connects without binding its socket first comes from
//! `127.0.0.1`, like every other local process; `ClientIP` affinity tells clients apart by
//! the address they connect from (a pod that binds to its `POD_IP` is its own client).
//!
//! The engine starts the proxy with its local nodes; an engine of simulated nodes only runs
//! none (see [`EngineBuilder::service_proxy`](crate::EngineBuilder::service_proxy)).

mod balancer;
mod forward;

use crate::api::conditions::{find_condition, TRUE};
use crate::api::service_ip::cluster_ip;
use crate::api::{Endpoints, Object, Pod, Service};
use crate::client::events::{EventKind, EventRecorder};
use crate::clock::SharedClock;
use crate::runtime::{Action, Context, Controller, ObjectKey, ReconcileResult};
use crate::store::Store;
use balancer::{Backend, PodRef};
use crossbeam_channel::Sender;
use forward::{Command, Loop, PortSpec};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The running Service proxy of an engine. Cheap to clone.
#[derive(Clone)]
pub struct ServiceProxy {
    inner: Arc<Inner>,
}

struct Inner {
    commands: Sender<Command>,
    waker: mio::Waker,
    thread: Mutex<Option<JoinHandle<()>>>,
    events: EventRecorder,
    /// Service key → (uid, generation) whose unsupported ports were reported; forgotten
    /// when the Service goes.
    warned: Mutex<HashMap<String, (String, i64)>>,
    /// Set on a store shared with other engines: only endpoints on these nodes are used.
    local: std::sync::OnceLock<crate::node::LocalNodes>,
}

impl std::fmt::Debug for ServiceProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProxy").finish_non_exhaustive()
    }
}

impl ServiceProxy {
    /// Starts the proxy's event loop thread over `store`, with `clock` for session affinity.
    /// Returns the proxy and its controller, which the caller registers on the engine.
    ///
    /// # Errors
    ///
    /// The operating system's, when the poller or the thread cannot be created.
    pub fn start(store: Store, clock: SharedClock) -> std::io::Result<(ServiceProxy, Controller)> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let events = EventRecorder::new(store.clone(), "service-proxy", clock.clone());
        let usable_store = store.clone();
        let usable =
            Box::new(move |b: &Backend| b.pod.as_ref().is_none_or(|p| pod_ready(&usable_store, p)));
        let report_store = store.clone();
        let report_events = events.clone();
        let reported: Mutex<HashSet<(String, SocketAddr)>> = Mutex::default();
        let bind_failed = Box::new(move |service: &str, addr: SocketAddr, e: &std::io::Error| {
            if !reported.lock().insert((service.to_string(), addr)) {
                return;
            }
            log::warn!("service proxy: cannot listen on {addr} for Service {service}: {e}");
            let (ns, name) = service.split_once('/').unwrap_or(("default", service));
            if let Ok(svc) = report_store.get("Service", Some(ns), name) {
                let _ = report_events.record(
                    svc.as_ref(),
                    EventKind::Warning,
                    "FailedToListen",
                    &format!("cannot listen on {addr}: {e}; retrying every second"),
                );
            }
        });
        let (lp, waker) = Loop::new(rx, clock, usable, bind_failed)?;
        let thread = std::thread::Builder::new()
            .name("steady-proxy".into())
            .spawn(move || {
                // A panic here would leave every Service unserved: say so loudly rather than
                // let it vanish with the thread.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp.run()));
                if run.is_err() {
                    log::error!("service proxy: event loop panicked; Services are not proxied");
                }
            })?;
        let proxy = ServiceProxy {
            inner: Arc::new(Inner {
                commands: tx,
                waker,
                thread: Mutex::new(Some(thread)),
                events,
                warned: Mutex::default(),
                local: std::sync::OnceLock::new(),
            }),
        };
        let p = proxy.clone();
        let controller = Controller::for_kind::<Service>("service-proxy")
            .watches("Endpoints", |o: &dyn Object| vec![ObjectKey::of(o)])
            .concurrency(2)
            .build(move |ctx: &Context| p.reconcile(ctx));
        Ok((proxy, controller))
    }

    /// Uses only the endpoints on the nodes `local` accepts (see [`crate::node::LocalNodes`]);
    /// set once, before the proxy's controller runs.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))] // only stores shared through etcd
    pub(crate) fn only_local(&self, local: crate::node::LocalNodes) {
        let _ = self.inner.local.set(local);
    }

    /// Stops the event loop: every listener and proxied connection is closed. Idempotent.
    pub fn stop(&self) {
        let _ = self.inner.commands.send(Command::Stop);
        let _ = self.inner.waker.wake();
        if let Some(t) = self.inner.thread.lock().take() {
            if t.join().is_err() {
                log::error!("service proxy: event loop thread panicked");
            }
        }
    }

    fn send(&self, c: Command) {
        if self.inner.commands.send(c).is_ok() {
            let _ = self.inner.waker.wake();
        }
    }

    fn reconcile(&self, ctx: &Context) -> ReconcileResult {
        let key = ctx.key().to_string();
        let ports = match ctx.get::<Service>() {
            Some(svc) => self.ports_of(ctx, &svc)?,
            None => {
                self.inner.warned.lock().remove(&key);
                Vec::new()
            }
        };
        self.send(Command::Set(key, ports));
        Ok(Action::done())
    }

    /// What to serve for `svc`: each TCP port at its virtual address with the port's ready
    /// endpoints.
    fn ports_of(
        &self,
        ctx: &Context,
        svc: &Service,
    ) -> Result<Vec<PortSpec>, crate::runtime::ReconcileError> {
        let Some(ip) = cluster_ip(svc).and_then(|ip| ip.parse::<IpAddr>().ok()) else {
            return Ok(Vec::new());
        };
        let endpoints = ctx.api::<Endpoints>().get_opt(ctx.name())?;
        let affinity = svc.spec.affinity_timeout();
        let mut out = Vec::new();
        let mut unsupported = Vec::new();
        for sp in &svc.spec.ports {
            let proto = sp.protocol.as_deref().unwrap_or("TCP");
            if proto != "TCP" {
                unsupported.push(format!("{}/{proto}", sp.port));
                continue;
            }
            let Ok(port) = u16::try_from(sp.port) else {
                continue;
            };
            let backends = endpoints
                .as_deref()
                .map(|ep| ready_backends(ep, sp.name.as_deref(), self.inner.local.get()))
                .unwrap_or_default();
            out.push(PortSpec {
                addr: SocketAddr::new(ip, port),
                backends,
                affinity,
            });
        }
        if !unsupported.is_empty() {
            self.warn_unsupported(svc, &unsupported);
        }
        Ok(out)
    }

    /// One warning event per Service generation naming the ports that are not proxied.
    fn warn_unsupported(&self, svc: &Service, ports: &[String]) {
        let key = ObjectKey::of(svc).to_string();
        let seen = (
            svc.metadata.uid.clone().unwrap_or_default(),
            svc.metadata.generation.unwrap_or(0),
        );
        if self.inner.warned.lock().insert(key, seen.clone()) == Some(seen) {
            return;
        }
        let _ = self.inner.events.record(
            svc,
            EventKind::Warning,
            "UnsupportedProtocol",
            &format!(
                "ports {} are not proxied: the service proxy serves TCP only",
                ports.join(", ")
            ),
        );
    }
}

/// The ready addresses of `ep` for the service port named `port`, with the port number the
/// endpoints give it; with `local`, only those on its nodes.
fn ready_backends(
    ep: &Endpoints,
    port: Option<&str>,
    local: Option<&crate::node::LocalNodes>,
) -> Vec<Backend> {
    let mut out = Vec::new();
    for s in &ep.subsets {
        let p = s.ports.iter().find(|p| {
            p.name.as_deref().filter(|n| !n.is_empty()) == port.filter(|n| !n.is_empty())
        });
        let Some(p) = p.and_then(|p| u16::try_from(p.port).ok()) else {
            continue;
        };
        for a in &s.addresses {
            if !crate::node::is_local(a, local) {
                continue;
            }
            let Ok(ip) = a.ip.parse::<IpAddr>() else {
                continue;
            };
            let pod = a
                .target_ref
                .as_ref()
                .filter(|r| r.kind.as_deref().is_none_or(|k| k == "Pod"))
                .and_then(|r| {
                    Some(PodRef {
                        namespace: r
                            .namespace
                            .clone()
                            .unwrap_or_else(|| ep.metadata.namespace_str().to_string()),
                        name: r.name.clone()?,
                        uid: r.uid.clone(),
                    })
                });
            out.push(Backend {
                addr: SocketAddr::new(ip, p),
                pod,
            });
        }
    }
    out
}

/// Whether the pod behind an endpoint would be a ready address now (the endpoints
/// controller's rule, read from the store): the Endpoints trail a pod that just stopped
/// being ready by one reconcile, and no new connection goes to it meanwhile.
fn pod_ready(store: &Store, p: &PodRef) -> bool {
    let Ok(o) = store.get("Pod", Some(&p.namespace), &p.name) else {
        return false;
    };
    let Some(pod) = o.downcast_ref::<Pod>() else {
        return false;
    };
    let status = pod.status.as_deref();
    let phase = status.and_then(|s| s.phase.as_deref());
    p.uid
        .as_ref()
        .is_none_or(|u| pod.metadata.uid.as_ref() == Some(u))
        && pod.metadata.deletion_timestamp.is_none()
        && !matches!(phase, Some("Succeeded") | Some("Failed"))
        && status
            .and_then(|s| find_condition(&s.conditions, "Ready"))
            .is_some_and(|c| c.status == TRUE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_endpoints_of_local_nodes_are_backends_when_asked() {
        let ep: Endpoints = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default"},
            "subsets": [{
                "addresses": [
                    {"ip": "127.1.0.1", "nodeName": "here"},
                    {"ip": "127.1.0.2", "nodeName": "there"},
                    {"ip": "127.1.0.3"}
                ],
                "ports": [{"port": 80}]
            }]
        }))
        .unwrap();
        let ips = |local: Option<&crate::node::LocalNodes>| -> Vec<String> {
            ready_backends(&ep, None, local)
                .iter()
                .map(|b| b.addr.ip().to_string())
                .collect()
        };
        assert_eq!(ips(None), ["127.1.0.1", "127.1.0.2", "127.1.0.3"]);
        let here: crate::node::LocalNodes = Arc::new(|n: &str| n == "here");
        // An address on no named node is kept: nothing says it is elsewhere.
        assert_eq!(ips(Some(&here)), ["127.1.0.1", "127.1.0.3"]);
    }
}
