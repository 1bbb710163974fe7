//! The messages read from protobuf: each field's number, JSON name, how its value is
//! written and whether Go writes it only when set (a pointer).
//!
//! From the `generated.proto` files of `k8s.io/api` (core/v1, apps/v1, autoscaling/v2,
//! batch/v1, policy/v1, and the access reviews of authorization/v1)
//! and `k8s.io/apimachinery` (meta/v1), with the pointer fields of their `types.go`; a field
//! of a newer release is a field number these tables do not list, refused. Left out
//! ([`Unread`]): the legacy in-tree cloud and network volume sources, managed fields,
//! ephemeral containers and the statuses of containers and resource claims.

use super::{f, Card::*, Kind::*, Schema};

pub(super) static PERSISTENT_VOLUME_CLAIM: Schema = Schema {
    name: "PersistentVolumeClaim",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&PERSISTENT_VOLUME_CLAIM_SPEC), One),
        f(3, "status", Msg(&PERSISTENT_VOLUME_CLAIM_STATUS), One),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER: Schema = Schema {
    name: "HorizontalPodAutoscaler",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&HORIZONTAL_POD_AUTOSCALER_SPEC), One),
        f(3, "status", Msg(&HORIZONTAL_POD_AUTOSCALER_STATUS), One),
    ],
};

pub(super) static POD: Schema = Schema {
    name: "Pod",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&POD_SPEC), One),
        f(3, "status", Msg(&POD_STATUS), One),
    ],
};

pub(super) static SERVICE: Schema = Schema {
    name: "Service",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&SERVICE_SPEC), One),
        f(3, "status", Msg(&SERVICE_STATUS), One),
    ],
};

pub(super) static DEPLOYMENT: Schema = Schema {
    name: "Deployment",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&DEPLOYMENT_SPEC), One),
        f(3, "status", Msg(&DEPLOYMENT_STATUS), One),
    ],
};

pub(super) static REPLICA_SET: Schema = Schema {
    name: "ReplicaSet",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&REPLICA_SET_SPEC), One),
        f(3, "status", Msg(&REPLICA_SET_STATUS), One),
    ],
};

pub(super) static STATEFUL_SET: Schema = Schema {
    name: "StatefulSet",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&STATEFUL_SET_SPEC), One),
        f(3, "status", Msg(&STATEFUL_SET_STATUS), One),
    ],
};

pub(super) static DAEMON_SET: Schema = Schema {
    name: "DaemonSet",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&DAEMON_SET_SPEC), One),
        f(3, "status", Msg(&DAEMON_SET_STATUS), One),
    ],
};

pub(super) static JOB: Schema = Schema {
    name: "Job",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&JOB_SPEC), One),
        f(3, "status", Msg(&JOB_STATUS), One),
    ],
};

pub(super) static NAMESPACE: Schema = Schema {
    name: "Namespace",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&NAMESPACE_SPEC), One),
        f(3, "status", Msg(&NAMESPACE_STATUS), One),
    ],
};

pub(super) static CONFIG_MAP: Schema = Schema {
    name: "ConfigMap",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "data", MapStr, One),
        f(3, "binaryData", MapBytes, One),
        f(4, "immutable", Bool, Ptr),
    ],
};

pub(super) static SECRET: Schema = Schema {
    name: "Secret",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "data", MapBytes, One),
        f(3, "type", Str, One),
        f(4, "stringData", MapStr, One),
        f(5, "immutable", Bool, Ptr),
    ],
};

pub(super) static POD_DISRUPTION_BUDGET: Schema = Schema {
    name: "PodDisruptionBudget",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&POD_DISRUPTION_BUDGET_SPEC), One),
        f(3, "status", Msg(&POD_DISRUPTION_BUDGET_STATUS), One),
    ],
};

pub(super) static POD_DISRUPTION_BUDGET_SPEC: Schema = Schema {
    name: "PodDisruptionBudgetSpec",
    fields: &[
        f(1, "minAvailable", IntOrString, Ptr),
        f(2, "selector", Msg(&LABEL_SELECTOR), Ptr),
        f(3, "maxUnavailable", IntOrString, Ptr),
        f(4, "unhealthyPodEvictionPolicy", Str, Ptr),
    ],
};

/// `disruptedPods` (a `map<string, Time>`) is the disruption controller's and the eviction
/// path's to write: not read from protobuf.
pub(super) static POD_DISRUPTION_BUDGET_STATUS: Schema = Schema {
    name: "PodDisruptionBudgetStatus",
    fields: &[
        f(1, "observedGeneration", Int, One),
        f(2, "disruptedPods", Unread, Rep),
        f(3, "disruptionsAllowed", Int, One),
        f(4, "currentHealthy", Int, One),
        f(5, "desiredHealthy", Int, One),
        f(6, "expectedPods", Int, One),
        f(7, "conditions", Msg(&CONDITION), Rep),
    ],
};

pub(super) static EVICTION: Schema = Schema {
    name: "Eviction",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "deleteOptions", Msg(&DELETE_OPTIONS), Ptr),
    ],
};

// authorization/v1: what `kubectl auth can-i` posts (the server fills `status`).

pub(super) static SELF_SUBJECT_ACCESS_REVIEW: Schema = Schema {
    name: "SelfSubjectAccessReview",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&SELF_SUBJECT_ACCESS_REVIEW_SPEC), One),
        f(3, "status", Msg(&SUBJECT_ACCESS_REVIEW_STATUS), One),
    ],
};

pub(super) static SELF_SUBJECT_ACCESS_REVIEW_SPEC: Schema = Schema {
    name: "SelfSubjectAccessReviewSpec",
    fields: &[
        f(1, "resourceAttributes", Msg(&RESOURCE_ATTRIBUTES), Ptr),
        f(
            2,
            "nonResourceAttributes",
            Msg(&NON_RESOURCE_ATTRIBUTES),
            Ptr,
        ),
    ],
};

pub(super) static RESOURCE_ATTRIBUTES: Schema = Schema {
    name: "ResourceAttributes",
    fields: &[
        f(1, "namespace", Str, One),
        f(2, "verb", Str, One),
        f(3, "group", Str, One),
        f(4, "version", Str, One),
        f(5, "resource", Str, One),
        f(6, "subresource", Str, One),
        f(7, "name", Str, One),
        f(8, "fieldSelector", Unread, Ptr),
        f(9, "labelSelector", Unread, Ptr),
    ],
};

pub(super) static NON_RESOURCE_ATTRIBUTES: Schema = Schema {
    name: "NonResourceAttributes",
    fields: &[f(1, "path", Str, One), f(2, "verb", Str, One)],
};

pub(super) static SELF_SUBJECT_RULES_REVIEW: Schema = Schema {
    name: "SelfSubjectRulesReview",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&SELF_SUBJECT_RULES_REVIEW_SPEC), One),
        f(3, "status", Msg(&SUBJECT_RULES_REVIEW_STATUS), One),
    ],
};

pub(super) static SUBJECT_ACCESS_REVIEW_STATUS: Schema = Schema {
    name: "SubjectAccessReviewStatus",
    fields: &[
        f(1, "allowed", Bool, One),
        f(2, "reason", Str, One),
        f(3, "evaluationError", Str, One),
        f(4, "denied", Bool, One),
    ],
};

pub(super) static SUBJECT_RULES_REVIEW_STATUS: Schema = Schema {
    name: "SubjectRulesReviewStatus",
    fields: &[
        f(1, "resourceRules", Unread, Rep),
        f(2, "nonResourceRules", Unread, Rep),
        f(3, "incomplete", Bool, One),
        f(4, "evaluationError", Str, One),
    ],
};

pub(super) static SELF_SUBJECT_RULES_REVIEW_SPEC: Schema = Schema {
    name: "SelfSubjectRulesReviewSpec",
    fields: &[f(1, "namespace", Str, One)],
};

pub(super) static DELETE_OPTIONS: Schema = Schema {
    name: "DeleteOptions",
    fields: &[
        f(1, "gracePeriodSeconds", Int, Ptr),
        f(2, "preconditions", Msg(&PRECONDITIONS), Ptr),
        f(3, "orphanDependents", Bool, Ptr),
        f(4, "propagationPolicy", Str, Ptr),
        f(5, "dryRun", Str, Rep),
        f(
            6,
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            Bool,
            Ptr,
        ),
    ],
};

pub(super) static OBJECT_META: Schema = Schema {
    name: "ObjectMeta",
    fields: &[
        f(1, "name", Str, One),
        f(2, "generateName", Str, One),
        f(3, "namespace", Str, One),
        f(4, "selfLink", Str, One),
        f(5, "uid", Str, One),
        f(6, "resourceVersion", Str, One),
        f(7, "generation", Int, One),
        f(8, "creationTimestamp", Time, One),
        f(9, "deletionTimestamp", Time, Ptr),
        f(10, "deletionGracePeriodSeconds", Int, Ptr),
        f(11, "labels", MapStr, One),
        f(12, "annotations", MapStr, One),
        f(13, "ownerReferences", Msg(&OWNER_REFERENCE), Rep),
        f(14, "finalizers", Str, Rep),
        f(17, "managedFields", Unread, Rep),
    ],
};

