//! What a container starts with: its mounts (the pod's volume directories on this host,
//! claims and hostPaths, configuration volumes rewritten when their source changes) and its
//! environment; and the removal of a pod's directory once it is gone.

use super::kubelet::Kubelet;
use super::pod_sync::PodSync;
use crate::api::{Container, Pod};
use crate::client::events::EventKind;
use crate::node::runtime::{ContainerRuntime, Mount};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

impl Kubelet {
    /// Removes what the pod had on this host (its emptyDir and configuration volumes):
    /// called once its containers are stopped (or killed) and it is gone from here.
    pub(super) fn remove_pod_dir(&self, uid: &str) {
        // uids are the store's, but this is a recursive removal: never outside the data dir.
        if uid.is_empty() || uid.contains('/') || uid.starts_with('.') {
            return;
        }
        let dir = self.inner.config.data_dir().join("pods").join(uid);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("kubelet: removing {}: {e}", dir.display()),
        }
    }

    fn volume_dir(&self, pod: &Pod, volume: &crate::api::Volume) -> Result<PathBuf, String> {
        let base = self.inner.config.data_dir();
        let ns = pod.metadata.namespace_str();
        if let Some(c) = &volume.persistent_volume_claim {
            // Admission validates claim names; check again, since this is a filesystem path.
            crate::api::validation::dns1123_subdomain(&c.claim_name).map_err(|e| {
                format!(
                    "volume {:?}: claimName {:?} is not a valid claim name: {e}",
                    volume.name, c.claim_name
                )
            })?;
            return Ok(base.join("claims").join(ns).join(&c.claim_name));
        }
        if let Some(h) = &volume.host_path {
            return Ok(PathBuf::from(&h.path));
        }
        let uid = pod.metadata.uid.as_deref().unwrap_or("none");
        crate::api::validation::dns1123_label(&volume.name)
            .map_err(|e| format!("volume name {:?}: {e}", volume.name))?;
        Ok(base
            .join("pods")
            .join(uid)
            .join("volumes")
            .join(&volume.name))
    }
}

