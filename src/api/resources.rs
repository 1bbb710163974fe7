//! Resource arithmetic of pods and nodes, shared by the scheduler, the node agent and the
//! HorizontalPodAutoscaler: what a pod requests ([`pod_requests`]) and what a node offers
//! ([`node_allocatable`]), as plain integers.
//!
//! Units: CPU in millicores, memory and ephemeral storage in bytes, every other resource
//! (extended resources such as `nvidia.com/gpu`, `hugepages-2Mi`) in whole units, rounded up
//! as Kubernetes' `Quantity.Value()` does. `pods` counts pod slots: a pod takes one, a node
//! offers `allocatable.pods` (110 when it does not say).
//!
//! The rules are Kubernetes' (`resourcehelper.PodRequests`):
//! - a container's request for a resource defaults to its limit when only the limit is set
//!   (the API server's defaulting, applied here because the store does not default);
//! - a pod requests the sum over its containers, at least the largest single init container
//!   (plus the sidecars, init containers with `restartPolicy: Always`, started before it), and
//!   sidecars run alongside the containers so they add to the sum;
//! - `spec.overhead`, when set, is added.

use super::core::{Container, Node, PodSpec, ResourceList};
use super::map::Map;
use super::quantity::Quantity;
use super::FieldError;

/// Resource name of CPU.
pub const CPU: &str = "cpu";
/// Resource name of memory.
pub const MEMORY: &str = "memory";
/// Resource name of ephemeral storage.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// Resource name of the pod count a node accepts.
pub const PODS: &str = "pods";
/// Pods a node accepts when neither its allocatable nor its capacity says (the kubelet's
/// `maxPods` default).
pub const DEFAULT_MAX_PODS: i64 = 110;
/// CPU counted for a container without a CPU request when spreading load (kube-scheduler's
/// `DefaultMilliCPURequest`): 100 millicores.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory counted for a container without a memory request when spreading load
/// (kube-scheduler's `DefaultMemoryRequest`): 200 MiB.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of every resource, as integers (see the module docs for units).
///
/// ```
/// use steady::api::resources::{pod_requests, Resources};
/// use steady::api::Pod;
/// let pod: Pod = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "web"},
///     "spec": {"containers": [
///         {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
///         {"name": "b", "resources": {"limits": {"cpu": "1", "nvidia.com/gpu": "1"}}}
///     ]}
/// })).unwrap();
/// let r = pod_requests(&pod.spec);
/// assert_eq!(r.cpu_millis, 1250); // b's request defaults to its limit
/// assert_eq!(r.memory_bytes, 64 << 20);
/// assert_eq!(r.get("nvidia.com/gpu"), 1);
/// assert_eq!(r.pods, 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub cpu_millis: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage_bytes: i64,
    /// Pod slots: 1 for a pod's requests, the most pods it accepts for a node.
    pub pods: i64,
    /// Every other resource by name, in units. Entries are never zero.
    pub extended: Map<String, i64>,
}

impl Resources {
    /// Nothing of anything.
    pub fn new() -> Self {
        Self::default()
    }

    /// The amounts of a resource list (`requests`, `limits`, `capacity`, `allocatable`);
    /// `pods` is taken from the list's `pods` entry (0 when absent).
    pub fn from_list(list: &ResourceList) -> Self {
        let mut r = Resources::new();
        for (name, q) in list {
            r.set(name, amount(name, q));
        }
        r
    }

