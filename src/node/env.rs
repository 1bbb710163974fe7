//! A container's environment, resolved with the kubelet's rules, and the downward API values
//! it shares with downwardAPI volumes.
//!
//! Order, as the kubelet builds it: steady's own variables (`POD_NAME`, `POD_IP`,
//! `STEADY_VOLUME_<NAME>`...) first, then the Service variables ([`service_env`]), then
//! every `envFrom` source in order (`prefix` + key;
//! keys that are not valid variable names skipped and reported), then `env` in order. A
//! later definition replaces an earlier one, so `env` wins over `envFrom`. A literal `value`
//! has its `$(VAR)` references expanded against the variables defined before it
//! ([`expand_var_refs`]); values from `valueFrom` are taken as they are.
//!
//! A referenced ConfigMap, Secret or key that is missing fails the whole resolution (the
//! container waits with `CreateContainerConfigError` and the kubelet's message), unless the
//! reference is `optional`: then the variable (or the `envFrom` source) is left out. Nothing
//! is ever started with a silently missing variable.
//!
//! Errors and skipped-key reports name objects and keys, never a value.

use super::config::NodeConfig;
use super::process::expand_var_refs;
use crate::api::service_ip::cluster_ip;
use crate::api::{
    is_env_var_name, ConfigMap, Container, ContainerResource, EnvVarSource, Pod, PodField,
    Quantity, ResourceFieldSelector, Secret, Service, ENV_FIELD_PATHS,
};
use crate::client::Api;
use crate::store::Store;
use std::sync::Arc;

/// The address every local node reports (`status.hostIP`).
pub(crate) const HOST_IP: &str = "127.0.0.1";

/// What the downward API and the ConfigMap/Secret references of one pod resolve against.
pub(crate) struct PodFacts<'a> {
    pub store: &'a Store,
    pub pod: &'a Pod,
    pub node: &'a NodeConfig,
    /// The pod's address (`status.podIP`).
    pub pod_ip: &'a str,
    /// Bytes of the filesystem holding pod data: the node's ephemeral-storage allocatable.
    /// Asked only when a reference needs it (a statvfs of the data dir).
    pub ephemeral_bytes: Box<dyn Fn() -> i64 + 'a>,
}

/// A resolved environment.
#[derive(Debug, Default)]
pub(crate) struct ResolvedEnv {
    /// The variables, each name once, in definition order.
    pub vars: Vec<(String, String)>,
    /// One message per `envFrom` source whose keys were skipped (event
    /// `InvalidEnvironmentVariableNames`).
    pub skipped: Vec<String>,
}

fn set(vars: &mut Vec<(String, String)>, name: &str, value: String) {
    vars.retain(|(k, _)| k != name);
    vars.push((name.to_string(), value));
}

