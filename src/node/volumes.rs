//! Volumes that hold configuration (`configMap`, `secret`, `downwardAPI`, `projected`): what
//! files they contain ([`payload`]) and how those files are written so that a reader never
//! sees a half-written one ([`write_atomically`]), as the kubelet's AtomicWriter does.
//!
//! # Layout of a volume directory
//!
//! ```text
//! <dir>/..2026_12_06_03_45_24.000000001/   the files of one version
//! <dir>/..data -> ..2026_12_06_03_45_24.000000001
//! <dir>/app.conf -> ..data/app.conf        one link per top-level file or directory
//! ```
//!
//! A new version is written into a fresh timestamped directory, then `..data` is replaced
//! with rename(2), which is atomic: a process that opens `<dir>/app.conf` gets either the
//! whole old version or the whole new one. The links of files no longer present and the old
//! version's directory are removed after the swap; a reader that already opened an old file
//! keeps reading it.
//!
//! Concurrency: one volume directory is written by one reconcile of its pod at a time (the
//! work queue never hands a pod to two workers), so the writer needs no lock of its own.

use super::env::PodFacts;
use crate::api::{DownwardApiVolumeFile, KeyToPath, PodField, Volume, VOLUME_FIELD_PATHS};
use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Permission bits of a file whose volume gives no `defaultMode` (Kubernetes: 0644).
pub(crate) const DEFAULT_MODE: u32 = 0o644;

/// One file of a volume.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct FileContent {
    /// The bytes (possibly a Secret's value: never logged, never in Debug).
    pub data: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

impl std::fmt::Debug for FileContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes, mode {:o}>", self.data.len(), self.mode)
    }
}

/// The files of a volume by relative path.
pub(crate) type Payload = BTreeMap<String, FileContent>;

/// Whether `volume` is one whose files steady writes.
pub(crate) fn is_projected(volume: &Volume) -> bool {
    volume.config_map.is_some()
        || volume.secret.is_some()
        || volume.downward_api.is_some()
        || volume.projected.is_some()
}

fn mode_of(mode: Option<i32>, default: u32) -> u32 {
    mode.map_or(default, |m| (m as u32) & 0o777)
}

/// Adds the keys of one ConfigMap or Secret (`values`) to `out`: every key, or the `items`.
fn add_keys(
    out: &mut Payload,
    values: &BTreeMap<String, Vec<u8>>,
    items: &[KeyToPath],
    optional: bool,
    default_mode: u32,
    missing_key: impl Fn(&str) -> String,
) -> Result<(), String> {
    if items.is_empty() {
        for (k, v) in values {
            out.insert(
                k.clone(),
                FileContent {
                    data: v.clone(),
                    mode: default_mode,
                },
            );
        }
        return Ok(());
    }
    for it in items {
        match values.get(&it.key) {
            Some(v) => {
                out.insert(
                    it.path.clone(),
                    FileContent {
                        data: v.clone(),
                        mode: mode_of(it.mode, default_mode),
                    },
                );
            }
            None if optional => {}
            None => return Err(missing_key(&it.key)),
        }
    }
    Ok(())
}

