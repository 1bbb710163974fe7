//! Many pods racing for tiny nodes: the scheduler assumes each placement before the next
//! cycle, so no node is ever given more than it has, however the bindings interleave.

mod scheduler_support;

use scheduler_support::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use steady::api::resources::pod_requests;
use steady::api::Pod;
use steady::scheduler::SchedulerConfig;

#[test]
fn concurrent_pods_never_exceed_any_nodes_allocatable() {
    let (e, _) = engine(SchedulerConfig::default().bind_workers(2));
    let e = Arc::new(e);
    const NODES: usize = 10;
    for i in 0..NODES {
        // 1 CPU, 1 GiB, at most 5 pods: CPU is the limit (3 pods of 300m).
        add_node(
            &e,
            node(
                &format!("tiny-{i}"),
                "1",
                "1Gi",
                json!({"status": {"allocatable": {"pods": "5"}}}),
            ),
        );
    }
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let e = e.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    create_pod(&e, pod(&format!("p-{t}-{i:03}"), "300m", json!({})));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let pods = e.api::<Pod>();
    // Every pod is either bound or told why not.
    eventually("every pod decided", || {
        pods.list(&Default::default())
            .unwrap()
            .items
            .iter()
            .all(|p| {
                p.spec.node_name.is_some()
                    || p.status.as_ref().is_some_and(|s| {
                        s.conditions
                            .iter()
                            .any(|c| c.type_ == "PodScheduled" && c.status == "False")
                    })
            })
    });
    barrier(&e);
    let mut per_node: HashMap<String, (i64, i64)> = HashMap::new();
    let all = pods.list(&Default::default()).unwrap().items;
    for p in &all {
        if let Some(n) = &p.spec.node_name {
            let r = pod_requests(&p.spec);
            let slot = per_node.entry(n.clone()).or_default();
            slot.0 += r.cpu_millis;
            slot.1 += 1;
        }
    }
    for (n, (cpu, count)) in &per_node {
        assert!(*cpu <= 1000, "{n} got {cpu}m of 1000m");
        assert!(*count <= 5, "{n} got {count} pods");
    }
    let bound: i64 = per_node.values().map(|v| v.1).sum();
    assert_eq!(bound, (NODES * 3) as i64, "every node filled to what fits");
    let pending = all.iter().filter(|p| p.spec.node_name.is_none()).count();
    assert_eq!(pending, 200 - NODES * 3);
}
