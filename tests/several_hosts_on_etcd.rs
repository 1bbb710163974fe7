//! Several hosts on one etcd, as separate processes: a three-member etcd cluster on loopback
//! ports and three `steady run --etcd ... --node host-N` engines, each with its own node,
//! sharing a Deployment of six process pods. The test SIGKILLs the leading engine (another
//! takes the leader election's Lease within its duration; the dead engine's pods are
//! replaced on the other nodes), stops one etcd member (the engines go on: the Lease is
//! still renewed), restarts the killed engine (it takes its node back and runs pods again),
//! and leaves no process behind. A StatefulSet of three members never runs an ordinal
//! twice: the dead engine's member is evicted but stays terminating until its engine is
//! back and confirms its end, then runs again. Everything is read back from etcd with
//! etcdctl, as an operator would.
#![cfg(all(feature = "cli", feature = "etcd", target_os = "linux"))]

mod common;

use common::etcd::Cluster;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const MARKER_VAR: &str = "STEADY_SEVERAL_HOSTS_MARKER";

/// Kills its children when dropped (also when an assertion fails).
struct Procs(Vec<Option<Child>>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What the test reads back from etcd, as an operator would with etcdctl.
impl Cluster {
    /// Every object of `kind` (namespaced ones in `default`), by name.
    fn objects(&self, kind: &str) -> BTreeMap<String, Value> {
        let prefix = format!("/steady/{kind}/");
        let Some(out) = self.ctl(&["get", &prefix, "--prefix", "-w", "json"]) else {
            return BTreeMap::new();
        };
        let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        let mut objects = BTreeMap::new();
        for kv in v["kvs"].as_array().into_iter().flatten() {
            let decode = |f: &str| {
                let s = kv[f].as_str().unwrap_or_default();
                String::from_utf8(base64(s)).unwrap()
            };
            let key = decode("key");
            let o: Value = serde_json::from_str(&decode("value")).unwrap();
            objects.insert(key.rsplit('/').next().unwrap().to_string(), o);
        }
        objects
    }

    /// The leader election Lease's holder and renew time.
    fn leader(&self) -> Option<(String, String)> {
        let l = self.objects("Lease");
        let lease = l.get("steady-controllers")?;
        Some((
            lease["spec"]["holderIdentity"].as_str()?.to_string(),
            lease["spec"]["renewTime"].as_str()?.to_string(),
        ))
    }

    /// Running pods of the Deployment (label `app=fleet`) by node.
    fn running(&self) -> BTreeMap<String, usize> {
        let mut by_node = BTreeMap::new();
        for (node, _) in self.running_of("fleet") {
            *by_node.entry(node).or_default() += 1;
        }
        by_node
    }

    /// `(node, pod)` of the running pods labelled `app=<app>`, not terminating.
    fn running_of(&self, app: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, p) in self.objects("Pod") {
            if p["metadata"]["labels"]["app"] == app
                && p["status"]["phase"] == "Running"
                && p["metadata"]["deletionTimestamp"].is_null()
            {
                let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
                out.push((node, name));
            }
        }
        out
    }
}

/// Standard base64 (what etcdctl's JSON output holds keys and values in).
fn base64(s: &str) -> Vec<u8> {
    let table = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').map(table).collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= (*b as u32) << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    wait_or_explain(secs, what, &mut cond, &|| String::new());
}