pub(super) static PERSISTENT_VOLUME_CLAIM_SPEC: Schema = Schema {
    name: "PersistentVolumeClaimSpec",
    fields: &[
        f(1, "accessModes", Str, Rep),
        f(2, "resources", Msg(&VOLUME_RESOURCE_REQUIREMENTS), One),
        f(3, "volumeName", Str, One),
        f(4, "selector", Msg(&LABEL_SELECTOR), Ptr),
        f(5, "storageClassName", Str, Ptr),
        f(6, "volumeMode", Str, Ptr),
        f(7, "dataSource", Msg(&TYPED_LOCAL_OBJECT_REFERENCE), Ptr),
        f(8, "dataSourceRef", Msg(&TYPED_OBJECT_REFERENCE), Ptr),
        f(9, "volumeAttributesClassName", Str, Ptr),
    ],
};

pub(super) static PERSISTENT_VOLUME_CLAIM_STATUS: Schema = Schema {
    name: "PersistentVolumeClaimStatus",
    fields: &[
        f(1, "phase", Str, One),
        f(2, "accessModes", Str, Rep),
        f(3, "capacity", MapQuantity, One),
        f(
            4,
            "conditions",
            Msg(&PERSISTENT_VOLUME_CLAIM_CONDITION),
            Rep,
        ),
        f(5, "allocatedResources", MapQuantity, One),
        f(7, "allocatedResourceStatuses", MapStr, One),
        f(8, "currentVolumeAttributesClassName", Str, Ptr),
        f(9, "modifyVolumeStatus", Msg(&MODIFY_VOLUME_STATUS), Ptr),
        f(10, "healthStatus", Msg(&VOLUME_HEALTH_STATUS), Ptr),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER_SPEC: Schema = Schema {
    name: "HorizontalPodAutoscalerSpec",
    fields: &[
        f(
            1,
            "scaleTargetRef",
            Msg(&CROSS_VERSION_OBJECT_REFERENCE),
            One,
        ),
        f(2, "minReplicas", Int, Ptr),
        f(3, "maxReplicas", Int, One),
        f(4, "metrics", Msg(&METRIC_SPEC), Rep),
        f(5, "behavior", Msg(&HORIZONTAL_POD_AUTOSCALER_BEHAVIOR), Ptr),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER_STATUS: Schema = Schema {
    name: "HorizontalPodAutoscalerStatus",
    fields: &[
        f(1, "observedGeneration", Int, Ptr),
        f(2, "lastScaleTime", Time, Ptr),
        f(3, "currentReplicas", Int, One),
        f(4, "desiredReplicas", Int, One),
        f(5, "currentMetrics", Msg(&METRIC_STATUS), Rep),
        f(
            6,
            "conditions",
            Msg(&HORIZONTAL_POD_AUTOSCALER_CONDITION),
            Rep,
        ),
    ],
};

pub(super) static POD_SPEC: Schema = Schema {
    name: "PodSpec",
    fields: &[
        f(1, "volumes", Msg(&VOLUME), Rep),
        f(2, "containers", Msg(&CONTAINER), Rep),
        f(3, "restartPolicy", Str, One),
        f(4, "terminationGracePeriodSeconds", Int, Ptr),
        f(5, "activeDeadlineSeconds", Int, Ptr),
        f(6, "dnsPolicy", Str, One),
        f(7, "nodeSelector", MapStr, One),
        f(8, "serviceAccountName", Str, One),
        f(9, "serviceAccount", Str, One),
        f(10, "nodeName", Str, One),
        f(11, "hostNetwork", Bool, One),
        f(12, "hostPID", Bool, One),
        f(13, "hostIPC", Bool, One),
        f(14, "securityContext", Msg(&POD_SECURITY_CONTEXT), Ptr),
        f(15, "imagePullSecrets", Msg(&LOCAL_OBJECT_REFERENCE), Rep),
        f(16, "hostname", Str, One),
        f(17, "subdomain", Str, One),
        f(18, "affinity", Msg(&AFFINITY), Ptr),
        f(19, "schedulerName", Str, One),
        f(20, "initContainers", Msg(&CONTAINER), Rep),
        f(21, "automountServiceAccountToken", Bool, Ptr),
        f(22, "tolerations", Msg(&TOLERATION), Rep),
        f(23, "hostAliases", Msg(&HOST_ALIAS), Rep),
        f(24, "priorityClassName", Str, One),
        f(25, "priority", Int, Ptr),
        f(26, "dnsConfig", Msg(&POD_DNS_CONFIG), Ptr),
        f(27, "shareProcessNamespace", Bool, Ptr),
        f(28, "readinessGates", Msg(&POD_READINESS_GATE), Rep),
        f(29, "runtimeClassName", Str, Ptr),
        f(30, "enableServiceLinks", Bool, Ptr),
        f(31, "preemptionPolicy", Str, Ptr),
        f(32, "overhead", MapQuantity, One),
        f(
            33,
            "topologySpreadConstraints",
            Msg(&TOPOLOGY_SPREAD_CONSTRAINT),
            Rep,
        ),
        f(34, "ephemeralContainers", Unread, Rep),
        f(35, "setHostnameAsFQDN", Bool, Ptr),
        f(36, "os", Msg(&POD_OS), Ptr),
        f(37, "hostUsers", Bool, Ptr),
        f(38, "schedulingGates", Msg(&POD_SCHEDULING_GATE), Rep),
        f(39, "resourceClaims", Msg(&POD_RESOURCE_CLAIM), Rep),
        f(40, "resources", Msg(&RESOURCE_REQUIREMENTS), Ptr),
        f(41, "hostnameOverride", Str, Ptr),
        f(43, "schedulingGroup", Unread, Ptr),
        f(44, "evictionResponders", Msg(&EVICTION_RESPONDER), Rep),
    ],
};

pub(super) static POD_STATUS: Schema = Schema {
    name: "PodStatus",
    fields: &[
        f(1, "phase", Str, One),
        f(2, "conditions", Msg(&POD_CONDITION), Rep),
        f(3, "message", Str, One),
        f(4, "reason", Str, One),
        f(5, "hostIP", Str, One),
        f(6, "podIP", Str, One),
        f(7, "startTime", Time, Ptr),
        f(8, "containerStatuses", Unread, Rep),
        f(9, "qosClass", Str, One),
        f(10, "initContainerStatuses", Unread, Rep),
        f(11, "nominatedNodeName", Str, One),
        f(12, "podIPs", Msg(&POD_IP), Rep),
        f(13, "ephemeralContainerStatuses", Unread, Rep),
        f(14, "resize", Str, One),
        f(15, "resourceClaimStatuses", Unread, Rep),
        f(16, "hostIPs", Msg(&HOST_IP), Rep),
        f(17, "observedGeneration", Int, One),
        f(18, "extendedResourceClaimStatus", Unread, Ptr),
        f(19, "allocatedResources", MapQuantity, One),
        f(20, "resources", Msg(&RESOURCE_REQUIREMENTS), Ptr),
        f(21, "nodeAllocatableResourceClaimStatuses", Unread, Rep),
        f(22, "volumeHealth", Msg(&POD_VOLUME_HEALTH), Rep),
    ],
};

pub(super) static SERVICE_SPEC: Schema = Schema {
    name: "ServiceSpec",
    fields: &[
        f(1, "ports", Msg(&SERVICE_PORT), Rep),
        f(2, "selector", MapStr, One),
        f(3, "clusterIP", Str, One),
        f(4, "type", Str, One),
        f(5, "externalIPs", Str, Rep),
        f(7, "sessionAffinity", Str, One),
        f(8, "loadBalancerIP", Str, One),
        f(9, "loadBalancerSourceRanges", Str, Rep),
        f(10, "externalName", Str, One),
        f(11, "externalTrafficPolicy", Str, One),
        f(12, "healthCheckNodePort", Int, One),
        f(13, "publishNotReadyAddresses", Bool, One),
        f(
            14,
            "sessionAffinityConfig",
            Msg(&SESSION_AFFINITY_CONFIG),
            Ptr,
        ),
        f(17, "ipFamilyPolicy", Str, Ptr),
        f(18, "clusterIPs", Str, Rep),
        f(19, "ipFamilies", Str, Rep),
        f(20, "allocateLoadBalancerNodePorts", Bool, Ptr),
        f(21, "loadBalancerClass", Str, Ptr),
        f(22, "internalTrafficPolicy", Str, Ptr),
        f(23, "trafficDistribution", Str, Ptr),
    ],
};

pub(super) static SERVICE_STATUS: Schema = Schema {
    name: "ServiceStatus",
    fields: &[
        f(1, "loadBalancer", Msg(&LOAD_BALANCER_STATUS), One),
        f(2, "conditions", Msg(&CONDITION), Rep),
    ],
};

pub(super) static DEPLOYMENT_SPEC: Schema = Schema {
    name: "DeploymentSpec",
    fields: &[
        f(1, "replicas", Int, Ptr),
        f(2, "selector", Msg(&LABEL_SELECTOR), Ptr),
        f(3, "template", Msg(&POD_TEMPLATE_SPEC), One),
        f(4, "strategy", Msg(&DEPLOYMENT_STRATEGY), One),
        f(5, "minReadySeconds", Int, One),
        f(6, "revisionHistoryLimit", Int, Ptr),
        f(7, "paused", Bool, One),
        f(9, "progressDeadlineSeconds", Int, Ptr),
    ],
};

pub(super) static DEPLOYMENT_STATUS: Schema = Schema {
    name: "DeploymentStatus",
    fields: &[
        f(1, "observedGeneration", Int, One),
        f(2, "replicas", Int, One),
        f(3, "updatedReplicas", Int, One),
        f(4, "availableReplicas", Int, One),
        f(5, "unavailableReplicas", Int, One),
        f(6, "conditions", Msg(&DEPLOYMENT_CONDITION), Rep),
        f(7, "readyReplicas", Int, One),
        f(8, "collisionCount", Int, Ptr),
        f(9, "terminatingReplicas", Int, Ptr),
    ],
};

pub(super) static REPLICA_SET_SPEC: Schema = Schema {
    name: "ReplicaSetSpec",
    fields: &[
        f(1, "replicas", Int, Ptr),
        f(2, "selector", Msg(&LABEL_SELECTOR), Ptr),
        f(3, "template", Msg(&POD_TEMPLATE_SPEC), One),
        f(4, "minReadySeconds", Int, One),
    ],
};

pub(super) static REPLICA_SET_STATUS: Schema = Schema {
    name: "ReplicaSetStatus",
    fields: &[
        f(1, "replicas", Int, One),
        f(2, "fullyLabeledReplicas", Int, One),
        f(3, "observedGeneration", Int, One),
        f(4, "readyReplicas", Int, One),
        f(5, "availableReplicas", Int, One),
        f(6, "conditions", Msg(&REPLICA_SET_CONDITION), Rep),
        f(7, "terminatingReplicas", Int, Ptr),
    ],
};

pub(super) static STATEFUL_SET_SPEC: Schema = Schema {
    name: "StatefulSetSpec",
    fields: &[
        f(1, "replicas", Int, Ptr),
        f(2, "selector", Msg(&LABEL_SELECTOR), Ptr),
        f(3, "template", Msg(&POD_TEMPLATE_SPEC), One),
        f(
            4,
            "volumeClaimTemplates",
            Msg(&PERSISTENT_VOLUME_CLAIM),
            Rep,
        ),
        f(5, "serviceName", Str, One),
        f(6, "podManagementPolicy", Str, One),
        f(7, "updateStrategy", Msg(&STATEFUL_SET_UPDATE_STRATEGY), One),
        f(8, "revisionHistoryLimit", Int, Ptr),
        f(9, "minReadySeconds", Int, One),
        f(
            10,
            "persistentVolumeClaimRetentionPolicy",
            Msg(&STATEFUL_SET_PERSISTENT_VOLUME_CLAIM_RETENTION_POLICY),
            Ptr,
        ),
        f(11, "ordinals", Msg(&STATEFUL_SET_ORDINALS), Ptr),
    ],
};

pub(super) static STATEFUL_SET_STATUS: Schema = Schema {
    name: "StatefulSetStatus",
    fields: &[
        f(1, "observedGeneration", Int, One),
        f(2, "replicas", Int, One),
        f(3, "readyReplicas", Int, One),
        f(4, "currentReplicas", Int, One),
        f(5, "updatedReplicas", Int, One),
        f(6, "currentRevision", Str, One),
        f(7, "updateRevision", Str, One),
        f(9, "collisionCount", Int, Ptr),
        f(10, "conditions", Msg(&STATEFUL_SET_CONDITION), Rep),
        f(11, "availableReplicas", Int, One),
    ],
};

pub(super) static DAEMON_SET_SPEC: Schema = Schema {
    name: "DaemonSetSpec",
    fields: &[
        f(1, "selector", Msg(&LABEL_SELECTOR), Ptr),
        f(2, "template", Msg(&POD_TEMPLATE_SPEC), One),
        f(3, "updateStrategy", Msg(&DAEMON_SET_UPDATE_STRATEGY), One),
        f(4, "minReadySeconds", Int, One),
        f(6, "revisionHistoryLimit", Int, Ptr),
    ],
};

pub(super) static DAEMON_SET_STATUS: Schema = Schema {
    name: "DaemonSetStatus",
    fields: &[
        f(1, "currentNumberScheduled", Int, One),
        f(2, "numberMisscheduled", Int, One),
        f(3, "desiredNumberScheduled", Int, One),
        f(4, "numberReady", Int, One),
        f(5, "observedGeneration", Int, One),
        f(6, "updatedNumberScheduled", Int, One),
        f(7, "numberAvailable", Int, One),
        f(8, "numberUnavailable", Int, One),
        f(9, "collisionCount", Int, Ptr),
        f(10, "conditions", Msg(&DAEMON_SET_CONDITION), Rep),
    ],
};

pub(super) static JOB_SPEC: Schema = Schema {
    name: "JobSpec",
    fields: &[
        f(1, "parallelism", Int, Ptr),
        f(2, "completions", Int, Ptr),
        f(3, "activeDeadlineSeconds", Int, Ptr),
        f(4, "selector", Msg(&LABEL_SELECTOR), Ptr),
        f(5, "manualSelector", Bool, Ptr),
        f(6, "template", Msg(&POD_TEMPLATE_SPEC), One),
        f(7, "backoffLimit", Int, Ptr),
        f(8, "ttlSecondsAfterFinished", Int, Ptr),
        f(9, "completionMode", Str, Ptr),
        f(10, "suspend", Bool, Ptr),
        f(11, "podFailurePolicy", Msg(&POD_FAILURE_POLICY), Ptr),
        f(12, "backoffLimitPerIndex", Int, Ptr),
        f(13, "maxFailedIndexes", Int, Ptr),
        f(14, "podReplacementPolicy", Str, Ptr),
        f(15, "managedBy", Str, Ptr),
        f(16, "successPolicy", Msg(&SUCCESS_POLICY), Ptr),
        f(17, "scheduling", Msg(&JOB_SCHEDULING_CONFIGURATION), Ptr),
    ],
};

pub(super) static JOB_STATUS: Schema = Schema {
    name: "JobStatus",
    fields: &[
        f(1, "conditions", Msg(&JOB_CONDITION), Rep),
        f(2, "startTime", Time, Ptr),
        f(3, "completionTime", Time, Ptr),
        f(4, "active", Int, One),
        f(5, "succeeded", Int, One),
        f(6, "failed", Int, One),
        f(7, "completedIndexes", Str, One),
        f(
            8,
            "uncountedTerminatedPods",
            Msg(&UNCOUNTED_TERMINATED_PODS),
            Ptr,
        ),
        f(9, "ready", Int, Ptr),
        f(10, "failedIndexes", Str, Ptr),
        f(11, "terminating", Int, Ptr),
    ],
};

pub(super) static NAMESPACE_SPEC: Schema = Schema {
    name: "NamespaceSpec",
    fields: &[f(1, "finalizers", Str, Rep)],
};

pub(super) static NAMESPACE_STATUS: Schema = Schema {
    name: "NamespaceStatus",
    fields: &[
        f(1, "phase", Str, One),
        f(2, "conditions", Msg(&NAMESPACE_CONDITION), Rep),
    ],
};

pub(super) static PRECONDITIONS: Schema = Schema {
    name: "Preconditions",
    fields: &[f(1, "uid", Str, Ptr), f(2, "resourceVersion", Str, Ptr)],
};

pub(super) static OWNER_REFERENCE: Schema = Schema {
    name: "OwnerReference",
    fields: &[
        f(1, "kind", Str, One),
        f(3, "name", Str, One),
        f(4, "uid", Str, One),
        f(5, "apiVersion", Str, One),
        f(6, "controller", Bool, Ptr),
        f(7, "blockOwnerDeletion", Bool, Ptr),
    ],
};

pub(super) static LABEL_SELECTOR: Schema = Schema {
    name: "LabelSelector",
    fields: &[
        f(1, "matchLabels", MapStr, One),
        f(2, "matchExpressions", Msg(&LABEL_SELECTOR_REQUIREMENT), Rep),
    ],
};

pub(super) static VOLUME_RESOURCE_REQUIREMENTS: Schema = Schema {
    name: "VolumeResourceRequirements",
    fields: &[
        f(1, "limits", MapQuantity, One),
        f(2, "requests", MapQuantity, One),
    ],
};

pub(super) static TYPED_LOCAL_OBJECT_REFERENCE: Schema = Schema {
    name: "TypedLocalObjectReference",
    fields: &[
        f(1, "apiGroup", Str, Ptr),
        f(2, "kind", Str, One),
        f(3, "name", Str, One),
    ],
};

pub(super) static TYPED_OBJECT_REFERENCE: Schema = Schema {
    name: "TypedObjectReference",
    fields: &[
        f(1, "apiGroup", Str, Ptr),
        f(2, "kind", Str, One),
        f(3, "name", Str, One),
        f(4, "namespace", Str, Ptr),
    ],
};

pub(super) static PERSISTENT_VOLUME_CLAIM_CONDITION: Schema = Schema {
    name: "PersistentVolumeClaimCondition",
    fields: &[
        f(1, "type", Str, One),
        f(2, "status", Str, One),
        f(3, "lastProbeTime", Time, One),
        f(4, "lastTransitionTime", Time, One),
        f(5, "reason", Str, One),
        f(6, "message", Str, One),
    ],
};

pub(super) static MODIFY_VOLUME_STATUS: Schema = Schema {
    name: "ModifyVolumeStatus",
    fields: &[
        f(1, "targetVolumeAttributesClassName", Str, One),
        f(2, "status", Str, One),
    ],
};

pub(super) static VOLUME_HEALTH_STATUS: Schema = Schema {
    name: "VolumeHealthStatus",
    fields: &[
        f(1, "healthConditions", Msg(&VOLUME_HEALTH_CONDITION), Rep),
        f(2, "lastTransitionTime", Time, One),
    ],
};

pub(super) static CROSS_VERSION_OBJECT_REFERENCE: Schema = Schema {
    name: "CrossVersionObjectReference",
    fields: &[
        f(1, "kind", Str, One),
        f(2, "name", Str, One),
        f(3, "apiVersion", Str, One),
    ],
};

pub(super) static METRIC_SPEC: Schema = Schema {
    name: "MetricSpec",
    fields: &[
        f(1, "type", Str, One),
        f(2, "object", Msg(&OBJECT_METRIC_SOURCE), Ptr),
        f(3, "pods", Msg(&PODS_METRIC_SOURCE), Ptr),
        f(4, "resource", Msg(&RESOURCE_METRIC_SOURCE), Ptr),
        f(5, "external", Msg(&EXTERNAL_METRIC_SOURCE), Ptr),
        f(
            7,
            "containerResource",
            Msg(&CONTAINER_RESOURCE_METRIC_SOURCE),
            Ptr,
        ),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER_BEHAVIOR: Schema = Schema {
    name: "HorizontalPodAutoscalerBehavior",
    fields: &[
        f(1, "scaleUp", Msg(&HPA_SCALING_RULES), Ptr),
        f(2, "scaleDown", Msg(&HPA_SCALING_RULES), Ptr),
    ],
};

pub(super) static METRIC_STATUS: Schema = Schema {
    name: "MetricStatus",
    fields: &[
        f(1, "type", Str, One),
        f(2, "object", Msg(&OBJECT_METRIC_STATUS), Ptr),
        f(3, "pods", Msg(&PODS_METRIC_STATUS), Ptr),
        f(4, "resource", Msg(&RESOURCE_METRIC_STATUS), Ptr),
        f(5, "external", Msg(&EXTERNAL_METRIC_STATUS), Ptr),
        f(
            7,
            "containerResource",
            Msg(&CONTAINER_RESOURCE_METRIC_STATUS),
            Ptr,
        ),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER_CONDITION: Schema = Schema {
    name: "HorizontalPodAutoscalerCondition",
    fields: &[
        f(1, "type", Str, One),
        f(2, "status", Str, One),
        f(3, "lastTransitionTime", Time, One),
        f(4, "reason", Str, One),
        f(5, "message", Str, One),
        f(6, "observedGeneration", Int, Ptr),
    ],
};

pub(super) static VOLUME: Schema = Schema {
    name: "Volume",
    fields: &[
        f(1, "name", Str, One),
        f(2, "volumeSource", Inline(&VOLUME_SOURCE), One),
    ],
};

pub(super) static CONTAINER: Schema = Schema {
    name: "Container",
    fields: &[
        f(1, "name", Str, One),
        f(2, "image", Str, One),
        f(3, "command", Str, Rep),
        f(4, "args", Str, Rep),
        f(5, "workingDir", Str, One),
        f(6, "ports", Msg(&CONTAINER_PORT), Rep),
        f(7, "env", Msg(&ENV_VAR), Rep),
        f(8, "resources", Msg(&RESOURCE_REQUIREMENTS), One),
        f(9, "volumeMounts", Msg(&VOLUME_MOUNT), Rep),
        f(10, "livenessProbe", Msg(&PROBE), Ptr),
        f(11, "readinessProbe", Msg(&PROBE), Ptr),
        f(12, "lifecycle", Msg(&LIFECYCLE), Ptr),
        f(13, "terminationMessagePath", Str, One),
        f(14, "imagePullPolicy", Str, One),
        f(15, "securityContext", Msg(&SECURITY_CONTEXT), Ptr),
        f(16, "stdin", Bool, One),
        f(17, "stdinOnce", Bool, One),
        f(18, "tty", Bool, One),
        f(19, "envFrom", Msg(&ENV_FROM_SOURCE), Rep),
        f(20, "terminationMessagePolicy", Str, One),
        f(21, "volumeDevices", Msg(&VOLUME_DEVICE), Rep),
        f(22, "startupProbe", Msg(&PROBE), Ptr),
        f(23, "resizePolicy", Msg(&CONTAINER_RESIZE_POLICY), Rep),
        f(24, "restartPolicy", Str, Ptr),
        f(25, "restartPolicyRules", Msg(&CONTAINER_RESTART_RULE), Rep),
    ],
};

pub(super) static POD_SECURITY_CONTEXT: Schema = Schema {
    name: "PodSecurityContext",
    fields: &[
        f(1, "seLinuxOptions", Msg(&SE_LINUX_OPTIONS), Ptr),
        f(2, "runAsUser", Int, Ptr),
        f(3, "runAsNonRoot", Bool, Ptr),
        f(4, "supplementalGroups", Int, Rep),
        f(5, "fsGroup", Int, Ptr),
        f(6, "runAsGroup", Int, Ptr),
        f(7, "sysctls", Msg(&SYSCTL), Rep),
        f(
            8,
            "windowsOptions",
            Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS),
            Ptr,
        ),
        f(9, "fsGroupChangePolicy", Str, Ptr),
        f(10, "seccompProfile", Msg(&SECCOMP_PROFILE), Ptr),
        f(11, "appArmorProfile", Msg(&APP_ARMOR_PROFILE), Ptr),
        f(12, "supplementalGroupsPolicy", Str, Ptr),
        f(13, "seLinuxChangePolicy", Str, Ptr),
    ],
};

pub(super) static LOCAL_OBJECT_REFERENCE: Schema = Schema {
    name: "LocalObjectReference",
    fields: &[f(1, "name", Str, One)],
};

pub(super) static AFFINITY: Schema = Schema {
    name: "Affinity",
    fields: &[
        f(1, "nodeAffinity", Msg(&NODE_AFFINITY), Ptr),
        f(2, "podAffinity", Msg(&POD_AFFINITY), Ptr),
        f(3, "podAntiAffinity", Msg(&POD_ANTI_AFFINITY), Ptr),
    ],
};

pub(super) static TOLERATION: Schema = Schema {
    name: "Toleration",
    fields: &[
        f(1, "key", Str, One),
        f(2, "operator", Str, One),
        f(3, "value", Str, One),
        f(4, "effect", Str, One),
        f(5, "tolerationSeconds", Int, Ptr),
    ],
};

pub(super) static HOST_ALIAS: Schema = Schema {
    name: "HostAlias",
    fields: &[f(1, "ip", Str, One), f(2, "hostnames", Str, Rep)],
};

pub(super) static POD_DNS_CONFIG: Schema = Schema {
    name: "PodDNSConfig",
    fields: &[
        f(1, "nameservers", Str, Rep),
        f(2, "searches", Str, Rep),
        f(3, "options", Msg(&POD_DNS_CONFIG_OPTION), Rep),
    ],
};

pub(super) static POD_READINESS_GATE: Schema = Schema {
    name: "PodReadinessGate",
    fields: &[f(1, "conditionType", Str, One)],
};

pub(super) static TOPOLOGY_SPREAD_CONSTRAINT: Schema = Schema {
    name: "TopologySpreadConstraint",
    fields: &[
        f(1, "maxSkew", Int, One),
        f(2, "topologyKey", Str, One),
        f(3, "whenUnsatisfiable", Str, One),
        f(4, "labelSelector", Msg(&LABEL_SELECTOR), Ptr),
        f(5, "minDomains", Int, Ptr),
        f(6, "nodeAffinityPolicy", Str, Ptr),
        f(7, "nodeTaintsPolicy", Str, Ptr),
        f(8, "matchLabelKeys", Str, Rep),
    ],
};

pub(super) static POD_OS: Schema = Schema {
    name: "PodOS",
    fields: &[f(1, "name", Str, One)],
};

pub(super) static POD_SCHEDULING_GATE: Schema = Schema {
    name: "PodSchedulingGate",
    fields: &[f(1, "name", Str, One)],
};

pub(super) static POD_RESOURCE_CLAIM: Schema = Schema {
    name: "PodResourceClaim",
    fields: &[
        f(1, "name", Str, One),
        f(3, "resourceClaimName", Str, Ptr),
        f(4, "resourceClaimTemplateName", Str, Ptr),
    ],
};

pub(super) static RESOURCE_REQUIREMENTS: Schema = Schema {
    name: "ResourceRequirements",
    fields: &[
        f(1, "limits", MapQuantity, One),
        f(2, "requests", MapQuantity, One),
        f(3, "claims", Msg(&RESOURCE_CLAIM), Rep),
    ],
};

pub(super) static EVICTION_RESPONDER: Schema = Schema {
    name: "EvictionResponder",
    fields: &[f(1, "name", Str, One), f(2, "priority", Int, Ptr)],
};

pub(super) static POD_CONDITION: Schema = Schema {
    name: "PodCondition",
    fields: &[
        f(1, "type", Str, One),
        f(2, "status", Str, One),
        f(3, "lastProbeTime", Time, One),
        f(4, "lastTransitionTime", Time, One),
        f(5, "reason", Str, One),
        f(6, "message", Str, One),
        f(7, "observedGeneration", Int, One),
    ],
};

pub(super) static HOST_IP: Schema = Schema {
    name: "HostIP",
    fields: &[f(1, "ip", Str, One)],
};

pub(super) static POD_IP: Schema = Schema {
    name: "PodIP",
    fields: &[f(1, "ip", Str, One)],
};

pub(super) static POD_VOLUME_HEALTH: Schema = Schema {
    name: "PodVolumeHealth",
    fields: &[
        f(1, "name", Str, One),
        f(2, "healthConditions", Msg(&VOLUME_HEALTH_CONDITION), Rep),
        f(3, "lastTransitionTime", Time, One),
    ],
};

pub(super) static SERVICE_PORT: Schema = Schema {
    name: "ServicePort",
    fields: &[
        f(1, "name", Str, One),
        f(2, "protocol", Str, One),
        f(3, "port", Int, One),
        f(4, "targetPort", IntOrString, One),
        f(5, "nodePort", Int, One),
        f(6, "appProtocol", Str, Ptr),
    ],
};

pub(super) static SESSION_AFFINITY_CONFIG: Schema = Schema {
    name: "SessionAffinityConfig",
    fields: &[f(1, "clientIP", Msg(&CLIENT_IP_CONFIG), Ptr)],
};

pub(super) static LOAD_BALANCER_STATUS: Schema = Schema {
    name: "LoadBalancerStatus",
    fields: &[f(1, "ingress", Unread, Rep)],
};

pub(super) static CONDITION: Schema = Schema {
    name: "Condition",
    fields: &[
        f(1, "type", Str, One),
        f(2, "status", Str, One),
        f(3, "observedGeneration", Int, One),
        f(4, "lastTransitionTime", Time, One),
        f(5, "reason", Str, One),
        f(6, "message", Str, One),
    ],
};

pub(super) static POD_TEMPLATE_SPEC: Schema = Schema {
    name: "PodTemplateSpec",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), One),
        f(2, "spec", Msg(&POD_SPEC), One),
    ],
};

pub(super) static DEPLOYMENT_STRATEGY: Schema = Schema {
    name: "DeploymentStrategy",
    fields: &[
        f(1, "type", Str, One),
        f(2, "rollingUpdate", Msg(&ROLLING_UPDATE_DEPLOYMENT), Ptr),
    ],
};

pub(super) static DEPLOYMENT_CONDITION: Schema = Schema {
    name: "DeploymentCondition",
    fields: &[
        f(1, "type", Str, One),
        f(2, "status", Str, One),
        f(4, "reason", Str, One),
        f(5, "message", Str, One),
        f(6, "lastUpdateTime", Time, One),
        f(7, "lastTransitionTime", Time, One),
    ],
};

pub(super) static REPLICA_SET_CONDITION: Schema = Schema {
    name: "ReplicaSetCondition",
    fields: &[
        f(1, "type", Str, One),
        f(2, "status", Str, One),
        f(3, "lastTransitionTime", Time, One),
        f(4, "reason", Str, One),
        f(5, "message", Str, One),
    ],
};

pub(super) static STATEFUL_SET_UPDATE_STRATEGY: Schema = Schema {
    name: "StatefulSetUpdateStrategy",
    fields: &[
        f(1, "type", Str, One),
        f(
            2,
            "rollingUpdate",
            Msg(&ROLLING_UPDATE_STATEFUL_SET_STRATEGY),
            Ptr,
        ),
    ],
};

pub(super) static STATEFUL_SET_PERSISTENT_VOLUME_CLAIM_RETENTION_POLICY: Schema = Schema {
    name: "StatefulSetPersistentVolumeClaimRetentionPolicy",
    fields: &[f(1, "whenDeleted", Str, One), f(2, "whenScaled", Str, One)],
};

pub(super) static STATEFUL_SET_ORDINALS: Schema = Schema {
    name: "StatefulSetOrdinals",
    fields: &[f(1, "start", Int, One)],
};

pub(super) static STATEFUL_SET_CONDITION: Schema = Schema {
    name: "StatefulSetCondition",
    fields: &[
        f(1, "type", Str, One),
        f(2, "status", Str, One),
        f(3, "lastTransitionTime", Time, One),
        f(4, "reason", Str, One),
        f(5, "message", Str, One),
    ],
};

pub(super) static DAEMON_SET_UPDATE_STRATEGY: Schema = Schema {
    name: "DaemonSetUpdateStrategy",
    fields: &[
        f(1, "type", Str, One),
        f(2, "rollingUpdate", Msg(&ROLLING_UPDATE_DAEMON_SET), Ptr),
    ],
};

pub(super) static DAEMON_SET_CONDITION: Schema = Schema {
    name: "DaemonSetCondition",
    fields: &[
        f(1, "type", Str, One),
        f(2, "status", Str, One),
        f(3, "lastTransitionTime", Time, One),
        f(4, "reason", Str, One),
        f(5, "message", Str, One),
    ],
};

pub(super) static POD_FAILURE_POLICY: Schema = Schema {
    name: "PodFailurePolicy",
    fields: &[f(1, "rules", Msg(&POD_FAILURE_POLICY_RULE), Rep)],
};

pub(super) static SUCCESS_POLICY: Schema = Schema {
    name: "SuccessPolicy",
    fields: &[f(1, "rules", Msg(&SUCCESS_POLICY_RULE), Rep)],
};

pub(super) static JOB_SCHEDULING_CONFIGURATION: Schema = Schema {
    name: "JobSchedulingConfiguration",
    fields: &[
        f(1, "schedulingPolicy", Unread, Ptr),
        f(2, "schedulingConstraints", Unread, Ptr),
        f(3, "disruptionMode", Unread, Ptr),
        f(4, "resourceClaims", Unread, Rep),
    ],
};

pub(super) static JOB_CONDITION: Schema = Schema {
    name: "JobCondition",
    fields: &[
        f(1, "type", Str, One),
        f(2, "status", Str, One),
        f(3, "lastProbeTime", Time, One),
        f(4, "lastTransitionTime", Time, One),
        f(5, "reason", Str, One),
        f(6, "message", Str, One),
    ],
};

pub(super) static UNCOUNTED_TERMINATED_PODS: Schema = Schema {
    name: "UncountedTerminatedPods",
    fields: &[f(1, "succeeded", Str, Rep), f(2, "failed", Str, Rep)],
};

pub(super) static NAMESPACE_CONDITION: Schema = Schema {
    name: "NamespaceCondition",
    fields: &[
        f(1, "type", Str, One),
        f(2, "status", Str, One),
        f(4, "lastTransitionTime", Time, One),
        f(5, "reason", Str, One),
        f(6, "message", Str, One),
    ],
};

pub(super) static LABEL_SELECTOR_REQUIREMENT: Schema = Schema {
    name: "LabelSelectorRequirement",
    fields: &[
        f(1, "key", Str, One),
        f(2, "operator", Str, One),
        f(3, "values", Str, Rep),
    ],
};

pub(super) static VOLUME_HEALTH_CONDITION: Schema = Schema {
    name: "VolumeHealthCondition",
    fields: &[
        f(1, "status", Str, One),
        f(2, "reason", Str, One),
        f(3, "message", Str, One),
    ],
};

pub(super) static OBJECT_METRIC_SOURCE: Schema = Schema {
    name: "ObjectMetricSource",
    fields: &[
        f(
            1,
            "describedObject",
            Msg(&CROSS_VERSION_OBJECT_REFERENCE),
            One,
        ),
        f(2, "target", Msg(&METRIC_TARGET), One),
        f(3, "metric", Msg(&METRIC_IDENTIFIER), One),
    ],
};

pub(super) static PODS_METRIC_SOURCE: Schema = Schema {
    name: "PodsMetricSource",
    fields: &[
        f(1, "metric", Msg(&METRIC_IDENTIFIER), One),
        f(2, "target", Msg(&METRIC_TARGET), One),
    ],
};

pub(super) static RESOURCE_METRIC_SOURCE: Schema = Schema {
    name: "ResourceMetricSource",
    fields: &[
        f(1, "name", Str, One),
        f(2, "target", Msg(&METRIC_TARGET), One),
    ],
};

pub(super) static CONTAINER_RESOURCE_METRIC_SOURCE: Schema = Schema {
    name: "ContainerResourceMetricSource",
    fields: &[
        f(1, "name", Str, One),
        f(2, "target", Msg(&METRIC_TARGET), One),
        f(3, "container", Str, One),
    ],
};

pub(super) static EXTERNAL_METRIC_SOURCE: Schema = Schema {
    name: "ExternalMetricSource",
    fields: &[
        f(1, "metric", Msg(&METRIC_IDENTIFIER), One),
        f(2, "target", Msg(&METRIC_TARGET), One),
    ],
};

pub(super) static HPA_SCALING_RULES: Schema = Schema {
    name: "HPAScalingRules",
    fields: &[
        f(1, "selectPolicy", Str, Ptr),
        f(2, "policies", Msg(&HPA_SCALING_POLICY), Rep),
        f(3, "stabilizationWindowSeconds", Int, Ptr),
        f(4, "tolerance", Quantity, Ptr),
    ],
};

pub(super) static OBJECT_METRIC_STATUS: Schema = Schema {
    name: "ObjectMetricStatus",
    fields: &[
        f(1, "metric", Msg(&METRIC_IDENTIFIER), One),
        f(2, "current", Msg(&METRIC_VALUE_STATUS), One),
        f(
            3,
            "describedObject",
            Msg(&CROSS_VERSION_OBJECT_REFERENCE),
            One,
        ),
    ],
};

pub(super) static PODS_METRIC_STATUS: Schema = Schema {
    name: "PodsMetricStatus",
    fields: &[
        f(1, "metric", Msg(&METRIC_IDENTIFIER), One),
        f(2, "current", Msg(&METRIC_VALUE_STATUS), One),
    ],
};

pub(super) static RESOURCE_METRIC_STATUS: Schema = Schema {
    name: "ResourceMetricStatus",
    fields: &[
        f(1, "name", Str, One),
        f(2, "current", Msg(&METRIC_VALUE_STATUS), One),
    ],
};

pub(super) static CONTAINER_RESOURCE_METRIC_STATUS: Schema = Schema {
    name: "ContainerResourceMetricStatus",
    fields: &[
        f(1, "name", Str, One),
        f(2, "current", Msg(&METRIC_VALUE_STATUS), One),
        f(3, "container", Str, One),
    ],
};

pub(super) static EXTERNAL_METRIC_STATUS: Schema = Schema {
    name: "ExternalMetricStatus",
    fields: &[
        f(1, "metric", Msg(&METRIC_IDENTIFIER), One),
        f(2, "current", Msg(&METRIC_VALUE_STATUS), One),
    ],
};

pub(super) static VOLUME_SOURCE: Schema = Schema {
    name: "VolumeSource",
    fields: &[
        f(1, "hostPath", Msg(&HOST_PATH_VOLUME_SOURCE), Ptr),
        f(2, "emptyDir", Msg(&EMPTY_DIR_VOLUME_SOURCE), Ptr),
        f(3, "gcePersistentDisk", Unread, Ptr),
        f(4, "awsElasticBlockStore", Unread, Ptr),
        f(5, "gitRepo", Unread, Ptr),
        f(6, "secret", Msg(&SECRET_VOLUME_SOURCE), Ptr),
        f(7, "nfs", Unread, Ptr),
        f(8, "iscsi", Unread, Ptr),
        f(9, "glusterfs", Unread, Ptr),
        f(
            10,
            "persistentVolumeClaim",
            Msg(&PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE),
            Ptr,
        ),
        f(11, "rbd", Unread, Ptr),
        f(12, "flexVolume", Unread, Ptr),
        f(13, "cinder", Unread, Ptr),
        f(14, "cephfs", Unread, Ptr),
        f(15, "flocker", Unread, Ptr),
        f(16, "downwardAPI", Msg(&DOWNWARD_API_VOLUME_SOURCE), Ptr),
        f(17, "fc", Unread, Ptr),
        f(18, "azureFile", Unread, Ptr),
        f(19, "configMap", Msg(&CONFIG_MAP_VOLUME_SOURCE), Ptr),
        f(20, "vsphereVolume", Unread, Ptr),
        f(21, "quobyte", Unread, Ptr),
        f(22, "azureDisk", Unread, Ptr),
        f(23, "photonPersistentDisk", Unread, Ptr),
        f(24, "portworxVolume", Unread, Ptr),
        f(25, "scaleIO", Unread, Ptr),
        f(26, "projected", Msg(&PROJECTED_VOLUME_SOURCE), Ptr),
        f(27, "storageos", Unread, Ptr),
        f(28, "csi", Unread, Ptr),
        f(29, "ephemeral", Unread, Ptr),
        f(30, "image", Unread, Ptr),
    ],
};

pub(super) static CONTAINER_PORT: Schema = Schema {
    name: "ContainerPort",
    fields: &[
        f(1, "name", Str, One),
        f(2, "hostPort", Int, One),
        f(3, "containerPort", Int, One),
        f(4, "protocol", Str, One),
        f(5, "hostIP", Str, One),
    ],
};

pub(super) static ENV_FROM_SOURCE: Schema = Schema {
    name: "EnvFromSource",
    fields: &[
        f(1, "prefix", Str, One),
        f(2, "configMapRef", Msg(&CONFIG_MAP_ENV_SOURCE), Ptr),
        f(3, "secretRef", Msg(&SECRET_ENV_SOURCE), Ptr),
    ],
};

pub(super) static ENV_VAR: Schema = Schema {
    name: "EnvVar",
    fields: &[
        f(1, "name", Str, One),
        f(2, "value", Str, One),
        f(3, "valueFrom", Msg(&ENV_VAR_SOURCE), Ptr),
    ],
};

pub(super) static CONTAINER_RESIZE_POLICY: Schema = Schema {
    name: "ContainerResizePolicy",
    fields: &[
        f(1, "resourceName", Str, One),
        f(2, "restartPolicy", Str, One),
    ],
};

pub(super) static CONTAINER_RESTART_RULE: Schema = Schema {
    name: "ContainerRestartRule",
    fields: &[
        f(1, "action", Str, One),
        f(
            2,
            "exitCodes",
            Msg(&CONTAINER_RESTART_RULE_ON_EXIT_CODES),
            Ptr,
        ),
    ],
};

pub(super) static VOLUME_MOUNT: Schema = Schema {
    name: "VolumeMount",
    fields: &[
        f(1, "name", Str, One),
        f(2, "readOnly", Bool, One),
        f(3, "mountPath", Str, One),
        f(4, "subPath", Str, One),
        f(5, "mountPropagation", Str, Ptr),
        f(6, "subPathExpr", Str, One),
        f(7, "recursiveReadOnly", Str, Ptr),
        f(8, "bindMountOptions", Str, Rep),
    ],
};

pub(super) static VOLUME_DEVICE: Schema = Schema {
    name: "VolumeDevice",
    fields: &[f(1, "name", Str, One), f(2, "devicePath", Str, One)],
};

pub(super) static PROBE: Schema = Schema {
    name: "Probe",
    fields: &[
        f(1, "handler", Inline(&PROBE_HANDLER), One),
        f(2, "initialDelaySeconds", Int, One),
        f(3, "timeoutSeconds", Int, One),
        f(4, "periodSeconds", Int, One),
        f(5, "successThreshold", Int, One),
        f(6, "failureThreshold", Int, One),
        f(7, "terminationGracePeriodSeconds", Int, Ptr),
    ],
};

pub(super) static LIFECYCLE: Schema = Schema {
    name: "Lifecycle",
    fields: &[
        f(1, "postStart", Msg(&LIFECYCLE_HANDLER), Ptr),
        f(2, "preStop", Msg(&LIFECYCLE_HANDLER), Ptr),
        f(3, "stopSignal", Str, Ptr),
    ],
};

pub(super) static SECURITY_CONTEXT: Schema = Schema {
    name: "SecurityContext",
    fields: &[
        f(1, "capabilities", Msg(&CAPABILITIES), Ptr),
        f(2, "privileged", Bool, Ptr),
        f(3, "seLinuxOptions", Msg(&SE_LINUX_OPTIONS), Ptr),
        f(4, "runAsUser", Int, Ptr),
        f(5, "runAsNonRoot", Bool, Ptr),
        f(6, "readOnlyRootFilesystem", Bool, Ptr),
        f(7, "allowPrivilegeEscalation", Bool, Ptr),
        f(8, "runAsGroup", Int, Ptr),
        f(9, "procMount", Str, Ptr),
        f(
            10,
            "windowsOptions",
            Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS),
            Ptr,
        ),
        f(11, "seccompProfile", Msg(&SECCOMP_PROFILE), Ptr),
        f(12, "appArmorProfile", Msg(&APP_ARMOR_PROFILE), Ptr),
    ],
};

pub(super) static SE_LINUX_OPTIONS: Schema = Schema {
    name: "SELinuxOptions",
    fields: &[
        f(1, "user", Str, One),
        f(2, "role", Str, One),
        f(3, "type", Str, One),
        f(4, "level", Str, One),
    ],
};

pub(super) static WINDOWS_SECURITY_CONTEXT_OPTIONS: Schema = Schema {
    name: "WindowsSecurityContextOptions",
    fields: &[
        f(1, "gmsaCredentialSpecName", Str, Ptr),
        f(2, "gmsaCredentialSpec", Str, Ptr),
        f(3, "runAsUserName", Str, Ptr),
        f(4, "hostProcess", Bool, Ptr),
    ],
};

pub(super) static SYSCTL: Schema = Schema {
    name: "Sysctl",
    fields: &[f(1, "name", Str, One), f(2, "value", Str, One)],
};

pub(super) static SECCOMP_PROFILE: Schema = Schema {
    name: "SeccompProfile",
    fields: &[f(1, "type", Str, One), f(2, "localhostProfile", Str, Ptr)],
};

pub(super) static APP_ARMOR_PROFILE: Schema = Schema {
    name: "AppArmorProfile",
    fields: &[f(1, "type", Str, One), f(2, "localhostProfile", Str, Ptr)],
};

pub(super) static NODE_AFFINITY: Schema = Schema {
    name: "NodeAffinity",
    fields: &[
        f(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&NODE_SELECTOR),
            Ptr,
        ),
        f(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&PREFERRED_SCHEDULING_TERM),
            Rep,
        ),
    ],
};

pub(super) static POD_AFFINITY: Schema = Schema {
    name: "PodAffinity",
    fields: &[
        f(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&POD_AFFINITY_TERM),
            Rep,
        ),
        f(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&WEIGHTED_POD_AFFINITY_TERM),
            Rep,
        ),
    ],
};

