//! Stores on one etcd (feature `etcd`, a real `etcd` from Debian's etcd-server on loopback):
//! what one engine writes the others read, in order; compare-and-swap holds across engines
//! under many threads; a transaction is all or nothing; resourceVersions are etcd's
//! mod_revisions; a store opened later lists everything and continues the revisions; an
//! etcd that cannot be reached is a clear error.
#![cfg(feature = "etcd")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::etcd::{free_port, store_on, Cluster, Etcd};

use steady::api::{ConfigMap, Object, Registry};
use steady::store::etcd::EtcdConfig;
use steady::store::{Store, StoreConfig, TxnOp, WatchEvent, WatchParams};
use steady::Error;

fn config_map(name: &str, value: i64, rv: Option<String>) -> Arc<dyn Object> {
    let mut c = ConfigMap::default();
    c.metadata.name = name.into();
    c.metadata.resource_version = rv;
    c.data.insert("value".into(), value.to_string());
    Arc::new(c)
}

fn value(o: &dyn Object) -> i64 {
    o.downcast_ref::<ConfigMap>().unwrap().data["value"]
        .parse()
        .unwrap()
}

fn rv(o: &dyn Object) -> u64 {
    o.meta()
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until `cond` holds on another engine's cache (its watch brings changes soon after).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn what_one_engine_writes_another_reads_and_watches_in_order() {
    let etcd = Etcd::start("order");
    let (a, b) = (etcd.store(), etcd.store());
    let mut watch = b
        .watch("ConfigMap", &WatchParams::default())
        .expect("a watch on b");

    // Read your writes: a sees its create at once, with etcd's revision as resourceVersion.
    let created = a.create(config_map("shared", 1, None)).unwrap();
    let got = a.get("ConfigMap", None, "shared").unwrap();
    assert_eq!(rv(got.as_ref()), rv(created.as_ref()));
    let json = etcd
        .ctl(&["get", "/steady/ConfigMap/default/shared", "-w", "json"])
        .unwrap();
    assert!(
        json.contains(&format!("\"mod_revision\":{}", rv(created.as_ref()))),
        "the resourceVersion is etcd's mod_revision: {json}"
    );

    // b reads it, then updates it with compare-and-swap; a reads b's update.
    eventually("b to see a's create", || {
        b.get("ConfigMap", None, "shared").is_ok()
    });
    let seen = b.get("ConfigMap", None, "shared").unwrap();
    assert_eq!(seen.meta().uid, created.meta().uid);
    let updated = b
        .update(config_map(
            "shared",
            2,
            seen.meta().resource_version.clone(),
        ))
        .unwrap();
    assert!(rv(updated.as_ref()) > rv(created.as_ref()));
    eventually("a to see b's update", || {
        a.get("ConfigMap", None, "shared")
            .is_ok_and(|o| value(o.as_ref()) == 2)
    });

    // a's stale compare-and-swap fails as in memory, and changes nothing.
    let stale = a.update(config_map(
        "shared",
        3,
        created.meta().resource_version.clone(),
    ));
    assert!(matches!(stale, Err(Error::Conflict { .. })), "{stale:?}");

    // a deletes it; b's watch saw every change once, in revision order.
    a.delete("ConfigMap", None, "shared", &Default::default())
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match watch.recv_timeout(Duration::from_secs(10)) {
            Ok(Some(ev)) if ev.object().is_some_and(|o| o.meta().name == "shared") => {
                seen.push((ev.type_name(), ev.revision()))
            }
            Ok(Some(_)) => {}
            other => panic!("b's watch: {other:?} after {seen:?}"),
        }
    }
    let kinds: Vec<&str> = seen.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
    assert!(seen.windows(2).all(|w| w[0].1 < w[1].1), "{seen:?}");
    assert_eq!(seen[0].1, rv(created.as_ref()));
    assert_eq!(seen[1].1, rv(updated.as_ref()));
}