impl PodSync<'_> {
    /// Rewrites the configuration volumes already set up (by a container start) whose
    /// source changed, in place and atomically ([`crate::node::volumes`]). A source that went
    /// missing leaves the last version in place, as the kubelet does, and is reported.
    pub(super) fn refresh_volumes(&self) {
        if self.agent.config.simulated {
            return;
        }
        for v in &self.pod.spec.volumes {
            if !crate::node::volumes::is_projected(v) {
                continue;
            }
            let Ok(dir) = self.kubelet.volume_dir(self.pod, v) else {
                continue;
            };
            if std::fs::symlink_metadata(dir.join("..data")).is_err() {
                continue; // not set up yet: the first container start does it
            }
            let result = match self.facts().payload(v) {
                Ok(Some(payload)) => crate::node::volumes::write_atomically(&dir, &payload)
                    .map(|_| ())
                    .map_err(|e| format!("writing {}: {e}", dir.display())),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                let _ = self.kubelet.inner.events.record(
                    self.pod,
                    EventKind::Warning,
                    "FailedMount",
                    &format!("MountVolume.SetUp failed for volume {:?} : {e}", v.name),
                );
            }
        }
    }

    /// Records in the pod's events whether the container sees its volumes at their
    /// `mountPath` (`VolumesAtMountPath`) or only at `STEADY_VOLUME_<NAME>`
    /// (`VolumesNotAtMountPath`), and warns once per engine of the latter for processes.
    pub(super) fn record_mount_mode(
        &self,
        runtime: &dyn ContainerRuntime,
        container: &str,
        mounts: &[Mount],
    ) {
        let list: Vec<String> = mounts
            .iter()
            .map(|m| format!("{} at {}", m.volume, m.mount_path))
            .collect();
        let (kind, reason, message) = if runtime.mounts_at_mount_path() {
            (
                EventKind::Normal,
                "VolumesAtMountPath",
                format!(
                    "container {container}: volumes mounted at their mountPath in a private \
                     mount namespace: {}",
                    list.join(", ")
                ),
            )
        } else {
            let why = if runtime.name() == "process" {
                if !self
                    .kubelet
                    .inner
                    .warned_mount_path
                    .swap(true, Ordering::Relaxed)
                {
                    log::warn!(
                        "kubelet: volume mountPath is not honoured on this host (a private \
                         mount namespace needs Linux and root); processes find their volumes \
                         at STEADY_VOLUME_<NAME>"
                    );
                }
                "this host gives processes no private mount namespace (needs Linux and root)"
            } else {
                "an in-process worker shares the engine's view of the filesystem"
            };
            (
                EventKind::Warning,
                "VolumesNotAtMountPath",
                format!(
                    "container {container}: mountPath is not honoured: {why}; the volumes are \
                     at STEADY_VOLUME_<NAME>, not at {}",
                    list.join(", ")
                ),
            )
        };
        let _ = self
            .kubelet
            .inner
            .events
            .record(self.pod, kind, reason, &message);
    }

    /// The mounts of container `c`, its volumes set up on this host; `first` for the
    /// container's first start (a claim must exist then: [`PodSync::claim_usable`]).
    pub(super) fn mounts(&self, c: &Container, first: bool) -> Result<Vec<Mount>, String> {
        let mut out = Vec::new();
        for vm in &c.volume_mounts {
            let Some(v) = self.pod.spec.volumes.iter().find(|v| v.name == vm.name) else {
                return Err(format!(
                    "volumeMount {:?} of container {:?} names no volume of the pod",
                    vm.name, c.name
                ));
            };
            if let Some(claim) = v.persistent_volume_claim.as_ref().filter(|_| first) {
                self.claim_usable(&claim.claim_name)?;
            }
            let dir = self.kubelet.volume_dir(self.pod, v)?;
            let setup_failed =
                |e: String| format!("MountVolume.SetUp failed for volume {:?} : {e}", v.name);
            let payload = self.facts().payload(v).map_err(setup_failed)?;
            if let (Some(h), false) = (&v.host_path, self.agent.config.simulated) {
                check_host_path(&dir, h.type_.as_deref().unwrap_or("")).map_err(setup_failed)?;
            } else if !self.agent.config.simulated {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                if let Some(payload) = &payload {
                    crate::node::volumes::write_atomically(&dir, payload)
                        .map_err(|e| setup_failed(format!("writing {}: {e}", dir.display())))?;
                }
            }
            out.push(Mount {
                volume: vm.name.clone(),
                mount_path: vm.mount_path.clone(),
                host_path: dir,
                sub_path: vm.sub_path.clone().filter(|s| !s.is_empty()),
                read_only: vm.read_only == Some(true),
            });
        }
        Ok(out)
    }

    /// The container's environment (see [`crate::node::env`]): steady's own variables, then the
    /// Service variables, then `envFrom`, then `env`. An error names the missing ConfigMap, Secret or key.
    pub(super) fn env(
        &self,
        c: &Container,
        mounts: &[Mount],
    ) -> Result<Vec<(String, String)>, String> {
        let m = &self.pod.metadata;
        let mut env = vec![
            ("POD_NAME".to_string(), m.name.clone()),
            ("POD_NAMESPACE".to_string(), m.namespace_str().to_string()),
            ("POD_UID".to_string(), m.uid.clone().unwrap_or_default()),
            ("NODE_NAME".to_string(), self.agent.config.name.clone()),
            ("POD_IP".to_string(), self.ip.clone()),
            (
                "HOSTNAME".to_string(),
                self.pod
                    .spec
                    .hostname
                    .clone()
                    .unwrap_or_else(|| m.name.clone()),
            ),
        ];
        for mt in mounts {
            let var: String = mt
                .volume
                .chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() {
                        ch.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            env.push((
                format!("STEADY_VOLUME_{var}"),
                mt.host_path.display().to_string(),
            ));
        }
        // Before envFrom and env, so those override them and `$(VAR)` can name them.
        env.extend(crate::node::env::service_env(
            &self.kubelet.inner.store,
            self.pod,
        ));
        let resolved = self.facts().container_env(c, env)?;
        for msg in &resolved.skipped {
            let _ = self.kubelet.inner.events.record(
                self.pod,
                EventKind::Warning,
                "InvalidEnvironmentVariableNames",
                msg,
            );
        }
        Ok(resolved.vars)
    }

    /// Refuses to start container `c` when it or its pod asks for `runAsNonRoot` and the
    /// engine runs as root: steady starts every container as the engine's own user (the
    /// `securityContext` user fields are not implemented), so it would run as root, which
    /// is what the field forbids. The message begins as the kubelet's does.
    pub(super) fn non_root_check(&self, c: &Container) -> Result<(), String> {
        let asks = |extra: &crate::api::Extra| {
            extra
                .get("securityContext")
                .and_then(|s| s.get("runAsNonRoot"))
                .and_then(serde_json::Value::as_bool)
        };
        let non_root = asks(&c.extra)
            .or_else(|| asks(&self.pod.spec.extra))
            .unwrap_or(false);
        // A simulated node starts nothing: nothing runs as root there.
        if !non_root || self.agent.config.simulated || !crate::node::host::runs_as_root() {
            return Ok(());
        }
        let m = &self.pod.metadata;
        Err(format!(
            "container has runAsNonRoot and image will run as root (pod: \"{}_{}({})\", \
             container: {}): steady runs containers as the engine's user, and the engine runs \
             as root",
            m.name,
            m.namespace_str(),
            m.uid.as_deref().unwrap_or(""),
            c.name
        ))
    }

    /// Whether the claim `name` of the pod's namespace may be mounted by a container's first
    /// start: it exists and is not being deleted, so a misspelt `claimName` never starts the
    /// pod on a new, empty directory (kube-scheduler keeps such a pod Pending; here it waits
    /// with `CreateContainerConfigError`, and the claim's creation wakes it). A restart does
    /// not look again: the volume stays mounted for the pod's life, as under the kubelet.
    fn claim_usable(&self, name: &str) -> Result<(), String> {
        let ns = self.pod.metadata.namespace_str();
        match self
            .kubelet
            .inner
            .store
            .get("PersistentVolumeClaim", Some(ns), name)
        {
            Ok(c) if c.meta().deletion_timestamp.is_some() => {
                Err(format!("persistentvolumeclaim {name:?} is being deleted"))
            }
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Err(format!("persistentvolumeclaim {name:?} not found")),
            Err(e) => Err(format!("persistentvolumeclaim {name:?}: {e}")),
        }
    }

    /// What the downward API and ConfigMap/Secret references of this pod resolve against.
    fn facts(&self) -> crate::node::env::PodFacts<'_> {
        let config = &self.kubelet.inner.config;
        crate::node::env::PodFacts {
            store: &self.kubelet.inner.store,
            pod: self.pod,
            node: &self.agent.config,
            pod_ip: &self.ip,
            ephemeral_bytes: Box::new(|| crate::node::env::filesystem_bytes(&config.data_dir())),
        }
    }
}

