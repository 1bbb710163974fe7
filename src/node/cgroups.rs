//! Resource limits and usage of process containers through the host's control groups, as
//! the kubelet's container runtime applies them.
//!
//! Each process container gets a control group of its own, under one group per engine
//! (`steady-<pid>-<n>`) inside the engine's own group, so that
//! - `resources.limits.memory` becomes the group's memory limit: the kernel's OOM killer
//!   kills the container when it goes over, and the exit is reported as Kubernetes reports
//!   it (reason `OOMKilled`, exit code 137);
//! - `resources.limits.cpu` becomes a CFS quota (limit x 100 ms per 100 ms period);
//! - CPU time and memory are read for the whole container, children included (memory as
//!   the kubelet's *working set*: usage minus inactive file pages).
//!
//! cgroup v2 is used where the unified hierarchy is mounted alone and delegated (its
//! `memory` and `cpu` controllers can be enabled for the engine's group); cgroup v1 where
//! the `memory`, `cpu` and `cpuacct` hierarchies are mounted and writable. A host with
//! neither runs containers unlimited, with one warning (see
//! [`ProcessRuntime`](super::ProcessRuntime)).

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The CFS period the CPU limit is expressed in (Kubernetes' default, 100 ms).
const CPU_PERIOD_US: u64 = 100_000;

/// What one container may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// `resources.limits.memory`, in bytes.
    pub memory_bytes: Option<u64>,
    /// `resources.limits.cpu`, in millicores.
    pub cpu_millis: Option<u64>,
}

#[derive(Clone, Debug)]
enum Layout {
    /// The unified hierarchy: one directory per group.
    V2 { parent: PathBuf },
    /// One directory per group in each of the three hierarchies.
    V1 {
        memory: PathBuf,
        cpu: PathBuf,
        cpuacct: PathBuf,
    },
}

/// The engine's control groups: where container groups are made. Removed when dropped.
#[derive(Debug)]
pub(crate) struct Cgroups {
    layout: Layout,
}

impl Cgroups {
    /// The host's control groups for one engine (`steady-<pid>-<n>` inside the process's own
    /// groups), created now; `None` with the reason when the host offers none steady can use.
    pub fn detect() -> Result<Cgroups, String> {
        let own = own_groups()?;
        // One group per engine: several engines may live in one process (tests do), and
        // each removes its own group when it goes.
        static ENGINES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = ENGINES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("steady-{}-{n}", std::process::id());
        for dir in own.dirs() {
            remove_stale(&dir);
        }
        if let Layout::V2 { parent: base } = &own {
            let controllers = std::fs::read_to_string(base.join("cgroup.controllers"))
                .map_err(|e| format!("cannot read the cgroup v2 controllers: {e}"))?;
            for c in ["memory", "cpu"] {
                if !controllers.split_whitespace().any(|x| x == c) {
                    return Err(format!(
                        "the cgroup v2 controller {c} is not delegated here"
                    ));
                }
            }
        }
        let layout = own.join(&name);
        for dir in layout.dirs() {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        if let Layout::V2 { parent } = &layout {
            std::fs::write(parent.join("cgroup.subtree_control"), "+memory +cpu").map_err(|e| {
                let _ = std::fs::remove_dir(parent);
                format!(
                    "cannot enable the memory and cpu controllers below {}: {e}",
                    parent.display()
                )
            })?;
        }
        Ok(Cgroups { layout })
    }

    /// Which cgroup version is in use (`"v1"` or `"v2"`).
    pub fn version(&self) -> &'static str {
        match self.layout {
            Layout::V1 { .. } => "v1",
            Layout::V2 { .. } => "v2",
        }
    }

