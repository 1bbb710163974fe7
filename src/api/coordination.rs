//! coordination.k8s.io/v1 kinds: [`Lease`].

use super::validation::check_min;
use super::{ApiVersion, Extra, FieldError, Kind, ObjectMeta, Time};
use serde::{Deserialize, Serialize};

/// A Lease (coordination.k8s.io/v1): a lock held by one holder at a time (leader election,
/// node heartbeats).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct Lease {
    /// `apiVersion`: always `coordination.k8s.io/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Lease`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The lease.
    #[serde(default)]
    pub spec: LeaseSpec,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Lease,
    api_version = "coordination.k8s.io/v1",
    kind = "Lease",
    plural = "leases",
    namespaced = true,
    spec = [spec, extra],
    status = [],
    validate = validate_lease
);

/// Admission checks of a [`Lease`]: leaseDurationSeconds >= 1 and leaseTransitions >= 0.
pub fn validate_lease(lease: &Lease, errors: &mut Vec<FieldError>) {
    if let Some(d) = lease.spec.lease_duration_seconds {
        check_min(errors, "spec.leaseDurationSeconds", d.into(), 1);
    }
    if let Some(t) = lease.spec.lease_transitions {
        check_min(errors, "spec.leaseTransitions", t.into(), 0);
    }
}

/// A lease's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LeaseSpec {
    /// Current holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_identity: Option<String>,
    /// Seconds the holder's claim lasts after `renew_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration_seconds: Option<i32>,
    /// When the current holder acquired the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquire_time: Option<Time>,
    /// When the holder last renewed the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_time: Option<Time>,
    /// Times the lease changed holders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_transitions: Option<i32>,
    /// Unmodelled fields (preferredHolder, strategy).
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Object;
    use serde_json::json;

    #[test]
    fn lease_round_trips_and_validates() {
        let v = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "controller-leader", "namespace": "kube-system"},
            "spec": {
                "holderIdentity": "node-1_abc",
                "leaseDurationSeconds": 15,
                "leaseTransitions": 3,
                "strategy": "OldestEmulationVersion"
            }
        });
        let mut lease: Lease = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&lease).unwrap(), v);
        let mut errors = Vec::new();
        lease.validate(&mut errors);
        assert!(errors.is_empty());

        let before = lease.clone();
        lease.spec.holder_identity = Some("node-2_def".into());
        assert!(!lease.spec_eq(&before));

        lease.spec.lease_duration_seconds = Some(0);
        lease.spec.lease_transitions = Some(-1);
        lease.validate(&mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["spec.leaseDurationSeconds", "spec.leaseTransitions"]
        );
    }
}
