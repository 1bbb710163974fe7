//! The process runtime with real processes (`sh -c ...`): output, exit statuses, signals to
//! the whole process group, environment, start errors, reaping and shutdown.
#![cfg(unix)]

mod common;

use common::eventually;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use steady::api::Container;
use steady::node::{
    ContainerSpec, ExitStatus, LogBuffer, ProcessRuntime, RunningContainer, Runtime, StartError,
};

/// An exit report, with the log as it was when the report was made.
struct Exit {
    status: ExitStatus,
    log_at_exit: String,
}

struct Started {
    container: Box<dyn RunningContainer>,
    exits: crossbeam_channel::Receiver<Exit>,
    calls: Arc<AtomicUsize>,
    log: Arc<LogBuffer>,
}

impl Started {
    fn pid(&self) -> u32 {
        self.container.pid().expect("a process has a pid")
    }

    fn wait_exit(&self) -> Exit {
        self.exits
            .recv_timeout(Duration::from_secs(20))
            .expect("the exit is reported")
    }

    fn wait_log(&self, what: &str) {
        eventually(20, what, || self.log.text().contains(what));
    }
}

struct Launch<'a> {
    command: &'a [&'a str],
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
    working_dir: Option<PathBuf>,
    log_limit: usize,
}

impl Default for Launch<'_> {
    fn default() -> Self {
        Launch {
            command: &[],
            args: &[],
            env: &[],
            working_dir: None,
            log_limit: 1 << 20,
        }
    }
}

fn container(command: &[&str], args: &[&str]) -> Container {
    Container {
        name: "main".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        args: args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn try_start(rt: &ProcessRuntime, l: Launch<'_>) -> Result<Started, StartError> {
    let log = Arc::new(LogBuffer::new(l.log_limit));
    let (tx, exits) = crossbeam_channel::unbounded();
    let calls = Arc::new(AtomicUsize::new(0));
    let (c, lg) = (calls.clone(), log.clone());
    let spec = ContainerSpec {
        namespace: "default".into(),
        pod_name: "p".into(),
        pod_uid: "uid-1".into(),
        node_name: "node-1".into(),
        container: container(l.command, l.args),
        env: l
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        working_dir: l.working_dir,
        mounts: Vec::new(),
        log: log.clone(),
        on_exit: Arc::new(move |status| {
            c.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(Exit {
                status,
                log_at_exit: lg.text(),
            });
        }),
        on_change: Arc::new(|| {}),
    };
    let container = rt.start(spec)?;
    Ok(Started {
        container,
        exits,
        calls,
        log,
    })
}

fn start(rt: &ProcessRuntime, l: Launch<'_>) -> Started {
    try_start(rt, l).expect("the process starts")
}

fn sh(rt: &ProcessRuntime, script: &str) -> Started {
    start(
        rt,
        Launch {
            command: &["sh", "-c", script],
            ..Default::default()
        },
    )
}

/// True once `pid` no longer runs: gone, or a zombie (killed and waiting for its new parent,
/// init, to reap it: it is no longer ours and no longer runs).
fn is_dead(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next())
                .is_some_and(|state| state == "Z" || state == "X"),
        }
    } else {
        // SAFETY: kill with signal 0 only checks that the process exists.
        unsafe { libc::kill(pid as libc::pid_t, 0) != 0 }
    }
}

/// The first line of `text` that is a number: a pid a script printed.
fn printed_pid(text: &str) -> u32 {
    text.lines()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {text:?}"))
}

/// A fresh directory under the system temp directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("steady-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

#[test]
fn handles_only_containers_with_a_command() {
    let rt = ProcessRuntime::new();
    assert_eq!(rt.name(), "process");
    assert!(rt.handles(&container(&["sleep"], &["1"])));
    assert!(!rt.handles(&container(&[], &["1"])));
}

#[test]
fn stdout_and_stderr_are_in_the_log_when_the_exit_is_reported() {
    let rt = ProcessRuntime::new();
    let p = sh(&rt, "echo to-stdout; echo to-stderr >&2; echo again");
    let exit = p.wait_exit();
    assert_eq!(exit.log_at_exit, "to-stdout\nto-stderr\nagain\n");
    assert_eq!(exit.status, ExitStatus::code(0));
    assert_eq!(exit.status.reason, "Completed");
}