pub(super) static POD_ANTI_AFFINITY: Schema = Schema {
    name: "PodAntiAffinity",
    fields: &[
        f(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&POD_AFFINITY_TERM),
            Rep,
        ),
        f(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&WEIGHTED_POD_AFFINITY_TERM),
            Rep,
        ),
    ],
};

pub(super) static POD_DNS_CONFIG_OPTION: Schema = Schema {
    name: "PodDNSConfigOption",
    fields: &[f(1, "name", Str, One), f(2, "value", Str, Ptr)],
};

pub(super) static RESOURCE_CLAIM: Schema = Schema {
    name: "ResourceClaim",
    fields: &[f(1, "name", Str, One), f(2, "request", Str, One)],
};

pub(super) static CLIENT_IP_CONFIG: Schema = Schema {
    name: "ClientIPConfig",
    fields: &[f(1, "timeoutSeconds", Int, Ptr)],
};

pub(super) static ROLLING_UPDATE_DEPLOYMENT: Schema = Schema {
    name: "RollingUpdateDeployment",
    fields: &[
        f(1, "maxUnavailable", IntOrString, Ptr),
        f(2, "maxSurge", IntOrString, Ptr),
    ],
};

pub(super) static ROLLING_UPDATE_STATEFUL_SET_STRATEGY: Schema = Schema {
    name: "RollingUpdateStatefulSetStrategy",
    fields: &[
        f(1, "partition", Int, Ptr),
        f(2, "maxUnavailable", IntOrString, Ptr),
    ],
};