#[test]
fn compare_and_swap_holds_across_engines_under_many_threads() {
    const THREADS: usize = 8;
    const EACH: i64 = 25;
    let etcd = Etcd::start("cas");
    let stores = [etcd.store(), etcd.store()];
    stores[0].create(config_map("counter", 0, None)).unwrap();
    let mut watches: Vec<_> = stores
        .iter()
        .map(|s| s.watch("ConfigMap", &WatchParams::default()).unwrap())
        .collect();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let store = &stores[t % 2];
            scope.spawn(move || {
                let mut done = 0;
                while done < EACH {
                    let Ok(cur) = store.get("ConfigMap", None, "counter") else {
                        continue;
                    };
                    let next = config_map(
                        "counter",
                        value(cur.as_ref()) + 1,
                        cur.meta().resource_version.clone(),
                    );
                    match store.update(next) {
                        Ok(_) => done += 1,
                        Err(Error::Conflict { .. }) => {}
                        Err(e) => panic!("update: {e}"),
                    }
                }
            });
        }
    });
    let total = THREADS as i64 * EACH;
    // Every increment counted once: no update was lost or applied twice.
    for (i, s) in stores.iter().enumerate() {
        eventually("every engine to hold the last value", || {
            s.get("ConfigMap", None, "counter")
                .is_ok_and(|o| value(o.as_ref()) == total)
        });
        // Each engine's watch saw every value once, in order, with growing revisions.
        let mut last = (0, 0);
        while last.0 < total {
            match watches[i].recv_timeout(Duration::from_secs(10)) {
                Ok(Some(WatchEvent::Modified(o))) => {
                    let v = value(o.as_ref());
                    assert_eq!(v, last.0 + 1, "engine {i} after value {}", last.0);
                    assert!(rv(o.as_ref()) > last.1);
                    last = (v, rv(o.as_ref()));
                }
                Ok(Some(_)) => {}
                other => panic!("engine {i}'s watch: {other:?} at {last:?}"),
            }
        }
    }
}

#[test]
fn a_transaction_is_all_or_nothing_across_engines() {
    let etcd = Etcd::start("txn");
    let (a, b) = (etcd.store(), etcd.store());
    b.create(config_map("taken", 0, None)).unwrap();
    eventually("a to see b's create", || {
        a.get("ConfigMap", None, "taken").is_ok()
    });
    let r = a.transaction(vec![
        TxnOp::Create(config_map("fresh", 0, None)),
        TxnOp::Create(config_map("taken", 1, None)),
    ]);
    assert!(matches!(r, Err(Error::AlreadyExists { .. })), "{r:?}");
    assert!(etcd
        .ctl(&["get", "/steady/ConfigMap/default/fresh"])
        .unwrap()
        .is_empty());
    // Both at one revision when it succeeds.
    let out = a
        .transaction(vec![
            TxnOp::Create(config_map("one", 0, None)),
            TxnOp::Create(config_map("two", 0, None)),
        ])
        .unwrap();
    let revs: Vec<u64> = out.iter().map(|o| rv(o.as_deref().unwrap())).collect();
    assert_eq!(revs[0], revs[1]);
    eventually("b to see both", || {
        b.get("ConfigMap", None, "one").is_ok() && b.get("ConfigMap", None, "two").is_ok()
    });
}

#[test]
fn a_store_opened_later_lists_what_etcd_holds_and_continues() {
    let etcd = Etcd::start("later");
    let first = etcd.store();
    let created = first.create(config_map("kept", 7, None)).unwrap();
    let before = first.revision();
    first.close_persistence();
    drop(first);

    let second = etcd.store();
    let kept = second.get("ConfigMap", None, "kept").unwrap();
    assert_eq!(kept.meta().uid, created.meta().uid);
    assert_eq!(
        kept.meta().resource_version,
        created.meta().resource_version
    );
    assert_eq!(value(kept.as_ref()), 7);
    assert!(second.revision() >= before);
    // The initial namespaces were created once, by the first store.
    assert!(second.get("Namespace", None, "default").is_ok());
    // The history starts at the listing: an older revision is Expired, a newer write
    // continues the revisions.
    let old = second.watch(
        "ConfigMap",
        &WatchParams {
            since: Some(before - 1),
            ..Default::default()
        },
    );
    assert!(matches!(old, Err(Error::Expired { .. })), "{old:?}");
    let next = second.create(config_map("new", 0, None)).unwrap();
    assert!(rv(next.as_ref()) > before);
}

