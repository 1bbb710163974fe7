//! End to end with real processes: a Deployment of three HTTP servers (OS processes) behind a
//! Service. One is killed with SIGKILL; from the moment its pod is seen not ready, the Service
//! never resolves to it while it stays not ready; the kubelet restarts it in the same pod
//! (same address), and three ready endpoints that answer HTTP return.
//!
//! The whole engine runs on the real clock here (scheduler, node agent, probes, Deployment,
//! Endpoints): this is the path a host uses, not a unit under a manual clock.
#![cfg(target_os = "linux")]

mod common;

use common::eventually;
use common::processes::{kill, pod_pid};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Endpoints, Pod};
use steady::controllers::pod_util::is_ready;
use steady::node::NodeConfig;
use steady::store::ListParams;
use steady::{Engine, Error};

const MANIFEST: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: http
        command: [python3, -m, http.server, "8080", --bind, "$(POD_IP)"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /, port: http}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"#;

fn engine() -> Engine {
    Engine::builder()
        .local_node(false)
        .node(NodeConfig::local_named("e2e"))
        .build()
        .expect("engine starts")
}

fn web_pods(e: &Engine) -> Vec<Arc<Pod>> {
    e.api::<Pod>()
        .namespace("default")
        .list(&ListParams {
            selector: Some("app=web".parse().unwrap()),
            ..Default::default()
        })
        .unwrap()
        .items
}

fn pod(e: &Engine, name: &str) -> Arc<Pod> {
    e.api::<Pod>().namespace("default").get(name).unwrap()
}

/// The ready addresses of the Service's Endpoints.
fn ready_ips(e: &Engine) -> HashSet<IpAddr> {
    let Some(ep) = e
        .api::<Endpoints>()
        .namespace("default")
        .get_opt("web")
        .unwrap()
    else {
        return HashSet::new();
    };
    ep.subsets
        .iter()
        .flat_map(|s| s.addresses.iter())
        .filter_map(|a| a.ip.parse().ok())
        .collect()
}

fn restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.first())
        .map_or(0, |c| c.restart_count)
}

fn ip(p: &Pod) -> IpAddr {
    p.status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .expect("a running pod has an address")
        .parse()
        .unwrap()
}

/// One HTTP GET of `/` at `addr`: the status line.
fn get(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out.lines().next().unwrap_or_default().to_string())
}

/// Resolves the Service until every ready pod has been returned: the addresses it gave.
fn resolve_round(e: &Engine) -> HashSet<SocketAddr> {
    (0..3)
        .map(|_| e.resolve("default", "web", Some("http")).unwrap())
        .collect()
}

#[test]
fn a_killed_process_is_never_resolved_while_not_ready_and_three_ready_endpoints_return() {
    let e = engine();
    e.apply(MANIFEST).unwrap();
    eventually(60, "three ready endpoints", || ready_ips(&e).len() == 3);

    // Round-robin over three live servers, each answering HTTP on its own pod address.
    let round = resolve_round(&e);
    assert_eq!(round.len(), 3, "resolve takes turns: {round:?}");
    for addr in &round {
        assert_eq!(addr.port(), 8080);
        let line = get(*addr).unwrap_or_else(|err| panic!("GET {addr}: {err}"));
        assert!(line.contains("200"), "{addr}: {line}");
    }

    let pods = web_pods(&e);
    assert_eq!(pods.len(), 3);
    let victim = pods[0].metadata.name.clone();
    let victim_ip = ip(&pods[0]);
    let victim_pid = pod_pid(&pods[0]).expect("the victim runs");
    kill(victim_pid);
    eventually(30, "the victim's pod is not ready", || {
        !is_ready(&pod(&e, &victim))
    });

    // From here until it is ready again, the Service must not hand out the victim, even
    // while the Endpoints still list it (they trail the pod by one reconcile). Reading the
    // pod after the resolve is sound: the resolver returns an address only if its pod was
    // ready when it looked, and the victim only goes from not ready to ready from here on.
    let mut resolved = 0;
    let mut unavailable = 0;
    eventually(60, "the victim restarted and three ready endpoints", || {
        match e.resolve("default", "web", Some("http")) {
            Ok(addr) => {
                resolved += 1;
                if addr.ip() == victim_ip {
                    assert!(
                        is_ready(&pod(&e, &victim)),
                        "resolved to {addr}, the killed pod, while it was not ready"
                    );
                }
            }
            Err(Error::Unavailable { .. }) => unavailable += 1,
            Err(err) => panic!("resolve: {err}"),
        }
        is_ready(&pod(&e, &victim)) && ready_ips(&e).len() == 3
    });
    assert!(resolved > 0, "the two live pods kept serving");
    assert_eq!(unavailable, 0, "two pods stayed ready throughout");

    // Restarted in place: same pod, same address, a new process, restartCount 1.
    let after = pod(&e, &victim);
    assert_eq!(restarts(&after), 1);
    assert_eq!(ip(&after), victim_ip);
    assert_ne!(pod_pid(&after), Some(victim_pid));
    assert_eq!(web_pods(&e).len(), 3);
    let round = resolve_round(&e);
    assert_eq!(round.len(), 3, "{round:?}");
    for addr in round {
        let line = get(addr).unwrap_or_else(|err| panic!("GET {addr}: {err}"));
        assert!(line.contains("200"), "{addr}: {line}");
    }
}
