//! Service virtual addresses (`spec.clusterIP`): the range reserved for them, what a requested
//! address must be, and the allocator that gives every Service one of its own, as
//! kube-apiserver's ClusterIP allocator does.
//!
//! The range is [`SERVICE_CIDR`], `127.255.0.0/16`: on loopback, so it works on any Linux
//! host without configuration (all of 127.0.0.0/8 reaches the loopback interface), and apart
//! from pod addresses (the node agent hands out `127.1.0.1` up to `127.254.255.254`) and from
//! the host's `127.0.0.1`. The first and last addresses of the range are never handed out.
//!
//! Who needs an address: every Service but a headless one (`clusterIP: None`) and an
//! `ExternalName` one. The store makes `spec.clusterIP` a unique field (see
//! [`UniqueField`](crate::store::UniqueField)): [`ClusterIpAllocator::allocate`] fills it as
//! the Service is committed, under the store's lock of the Service kind, and a requested
//! address that another Service holds is refused there. Both checks run under that one lock,
//! which is what makes allocation race-free; the allocator's cursor only spreads picks.

use super::core::Service;
use super::object::Object;
use crate::error::FieldError;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};

/// The range Service addresses come from, in CIDR notation.
pub const SERVICE_CIDR: &str = "127.255.0.0/16";

/// First address of [`SERVICE_CIDR`] (the network address, never handed out).
const BASE: u32 = u32::from_be_bytes([127, 255, 0, 0]);
/// Addresses in the range, the network and broadcast addresses included.
const SIZE: u32 = 1 << 16;

/// The path of the field, as errors name it.
pub const CLUSTER_IP_FIELD: &str = "spec.clusterIP";

/// Whether `ip` is an address Services may hold: in [`SERVICE_CIDR`], neither its first
/// nor its last address.
pub fn in_service_range(ip: Ipv4Addr) -> bool {
    let n = u32::from(ip);
    n > BASE && n < BASE + SIZE - 1
}

/// The address a Service holds: `spec.clusterIP` unless empty or `None` (headless).
pub fn cluster_ip(svc: &Service) -> Option<&str> {
    svc.spec
        .cluster_ip
        .as_deref()
        .filter(|ip| !ip.is_empty() && *ip != "None")
}

/// Whether a Service should hold an address: neither headless nor `ExternalName`.
pub fn needs_cluster_ip(svc: &Service) -> bool {
    svc.spec.cluster_ip.as_deref() != Some("None")
        && svc.spec.type_.as_deref() != Some("ExternalName")
}

/// Checks a requested `spec.clusterIP` (validation of every Service write): empty, `None`, or
/// an IPv4 address of [`SERVICE_CIDR`], with kube-apiserver's messages.
pub fn validate_cluster_ip(svc: &Service, errors: &mut Vec<FieldError>) {
    let Some(ip) = cluster_ip(svc) else { return };
    let invalid = |why: String| FieldError::new(CLUSTER_IP_FIELD, why);
    match ip.parse::<Ipv4Addr>() {
        Err(_) => errors.push(invalid(format!(
            "Invalid value: {ip:?}: must be empty, 'None', or a valid IPv4 address"
        ))),
        Ok(addr) if !in_service_range(addr) => errors.push(invalid(format!(
            "Invalid value: {ip:?}: provided IP is not in the valid range. The range of valid \
             IPs is {SERVICE_CIDR}"
        ))),
        Ok(_) => {}
    }
}

/// An update that leaves `spec.clusterIP` out keeps the address the Service holds, as
/// kube-apiserver does (`kubectl apply` of the manifest the Service came from).
pub fn keep_allocated(new: &mut dyn Object, old: Option<&dyn Object>) {
    let (Some(new), Some(old)) = (
        new.as_any_mut().downcast_mut::<Service>(),
        old.and_then(|o| o.as_any().downcast_ref::<Service>()),
    ) else {
        return;
    };
    if new.spec.cluster_ip.as_deref().unwrap_or("").is_empty() {
        if let Some(ip) = cluster_ip(old) {
            new.spec.cluster_ip = Some(ip.to_string());
        }
    }
}

/// Hands out Service addresses. Picks go round the range from a cursor that starts at a
/// random place (so two engines on one host rarely pick the same addresses) and moves past
/// every pick, so an address freed by a deleted Service is reused last.
#[derive(Debug)]
pub struct ClusterIpAllocator {
    /// Offset in the range of the next address to try.
    next: AtomicU32,
}

/// The message of a requested address that another Service holds.
pub const ALREADY_ALLOCATED: &str = "provided IP is already allocated";

impl ClusterIpAllocator {
    /// An allocator whose first pick is at `seed` (any number; taken modulo the range).
    pub fn new(seed: u32) -> Self {
        ClusterIpAllocator {
            next: AtomicU32::new(seed % SIZE),
        }
    }