/// A Lease in `kube-node-lease`, as each engine's node agent writes first thing.
fn node_lease(node: &str) -> Arc<dyn Object> {
    let mut l = steady::api::Lease::default();
    l.metadata.name = node.into();
    l.metadata.namespace = Some("kube-node-lease".into());
    Arc::new(l)
}

#[test]
fn a_store_opened_while_another_creates_the_initial_namespaces_gets_them_all() {
    // What a store sees when it lists between another's namespace creates: only `default`.
    let etcd = Etcd::start("partial");
    etcd.ctl(&[
        "put",
        "/steady/Namespace/default",
        r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default","uid":"6b0e7f5c-0000-4000-8000-000000000001"}}"#,
    ])
    .expect("etcdctl put");
    let store = etcd.store();
    for ns in steady::store::INITIAL_NAMESPACES {
        assert!(store.get("Namespace", None, ns).is_ok(), "{ns} is missing");
    }
    store
        .create(node_lease("host-0"))
        .expect("a lease in kube-node-lease");

    // Engines that start together on an empty prefix: each can write into every initial
    // namespace as soon as its store is open.
    let etcd = Etcd::start("together");
    let url = etcd.client_url.clone();
    let hosts: Vec<_> = (0..6)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let store = store_on(&url);
                store.create(node_lease(&format!("host-{i}"))).map(|_| ())
            })
        })
        .collect();
    for (i, h) in hosts.into_iter().enumerate() {
        h.join()
            .unwrap()
            .unwrap_or_else(|e| panic!("host-{i}: {e}"));
    }
}

#[test]
fn an_etcd_that_cannot_be_reached_is_a_clear_error() {
    let port = free_port();
    let registry = Arc::new(Registry::new());
    steady::api::register_builtins(&registry);
    let config = EtcdConfig::default().timeout(Duration::from_millis(500));
    let endpoints = [format!("http://127.0.0.1:{port}")];
    let err = Store::open_etcd(registry, StoreConfig::default(), &endpoints, &config).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Backend { .. }), "{err:?}");
    assert!(
        message.contains(&format!("etcd at http://127.0.0.1:{port}")),
        "{message}"
    );
    // Settings that cannot work are refused before any connection.
    for (config, says) in [
        (EtcdConfig::default().prefix("/"), "prefix \"\""),
        (EtcdConfig::default().prefix("steady"), "starting with /"),
        (EtcdConfig::default().timeout(Duration::ZERO), "timeout"),
    ] {
        let registry = Arc::new(Registry::new());
        let err = Store::open_etcd(registry, StoreConfig::default(), &endpoints, &config)
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn a_member_without_a_leader_refuses_at_once_and_the_store_recovers_with_its_cluster() {
    let mut cluster = Cluster::start("quorum");
    let open = store_on;
    // A store that talks to the first member only, and one on the second.
    let lone = open(&cluster.urls[0]);
    lone.create(config_map("before", 1, None)).unwrap();
    // The other two members stop: the first loses its quorum, and with it its leader. A
    // write through it is refused with etcd's reason, not left to time out.
    cluster.stop(1);
    cluster.stop(2);
    let deadline = Instant::now() + Duration::from_secs(30);
    let refused = loop {
        let err = lone
            .update(config_map("before", 2, None))
            .expect_err("a write without a quorum");
        if err.to_string().contains("no leader") {
            break err;
        }
        assert!(
            Instant::now() < deadline,
            "never refused for want of a leader: {err}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(matches!(refused, Error::Backend { .. }), "{refused:?}");
    // The quorum back, the store writes again, and its watch brings what another store on
    // another member wrote.
    cluster.restart(1);
    cluster.restart(2);
    let other = open(&cluster.urls[1]);
    other.create(config_map("after", 3, None)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lone.get("ConfigMap", Some("default"), "after").is_err() {
        assert!(
            Instant::now() < deadline,
            "the lone store's watch never resumed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    lone.create(config_map("again", 4, None)).unwrap();
}