impl PodFacts<'_> {
    /// `data` and `binaryData` of ConfigMap `name`; `None` when it does not exist.
    fn config_map_values(&self, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, String> {
        let Some(cm) = self.config_map(name)? else {
            return Ok(None);
        };
        let mut values: BTreeMap<String, Vec<u8>> = cm
            .data
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect();
        for (k, v) in &cm.binary_data {
            let bytes = crate::api::base64::decode(v)
                .map_err(|e| format!("binaryData[{k}] of configmap {name:?}: {e}"))?;
            values.insert(k.clone(), bytes);
        }
        Ok(Some(values))
    }

    /// The decoded `data` of Secret `name`; `None` when it does not exist.
    fn secret_values(&self, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, String> {
        let Some(s) = self.secret(name)? else {
            return Ok(None);
        };
        let mut values = BTreeMap::new();
        for k in s.data.keys() {
            match s.decoded(k) {
                Some(Ok(bytes)) => {
                    values.insert(k.clone(), bytes);
                }
                _ => return Err(format!("key {k} of secret {name:?} is not valid base64")),
            }
        }
        Ok(Some(values))
    }

    fn add_downward(
        &self,
        out: &mut Payload,
        items: &[DownwardApiVolumeFile],
        default_mode: u32,
    ) -> Result<(), String> {
        for it in items {
            let text = if let Some(f) = &it.field_ref {
                self.field(&PodField::parse(&f.field_path, VOLUME_FIELD_PATHS)?)
            } else if let Some(r) = &it.resource_field_ref {
                let Some(own) = self.pod.spec.containers.first() else {
                    continue;
                };
                self.resource(r, own)?
            } else {
                continue;
            };
            out.insert(
                it.path.clone(),
                FileContent {
                    data: text.into_bytes(),
                    mode: mode_of(it.mode, default_mode),
                },
            );
        }
        Ok(())
    }

    /// The files of `volume`, or `None` when it is not a configuration volume. The error
    /// names the missing ConfigMap, Secret or key, as the kubelet words it.
    pub fn payload(&self, volume: &Volume) -> Result<Option<Payload>, String> {
        let mut out = Payload::new();
        if let Some(c) = &volume.config_map {
            let optional = c.optional == Some(true);
            let default = mode_of(c.default_mode, DEFAULT_MODE);
            match self.config_map_values(&c.name)? {
                Some(values) => add_keys(&mut out, &values, &c.items, optional, default, |k| {
                    format!("configmap references non-existent config key: {k}")
                })?,
                None if optional => {}
                None => return Err(format!("configmap {:?} not found", c.name)),
            }
        } else if let Some(s) = &volume.secret {
            let optional = s.optional == Some(true);
            let default = mode_of(s.default_mode, DEFAULT_MODE);
            match self.secret_values(&s.secret_name)? {
                Some(values) => add_keys(&mut out, &values, &s.items, optional, default, |k| {
                    format!("references non-existent secret key: {k}")
                })?,
                None if optional => {}
                None => return Err(format!("secret {:?} not found", s.secret_name)),
            }
        } else if let Some(d) = &volume.downward_api {
            self.add_downward(&mut out, &d.items, mode_of(d.default_mode, DEFAULT_MODE))?;
        } else if let Some(p) = &volume.projected {
            let default = mode_of(p.default_mode, DEFAULT_MODE);
            for src in &p.sources {
                if let Some(c) = &src.config_map {
                    let optional = c.optional == Some(true);
                    match self.config_map_values(&c.name)? {
                        Some(values) => {
                            add_keys(&mut out, &values, &c.items, optional, default, |k| {
                                format!("configmap references non-existent config key: {k}")
                            })?
                        }
                        None if optional => {}
                        None => return Err(format!("configmap {:?} not found", c.name)),
                    }
                }
                if let Some(s) = &src.secret {
                    let optional = s.optional == Some(true);
                    match self.secret_values(&s.name)? {
                        Some(values) => {
                            add_keys(&mut out, &values, &s.items, optional, default, |k| {
                                format!("references non-existent secret key: {k}")
                            })?
                        }
                        None if optional => {}
                        None => return Err(format!("secret {:?} not found", s.name)),
                    }
                }
                if let Some(d) = &src.downward_api {
                    self.add_downward(&mut out, &d.items, default)?;
                }
            }
        } else {
            return Ok(None);
        }
        Ok(Some(out))
    }
}

/// Name of the link to the current version.
const DATA_LINK: &str = "..data";
/// The link being put in place of [`DATA_LINK`].
const DATA_LINK_TMP: &str = "..data_tmp";

/// Distinguishes versions written within one clock tick.
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// `..2026_12_06_03_45_24.<serial>`: the kubelet's naming of a version directory.
fn version_name() -> String {
    let now = crate::api::Time::from_system_time(std::time::SystemTime::now()).to_string();
    let stamp: String = now
        .chars()
        .take(19)
        .map(|c| if c.is_ascii_digit() { c } else { '_' })
        .collect();
    format!(
        "..{stamp}.{}{:09}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    )
}

/// Checks a payload path again (admission did; this is a filesystem path).
fn safe_path(p: &str) -> io::Result<()> {
    let ok = !p.is_empty()
        && !p.starts_with('/')
        && !p.starts_with("..")
        && p.split('/').all(|e| !e.is_empty() && e != "..");
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid file path {p:?} in volume"),
        ))
    }
}

