//! The OS processes behind process pods.

use steady::api::{ContainerStatus, Pod};

/// The pid of a running container, from its container id `process://<pid>`; `None` while it
/// does not run.
pub fn running_pid(s: &ContainerStatus) -> Option<i32> {
    s.state.as_ref()?.running.as_ref()?;
    s.container_id
        .as_deref()?
        .strip_prefix("process://")?
        .parse()
        .ok()
}

/// The pid of the first container of `p` while it runs.
pub fn pod_pid(p: &Pod) -> Option<i32> {
    running_pid(p.status.as_ref()?.container_statuses.first()?)
}

/// Sends SIGKILL to `pid` with kill(1), asserting that it was sent.
pub fn kill(pid: i32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
