//! Every Service but a headless or ExternalName one gets a virtual address of its own
//! (`spec.clusterIP`) from 127.255.0.0/16 as it is created: a requested address is honoured
//! when in range and free, refused naming the field otherwise; the address is kept across
//! updates that leave it out, and freed when the Service goes. Concurrent creates never share
//! an address.

mod common;

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use steady::api::Service;
use steady::store::{DeleteParams, TxnOp};
use steady::Error;

fn service(name: &str, cluster_ip: Option<&str>) -> Service {
    let mut spec = serde_json::json!({"selector": {"app": name}, "ports": [{"port": 80}]});
    if let Some(ip) = cluster_ip {
        spec["clusterIP"] = ip.into();
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))
    .unwrap()
}

fn ip_of(s: &Service) -> Ipv4Addr {
    s.spec
        .cluster_ip
        .as_deref()
        .expect("an address")
        .parse()
        .expect("an IPv4 address")
}

fn in_range(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[0] == 127 && o[1] == 255 && ip != Ipv4Addr::new(127, 255, 0, 0)
}

/// The field an Invalid error names.
fn invalid_field(e: &Error) -> String {
    match e.root() {
        Error::Invalid { errors, .. } => errors[0].field.clone(),
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn a_service_gets_an_address_in_the_service_range_and_keeps_it() {
    let e = common::bare_engine();
    let api = e.api::<Service>().namespace("default");
    let web = api.create(service("web", None)).unwrap();
    let ip = ip_of(&web);
    assert!(in_range(ip), "{ip}");

    // kubectl apply of the original manifest (no clusterIP) keeps the address.
    e.apply(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n\
         spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n",
    )
    .unwrap();
    let web = api.get("web").unwrap();
    assert_eq!(ip_of(&web), ip);
    assert!(web.spec.ports[0].target_port.is_some());

    // So does an update that leaves it out.
    let mut plain = (*web).clone();
    plain.spec.cluster_ip = None;
    plain.metadata.resource_version = None;
    assert_eq!(ip_of(&api.update(plain).unwrap()), ip);

    // Changing it is refused.
    let mut moved = (*web).clone();
    moved.spec.cluster_ip = Some("127.255.9.9".into());
    let err = api.update(moved).unwrap_err();
    assert_eq!(invalid_field(&err), "spec.clusterIP");
}

#[test]
fn headless_and_external_name_services_get_no_address() {
    let e = common::bare_engine();
    let api = e.api::<Service>().namespace("default");
    let headless = api.create(service("db", Some("None"))).unwrap();
    assert_eq!(headless.spec.cluster_ip.as_deref(), Some("None"));
    let mut ext = service("ext", None);
    ext.spec.type_ = Some("ExternalName".into());
    let ext = api.create(ext).unwrap();
    assert_eq!(ext.spec.cluster_ip, None);
}

#[test]
fn a_requested_address_is_honoured_or_refused_naming_the_field() {
    let e = common::bare_engine();
    let api = e.api::<Service>().namespace("default");
    let a = api.create(service("a", Some("127.255.7.7"))).unwrap();
    assert_eq!(a.spec.cluster_ip.as_deref(), Some("127.255.7.7"));

    let err = api.create(service("b", Some("127.255.7.7"))).unwrap_err();
    assert_eq!(invalid_field(&err), "spec.clusterIP");
    assert!(err.to_string().contains("already allocated"), "{err}");

    let err = api.create(service("c", Some("10.96.0.10"))).unwrap_err();
    assert_eq!(invalid_field(&err), "spec.clusterIP");
    assert!(err.to_string().contains("127.255.0.0/16"), "{err}");

    // Freed with its Service: the address can be requested again.
    api.delete("a", &DeleteParams::default()).unwrap();
    let b = api.create(service("b", Some("127.255.7.7"))).unwrap();
    assert_eq!(b.spec.cluster_ip.as_deref(), Some("127.255.7.7"));
}

#[test]
fn a_transaction_cannot_give_one_address_to_two_services() {
    let e = common::bare_engine();
    let ops = vec![
        TxnOp::Create(Arc::new(service("x", Some("127.255.1.2")))),
        TxnOp::Create(Arc::new(service("y", Some("127.255.1.2")))),
    ];
    let err = e.store().transaction(ops).unwrap_err();
    assert_eq!(invalid_field(&err), "spec.clusterIP");
    assert!(e
        .api::<Service>()
        .namespace("default")
        .list(&Default::default())
        .unwrap()
        .items
        .is_empty());
    // Two allocated in one transaction get two addresses.
    let ops = vec![
        TxnOp::Create(Arc::new(service("x", None))),
        TxnOp::Create(Arc::new(service("y", None))),
    ];
    let out = e.store().transaction(ops).unwrap();
    let ips: HashSet<Ipv4Addr> = out
        .iter()
        .map(|o| {
            ip_of(
                o.as_ref()
                    .unwrap()
                    .as_any()
                    .downcast_ref::<Service>()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(ips.len(), 2);
}

#[test]
fn concurrent_creates_never_share_an_address() {
    let e = Arc::new(common::bare_engine());
    const THREADS: usize = 8;
    const EACH: usize = 40;
    let requested = "127.255.200.1";
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let e = e.clone();
            std::thread::spawn(move || {
                let api = e.api::<Service>().namespace("default");
                let mut won_requested = 0;
                for i in 0..EACH {
                    // Every thread also races for one requested address: one create wins.
                    if i == EACH / 2
                        && api
                            .create(service(&format!("r-{t}"), Some(requested)))
                            .is_ok()
                    {
                        won_requested += 1;
                    }
                    api.create(service(&format!("s-{t}-{i}"), None)).unwrap();
                }
                won_requested
            })
        })
        .collect();
    let won: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(won, 1, "exactly one create gets the requested address");
    let all = e.api::<Service>().list(&Default::default()).unwrap().items;
    assert_eq!(all.len(), THREADS * EACH + 1);
    let ips: HashSet<Ipv4Addr> = all.iter().map(|s| ip_of(s)).collect();
    assert_eq!(
        ips.len(),
        all.len(),
        "every Service has an address of its own"
    );
    assert!(ips.iter().all(|ip| in_range(*ip)));
}
