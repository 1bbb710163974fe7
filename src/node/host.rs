//! What the host machine offers: its name, CPUs and memory (the embedded default node).

/// The host's name as a DNS-1123 subdomain (lowercase; other characters become `-`), or
/// `localhost` when it cannot be read.
pub fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    sanitize(raw.trim())
}

fn sanitize(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(253);
    let s = s.trim_matches(|c: char| c == '-' || c == '.').to_string();
    if s.is_empty() {
        "localhost".to_string()
    } else {
        s
    }
}

/// CPUs available to this process, in millicores.
pub fn cpu_millis() -> i64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as i64 * 1000
}

/// Total memory in bytes (`MemTotal` of /proc/meminfo; 4 GiB when unknown).
pub fn memory_bytes() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| parse_meminfo(&s))
        .unwrap_or(4 << 30)
}

fn parse_meminfo(s: &str) -> Option<i64> {
    let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Whether this process runs as root (effective user 0): every process container runs as
/// the engine's user, and only root may make mount namespaces.
pub fn runs_as_root() -> bool {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// What a node reports of its host in `status.nodeInfo`, as the kubelet does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemInfo {
    /// The kernel's release (`/proc/sys/kernel/osrelease`).
    pub kernel_version: String,
    /// The distribution's `PRETTY_NAME` (`/etc/os-release`).
    pub os_image: String,
    /// `/etc/machine-id`.
    pub machine_id: String,
    /// This boot's id (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
}

/// The host's [`SystemInfo`], read once (each field empty where the file is missing).
pub fn system_info() -> &'static SystemInfo {
    static INFO: std::sync::OnceLock<SystemInfo> = std::sync::OnceLock::new();
    INFO.get_or_init(|| SystemInfo {
        kernel_version: first_line("/proc/sys/kernel/osrelease"),
        os_image: std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_default(),
        machine_id: first_line("/etc/machine-id"),
        boot_id: first_line("/proc/sys/kernel/random/boot_id"),
    })
}

/// The first line of a file of the host, trimmed, or "" when it cannot be read.
fn first_line(path: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_become_valid_node_names() {
        assert_eq!(sanitize("My_Host.Example.COM"), "my-host.example.com");
        assert_eq!(sanitize("--"), "localhost");
        assert_eq!(sanitize(""), "localhost");
        let h = hostname();
        assert!(crate::api::validation::dns1123_subdomain(&h).is_ok(), "{h}");
    }

    #[test]
    fn meminfo_total_is_read_in_bytes() {
        let s = "MemTotal:       16384 kB\nMemFree:  1 kB\n";
        assert_eq!(parse_meminfo(s), Some(16384 * 1024));
        assert_eq!(parse_meminfo("nothing"), None);
        assert!(memory_bytes() > 0 && cpu_millis() >= 1000);
    }
}