impl PodFacts<'_> {
    fn namespace(&self) -> &str {
        self.pod.metadata.namespace_str()
    }

    /// The ConfigMap `name` of the pod's namespace; `Ok(None)` when it does not exist.
    pub fn config_map(&self, name: &str) -> Result<Option<Arc<ConfigMap>>, String> {
        Api::<ConfigMap>::all(self.store.clone())
            .namespace(self.namespace())
            .get_opt(name)
            .map_err(|e| format!("reading configmap {name:?}: {e}"))
    }

    /// The Secret `name` of the pod's namespace; `Ok(None)` when it does not exist.
    pub fn secret(&self, name: &str) -> Result<Option<Arc<Secret>>, String> {
        Api::<Secret>::all(self.store.clone())
            .namespace(self.namespace())
            .get_opt(name)
            .map_err(|e| format!("reading secret {name:?}: {e}"))
    }

    /// The value of a downward API field of the pod.
    pub fn field(&self, field: &PodField) -> String {
        let m = &self.pod.metadata;
        let pairs = |map: &crate::api::Map<String, String>| {
            // As the kubelet formats them: sorted `key="value"` lines.
            let mut lines: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            lines.sort();
            lines.join("\n")
        };
        match field {
            PodField::Name => m.name.clone(),
            PodField::Namespace => self.namespace().to_string(),
            PodField::Uid => m.uid.clone().unwrap_or_default(),
            PodField::Label(k) => m.labels.get(k).cloned().unwrap_or_default(),
            PodField::Annotation(k) => m.annotations.get(k).cloned().unwrap_or_default(),
            PodField::Labels => pairs(&m.labels),
            PodField::Annotations => pairs(&m.annotations),
            PodField::NodeName => self.node.name.clone(),
            // The ServiceAccount admission plugin defaults it to `default`.
            PodField::ServiceAccountName => self
                .pod
                .spec
                .service_account_name
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "default".into()),
            PodField::HostIp | PodField::HostIps => HOST_IP.to_string(),
            PodField::PodIp | PodField::PodIps => self.pod_ip.to_string(),
        }
    }

    /// The value of a `resourceFieldRef`, as the kubelet computes it: the container's
    /// request or limit (an unset limit is the node's allocatable; an unset request is the
    /// limit as API defaulting would set it, else 0), divided by `divisor` and rounded up.
    pub fn resource(&self, sel: &ResourceFieldSelector, own: &Container) -> Result<String, String> {
        let res = ContainerResource::parse(&sel.resource)
            .ok_or_else(|| format!("unsupported container resource : {:?}", sel.resource))?;
        let container = match sel.container_name.as_deref().filter(|n| !n.is_empty()) {
            None => own,
            Some(name) => self
                .pod
                .spec
                .containers
                .iter()
                .chain(&self.pod.spec.init_containers)
                .find(|c| c.name == name)
                .ok_or_else(|| format!("container {name} not found"))?,
        };
        let resources = container.resources.as_ref();
        let limit = resources.and_then(|r| r.limits.get(res.name));
        let request = resources.and_then(|r| r.requests.get(res.name));
        let allocatable = || match res.name {
            "cpu" => Quantity::from_milli(self.node.cpu_millis),
            "memory" => Quantity::from_value(self.node.memory_bytes),
            _ => Quantity::from_value((self.ephemeral_bytes)()),
        };
        let amount = if res.limit {
            limit.cloned().unwrap_or_else(allocatable)
        } else {
            request
                .or(limit)
                .cloned()
                .unwrap_or_else(|| Quantity::from_value(0))
        };
        let divisor = sel
            .divisor
            .clone()
            .filter(|d| d.milli_value() > 0)
            .unwrap_or_else(|| Quantity::from_value(1));
        let (num, den) = if res.name == "cpu" {
            (amount.milli_value(), divisor.milli_value())
        } else {
            (amount.value(), divisor.value())
        };
        Ok(ceil_div(num, den.max(1)).to_string())
    }

    /// The environment of container `c`, on top of `base` (steady's own variables).
    pub fn container_env(
        &self,
        c: &Container,
        base: Vec<(String, String)>,
    ) -> Result<ResolvedEnv, String> {
        let ns = self.namespace();
        let mut out = ResolvedEnv {
            vars: base,
            skipped: Vec::new(),
        };
        for from in &c.env_from {
            let prefix = from.prefix.as_deref().unwrap_or("");
            let (what, name, pairs): (&str, &str, Vec<(String, String)>) =
                if let Some(r) = &from.config_map_ref {
                    let optional = r.optional == Some(true);
                    let pairs = match self.config_map(&r.name)? {
                        Some(cm) => cm
                            .data
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                        None if optional => continue,
                        None => return Err(format!("configmap {:?} not found", r.name)),
                    };
                    ("configMap", r.name.as_str(), pairs)
                } else if let Some(r) = &from.secret_ref {
                    let optional = r.optional == Some(true);
                    let pairs = match self.secret(&r.name)? {
                        Some(s) => secret_pairs(&s, ns)?,
                        None if optional => continue,
                        None => return Err(format!("secret {:?} not found", r.name)),
                    };
                    ("secret", r.name.as_str(), pairs)
                } else {
                    continue;
                };
            let mut invalid = Vec::new();
            for (k, v) in pairs {
                let var = format!("{prefix}{k}");
                if is_env_var_name(&var) {
                    set(&mut out.vars, &var, v);
                } else {
                    invalid.push(var);
                }
            }
            if !invalid.is_empty() {
                invalid.sort();
                out.skipped.push(format!(
                    "Keys [{}] from the EnvFrom {what} {ns}/{name} were skipped since they are \
                     considered invalid environment variable names.",
                    invalid.join(", ")
                ));
            }
        }
        for e in &c.env {
            let value = match &e.value_from {
                None => expand_var_refs(e.value.as_deref().unwrap_or(""), &out.vars),
                Some(from) => match self.value_from(from, c)? {
                    Some(v) => v,
                    None => continue,
                },
            };
            set(&mut out.vars, &e.name, value);
        }
        Ok(out)
    }

    /// The value of one `valueFrom`; `None` for an optional reference that is missing.
    fn value_from(&self, from: &EnvVarSource, c: &Container) -> Result<Option<String>, String> {
        let ns = self.namespace();
        if let Some(f) = &from.field_ref {
            let field = PodField::parse(&f.field_path, ENV_FIELD_PATHS)?;
            return Ok(Some(self.field(&field)));
        }
        if let Some(r) = &from.resource_field_ref {
            return self.resource(r, c).map(Some);
        }
        if let Some(k) = &from.config_map_key_ref {
            let optional = k.optional == Some(true);
            let Some(cm) = self.config_map(&k.name)? else {
                return if optional {
                    Ok(None)
                } else {
                    Err(format!("configmap {:?} not found", k.name))
                };
            };
            return match cm.data.get(&k.key) {
                Some(v) => Ok(Some(v.clone())),
                None if optional => Ok(None),
                None => Err(format!(
                    "couldn't find key {} in ConfigMap {ns}/{}",
                    k.key, k.name
                )),
            };
        }
        if let Some(k) = &from.secret_key_ref {
            let optional = k.optional == Some(true);
            let Some(s) = self.secret(&k.name)? else {
                return if optional {
                    Ok(None)
                } else {
                    Err(format!("secret {:?} not found", k.name))
                };
            };
            return match s.decoded(&k.key) {
                Some(Ok(bytes)) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
                Some(Err(e)) => Err(format!("key {} in Secret {ns}/{}: {e}", k.key, k.name)),
                None if optional => Ok(None),
                None => Err(format!(
                    "couldn't find key {} in Secret {ns}/{}",
                    k.key, k.name
                )),
            };
        }
        Err("valueFrom names no source steady supports".into())
    }
}