pub(super) static ROLLING_UPDATE_DAEMON_SET: Schema = Schema {
    name: "RollingUpdateDaemonSet",
    fields: &[
        f(1, "maxUnavailable", IntOrString, Ptr),
        f(2, "maxSurge", IntOrString, Ptr),
    ],
};

pub(super) static POD_FAILURE_POLICY_RULE: Schema = Schema {
    name: "PodFailurePolicyRule",
    fields: &[
        f(1, "action", Str, One),
        f(
            2,
            "onExitCodes",
            Msg(&POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT),
            Ptr,
        ),
        f(
            3,
            "onPodConditions",
            Msg(&POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN),
            Rep,
        ),
    ],
};

pub(super) static SUCCESS_POLICY_RULE: Schema = Schema {
    name: "SuccessPolicyRule",
    fields: &[
        f(1, "succeededIndexes", Str, Ptr),
        f(2, "succeededCount", Int, Ptr),
    ],
};

pub(super) static METRIC_TARGET: Schema = Schema {
    name: "MetricTarget",
    fields: &[
        f(1, "type", Str, One),
        f(2, "value", Quantity, Ptr),
        f(3, "averageValue", Quantity, Ptr),
        f(4, "averageUtilization", Int, Ptr),
    ],
};

pub(super) static METRIC_IDENTIFIER: Schema = Schema {
    name: "MetricIdentifier",
    fields: &[
        f(1, "name", Str, One),
        f(2, "selector", Msg(&LABEL_SELECTOR), Ptr),
    ],
};

