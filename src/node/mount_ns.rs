//! Volumes at their `mountPath`: a process container gets a private mount namespace in
//! which each of its volumes is bind-mounted at its `mountPath` (and `subPath`).
//!
//! This needs Linux and the privilege to create a mount namespace (root, or
//! CAP_SYS_ADMIN); [`available`] finds out once by trying. Without it the volumes stay
//! only where `STEADY_VOLUME_<NAME>` says, which is also true with it: the host paths stay
//! visible inside the namespace.
//!
//! The mounts are made in the child between fork and exec (`pre_exec`), where only
//! async-signal-safe calls are allowed: everything that allocates (`MountPlan`: the C
//! strings, which directories to create) is prepared before the fork, and the child only
//! calls `unshare`, `mount`, `mkdir`, `open` and `close`. Mount points that do not exist are
//! created on the host's filesystem (empty directories, or an empty file for a file
//! `subPath`), as a container runtime creates them in the container's root: the bind mounts
//! themselves are private to the process and its children and disappear with them.

use super::runtime::Mount;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One bind mount, ready to be made in the child.
#[derive(Debug)]
struct Step {
    source: CString,
    target: CString,
    /// Directories to create first, outermost first.
    dirs: Vec<CString>,
    /// The source is a file: the mount point is an (empty) file.
    file: bool,
    read_only: bool,
}

/// The bind mounts of one process, prepared before the fork.
#[derive(Debug, Default)]
pub(crate) struct MountPlan {
    steps: Vec<Step>,
}

fn cstring(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path {p:?} contains a NUL byte"),
        )
    })
}

impl MountPlan {
    /// The plan for `mounts`: each volume's host directory (or its `subPath` within it) at
    /// its `mountPath`, read-only when asked. The error names the volume.
    pub fn new(mounts: &[Mount]) -> io::Result<MountPlan> {
        let mut steps = Vec::new();
        for m in mounts {
            let mut source = m.host_path.clone();
            if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                if sub.starts_with('/') || sub.split('/').any(|e| e == "..") {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "volume {:?}: subPath {sub:?} must be a relative path without '..'",
                            m.volume
                        ),
                    ));
                }
                source = source.join(sub);
                if std::fs::symlink_metadata(&source).is_err() {
                    // As the kubelet: a missing subPath is created as a directory.
                    std::fs::create_dir_all(&source)?;
                }
            }
            let file = std::fs::metadata(&source)?.is_file();
            let target = Path::new("/").join(&m.mount_path);
            let mut dirs = Vec::new();
            let dir_of_target = if file {
                target.parent()
            } else {
                Some(target.as_path())
            };
            let mut chain: Vec<PathBuf> = dir_of_target
                .map(|d| d.ancestors().map(Path::to_path_buf).collect())
                .unwrap_or_default();
            chain.reverse();
            for d in chain {
                if d.as_os_str().len() > 1 {
                    dirs.push(cstring(&d)?);
                }
            }
            steps.push(Step {
                source: cstring(&source)?,
                target: cstring(&target)?,
                dirs,
                file,
                read_only: m.read_only,
            });
        }
        Ok(MountPlan { steps })
    }

    /// Makes the mounts in the calling process: a new mount namespace, `/` made a
    /// recursive slave (nothing mounted here reaches the host), then the bind mounts.
    ///
    /// Only for a child between fork and exec: it allocates nothing and calls only
    /// async-signal-safe functions.
    #[cfg(target_os = "linux")]
    pub fn apply_in_child(&self) -> io::Result<()> {
        // SAFETY (every call below): the pointers are NUL-terminated strings owned by
        // `self`, alive for the call, or null where the kernel allows null.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(io::Error::last_os_error());
            }
            let root = c"/".as_ptr();
            if libc::mount(
                std::ptr::null(),
                root,
                std::ptr::null(),
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            for s in &self.steps {
                for d in &s.dirs {
                    // EEXIST and the like: the mount below reports what matters.
                    libc::mkdir(d.as_ptr(), 0o755);
                }
                if s.file {
                    let fd = libc::open(
                        s.target.as_ptr(),
                        libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                        0o644,
                    );
                    if fd >= 0 {
                        libc::close(fd);
                    }
                }
                if libc::mount(
                    s.source.as_ptr(),
                    s.target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                if s.read_only
                    && libc::mount(
                        std::ptr::null(),
                        s.target.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC,
                        std::ptr::null(),
                    ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }

    /// Never called: [`available`] is false off Linux.
    #[cfg(not(target_os = "linux"))]
    pub fn apply_in_child(&self) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// The mount namespace of a running process, for another process to join (an exec
/// probe runs where its container's volumes are mounted).
#[derive(Debug)]
pub(crate) struct JoinNamespace {
    fd: std::os::fd::OwnedFd,
}

impl JoinNamespace {
    /// Opens the mount namespace of process `pid` (`/proc/<pid>/ns/mnt`).
    pub fn of_pid(pid: u32) -> io::Result<JoinNamespace> {
        let f = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))?;
        Ok(JoinNamespace { fd: f.into() })
    }

    /// Enters the namespace: only for a child between fork and exec (one call to setns).
    #[cfg(target_os = "linux")]
    pub fn apply_in_child(&self) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open (owned by `self`) and setns only reads it.
        if unsafe { libc::setns(self.fd.as_raw_fd(), libc::CLONE_NEWNS) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Never called off Linux.
    #[cfg(not(target_os = "linux"))]
    pub fn apply_in_child(&self) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Whether this process may give its children private mount namespaces: Linux, and a
/// child that tried `unshare(CLONE_NEWNS)` and a private `/` succeeded. Found out once.
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(probe)
}

#[cfg(target_os = "linux")]
fn probe() -> bool {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return false;
    }
    let plan = MountPlan::default();
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", "exit 0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: the closure runs between fork and exec and only calls `apply_in_child`,
    // which allocates nothing and makes only async-signal-safe calls.
    unsafe {
        cmd.pre_exec(move || plan.apply_in_child());
    }
    cmd.status().is_ok_and(|s| s.success())
}

#[cfg(not(target_os = "linux"))]
fn probe() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_creates_every_missing_parent_and_refuses_escaping_sub_paths() {
        let dir = std::env::temp_dir().join(format!("steady-unit-mountns-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("vol")).unwrap();
        std::fs::write(dir.join("vol/app.conf"), b"x").unwrap();
        let m = |sub: Option<&str>, path: &str| Mount {
            volume: "config".into(),
            mount_path: path.into(),
            host_path: dir.join("vol"),
            sub_path: sub.map(str::to_string),
            read_only: false,
        };
        let plan =
            MountPlan::new(&[m(None, "/etc/app"), m(Some("app.conf"), "/etc/x/app.conf")]).unwrap();
        let dirs = |i: usize| -> Vec<String> {
            plan.steps[i]
                .dirs
                .iter()
                .map(|d| d.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(dirs(0), vec!["/etc", "/etc/app"]);
        assert!(!plan.steps[0].file);
        assert_eq!(dirs(1), vec!["/etc", "/etc/x"]);
        assert!(plan.steps[1].file);
        let err = MountPlan::new(&[m(Some("../../etc"), "/x")]).unwrap_err();
        assert!(err.to_string().contains("subPath"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