    /// The amount of resource `name` (`cpu` in millicores, `memory` in bytes...); 0 when
    /// absent.
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.cpu_millis,
            MEMORY => self.memory_bytes,
            EPHEMERAL_STORAGE => self.ephemeral_storage_bytes,
            PODS => self.pods,
            _ => self.extended.get(name).copied().unwrap_or(0),
        }
    }

    /// Sets the amount of resource `name`.
    pub fn set(&mut self, name: &str, value: i64) {
        match name {
            CPU => self.cpu_millis = value,
            MEMORY => self.memory_bytes = value,
            EPHEMERAL_STORAGE => self.ephemeral_storage_bytes = value,
            PODS => self.pods = value,
            _ if value == 0 => {
                self.extended.remove(name);
            }
            _ => {
                self.extended.insert(name.to_string(), value);
            }
        }
    }

    /// Adds `other`, resource by resource (saturating).
    pub fn add(&mut self, other: &Resources) {
        self.zip(other, i64::saturating_add);
    }

    /// Subtracts `other`, resource by resource (saturating; may go negative).
    pub fn sub(&mut self, other: &Resources) {
        self.zip(other, i64::saturating_sub);
    }

    /// Raises every resource to at least `other`'s amount.
    pub fn max_with(&mut self, other: &Resources) {
        self.zip(other, i64::max);
    }

    fn zip(&mut self, other: &Resources, f: fn(i64, i64) -> i64) {
        self.cpu_millis = f(self.cpu_millis, other.cpu_millis);
        self.memory_bytes = f(self.memory_bytes, other.memory_bytes);
        self.ephemeral_storage_bytes =
            f(self.ephemeral_storage_bytes, other.ephemeral_storage_bytes);
        self.pods = f(self.pods, other.pods);
        for (name, v) in &other.extended {
            let cur = self.extended.get(name.as_str()).copied().unwrap_or(0);
            self.set(name, f(cur, *v));
        }
        // Resources only `self` has meet zero on the other side.
        if !self.extended.is_empty() {
            let mine: Vec<(String, i64)> = self
                .extended
                .iter()
                .filter(|(k, _)| !other.extended.contains_key(k.as_str()))
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            for (k, v) in mine {
                self.set(&k, f(v, 0));
            }
        }
    }

    /// True when every amount is zero (pod slots included).
    pub fn is_zero(&self) -> bool {
        self.cpu_millis == 0
            && self.memory_bytes == 0
            && self.ephemeral_storage_bytes == 0
            && self.pods == 0
            && self.extended.is_empty()
    }

    /// The amounts as a resource list in canonical form (`cpu: 1500m`, `memory: 128Mi`);
    /// zero amounts are left out.
    pub fn to_list(&self) -> ResourceList {
        let mut list = ResourceList::new();
        if self.cpu_millis != 0 {
            list.insert(CPU.into(), Quantity::from_milli(self.cpu_millis));
        }
        if self.memory_bytes != 0 {
            list.insert(
                MEMORY.into(),
                Quantity::from_bytes_binary(self.memory_bytes),
            );
        }
        if self.ephemeral_storage_bytes != 0 {
            list.insert(
                EPHEMERAL_STORAGE.into(),
                Quantity::from_bytes_binary(self.ephemeral_storage_bytes),
            );
        }
        if self.pods != 0 {
            list.insert(PODS.into(), Quantity::from_value(self.pods));
        }
        for (k, v) in &self.extended {
            list.insert(k.clone(), Quantity::from_value(*v));
        }
        list
    }
}

/// The integer amount of `q` for resource `name`: millicores for CPU, units otherwise.
pub fn amount(name: &str, q: &Quantity) -> i64 {
    if name == CPU {
        q.milli_value()
    } else {
        q.value()
    }
}

/// The effective requests of one container: its requests, each missing one defaulting to
/// the limit of the same resource. `pods` is 0.
pub fn container_requests(c: &Container) -> Resources {
    container_requests_with(c, false)
}