pub(super) static HPA_SCALING_POLICY: Schema = Schema {
    name: "HPAScalingPolicy",
    fields: &[
        f(1, "type", Str, One),
        f(2, "value", Int, One),
        f(3, "periodSeconds", Int, One),
    ],
};

pub(super) static METRIC_VALUE_STATUS: Schema = Schema {
    name: "MetricValueStatus",
    fields: &[
        f(1, "value", Quantity, Ptr),
        f(2, "averageValue", Quantity, Ptr),
        f(3, "averageUtilization", Int, Ptr),
    ],
};

pub(super) static HOST_PATH_VOLUME_SOURCE: Schema = Schema {
    name: "HostPathVolumeSource",
    fields: &[f(1, "path", Str, One), f(2, "type", Str, Ptr)],
};

pub(super) static EMPTY_DIR_VOLUME_SOURCE: Schema = Schema {
    name: "EmptyDirVolumeSource",
    fields: &[
        f(1, "medium", Str, One),
        f(2, "sizeLimit", Quantity, Ptr),
        f(3, "mode", Int, Ptr),
    ],
};

pub(super) static SECRET_VOLUME_SOURCE: Schema = Schema {
    name: "SecretVolumeSource",
    fields: &[
        f(1, "secretName", Str, One),
        f(2, "items", Msg(&KEY_TO_PATH), Rep),
        f(3, "defaultMode", Int, Ptr),
        f(4, "optional", Bool, Ptr),
        f(5, "defaultUser", Int, Ptr),
    ],
};