/// The Service environment variables of a container of `pod`, as the kubelet writes them
/// when the container starts: those of every Service of the pod's namespace that has a
/// virtual address (headless Services give none), unless the pod says
/// `enableServiceLinks: false`; and always those of the `kubernetes` Service of the
/// `default` namespace, if there is one. Services in name order; see [`service_vars`].
pub(crate) fn service_env(store: &Store, pod: &Pod) -> Vec<(String, String)> {
    let ns = pod.metadata.namespace_str();
    let links = pod.spec.enable_service_links != Some(false);
    let mut services: Vec<Arc<Service>> = Vec::new();
    if links {
        if let Ok(list) = Api::<Service>::all(store.clone())
            .namespace(ns)
            .list(&Default::default())
        {
            services = list.items;
        }
    }
    if !(links && ns == "default") {
        if let Ok(Some(k)) = Api::<Service>::all(store.clone())
            .namespace("default")
            .get_opt("kubernetes")
        {
            // Named like a Service of the pod's namespace: the kubelet keeps the one of the
            // pod's namespace.
            if !services.iter().any(|s| s.metadata.name == "kubernetes") {
                services.push(k);
            }
        }
    }
    services.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    services.iter().flat_map(|s| service_vars(s)).collect()
}

/// The variables of one Service, named as the kubelet names them (pkg/kubelet/envvars): the
/// Service name upper-cased with `-` as `_`, then `_SERVICE_HOST` (the virtual address),
/// `_SERVICE_PORT` (the first port), `_SERVICE_PORT_<PORT NAME>` for each named port, and
/// the Docker-link family: `_PORT` (`tcp://host:port` of the first port), and for each port
/// `_PORT_<port>_<PROTOCOL>` with its `_PROTO`, `_PORT` and `_ADDR`. A Service without an
/// address or without ports gives none.
pub(crate) fn service_vars(svc: &Service) -> Vec<(String, String)> {
    let Some(host) = cluster_ip(svc) else {
        return Vec::new();
    };
    let Some(first) = svc.spec.ports.first() else {
        return Vec::new();
    };
    let prefix = svc.metadata.name.replace('-', "_").to_uppercase();
    let var_name = |s: &str| s.replace('-', "_").to_uppercase();
    let mut out = vec![
        (format!("{prefix}_SERVICE_HOST"), host.to_string()),
        (format!("{prefix}_SERVICE_PORT"), first.port.to_string()),
    ];
    for p in &svc.spec.ports {
        if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
            out.push((
                format!("{prefix}_SERVICE_PORT_{}", var_name(name)),
                p.port.to_string(),
            ));
        }
    }
    for (i, p) in svc.spec.ports.iter().enumerate() {
        let proto = p
            .protocol
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("TCP");
        let lower = proto.to_lowercase();
        let url = format!("{lower}://{host}:{}", p.port);
        if i == 0 {
            out.push((format!("{prefix}_PORT"), url.clone()));
        }
        let port_prefix = format!("{prefix}_PORT_{}_{}", p.port, proto.to_uppercase());
        out.push((port_prefix.clone(), url));
        out.push((format!("{port_prefix}_PROTO"), lower));
        out.push((format!("{port_prefix}_PORT"), p.port.to_string()));
        out.push((format!("{port_prefix}_ADDR"), host.to_string()));
    }
    out
}

