//! Services are reachable at their virtual address: the in-process proxy accepts TCP on
//! `clusterIP:port` and forwards each connection to a ready endpoint (real processes, and
//! in-process workers listening on their `POD_IP`), taking turns, honouring `ClientIP`
//! affinity (its timeout on the manual clock), refusing at once when no endpoint is ready,
//! and following the Endpoints while pods are killed. UDP ports are refused with warnings.
#![cfg(target_os = "linux")]

mod common;

use common::eventually;
use common::processes::{kill, pod_pid};
use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use steady::api::{Endpoints, Event, Pod, Service};
use steady::clock::ManualClock;
use steady::node::WorkerContext;
use steady::store::ListParams;
use steady::Engine;

/// A Deployment `name` of `replicas` processes that answer every connection with their pod
/// name and close it; a Service `name` (port `port`, plus `service_extra` in its spec) in
/// front of them. The pods listen on `port` too: engines of tests running side by side hand
/// out the same pod addresses, so each test keeps to ports of its own.
fn namers(name: &str, replicas: u32, port: u16, service_extra: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: tcp, port: {port}}}]
  {service_extra}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        command: [python3, -c, "{NAMER}", "{port}"]
        ports: [{{containerPort: {port}}}]
"#
    )
}

/// Answers each connection with `$POD_NAME` on `$POD_IP:<first argument>`.
const NAMER: &str = "import os,socket,sys\\n\
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\\n\
s.bind((os.environ['POD_IP'], int(sys.argv[1]))); s.listen(64)\\n\
while True:\\n  c,_=s.accept(); c.sendall(os.environ['POD_NAME'].encode()); c.close()";

fn cluster_ip(e: &Engine, name: &str) -> String {
    e.api::<Service>()
        .namespace("default")
        .get(name)
        .unwrap()
        .spec
        .cluster_ip
        .clone()
        .expect("the Service has an address")
}

fn service_addr(e: &Engine, name: &str, port: u16) -> SocketAddr {
    format!("{}:{port}", cluster_ip(e, name)).parse().unwrap()
}

fn pods(e: &Engine, app: &str) -> Vec<Arc<Pod>> {
    e.api::<Pod>()
        .namespace("default")
        .list(&ListParams {
            selector: Some(format!("app={app}").parse().unwrap()),
            ..Default::default()
        })
        .unwrap()
        .items
}

fn pod_ip(p: &Pod) -> Option<String> {
    p.status.as_ref()?.pod_ip.clone()
}