pub(super) static PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: Schema = Schema {
    name: "PersistentVolumeClaimVolumeSource",
    fields: &[f(1, "claimName", Str, One), f(2, "readOnly", Bool, One)],
};

pub(super) static DOWNWARD_API_VOLUME_SOURCE: Schema = Schema {
    name: "DownwardAPIVolumeSource",
    fields: &[
        f(1, "items", Msg(&DOWNWARD_API_VOLUME_FILE), Rep),
        f(2, "defaultMode", Int, Ptr),
        f(3, "defaultUser", Int, Ptr),
    ],
};

pub(super) static CONFIG_MAP_VOLUME_SOURCE: Schema = Schema {
    name: "ConfigMapVolumeSource",
    fields: &[
        f(
            1,
            "localObjectReference",
            Inline(&LOCAL_OBJECT_REFERENCE),
            One,
        ),
        f(2, "items", Msg(&KEY_TO_PATH), Rep),
        f(3, "defaultMode", Int, Ptr),
        f(4, "optional", Bool, Ptr),
        f(5, "defaultUser", Int, Ptr),
    ],
};

pub(super) static PROJECTED_VOLUME_SOURCE: Schema = Schema {
    name: "ProjectedVolumeSource",
    fields: &[
        f(1, "sources", Msg(&VOLUME_PROJECTION), Rep),
        f(2, "defaultMode", Int, Ptr),
        f(3, "defaultUser", Int, Ptr),
    ],
};