/// Waits for `cond`; on timeout, fails with `explain()` (what the cluster holds, the
/// engines' logs).
fn wait_or_explain(
    secs: u64,
    what: &str,
    cond: &mut dyn FnMut() -> bool,
    explain: &dyn Fn() -> String,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            explain()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What a failed wait shows: running pods by node, the leader, the tail of each log.
fn explain(cluster: &Cluster, dir: &Path, nodes: &[&str]) -> String {
    let mut out = format!(
        "running pods by node: {:?}\nleader: {:?}\n",
        cluster.running(),
        cluster.leader()
    );
    for n in nodes {
        let log = std::fs::read_to_string(dir.join(format!("{n}.log"))).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        out.push_str(&format!("--- {n}.log (last lines)\n"));
        for l in tail.into_iter().rev() {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

fn engine(urls: &[String], node: &str, dir: &Path, manifest: &Path, marker: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_steady"))
        .arg("run")
        .arg(manifest)
        .args(["--etcd", &urls.join(",")])
        .args(["--node", node])
        .arg("--data-dir")
        .arg(dir.join(node))
        .args(["-o", "lines"])
        .env(MARKER_VAR, marker)
        .env("STEADY_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{node}.log"))).unwrap())
        .spawn()
        .expect("steady runs")
}

/// The value of `var` in process `pid`'s environment.
fn env_of(pid: u32, var: &str) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{var}=");
    env.split(|b| *b == 0)
        .find_map(|v| v.strip_prefix(prefix.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Processes whose environment carries `marker` (what the engines started, and they).
fn marked(marker: &str) -> Vec<u32> {
    let needle = format!("{MARKER_VAR}={marker}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
        })
        .collect()
}

#[test]
fn three_engines_on_a_three_member_etcd_heal_when_a_host_dies() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("several-hosts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut cluster = Cluster::start("hosts");
    let marker = format!("{}", std::process::id());
    let manifest = dir.join("fleet.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata: {{name: fleet}}
spec:
  replicas: 6
  selector: {{matchLabels: {{app: fleet}}}}
  template:
    metadata: {{labels: {{app: fleet}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: match
        command: [sleep, '3600']
        env: [{{name: {MARKER_VAR}, value: '{marker}'}}]
        resources: {{requests: {{cpu: 10m}}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db}}
spec:
  serviceName: db
  replicas: 3
  podManagementPolicy: Parallel
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      terminationGracePeriodSeconds: 1
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {{matchLabels: {{app: db}}}}
            topologyKey: kubernetes.io/hostname
      containers:
      - name: member
        command: [sleep, '3600']
        env:
        - {{name: {MARKER_VAR}, value: '{marker}'}}
        - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
"
        ),
    )
    .unwrap();
    let nodes = ["host-0", "host-1", "host-2"];
    let mut engines = Procs(
        nodes
            .iter()
            .map(|n| Some(engine(&cluster.urls, n, &dir, &manifest, &marker)))
            .collect(),
    );
    // Throughout, no StatefulSet ordinal runs twice: sampled from the processes themselves.
    let twice = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (twice, sampling, marker) = (twice.clone(), sampling.clone(), marker.clone());
        std::thread::spawn(move || {
            while sampling.load(std::sync::atomic::Ordering::Acquire) {
                let mut seen = BTreeMap::<String, usize>::new();
                for pid in marked(&marker) {
                    if let Some(pod) = env_of(pid, "POD_NAME") {
                        *seen.entry(pod).or_default() += 1;
                    }
                }
                for (pod, n) in seen {
                    if n > 1 {
                        twice
                            .lock()
                            .unwrap()
                            .push(format!("{pod} ran {n} times at once"));
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let why = || explain(&cluster, &dir, &nodes);
    wait_or_explain(
        120,
        "six pods and three StatefulSet members running",
        &mut || {
            cluster.running().values().sum::<usize>() == 6 && cluster.running_of("db").len() == 3
        },
        &why,
    );
    let (holder, _) = cluster.leader().expect("an engine leads");
    // The identity is `<host>_<pid>_<random>`: the leader is the engine with that pid.
    let pid: u32 = holder.split('_').nth(1).unwrap().parse().unwrap();
    let dead = engines
        .0
        .iter()
        .position(|c| c.as_ref().is_some_and(|c| c.id() == pid))
        .expect("the leader is one of the engines");

    // SIGKILL the leader: another engine leads within the lease duration (15 s, plus the
    // 2 s retry period); its node's pods are replaced on the other two nodes, but not its
    // StatefulSet members: their end awaits the engine of their node.
    let members_there: Vec<String> = cluster
        .running_of("db")
        .into_iter()
        .filter(|(n, _)| n == nodes[dead])
        .map(|(_, p)| p)
        .collect();
    let mut leader = engines.0[dead].take().unwrap();
    let killed = Instant::now();
    leader.kill().unwrap();
    leader.wait().unwrap();
    wait_for(30, "another engine to lead", || {
        cluster.leader().is_some_and(|(h, _)| h != holder)
    });
    assert!(
        killed.elapsed() <= Duration::from_secs(20),
        "took {:?}",
        killed.elapsed()
    );
    wait_or_explain(
        180,
        "six pods running on the two live nodes",
        &mut || {
            let r = cluster.running();
            r.values().sum::<usize>() == 6 && !r.contains_key(nodes[dead])
        },
        &|| explain(&cluster, &dir, &nodes),
    );
    // One member per host (required anti-affinity): the dead host had one. It is evicted
    // (once the node is unreachable and its toleration ran out) but stays, terminating, on
    // its node: were it deleted at once, its replacement could run while the cut-off host
    // still ran it (here the replacement would wait, unschedulable, and this wait time out).
    assert_eq!(members_there.len(), 1, "{members_there:?}");
    let member = &members_there[0];
    let uid = cluster.objects("Pod")[member]["metadata"]["uid"].clone();
    wait_or_explain(
        180,
        "the dead host's member evicted, terminating on its node",
        &mut || {
            cluster.objects("Pod").get(member).is_some_and(|p| {
                p["metadata"]["uid"] == uid
                    && p["spec"]["nodeName"] == nodes[dead]
                    && !p["metadata"]["deletionTimestamp"].is_null()
            })
        },
        &|| explain(&cluster, &dir, &nodes),
    );
    assert_eq!(cluster.running_of("db").len(), 2);

    // Stop one etcd member: the engines go on (the Lease is still renewed).
    cluster.stop(2);
    let (_, renewed) = cluster.leader().unwrap();
    wait_for(
        30,
        "the leader to renew its Lease with a member down",
        || cluster.leader().is_some_and(|(_, r)| r != renewed),
    );

    // Restart the killed engine: it takes its node back and runs pods there again (scaled
    // up through etcd itself, as any other writer of the shared state).
    let urls: Vec<String> = cluster.urls[..2].to_vec();
    engines.0[dead] = Some(engine(&urls, nodes[dead], &dir, &manifest, &marker));
    wait_for(60, "the restarted engine's node to be Ready", || {
        cluster.objects("Node").get(nodes[dead]).is_some_and(|n| {
            n["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
    });
    let fleet = &cluster.objects("Deployment")["fleet"];
    let mut scaled = fleet.clone();
    scaled["spec"]["replicas"] = 9.into();
    let generation = fleet["metadata"]["generation"].as_i64().unwrap_or(1);
    scaled["metadata"]["generation"] = (generation + 1).into();
    cluster
        .ctl(&[
            "put",
            "/steady/Deployment/default/fleet",
            &scaled.to_string(),
        ])
        .expect("a put through etcdctl");
    wait_for(90, "nine pods, some on the restarted node", || {
        let r = cluster.running();
        r.values().sum::<usize>() == 9 && r.get(nodes[dead]).is_some_and(|n| *n > 0)
    });
    // The restarted engine confirmed the end of its node's members: they run again.
    wait_for(60, "the three StatefulSet members running again", || {
        cluster.running_of("db").len() == 3
    });

    drop(engines);
    wait_for(30, "no process left behind", || marked(&marker).is_empty());
    sampling.store(false, std::sync::atomic::Ordering::Release);
    sampler.join().unwrap();
    let twice = twice.lock().unwrap();
    assert!(twice.is_empty(), "{twice:?}");
}