/// What the server at `addr` says before it closes; an error if it refuses or resets.
fn read_from(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// [`read_from`] from the local address `source` (a client of its own, as a pod that binds
/// its socket to its `POD_IP` would be): through python3, since std cannot bind a client
/// socket.
fn read_from_source(source: &str, addr: SocketAddr) -> String {
    let script = format!(
        "import socket\ns=socket.socket(); s.bind(('{source}', 0)); s.connect(('{}', {}))\n\
         b=b''\nwhile True:\n  d=s.recv(100)\n  if not d: break\n  b+=d\nprint(b.decode())",
        addr.ip(),
        addr.port()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Waits until every pod of `app` answers on its own address (port `port`) and the
/// Service's Endpoints list `n` ready addresses.
fn wait_serving(e: &Engine, app: &str, n: usize, port: u16) {
    eventually(60, &format!("{n} pods of {app} serve"), || {
        let ps = pods(e, app);
        let ready = e
            .api::<Endpoints>()
            .namespace("default")
            .get_opt(app)
            .unwrap()
            .map_or(0, |ep| ep.subsets.iter().map(|s| s.addresses.len()).sum());
        ps.len() == n
            && ready == n
            && ps.iter().all(|p| {
                pod_ip(p).is_some_and(|ip| {
                    read_from(format!("{ip}:{port}").parse().unwrap())
                        .is_ok_and(|name| name == p.metadata.name)
                })
            })
    });
}

/// An engine on a manual clock that never moves unless a test moves it.
fn engine() -> (Engine, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::default());
    (common::local_engine(&clock), clock)
}

#[test]
fn connections_take_turns_over_the_ready_endpoints() {
    const PORT: u16 = 7101;
    let (e, _clock) = engine();
    e.apply(&namers("rr", 3, PORT, "")).unwrap();
    wait_serving(&e, "rr", 3, PORT);
    let addr = service_addr(&e, "rr", PORT);
    eventually(20, "the proxy serves the Service", || {
        read_from(addr).is_ok()
    });
    let names: Vec<String> = (0..6).map(|_| read_from(addr).unwrap()).collect();
    let first: HashSet<&String> = names[..3].iter().collect();
    assert_eq!(first.len(), 3, "three connections, three pods: {names:?}");
    assert_eq!(names[..3], names[3..], "the same turns again: {names:?}");
}

#[test]
fn client_ip_affinity_keeps_a_client_on_its_pod_until_the_timeout() {
    const PORT: u16 = 7102;
    let (e, clock) = engine();
    let affinity = "sessionAffinity: ClientIP\n  \
                    sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}";
    e.apply(&namers("sticky", 3, PORT, affinity)).unwrap();
    wait_serving(&e, "sticky", 3, PORT);
    let addr = service_addr(&e, "sticky", PORT);
    eventually(20, "the proxy serves the Service", || {
        read_from(addr).is_ok()
    });
    let a = read_from_source("127.3.0.1", addr);
    let b = read_from_source("127.3.0.2", addr);
    assert_ne!(a, b, "a new client takes the next turn");
    for _ in 0..4 {
        assert_eq!(read_from_source("127.3.0.1", addr), a);
        assert_eq!(read_from_source("127.3.0.2", addr), b);
        clock.advance(Duration::from_secs(30)); // within the window, renewed each time
    }
    // Idle past the timeout: the client takes a turn again, which is another pod.
    clock.advance(Duration::from_secs(61));
    assert_ne!(read_from_source("127.3.0.1", addr), a);
}

#[test]
fn a_service_without_a_ready_endpoint_refuses_at_once() {
    const PORT: u16 = 7103;
    let (e, _clock) = engine();
    e.apply(&namers("gone", 1, PORT, "")).unwrap();
    wait_serving(&e, "gone", 1, PORT);
    let addr = service_addr(&e, "gone", PORT);
    eventually(20, "the proxy serves the Service", || {
        read_from(addr).is_ok()
    });
    e.apply(&namers("gone", 0, PORT, "")).unwrap();
    // Refused once the Endpoints are empty; until then reset by the proxy, which finds the
    // pod not ready. Never hung: a hung connection would end in a timeout.
    eventually(30, "the Service refuses connections", || {
        match read_from(addr).map_err(|err| err.kind()) {
            Err(ErrorKind::ConnectionRefused) => true,
            Ok(_) | Err(ErrorKind::ConnectionReset) => false,
            Err(other) => panic!("{other:?}"),
        }
    });
    for _ in 0..5 {
        let err = read_from(addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    }
    // The address stays the Service's: scaled up again, it serves again.
    e.apply(&namers("gone", 1, PORT, "")).unwrap();
    wait_serving(&e, "gone", 1, PORT);
    eventually(20, "the proxy serves the Service again", || {
        read_from(addr).is_ok()
    });
}

#[test]
fn an_in_process_worker_listening_on_its_pod_ip_is_reached() {
    let (e, _clock) = engine();
    e.register_worker("greeter", |ctx: &WorkerContext| {
        let ip = ctx.env_var("POD_IP").unwrap_or("127.0.0.1").to_string();
        let l = TcpListener::bind((ip.as_str(), 7104)).map_err(|e| e.to_string())?;
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        ctx.ready();
        while !ctx.stopping() {
            match l.accept() {
                Ok((mut c, _)) => {
                    let _ = c.write_all(format!("hello from {}", ctx.pod_name()).as_bytes());
                }
                Err(_) => {
                    ctx.wait_stop(Duration::from_millis(5));
                }
            }
        }
        Ok(())
    });
    e.apply(
        r#"
apiVersion: v1
kind: Service
metadata: {name: greeter}
spec:
  selector: {app: greeter}
  ports: [{port: 7104}]
---
apiVersion: v1
kind: Pod
metadata: {name: greeter-0, labels: {app: greeter}}
spec:
  containers: [{name: main, image: greeter}]
"#,
    )
    .unwrap();
    let addr = service_addr(&e, "greeter", 7104);
    eventually(30, "the worker answers through the Service", || {
        read_from(addr).is_ok_and(|s| s == "hello from greeter-0")
    });
}

#[test]
fn udp_ports_are_refused_with_warnings() {
    let (e, _clock) = engine();
    let report = e
        .apply(
            r#"
apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  selector: {app: dns}
  ports: [{name: dns, port: 53, protocol: UDP}, {name: tcp, port: 7105, protocol: TCP}]
"#,
        )
        .unwrap();
    let warnings = format!("{:?}", report);
    assert!(
        warnings.contains("spec.ports[0].protocol"),
        "apply warns about the UDP port: {warnings}"
    );
    eventually(20, "a warning event about the UDP port", || {
        e.api::<Event>()
            .namespace("default")
            .list(&Default::default())
            .unwrap()
            .items
            .iter()
            .any(|ev| {
                ev.reason.as_deref() == Some("UnsupportedProtocol")
                    && ev.message.as_deref().is_some_and(|m| m.contains("53/UDP"))
            })
    });
}

/// The caller: a loop of HTTP GETs at `$WEB_SERVICE_HOST:$WEB_SERVICE_PORT`, one line each.
const CALLER: &str = r#"import os, socket, time
host = os.environ['WEB_SERVICE_HOST']
port = int(os.environ['WEB_SERVICE_PORT'])
while True:
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b'GET / HTTP/1.0\r\n\r\n')
        b = b''
        while True:
            d = s.recv(4096)
            if not d:
                break
            b += d
        s.close()
        print('ok' if b.startswith(b'HTTP/1.0 200') else 'bad', flush=True)
    except Exception as e:
        print('fail', type(e).__name__, flush=True)
    time.sleep(0.02)"#;

const CALLEE_AND_CALLER: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: http
        command: [python3, -m, http.server, "8081", --bind, "$(POD_IP)"]
        ports: [{name: http, containerPort: 8081}]
        readinessProbe:
          tcpSocket: {port: http}
          periodSeconds: 1
"#;

fn caller() -> String {
    let script: Vec<String> = CALLER.lines().map(|l| format!("          {l}")).collect();
    let script = script.join("\n");
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: caller}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: caller}}}}
  template:
    metadata: {{labels: {{app: caller}}}}
    spec:
      containers:
      - name: main
        command:
        - python3
        - -c
        - |
{script}
"#
    )
}