pub(super) static CONFIG_MAP_ENV_SOURCE: Schema = Schema {
    name: "ConfigMapEnvSource",
    fields: &[
        f(
            1,
            "localObjectReference",
            Inline(&LOCAL_OBJECT_REFERENCE),
            One,
        ),
        f(2, "optional", Bool, Ptr),
    ],
};

pub(super) static SECRET_ENV_SOURCE: Schema = Schema {
    name: "SecretEnvSource",
    fields: &[
        f(
            1,
            "localObjectReference",
            Inline(&LOCAL_OBJECT_REFERENCE),
            One,
        ),
        f(2, "optional", Bool, Ptr),
    ],
};

pub(super) static ENV_VAR_SOURCE: Schema = Schema {
    name: "EnvVarSource",
    fields: &[
        f(1, "fieldRef", Msg(&OBJECT_FIELD_SELECTOR), Ptr),
        f(2, "resourceFieldRef", Msg(&RESOURCE_FIELD_SELECTOR), Ptr),
        f(3, "configMapKeyRef", Msg(&CONFIG_MAP_KEY_SELECTOR), Ptr),
        f(4, "secretKeyRef", Msg(&SECRET_KEY_SELECTOR), Ptr),
        f(5, "fileKeyRef", Msg(&FILE_KEY_SELECTOR), Ptr),
    ],
};

pub(super) static CONTAINER_RESTART_RULE_ON_EXIT_CODES: Schema = Schema {
    name: "ContainerRestartRuleOnExitCodes",
    fields: &[f(1, "operator", Str, One), f(2, "values", Int, Rep)],
};