    /// Gives `obj` (a Service without an address) a free address, unless it needs none.
    /// `taken` says whether another Service holds an address. Called by the store under the
    /// Service kind's lock, so no other pick or commit runs meanwhile; the cursor is atomic
    /// only so the allocator is `Sync`.
    pub fn allocate(
        &self,
        obj: &mut dyn Object,
        taken: &dyn Fn(&str) -> bool,
    ) -> Result<(), FieldError> {
        let Some(svc) = obj.as_any_mut().downcast_mut::<Service>() else {
            return Ok(());
        };
        if !needs_cluster_ip(svc) || cluster_ip(svc).is_some() {
            return Ok(());
        }
        let start = self.next.load(Ordering::Relaxed);
        for i in 0..SIZE {
            let offset = (start + i) % SIZE;
            let ip = Ipv4Addr::from(BASE + offset);
            if !in_service_range(ip) {
                continue;
            }
            let text = ip.to_string();
            if !taken(&text) {
                self.next.store((offset + 1) % SIZE, Ordering::Relaxed);
                svc.spec.cluster_ip = Some(text);
                return Ok(());
            }
        }
        Err(FieldError::new(
            CLUSTER_IP_FIELD,
            format!("Internal error: failed to allocate a serviceIP: range {SERVICE_CIDR} is full"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashSet;

    fn svc(v: serde_json::Value) -> Service {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_range_excludes_its_first_and_last_address_and_pod_addresses() {
        assert!(!in_service_range("127.255.0.0".parse().unwrap()));
        assert!(in_service_range("127.255.0.1".parse().unwrap()));
        assert!(in_service_range("127.255.255.254".parse().unwrap()));
        assert!(!in_service_range("127.255.255.255".parse().unwrap()));
        assert!(!in_service_range("127.254.255.254".parse().unwrap()));
        assert!(!in_service_range("127.1.0.1".parse().unwrap()));
    }

    #[test]
    fn picks_skip_taken_addresses_and_move_on() {
        let a = ClusterIpAllocator::new(1);
        let mut held: HashSet<String> = ["127.255.0.2".to_string()].into();
        let pick = |held: &mut HashSet<String>| {
            let mut s = svc(json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}));
            a.allocate(&mut s, &|v| held.contains(v)).unwrap();
            let ip = s.spec.cluster_ip.unwrap();
            held.insert(ip.clone());
            ip
        };
        assert_eq!(pick(&mut held), "127.255.0.1");
        assert_eq!(pick(&mut held), "127.255.0.3");
        held.remove("127.255.0.1");
        // A freed address is reused only once the cursor comes round again.
        assert_eq!(pick(&mut held), "127.255.0.4");
    }

    #[test]
    fn the_cursor_wraps_past_the_broadcast_address() {
        let a = ClusterIpAllocator::new(SIZE - 2);
        let mut s = svc(json!({"spec": {"ports": [{"port": 80}]}}));
        a.allocate(&mut s, &|_| false).unwrap();
        assert_eq!(s.spec.cluster_ip.as_deref(), Some("127.255.255.254"));
        let mut s = svc(json!({"spec": {"ports": [{"port": 80}]}}));
        a.allocate(&mut s, &|_| false).unwrap();
        assert_eq!(s.spec.cluster_ip.as_deref(), Some("127.255.0.1"));
    }

    #[test]
    fn headless_external_name_and_requested_addresses_are_left_alone() {
        let a = ClusterIpAllocator::new(0);
        for v in [
            json!({"spec": {"clusterIP": "None"}}),
            json!({"spec": {"type": "ExternalName"}}),
            json!({"spec": {"clusterIP": "127.255.3.4"}}),
        ] {
            let mut s = svc(v.clone());
            a.allocate(&mut s, &|_| false).unwrap();
            assert_eq!(s, svc(v));
        }
    }

    #[test]
    fn a_full_range_is_an_error_naming_the_field() {
        let a = ClusterIpAllocator::new(0);
        let mut s = svc(json!({"spec": {}}));
        let e = a.allocate(&mut s, &|_| true).unwrap_err();
        assert_eq!(e.field, "spec.clusterIP");
        assert!(e.message.contains("127.255.0.0/16"), "{e}");
    }

    #[test]
    fn requested_addresses_must_be_in_the_range() {
        let check = |ip: &str| {
            let mut errors = Vec::new();
            validate_cluster_ip(&svc(json!({"spec": {"clusterIP": ip}})), &mut errors);
            errors
        };
        assert!(check("").is_empty());
        assert!(check("None").is_empty());
        assert!(check("127.255.1.1").is_empty());
        let e = check("10.96.0.1");
        assert_eq!(e[0].field, "spec.clusterIP");
        assert!(e[0].message.contains("not in the valid range"), "{}", e[0]);
        assert!(e[0].message.contains(SERVICE_CIDR));
        assert!(!check("127.255.255.255").is_empty());
        assert!(check("web")[0].message.contains("valid IPv4"));
    }

    #[test]
    fn an_update_without_an_address_keeps_the_allocated_one() {
        let old = svc(json!({"spec": {"clusterIP": "127.255.0.9"}}));
        let mut new = svc(json!({"spec": {}}));
        keep_allocated(&mut new, Some(&old));
        assert_eq!(new.spec.cluster_ip.as_deref(), Some("127.255.0.9"));
        let mut changed = svc(json!({"spec": {"clusterIP": "127.255.0.7"}}));
        keep_allocated(&mut changed, Some(&old));
        assert_eq!(changed.spec.cluster_ip.as_deref(), Some("127.255.0.7"));
    }
}