/// The caller's log so far.
fn caller_log(e: &Engine) -> String {
    let Some(p) = pods(e, "caller").into_iter().next() else {
        return String::new();
    };
    e.logs("default", &p.metadata.name, None, false)
        .unwrap_or_default()
}

/// (ok, failed) calls in the caller's log so far.
fn calls(e: &Engine) -> (usize, usize) {
    let log = caller_log(e);
    let ok = log.lines().filter(|l| *l == "ok").count();
    (ok, log.lines().count() - ok)
}

/// Waits until the caller logged `n` successful calls; on timeout, fails with its log.
fn wait_calls(e: &Engine, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while calls(e).0 < n {
        if std::time::Instant::now() > deadline {
            let log = caller_log(e);
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let pod = pods(e, "caller").into_iter().next();
            panic!(
                "the caller did not get {n} answers; last lines: {tail:?}; pod: {:?}",
                pod.map(|p| serde_json::to_string(&p.status).unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A Deployment calls another through `$WEB_SERVICE_HOST:$WEB_SERVICE_PORT` and keeps
/// getting answers while the callee's pods are killed one after the other. The whole
/// engine runs on the real clock (probes every second), as a host runs it.
#[test]
fn a_deployment_calls_another_through_the_service_while_its_pods_are_killed() {
    let e = Engine::builder()
        .local_node(false)
        .node(steady::node::NodeConfig::local_named("e2e"))
        .build()
        .unwrap();
    e.apply(CALLEE_AND_CALLER).unwrap();
    let all_ready = || {
        eventually(60, "three ready web endpoints", || {
            e.api::<Endpoints>()
                .namespace("default")
                .get_opt("web")
                .unwrap()
                .is_some_and(|ep| ep.subsets.iter().map(|s| s.addresses.len()).sum::<usize>() == 3)
        })
    };
    all_ready();
    e.apply(&caller()).unwrap();
    wait_calls(&e, 20);
    let (ok_before, failed_before) = calls(&e);
    assert_eq!(failed_before, 0, "no call failed with every pod up");

    for victim in 0..3 {
        // One pod down at a time: the killed one is restarted and ready again first.
        all_ready();
        let p = pods(&e, "web")
            .into_iter()
            .filter(|p| pod_pid(p).is_some())
            .nth(victim % 3)
            .expect("a running web pod");
        let before = calls(&e).0;
        kill(pod_pid(&p).unwrap());
        wait_calls(&e, before + 20);
    }
    let (ok, failed) = calls(&e);
    assert!(ok >= ok_before + 60, "{ok} answers");
    // A call in flight on the killed process may fail; the next ones go elsewhere.
    assert!(failed <= 3, "{failed} failed calls of {}", ok + failed);
}

#[test]
fn listeners_go_with_their_port_and_their_service() {
    const PORT: u16 = 7106;
    let (e, _clock) = engine();
    e.apply(&namers("twoports", 1, PORT, "")).unwrap();
    wait_serving(&e, "twoports", 1, PORT);
    let api = e.api::<Service>().namespace("default");
    // A second port, to the same pods.
    let mut svc = (*api.get("twoports").unwrap()).clone();
    let mut second = svc.spec.ports[0].clone();
    second.name = Some("other".into());
    second.port = i32::from(PORT) + 100;
    second.target_port = Some(steady::api::IntOrString::Int(PORT.into()));
    svc.spec.ports.push(second);
    let svc = api.update(svc).unwrap();
    let (first, other) = (
        service_addr(&e, "twoports", PORT),
        service_addr(&e, "twoports", PORT + 100),
    );
    eventually(20, "both ports serve", || {
        read_from(first).is_ok() && read_from(other).is_ok()
    });
    // The second port goes: its listener goes, the first stays.
    let mut svc = (*svc).clone();
    svc.spec.ports.truncate(1);
    api.update(svc).unwrap();
    eventually(20, "the removed port refuses", || {
        read_from(other).is_err_and(|err| err.kind() == ErrorKind::ConnectionRefused)
    });
    assert!(read_from(first).is_ok());
    // The Service goes: so does its last listener.
    api.delete("twoports", &Default::default()).unwrap();
    eventually(20, "the deleted Service refuses", || {
        read_from(first).is_err_and(|err| err.kind() == ErrorKind::ConnectionRefused)
    });
}

#[test]
fn a_headless_service_resolves_to_each_ready_pod_in_turn() {
    const PORT: u16 = 7107;
    let (e, _clock) = engine();
    e.apply(&namers("headless", 2, PORT, "clusterIP: None"))
        .unwrap();
    wait_serving(&e, "headless", 2, PORT);
    let svc = e
        .api::<Service>()
        .namespace("default")
        .get("headless")
        .unwrap();
    assert_eq!(svc.spec.cluster_ip.as_deref(), Some("None"));
    let picks: Vec<SocketAddr> = (0..4)
        .map(|_| e.resolve("default", "headless", None).unwrap())
        .collect();
    let pod_addrs: HashSet<SocketAddr> = pods(&e, "headless")
        .iter()
        .map(|p| format!("{}:{PORT}", pod_ip(p).unwrap()).parse().unwrap())
        .collect();
    assert_eq!(
        picks[..2].iter().collect::<HashSet<_>>().len(),
        2,
        "{picks:?}"
    );
    assert_eq!(picks[..2], picks[2..], "{picks:?}");
    assert!(picks.iter().all(|a| pod_addrs.contains(a)), "{picks:?}");
}
