//! `steady run` with real processes: the status shows the pods running, a killed process is
//! restarted, SIGTERM (and the end of `--for`) shuts down gracefully with exit 0 and leaves
//! no process behind, a broken manifest starts nothing, and the appliance example of the
//! README runs, heals and stops cleanly.
//!
//! The bare pods carry `spec.nodeName` (the local node), so they start without waiting for
//! the scheduler. Every process of those tests carries an environment variable with a marker
//! unique to the test, inherited by its children, so what is left behind can be found in
//! /proc. The appliance's manifests are the example's own, unmarked: its processes are found
//! by process group instead (every container is the leader of its own group).
#![cfg(all(feature = "cli", target_os = "linux"))]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const MARKER_VAR: &str = "STEADY_CLI_TEST_MARKER";

fn marker(test: &str) -> String {
    format!("{}-{test}", std::process::id())
}

/// A bare Pod on the local node running `script` under `sh -c`, marked with `marker`.
fn pod(name: &str, script: &str, marker: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 5
  containers:
  - name: main
    command: [sh, -c, {script:?}]
    env: [{{name: {MARKER_VAR}, value: {marker:?}}}]
",
        node = steady::node::host::hostname()
    )
}

/// Live (not zombie) processes whose environment carries `marker`.
fn marked(marker: &str) -> Vec<i32> {
    let needle = format!("{MARKER_VAR}={marker}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|d| d.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let alive = stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'));
            alive && env.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .collect()
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// Polls `cond` until it holds or `secs` pass (real processes and threads converging).
fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `steady run` whose stdout lines arrive on a channel. Killed if the test fails.
struct Steady {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Steady {
    fn start(args: &[&str]) -> Steady {
        let mut child = Command::new(env!("CARGO_BIN_EXE_steady"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("steady starts");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Steady {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// The first line (already read, or read within `secs`) that satisfies `pred`.
    fn until<T>(&mut self, secs: u64, what: &str, mut pred: impl FnMut(&str) -> Option<T>) -> T {
        if let Some(v) = self.seen.iter().find_map(|l| pred(l)) {
            return v;
        }
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = pred(&line);
                    self.seen.push(line);
                    if let Some(v) = found {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "timed out waiting for {what}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the exit; returns its code and stderr.
    fn wait(&mut self, secs: u64) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                // The rest of stdout.
                while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(l);
                }
                return (status.code(), err);
            }
            assert!(Instant::now() < deadline, "steady run did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Steady {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The pid of pod `name`'s running container, from a `--output json` line.
fn running_pid(line: &str, name: &str) -> Option<(i32, i64)> {
    let ev: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
    let o = &ev["object"];
    if o["kind"] != "Pod" || o["metadata"]["name"] != name {
        return None;
    }
    let c = &o["status"]["containerStatuses"][0];
    c["state"]["running"].as_object()?;
    let pid = c["containerID"]
        .as_str()?
        .strip_prefix("process://")?
        .parse()
        .ok()?;
    Some((pid, c["restartCount"].as_i64().unwrap_or(0)))
}

/// `steady run --for FOR --api 127.0.0.1:0 --data-dir DATA FILE`, once the kubeconfig it
/// writes (returned) is there.
fn run_with_api(for_: &str, data: &Path, f: &Path) -> (Steady, PathBuf) {
    let s = Steady::start(&[
        "run",
        "--for",
        for_,
        "--api",
        "127.0.0.1:0",
        "--data-dir",
        &data.display().to_string(),
        &f.display().to_string(),
    ]);
    let kubeconfig = data.join("kubeconfig");
    eventually(20, "the kubeconfig is written", || kubeconfig.exists());
    (s, kubeconfig)
}

#[test]
fn run_for_shows_the_pods_running_then_exits_0_leaving_no_process() {
    let m = marker("for");
    let d = common::scratch("for");
    let f = d.join("pods.yaml");
    std::fs::write(
        &f,
        format!(
            "{}---\n{}",
            pod("alpha", "while :; do sleep 1; done", &m),
            pod("beta", "sleep 1000 & wait", &m)
        ),
    )
    .unwrap();
    let mut s = Steady::start(&["run", "--for", "2s", &f.display().to_string()]);
    let node = steady::node::host::hostname();
    for name in ["alpha", "beta"] {
        let want = format!("Pod default/{name}: Running ready 1/1 restarts 0 node {node}");
        s.until(20, &want, |l| l.contains(&want).then_some(()));
    }
    assert!(!marked(&m).is_empty(), "the pods' processes run");
    let (code, err) = s.wait(30);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        s.seen.iter().any(|l| l == "pod/alpha created"),
        "{:?}",
        s.seen
    );
    assert!(err.contains("stopping (--for elapsed)"), "{err}");
    assert_eq!(marked(&m), Vec::<i32>::new(), "no process is left behind");
    let _ = std::fs::remove_dir_all(d);
}

/// A manifest that names an image and no command runs the program `--images` maps it to.
#[test]
fn run_with_an_image_table_starts_commandless_containers() {
    let m = marker("images");
    let d = common::scratch("images");
    let images = d.join("images.yaml");
    std::fs::write(
        &images,
        "\"cache:7\": {command: [sh, -c], args: ['exec sleep 1000'], env: {%s: %s}}\n"
            .replacen("%s", MARKER_VAR, 1)
            .replacen("%s", &format!("{m:?}"), 1),
    )
    .unwrap();
    let f = d.join("pod.yaml");
    std::fs::write(
        &f,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: cache}}\n\
             spec: {{nodeName: {}, containers: [{{name: main, image: 'cache:7'}}]}}\n",
            steady::node::host::hostname()
        ),
    )
    .unwrap();
    let mut s = Steady::start(&[
        "run",
        "--for",
        "2s",
        "--images",
        &images.display().to_string(),
        &f.display().to_string(),
    ]);
    s.until(20, "the pod runs", |l| {
        l.contains("Pod default/cache: Running ready 1/1")
            .then_some(())
    });
    assert_eq!(marked(&m).len(), 1, "the image's program runs");
    let (code, err) = s.wait(30);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(marked(&m), Vec::<i32>::new(), "no process is left behind");
    let _ = std::fs::remove_dir_all(d);
}

/// A data dir outlives a SIGKILLed engine, its processes do not: they die with it, and what
/// they started (a background job, which the kernel does not kill with them) is killed by
/// the next `steady run` on the data dir, which starts the pod again as after a node reboot
/// (one more restart) and leaves a pod that had completed as it was.
#[test]
fn a_restart_on_the_data_dir_recovers_pods_as_after_a_node_reboot() {
    let m = marker("recover");
    let d = common::scratch("recover");
    let data = d.join("data").display().to_string();
    let f = d.join("pods.yaml");
    let done = d.join("done-count");
    let once = format!("echo x >> {}", done.display());
    let mut job = pod("once", &once, &m);
    job = job.replace("spec:\n", "spec:\n  restartPolicy: Never\n");
    std::fs::write(
        &f,
        format!(
            "{}---\n{job}",
            pod("alpha", "sleep 1000 & exec sleep 1000", &m)
        ),
    )
    .unwrap();
    let node = steady::node::host::hostname();
    let mut s = Steady::start(&["run", "--data-dir", &data, &f.display().to_string()]);
    s.until(20, "alpha runs", |l| {
        l.contains(&format!(
            "Pod default/alpha: Running ready 1/1 restarts 0 node {node}"
        ))
        .then_some(())
    });
    s.until(20, "once completes", |l| {
        l.contains("Pod default/once: Succeeded").then_some(())
    });
    eventually(20, "alpha's process and its background job run", || {
        marked(&m).len() == 2
    });
    let first = marked(&m);
    // The engine dies without stopping anything; its process dies with it, the process's
    // background job is left.
    s.child.kill().unwrap();
    let _ = s.child.wait();
    eventually(20, "alpha's process dies with its engine", || {
        marked(&m).len() == 1
    });
    let job_left = marked(&m);
    assert!(first.contains(&job_left[0]), "{first:?} {job_left:?}");

    let mut s = Steady::start(&[
        "run",
        "--for",
        "3s",
        "--data-dir",
        &data,
        &f.display().to_string(),
    ]);
    s.until(20, "alpha runs again, one restart more", |l| {
        l.contains(&format!(
            "Pod default/alpha: Running ready 1/1 restarts 1 node {node}"
        ))
        .then_some(())
    });
    eventually(
        20,
        "the new process and its job run, the old job is gone",
        || {
            let now = marked(&m);
            now.len() == 2 && now.iter().all(|p| !first.contains(p))
        },
    );
    let (code, err) = s.wait(30);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        std::fs::read_to_string(&done).unwrap(),
        "x\n",
        "the completed pod did not run again"
    );
    assert_eq!(marked(&m), Vec::<i32>::new());
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn secrets_never_show_in_the_output_and_nothing_of_the_pods_is_left_on_disk() {
    let d = common::scratch("secret");
    let data = d.join("data");
    let f = d.join("app.yaml");
    std::fs::write(
        &f,
        "apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {password: aHVudGVyMg==}
stringData: {token: plain-token-value}
---
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'test -s $STEADY_VOLUME_CREDS/password && echo mounted; sleep 600']
  volumes:
  - {name: creds, secret: {secretName: creds}}
",
    )
    .unwrap();
    let mut s = Steady::start(&[
        "run",
        "--for",
        "3s",
        "--output",
        "json",
        "--data-dir",
        &data.display().to_string(),
        &f.display().to_string(),
    ]);
    let (code, err) = s.wait(30);
    assert_eq!(code, Some(0), "{err}");
    let out = s.seen.join("\n");
    assert!(out.contains("\"kind\":\"Secret\""), "{out}");
    for value in [
        "aHVudGVyMg==",
        "hunter2",
        "plain-token-value",
        "cGxhaW4tdG9rZW4tdmFsdWU=",
    ] {
        assert!(!out.contains(value), "{value} printed: {out}");
        assert!(!err.contains(value), "{value} printed: {err}");
    }
    assert!(
        !data.join("pods").exists(),
        "the pods' volumes are removed at exit: {:?}",
        find(&data, "password")
    );
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn run_with_api_serves_kubectl_through_the_kubeconfig_it_writes() {
    let m = marker("api");
    let d = common::scratch("api");
    let data = d.join("data");
    let f = d.join("pods.yaml");
    std::fs::write(&f, pod("alpha", "while :; do sleep 1; done", &m)).unwrap();
    let (mut s, kubeconfig) = run_with_api("6s", &data, &f);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the kubeconfig holds the token");
    let names = Command::new("kubectl")
        .args(["get", "pods", "-o", "name"])
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", &d)
        .output()
        .expect("kubectl runs");
    assert!(
        String::from_utf8_lossy(&names.stdout).contains("pod/alpha"),
        "{}{}",
        String::from_utf8_lossy(&names.stdout),
        String::from_utf8_lossy(&names.stderr)
    );
    let (code, err) = s.wait(30);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("serving the Kubernetes API on https://127.0.0.1:")
            && err.contains(&format!("KUBECONFIG={}", kubeconfig.display())),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(d);
}

/// `steady NODE-COMMAND ... --kubeconfig K`: (exit code, stdout + stderr).
fn node_command(args: &[&str], kubeconfig: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_steady"))
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .expect("steady runs");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn cordon_uncordon_and_drain_act_on_a_running_engine_within_its_budgets() {
    let m = marker("drain");
    let d = common::scratch("drain");
    let data = d.join("data");
    let f = d.join("pods.yaml");
    let guarded = pod("alpha", "while :; do sleep 1; done", &m).replace(
        "metadata: {name: alpha}",
        "metadata: {name: alpha, labels: {app: alpha}}",
    );
    std::fs::write(
        &f,
        format!(
            "{guarded}---\n{}---\napiVersion: policy/v1\nkind: PodDisruptionBudget\n\
             metadata: {{name: alpha}}\nspec: {{minAvailable: 1, selector: {{matchLabels: {{app: alpha}}}}}}\n",
            pod("beta", "while :; do sleep 1; done", &m)
        ),
    )
    .unwrap();
    let (mut s, kubeconfig) = run_with_api("20s", &data, &f);
    eventually(20, "both processes run", || marked(&m).len() >= 2);
    let node = steady::node::host::hostname();

    let (code, out) = node_command(&["cordon", &node], &kubeconfig);
    assert_eq!(
        (code, out.trim()),
        (Some(0), format!("node/{node} cordoned").as_str())
    );
    let (code, out) = node_command(&["uncordon", &node], &kubeconfig);
    assert_eq!(
        (code, out.trim()),
        (Some(0), format!("node/{node} uncordoned").as_str())
    );

    // beta goes; alpha's budget keeps it until the timeout: exit 1, saying why.
    let (code, out) = node_command(&["drain", &node, "--timeout", "1s"], &kubeconfig);
    assert_eq!(code, Some(1), "{out}");
    for line in [
        format!("node/{node} cordoned"),
        "evicting pod default/beta".to_string(),
        "pod/beta evicted".to_string(),
        "Cannot evict pod as it would violate the pod's disruption budget.".to_string(),
        format!("unable to drain node {node:?}: 1 pod(s) left"),
    ] {
        assert!(out.contains(&line), "{line:?} not in:\n{out}");
    }
    let (code, out) = node_command(&["drain", "no-such-node"], &kubeconfig);
    assert_eq!(code, Some(1));
    assert!(out.contains("nodes \"no-such-node\" not found"), "{out}");
    let (code, _) = s.wait(40);
    assert_eq!(code, Some(0));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_killed_process_is_restarted_and_sigterm_stops_everything_with_exit_0() {
    let m = marker("kill");
    let d = common::scratch("kill");
    let f = d.join("pod.yaml");
    // The shell's children share its marker: the whole tree must go.
    std::fs::write(
        &f,
        pod("sleeper", "sleep 1000 & while :; do sleep 1; done", &m),
    )
    .unwrap();
    let mut s = Steady::start(&["run", "--output", "json", &f.display().to_string()]);
    let (first, restarts) = s.until(20, "sleeper running", |l| running_pid(l, "sleeper"));
    assert_eq!(restarts, 0);
    assert!(marked(&m).contains(&first));
    signal(first as u32, "KILL");
    let (second, restarts) = s.until(20, "sleeper restarted", |l| {
        running_pid(l, "sleeper").filter(|(p, _)| *p != first)
    });
    assert_eq!(restarts, 1);
    eventually(10, "the new process runs", || marked(&m).contains(&second));
    signal(s.child.id(), "TERM");
    let (code, err) = s.wait(30);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("stopping (signal)"), "{err}");
    assert_eq!(marked(&m), Vec::<i32>::new(), "no process is left behind");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_broken_manifest_starts_nothing_and_exits_1_naming_the_line() {
    let m = marker("broken");
    let d = common::scratch("broken");
    let good = d.join("a.yaml");
    std::fs::write(&good, pod("fine", "sleep 1000", &m)).unwrap();
    let bad = d.join("b.yaml");
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n  - name: main\n    command: [sleep, '1000']\n    ports: [{containerPort: 0}]\n",
    )
    .unwrap();
    let mut s = Steady::start(&["run", &d.display().to_string()]);
    let (code, err) = s.wait(20);
    assert_eq!(code, Some(1), "{err}");
    let bad = bad.display().to_string();
    assert!(
        err.lines().any(|l| l.starts_with(&format!(
            "{bad}:8: document 1: Pod/bad: spec.containers[0].ports[0].containerPort: "
        ))),
        "{err}"
    );
    assert!(err.contains("nothing was started"), "{err}");
    assert!(s.seen.is_empty(), "nothing applied: {:?}", s.seen);
    assert_eq!(marked(&m), Vec::<i32>::new());
    let _ = std::fs::remove_dir_all(d);
}

/// What `--output json` said last about a pod's first container.
#[derive(Clone, Debug, Default)]
struct Seen {
    pid: Option<i32>,
    restarts: i64,
    ready: bool,
    phase: String,
}

/// Folds one `--output json` line into `pods` (by name) and returns the Job's succeeded count
/// when the line is about Job `job`.
fn fold(line: &str, pods: &mut HashMap<String, Seen>, job: &str) -> Option<i64> {
    let ev: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
    let o = &ev["object"];
    let name = o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match o["kind"].as_str() {
        Some("Job") if name == job => return o["status"]["succeeded"].as_i64(),
        Some("Pod") => {}
        _ => return None,
    }
    if ev["type"] == "DELETED" {
        pods.remove(&name);
        return None;
    }
    let c = &o["status"]["containerStatuses"][0];
    let pid = c["state"]["running"]
        .as_object()
        .and(c["containerID"].as_str())
        .and_then(|id| id.strip_prefix("process://")?.parse().ok());
    pods.insert(
        name,
        Seen {
            pid,
            restarts: c["restartCount"].as_i64().unwrap_or(0),
            ready: c["ready"].as_bool().unwrap_or(false),
            phase: o["status"]["phase"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        },
    );
    None
}

/// Live (not zombie) processes whose process group is one of `groups`.
fn in_groups(groups: &HashSet<i32>) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|d| d.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // After the command's closing parenthesis: state, ppid, pgrp.
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                return false;
            };
            let f: Vec<&str> = rest.split(' ').collect();
            f.len() > 2 && f[0] != "Z" && f[2].parse().is_ok_and(|g: i32| groups.contains(&g))
        })
        .collect()
}

/// Files named `name` under `dir`, recursively.
fn find(dir: &std::path::Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(find(&p, name));
        } else if p.file_name().is_some_and(|n| n == name) {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_appliance_example_runs_heals_a_killed_process_and_sigterm_leaves_nothing() {
    let d = common::scratch("appliance");
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/appliance");
    let data = d.display().to_string();
    let mut s = Steady::start(&["run", "--output", "json", "--data-dir", &data, manifests]);
    let mut pods: HashMap<String, Seen> = HashMap::new();
    let mut succeeded = 0;
    // Every process ever seen, to look for leftovers at the end.
    let mut groups: HashSet<i32> = HashSet::new();
    let mut observe = |l: &str, pods: &mut HashMap<String, Seen>, groups: &mut HashSet<i32>| {
        if let Some(n) = fold(l, pods, "migrate") {
            succeeded = succeeded.max(n);
        }
        groups.extend(pods.values().filter_map(|p| p.pid));
        succeeded
    };
    // The web tier ready (the autoscaler may take it from 3 down to its minimum of 2 while
    // it idles), both journal members running, and the migration Job done.
    s.until(60, "the appliance up", |l| {
        let done = observe(l, &mut pods, &mut groups) >= 1;
        let web_ready = pods
            .iter()
            .filter(|(n, p)| n.starts_with("web-") && p.ready && p.pid.is_some())
            .count();
        let journal = ["journal-0", "journal-1"]
            .iter()
            .all(|n| pods.get(*n).is_some_and(|p| p.pid.is_some()));
        (done && web_ready >= 2 && journal).then_some(())
    });
    assert!(
        pods.get("journal-0").is_some_and(|p| p.phase == "Running"),
        "{pods:?}"
    );

    // Kill one web server: the kubelet restarts it in the same pod and it is ready again.
    let (victim, before) = pods
        .iter()
        .filter(|(n, p)| n.starts_with("web-") && p.ready)
        .map(|(n, p)| (n.clone(), p.pid.unwrap()))
        .next()
        .unwrap();
    signal(before as u32, "KILL");
    s.until(30, "the killed web server replaced", |l| {
        observe(l, &mut pods, &mut groups);
        pods.get(&victim)
            .filter(|p| p.ready && p.pid.is_some_and(|p| p != before) && p.restarts == 1)
            .map(|_| ())
    });

    // The journal members write into their claim directories under --data-dir.
    eventually(20, "journal lines in the claim directories", || {
        // Each member's lines in its own claim directory (data-journal-<n>).
        let logs = find(&d, "journal.log");
        logs.len() == 2
            && logs.iter().all(|f| {
                let dir = f.parent().and_then(|p| p.file_name()).unwrap_or_default();
                let member = dir
                    .to_string_lossy()
                    .trim_start_matches("data-")
                    .to_string();
                member.starts_with("journal-")
                    && std::fs::read_to_string(f)
                        .unwrap_or_default()
                        .contains(&member)
            })
    });

    let live = in_groups(&groups);
    assert!(!live.is_empty(), "the appliance's processes run");
    signal(s.child.id(), "TERM");
    let (code, err) = s.wait(60);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("stopping (signal)"), "{err}");
    assert_eq!(
        in_groups(&groups),
        Vec::<i32>::new(),
        "no process is left behind"
    );
    let _ = std::fs::remove_dir_all(d);
}
