//! Volumes at their `mountPath`: a process container gets a private mount namespace in
//! which each of its volumes is bind-mounted at its `mountPath` (and `subPath`).
//!
//! This needs Linux and the privilege to create a mount namespace (root, or
//! CAP_SYS_ADMIN); [`available`] finds out once by trying. Without it the volumes stay
//! only where `STEADY_VOLUME_<NAME>` says, which is also true with it: the host paths stay
//! visible inside the namespace.
//!
//! The mounts are made in the child between its start and exec (a `pre_exec` hook of
//! `node::spawner`), where only async-signal-safe calls are allowed: everything that
//! allocates (`MountPlan`: the C strings) is prepared before the child starts, and the child
//! only calls `unshare` and `mount`.
//!
//! A bind mount needs a mount point. One that does not exist is created on the host's
//! filesystem before the child starts (empty directories, or an empty file for a file
//! `subPath`), as a container runtime creates it in a container's root, and removed again
//! when the last process that uses it has ended: `MountPoints` counts the users of each point
//! it created (a point is never removed while another container has something mounted on
//! it, which would detach that mount). Paths that existed before are never removed.

use super::runtime::Mount;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One bind mount, ready to be made in the child.
#[derive(Debug)]
struct Step {
    source: CString,
    target: CString,
    read_only: bool,
}

/// The mount points one runtime created on the host, each with the number of started
/// processes that use it. Its lock is held while points are created and removed, so a
/// start and an exit never race on one point.
#[derive(Debug, Default)]
pub(crate) struct MountPoints {
    users: Mutex<HashMap<PathBuf, usize>>,
}

/// The mount points one process uses; dropped when the process has ended, which removes
/// the points no one else uses.
#[derive(Debug)]
pub(crate) struct MountPointsLease {
    points: Arc<MountPoints>,
    /// Outermost first within each mount.
    paths: Vec<PathBuf>,
}

impl MountPoints {
    /// Takes mount point `path` (a directory, or an empty file when `file`) for one more
    /// user: created if missing, counted if created by this runtime, left alone if it is
    /// the host's own.
    fn take(
        users: &mut HashMap<PathBuf, usize>,
        lease: &mut Vec<PathBuf>,
        path: &Path,
        file: bool,
    ) -> io::Result<()> {
        if let Some(n) = users.get_mut(path) {
            *n += 1;
            lease.push(path.to_path_buf());
            return Ok(());
        }
        if std::fs::symlink_metadata(path).is_ok() {
            return Ok(());
        }
        if file {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)?;
        } else {
            std::fs::create_dir(path)?;
        }
        users.insert(path.to_path_buf(), 1);
        lease.push(path.to_path_buf());
        Ok(())
    }
}

impl Drop for MountPointsLease {
    fn drop(&mut self) {
        let mut users = self.points.users.lock();
        // Innermost first, so that a directory is empty when its count reaches zero.
        for p in self.paths.iter().rev() {
            let Some(n) = users.get_mut(p) else { continue };
            *n -= 1;
            if *n > 0 {
                continue;
            }
            users.remove(p);
            // Only what is still as steady made it: an empty directory or an empty file.
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.is_dir() => {
                    let _ = std::fs::remove_dir(p);
                }
                Ok(m) if m.is_file() && m.len() == 0 => {
                    let _ = std::fs::remove_file(p);
                }
                _ => {}
            }
        }
    }
}

/// The bind mounts of one process, prepared before the child starts.
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
    /// its `mountPath`, read-only when asked; the missing mount points are created and
    /// held by the returned lease. The error names the volume.
    pub fn new(
        mounts: &[Mount],
        points: &Arc<MountPoints>,
    ) -> io::Result<(MountPlan, MountPointsLease)> {
        let mut steps = Vec::new();
        let mut lease = MountPointsLease {
            points: points.clone(),
            paths: Vec::new(),
        };
        let mut users = points.users.lock();
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
            let mut chain: Vec<&Path> = target.ancestors().collect();
            chain.reverse();
            let last = chain.len() - 1;
            for (i, d) in chain.into_iter().enumerate() {
                if d.as_os_str().len() > 1 {
                    MountPoints::take(&mut users, &mut lease.paths, d, file && i == last)?;
                }
            }
            steps.push(Step {
                source: cstring(&source)?,
                target: cstring(&target)?,
                read_only: m.read_only,
            });
        }
        drop(users);
        Ok((MountPlan { steps }, lease))
    }

    /// Makes the mounts in the calling process: a new mount namespace, `/` made a
    /// recursive slave (nothing mounted here reaches the host), then the bind mounts.
    ///
    /// Only for a child between its start and exec: it allocates nothing and calls only
    /// async-signal-safe functions (unshare, mount).
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

    /// Enters the namespace: only for a child between its start and exec (one call to setns).
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
    if !super::host::runs_as_root() {
        return false;
    }
    let plan = MountPlan::default();
    // SAFETY: the hook runs in the child before exec and only calls `apply_in_child`,
    // which allocates nothing and makes only async-signal-safe calls.
    let cmd = unsafe {
        super::spawner::Spawn::new("/bin/sh")
            .args(["-c", "exit 0"])
            .pre_exec(move || plan.apply_in_child())
    };
    // On the spawner thread, as every child of the engine (tied to its life).
    super::spawner::spawn(cmd)
        .and_then(|mut child| child.wait())
        .is_ok_and(|s| s.success())
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
        let mnt = dir.join("mnt");
        let at = |p: &str| format!("{}/{p}", mnt.display());
        let points = Arc::new(MountPoints::default());
        let (plan, first) = MountPlan::new(
            &[
                m(None, &at("etc/app")),
                m(Some("app.conf"), &at("etc/x/app.conf")),
            ],
            &points,
        )
        .unwrap();
        assert_eq!(plan.steps.len(), 2);
        assert!(mnt.join("etc/app").is_dir());
        assert!(mnt.join("etc/x/app.conf").is_file());
        assert_eq!(
            first.paths,
            vec![
                mnt.clone(),
                mnt.join("etc"),
                mnt.join("etc/app"),
                mnt.clone(),
                mnt.join("etc"),
                mnt.join("etc/x"),
                mnt.join("etc/x/app.conf")
            ]
        );
        // A second user of one point keeps it while the first goes.
        let (_, second) = MountPlan::new(&[m(None, &at("etc/app"))], &points).unwrap();
        drop(first);
        assert!(mnt.join("etc/app").is_dir());
        assert!(!mnt.join("etc/x").exists());
        drop(second);
        assert!(!mnt.exists(), "every point steady created is gone");
        assert!(
            dir.join("vol/app.conf").exists(),
            "the host's own paths stay"
        );

        let err = MountPlan::new(&[m(Some("../../etc"), "/x")], &points).unwrap_err();
        assert!(err.to_string().contains("subPath"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