    /// A group named `name` with `limits`, ready for a process to enter
    /// ([`Cgroup::enter_in_child`]).
    pub fn create(&self, name: &str, limits: Limits) -> io::Result<Cgroup> {
        let group = match &self.layout {
            Layout::V1 {
                memory,
                cpu,
                cpuacct,
            } => Cgroup {
                v2: false,
                memory: memory.join(name),
                cpu: cpu.join(name),
                cpuacct: cpuacct.join(name),
                procs: Vec::new(),
            },
            Layout::V2 { parent } => {
                let dir = parent.join(name);
                Cgroup {
                    v2: true,
                    memory: dir.clone(),
                    cpu: dir.clone(),
                    cpuacct: dir,
                    procs: Vec::new(),
                }
            }
        };
        let mut group = group;
        for dir in group.dirs() {
            std::fs::create_dir_all(&dir)?;
        }
        let made = (|| {
            if let Some(bytes) = limits.memory_bytes {
                if group.v2 {
                    write(&group.memory, "memory.max", &bytes.to_string())?;
                    // No swapping past the limit, as the kubelet configures it.
                    let _ = write(&group.memory, "memory.swap.max", "0");
                } else {
                    write(&group.memory, "memory.limit_in_bytes", &bytes.to_string())?;
                }
            }
            if let Some(millis) = limits.cpu_millis {
                let quota = (millis * CPU_PERIOD_US / 1000).max(1000);
                if group.v2 {
                    write(&group.cpu, "cpu.max", &format!("{quota} {CPU_PERIOD_US}"))?;
                } else {
                    write(&group.cpu, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                    write(&group.cpu, "cpu.cfs_quota_us", &quota.to_string())?;
                }
            }
            for dir in group.dirs() {
                let file = dir.join("cgroup.procs");
                group.procs.push(
                    CString::new(file.as_os_str().as_encoded_bytes())
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
                );
            }
            Ok(())
        })();
        if let Err(e) = made {
            group.remove();
            return Err(e);
        }
        Ok(group)
    }
}

/// This process's own control groups, where engine groups are made: the `memory`, `cpu`
/// and `cpuacct` directories of cgroup v1 when all three hierarchies are mounted (preferred),
/// else the cgroup v2 directory; the reason when neither is mounted.
fn own_groups() -> Result<Layout, String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let mut v1: [Option<PathBuf>; 3] = [None, None, None];
    let mut v2 = None;
    for line in mountinfo.lines() {
        // ... mount_point ... - fstype source super_options
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount = left.split(' ').nth(4).unwrap_or("");
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or("");
        let options = r.nth(1).unwrap_or("");
        match fstype {
            "cgroup2" => v2 = Some(PathBuf::from(mount)),
            "cgroup" => {
                for (i, c) in ["memory", "cpu", "cpuacct"].iter().enumerate() {
                    if options.split(',').any(|o| o == *c) {
                        v1[i] = Some(PathBuf::from(mount));
                    }
                }
            }
            _ => {}
        }
    }
    let own_path = |controller: &str| -> String {
        own.lines()
            .filter_map(|l| {
                let mut p = l.splitn(3, ':');
                let (_, list, path) = (p.next()?, p.next()?, p.next()?);
                (list.split(',').any(|c| c == controller)).then(|| path.to_string())
            })
            .next()
            .unwrap_or_else(|| "/".to_string())
    };
    if let [Some(memory), Some(cpu), Some(cpuacct)] = &v1 {
        let at = |mount: &Path, controller: &str| {
            mount.join(own_path(controller).trim_start_matches('/'))
        };
        return Ok(Layout::V1 {
            memory: at(memory, "memory"),
            cpu: at(cpu, "cpu"),
            cpuacct: at(cpuacct, "cpuacct"),
        });
    }
    let Some(unified) = v2 else {
        return Err(
            "neither cgroup v2 nor the memory, cpu and cpuacct hierarchies of \
                    cgroup v1 are mounted"
                .into(),
        );
    };
    let own_v2 = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_string();
    Ok(Layout::V2 {
        parent: unified.join(own_v2),
    })
}

impl Layout {
    /// The same groups' subgroup `name`.
    fn join(&self, name: &str) -> Layout {
        match self {
            Layout::V1 {
                memory,
                cpu,
                cpuacct,
            } => Layout::V1 {
                memory: memory.join(name),
                cpu: cpu.join(name),
                cpuacct: cpuacct.join(name),
            },
            Layout::V2 { parent } => Layout::V2 {
                parent: parent.join(name),
            },
        }
    }

    fn dirs(&self) -> Vec<PathBuf> {
        match self {
            Layout::V1 {
                memory,
                cpu,
                cpuacct,
            } => vec![memory.clone(), cpu.clone(), cpuacct.clone()],
            Layout::V2 { parent } => vec![parent.clone()],
        }
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for dir in self.layout.dirs() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Removes the groups that engines of processes no longer running left in `dir` (a process
/// that exits without dropping its engine cannot remove them): `steady-<pid>-<n>` with no
/// process `<pid>`, and the container groups in them. A group that still holds a process is
/// left alone (the kernel refuses to remove it).
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("steady-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Ok(groups) = std::fs::read_dir(e.path()) {
            for g in groups.flatten() {
                if g.path().is_dir() {
                    let _ = std::fs::remove_dir(g.path());
                }
            }
        }
        let _ = std::fs::remove_dir(e.path());
    }
}

/// Kills every process in the control groups an engine left for the containers `containers`
/// of pod `uid` (`<uid>-<container>-<n>`, in any engine group `steady-*` of this process's
/// own groups), then removes those groups. Returns the processes signalled.
///
/// Only for a pod this engine has started nothing for yet (a pod it recovers after a
/// restart): any such group is then a dead engine's, and everything in it, whatever its
/// process group or environment, is what that engine's container started.
pub(crate) fn kill_left_behind(uid: &str, containers: &[&str]) -> usize {
    let Ok(own) = own_groups() else {
        return 0;
    };
    let mut killed = std::collections::BTreeSet::new();
    for base in own.dirs() {
        let Ok(engines) = std::fs::read_dir(&base) else {
            continue;
        };
        for engine in engines.flatten() {
            let is_engine = engine
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("steady-"));
            if !is_engine {
                continue;
            }
            let Ok(groups) = std::fs::read_dir(engine.path()) else {
                continue;
            };
            for group in groups.flatten() {
                let name = group.file_name();
                let ours = name
                    .to_str()
                    .is_some_and(|n| containers.iter().any(|c| is_group_of(n, uid, c)));
                if ours && group.path().is_dir() {
                    kill_members(&group.path(), &mut killed);
                    remove_dir_retrying(&group.path());
                }
            }
        }
    }
    killed.len()
}