pub(super) static PROBE_HANDLER: Schema = Schema {
    name: "ProbeHandler",
    fields: &[
        f(1, "exec", Msg(&EXEC_ACTION), Ptr),
        f(2, "httpGet", Msg(&HTTP_GET_ACTION), Ptr),
        f(3, "tcpSocket", Msg(&TCP_SOCKET_ACTION), Ptr),
        f(4, "grpc", Msg(&GRPC_ACTION), Ptr),
    ],
};

pub(super) static LIFECYCLE_HANDLER: Schema = Schema {
    name: "LifecycleHandler",
    fields: &[
        f(1, "exec", Msg(&EXEC_ACTION), Ptr),
        f(2, "httpGet", Msg(&HTTP_GET_ACTION), Ptr),
        f(3, "tcpSocket", Msg(&TCP_SOCKET_ACTION), Ptr),
        f(4, "sleep", Msg(&SLEEP_ACTION), Ptr),
    ],
};

pub(super) static CAPABILITIES: Schema = Schema {
    name: "Capabilities",
    fields: &[f(1, "add", Str, Rep), f(2, "drop", Str, Rep)],
};

pub(super) static NODE_SELECTOR: Schema = Schema {
    name: "NodeSelector",
    fields: &[f(1, "nodeSelectorTerms", Msg(&NODE_SELECTOR_TERM), Rep)],
};

pub(super) static PREFERRED_SCHEDULING_TERM: Schema = Schema {
    name: "PreferredSchedulingTerm",
    fields: &[
        f(1, "weight", Int, One),
        f(2, "preference", Msg(&NODE_SELECTOR_TERM), One),
    ],
};

pub(super) static POD_AFFINITY_TERM: Schema = Schema {
    name: "PodAffinityTerm",
    fields: &[
        f(1, "labelSelector", Msg(&LABEL_SELECTOR), Ptr),
        f(2, "namespaces", Str, Rep),
        f(3, "topologyKey", Str, One),
        f(4, "namespaceSelector", Msg(&LABEL_SELECTOR), Ptr),
        f(5, "matchLabelKeys", Str, Rep),
        f(6, "mismatchLabelKeys", Str, Rep),
    ],
};

pub(super) static WEIGHTED_POD_AFFINITY_TERM: Schema = Schema {
    name: "WeightedPodAffinityTerm",
    fields: &[
        f(1, "weight", Int, One),
        f(2, "podAffinityTerm", Msg(&POD_AFFINITY_TERM), One),
    ],
};

pub(super) static POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT: Schema = Schema {
    name: "PodFailurePolicyOnExitCodesRequirement",
    fields: &[
        f(1, "containerName", Str, Ptr),
        f(2, "operator", Str, One),
        f(3, "values", Int, Rep),
    ],
};

pub(super) static POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN: Schema = Schema {
    name: "PodFailurePolicyOnPodConditionsPattern",
    fields: &[f(1, "type", Str, One), f(2, "status", Str, One)],
};

pub(super) static KEY_TO_PATH: Schema = Schema {
    name: "KeyToPath",
    fields: &[
        f(1, "key", Str, One),
        f(2, "path", Str, One),
        f(3, "mode", Int, Ptr),
        f(4, "user", Int, Ptr),
    ],
};

pub(super) static DOWNWARD_API_VOLUME_FILE: Schema = Schema {
    name: "DownwardAPIVolumeFile",
    fields: &[
        f(1, "path", Str, One),
        f(2, "fieldRef", Msg(&OBJECT_FIELD_SELECTOR), Ptr),
        f(3, "resourceFieldRef", Msg(&RESOURCE_FIELD_SELECTOR), Ptr),
        f(4, "mode", Int, Ptr),
        f(5, "user", Int, Ptr),
    ],
};

pub(super) static VOLUME_PROJECTION: Schema = Schema {
    name: "VolumeProjection",
    fields: &[
        f(1, "secret", Msg(&SECRET_PROJECTION), Ptr),
        f(2, "downwardAPI", Msg(&DOWNWARD_API_PROJECTION), Ptr),
        f(3, "configMap", Msg(&CONFIG_MAP_PROJECTION), Ptr),
        f(
            4,
            "serviceAccountToken",
            Msg(&SERVICE_ACCOUNT_TOKEN_PROJECTION),
            Ptr,
        ),
        f(5, "clusterTrustBundle", Unread, Ptr),
        f(6, "podCertificate", Unread, Ptr),
    ],
};

pub(super) static OBJECT_FIELD_SELECTOR: Schema = Schema {
    name: "ObjectFieldSelector",
    fields: &[f(1, "apiVersion", Str, One), f(2, "fieldPath", Str, One)],
};

pub(super) static RESOURCE_FIELD_SELECTOR: Schema = Schema {
    name: "ResourceFieldSelector",
    fields: &[
        f(1, "containerName", Str, One),
        f(2, "resource", Str, One),
        f(3, "divisor", Quantity, One),
    ],
};

pub(super) static CONFIG_MAP_KEY_SELECTOR: Schema = Schema {
    name: "ConfigMapKeySelector",
    fields: &[
        f(
            1,
            "localObjectReference",
            Inline(&LOCAL_OBJECT_REFERENCE),
            One,
        ),
        f(2, "key", Str, One),
        f(3, "optional", Bool, Ptr),
    ],
};

pub(super) static SECRET_KEY_SELECTOR: Schema = Schema {
    name: "SecretKeySelector",
    fields: &[
        f(
            1,
            "localObjectReference",
            Inline(&LOCAL_OBJECT_REFERENCE),
            One,
        ),
        f(2, "key", Str, One),
        f(3, "optional", Bool, Ptr),
    ],
};

pub(super) static FILE_KEY_SELECTOR: Schema = Schema {
    name: "FileKeySelector",
    fields: &[
        f(1, "volumeName", Str, One),
        f(2, "path", Str, One),
        f(3, "key", Str, One),
        f(4, "optional", Bool, Ptr),
    ],
};

pub(super) static EXEC_ACTION: Schema = Schema {
    name: "ExecAction",
    fields: &[f(1, "command", Str, Rep)],
};

pub(super) static HTTP_GET_ACTION: Schema = Schema {
    name: "HTTPGetAction",
    fields: &[
        f(1, "path", Str, One),
        f(2, "port", IntOrString, One),
        f(3, "host", Str, One),
        f(4, "scheme", Str, One),
        f(5, "httpHeaders", Msg(&HTTP_HEADER), Rep),
        f(6, "protocol", Str, Ptr),
    ],
};

pub(super) static TCP_SOCKET_ACTION: Schema = Schema {
    name: "TCPSocketAction",
    fields: &[f(1, "port", IntOrString, One), f(2, "host", Str, One)],
};

pub(super) static GRPC_ACTION: Schema = Schema {
    name: "GRPCAction",
    fields: &[
        f(1, "port", Int, One),
        f(2, "service", Str, Ptr),
        f(3, "mode", Str, Ptr),
    ],
};

pub(super) static SLEEP_ACTION: Schema = Schema {
    name: "SleepAction",
    fields: &[f(1, "seconds", Int, One)],
};

pub(super) static NODE_SELECTOR_TERM: Schema = Schema {
    name: "NodeSelectorTerm",
    fields: &[
        f(1, "matchExpressions", Msg(&NODE_SELECTOR_REQUIREMENT), Rep),
        f(2, "matchFields", Msg(&NODE_SELECTOR_REQUIREMENT), Rep),
    ],
};

pub(super) static SECRET_PROJECTION: Schema = Schema {
    name: "SecretProjection",
    fields: &[
        f(
            1,
            "localObjectReference",
            Inline(&LOCAL_OBJECT_REFERENCE),
            One,
        ),
        f(2, "items", Msg(&KEY_TO_PATH), Rep),
        f(4, "optional", Bool, Ptr),
    ],
};

pub(super) static DOWNWARD_API_PROJECTION: Schema = Schema {
    name: "DownwardAPIProjection",
    fields: &[f(1, "items", Msg(&DOWNWARD_API_VOLUME_FILE), Rep)],
};

pub(super) static CONFIG_MAP_PROJECTION: Schema = Schema {
    name: "ConfigMapProjection",
    fields: &[
        f(
            1,
            "localObjectReference",
            Inline(&LOCAL_OBJECT_REFERENCE),
            One,
        ),
        f(2, "items", Msg(&KEY_TO_PATH), Rep),
        f(4, "optional", Bool, Ptr),
    ],
};

pub(super) static SERVICE_ACCOUNT_TOKEN_PROJECTION: Schema = Schema {
    name: "ServiceAccountTokenProjection",
    fields: &[
        f(1, "audience", Str, One),
        f(2, "expirationSeconds", Int, Ptr),
        f(3, "path", Str, One),
        f(4, "user", Int, Ptr),
    ],
};

pub(super) static HTTP_HEADER: Schema = Schema {
    name: "HTTPHeader",
    fields: &[f(1, "name", Str, One), f(2, "value", Str, One)],
};

pub(super) static NODE_SELECTOR_REQUIREMENT: Schema = Schema {
    name: "NodeSelectorRequirement",
    fields: &[
        f(1, "key", Str, One),
        f(2, "operator", Str, One),
        f(3, "values", Str, Rep),
    ],
};
