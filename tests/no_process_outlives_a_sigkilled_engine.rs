//! `kill -9` of `steady run` leaves none of the processes it started: each container's
//! process dies with the engine (Linux: `PR_SET_PDEATHSIG`, set for every child forked from
//! the one spawner thread, see `steady::node::process`), including one the kubelet restarted
//! after a crash and the pods the scheduler placed. What those processes started themselves
//! is killed when an engine starts again on the same data dir (`cli_run.rs`,
//! `a_restart_on_the_data_dir_recovers_pods_as_after_a_node_reboot`).
//!
//! The pods of the first test carry an environment variable with a marker unique to the
//! test, so that their processes are found in /proc; the appliance example's are found as
//! the children of the `steady` process.
#![cfg(all(feature = "cli", target_os = "linux"))]

mod common;

use common::eventually;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MARKER_VAR: &str = "STEADY_SIGKILL_TEST_MARKER";

/// A process: pid, and its start time (`/proc/<pid>/stat` field 22), so that a recycled pid
/// is not taken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Proc {
    pid: i32,
    started: u64,
}

/// The fields of `/proc/<pid>/stat` after the command name (state is the first), if the
/// process exists.
fn stat(pid: i32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

impl Proc {
    fn of(pid: i32) -> Option<Proc> {
        let f = stat(pid)?;
        Some(Proc {
            pid,
            started: f.get(19)?.parse().ok()?,
        })
    }

    /// True while this very process runs (it is not a zombie, its pid not recycled).
    fn alive(&self) -> bool {
        stat(self.pid).is_some_and(|f| {
            f[0] != "Z" && f.get(19).and_then(|s| s.parse().ok()) == Some(self.started)
        })
    }

    /// Its command line, for messages.
    fn cmdline(&self) -> String {
        std::fs::read(format!("/proc/{}/cmdline", self.pid))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default()
    }
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|d| d.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

/// Live processes whose environment carries `marker`.
fn marked(marker: &str) -> Vec<Proc> {
    let needle = format!("{MARKER_VAR}={marker}");
    all_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|e| e == needle.as_bytes()))
        })
        .filter_map(Proc::of)
        .filter(Proc::alive)
        .collect()
}

/// Live children of process `parent`.
fn children(parent: u32) -> Vec<Proc> {
    all_pids()
        .into_iter()
        .filter(|pid| stat(*pid).is_some_and(|f| f.get(1) == Some(&parent.to_string())))
        .filter_map(Proc::of)
        .filter(Proc::alive)
        .collect()
}

/// A `steady run` whose output goes to files in `dir` (read in failure messages). Killed
/// if the test fails.
struct Steady {
    child: Child,
    dir: PathBuf,
}

impl Steady {
    fn start(dir: &Path, args: &[&str]) -> Steady {
        let out = std::fs::File::create(dir.join("stdout")).unwrap();
        let err = std::fs::File::create(dir.join("stderr")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_steady"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("steady starts");
        Steady {
            child,
            dir: dir.to_path_buf(),
        }
    }

    /// What it printed so far.
    fn output(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!("stdout:\n{}\nstderr:\n{}", read("stdout"), read("stderr"))
    }

    /// SIGKILL, and reaped.
    fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
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

/// Waits until none of `procs` runs; fails naming those that still do.
fn all_gone(procs: &[Proc], secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left: Vec<(i32, String)> = procs
            .iter()
            .filter(|p| p.alive())
            .map(|p| (p.pid, p.cmdline()))
            .collect();
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            for p in procs.iter().filter(|p| p.alive()) {
                // SAFETY: kill takes no pointers; this test's leftover, alive (its start
                // time checked, so not a recycled pid) just now.
                unsafe { libc::kill(p.pid, libc::SIGKILL) };
            }
            panic!("processes outlived their SIGKILLed engine: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A bare Pod on the local node running `command`, marked with `marker`.
fn pod(name: &str, command: &str, marker: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  containers:
  - name: main
    command: {command}
    env: [{{name: {MARKER_VAR}, value: {marker:?}}}]
",
        node = steady::node::host::hostname()
    )
}

#[test]
fn every_process_of_a_sigkilled_engine_dies_with_it() {
    let m = format!("{}-pods", std::process::id());
    let d = common::scratch("pods");
    let f = d.join("pods.yaml");
    let deployment = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: sleepers}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: sleepers}}}}
  template:
    metadata: {{labels: {{app: sleepers}}}}
    spec:
      containers:
      - name: main
        command: [sleep, '1000']
        env: [{{name: {MARKER_VAR}, value: {m:?}}}]
"
    );
    std::fs::write(
        &f,
        [
            pod("a", "[sleep, '1000']", &m),
            pod("b", "[sleep, '1001']", &m),
            pod("c", "[sh, -c, 'exec sleep 1002']", &m),
            deployment,
        ]
        .join("---\n"),
    )
    .unwrap();
    let mut s = Steady::start(&d, &["run", "--output", "lines", &f.display().to_string()]);
    eventually(60, "the five processes run", || marked(&m).len() == 5);
    // One crashes and is started again, later, from whichever thread the kubelet is on.
    let crashed = marked(&m)[0];
    // SAFETY: kill takes no pointers; `crashed` is a process of this test's engine.
    unsafe { libc::kill(crashed.pid, libc::SIGKILL) };
    eventually(60, "the crashed process restarted", || {
        let now = marked(&m);
        now.len() == 5 && !now.contains(&crashed)
    });
    let before = marked(&m);
    assert_eq!(before.len(), 5, "{}", s.output());

    s.kill_9();
    all_gone(&before, 20);
    assert_eq!(marked(&m), Vec::<Proc>::new(), "{}", s.output());
    let _ = std::fs::remove_dir_all(d);
}

/// The report, as a new user tried it: `kill -9` of `steady run examples/appliance`
/// left every process it started running (5 of 5).
#[test]
fn kill_9_of_the_appliance_example_leaves_none_of_its_processes() {
    let d = common::scratch("appliance");
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/appliance");
    let data = d.join("data").display().to_string();
    let mut s = Steady::start(
        &d,
        &["run", "--output", "lines", "--data-dir", &data, manifests],
    );
    let engine = s.child.id();
    // The web servers (the autoscaler may take them from 3 to 2 while they idle) and both
    // journal writers.
    let count = |what: &str| {
        children(engine)
            .iter()
            .filter(|p| p.cmdline().contains(what))
            .count()
    };
    eventually(60, "the appliance's processes run", || {
        count("http.server") >= 2 && count("journal.log") == 2
    });
    let before = children(engine);
    assert!(before.len() >= 4, "{before:?}\n{}", s.output());

    s.kill_9();
    all_gone(&before, 20);
    let _ = std::fs::remove_dir_all(d);
}