/// True when `name` is the group of a container `container` of pod `uid`:
/// `<uid>-<container>-<n>` (see `ProcessRuntime::cgroup_for`).
fn is_group_of(name: &str, uid: &str, container: &str) -> bool {
    !uid.is_empty()
        && name
            .strip_prefix(uid)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.strip_prefix(container))
            .and_then(|r| r.strip_prefix('-'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// SIGKILLs every process of the group at `dir` until no new one appears (a member may fork
/// between the read of `cgroup.procs` and its kill; killed ones fork no more). The pids
/// signalled are added to `killed`. cgroup v2's `cgroup.kill` (Linux 5.14) does it in one
/// step, where there is one.
fn kill_members(dir: &Path, killed: &mut std::collections::BTreeSet<i32>) {
    let read = || -> Vec<i32> {
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    let kill = dir.join("cgroup.kill");
    if kill.exists() {
        let members = read();
        if std::fs::write(&kill, "1").is_ok() {
            killed.extend(members);
            return;
        }
    }
    // SAFETY: getpid takes no arguments and cannot fail.
    let me = unsafe { libc::getpid() };
    let mut signalled = std::collections::BTreeSet::new();
    loop {
        let fresh: Vec<i32> = read()
            .into_iter()
            .filter(|p| *p > 1 && *p != me && !signalled.contains(p))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for pid in fresh {
            // SAFETY: kill takes no pointers; `pid` was listed as a member of this group,
            // which only a dead engine's container used.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            signalled.insert(pid);
        }
    }
    killed.extend(signalled);
}

/// Removes the empty group directory `dir`, retrying a few times while the kernel finishes
/// tearing its last process down; errors are ignored.
fn remove_dir_retrying(dir: &Path) {
    for attempt in 0..20 {
        match std::fs::remove_dir(dir) {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(_) if attempt < 19 => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => log::debug!("cannot remove {}: {e}", dir.display()),
        }
    }
}

fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    std::fs::write(dir.join(file), value)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.join(file).display())))
}

/// One container's control group.
#[derive(Debug)]
pub(crate) struct Cgroup {
    v2: bool,
    memory: PathBuf,
    cpu: PathBuf,
    cpuacct: PathBuf,
    /// The `cgroup.procs` files to write in the child, prepared before the child starts.
    procs: Vec<CString>,
}

impl Cgroup {
    fn dirs(&self) -> Vec<PathBuf> {
        let mut d = vec![self.memory.clone()];
        if !self.v2 {
            d.push(self.cpu.clone());
            d.push(self.cpuacct.clone());
        }
        d
    }

    /// True while every directory of the group exists.
    pub fn exists(&self) -> bool {
        self.dirs().iter().all(|d| d.is_dir())
    }

