//! Helpers the core kinds' tests share, and the round trip of the small kinds together.

use super::*;
use crate::api::FieldError;
use crate::api::Object;
use serde::Serialize;
use serde_json::{json, Value};

pub(super) fn round_trip<K: serde::de::DeserializeOwned + Serialize>(v: Value) -> K {
    let k: K = serde_json::from_value(v.clone()).expect("decodes");
    assert_eq!(serde_json::to_value(&k).expect("encodes"), v);
    k
}

pub(super) fn fields(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

pub(super) fn probe_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "goproxy", "labels": {"app": "goproxy"}},
        "spec": {
            "containers": [{
                "name": "goproxy",
                "image": "registry.k8s.io/goproxy:0.1",
                "imagePullPolicy": "IfNotPresent",
                "securityContext": {"runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}},
                "ports": [{"containerPort": 8080, "name": "http"}],
                "env": [
                    {"name": "MODE", "value": "proxy"},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
                ],
                "resources": {
                    "requests": {"cpu": "250m", "memory": "64Mi"},
                    "limits": {"cpu": "500m", "memory": "128Mi"}
                },
                "readinessProbe": {
                    "tcpSocket": {"port": 8080},
                    "initialDelaySeconds": 15,
                    "periodSeconds": 10
                },
                "livenessProbe": {
                    "httpGet": {
                        "path": "/healthz",
                        "port": "http",
                        "httpHeaders": [{"name": "Custom-Header", "value": "Awesome"}]
                    },
                    "initialDelaySeconds": 15,
                    "periodSeconds": 10,
                    "failureThreshold": 3
                },
                "startupProbe": {
                    "exec": {"command": ["cat", "/tmp/healthy"]},
                    "failureThreshold": 30,
                    "periodSeconds": 10
                },
                "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]
            }],
            "volumes": [{"name": "cache", "emptyDir": {"sizeLimit": "500Mi"}}],
            "tolerations": [{"key": "example", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{
                            "matchExpressions": [{
                                "key": "topology.kubernetes.io/zone",
                                "operator": "In",
                                "values": ["antarctica-east1", "antarctica-west1"]
                            }]
                        }]
                    },
                    "preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 1,
                        "preference": {
                            "matchExpressions": [{
                                "key": "another-node-label-key",
                                "operator": "In",
                                "values": ["another-node-label-value"]
                            }]
                        }
                    }]
                },
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": {"app": "goproxy"}},
                        "topologyKey": "kubernetes.io/hostname"
                    }
                }]}
            },
            "dnsPolicy": "ClusterFirst"
        }
    })
}

#[test]
fn endpoints_event_pvc_namespace_and_config_map_round_trip() {
    round_trip::<Endpoints>(json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "my-service"},
        "subsets": [{
            "addresses": [{"ip": "10.1.0.5", "nodeName": "node-1",
                "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "default", "uid": "u1"}}],
            "notReadyAddresses": [{"ip": "10.1.0.6"}],
            "ports": [{"name": "http", "port": 9376, "protocol": "TCP"}]
        }]
    }));
    let ev: Event = round_trip(json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web-0.17a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "default",
            "apiVersion": "v1", "fieldPath": "spec.containers{nginx}"},
        "reason": "Pulled",
        "message": "Container image already present on machine",
        "type": "Normal",
        "count": 3,
        "source": {"component": "kubelet", "host": "node-1"},
        "reportingComponent": "kubelet",
        "reportingInstance": "node-1",
        "action": "Pull"
    }));
    let mut other = ev.clone();
    other.count = Some(4);
    assert!(!ev.spec_eq(&other));
    round_trip::<PersistentVolumeClaim>(json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": "8Gi"}}, "storageClassName": "slow"},
        "status": {"phase": "Bound", "capacity": {"storage": "8Gi"}, "accessModes": ["ReadWriteOnce"]}
    }));
    round_trip::<Namespace>(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}}),
    );
    let cm: ConfigMap = round_trip(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "game-demo"},
        "data": {"player_initial_lives": "3", "game.properties": "enemy.types=aliens\n"},
        "binaryData": {"bin": "AAE="}
    }));
    let mut errors = Vec::new();
    cm.validate(&mut errors);
    assert_eq!(errors, vec![]);
}
