//! Criterion benches of the store's hot paths, each beside its bare-DashMap baseline.
//!
//! `cargo bench --bench store`. The figures the issues name come from
//! `cargo run --release --example bench -- --json`; these are for profiling one path.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use dashmap::DashMap;
use std::sync::Arc;
use steady::api::Map;
use steady::api::{Container, ObjectMeta, Pod, PodSpec, Quantity, ResourceRequirements};
use steady::store::WatchParams;
use steady::Engine;

fn pod(i: usize) -> Pod {
    let mut labels = Map::new();
    labels.insert("app".to_string(), "web".to_string());
    let mut requests = Map::new();
    requests.insert("cpu".to_string(), Quantity("100m".into()));
    Pod {
        metadata: ObjectMeta {
            name: format!("web-{i:06}"),
            labels,
            ..Default::default()
        },
        spec: PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "web".into(),
                image: Some("nginx:1.25".into()),
                resources: Some(ResourceRequirements {
                    requests,
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        },
        ..Default::default()
    }
}

fn store_paths(c: &mut Criterion) {
    const N: usize = 1000;
    let mut g = c.benchmark_group("store");
    for watcher in [false, true] {
        let e = Engine::builder().build().unwrap();
        let api = e.api::<Pod>();
        for i in 0..N {
            api.create(pod(i)).unwrap();
        }
        let mut w = watcher.then(|| {
            api.watch(&WatchParams {
                since: Some(e.store().revision()),
                ..Default::default()
            })
            .unwrap()
        });
        let mut i = 0usize;
        let name = if watcher {
            "update_with_watcher"
        } else {
            "update"
        };
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    i += 1;
                    let mut p = pod(i % N);
                    p.metadata.annotations.insert("seq".into(), i.to_string());
                    p
                },
                |p| api.update(p).unwrap(),
                BatchSize::SmallInput,
            );
            // Drain outside the timed region so the channel never fills.
            if let Some(w) = w.as_mut() {
                while let Ok(Some(_)) = w.try_recv() {}
            }
        });
    }
    let map: DashMap<String, Arc<Pod>> = DashMap::new();
    for i in 0..N {
        map.insert(pod(i).metadata.name, Arc::new(pod(i)));
    }
    let mut i = 0usize;
    g.bench_function("dashmap_insert_baseline", |b| {
        b.iter_batched(
            || {
                i += 1;
                pod(i % N)
            },
            |p| map.insert(p.metadata.name.clone(), Arc::new(p)),
            BatchSize::SmallInput,
        );
    });
    let e = Engine::builder().build().unwrap();
    let api = e.api::<Pod>();
    let names: Vec<String> = (0..N).map(|i| format!("web-{i:06}")).collect();
    for i in 0..N {
        api.create(pod(i)).unwrap();
    }
    g.bench_function("get", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 7) % N;
            api.get(&names[i]).unwrap()
        })
    });
    g.bench_function("dashmap_get_baseline", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 7) % N;
            map.get(&names[i]).map(|r| r.value().clone()).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, store_paths);
criterion_main!(benches);
