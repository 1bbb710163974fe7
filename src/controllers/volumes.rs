//! PersistentVolumeClaims as host directories.
//!
//! steady has no storage provisioner: a claim is bound to the directory
//! `<data_dir>/claims/<namespace>/<claim name>` of the node agent's data directory (see
//! [`KubeletConfig::data_dir`](crate::node::KubeletConfig::data_dir)), which the node agent
//! creates when a pod first mounts the claim and never deletes, so a replaced pod finds what
//! its predecessor wrote. A pod never mounts a claim that does not exist: its containers
//! wait for it (`CreateContainerConfigError`), so a misspelt `claimName` cannot start a pod
//! on a new, empty directory. A container learns the path from the environment variable
//! `STEADY_VOLUME_<VOLUME NAME>` (upper-cased, other characters as `_`), and runs in it when
//! it mounts it first and has no `workingDir`.
//!
//! - [`controller`] (the "binder") marks every claim `Bound` at once, with the requested
//!   storage as its capacity and its access modes: the directory needs no provisioning.
//!   Capacity is not enforced.
//! - [`claim_name`] names the claims of StatefulSet pods (`<template>-<set>-<ordinal>`) and
//!   refuses names that are not DNS-1123 subdomains, so no claim name can contain `/` or
//!   `..` and escape the data directory (the node agent checks again before it mounts).

use crate::api::{
    PersistentVolumeClaim, PersistentVolumeClaimStatus, PersistentVolumeClaimVolumeSource, Volume,
};
use crate::runtime::{Action, Context, Controller, ReconcileResult};

/// The binder's name (metrics, events).
pub const NAME: &str = "persistentvolume-binder";

/// Claim phase `Bound`.
pub const BOUND: &str = "Bound";

/// The binder: every claim is bound to its host directory (see the module documentation).
pub fn controller() -> Controller {
    Controller::for_kind::<PersistentVolumeClaim>(NAME).build(reconcile)
}

/// One reconcile of the claim `ctx.key()`: bind it when it is not bound yet.
pub fn reconcile(ctx: &Context) -> ReconcileResult {
    let Some(claim) = ctx.get::<PersistentVolumeClaim>() else {
        return Ok(Action::done());
    };
    if claim.metadata.deletion_timestamp.is_some() {
        return Ok(Action::done());
    }
    let status = bound_status(&claim);
    if claim.status.as_ref() == Some(&status) {
        return Ok(Action::done());
    }
    let mut next = (*claim).clone();
    next.status = Some(status);
    match ctx.api::<PersistentVolumeClaim>().update_status(&next) {
        Ok(_) => Ok(Action::done()),
        // Changed meanwhile: its event brings the next reconcile.
        Err(e) if e.is_conflict() || e.is_not_found() => Ok(Action::done()),
        Err(e) => Err(e.into()),
    }
}

/// The status of a bound claim: phase `Bound`, the requested storage as capacity, the
/// requested access modes; conditions and other fields kept.
pub fn bound_status(claim: &PersistentVolumeClaim) -> PersistentVolumeClaimStatus {
    let mut status = claim.status.clone().unwrap_or_default();
    status.phase = Some(BOUND.to_string());
    status.capacity = claim
        .spec
        .resources
        .as_ref()
        .map(|r| {
            r.requests
                .iter()
                .filter(|(k, _)| k.as_str() == "storage")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    status.access_modes = claim.spec.access_modes.clone();
    status
}

/// True once a claim is bound.
pub fn is_bound(claim: &PersistentVolumeClaim) -> bool {
    claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(BOUND)
}

/// The name of the claim of template `template` for pod `<set>-<ordinal>`:
/// `<template>-<set>-<ordinal>`; an error naming the template when that is not a DNS-1123
/// subdomain (too long, or characters a path could use to escape the data directory).
pub fn claim_name(template: &str, set: &str, ordinal: i32) -> Result<String, String> {
    let name = format!("{template}-{set}-{ordinal}");
    crate::api::validation::dns1123_subdomain(&name).map_err(|e| {
        format!("volumeClaimTemplates {template:?}: claim name {name:?} is invalid: {e}")
    })?;
    Ok(name)
}

/// A pod volume named `volume` that mounts the claim `claim`.
pub fn claim_volume(volume: &str, claim: &str) -> Volume {
    Volume {
        name: volume.to_string(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Quantity, ResourceRequirements};

    #[test]
    fn claim_names_that_could_escape_the_data_directory_are_refused() {
        assert_eq!(claim_name("data", "web", 2).unwrap(), "data-web-2");
        for bad in ["../x", "a/b", "..", "UP", ""] {
            let e = claim_name(bad, "web", 0).unwrap_err();
            assert!(e.contains("volumeClaimTemplates"), "{e}");
        }
        assert!(claim_name(&"a".repeat(250), "web", 0).is_err());
    }

    #[test]
    fn a_bound_claim_reports_its_request_as_capacity() {
        let mut c = PersistentVolumeClaim::default();
        c.spec.access_modes = vec!["ReadWriteOnce".into()];
        let mut r = ResourceRequirements::default();
        r.requests
            .insert("storage".into(), Quantity::parse("1Gi").unwrap());
        c.spec.resources = Some(r);
        let s = bound_status(&c);
        assert_eq!(s.phase.as_deref(), Some(BOUND));
        assert_eq!(
            s.capacity.get("storage").map(|q| q.to_string()),
            Some("1Gi".into())
        );
        assert_eq!(s.access_modes, ["ReadWriteOnce"]);
    }
}