fn container_requests_with(c: &Container, non_zero: bool) -> Resources {
    let mut r = Resources::new();
    let (mut has_cpu, mut has_memory) = (false, false);
    if let Some(res) = &c.resources {
        for (name, q) in &res.requests {
            r.set(name, amount(name, q));
            has_cpu |= name == CPU;
            has_memory |= name == MEMORY;
        }
        for (name, q) in &res.limits {
            if !res.requests.contains_key(name.as_str()) {
                r.set(name, amount(name, q));
                has_cpu |= name == CPU;
                has_memory |= name == MEMORY;
            }
        }
    }
    if non_zero {
        if !has_cpu {
            r.cpu_millis = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has_memory {
            r.memory_bytes = DEFAULT_MEMORY_REQUEST;
        }
    }
    r.pods = 0;
    r
}

fn is_sidecar(c: &Container) -> bool {
    c.is_sidecar()
}

fn pod_requests_with(spec: &PodSpec, non_zero: bool) -> Resources {
    let mut reqs = Resources::new();
    for c in &spec.containers {
        reqs.add(&container_requests_with(c, non_zero));
    }
    // Sidecars keep running: they add to the pod's total, and each later init container runs
    // beside the sidecars started before it.
    let mut sidecars = Resources::new();
    let mut init_peak = Resources::new();
    for c in &spec.init_containers {
        let own = container_requests_with(c, non_zero);
        let during = if is_sidecar(c) {
            reqs.add(&own);
            sidecars.add(&own);
            sidecars.clone()
        } else {
            let mut t = own;
            t.add(&sidecars);
            t
        };
        init_peak.max_with(&during);
    }
    reqs.max_with(&init_peak);
    if let Some(overhead) = spec.extra.get("overhead").and_then(|v| v.as_object()) {
        for (name, v) in overhead {
            if let Some(q) = v.as_str().and_then(|s| Quantity::parse(s).ok()) {
                let cur = reqs.get(name);
                reqs.set(name, cur.saturating_add(amount(name, &q)));
            } else if let Some(n) = v.as_i64() {
                let q = Quantity::from_value(n);
                let cur = reqs.get(name);
                reqs.set(name, cur.saturating_add(amount(name, &q)));
            }
        }
    }
    reqs.pods = 1;
    reqs
}

/// What a pod with this spec requests of a node (see the module docs); `pods` is 1.
pub fn pod_requests(spec: &PodSpec) -> Resources {
    pod_requests_with(spec, false)
}

/// [`pod_requests`] with every container that requests no CPU counted at
/// [`DEFAULT_MILLI_CPU_REQUEST`] and no memory at [`DEFAULT_MEMORY_REQUEST`]: what
/// kube-scheduler's load-spreading scores count, so pods without requests still spread.
pub fn pod_requests_non_zero(spec: &PodSpec) -> Resources {
    pod_requests_with(spec, true)
}

/// What a node offers to pods: `status.allocatable`, each resource missing there taken from
/// `status.capacity`, and `pods` [`DEFAULT_MAX_PODS`] when neither says.
pub fn node_allocatable(node: &Node) -> Resources {
    let mut r = Resources::new();
    let mut has_pods = false;
    if let Some(st) = &node.status {
        for (name, q) in &st.capacity {
            if !st.allocatable.contains_key(name.as_str()) {
                r.set(name, amount(name, q));
                has_pods |= name == PODS;
            }
        }
        for (name, q) in &st.allocatable {
            r.set(name, amount(name, q));
            has_pods |= name == PODS;
        }
    }
    if !has_pods {
        r.pods = DEFAULT_MAX_PODS;
    }
    r
}

/// Admission checks of a container's `resources` found at `path`
/// (`spec.containers[0].resources`): no amount is negative and no request exceeds the limit
/// of the same resource, as Kubernetes' validation demands.
pub fn validate_requirements(
    res: &super::core::ResourceRequirements,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    for (field, list) in [("requests", &res.requests), ("limits", &res.limits)] {
        for (name, q) in list {
            if let Err(e) = q.validate() {
                errors.push(FieldError::new(
                    format!("{path}.{field}[{name}]"),
                    format!("Invalid value: {:?}: {}", q.0, e.reason()),
                ));
            } else if q.milli_value() < 0 {
                errors.push(FieldError::new(
                    format!("{path}.{field}[{name}]"),
                    format!(
                        "Invalid value: {:?}: must be greater than or equal to 0",
                        q.0
                    ),
                ));
            }
        }
    }
    for (name, req) in &res.requests {
        if let Some(lim) = res.limits.get(name.as_str()) {
            if req.milli_value() > lim.milli_value() {
                errors.push(FieldError::new(
                    format!("{path}.requests[{name}]"),
                    format!(
                        "Invalid value: {:?}: must be less than or equal to {name} limit of {}",
                        req.0, lim.0
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core::{NodeStatus, ResourceRequirements};
    use serde_json::json;

    fn list(pairs: &[(&str, &str)]) -> ResourceList {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect()
    }

    fn container(name: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        Container {
            name: name.into(),
            resources: Some(ResourceRequirements {
                requests: list(requests),
                limits: list(limits),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pod_requests_sum_containers_in_millicores_and_bytes() {
        let spec = PodSpec {
            containers: vec![
                container("a", &[("cpu", "250m"), ("memory", "64Mi")], &[]),
                container("b", &[("cpu", "1"), ("memory", "1Gi")], &[]),
            ],
            ..Default::default()
        };
        let r = pod_requests(&spec);
        assert_eq!(r.cpu_millis, 1250);
        assert_eq!(r.memory_bytes, (64 << 20) + (1 << 30));
        assert_eq!(r.pods, 1);
        assert!(r.extended.is_empty());
    }

    #[test]
    fn request_defaults_to_limit_when_only_the_limit_is_set() {
        let spec = PodSpec {
            containers: vec![container(
                "a",
                &[("memory", "1Mi")],
                &[("cpu", "2"), ("memory", "8Mi")],
            )],
            ..Default::default()
        };
        let r = pod_requests(&spec);
        assert_eq!(r.cpu_millis, 2000);
        assert_eq!(
            r.memory_bytes,
            1 << 20,
            "an explicit request wins over the limit"
        );
    }

    #[test]
    fn init_containers_count_by_their_peak() {
        let spec = PodSpec {
            containers: vec![container(
                "app",
                &[("cpu", "100m"), ("memory", "10Mi")],
                &[],
            )],
            init_containers: vec![
                container("big-cpu", &[("cpu", "2")], &[]),
                container("big-mem", &[("memory", "1Gi")], &[]),
            ],
            ..Default::default()
        };
        let r = pod_requests(&spec);
        assert_eq!(r.cpu_millis, 2000);
        assert_eq!(r.memory_bytes, 1 << 30);
    }

    #[test]
    fn sidecars_add_to_containers_and_to_later_init_containers() {
        let mut sidecar = container("proxy", &[("cpu", "500m")], &[]);
        sidecar
            .extra
            .insert("restartPolicy".into(), json!("Always"));
        let spec = PodSpec {
            containers: vec![container("app", &[("cpu", "1")], &[])],
            init_containers: vec![sidecar, container("migrate", &[("cpu", "3")], &[])],
            ..Default::default()
        };
        // Containers + sidecar = 1.5; migrate runs beside the sidecar = 3.5.
        assert_eq!(pod_requests(&spec).cpu_millis, 3500);
    }

    #[test]
    fn extended_resources_and_overhead_are_counted() {
        let mut spec = PodSpec {
            containers: vec![container(
                "a",
                &[("nvidia.com/gpu", "2"), ("cpu", "1")],
                &[],
            )],
            ..Default::default()
        };
        spec.extra
            .insert("overhead".into(), json!({"cpu": "250m", "memory": "120Mi"}));
        let r = pod_requests(&spec);
        assert_eq!(r.get("nvidia.com/gpu"), 2);
        assert_eq!(r.cpu_millis, 1250);
        assert_eq!(r.memory_bytes, 120 << 20);
    }

    #[test]
    fn non_zero_requests_default_missing_cpu_and_memory_per_container() {
        let spec = PodSpec {
            containers: vec![
                container("a", &[("cpu", "300m")], &[]),
                container("b", &[], &[]),
                container("c", &[("memory", "0")], &[]),
            ],
            ..Default::default()
        };
        let r = pod_requests_non_zero(&spec);
        assert_eq!(r.cpu_millis, 300 + 100 + 100);
        // An explicit zero is not missing.
        assert_eq!(r.memory_bytes, 2 * DEFAULT_MEMORY_REQUEST);
        assert_eq!(pod_requests(&spec).memory_bytes, 0);
    }

    #[test]
    fn node_allocatable_falls_back_to_capacity_and_110_pods() {
        let node = Node {
            status: Some(NodeStatus {
                capacity: list(&[("cpu", "4"), ("memory", "8Gi"), ("example.com/dongle", "3")]),
                allocatable: list(&[("cpu", "3500m")]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = node_allocatable(&node);
        assert_eq!(r.cpu_millis, 3500);
        assert_eq!(r.memory_bytes, 8 << 30);
        assert_eq!(r.get("example.com/dongle"), 3);
        assert_eq!(r.pods, DEFAULT_MAX_PODS);
        let node = Node {
            status: Some(NodeStatus {
                allocatable: list(&[("pods", "3")]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(node_allocatable(&node).pods, 3);
        assert_eq!(node_allocatable(&Node::default()).pods, DEFAULT_MAX_PODS);
    }

    #[test]
    fn arithmetic_covers_extended_resources_on_either_side() {
        let mut a = Resources::from_list(&list(&[("cpu", "1"), ("x.io/a", "2")]));
        let b = Resources::from_list(&list(&[("memory", "1Ki"), ("x.io/b", "5")]));
        a.add(&b);
        assert_eq!(
            (a.get("x.io/a"), a.get("x.io/b"), a.memory_bytes),
            (2, 5, 1024)
        );
        a.sub(&b);
        assert_eq!(a.get("x.io/b"), 0);
        assert!(
            !a.extended.contains_key("x.io/b"),
            "zero entries are dropped"
        );
        let mut m = Resources::from_list(&list(&[("x.io/a", "1")]));
        m.max_with(&a);
        assert_eq!((m.cpu_millis, m.get("x.io/a")), (1000, 2));
        assert_eq!(
            a.to_list(),
            list(&[("cpu", "1"), ("x.io/a", "2")]),
            "canonical quantities"
        );
        assert!(Resources::new().is_zero());
    }

    #[test]
    fn validation_names_negative_and_over_limit_requests() {
        let res = ResourceRequirements {
            requests: list(&[("cpu", "2"), ("memory", "-1Mi")]),
            limits: list(&[("cpu", "1")]),
            ..Default::default()
        };
        let mut errors = Vec::new();
        validate_requirements(&res, "spec.containers[0].resources", &mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.containers[0].resources.requests[memory]",
                "spec.containers[0].resources.requests[cpu]"
            ]
        );
    }
}