#[test]
fn the_log_keeps_only_the_newest_output_within_its_limit() {
    let rt = ProcessRuntime::new();
    let p = start(
        &rt,
        Launch {
            command: &["sh", "-c"],
            args: &["i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done"],
            log_limit: 1024,
            ..Default::default()
        },
    );
    let exit = p.wait_exit();
    assert!(exit.status.success());
    assert!(exit.log_at_exit.len() <= 1024, "{}", exit.log_at_exit.len());
    assert!(exit.log_at_exit.ends_with("line 2999\n"));
    assert!(p.log.dropped() > 0);
}

#[test]
fn exit_codes_are_reported() {
    let rt = ProcessRuntime::new();
    let p = sh(&rt, "exit 3");
    let exit = p.wait_exit();
    assert_eq!(exit.status.exit_code, 3);
    assert_eq!(exit.status.reason, "Error");
    assert_eq!(exit.status.signal, None);
    assert_eq!(p.container.exit_status(), Some(exit.status));
}

#[test]
fn death_by_a_signal_is_reported_as_128_plus_the_signal() {
    let rt = ProcessRuntime::new();
    // `$$` is an escaped `$` in a container's command (Kubernetes' `$(VAR)` expansion), so
    // the shell's own pid is `$$$$` here.
    let p = sh(&rt, "kill -USR1 $$$$; sleep 1000");
    let exit = p.wait_exit();
    assert_eq!(exit.status, ExitStatus::signaled(libc::SIGUSR1));
    assert_eq!(exit.status.exit_code, 128 + libc::SIGUSR1);
}

#[test]
fn container_id_names_the_pid() {
    let rt = ProcessRuntime::new();
    let p = sh(&rt, "exit 0");
    assert_eq!(p.container.id(), format!("process://{}", p.pid()));
    p.wait_exit();
}

#[test]
fn terminate_stops_the_whole_group_with_sigterm() {
    let rt = ProcessRuntime::new();
    let p = sh(&rt, "sleep 1000 & echo $!; wait");
    eventually(20, "the grandchild's pid is printed", || {
        p.log.text().ends_with('\n')
    });
    let grandchild = printed_pid(&p.log.text());
    assert!(!is_dead(grandchild));
    p.container.terminate();
    let exit = p.wait_exit();
    assert_eq!(exit.status, ExitStatus::signaled(libc::SIGTERM));
    assert_eq!(exit.status.exit_code, 143);
    eventually(20, "the grandchild is gone", || is_dead(grandchild));
}

#[test]
fn a_process_that_handles_term_keeps_running_until_killed() {
    let rt = ProcessRuntime::new();
    let p = sh(
        &rt,
        "trap 'echo got-term' TERM; echo ready; while :; do sleep 0.01; done",
    );
    p.wait_log("ready");
    p.container.terminate();
    p.wait_log("got-term");
    assert_eq!(
        p.container.exit_status(),
        None,
        "still running after SIGTERM"
    );
    p.container.kill();
    let exit = p.wait_exit();
    assert_eq!(exit.status, ExitStatus::signaled(libc::SIGKILL));
    assert_eq!(exit.status.exit_code, 137);
}

#[test]
fn a_process_that_ignores_term_is_stopped_by_kill() {
    let rt = ProcessRuntime::new();
    let p = sh(
        &rt,
        "trap '' TERM; i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.01; done",
    );
    p.wait_log("tick 1\n");
    p.container.terminate();
    let ticks = |log: &LogBuffer| log.text().lines().count();
    let after_term = ticks(&p.log);
    eventually(20, "ticks go on after SIGTERM", || {
        ticks(&p.log) >= after_term + 5
    });
    assert_eq!(p.container.exit_status(), None);
    p.container.kill();
    assert_eq!(p.wait_exit().status.exit_code, 137);
}

#[test]
fn the_group_dies_when_its_leader_exits() {
    let rt = ProcessRuntime::new();
    let p = sh(&rt, "sleep 1000 & echo $!");
    let exit = p.wait_exit();
    assert!(exit.status.success());
    let grandchild = printed_pid(&exit.log_at_exit);
    eventually(20, "the backgrounded grandchild is gone", || {
        is_dead(grandchild)
    });
}