/// Makes sure `path` is what `hostPath.type` (`kind`) asks for, as the kubelet's host path
/// checker does: the `OrCreate` kinds (and none, `""`, for a missing path) create it; the
/// others need it there already, of that type.
fn check_host_path(path: &std::path::Path, kind: &str) -> Result<(), String> {
    let meta = std::fs::metadata(path);
    let not_a = |what: &str| {
        Err(format!(
            "hostPath type check failed: {} is not a {what}",
            path.display()
        ))
    };
    let created = |r: std::io::Result<()>| {
        r.map_err(|e| {
            format!(
                "hostPath type check failed: creating {}: {e}",
                path.display()
            )
        })
    };
    #[cfg(unix)]
    use std::os::unix::fs::FileTypeExt;
    match (kind, &meta) {
        ("", Ok(_)) => Ok(()),
        ("" | "DirectoryOrCreate", Err(_)) => created(std::fs::create_dir_all(path)),
        ("DirectoryOrCreate" | "Directory", Ok(m)) if m.is_dir() => Ok(()),
        ("DirectoryOrCreate" | "Directory", _) => not_a("directory"),
        ("FileOrCreate", Err(_)) => created(create_empty_file(path)),
        ("FileOrCreate" | "File", Ok(m)) if m.is_file() => Ok(()),
        ("FileOrCreate" | "File", _) => not_a("file"),
        #[cfg(unix)]
        ("Socket", Ok(m)) if m.file_type().is_socket() => Ok(()),
        ("Socket", _) => not_a("socket file"),
        #[cfg(unix)]
        ("CharDevice", Ok(m)) if m.file_type().is_char_device() => Ok(()),
        ("CharDevice", _) => not_a("character device"),
        #[cfg(unix)]
        ("BlockDevice", Ok(m)) if m.file_type().is_block_device() => Ok(()),
        ("BlockDevice", _) => not_a("block device"),
        (other, _) => Err(format!("hostPath type {other:?} is not a known type")),
    }
}

/// An empty file at `path` (mode 0644), its directory already there, as `FileOrCreate`
/// makes it.
fn create_empty_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o644);
    o.open(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::check_host_path;

    #[test]
    fn host_path_types_are_checked_and_the_or_create_kinds_create() {
        let dir = std::env::temp_dir().join(format!("steady-hostpath-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing");
        let err = check_host_path(&missing, "Directory").unwrap_err();
        assert_eq!(
            err,
            format!(
                "hostPath type check failed: {} is not a directory",
                missing.display()
            )
        );
        assert!(!missing.exists(), "Directory never creates");
        assert!(check_host_path(&missing, "File").is_err());
        check_host_path(&missing, "DirectoryOrCreate").unwrap();
        assert!(missing.is_dir());
        assert!(check_host_path(&missing, "File")
            .unwrap_err()
            .ends_with("is not a file"));
        let file = dir.join("app.conf");
        check_host_path(&file, "FileOrCreate").unwrap();
        assert!(file.is_file() && std::fs::metadata(&file).unwrap().len() == 0);
        check_host_path(&file, "File").unwrap();
        assert!(check_host_path(&file, "Directory").is_err());
        assert!(check_host_path(&file, "Socket")
            .unwrap_err()
            .ends_with("is not a socket file"));
        // FileOrCreate makes no directory for the file.
        assert!(check_host_path(&dir.join("no/such/file"), "FileOrCreate").is_err());
        // No type: nothing is checked, and a missing path becomes a directory.
        check_host_path(&file, "").unwrap();
        check_host_path(&dir.join("new"), "").unwrap();
        assert!(dir.join("new").is_dir());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
