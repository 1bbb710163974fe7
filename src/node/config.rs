//! Settings of nodes and of the node agent.

use super::images::ImageTable;
use crate::api::{Map, Taint};
use std::path::PathBuf;
use std::time::Duration;

/// Label every node carries with its own name (Kubernetes' well-known label).
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
/// Well-known zone label, used by topology spreading.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Namespace of node Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// One node this engine runs.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    /// Node name (a DNS-1123 subdomain).
    pub name: String,
    /// Extra labels (`kubernetes.io/hostname` is always added).
    pub labels: Map<String, String>,
    /// Taints the node starts with.
    pub taints: Vec<Taint>,
    /// CPU capacity in millicores.
    pub cpu_millis: i64,
    /// Memory capacity in bytes.
    pub memory_bytes: i64,
    /// Pod capacity (Kubernetes' default is 110).
    pub max_pods: i64,
    /// A simulated node runs every container on the simulated runtime (registered worker
    /// images still run in-process); a local node runs workers and real processes.
    pub simulated: bool,
}

impl NodeConfig {
    /// Refuses a name the node could never be registered under (not a DNS subdomain),
    /// naming the node and the field.
    pub(crate) fn check_name(&self) -> crate::Result<()> {
        crate::api::validation::dns1123_subdomain(&self.name).map_err(|e| {
            crate::Error::invalid(
                crate::ObjectRef::new("Node", None, &self.name),
                "metadata.name",
                e,
            )
        })
    }

    /// The embedded default: a local node named after the host, with the host's CPUs and
    /// memory.
    pub fn local() -> Self {
        NodeConfig {
            name: super::host::hostname(),
            labels: Map::new(),
            taints: Vec::new(),
            cpu_millis: super::host::cpu_millis(),
            memory_bytes: super::host::memory_bytes(),
            max_pods: 110,
            simulated: false,
        }
    }

    /// A local node named `name` with the host's resources (several local nodes share the
    /// host: useful to test spreading and node failure with real processes).
    pub fn local_named(name: &str) -> Self {
        NodeConfig {
            name: name.to_string(),
            ..Self::local()
        }
    }

    /// A simulated node with `cpu_millis` millicores and `memory_bytes` bytes.
    pub fn simulated(name: &str, cpu_millis: i64, memory_bytes: i64) -> Self {
        NodeConfig {
            name: name.to_string(),
            labels: Map::new(),
            taints: Vec::new(),
            cpu_millis,
            memory_bytes,
            max_pods: 110,
            simulated: true,
        }
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_string(), value.to_string());
        self
    }

    /// Puts the node in `zone` (label `topology.kubernetes.io/zone`).
    pub fn zone(self, zone: &str) -> Self {
        self.label(ZONE_LABEL, zone)
    }

    /// Adds a taint.
    pub fn taint(mut self, key: &str, value: Option<&str>, effect: &str) -> Self {
        self.taints.push(Taint {
            key: key.to_string(),
            value: value.map(str::to_string),
            effect: effect.to_string(),
            ..Taint::default()
        });
        self
    }

    /// Sets the pod capacity.
    pub fn max_pods(mut self, n: i64) -> Self {
        self.max_pods = n;
        self
    }
}

/// Settings of the node agent. The defaults are Kubernetes' kubelet defaults except where
/// noted.
#[derive(Clone, Debug, PartialEq)]
pub struct KubeletConfig {
    /// First crash-loop delay after the immediate first restart (Kubernetes: 10 s).
    pub crash_loop_initial: Duration,
    /// Crash-loop delay cap (Kubernetes: 300 s).
    pub crash_loop_max: Duration,
    /// A container that ran this long has its crash-loop delay reset (Kubernetes: 10 min).
    pub crash_loop_reset: Duration,
    /// Bytes of output kept per container instance (default 1 MiB).
    pub log_limit: usize,
    /// How often a node renews its Lease and status (Kubernetes: 10 s).
    pub heartbeat_period: Duration,
    /// Lease duration written into node Leases (Kubernetes: 40 s).
    pub lease_duration: Duration,
    /// Where claim and emptyDir directories live. `None`: a `steady-<pid>` directory under
    /// the system temporary directory, created when first needed.
    pub data_dir: Option<PathBuf>,
    /// The most a graceful stop waits at engine shutdown before killing (it also never
    /// exceeds a pod's own grace period).
    pub shutdown_grace: Duration,
    /// Give each process container a private mount namespace with its volumes at their
    /// `mountPath`, when the host allows it (Linux, root). Default true; when false or not
    /// allowed, volumes are only at `STEADY_VOLUME_<NAME>`.
    pub mount_namespaces: bool,
    /// What image references run as processes ([`ImageTable`]): a container whose image is
    /// here runs that program (its own `command` and `args` overriding the image's), unless
    /// an in-process worker is registered for the image. Empty by default.
    pub images: ImageTable,
    /// Put each process container in a control group of its own, when the host allows it
    /// (cgroup v2 delegated, or v1): `resources.limits` are enforced (OOMKilled past the
    /// memory limit, a CFS quota for CPU) and usage counts the container's children. Default
    /// true; when false or not allowed, limits are not enforced (one warning) and usage is
    /// the main process's.
    pub cgroups: bool,
}

impl Default for KubeletConfig {
    fn default() -> Self {
        KubeletConfig {
            crash_loop_initial: Duration::from_secs(10),
            crash_loop_max: Duration::from_secs(300),
            crash_loop_reset: Duration::from_secs(600),
            log_limit: super::logs::DEFAULT_LOG_LIMIT,
            heartbeat_period: Duration::from_secs(10),
            lease_duration: Duration::from_secs(40),
            data_dir: None,
            shutdown_grace: Duration::from_secs(30),
            mount_namespaces: true,
            images: ImageTable::new(),
            cgroups: true,
        }
    }
}

impl KubeletConfig {
    /// The data directory, chosen once.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("steady-{}", std::process::id())))
    }
}