/// Every key of a Secret, decoded (not UTF-8: replaced characters, as Go's `string(bytes)`
/// would carry them through).
fn secret_pairs(s: &Secret, ns: &str) -> Result<Vec<(String, String)>, String> {
    s.data
        .keys()
        .map(|k| match s.decoded(k) {
            Some(Ok(b)) => Ok((k.clone(), String::from_utf8_lossy(&b).into_owned())),
            _ => Err(format!(
                "key {k} in Secret {ns}/{} is not valid base64",
                s.metadata.name
            )),
        })
        .collect()
}

/// `ceil(num / den)` for `den > 0`, as the kubelet rounds resource values.
fn ceil_div(num: i64, den: i64) -> i64 {
    let (n, d) = (i128::from(num), i128::from(den));
    let q = n.div_euclid(d) + i128::from(n.rem_euclid(d) != 0);
    q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Whether `pod` refers to the ConfigMap (`secret` false) or Secret (`secret` true) `name`
/// of its namespace, from env, envFrom or a volume.
pub(crate) fn pod_refers_to(pod: &Pod, secret: bool, name: &str) -> bool {
    let containers = pod.spec.containers.iter().chain(&pod.spec.init_containers);
    for c in containers {
        for e in &c.env {
            if let Some(from) = &e.value_from {
                let r = if secret {
                    &from.secret_key_ref
                } else {
                    &from.config_map_key_ref
                };
                if r.as_ref().is_some_and(|r| r.name == name) {
                    return true;
                }
            }
        }
        for f in &c.env_from {
            let r = if secret {
                &f.secret_ref
            } else {
                &f.config_map_ref
            };
            if r.as_ref().is_some_and(|r| r.name == name) {
                return true;
            }
        }
    }
    pod.spec.volumes.iter().any(|v| {
        let direct = if secret {
            v.secret.as_ref().is_some_and(|s| s.secret_name == name)
        } else {
            v.config_map.as_ref().is_some_and(|c| c.name == name)
        };
        direct
            || v.projected.as_ref().is_some_and(|p| {
                p.sources.iter().any(|s| {
                    let r = if secret { &s.secret } else { &s.config_map };
                    r.as_ref().is_some_and(|r| r.name == name)
                })
            })
    })
}

/// Size in bytes of the filesystem holding `path` (or its nearest existing ancestor); 0
/// when it cannot be read.
pub(crate) fn filesystem_bytes(path: &std::path::Path) -> i64 {
    use std::os::unix::ffi::OsStrExt;
    let mut p = Some(path);
    while let Some(dir) = p {
        if dir.exists() {
            let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
                return 0;
            };
            let mut st: libc::statvfs = unsafe_zeroed_statvfs();
            // SAFETY: `c` is a NUL-terminated path that outlives the call and `st` is a
            // valid, writable statvfs; statvfs(3) only writes into it.
            let r = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
            if r != 0 {
                return 0;
            }
            let bytes = u128::from(st.f_blocks) * u128::from(st.f_frsize);
            return bytes.min(i64::MAX as u128) as i64;
        }
        p = dir.parent();
    }
    0
}

