//! The built-in kinds and their registration.

use super::{
    ConfigMap, ControllerRevision, CronJob, CustomResourceDefinition, DaemonSet, Deployment,
    Endpoints, Event, HorizontalPodAutoscaler, Job, KindInfo, Lease, Namespace, Node,
    PersistentVolumeClaim, Pod, PodDisruptionBudget, PriorityClass, Registry, ReplicaSet, Secret,
    Service, StatefulSet,
};

/// Calls `$m!` with every built-in kind.
macro_rules! for_each_builtin {
    ($m:ident) => {
        $m!(
            Pod,
            Node,
            Namespace,
            Service,
            Endpoints,
            Event,
            ConfigMap,
            Secret,
            PersistentVolumeClaim,
            ReplicaSet,
            Deployment,
            StatefulSet,
            DaemonSet,
            ControllerRevision,
            Job,
            CronJob,
            HorizontalPodAutoscaler,
            Lease,
            PodDisruptionBudget,
            PriorityClass,
            CustomResourceDefinition
        )
    };
}

/// Registers every built-in kind (core/v1, apps/v1, batch/v1, autoscaling/v2,
/// coordination.k8s.io/v1, policy/v1, scheduling.k8s.io/v1, apiextensions.k8s.io/v1) as a typed kind. A kind already registered under the same name is
/// left as it is.
pub fn register_builtins(registry: &Registry) {
    macro_rules! register {
        ($($k:ty),*) => { $( registry.register_type::<$k>(); )* };
    }
    for_each_builtin!(register);
}

/// The registrations of every built-in kind.
pub fn builtin_kinds() -> Vec<KindInfo> {
    macro_rules! infos {
        ($($k:ty),*) => { vec![$( KindInfo::of::<$k>() ),*] };
    }
    for_each_builtin!(infos)
}

/// The OpenAPI v3 schema of every built-in kind, each a reference into `generator`'s
/// definitions (`#/components/schemas/<name>` with [`SchemaSettings::openapi3`]).
///
/// [`SchemaSettings::openapi3`]: schemars::generate::SchemaSettings::openapi3
#[cfg(feature = "apiserver")]
pub(crate) fn builtin_schemas(
    generator: &mut schemars::SchemaGenerator,
) -> Vec<(KindInfo, schemars::Schema)> {
    macro_rules! schemas {
        ($($k:ty),*) => { vec![$( (KindInfo::of::<$k>(), generator.subschema_for::<$k>()) ),*] };
    }
    for_each_builtin!(schemas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DynamicObject;
    use serde_json::json;

    #[test]
    fn register_builtins_registers_every_kind_typed_with_its_scope() {
        let registry = Registry::new();
        register_builtins(&registry);
        let kinds = builtin_kinds();
        assert_eq!(registry.all().len(), kinds.len());
        for info in &kinds {
            let got = registry.get(&info.kind).expect("registered");
            assert!(!got.is_dynamic(), "{}", info.kind);
            assert_eq!(got.api_version, info.api_version);
            let cluster_scoped = matches!(
                info.kind.as_str(),
                "Node" | "Namespace" | "PriorityClass" | "CustomResourceDefinition"
            );
            assert_eq!(got.namespaced, !cluster_scoped, "{}", info.kind);
        }
        assert!(registry.get("Deployment").unwrap().holds::<Deployment>());
        assert_eq!(registry.get("StatefulSet").unwrap().api_version, "apps/v1");
        assert_eq!(
            registry.get("HorizontalPodAutoscaler").unwrap().api_version,
            "autoscaling/v2"
        );
        assert_eq!(registry.get("Lease").unwrap().plural, "leases");
    }

    #[test]
    fn registered_kind_decodes_to_its_type_and_names_bad_fields() {
        let registry = Registry::new();
        register_builtins(&registry);
        let info = registry.get("Deployment").unwrap();
        let obj = info
            .decode(json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}}
            }))
            .unwrap();
        let d = obj.as_any().downcast_ref::<Deployment>().expect("typed");
        assert_eq!(d.spec.replicas, Some(2));
        assert_eq!(DynamicObject::from_object(obj.as_ref()).kind, "Deployment");

        let err = info
            .decode(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "two"}}),
            )
            .unwrap_err();
        assert_eq!(err.field, "spec.replicas");
    }

    #[test]
    fn register_builtins_keeps_an_existing_registration() {
        let registry = Registry::new();
        registry.register(KindInfo::dynamic("v1", "Pod", true));
        register_builtins(&registry);
        assert!(registry.get("Pod").unwrap().is_dynamic());
        assert!(!registry.get("Node").unwrap().is_dynamic());
    }
}