#[test]
fn kill_9_of_the_leader_alone_kills_its_group() {
    let rt = ProcessRuntime::new();
    let p = sh(&rt, "sleep 1000 & echo $!; wait");
    eventually(20, "the grandchild's pid is printed", || {
        p.log.text().ends_with('\n')
    });
    let grandchild = printed_pid(&p.log.text());
    // As `kill -9 <pid>` from a shell would: the leader only, not the group.
    // SAFETY: kill takes no pointers; the pid is our unreaped child.
    assert_eq!(
        unsafe { libc::kill(p.pid() as libc::pid_t, libc::SIGKILL) },
        0
    );
    let exit = p.wait_exit();
    assert_eq!(exit.status, ExitStatus::signaled(libc::SIGKILL));
    eventually(20, "the grandchild is gone", || is_dead(grandchild));
}

#[test]
fn env_is_the_spec_env_plus_the_passthrough_variables() {
    let rt = ProcessRuntime::new();
    let p = start(
        &rt,
        Launch {
            command: &["env"],
            env: &[
                ("POD_NAME", "p"),
                ("GREETING", "hello world"),
                ("HOME", "/x"),
            ],
            ..Default::default()
        },
    );
    let exit = p.wait_exit();
    let vars: Vec<(&str, &str)> = exit
        .log_at_exit
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect();
    assert!(vars.contains(&("POD_NAME", "p")));
    assert!(vars.contains(&("GREETING", "hello world")));
    assert!(vars.contains(&("HOME", "/x")), "the spec overrides HOME");
    assert!(!vars.iter().any(|(k, v)| *k == "HOME" && *v != "/x"));
    if let Ok(path) = std::env::var("PATH") {
        assert!(vars.contains(&("PATH", path.as_str())));
    }
    for (k, _) in &vars {
        assert!(
            ["POD_NAME", "GREETING", "HOME"].contains(k)
                || steady::node::process::PASSTHROUGH_ENV.contains(k),
            "{k} leaked from the host environment"
        );
    }
}