fn unsafe_zeroed_statvfs() -> libc::statvfs {
    // SAFETY: statvfs is a plain C struct of integers, for which all-zero bytes are a valid
    // value.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn resource_values_are_divided_and_rounded_up_with_limits_falling_back_to_the_node() {
        let p = pod(json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "100Mi"},
                                            "limits": {"memory": "1Gi"}}},
                {"name": "b"}
            ]}
        }));
        let store = Store::new(
            Arc::new(crate::api::Registry::new()),
            crate::store::StoreConfig::default(),
        );
        let node = NodeConfig::simulated("n", 4000, 8 << 30);
        let f = PodFacts {
            store: &store,
            pod: &p,
            node: &node,
            pod_ip: "127.1.0.1",
            ephemeral_bytes: Box::new(|| 10_000),
        };
        let a = &p.spec.containers[0];
        let v = |res: &str, divisor: Option<&str>, container: Option<&str>| {
            let sel = ResourceFieldSelector {
                resource: res.into(),
                divisor: divisor.map(|d| Quantity(d.into())),
                container_name: container.map(str::to_string),
                ..Default::default()
            };
            f.resource(&sel, a).unwrap()
        };
        assert_eq!(v("requests.cpu", None, None), "1"); // ceil(0.25)
        assert_eq!(v("requests.cpu", Some("1m"), None), "250");
        assert_eq!(v("limits.cpu", None, None), "4"); // node allocatable
        assert_eq!(v("limits.memory", Some("1Mi"), None), "1024");
        assert_eq!(v("requests.memory", Some("1Gi"), None), "1"); // ceil(100Mi / 1Gi)
        assert_eq!(v("requests.memory", None, Some("b")), "0");
        assert_eq!(v("limits.ephemeral-storage", Some("1k"), Some("b")), "10");
        assert_eq!(v("requests.memory", Some("1k"), Some("b")), "0");
        let missing = ResourceFieldSelector {
            resource: "limits.cpu".into(),
            container_name: Some("nope".into()),
            ..Default::default()
        };
        assert_eq!(
            f.resource(&missing, a).unwrap_err(),
            "container nope not found"
        );
    }

    fn service(v: serde_json::Value) -> Service {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn service_variables_are_named_as_the_kubelet_names_them() {
        let s = service(json!({
            "metadata": {"name": "redis-master", "namespace": "default"},
            "spec": {"clusterIP": "127.255.0.11", "ports": [
                {"name": "redis", "port": 6379},
                {"name": "metrics-port", "port": 9121, "protocol": "UDP"}
            ]}
        }));
        let got: Vec<(String, String)> = service_vars(&s);
        let want: Vec<(String, String)> = [
            ("REDIS_MASTER_SERVICE_HOST", "127.255.0.11"),
            ("REDIS_MASTER_SERVICE_PORT", "6379"),
            ("REDIS_MASTER_SERVICE_PORT_REDIS", "6379"),
            ("REDIS_MASTER_SERVICE_PORT_METRICS_PORT", "9121"),
            ("REDIS_MASTER_PORT", "tcp://127.255.0.11:6379"),
            ("REDIS_MASTER_PORT_6379_TCP", "tcp://127.255.0.11:6379"),
            ("REDIS_MASTER_PORT_6379_TCP_PROTO", "tcp"),
            ("REDIS_MASTER_PORT_6379_TCP_PORT", "6379"),
            ("REDIS_MASTER_PORT_6379_TCP_ADDR", "127.255.0.11"),
            ("REDIS_MASTER_PORT_9121_UDP", "udp://127.255.0.11:9121"),
            ("REDIS_MASTER_PORT_9121_UDP_PROTO", "udp"),
            ("REDIS_MASTER_PORT_9121_UDP_PORT", "9121"),
            ("REDIS_MASTER_PORT_9121_UDP_ADDR", "127.255.0.11"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn an_unnamed_single_port_gives_no_port_name_variable() {
        let s = service(json!({
            "metadata": {"name": "web"},
            "spec": {"clusterIP": "127.255.0.2", "ports": [{"port": 80}]}
        }));
        let names: Vec<String> = service_vars(&s).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "WEB_SERVICE_HOST",
                "WEB_SERVICE_PORT",
                "WEB_PORT",
                "WEB_PORT_80_TCP",
                "WEB_PORT_80_TCP_PROTO",
                "WEB_PORT_80_TCP_PORT",
                "WEB_PORT_80_TCP_ADDR"
            ]
        );
    }

    #[test]
    fn headless_services_and_services_without_an_address_give_nothing() {
        for ip in [json!("None"), json!(""), serde_json::Value::Null] {
            let s = service(json!({
                "metadata": {"name": "db"},
                "spec": {"clusterIP": ip, "ports": [{"port": 5432}]}
            }));
            assert!(service_vars(&s).is_empty());
        }
    }

    #[test]
    fn ceil_div_rounds_towards_positive_infinity() {
        assert_eq!(ceil_div(1, 1000), 1);
        assert_eq!(ceil_div(1000, 1000), 1);
        assert_eq!(ceil_div(1001, 1000), 2);
        assert_eq!(ceil_div(0, 7), 0);
        assert_eq!(ceil_div(-1, 1000), 0);
    }
}