    /// Moves the calling process into the group. Meant for the child between its start and exec:
    /// it allocates nothing and calls only open, write and close (async-signal-safe).
    pub fn enter_in_child(&self) -> io::Result<()> {
        for file in &self.procs {
            // SAFETY: `file` is a NUL-terminated path prepared before the child starts; open, write
            // and close are async-signal-safe and get only valid pointers and lengths.
            unsafe {
                let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                // "0" is the writing process itself.
                let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                let err = io::Error::last_os_error();
                libc::close(fd);
                if n != 1 {
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    /// True when the kernel's OOM killer killed a process of this group.
    pub fn oom_killed(&self) -> bool {
        let (file, key) = if self.v2 {
            ("memory.events", "oom_kill")
        } else {
            ("memory.oom_control", "oom_kill")
        };
        read_key(&self.memory.join(file), key).is_some_and(|n| n > 0)
    }

    /// CPU time of every process of the group, children included.
    pub fn cpu_time(&self) -> Option<Duration> {
        if self.v2 {
            read_key(&self.cpu.join("cpu.stat"), "usage_usec").map(Duration::from_micros)
        } else {
            let ns = std::fs::read_to_string(self.cpuacct.join("cpuacct.usage")).ok()?;
            ns.trim().parse().ok().map(Duration::from_nanos)
        }
    }

    /// The group's working set: memory in use minus inactive file pages (what the kubelet
    /// reports and the memory limit is judged by).
    pub fn memory_bytes(&self) -> Option<u64> {
        let (usage_file, inactive_key) = if self.v2 {
            ("memory.current", "inactive_file")
        } else {
            ("memory.usage_in_bytes", "total_inactive_file")
        };
        let usage: u64 = std::fs::read_to_string(self.memory.join(usage_file))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let inactive = read_key(&self.memory.join("memory.stat"), inactive_key).unwrap_or(0);
        Some(usage.saturating_sub(inactive))
    }

    /// Removes the group's directories (its processes gone); errors are ignored, a few
    /// retries let the kernel finish tearing the last process down.
    pub fn remove(&self) {
        for dir in self.dirs() {
            remove_dir_retrying(&dir);
        }
    }
}

/// The number after `key` in a flat-keyed cgroup file (`oom_kill 1`).
fn read_key(file: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_files_are_read_by_key() {
        let dir = std::env::temp_dir().join(format!("steady-cg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("memory.oom_control");
        std::fs::write(&f, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert_eq!(read_key(&f, "oom_kill"), Some(2));
        assert_eq!(read_key(&f, "under_oom"), Some(0));
        assert_eq!(read_key(&f, "missing"), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn container_groups_are_matched_by_uid_container_and_serial() {
        let uid = "0b1c-4d";
        assert!(is_group_of("0b1c-4d-main-0", uid, "main"));
        assert!(is_group_of("0b1c-4d-main-17", uid, "main"));
        assert!(!is_group_of("0b1c-4d-main-", uid, "main"));
        assert!(!is_group_of("0b1c-4d-main-x", uid, "main"));
        assert!(!is_group_of("0b1c-4d-main-sidecar-0", uid, "main"));
        assert!(!is_group_of("0b1c-4d-web-0", uid, "main"));
        assert!(!is_group_of("0b1c-4e-main-0", uid, "main"));
        assert!(!is_group_of("-main-0", "", "main"));
    }

    #[test]
    fn what_a_dead_engine_left_in_a_pods_group_is_killed_and_the_group_removed() {
        let Ok(own) = own_groups() else {
            eprintln!("no cgroups on this host: not tested");
            return;
        };
        let uid = format!("cgtest-{}", std::process::id());
        // Named so that no engine's clean-up of stale groups takes it for its own.
        let engine = own.dirs()[0].join(format!("steady-unittest-{}", std::process::id()));
        let group = engine.join(format!("{uid}-main-3"));
        let sibling = engine.join(format!("{uid}-sidecar-0"));
        if std::fs::create_dir_all(&group)
            .and_then(|()| std::fs::create_dir_all(&sibling))
            .is_err()
        {
            eprintln!("cannot create control groups here: not tested");
            return;
        }
        // No POD_UID, a process group of its own: only its control group says whose it is.
        let mut child = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        if std::fs::write(group.join("cgroup.procs"), child.id().to_string()).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("cannot move processes between control groups here: not tested");
            return;
        }
        assert_eq!(kill_left_behind(&uid, &["main"]), 1);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
        assert!(!group.exists(), "the group is removed");
        assert!(sibling.exists(), "another container's group is not touched");
        let _ = std::fs::remove_dir(&sibling);
        let _ = std::fs::remove_dir(&engine);
    }

    #[test]
    fn a_group_limits_and_measures_its_processes_where_the_host_allows() {
        let Ok(cg) = Cgroups::detect() else {
            eprintln!("no usable cgroups on this host: only the reader is tested");
            return;
        };
        let g = cg
            .create(
                "unit-test",
                Limits {
                    memory_bytes: Some(64 << 20),
                    cpu_millis: Some(500),
                },
            )
            .unwrap();
        if cg.version() == "v1" {
            let limit = std::fs::read_to_string(g.memory.join("memory.limit_in_bytes")).unwrap();
            assert_eq!(limit.trim(), (64u64 << 20).to_string());
            let quota = std::fs::read_to_string(g.cpu.join("cpu.cfs_quota_us")).unwrap();
            assert_eq!(quota.trim(), "50000");
        }
        assert!(!g.oom_killed());
        assert_eq!(g.cpu_time(), Some(Duration::ZERO));
        g.remove();
        assert!(!g.memory.exists());
    }
}
