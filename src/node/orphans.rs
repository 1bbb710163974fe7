//! What a dead engine left running, found and killed when an engine restarts on its data dir,
//! before the pods it recovers start again (so that nothing runs twice).
//!
//! The dead engine's own children are gone already: they die with it, even when it was
//! SIGKILLed ([`super::spawner`]). What can be left are their descendants (a shell's
//! background job, a daemon's workers), which never inherit that tie. For each pod the
//! engine recovers (uid `U`, which only this data dir's engine can have started), they are
//! found two ways:
//!
//! - **control groups**: every process in a container group `U-<container>-<n>` of any engine
//!   group `steady-*` in this process's own groups (`super::cgroups`), whatever its process
//!   group or environment;
//! - **the environment**: every process whose environment (`/proc/<pid>/environ`) carries
//!   `POD_UID=U`, as every process of the pod's containers does unless it cleared it. One that
//!   leads its process group, or is in the group of a container the pod's stored status
//!   names (`process://<pid>`, the group's id), is killed with its whole group; any other
//!   alone.
//!
//! # Invariants
//!
//! - **Only the dead engine's processes.** `U` is a uid of this data dir, whose lock
//!   guarantees that the engine that used it before is dead, and this engine has started
//!   nothing for `U` yet when it recovers the pod. A pid is signalled right after it was seen
//!   carrying `U`, in a group of `U`'s, or as a member of `U`'s control group; the window in
//!   which such a process could end and its pid be reused is that short (as for any
//!   supervisor without pidfds).
//! - **Never this process or its group.**
//!
//! Not found: a descendant that left its control group (or ran without one: no usable
//! cgroups) and also cleared `POD_UID` from its environment. An engine without a data dir
//! recovers nothing: what its dead predecessor's children started is not looked for.

use std::collections::BTreeSet;

/// Kills what a previous engine left running of pod `uid`, whose containers are named
/// `containers` and whose stored status named the process groups `groups` (the pids of
/// `process://<pid>` container ids). Returns how many processes (or groups) were signalled.
pub(crate) fn kill_left_behind(uid: &str, containers: &[&str], groups: &[i32]) -> usize {
    if uid.is_empty() {
        return 0;
    }
    let in_cgroups = super::cgroups::kill_left_behind(uid, containers);
    let by_env = kill_marked(uid, groups);
    let n = in_cgroups + by_env;
    if n > 0 {
        log::info!(
            "killed what the previous engine left running of pod uid {uid}: {in_cgroups} \
             process(es) in its control groups, {by_env} process(es) or group(s) carrying \
             its POD_UID"
        );
    }
    n
}

/// SIGKILLs every process whose environment carries `POD_UID=<uid>`, with its process group
/// when it leads it or the group is one of `groups`.
fn kill_marked(uid: &str, groups: &[i32]) -> usize {
    // SAFETY: getpid and getpgrp take no arguments and cannot fail.
    let (me, my_group) = unsafe { (libc::getpid(), libc::getpgrp()) };
    let mut whole = BTreeSet::new();
    let mut alone = Vec::new();
    for (pid, pgid) in marked(uid) {
        if pid == me || pid <= 1 {
            continue;
        }
        if pgid > 1 && pgid != my_group && (pgid == pid || groups.contains(&pgid)) {
            whole.insert(pgid);
        } else {
            alone.push(pid);
        }
    }
    for g in &whole {
        // SAFETY: kill takes no pointers; a negative pid addresses process group `g`,
        // which a process carrying this pod's POD_UID was just seen leading or in, and
        // which is not ours.
        unsafe {
            libc::kill(-g, libc::SIGKILL);
        }
    }
    for pid in &alone {
        // SAFETY: kill takes no pointers; `pid` was just seen carrying this pod's POD_UID.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
        }
    }
    whole.len() + alone.len()
}

/// (pid, process group) of every live process whose environment has the entry
/// `POD_UID=<uid>`.
fn marked(uid: &str) -> Vec<(i32, i32)> {
    let entry = format!("POD_UID={uid}");
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|d| d.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            // Unreadable (another user's, gone) or empty (a zombie): not ours to kill.
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|e| e == entry.as_bytes()))
        })
        .filter_map(|pid| Some((pid, process_group(pid)?)))
        .collect()
}

/// The process group of `pid`, from `/proc/<pid>/stat` (its fifth field).
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain anything: count from
    // its closing parenthesis: state, ppid, pgrp.
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Child, Command};
    use std::time::{Duration, Instant};

    /// A uid no other test (or engine) uses.
    fn uid(test: &str) -> String {
        format!("orphans-{}-{test}", std::process::id())
    }

    /// The exit signal of `child`, once it has ended (within 20 s).
    fn ended_by(child: &mut Child) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s.signal();
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn shell(script: &str, env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]).envs(env.iter().copied());
        cmd
    }

    /// True while `pid` exists and is not a zombie.
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| Some(s[s.rfind(')')? + 1..].trim_start().starts_with('Z')))
            .is_some_and(|zombie| !zombie)
    }

    #[test]
    fn a_process_carrying_the_uid_is_killed_and_others_are_not() {
        let u = uid("env");
        let mut ours = shell("exec sleep 1000", &[("POD_UID", &u)])
            .spawn()
            .unwrap();
        let other = uid("env-other");
        let theirs = shell("exec sleep 1000", &[("POD_UID", &other)])
            .spawn()
            .unwrap();
        // A variable that merely ends with the entry is not it.
        let lookalike = shell("exec sleep 1000", &[("XPOD_UID", &u)])
            .spawn()
            .unwrap();
        assert_eq!(kill_left_behind(&u, &["main"], &[]), 1);
        assert_eq!(ended_by(&mut ours), Some(libc::SIGKILL));
        for mut c in [theirs, lookalike] {
            assert_eq!(c.try_wait().unwrap(), None, "a foreign process was killed");
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    #[test]
    fn the_group_of_a_dead_leader_goes_with_its_marked_member() {
        let u = uid("group");
        // The leader (a container's process, dead as after its engine's death) leaves its
        // group two background jobs: one carries the uid, one does not.
        let leader = shell(
            "sleep 1000 >/dev/null & env -u POD_UID sleep 1000 >/dev/null & echo $!; exit 0",
            &[("POD_UID", &u)],
        )
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
        let group = leader.id() as i32;
        let out = leader.wait_with_output().unwrap();
        let unmarked: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(process_group(unmarked), Some(group));
        // Until it has exec'd `env`, the unmarked job is a copy of the shell, marked.
        let deadline = Instant::now() + Duration::from_secs(20);
        while marked(&u).len() != 1 {
            assert!(Instant::now() < deadline, "{:?}", marked(&u));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(kill_left_behind(&u, &["main"], &[group]), 1, "one group");
        let deadline = Instant::now() + Duration::from_secs(20);
        while alive(unmarked) || !marked(&u).is_empty() {
            assert!(Instant::now() < deadline, "the group outlived the kill");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