/// Makes `dir` hold exactly `payload`, atomically (see the module docs). Returns whether
/// anything changed: nothing is written when the current version already matches.
pub(crate) fn write_atomically(dir: &Path, payload: &Payload) -> io::Result<bool> {
    for p in payload.keys() {
        safe_path(p)?;
    }
    std::fs::create_dir_all(dir)?;
    let old = std::fs::read_link(dir.join(DATA_LINK)).ok();
    if let Some(old) = &old {
        if matches_payload(&dir.join(old), payload) && links_in_place(dir, payload) {
            return Ok(false);
        }
    }
    let version = version_name();
    let vdir = dir.join(&version);
    std::fs::create_dir(&vdir)?;
    let written = (|| -> io::Result<()> {
        for (p, f) in payload {
            let file = vdir.join(p);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&file, &f.data)?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(f.mode))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&vdir);
        return Err(e);
    }
    // The swap: a link to the new version, renamed over `..data` (atomic).
    let tmp = dir.join(DATA_LINK_TMP);
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&version, &tmp)?;
    std::fs::rename(&tmp, dir.join(DATA_LINK))?;
    // Visible links for the top-level entries, then away with what is no longer there.
    let top: std::collections::BTreeSet<&str> = payload
        .keys()
        .map(|p| p.split('/').next().unwrap_or(p))
        .collect();
    for t in &top {
        let link = dir.join(t);
        let target = Path::new(DATA_LINK).join(t);
        if std::fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&target, &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("..") {
            if name != DATA_LINK && name != version.as_str() && entry.path().is_dir() {
                // An old version (or one left by an interrupted write).
                let _ = std::fs::remove_dir_all(entry.path());
            }
            continue;
        }
        if !top.contains(name.as_ref()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(true)
}

/// Whether version directory `vdir` holds exactly `payload`.
fn matches_payload(vdir: &Path, payload: &Payload) -> bool {
    let mut count = 0;
    let mut stack = vec![vdir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            return false;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            count += 1;
            let rel = path.strip_prefix(vdir).unwrap_or(&path);
            let Some(want) = payload.get(rel.to_string_lossy().as_ref()) else {
                return false;
            };
            let mode_ok =
                std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o777 == want.mode);
            if !mode_ok || std::fs::read(&path).ok().as_deref() != Some(&want.data[..]) {
                return false;
            }
        }
    }
    count == payload.len()
}

fn links_in_place(dir: &Path, payload: &Payload) -> bool {
    payload.keys().all(|p| {
        let t = p.split('/').next().unwrap_or(p);
        std::fs::read_link(dir.join(t)).ok().as_deref() == Some(&Path::new(DATA_LINK).join(t))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(files: &[(&str, &str)]) -> Payload {
        files
            .iter()
            .map(|(p, d)| {
                (
                    p.to_string(),
                    FileContent {
                        data: d.as_bytes().to_vec(),
                        mode: DEFAULT_MODE,
                    },
                )
            })
            .collect()
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "steady-unit-{}-{name}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn files_are_links_through_data_to_a_version_directory() {
        let dir = scratch("layout");
        assert!(write_atomically(&dir, &payload(&[("a.conf", "one"), ("sub/b", "two")])).unwrap());
        assert_eq!(std::fs::read_to_string(dir.join("a.conf")).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(dir.join("sub/b")).unwrap(), "two");
        assert_eq!(
            std::fs::read_link(dir.join("a.conf")).unwrap(),
            Path::new("..data/a.conf")
        );
        let v1 = std::fs::read_link(dir.join("..data")).unwrap();
        assert!(v1.to_string_lossy().starts_with("..20"), "{v1:?}");
        let mode = std::fs::metadata(dir.join("a.conf"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);

        // Unchanged: nothing written.
        assert!(!write_atomically(&dir, &payload(&[("a.conf", "one"), ("sub/b", "two")])).unwrap());
        assert_eq!(std::fs::read_link(dir.join("..data")).unwrap(), v1);

        // Changed: a new version, the old one and the dropped file gone.
        assert!(write_atomically(&dir, &payload(&[("a.conf", "three")])).unwrap());
        let v2 = std::fs::read_link(dir.join("..data")).unwrap();
        assert_ne!(v1, v2);
        assert_eq!(
            std::fs::read_to_string(dir.join("a.conf")).unwrap(),
            "three"
        );
        assert!(!dir.join("sub").exists() && !dir.join(&v1).exists());
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut want = vec![
            "..data".to_string(),
            v2.to_string_lossy().into_owned(),
            "a.conf".into(),
        ];
        want.sort();
        assert_eq!(names, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn paths_that_escape_the_volume_are_refused() {
        let dir = scratch("escape");
        for bad in ["../x", "/etc/passwd", "a/../../x", "..data", ""] {
            assert!(
                write_atomically(&dir, &payload(&[(bad, "x")])).is_err(),
                "{bad}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