#[test]
fn working_dir_is_applied() {
    let rt = ProcessRuntime::new();
    let dir = temp_dir("wd");
    std::fs::write(dir.join("marker"), "found the marker\n").unwrap();
    let p = start(
        &rt,
        Launch {
            command: &["sh", "-c", "pwd -P; cat ./marker"],
            working_dir: Some(dir.clone()),
            ..Default::default()
        },
    );
    let exit = p.wait_exit();
    assert_eq!(
        exit.log_at_exit,
        format!("{}\nfound the marker\n", dir.display())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn command_and_args_expand_var_refs_from_the_env() {
    let rt = ProcessRuntime::new();
    let p = start(
        &rt,
        Launch {
            command: &["printf", "%s|%s|%s\\n"],
            args: &["$(GREETING)", "$$(GREETING)", "$(UNDEFINED)"],
            env: &[("GREETING", "hi")],
            ..Default::default()
        },
    );
    assert_eq!(p.wait_exit().log_at_exit, "hi|$(GREETING)|$(UNDEFINED)\n");
}

#[test]
fn a_missing_command_is_a_start_error_naming_the_os_error() {
    let rt = ProcessRuntime::new();
    let err = try_start(
        &rt,
        Launch {
            command: &["steady-no-such-command"],
            ..Default::default()
        },
    )
    .err()
    .expect("no process");
    assert_eq!(err.reason, "StartError");
    assert!(
        err.message.contains("\"steady-no-such-command\"")
            && err.message.contains("executable file not found in $PATH")
            && err.message.contains("No such file or directory"),
        "{}",
        err.message
    );
    assert_eq!(rt.running(), 0);
}

#[test]
fn a_file_that_is_not_executable_is_a_start_error() {
    let rt = ProcessRuntime::new();
    let dir = temp_dir("noexec");
    let file = dir.join("script");
    std::fs::write(&file, "echo hi\n").unwrap();
    let path = file.to_str().unwrap();
    let err = try_start(
        &rt,
        Launch {
            command: &[path],
            ..Default::default()
        },
    )
    .err()
    .expect("no process");
    assert_eq!(err.reason, "StartError");
    assert!(
        err.message.contains(path) && err.message.contains("Permission denied"),
        "{}",
        err.message
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_working_dir_is_a_start_error() {
    let rt = ProcessRuntime::new();
    let err = try_start(
        &rt,
        Launch {
            command: &["true"],
            working_dir: Some(PathBuf::from("/nonexistent/steady-wd")),
            ..Default::default()
        },
    )
    .err()
    .expect("no process");
    assert_eq!(err.reason, "StartError");
    assert!(
        err.message.contains("/nonexistent/steady-wd")
            && err.message.contains("No such file or directory"),
        "{}",
        err.message
    );
}

#[cfg(target_os = "linux")]
#[test]
fn no_zombie_is_left_once_the_exit_is_reported() {
    let rt = ProcessRuntime::new();
    for script in ["exit 0", "exit 7", "kill -KILL $$"] {
        let p = sh(&rt, script);
        let pid = p.pid();
        p.wait_exit();
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} ({script}) was reaped before its exit was reported"
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_dropped_handle_still_has_its_process_reaped() {
    let rt = ProcessRuntime::new();
    let p = sh(&rt, "sleep 1000");
    let pid = p.pid();
    let Started {
        container, exits, ..
    } = p;
    drop(container);
    assert_eq!(rt.running(), 1, "dropping the handle stops nothing");
    // SAFETY: kill takes no pointers; the pid is our unreaped child.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    let exit = exits.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(exit.status.exit_code, 137);
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(rt.running(), 0);
}

#[test]
fn the_exit_is_reported_exactly_once() {
    let rt = ProcessRuntime::new();
    let p = sh(&rt, "sleep 1000");
    p.container.terminate();
    p.container.kill();
    let exit = p.wait_exit();
    // Signals after the exit are no-ops and report nothing more.
    p.container.kill();
    p.container.terminate();
    rt.shutdown(Duration::from_secs(5));
    assert_eq!(p.calls.load(Ordering::SeqCst), 1);
    assert_eq!(p.container.exit_status(), Some(exit.status));
    assert!(p.exits.try_recv().is_err());
}

#[test]
fn shutdown_kills_every_process_group_and_refuses_new_starts() {
    let rt = ProcessRuntime::new();
    let procs: Vec<Started> = (0..3)
        .map(|_| sh(&rt, "sleep 1000 & echo $!; trap '' TERM; wait"))
        .collect();
    let grandchildren: Vec<u32> = procs
        .iter()
        .map(|p| {
            eventually(20, "pid printed", || p.log.text().ends_with('\n'));
            printed_pid(&p.log.text())
        })
        .collect();
    assert_eq!(rt.running(), 3);
    assert_eq!(rt.shutdown(Duration::from_secs(10)), 3);
    assert_eq!(rt.running(), 0);
    for p in &procs {
        assert_eq!(p.wait_exit().status.exit_code, 137);
    }
    for g in grandchildren {
        eventually(20, "grandchild gone", || is_dead(g));
    }
    let err = try_start(
        &rt,
        Launch {
            command: &["true"],
            ..Default::default()
        },
    )
    .err()
    .expect("refused after shutdown");
    assert!(err.message.contains("shut down"), "{}", err.message);
}

#[test]
fn dropping_the_runtime_kills_its_processes() {
    let rt = ProcessRuntime::new();
    let p = sh(&rt, "sleep 1000");
    let pid = p.pid();
    drop(rt);
    assert_eq!(p.wait_exit().status.exit_code, 137);
    assert!(is_dead(pid));
}

#[cfg(target_os = "linux")]
#[test]
fn cpu_time_grows_for_a_busy_process() {
    let rt = ProcessRuntime::new();
    let p = sh(&rt, "while :; do :; done");
    let first = p.container.cpu_time().expect("cpu time on Linux");
    eventually(30, "50 ms of cpu used", || {
        p.container.cpu_time().unwrap() >= first + Duration::from_millis(50)
    });
    p.container.kill();
    p.wait_exit();
    let last = p.container.cpu_time().expect("the last figure is kept");
    assert!(last >= first + Duration::from_millis(50));
}
