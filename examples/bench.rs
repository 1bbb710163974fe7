//! steady's figures, each beside a baseline measured in the same run.
//!
//! ```text
//! cargo run --release --example bench -- --json          # every figure, one JSON object a line
//! cargo run --release --example bench -- --json store.   # only figures whose name starts so
//! cargo run --release --features apiserver --example bench -- --json api.   # the HTTP API
//! ```
//!
//! The `controllers.` figures run the whole path on 100 simulated nodes: controllers,
//! scheduler and node agents.
//!
//! The `durable.` figures write to a data dir under the system temporary directory
//! (`STEADY_BENCH_DIR` to put it elsewhere: the disk decides them): updates per second with
//! `Durability::Sync` from 1 and 64 threads, each beside a loop of 4 KiB appends +
//! `fdatasync` in the same dir, alternating (the baseline), and the in-memory store's rate;
//! recovery time of 100,000 pods, and disk bytes per pod.
//! `-- --json durable.update_per_s` runs the update figures only.
//!
//! The `etcd.` figures (`--features etcd`; they start Debian's etcd-server on loopback) are
//! updates per second through a store on etcd from 1 and 64 threads, each beside raw etcd
//! transactions of the same shape from as many writers, through the same client library,
//! against the same etcd, alternating (the baseline); failover time (three engines as
//! processes of this bench, the leader SIGKILLed, until the next leader's first reconcile
//! wrote), against the lease duration that bounds it from below; and a Deployment of 1,000
//! pods converging on three engines with a simulated node each, against one in-memory
//! engine with the same nodes.
//!
//! Each line is `{"name", "value", "unit"}`; a figure with a baseline adds `"baseline"` (its
//! name), `"baseline_value"` and `"ratio"`: steady's cost divided by the baseline's cost (time
//! per operation, or latency), so lower is better and 1 means as fast as the baseline.

use dashmap::DashMap;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};
use steady::api::{
    Container, Map, Node, ObjectMeta, OwnerReference, Pod, PodSpec, Quantity, ResourceRequirements,
    Selector,
};
use steady::client::{Api, TypedEvent};
use steady::store::{ListParams, WatchParams};
use steady::Engine;

struct Out {
    json: bool,
    filter: Vec<String>,
}

impl Out {
    /// Whether a figure or a section (a name's prefix, `api.`) is asked for: a filter
    /// selects the names it starts, and the sections that hold them (`api.put` runs `api.`).
    fn wants(&self, name: &str) -> bool {
        self.filter.is_empty()
            || self
                .filter
                .iter()
                .any(|f| name.starts_with(f.as_str()) || f.starts_with(name))
    }

    /// Runs `section` in a new process of this bench, asked for that section alone, unless
    /// this is one: a section that forks processes or measures resident memory must not
    /// inherit the heap the earlier sections left (after the 100,000-pod sections a fork
    /// copies the page tables of gigabytes, and the 1,000 process pods took 118 s instead
    /// of 4).
    fn in_fresh_process(&self, section: &str, run: fn(&Out)) {
        const CHILD: &str = "STEADY_BENCH_SECTION";
        if std::env::var_os(CHILD).is_some() {
            return run(self);
        }
        let mut cmd = std::process::Command::new(std::env::current_exe().expect("this bench"));
        if self.json {
            cmd.arg("--json");
        }
        let status = cmd.arg(section).env(CHILD, section).status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => eprintln!("{section}: the section's process ended with {s}"),
            Err(e) => eprintln!("{section}: the section's process cannot start: {e}"),
        }
    }

    fn emit(&self, name: &str, value: f64, unit: &str, baseline: Option<(&str, f64, f64)>) {
        let mut o = json!({"name": name, "value": round(value), "unit": unit});
        if let Some((b, bv, ratio)) = baseline {
            o["baseline"] = b.into();
            o["baseline_value"] = round(bv).into();
            o["ratio"] = round(ratio).into();
        }
        if self.json {
            println!("{o}");
        } else {
            match baseline {
                Some((b, bv, ratio)) => println!(
                    "{name:40} {:>14} {unit:8} baseline {b} {:.3} ratio {ratio:.3}",
                    round(value),
                    bv
                ),
                None => println!("{name:40} {:>14} {unit}", round(value)),
            }
        }
    }
}

/// The suffix of a figure measured from `threads` writers: none for one, `_64threads`.
fn threads_suffix(threads: usize) -> String {
    if threads == 1 {
        String::new()
    } else {
        format!("_{threads}threads")
    }
}

fn round(v: f64) -> f64 {
    if v.abs() >= 100.0 {
        v.round()
    } else {
        (v * 1000.0).round() / 1000.0
    }
}

/// A small Pod as a ReplicaSet would create it.
fn pod(i: usize, app: &str) -> Pod {
    let mut labels = Map::new();
    labels.insert("app".to_string(), app.to_string());
    labels.insert("pod-template-hash".to_string(), "7d4b9c".to_string());
    let mut requests = Map::new();
    requests.insert("cpu".to_string(), Quantity("100m".into()));
    requests.insert("memory".to_string(), Quantity("128Mi".into()));
    Pod {
        metadata: ObjectMeta {
            name: format!("web-7d4b9c-{i:06}"),
            namespace: Some("default".into()),
            labels,
            owner_references: vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: "web-7d4b9c".into(),
                uid: "3f6a1d2e-8b1c-4f0e-9a57-2c1d0e9b7a11".into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }],
            ..Default::default()
        },
        spec: PodSpec {
            node_name: Some(format!("node-{}", i % 100)),
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

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx]
}

fn rss_bytes() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn bytes_per_pod(out: &Out) {
    const N: usize = 100_000;
    // The store alone: no controller acts on the bench's pods (whose nodes do not exist).
    let e = Engine::builder()
        .builtin_controllers(false)
        .local_node(false)
        .without_scheduler()
        .build()
        .unwrap();
    let pods = e.api::<Pod>();
    pods.create(pod(usize::MAX / 2, "warmup")).unwrap();
    let before = rss_bytes();
    for i in 0..N {
        pods.create(pod(i, "web")).unwrap();
    }
    let after = rss_bytes();
    let sample = pods.get(&pod(5, "web").metadata.name).unwrap();
    let json_len = serde_json::to_vec(&*sample).unwrap().len() as f64;
    let per_pod = (after.saturating_sub(before)) as f64 / N as f64;
    out.emit(
        "store.bytes_per_pod",
        per_pod / json_len,
        "x_json",
        Some(("pod.json_bytes", json_len, per_pod / json_len)),
    );
    out.emit("store.resident_bytes_per_pod", per_pod, "bytes", None);
}

/// The custom kind the runtime sections reconcile (steady serves only registered kinds).
fn widget_kind() -> steady::api::KindInfo {
    steady::api::KindInfo::dynamic("example.com/v1", "Widget", true)
}

/// Single- and two-thread updates of existing Pods with one watcher draining, against the
/// same number of `Arc` inserts into a bare DashMap.
fn updates(out: &Out, threads: usize) {
    const PODS: usize = 10_000;
    const BATCH: usize = 10_000;
    const BATCHES: usize = 40;
    // The store alone: no controller acts on the bench's pods (whose nodes do not exist).
    let e = Engine::builder()
        .builtin_controllers(false)
        .local_node(false)
        .without_scheduler()
        .build()
        .unwrap();
    let api = e.api::<Pod>();
    for i in 0..PODS {
        api.create(pod(i, "web")).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut w = api
        .watch(&WatchParams {
            since: Some(e.store().revision()),
            ..Default::default()
        })
        .unwrap();
    let drain = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if let Ok(Some(_)) = w.recv_timeout(Duration::from_millis(10)) {
                    n += 1;
                }
            }
            n
        })
    };
    let map: Arc<DashMap<String, Arc<Pod>>> = Arc::new(DashMap::new());
    let run = |steady_side: bool| -> f64 {
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let api = api.clone();
                let map = map.clone();
                let barrier = barrier.clone();
                thread::spawn(move || {
                    let mut busy = Duration::ZERO;
                    let mut seq = 0u64;
                    for _ in 0..BATCHES {
                        // Prepare the new versions outside the timed region: both sides get
                        // the same owned objects.
                        let batch: Vec<Pod> = (0..BATCH)
                            .map(|j| {
                                let idx = (j * threads + t) % PODS;
                                // The stored pod (with what admission added at create: a
                                // pod's spec is fixed), changed in metadata only.
                                let mut p = match api.get(&pod(idx, "web").metadata.name) {
                                    Ok(stored) => (*stored).clone(),
                                    Err(_) => pod(idx, "web"),
                                };
                                p.metadata.resource_version = None;
                                seq += 1;
                                p.metadata.annotations.insert("seq".into(), seq.to_string());
                                p
                            })
                            .collect();
                        barrier.wait();
                        let t0 = Instant::now();
                        if steady_side {
                            for p in batch {
                                api.update(p).unwrap();
                            }
                        } else {
                            for p in batch {
                                let key = p.metadata.name.clone();
                                map.insert(key, Arc::new(p));
                            }
                        }
                        busy += t0.elapsed();
                    }
                    busy
                })
            })
            .collect();
        let busy: Vec<Duration> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let max = busy.iter().max().unwrap().as_secs_f64();
        (threads * BATCH * BATCHES) as f64 / max
    };
    let base = run(false);
    let steady_rate = run(true);
    stop.store(true, Ordering::Relaxed);
    drain.join().unwrap();
    let (name, bname) = if threads == 1 {
        ("store.update_per_s", "dashmap.insert_per_s")
    } else {
        (
            "store.update_per_s_2threads",
            "dashmap.insert_per_s_2threads",
        )
    };
    out.emit(bname, base, "ops/s", None);
    out.emit(
        name,
        steady_rate,
        "ops/s",
        Some((bname, base, base / steady_rate)),
    );
}

/// A fresh data dir for a `durable.` figure.
fn bench_dir(name: &str) -> std::path::PathBuf {
    let root = std::env::var_os("STEADY_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let d = root.join(format!("steady-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// An engine that is the store alone, in memory or persisted in `dir`.
fn store_engine(dir: Option<&std::path::Path>) -> Engine {
    let mut b = Engine::builder()
        .builtin_controllers(false)
        .local_node(false)
        .without_scheduler();
    if let Some(d) = dir {
        b = b.persist(d, steady::store::Durability::Sync);
    }
    b.build().unwrap()
}

/// Updates per second from `threads` threads, each updating pods of its own (metadata
/// only, no resourceVersion: no conflicts), `per_thread` updates each.
fn update_rate(e: &Engine, threads: usize, per_thread: usize) -> f64 {
    const PODS_PER_THREAD: usize = 16;
    let api = e.api::<Pod>();
    for i in 0..threads * PODS_PER_THREAD {
        let _ = api.create(pod(i, "web"));
    }
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let api = api.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                let stored: Vec<Pod> = (0..PODS_PER_THREAD)
                    .map(|j| {
                        let name = pod(t * PODS_PER_THREAD + j, "web").metadata.name;
                        let mut p = (*api.get(&name).unwrap()).clone();
                        p.metadata.resource_version = None;
                        p
                    })
                    .collect();
                let batch: Vec<Pod> = (0..per_thread)
                    .map(|i| {
                        let mut p = stored[i % PODS_PER_THREAD].clone();
                        p.metadata.annotations.insert("seq".into(), i.to_string());
                        p
                    })
                    .collect();
                barrier.wait();
                for p in batch {
                    api.update(p).unwrap();
                }
            })
        })
        .collect();
    barrier.wait();
    let t0 = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    (threads * per_thread) as f64 / t0.elapsed().as_secs_f64()
}

/// 4 KiB appends to a new file in `dir`, each followed by `fdatasync`: what the disk gives
/// one writer that waits for every write. Returns the seconds `n` of them took.
fn raw_fdatasync_secs(dir: &std::path::Path, n: usize) -> f64 {
    use std::io::Write;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("raw-fdatasync");
    let mut f = std::fs::File::create(&path).unwrap();
    let buf = [0x5au8; 4096];
    let t0 = Instant::now();
    for _ in 0..n {
        f.write_all(&buf).unwrap();
        f.sync_data().unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    secs
}

/// `durable.update_per_s[_64threads]`: Sync updates, beside a raw append + fdatasync loop in
/// the same dir (the baseline: this shared VM's disk varies tenfold from one minute to the
/// next, so the two alternate, three rounds each) and the in-memory store's rate.
fn durable_updates(out: &Out, threads: usize) {
    // About two seconds of Sync writes on a disk that fsyncs in about 0.5 ms.
    let per_thread = if threads == 1 { 4_000 } else { 600 };
    const ROUNDS: usize = 3;
    const RAW: usize = 500;
    let memory = store_engine(None);
    let base = update_rate(&memory, threads, per_thread * 10);
    drop(memory);
    let dir = bench_dir("updates");
    let durable = store_engine(Some(&dir));
    let raw_dir = bench_dir("raw");
    let (mut raw_secs, mut steady_secs) = (0.0, 0.0);
    let round = per_thread / ROUNDS;
    for _ in 0..ROUNDS {
        raw_secs += raw_fdatasync_secs(&raw_dir, RAW);
        steady_secs += (threads * round) as f64 / update_rate(&durable, threads, round);
    }
    drop(durable);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&raw_dir);
    let raw = (ROUNDS * RAW) as f64 / raw_secs;
    let rate = (ROUNDS * threads * round) as f64 / steady_secs;
    let suffix = threads_suffix(threads);
    let bname = format!("durable.disk_fdatasync_per_s{suffix}");
    out.emit(&bname, raw, "ops/s", None);
    out.emit(
        &format!("durable.memory_update_per_s{suffix}"),
        base,
        "ops/s",
        None,
    );
    out.emit(
        &format!("durable.update_per_s{suffix}"),
        rate,
        "ops/s",
        Some((&bname, raw, raw / rate)),
    );
}

/// `durable.recovery_100k_ms` (start of an engine on a dir of 100,000 pods: newest snapshot
/// plus the log after it) and `durable.disk_bytes_per_pod`.
fn durable_recovery(out: &Out) {
    const PODS: usize = 100_000;
    let dir = bench_dir("recovery");
    {
        let e = Engine::builder()
            .builtin_controllers(false)
            .local_node(false)
            .without_scheduler()
            .persist(
                &dir,
                steady::store::Durability::Interval(Duration::from_millis(100)),
            )
            .build()
            .unwrap();
        let api = e.api::<Pod>();
        let threads = 8;
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let api = api.clone();
                thread::spawn(move || {
                    for i in (t..PODS).step_by(threads) {
                        api.create(pod(i, "web")).unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        e.shutdown();
    }
    let bytes: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let json_len = serde_json::to_vec(&pod(0, "web")).unwrap().len() as f64;
    let per_pod = bytes as f64 / PODS as f64;
    out.emit(
        "durable.disk_bytes_per_pod",
        per_pod,
        "bytes",
        Some(("pod.json_bytes", json_len, per_pod / json_len)),
    );
    let t0 = Instant::now();
    let e = store_engine(Some(&dir));
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let report = e.recovery_report().unwrap().clone();
    assert!(!report.lost_data(), "{report}");
    assert_eq!(e.store().count("Pod"), PODS);
    drop(e);
    out.emit("durable.recovery_100k_ms", ms, "ms", None);
    let _ = std::fs::remove_dir_all(&dir);
}

fn reads(out: &Out) {
    const N: usize = 100_000;
    // The store alone: no controller acts on the bench's pods (whose nodes do not exist).
    let e = Engine::builder()
        .builtin_controllers(false)
        .local_node(false)
        .without_scheduler()
        .build()
        .unwrap();
    let api = e.api::<Pod>();
    let map: DashMap<String, Arc<Pod>> = DashMap::new();
    for i in 0..N {
        let app = if i % 100 == 0 { "needle" } else { "web" };
        let p = api.create(pod(i, app)).unwrap();
        map.insert(p.metadata.name.clone(), p);
    }
    let names: Vec<String> = (0..N).map(|i| pod(i, "").metadata.name).collect();
    // get: median over rounds of 10,000 random gets.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut order = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.push((x % N as u64) as usize);
    }
    let mut steady_ns = Vec::new();
    let mut base_ns = Vec::new();
    for _ in 0..30 {
        let t0 = Instant::now();
        for &i in &order {
            std::hint::black_box(api.get(&names[i]).unwrap());
        }
        steady_ns.push(t0.elapsed().as_nanos() as f64 / order.len() as f64);
        let t0 = Instant::now();
        for &i in &order {
            std::hint::black_box(map.get(&names[i]).map(|r| r.value().clone()).unwrap());
        }
        base_ns.push(t0.elapsed().as_nanos() as f64 / order.len() as f64);
    }
    let s = percentile(&mut steady_ns, 0.5);
    let b = percentile(&mut base_ns, 0.5);
    out.emit("dashmap.get_ns", b, "ns", None);
    out.emit("store.get_ns", s, "ns", Some(("dashmap.get_ns", b, s / b)));

    // list by label, 1% matching, against a scan of a plain Vec of the same Arcs.
    let all: Vec<Arc<Pod>> = map.iter().map(|r| r.value().clone()).collect();
    let sel = Selector::parse("app=needle").unwrap();
    let params = ListParams {
        selector: Some(sel.clone()),
        ..Default::default()
    };
    let mut steady_ms = Vec::new();
    let mut scan_ms = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        let l = api.list(&params).unwrap();
        assert_eq!(l.items.len(), N / 100);
        steady_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        let t0 = Instant::now();
        let v: Vec<Arc<Pod>> = all
            .iter()
            .filter(|p| sel.matches(&p.metadata.labels))
            .cloned()
            .collect();
        assert_eq!(v.len(), N / 100);
        scan_ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let s = percentile(&mut steady_ms, 0.5);
    let b = percentile(&mut scan_ms, 0.5);
    out.emit("vec.scan_by_label_ms", b, "ms", None);
    out.emit(
        "store.list_by_label_ms",
        s,
        "ms",
        Some(("vec.scan_by_label_ms", b, s / b)),
    );
}

/// Commit-to-receipt latency with `watchers` watchers, against a bare crossbeam channel hop
/// (one sender, `watchers` receiving threads) at the same pace.
fn watch_latency(out: &Out, watchers: usize) {
    let samples = if watchers == 1 { 4_000 } else { 400 };
    let pace = if watchers == 1 {
        Duration::from_micros(100)
    } else {
        Duration::from_millis(3)
    };
    let origin = Instant::now();
    // The writer sleeps between sends (both sides alike): spinning would take one of the
    // two cores away from the threads being measured.
    let spin_until = |t: Instant| {
        let now = Instant::now();
        if t > now {
            thread::sleep(t - now);
        }
    };

    // Baseline: timestamps through bare channels.
    let mut base = Vec::new();
    {
        let mut txs = Vec::new();
        let mut hs = Vec::new();
        for _ in 0..watchers {
            let (tx, rx) = crossbeam_channel::unbounded::<u64>();
            txs.push(tx);
            hs.push(thread::spawn(move || {
                let mut lat = Vec::with_capacity(samples);
                for sent in rx.iter() {
                    lat.push((origin.elapsed().as_nanos() as u64 - sent) as f64 / 1e3);
                }
                lat
            }));
        }
        let mut next = Instant::now();
        for _ in 0..samples {
            next += pace;
            spin_until(next);
            let now = origin.elapsed().as_nanos() as u64;
            for tx in &txs {
                tx.send(now).unwrap();
            }
        }
        drop(txs);
        for h in hs {
            base.extend(h.join().unwrap());
        }
    }

    // steady: the writer stamps the time just before the update; watchers read it back.
    // The store alone: no controller acts on the bench's pods (whose nodes do not exist).
    let e = Engine::builder()
        .builtin_controllers(false)
        .local_node(false)
        .without_scheduler()
        .build()
        .unwrap();
    let api: Api<Pod> = e.api::<Pod>();
    api.create(pod(0, "web")).unwrap();
    let start = e.store().revision();
    let mut hs = Vec::new();
    for _ in 0..watchers {
        let mut w = api
            .watch(&WatchParams {
                since: Some(start),
                ..Default::default()
            })
            .unwrap();
        hs.push(thread::spawn(move || {
            let mut lat = Vec::with_capacity(samples);
            for _ in 0..samples {
                let ev = w.recv().unwrap();
                let now = origin.elapsed().as_nanos() as u64;
                if let TypedEvent::Modified(p) = ev {
                    let sent: u64 = p.metadata.annotations["sent"].parse().unwrap();
                    lat.push((now - sent) as f64 / 1e3);
                }
            }
            lat
        }));
    }
    let mut next = Instant::now();
    // The stored pod (a pod's spec is fixed once admission completed it), metadata changed.
    let mut stored = (*api.get(&pod(0, "web").metadata.name).unwrap()).clone();
    stored.metadata.resource_version = None;
    for i in 0..samples {
        let mut p = stored.clone();
        p.metadata.annotations.insert("seq".into(), i.to_string());
        next += pace;
        spin_until(next);
        p.metadata.annotations.insert(
            "sent".into(),
            (origin.elapsed().as_nanos() as u64).to_string(),
        );
        api.update(p).unwrap();
    }
    let mut lat = Vec::new();
    for h in hs {
        lat.extend(h.join().unwrap());
    }
    let suffix = if watchers == 1 {
        String::new()
    } else {
        format!("_{watchers}w")
    };
    for (p, pname) in [(0.5, "p50"), (0.99, "p99")] {
        let b = percentile(&mut base, p);
        let s = percentile(&mut lat, p);
        let bname = format!("channel.latency_{pname}_us{suffix}");
        out.emit(&bname, b, "us", None);
        out.emit(
            &format!("watch.latency_{pname}_us{suffix}"),
            s,
            "us",
            Some((&bname, b, s / b)),
        );
    }
}

fn widget(i: usize) -> Arc<dyn steady::api::Object> {
    Arc::new(
        serde_json::from_value::<steady::api::DynamicObject>(json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": format!("w{i}")}, "spec": {"size": i}
        }))
        .unwrap(),
    )
}

/// 100,000 objects of a custom kind, each reconciled once by a trivial reconciler, against the
/// same number of closures through a plain crossbeam channel on the same number of threads.
/// Three rounds of each, alternating (a round is a tenth of a second: one is at the mercy of
/// the machine's other jobs); the medians are reported. Each steady round is a new controller
/// on the same engine, which reconciles every object once. Beside the rates, the CPU per
/// reconcile (the registering thread's, which queues the existing objects' keys, and the
/// informer's and workers') against the CPU per task (the sender's and the consumers'),
/// which the machine's other jobs disturb less than a rate.
fn runtime_throughput(out: &Out) {
    const N: usize = 100_000;
    const ROUNDS: usize = 3;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    // Baseline: closures through a channel, `workers` consumer threads.
    let channel_round = || {
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tx, rx) = crossbeam_channel::unbounded::<Box<dyn FnOnce() + Send>>();
        let hs: Vec<_> = (0..workers)
            .map(|_| {
                let rx = rx.clone();
                thread::Builder::new()
                    .name("bench-consumer".into())
                    .spawn(move || {
                        for f in rx.iter() {
                            f();
                        }
                    })
                    .unwrap()
            })
            .collect();
        let cpu0 = threads_cpu_ns("bench-consumer");
        let t0 = Instant::now();
        let sender0 = this_thread_cpu_ns();
        for i in 0..N {
            let d = done.clone();
            tx.send(Box::new(move || {
                std::hint::black_box(i);
                d.fetch_add(1, Ordering::Relaxed);
            }))
            .unwrap();
        }
        let sender = this_thread_cpu_ns() - sender0;
        while done.load(Ordering::Relaxed) < N {
            std::hint::spin_loop();
        }
        let rate = N as f64 / t0.elapsed().as_secs_f64();
        let cpu = (threads_cpu_ns("bench-consumer") - cpu0 + sender) as f64 / N as f64;
        drop(tx);
        for h in hs {
            h.join().unwrap();
        }
        (rate, cpu)
    };

    // steady: the objects exist; a controller registered now reconciles each once.
    let e = Engine::builder()
        .workers(workers)
        .kind(widget_kind())
        .build()
        .unwrap();
    for chunk in (0..N).collect::<Vec<_>>().chunks(1000) {
        e.store()
            .transaction(
                chunk
                    .iter()
                    .map(|&i| steady::store::TxnOp::Create(widget(i)))
                    .collect(),
            )
            .unwrap();
    }
    let steady_round = |round: usize| {
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = count.clone();
        let cpu = || threads_cpu_ns("steady-worker") + threads_cpu_ns("steady-informer");
        let cpu0 = cpu();
        let t0 = Instant::now();
        let registering0 = this_thread_cpu_ns();
        e.add_controller(
            steady::runtime::Controller::new(&format!("bench-{round}"), "example.com/v1", "Widget")
                .concurrency(workers)
                .build(move |ctx: &steady::runtime::Context| {
                    std::hint::black_box(ctx.key());
                    c.fetch_add(1, Ordering::Relaxed);
                    Ok(steady::runtime::Action::done())
                }),
        )
        .unwrap();
        let registering = this_thread_cpu_ns() - registering0;
        while count.load(Ordering::Relaxed) < N {
            thread::sleep(Duration::from_micros(200));
        }
        let rate = N as f64 / t0.elapsed().as_secs_f64();
        (rate, (cpu() - cpu0 + registering) as f64 / N as f64)
    };
    let (mut channel, mut steady) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        channel.push(channel_round());
        steady.push(steady_round(round));
    }
    // The medians of each figure (rate, CPU) over the rounds.
    let median = |rounds: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| {
        percentile(&mut rounds.iter().map(pick).collect::<Vec<_>>(), 0.5)
    };
    let (base, rate) = (median(&channel, |r| r.0), median(&steady, |r| r.0));
    out.emit("channel_pool.tasks_per_s", base, "tasks/s", None);
    out.emit(
        "runtime.reconciles_per_s",
        rate,
        "reconciles/s",
        Some(("channel_pool.tasks_per_s", base, base / rate)),
    );
    let (base_cpu, steady_cpu) = (median(&channel, |r| r.1), median(&steady, |r| r.1));
    out.emit("channel_pool.task_cpu_ns", base_cpu, "ns", None);
    out.emit(
        "runtime.reconcile_cpu_ns",
        steady_cpu,
        "ns",
        Some(("channel_pool.task_cpu_ns", base_cpu, steady_cpu / base_cpu)),
    );
}

/// From the store commit to the reconcile call, against one bare channel hop.
fn runtime_latency(out: &Out) {
    const SAMPLES: usize = 3000;
    let pace = Duration::from_micros(200);
    let origin = Instant::now();
    // The writer sleeps between sends (both sides alike): spinning would take one of the
    // two cores away from the threads being measured.
    let spin_until = |t: Instant| {
        let now = Instant::now();
        if t > now {
            thread::sleep(t - now);
        }
    };
    let (tx, rx) = crossbeam_channel::unbounded::<u64>();
    let h = thread::spawn(move || {
        rx.iter()
            .map(|sent| (origin.elapsed().as_nanos() as u64 - sent) as f64 / 1e3)
            .collect::<Vec<f64>>()
    });
    let mut next = Instant::now();
    for _ in 0..SAMPLES {
        next += pace;
        spin_until(next);
        tx.send(origin.elapsed().as_nanos() as u64).unwrap();
    }
    drop(tx);
    let mut base = h.join().unwrap();

    let lat = Arc::new(std::sync::Mutex::new(Vec::with_capacity(SAMPLES)));
    let l = lat.clone();
    let e = Engine::builder()
        .kind(widget_kind())
        .controller(
            steady::runtime::Controller::new("latency", "example.com/v1", "Widget").build(
                move |ctx: &steady::runtime::Context| {
                    let now = origin.elapsed().as_nanos() as u64;
                    if let Some(o) = ctx.object() {
                        if let Some(sent) = o.meta().annotations.get("sent") {
                            let sent: u64 = sent.parse().unwrap();
                            l.lock().unwrap().push((now - sent) as f64 / 1e3);
                        }
                    }
                    Ok(steady::runtime::Action::done())
                },
            ),
        )
        .build()
        .unwrap();
    let mut next = Instant::now();
    for i in 0..SAMPLES {
        let o = widget(i);
        next += pace;
        spin_until(next);
        let mut o = (*o
            .as_any()
            .downcast_ref::<steady::api::DynamicObject>()
            .unwrap())
        .clone();
        o.metadata.annotations.insert(
            "sent".into(),
            (origin.elapsed().as_nanos() as u64).to_string(),
        );
        e.store().create(Arc::new(o)).unwrap();
    }
    while lat.lock().unwrap().len() < SAMPLES {
        thread::sleep(Duration::from_millis(1));
    }
    let mut lat = lat.lock().unwrap().clone();
    for (p, pname) in [(0.5, "p50"), (0.99, "p99")] {
        let b = percentile(&mut base, p);
        let s = percentile(&mut lat, p);
        let bname = format!("channel.hop_{pname}_us");
        out.emit(&bname, b, "us", None);
        out.emit(
            &format!("runtime.event_to_reconcile_{pname}_us"),
            s,
            "us",
            Some((&bname, b, s / b)),
        );
    }
}

/// From the panic of an in-process worker to its replacement running, against a minimal
/// hand-written supervisor (a loop that catches the panic and spawns a new thread).
fn worker_restart(out: &Out) {
    const SAMPLES: usize = 2000;
    let origin = Instant::now();
    let now_ns = move || origin.elapsed().as_nanos() as u64;

    // Baseline: catch the panic, spawn the next thread, which reports that it runs.
    let mut base = Vec::with_capacity(SAMPLES);
    let (started_tx, started_rx) = crossbeam_channel::bounded::<u64>(1);
    let (crash_tx, crash_rx) = crossbeam_channel::bounded::<()>(1);
    let sup = thread::spawn(move || {
        for _ in 0..=SAMPLES {
            let (s, c) = (started_tx.clone(), crash_rx.clone());
            let h = thread::spawn(move || {
                let _ = s.send(now_ns());
                if c.recv().is_ok() {
                    std::panic::panic_any("crash");
                }
            });
            let _ = h.join();
        }
    });
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    started_rx.recv().unwrap();
    for _ in 0..SAMPLES {
        let t0 = now_ns();
        crash_tx.send(()).unwrap();
        let t1 = started_rx.recv().unwrap();
        base.push((t1 - t0) as f64 / 1e3);
    }
    drop(crash_tx);
    sup.join().unwrap();

    // steady: a worker pod on the local node; no crash-loop delay, so every restart is the
    // immediate first restart of Kubernetes' rules.
    let (started_tx, started_rx) = crossbeam_channel::bounded::<u64>(1);
    let (crash_tx, crash_rx) = crossbeam_channel::bounded::<()>(1);
    let e = Engine::builder()
        .kubelet(steady::node::KubeletConfig {
            crash_loop_initial: Duration::ZERO,
            crash_loop_max: Duration::ZERO,
            ..Default::default()
        })
        .worker("bench", move |ctx: &steady::node::WorkerContext| {
            let _ = started_tx.send(now_ns());
            loop {
                match crash_rx.recv_timeout(Duration::from_millis(20)) {
                    Ok(()) => std::panic::panic_any("crash"),
                    Err(_) if ctx.stopping() => return Ok(()),
                    Err(_) => {}
                }
            }
        })
        .build()
        .unwrap();
    let node = e.kubelet().node_names()[0].clone();
    e.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: w}}\nspec: {{nodeName: {node}, containers: [{{name: w, image: bench}}]}}\n"
    ))
    .unwrap();
    started_rx.recv().unwrap();
    let mut lat = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t0 = now_ns();
        crash_tx.send(()).unwrap();
        let t1 = started_rx.recv().unwrap();
        lat.push((t1 - t0) as f64 / 1e3);
    }
    drop(crash_tx);
    e.shutdown();
    std::panic::set_hook(prev_hook);
    for (p, pname) in [(0.5, "p50"), (0.99, "p99")] {
        let b = percentile(&mut base, p);
        let s = percentile(&mut lat, p);
        let bname = format!("thread.respawn_{pname}_us");
        out.emit(&bname, b, "us", None);
        out.emit(
            &format!("worker.restart_{pname}_us"),
            s,
            "us",
            Some((&bname, b, s / b)),
        );
    }
}

/// From SIGKILL of a process worker to its replacement running (its new pid in the pod's
/// status), with supervisord's figure from `../shared/peers/supervisord_restart.py`
/// measured in the same run when supervisord is installed. Crash-loop backoff is off so
/// that every kill measures the restart path itself (Kubernetes' first restart).
#[cfg(unix)]
fn process_restart(out: &Out) {
    const SAMPLES: usize = 200;
    let e = Engine::builder()
        .kubelet(steady::node::KubeletConfig {
            crash_loop_initial: Duration::ZERO,
            crash_loop_max: Duration::ZERO,
            ..Default::default()
        })
        .build()
        .unwrap();
    let node = e.kubelet().node_names()[0].clone();
    e.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {{nodeName: {node}, containers: [{{name: p, command: [sleep, '100000']}}]}}\n"
    ))
    .unwrap();
    let pods = e.api::<Pod>().namespace("default");
    let pid = || -> Option<i32> {
        let p = pods.get("p").ok()?;
        let c = p.status.as_ref()?.container_statuses.first()?.clone();
        c.state.as_ref()?.running.as_ref()?;
        c.container_id?.strip_prefix("process://")?.parse().ok()
    };
    let wait_new = |old: Option<i32>| loop {
        if let Some(p) = pid() {
            if Some(p) != old {
                return p;
            }
        }
        thread::sleep(Duration::from_micros(100));
    };
    let mut cur = wait_new(None);
    let mut restarts = |n: usize| {
        let mut lat = Vec::with_capacity(n);
        for _ in 0..n {
            let t0 = Instant::now();
            // SAFETY: `cur` is the pid of a child the engine holds unreaped until its exit
            // is reported, so it cannot have been recycled before this signal.
            unsafe {
                libc::kill(cur, libc::SIGKILL);
            }
            cur = wait_new(Some(cur));
            lat.push(t0.elapsed().as_secs_f64() * 1e3);
            thread::sleep(Duration::from_millis(5));
        }
        lat
    };
    let mut lat = restarts(SAMPLES);
    // The same in a host that holds 2 GiB (a game server's own state, say), every page
    // written: starting a process must not cost in proportion to the host's memory.
    let big = out.wants("process.restart_p50_ms_2gib_host").then(|| {
        let heap = std::hint::black_box(vec![1u8; 2 << 30]);
        let lat = restarts(SAMPLES / 4);
        drop(heap);
        lat
    });
    e.shutdown();
    let plain_p50 = percentile(&mut lat, 0.5);
    if let Some(mut big) = big {
        let p50 = percentile(&mut big, 0.5);
        out.emit(
            "process.restart_p50_ms_2gib_host",
            p50,
            "ms",
            Some(("process.restart_p50_ms", plain_p50, p50 / plain_p50)),
        );
    }
    let peer = supervisord_restart();
    for (p, pname, idx) in [(0.5, "p50", 0usize), (0.99, "p99", 1)] {
        let s = percentile(&mut lat, p);
        match &peer {
            Some(b) => {
                let bname = format!("supervisord.restart_{pname}_ms");
                out.emit(&bname, b[idx], "ms", None);
                out.emit(
                    &format!("process.restart_{pname}_ms"),
                    s,
                    "ms",
                    Some((&bname, b[idx], s / b[idx])),
                );
            }
            None => out.emit(&format!("process.restart_{pname}_ms"), s, "ms", None),
        }
    }
}

/// Scale of one node: 1,000 process pods (`sleep`) from one ReplicaSet on one local node.
/// Time until all are Running beside spawning the same processes straight (fork and exec,
/// same run); then, with them running, the engine's resident memory and threads beside
/// the same engine before the pods, and its CPU at rest.
#[cfg(unix)]
fn process_pods_1000(out: &Out) {
    const N: usize = 1000;
    let t0 = Instant::now();
    let mut bare: Vec<std::process::Child> = (0..N)
        .map(|_| {
            std::process::Command::new("sleep")
                .arg("100000")
                .spawn()
                .unwrap()
        })
        .collect();
    let bare_ms = t0.elapsed().as_secs_f64() * 1e3;
    for c in &mut bare {
        let _ = c.kill();
        let _ = c.wait();
    }
    let e = Engine::builder()
        .local_node(false)
        .node(steady::node::NodeConfig::local().max_pods(N as i64 + 10))
        // How much of the footprint is the watch history: set it to 100 and compare.
        .history_limit(
            std::env::var("STEADY_BENCH_HISTORY_LIMIT")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(steady::store::StoreConfig::default().history_limit),
        )
        .build()
        .unwrap();
    let threads = || std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count());
    // Settled before the pods: the same engine's own footprint.
    thread::sleep(Duration::from_millis(500));
    let (rss0, threads0) = (rss_bytes(), threads());
    let t0 = Instant::now();
    e.apply(&format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: sleepers}}\nspec:\n  replicas: {N}\n  selector: {{matchLabels: {{app: sleepers}}}}\n  template:\n    metadata: {{labels: {{app: sleepers}}}}\n    spec: {{containers: [{{name: s, command: [sleep, '100000']}}]}}\n"
    ))
    .unwrap();
    let pods = e.api::<Pod>().namespace("default");
    loop {
        let running = pods
            .list(&Default::default())
            .unwrap()
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .count();
        if running == N {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let running_ms = t0.elapsed().as_secs_f64() * 1e3;
    out.emit(
        "node.process_pods_1000_running_ms",
        running_ms,
        "ms",
        Some((
            "spawning 1,000 sleep processes straight",
            bare_ms,
            running_ms / bare_ms,
        )),
    );
    // At rest: the kubelet's periodic work only.
    thread::sleep(Duration::from_secs(2));
    let (rss, n_threads) = (rss_bytes(), threads());
    out.emit(
        "node.process_pods_1000_rss_mb",
        rss as f64 / 1e6,
        "MB",
        Some((
            "the same engine before the pods",
            rss0 as f64 / 1e6,
            rss as f64 / rss0 as f64,
        )),
    );
    out.emit(
        "node.process_pods_1000_threads",
        n_threads as f64,
        "threads",
        Some((
            "the same engine before the pods",
            threads0 as f64,
            n_threads as f64 / threads0 as f64,
        )),
    );
    let cpu0 = threads_cpu_ns("");
    let w0 = Instant::now();
    thread::sleep(Duration::from_secs(3));
    let cpu =
        threads_cpu_ns("").saturating_sub(cpu0) as f64 / w0.elapsed().as_nanos() as f64 * 100.0;
    out.emit(
        "node.process_pods_1000_idle_cpu_pct",
        cpu,
        "% of a core",
        None,
    );
    e.shutdown();
}

/// supervisord's restart p50/p99 in ms from the peer script, if supervisord is installed.
#[cfg(unix)]
fn supervisord_restart() -> Option<[f64; 2]> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/peers/supervisord_restart.py"
    );
    if !std::path::Path::new(script).exists() {
        return None;
    }
    let has = std::process::Command::new("sh")
        .args(["-c", "command -v supervisord"])
        .output()
        .ok()?
        .status
        .success();
    if !has {
        eprintln!("supervisord is not installed: process.restart has no baseline");
        return None;
    }
    let o = std::process::Command::new("python3")
        .arg(script)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&o.stdout);
    // "supervisord restart ms: p50 1008.1 p99 1010.2 max ..."
    let num = |key: &str| -> Option<f64> {
        let i = text.find(key)? + key.len();
        text[i..].split_whitespace().next()?.parse().ok()
    };
    Some([num("p50 ")?, num("p99 ")?])
}

// ---- ffi: the C ABI and the Python bindings --------------------------------------------

/// Median ns per call of `f` over rounds of `n` calls.
/// One request through `addr`: connect, send 64 bytes, read the 64-byte answer to its end.
/// Its latency in microseconds.
fn proxy_request(addr: std::net::SocketAddr) -> f64 {
    use std::io::{Read, Write};
    let t0 = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(&[b'x'; 64]).unwrap();
    let mut buf = [0u8; 128];
    let mut got = 0;
    loop {
        match s.read(&mut buf[got..]).unwrap() {
            0 => break,
            n => got += n,
        }
    }
    assert_eq!(got, 64, "a full answer from {addr}");
    t0.elapsed().as_nanos() as f64 / 1e3
}

/// The Service proxy: requests (a connection each) through a Service's virtual address
/// against the same requests straight to the endpoint, in the same run. The endpoint is an
/// echo server thread of this process (a Service without selector, its Endpoints written
/// here), so both paths differ only by the proxy.
#[cfg(unix)]
fn service_proxy(out: &Out) {
    use std::io::{Read, Write};
    const ROUNDS: usize = 5;
    const PER_ROUND: usize = 2000;
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let backend = server.local_addr().unwrap();
    thread::spawn(move || {
        for c in server.incoming() {
            let Ok(mut c) = c else { continue };
            let _ = c.set_nodelay(true);
            let mut buf = [0u8; 64];
            if c.read_exact(&mut buf).is_ok() {
                let _ = c.write_all(&buf);
            }
        }
    });
    let e = Engine::builder()
        .local_node(false)
        .node(steady::node::NodeConfig::local_named("bench"))
        .build()
        .unwrap();
    e.apply(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: echo}}\n\
         spec: {{ports: [{{port: 9000}}]}}\n---\n\
         apiVersion: v1\nkind: Endpoints\nmetadata: {{name: echo}}\n\
         subsets: [{{addresses: [{{ip: 127.0.0.1}}], ports: [{{port: {}}}]}}]\n",
        backend.port()
    ))
    .unwrap();
    let ip = e
        .api::<steady::api::Service>()
        .namespace("default")
        .get("echo")
        .unwrap()
        .spec
        .cluster_ip
        .clone()
        .unwrap();
    let service: std::net::SocketAddr = format!("{ip}:9000").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(service).is_err() {
        assert!(Instant::now() < deadline, "the proxy serves {service}");
        thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..200 {
        proxy_request(backend);
        proxy_request(service);
    }
    // Rounds alternate so that both paths see the same machine load.
    let (mut direct, mut proxied) = (Vec::new(), Vec::new());
    let (mut direct_s, mut proxied_s) = (0.0, 0.0);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        direct.extend((0..PER_ROUND).map(|_| proxy_request(backend)));
        direct_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        proxied.extend((0..PER_ROUND).map(|_| proxy_request(service)));
        proxied_s += t.elapsed().as_secs_f64();
    }
    let n = (ROUNDS * PER_ROUND) as f64;
    let (direct_rate, proxied_rate) = (n / direct_s, n / proxied_s);
    out.emit(
        "proxy.connect_per_s",
        proxied_rate,
        "conn/s",
        Some((
            "proxy.direct_connect_per_s",
            direct_rate,
            direct_rate / proxied_rate,
        )),
    );
    let (d50, p50) = (percentile(&mut direct, 0.5), percentile(&mut proxied, 0.5));
    out.emit(
        "proxy.added_p50_us",
        p50 - d50,
        "us",
        Some(("proxy.direct_p50_us", d50, p50 / d50)),
    );
    let (d99, p99) = (
        percentile(&mut direct, 0.99),
        percentile(&mut proxied, 0.99),
    );
    out.emit(
        "proxy.added_p99_us",
        p99 - d99,
        "us",
        Some(("proxy.direct_p99_us", d99, p99 / d99)),
    );
    e.shutdown();
}

fn median_ns(rounds: usize, n: usize, mut f: impl FnMut()) -> f64 {
    let mut per_call = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t0 = Instant::now();
        for _ in 0..n {
            f();
        }
        per_call.push(t0.elapsed().as_nanos() as f64 / n as f64);
    }
    percentile(&mut per_call, 0.5)
}

/// A get of one small object through the C ABI (called from Rust through the exported
/// `extern "C"` functions: argument checks, kind lookup, the dynamic API, JSON out, and
/// `steady_string_free`), beside the same get through the Rust dynamic API.
fn ffi_get(out: &Out) {
    use std::ffi::{c_char, CStr};
    use steady::ffi::*;
    let mut engine: *mut steady_engine = std::ptr::null_mut();
    // SAFETY: a NUL-terminated configuration and a valid out pointer.
    let config = c"{\"workers\": 1, \"kinds\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\"}]}";
    let rc = unsafe { steady_engine_new(config.as_ptr(), &mut engine) };
    assert_eq!(rc, steady_result::STEADY_OK);
    // SAFETY: `engine` is live until steady_engine_free below.
    let rust = unsafe { (*engine).engine() };
    for (name, kind, api_version, kind_name, object) in [
        (
            "ffi.c_get_ns",
            c"ConfigMap",
            "v1",
            "ConfigMap",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "settings", "labels": {"app": "web"}},
                   "data": {"color": "blue", "size": "3"}}),
        ),
        (
            "ffi.c_get_custom_ns",
            c"example.com/v1/Widget",
            "example.com/v1",
            "Widget",
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": "settings", "labels": {"app": "web"}},
                   "spec": {"color": "blue", "size": 3}}),
        ),
    ] {
        let api = rust.dynamic(api_version, kind_name).unwrap();
        api.create(object).unwrap();
        let name_c = c"settings";
        let c_get = || {
            let mut json: *mut c_char = std::ptr::null_mut();
            // SAFETY: live engine, NUL-terminated strings, valid out pointer; the string
            // is freed once with steady_string_free.
            unsafe {
                let rc = steady_engine_get(
                    engine,
                    kind.as_ptr(),
                    std::ptr::null(),
                    name_c.as_ptr(),
                    &mut json,
                );
                debug_assert_eq!(rc, steady_result::STEADY_OK);
                std::hint::black_box(CStr::from_ptr(json));
                steady_string_free(json);
            }
        };
        let rust_get = || {
            std::hint::black_box(api.get("settings").unwrap());
        };
        // The Rust get plus encoding the object as JSON: what the C call does besides
        // crossing the ABI.
        let rust_get_json = || {
            let o = api.get("settings").unwrap();
            std::hint::black_box(serde_json::to_vec(&*o).unwrap());
        };
        let (mut c, mut r, mut j) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..9 {
            c.push(median_ns(5, 20_000, c_get));
            r.push(median_ns(5, 20_000, rust_get));
            j.push(median_ns(5, 20_000, rust_get_json));
        }
        let c = percentile(&mut c, 0.5);
        let r = percentile(&mut r, 0.5);
        let j = percentile(&mut j, 0.5);
        let suffix = &name["ffi.c_get".len()..name.len() - 3];
        let base = format!("rust.dynamic_get{suffix}_ns");
        let json_base = format!("rust.dynamic_get_json{suffix}_ns");
        out.emit(&base, r, "ns", None);
        out.emit(&json_base, j, "ns", None);
        out.emit(name, c, "ns", Some((&base, r, c / r)));
        out.emit(
            &format!("ffi.c_get{suffix}_vs_json_ns"),
            c,
            "ns",
            Some((&json_base, j, c / j)),
        );
    }
    // SAFETY: made by steady_engine_new, freed once.
    unsafe { steady_engine_free(engine) };
}

/// A get through the Python bindings, timed by a short script in python3 (if installed)
/// against the cdylib of this build.
fn python_get(out: &Out) {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|p| p.parent()).unwrap().to_path_buf();
    let lib = ["libsteady.so", "deps/libsteady.so", "libsteady.dylib"]
        .iter()
        .map(|n| profile_dir.join(n))
        .find(|p| p.exists());
    let Some(lib) = lib else {
        eprintln!("python.get_us skipped: no cdylib next to {}", exe.display());
        return;
    };
    let script = r#"
import time, steady
with steady.Engine(workers=1) as e:
    e.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings",
              "labels": {"app": "web"}}, "data": {"color": "blue", "size": "3"}})
    best = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(20000):
            e.get("ConfigMap", "settings")
        best.append((time.perf_counter() - t0) / 20000 * 1e6)
    best.sort()
    print(best[len(best) // 2])
"#;
    let root = env!("CARGO_MANIFEST_DIR");
    let res = std::process::Command::new("python3")
        .args(["-c", script])
        .env("PYTHONPATH", format!("{root}/bindings/python"))
        .env("STEADY_LIBRARY", &lib)
        .output();
    match res {
        Ok(o) if o.status.success() => {
            let us: f64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
            out.emit("python.get_us", us, "us", None);
        }
        Ok(o) => eprintln!(
            "python.get_us failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => eprintln!("python.get_us skipped: python3 is not installed"),
    }
}

/// A Deployment of `replicas` pods of `image`, as a manifest.
fn deployment_manifest(replicas: usize, image: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: {image}
        resources: {{requests: {{cpu: 100m, memory: 128Mi}}}}
"
    )
}

/// Polls the Deployment `web` until `done` holds for its status; the time it took.
fn wait_for_deployment(
    e: &Engine,
    t0: Instant,
    limit: Duration,
    done: impl Fn(&steady::api::Deployment) -> bool,
) -> Duration {
    let deployments = e.api::<steady::api::Deployment>();
    loop {
        if deployments.get("web").is_ok_and(|d| done(&d)) {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < limit, "the deployment did not converge");
        thread::sleep(Duration::from_micros(500));
    }
}

/// 10,000 replicas of a Deployment from apply to all available, and a rollout of a new
/// template, against creating the same 10,000 pods directly in the store. Pods are scheduled
/// onto 100 simulated nodes whose node agents run them.
fn controllers_converge(out: &Out) {
    const N: usize = 10_000;
    // Baseline: the pods a ReplicaSet would create, created directly, one by one.
    let e = Engine::builder()
        .builtin_controllers(false)
        .local_node(false)
        .without_scheduler()
        .build()
        .unwrap();
    let owner = e
        .api::<steady::api::ConfigMap>()
        .create(steady::api::ConfigMap {
            metadata: ObjectMeta {
                name: "web-owner".into(),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
    let template: steady::api::PodTemplateSpec = serde_json::from_value(json!({
        "metadata": {"labels": {"app": "web", "pod-template-hash": "7d4b9c"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}
    }))
    .unwrap();
    let pod = steady::controllers::pod_util::pod_from_template(&template, owner.as_ref());
    let pods = e.api::<Pod>();
    let t0 = Instant::now();
    for _ in 0..N {
        pods.create(pod.clone()).unwrap();
    }
    let base = t0.elapsed().as_secs_f64() * 1e3;
    drop(e);
    out.emit("store.create_10k_pods_ms", base, "ms", None);

    // The whole path: Deployment -> ReplicaSet -> pods -> scheduler -> node agents of 100
    // simulated nodes -> pod status -> ReplicaSet and Deployment status. Each node holds 200
    // pods: with the default 110 the rollout's surge (10,000 + 25%) does not fit, and
    // about 1,500 pods of each wave wait out the scheduler's 1 s backoff instead of
    // measuring the controllers.
    let mut builder = Engine::builder().local_node(false);
    for i in 0..100 {
        builder = builder.node(
            steady::node::NodeConfig::simulated(&format!("sim-{i}"), 64_000, 256 << 30)
                .max_pods(200),
        );
    }
    let e = builder.build().unwrap();
    let limit = Duration::from_secs(120);
    let t0 = Instant::now();
    e.apply(&deployment_manifest(N, "nginx:1.25")).unwrap();
    let converge = wait_for_deployment(&e, t0, limit, |d| {
        d.status
            .as_ref()
            .is_some_and(|s| s.available_replicas == Some(N as i32))
    });
    let ms = converge.as_secs_f64() * 1e3;
    out.emit(
        "controllers.converge_10k_ms",
        ms,
        "ms",
        Some(("store.create_10k_pods_ms", base, ms / base)),
    );

    if out.wants("controllers.rollout_10k_ms") {
        let t0 = Instant::now();
        e.apply(&deployment_manifest(N, "nginx:1.26")).unwrap();
        let rollout = wait_for_deployment(&e, t0, limit, |d| {
            d.status.as_ref().is_some_and(|s| {
                s.observed_generation == d.metadata.generation
                    && s.updated_replicas == Some(N as i32)
                    && s.replicas == Some(N as i32)
                    && s.available_replicas == Some(N as i32)
            })
        });
        let ms = rollout.as_secs_f64() * 1e3;
        out.emit(
            "controllers.rollout_10k_ms",
            ms,
            "ms",
            Some(("store.create_10k_pods_ms", base, ms / base)),
        );
    }
}

/// A Node of kube-scheduler's scheduler_perf (`node-default.yaml`): 4 CPUs, 32 GiB, 110 pods.
fn perf_node(i: usize) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": format!("node-{i:05}"),
                     "labels": {"kubernetes.io/hostname": format!("node-{i:05}")}},
        "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"}}
    }))
    .unwrap()
}

/// A Pod of scheduler_perf (`pod-default.yaml`): one container asking 100m and 500Mi.
fn perf_pod(i: usize) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": format!("pod-{i:05}"), "namespace": "default"},
        "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.9",
            "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}
    }))
    .unwrap()
}

/// CPU time (user + system, ns) of the whole process, exited threads included, from
/// `/proc/self/stat` (in clock ticks of 1/100 s, Linux's fixed `USER_HZ`; 0 elsewhere): for
/// a measurement whose work runs on threads that end before it is read.
#[cfg(feature = "apiserver")]
fn process_cpu_ns() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // The fields after the command name, which is in parentheses and may hold spaces:
    // utime and stime are the 14th and 15th fields, the 12th and 13th after it.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse::<u64>().ok())
        .sum();
    ticks * 10_000_000
}

/// CPU time (ns) used so far by the calling thread (Linux `schedstat`; 0 elsewhere).
fn this_thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time (ns) used so far by this process's threads whose name starts with `prefix`
/// (Linux `schedstat`; 0 elsewhere). Threads that exited are not counted.
fn threads_cpu_ns(prefix: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim().starts_with(prefix))
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// One timed scheduling run: `count` pods made by `make` onto 5,000 scheduler_perf nodes,
/// from the first pod created to the last one bound (`spec.nodeName` set), in an engine with
/// the store and the scheduler only, as kube-scheduler's scheduler_perf runs it (no other
/// controller, no node agent: the nodes are objects only). Returns the wall time (ms), the
/// CPU the scheduler's threads spent per pod (us) and every pod as bound.
fn scheduling_run(count: usize, make: impl Fn(usize) -> Pod) -> (f64, f64, Vec<Arc<Pod>>) {
    const NODES: usize = 5_000;
    let e = Engine::builder()
        .builtin_controllers(false)
        .local_node(false)
        .build()
        .unwrap();
    let nodes = e.api::<Node>();
    let mut last = 0;
    for i in 0..NODES {
        let n = perf_node(i);
        let status = n.status.clone();
        let mut created = (*nodes.create(n).unwrap()).clone();
        created.status = status;
        let stored = nodes.update_status(&created).unwrap();
        last = stored.metadata.revision().unwrap();
    }
    let sched = e.scheduler().unwrap();
    while sched.last_synced_revision("Node") < last {
        thread::sleep(Duration::from_millis(1));
    }
    let pods = e.api::<Pod>();
    let mut w = pods
        .watch(&WatchParams {
            since: Some(e.store().revision()),
            ..Default::default()
        })
        .unwrap();
    let counter = thread::spawn(move || {
        let mut bound = std::collections::HashSet::new();
        while bound.len() < count {
            if let Ok(TypedEvent::Modified(p)) = w.recv() {
                if p.spec.node_name.is_some() && !bound.contains(&p.metadata.name) {
                    bound.insert(p.metadata.name.clone());
                }
            }
        }
        Instant::now()
    });
    let batch: Vec<Pod> = (0..count).map(make).collect();
    let cpu0 = threads_cpu_ns("steady-sched");
    let t0 = Instant::now();
    for p in batch {
        pods.create(p).unwrap();
    }
    let done = counter.join().unwrap();
    let ms = (done - t0).as_secs_f64() * 1e3;
    // Events and status writes may trail the last binding: wait until the scheduler is idle.
    while sched.queue_counts() != Default::default() {
        thread::sleep(Duration::from_millis(1));
    }
    thread::sleep(Duration::from_millis(200));
    let cpu_us_per_pod =
        threads_cpu_ns("steady-sched").saturating_sub(cpu0) as f64 / 1e3 / count as f64;
    let all = pods.list(&ListParams::default()).unwrap().items;
    (ms, cpu_us_per_pod, all)
}

/// kube-scheduler's SchedulingBasic shape: 10,000 pods onto 5,000 nodes with the default
/// plugins, against the same 10,000 compare-and-swap updates of `spec.nodeName` done by hand
/// (the write a binding needs, without choosing a node). Also the CPU the scheduler's threads
/// spent per pod (scheduling, forwarding watches, binding, status and events), which the load
/// of a shared machine does not inflate as much as wall time. Returns the pods per second.
fn scheduler_throughput(out: &Out) -> f64 {
    const NODES: usize = 5_000;
    const PODS: usize = 10_000;

    // Baseline: create the pods, then time setting spec.nodeName on each (CAS on its
    // resourceVersion), in an engine without a scheduler.
    let base_ms = {
        let e = Engine::builder().without_scheduler().build().unwrap();
        let api = e.api::<Pod>();
        let created: Vec<Arc<Pod>> = (0..PODS)
            .map(|i| api.create(perf_pod(i)).unwrap())
            .collect();
        let t0 = Instant::now();
        for (i, p) in created.iter().enumerate() {
            let mut p = (**p).clone();
            p.spec.node_name = Some(format!("node-{:05}", i % NODES));
            api.update(p).unwrap();
        }
        t0.elapsed().as_secs_f64() * 1e3
    };

    let (ms, cpu_us_per_pod, pods) = scheduling_run(PODS, perf_pod);
    let rate = PODS as f64 / (ms / 1e3);
    // Every pod bound, within what its node offers.
    let mut per_node: std::collections::HashMap<String, i64> = Default::default();
    for p in pods {
        *per_node
            .entry(p.spec.node_name.clone().expect("every pod bound"))
            .or_default() += 100;
    }
    assert!(per_node.values().all(|cpu| *cpu <= 4000));
    let base_us_per_update = base_ms * 1e3 / PODS as f64;
    out.emit("store.update_10k_pods_ms", base_ms, "ms", None);
    out.emit(
        "scheduler.pods_per_s_5000_nodes",
        rate,
        "pods/s",
        Some(("store.update_10k_pods_ms", base_ms, ms / base_ms)),
    );
    out.emit("scheduler.ms_10k_pods_5000_nodes", ms, "ms", None);
    out.emit(
        "scheduler.cpu_us_per_pod_5000_nodes",
        cpu_us_per_pod,
        "us",
        Some((
            "store.update_cpu_us",
            base_us_per_update,
            cpu_us_per_pod / base_us_per_update,
        )),
    );
    rate
}

/// How many groups the inter-pod affinity figures split their pods into (one app label
/// each): a node can hold one pod of each group under hostname anti-affinity.
const AFFINITY_GROUPS: usize = 10;

/// A scheduler_perf pod of group `i % AFFINITY_GROUPS`, with `affinity` (a JSON
/// `spec.affinity` naming the group as `GROUP`).
fn affinity_pod(i: usize, affinity: &str) -> Pod {
    let group = format!("g{}", i % AFFINITY_GROUPS);
    let mut p = perf_pod(i);
    p.metadata.labels.insert("group".into(), group.clone());
    p.spec.affinity = Some(serde_json::from_str(&affinity.replace("GROUP", &group)).unwrap());
    p
}

const REQUIRED_ANTI_AFFINITY: &str = r#"{"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"labelSelector": {"matchLabels": {"group": "GROUP"}}, "topologyKey": "kubernetes.io/hostname"}]}}"#;
const PREFERRED_AFFINITY: &str = r#"{"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
    {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"group": "GROUP"}},
     "topologyKey": "kubernetes.io/hostname"}}]}}"#;

/// The SchedulingBasic shape again (10,000 pods, 5,000 nodes), every pod in one of ten
/// groups with required anti-affinity against its group on `kubernetes.io/hostname`
/// (kube-scheduler's SchedulingPodAntiAffinity), then with preferred affinity towards its
/// group (weight 100); each beside the plain figure of the same run (`plain`, measured here
/// when the plain section did not run). The ratio is the plain rate over this one: how many
/// times longer a pod with these terms takes.
fn scheduler_affinity(out: &Out, plain: Option<f64>) {
    const PODS: usize = 10_000;
    let plain = plain.unwrap_or_else(|| {
        let (ms, _, _) = scheduling_run(PODS, perf_pod);
        PODS as f64 / (ms / 1e3)
    });
    if out.wants("scheduler.pods_per_s_5000_nodes_anti_affinity") {
        let (ms, cpu, pods) = scheduling_run(PODS, |i| affinity_pod(i, REQUIRED_ANTI_AFFINITY));
        // Never two pods of a group on one node.
        let mut seen = std::collections::HashSet::new();
        for p in &pods {
            let key = (
                p.spec.node_name.clone().expect("every pod bound"),
                p.metadata.labels["group"].clone(),
            );
            assert!(seen.insert(key), "two pods of a group on one node");
        }
        let rate = PODS as f64 / (ms / 1e3);
        out.emit(
            "scheduler.pods_per_s_5000_nodes_anti_affinity",
            rate,
            "pods/s",
            Some(("scheduler.pods_per_s_5000_nodes", plain, plain / rate)),
        );
        out.emit(
            "scheduler.cpu_us_per_pod_5000_nodes_anti_affinity",
            cpu,
            "us",
            None,
        );
    }
    if out.wants("scheduler.pods_per_s_5000_nodes_preferred_affinity") {
        let (ms, cpu, _) = scheduling_run(PODS, |i| affinity_pod(i, PREFERRED_AFFINITY));
        let rate = PODS as f64 / (ms / 1e3);
        out.emit(
            "scheduler.pods_per_s_5000_nodes_preferred_affinity",
            rate,
            "pods/s",
            Some(("scheduler.pods_per_s_5000_nodes", plain, plain / rate)),
        );
        out.emit(
            "scheduler.cpu_us_per_pod_5000_nodes_preferred_affinity",
            cpu,
            "us",
            None,
        );
    }
}

// ---- api: the Kubernetes-compatible HTTP API -----------------------------------------------

/// A minimal HTTP/1.1 keep-alive client (plain HTTP on loopback: the figures measure the
/// API server, not TLS).
#[cfg(feature = "apiserver")]
struct Http {
    stream: std::io::BufReader<std::net::TcpStream>,
    host: String,
    token: String,
}

#[cfg(feature = "apiserver")]
impl Http {
    fn connect(addr: std::net::SocketAddr, token: &str) -> Http {
        let s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).unwrap();
        Http {
            stream: std::io::BufReader::new(s),
            host: addr.to_string(),
            token: token.to_string(),
        }
    }

    /// Sends a request; returns the status code once the whole body was read.
    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> u16 {
        use std::io::{BufRead, Read, Write};
        // One write for the head and the body, as a buffered client (Go's net/http, which
        // kubectl and client-go use) sends a small request.
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            self.token,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.stream.get_mut().write_all(&request).unwrap();
        let mut line = String::new();
        self.stream.read_line(&mut line).unwrap();
        let code: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut buf = vec![0; length];
        self.stream.read_exact(&mut buf).unwrap();
        code
    }
}

/// Requests per second from `streams` concurrent HTTP/2 streams on one connection (plain
/// HTTP/2 with prior knowledge), as kubectl and client-go send requests, and as the etcd
/// peer's 64 clients share one gRPC connection. `request(stream, n)` gives the method,
/// path and body of a stream's `n`th request; every answer must be 200.
#[cfg(feature = "apiserver")]
fn h2_per_second(
    addr: std::net::SocketAddr,
    token: &str,
    streams: usize,
    secs: f64,
    request: impl Fn(usize, u64) -> (&'static str, String, Vec<u8>) + Send + Sync + 'static,
) -> f64 {
    use http_body_util::{BodyExt, Full};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let auth = format!("Bearer {token}");
    let request = Arc::new(request);
    rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tcp),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..streams)
            .map(|c| {
                let mut sender = sender.clone();
                let auth = auth.clone();
                let request = request.clone();
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while t0.elapsed().as_secs_f64() < secs {
                        let (method, path, body) = request(c, n);
                        let req = hyper::Request::builder()
                            .method(method)
                            .uri(format!("http://{addr}{path}"))
                            .header("authorization", &auth)
                            .header("content-type", "application/json")
                            .body(Full::new(bytes::Bytes::from(body)))
                            .unwrap();
                        let resp = sender.send_request(req).await.unwrap();
                        assert_eq!(resp.status(), 200);
                        resp.into_body().collect().await.unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total as f64 / t0.elapsed().as_secs_f64()
    })
}

/// Requests per second from `clients` keep-alive connections, each doing `op` for about
/// `secs`; the in-process `baseline` on as many threads in the same run.
#[cfg(feature = "apiserver")]
fn per_second(
    clients: usize,
    secs: f64,
    op: impl Fn(usize) -> Box<dyn FnMut() + Send> + Sync,
) -> f64 {
    let barrier = Barrier::new(clients);
    let total: usize = thread::scope(|s| {
        let hs: Vec<_> = (0..clients)
            .map(|c| {
                let mut f = op(c);
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let t0 = Instant::now();
                    let mut n = 0;
                    while t0.elapsed().as_secs_f64() < secs {
                        for _ in 0..16 {
                            f();
                        }
                        n += 16;
                    }
                    (n, t0.elapsed().as_secs_f64())
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                let (n, t) = h.join().unwrap();
                (n as f64 / t * secs) as usize
            })
            .sum()
    });
    total as f64 / secs
}

#[cfg(feature = "apiserver")]
fn api_server(out: &Out) {
    use steady::apiserver::{ApiServerConfig, Tls};
    let token = "bench-token-0123456789abcdef";
    let mut config = ApiServerConfig::new("127.0.0.1:0".parse().unwrap());
    config.tls = Tls::Disabled;
    config.token = Some(token.into());
    let e = Engine::builder()
        .local_node(false)
        .builtin_controllers(false)
        .without_scheduler()
        .api_server(config)
        .build()
        .unwrap();
    let addr = e.api_server().unwrap().local_addr();
    let cms = e.dynamic("v1", "ConfigMap").unwrap();
    let object = |i: usize, v: u64| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": format!("bench-{i}"), "namespace": "default"},
               "data": {"value": v.to_string(), "color": "blue"}})
    };
    for i in 0..64 {
        cms.create(object(i, 0)).unwrap();
    }
    let secs = 2.0;
    for clients in [1usize, 64] {
        if out.wants("api.get_per_s") {
            let http = per_second(clients, secs, |c| {
                let mut h = Http::connect(addr, token);
                let path = format!("/api/v1/namespaces/default/configmaps/bench-{c}");
                Box::new(move || assert_eq!(h.request("GET", &path, b""), 200))
            });
            let base = per_second(clients, secs, |c| {
                let cms = cms.clone();
                let name = format!("bench-{c}");
                Box::new(move || {
                    cms.get(&name).unwrap();
                })
            });
            out.emit(
                &format!("api.get_per_s_{clients}"),
                http,
                "req/s",
                Some(("in-process DynamicApi::get", base, base / http)),
            );
        }
        if out.wants("api.put_per_s") || out.wants("api.put_server_cpu_us") {
            let api_cpu = threads_cpu_ns("steady-api");
            let http = per_second(clients, secs, |c| {
                let mut h = Http::connect(addr, token);
                let path = format!("/api/v1/namespaces/default/configmaps/bench-{c}");
                let mut v = 0u64;
                Box::new(move || {
                    v += 1;
                    let body = serde_json::to_vec(&object(c, v)).unwrap();
                    assert_eq!(h.request("PUT", &path, &body), 200);
                })
            });
            let api_cpu = threads_cpu_ns("steady-api").saturating_sub(api_cpu);
            // The clients of the baseline do its work and exit before the second reading:
            // the whole process's CPU counts them, a sum over live threads would not.
            let all_cpu = process_cpu_ns();
            let base = per_second(clients, secs, |c| {
                let cms = cms.clone();
                let mut v = 1u64 << 40;
                Box::new(move || {
                    v += 1;
                    cms.update(object(c, v)).unwrap();
                })
            });
            let all_cpu = process_cpu_ns().saturating_sub(all_cpu);
            out.emit(
                &format!("api.put_per_s_{clients}"),
                http,
                "req/s",
                Some(("in-process DynamicApi::update", base, base / http)),
            );
            // The server's CPU per request: steadier than the rate on a shared machine,
            // where the clients and other jobs take turns with the server on the cores.
            let server = api_cpu as f64 / 1e3 / (http * secs);
            let inproc = all_cpu as f64 / 1e3 / (base * secs);
            out.emit(
                &format!("api.put_server_cpu_us_{clients}"),
                server,
                "us",
                Some((
                    "in-process DynamicApi::update, CPU of the whole process",
                    inproc,
                    server / inproc,
                )),
            );
        }
    }
    // HTTP/2: 64 streams on one connection, beside the same in-process baseline.
    if out.wants("api.h2_get_per_s_64") {
        let http = h2_per_second(addr, token, 64, secs, |c, _| {
            let path = format!("/api/v1/namespaces/default/configmaps/bench-{c}");
            ("GET", path, Vec::new())
        });
        let base = per_second(64, secs, |c| {
            let cms = cms.clone();
            let name = format!("bench-{c}");
            Box::new(move || {
                cms.get(&name).unwrap();
            })
        });
        out.emit(
            "api.h2_get_per_s_64",
            http,
            "req/s",
            Some(("in-process DynamicApi::get", base, base / http)),
        );
    }
    if out.wants("api.h2_put_per_s_64") {
        let http = h2_per_second(addr, token, 64, secs, move |c, n| {
            let path = format!("/api/v1/namespaces/default/configmaps/bench-{c}");
            let body = serde_json::to_vec(&object(c, (1 << 50) + n)).unwrap();
            ("PUT", path, body)
        });
        let base = per_second(64, secs, |c| {
            let cms = cms.clone();
            let mut v = 1u64 << 45;
            Box::new(move || {
                v += 1;
                cms.update(object(c, v)).unwrap();
            })
        });
        out.emit(
            "api.h2_put_per_s_64",
            http,
            "req/s",
            Some(("in-process DynamicApi::update", base, base / http)),
        );
    }
    if out.wants("api.watch_latency") {
        api_watch_latency(out, &e, addr, token);
    }
    e.shutdown();
}

/// Write-to-event latency of a watch over HTTP (a JSON line per event), beside an
/// in-process watch of the same writes.
#[cfg(feature = "apiserver")]
fn api_watch_latency(out: &Out, e: &Engine, addr: std::net::SocketAddr, token: &str) {
    use std::io::{BufRead, Write};
    let cms = e.dynamic("v1", "ConfigMap").unwrap();
    let since = e.store().revision();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    write!(
        s,
        "GET /api/v1/namespaces/default/configmaps?watch=1&resourceVersion={since} HTTP/1.1\r\n\
         Host: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut r = std::io::BufReader::new(s);
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    let mut local = e
        .store()
        .watch(
            "ConfigMap",
            &WatchParams {
                since: Some(since),
                ..Default::default()
            },
        )
        .unwrap();
    let (mut http, mut base) = (Vec::new(), Vec::new());
    for i in 0..400u64 {
        let t0 = Instant::now();
        cms.patch(
            "bench-0",
            &json!({"data": {"value": format!("w{i}")}}),
            false,
        )
        .unwrap();
        let local_at = {
            local.recv().unwrap();
            t0.elapsed()
        };
        // Chunked framing: a size line, the event line, then the chunk's CRLF.
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line.contains(&format!("\"w{i}\"")) {
                break;
            }
        }
        http.push(t0.elapsed().as_secs_f64() * 1e6);
        base.push(local_at.as_secs_f64() * 1e6);
    }
    let (hp50, bp50) = (percentile(&mut http, 0.5), percentile(&mut base, 0.5));
    out.emit(
        "api.watch_latency_p50_us",
        hp50,
        "us",
        Some(("in-process watch", bp50, hp50 / bp50)),
    );
    let (hp99, bp99) = (percentile(&mut http, 0.99), percentile(&mut base, 0.99));
    out.emit(
        "api.watch_latency_p99_us",
        hp99,
        "us",
        Some(("in-process watch", bp99, hp99 / bp99)),
    );
}

/// A throw-away etcd for the `etcd.` figures: Debian's etcd-server on free loopback ports,
/// its data under `STEADY_BENCH_DIR` (or the temporary directory); killed when dropped.
#[cfg(feature = "etcd")]
struct BenchEtcd {
    child: std::process::Child,
    url: String,
    dir: std::path::PathBuf,
}

#[cfg(feature = "etcd")]
impl BenchEtcd {
    fn start() -> Option<BenchEtcd> {
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let (client, peer) = (port(), port());
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let dir = bench_dir("etcd");
        let child = std::process::Command::new("etcd")
            .args(["--name", "bench", "--data-dir"])
            .arg(&dir)
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("bench={peer_url}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| eprintln!("etcd. figures skipped: cannot run etcd ({e})"))
            .ok()?;
        let etcd = BenchEtcd { child, url, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", client)).is_err() {
            if Instant::now() > deadline {
                eprintln!("etcd. figures skipped: etcd did not start");
                return None;
            }
            thread::sleep(Duration::from_millis(50));
        }
        Some(etcd)
    }
}

#[cfg(feature = "etcd")]
impl Drop for BenchEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Raw etcd transactions per second from `writers` concurrent writers, each on a key of its
/// own, in the shape of steady's writes (compare the key's mod_revision, put ~1 KiB), through
/// the same client library and connection setup: the baseline of `etcd.update_per_s`.
#[cfg(feature = "etcd")]
fn raw_etcd_txn_rate(url: &str, writers: usize, per_writer: usize) -> f64 {
    use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let client = Client::connect([url], None).await.unwrap();
        let value = vec![b'x'; 1024];
        let mut revs = Vec::new();
        for w in 0..writers {
            let mut kv = client.kv_client();
            let r = kv
                .put(format!("/raw/{w}"), value.clone(), None)
                .await
                .unwrap();
            revs.push(r.header().unwrap().revision());
        }
        let t0 = Instant::now();
        let tasks: Vec<_> = revs
            .into_iter()
            .enumerate()
            .map(|(w, mut rev)| {
                let mut kv = client.kv_client();
                let value = value.clone();
                tokio::spawn(async move {
                    let key = format!("/raw/{w}");
                    for _ in 0..per_writer {
                        let txn = Txn::new()
                            .when([Compare::mod_revision(key.clone(), CompareOp::Equal, rev)])
                            .and_then([TxnOp::put(key.clone(), value.clone(), None)]);
                        let r = kv.txn(txn).await.unwrap();
                        assert!(r.succeeded());
                        rev = r.header().unwrap().revision();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        (writers * per_writer) as f64 / t0.elapsed().as_secs_f64()
    })
}

/// `etcd.update_per_s[_64threads]`: updates through a store on etcd (the write is an etcd
/// transaction; the writer returns once the watch brought it back into the cache), beside
/// raw etcd transactions of the same shape from as many writers against the same etcd,
/// alternating three rounds each.
#[cfg(feature = "etcd")]
fn etcd_updates(out: &Out, threads: usize) {
    let Some(etcd) = BenchEtcd::start() else {
        return;
    };
    let per_thread = if threads == 1 { 1_500 } else { 150 };
    const ROUNDS: usize = 3;
    let engine = Engine::builder()
        .builtin_controllers(false)
        .local_node(false)
        .without_scheduler()
        .etcd(
            [etcd.url.clone()],
            steady::store::etcd::EtcdConfig::default(),
        )
        .build()
        .unwrap();
    let (mut raw_secs, mut steady_secs) = (0.0, 0.0);
    let round = per_thread / ROUNDS;
    for _ in 0..ROUNDS {
        raw_secs += (threads * round) as f64 / raw_etcd_txn_rate(&etcd.url, threads, round);
        steady_secs += (threads * round) as f64 / update_rate(&engine, threads, round);
    }
    drop(engine);
    let raw = (ROUNDS * threads * round) as f64 / raw_secs;
    let rate = (ROUNDS * threads * round) as f64 / steady_secs;
    let suffix = threads_suffix(threads);
    let bname = format!("etcd.raw_txn_per_s{suffix}");
    out.emit(&bname, raw, "ops/s", None);
    out.emit(
        &format!("etcd.update_per_s{suffix}"),
        rate,
        "ops/s",
        Some((&bname, raw, raw / rate)),
    );
}

/// `etcd.converge_1000_pods_3engines_ms`: a Deployment of 1,000 pods from apply to all
/// available on three engines sharing one etcd, each running one simulated node of its own
/// (the leader runs the controllers and the scheduler; each engine's node agent runs the pods
/// bound to its node), beside the same Deployment on one in-memory engine with the same three
/// nodes (the baseline).
#[cfg(feature = "etcd")]
fn etcd_converge(out: &Out) {
    use steady::node::NodeConfig;
    const N: usize = 1_000;
    let node = |i: usize| {
        NodeConfig::simulated(&format!("host-{i}"), 64_000, 256 << 30).max_pods(N as i64)
    };
    let limit = Duration::from_secs(300);
    let converged = |e: &Engine, t0: Instant| {
        wait_for_deployment(e, t0, limit, |d| {
            d.status
                .as_ref()
                .is_some_and(|s| s.available_replicas == Some(N as i32))
        })
    };
    let mut b = Engine::builder().local_node(false);
    for i in 0..3 {
        b = b.node(node(i));
    }
    let e = b.build().unwrap();
    let t0 = Instant::now();
    e.apply(&deployment_manifest(N, "nginx:1.25")).unwrap();
    let base = converged(&e, t0).as_secs_f64() * 1e3;
    drop(e);
    out.emit("etcd.converge_1000_pods_in_memory_ms", base, "ms", None);

    let Some(etcd) = BenchEtcd::start() else {
        return;
    };
    let engines: Vec<Engine> = (0..3)
        .map(|i| {
            Engine::builder()
                .local_node(false)
                .node(node(i))
                .etcd(
                    [etcd.url.clone()],
                    steady::store::etcd::EtcdConfig::default(),
                )
                .build()
                .unwrap()
        })
        .collect();
    // The clock starts once one engine leads: the election is measured by etcd.failover_ms.
    let t = Instant::now();
    while !engines.iter().any(Engine::is_leader) {
        assert!(t.elapsed() < limit, "no engine leads");
        thread::sleep(Duration::from_millis(10));
    }
    let rev0 = engines[0].store().revision();
    let t0 = Instant::now();
    engines[0]
        .apply(&deployment_manifest(N, "nginx:1.25"))
        .unwrap();
    let ms = converged(&engines[0], t0).as_secs_f64() * 1e3;
    // Each etcd revision is one transaction: what the convergence cost etcd.
    let writes = engines[0].store().revision() - rev0;
    drop(engines);
    out.emit(
        "etcd.converge_1000_pods_3engines_ms",
        ms,
        "ms",
        Some(("etcd.converge_1000_pods_in_memory_ms", base, ms / base)),
    );
    out.emit(
        "etcd.converge_1000_pods_3engines_txns_per_s",
        writes as f64 / (ms / 1e3),
        "txn/s",
        None,
    );
}

/// The environment variable that makes this bench an engine on etcd for `etcd.failover_ms`:
/// `URL NODE IDENTITY`.
#[cfg(feature = "etcd")]
const ENGINE_CHILD: &str = "STEADY_BENCH_ETCD_ENGINE";

/// This process as one engine of `etcd.failover_ms`: on etcd at `URL`, with one simulated
/// node `NODE` and the default leader election as `IDENTITY`; it says `ready` on stdout once
/// built and runs until its stdin closes (or it is killed).
#[cfg(feature = "etcd")]
fn etcd_engine_child(spec: &str) {
    use std::io::{Read, Write};
    let mut words = spec.split(' ');
    let (Some(url), Some(node), Some(identity)) = (words.next(), words.next(), words.next()) else {
        panic!("{ENGINE_CHILD} is URL NODE IDENTITY, not {spec:?}");
    };
    let engine = Engine::builder()
        .local_node(false)
        .node(steady::node::NodeConfig::simulated(node, 64_000, 256 << 30))
        .etcd([url], steady::store::etcd::EtcdConfig::default())
        .leader_election(steady::client::leader::LeaderElectionConfig {
            identity: identity.into(),
            ..Default::default()
        })
        .build()
        .unwrap();
    println!("ready");
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(engine);
}

/// `etcd.failover_ms`: three engines (processes of this bench) on one etcd with the default
/// leader election (15 s lease, 2 s retries); the leader is SIGKILLed and a ReplicaSet scaled
/// up at once; the figure is the time from the kill to the new pod, which only the next
/// leader's ReplicaSet controller can create. Its floor is the lease duration (nobody may
/// take a Lease before it expires), given as the baseline.
#[cfg(feature = "etcd")]
fn etcd_failover(out: &Out) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use steady::client::leader::LeaderElectionConfig;
    let Some(etcd) = BenchEtcd::start() else {
        return;
    };
    let limit = Duration::from_secs(120);
    let mut children: Vec<(String, std::process::Child)> = (0..3)
        .map(|i| {
            let id = format!("bench-engine-{i}");
            let mut child = Command::new(std::env::current_exe().expect("this bench"))
                .env(ENGINE_CHILD, format!("{} host-{i} {id}", etcd.url))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("an engine process");
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert_eq!(line.trim(), "ready", "engine {id} did not start");
            (id, child)
        })
        .collect();
    // This process reads and writes through a store on the same etcd; its own election (on
    // a Lease of its own) keeps it out of the engines' one.
    let observer = Engine::builder()
        .builtin_controllers(false)
        .local_node(false)
        .without_scheduler()
        .etcd(
            [etcd.url.clone()],
            steady::store::etcd::EtcdConfig::default(),
        )
        .leader_election(LeaderElectionConfig {
            name: "steady-bench-observer".into(),
            ..Default::default()
        })
        .build()
        .unwrap();
    let replica_set = |n: usize| {
        format!(
            "apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: failover}}
spec:
  replicas: {n}
  selector: {{matchLabels: {{app: failover}}}}
  template:
    metadata: {{labels: {{app: failover}}}}
    spec:
      containers: [{{name: main, image: sleeper}}]
"
        )
    };
    let pods = observer.api::<Pod>();
    let params = ListParams {
        selector: Some(Selector::parse("app=failover").unwrap()),
        ..Default::default()
    };
    let wait_pods = |n: usize, t0: Instant| loop {
        if pods.list(&params).unwrap().items.len() >= n {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "the ReplicaSet did not reach {n} pods"
        );
        thread::sleep(Duration::from_millis(1));
    };
    observer.apply(&replica_set(2)).unwrap();
    wait_pods(2, Instant::now());
    let lease = observer
        .api::<steady::api::Lease>()
        .namespace("kube-system")
        .get("steady-controllers")
        .unwrap();
    let holder = lease.spec.holder_identity.clone().unwrap_or_default();
    let leader = children
        .iter()
        .position(|(id, _)| *id == holder)
        .expect("one of the engines leads");
    let (_, mut dead) = children.remove(leader);
    let t0 = Instant::now();
    dead.kill().unwrap();
    observer.apply(&replica_set(3)).unwrap();
    let took = wait_pods(3, t0);
    let _ = dead.wait();
    drop(observer);
    for (_, mut c) in children {
        drop(c.stdin.take());
        let _ = c.wait();
    }
    let floor = LeaderElectionConfig::default().lease_duration;
    out.emit(
        "etcd.failover_ms",
        took.as_secs_f64() * 1e3,
        "ms",
        Some((
            "etcd.lease_duration_ms",
            floor.as_secs_f64() * 1e3,
            took.as_secs_f64() / floor.as_secs_f64(),
        )),
    );
}

fn main() {
    let mut json = false;
    let mut filter = Vec::new();
    for a in std::env::args().skip(1) {
        if a == "--json" {
            json = true;
        } else {
            filter.push(a);
        }
    }
    let out = Out { json, filter };
    #[cfg(feature = "etcd")]
    if let Ok(spec) = std::env::var(ENGINE_CHILD) {
        return etcd_engine_child(&spec);
    }
    // Memory first, in a fresh process heap.
    if out.wants("store.bytes_per_pod") {
        bytes_per_pod(&out);
    }
    if out.wants("store.update_per_s") {
        updates(&out, 1);
        updates(&out, 2);
    }
    if out.wants("store.get_ns") || out.wants("store.list_by_label_ms") {
        reads(&out);
    }
    if out.wants("durable.update_per_s") {
        durable_updates(&out, 1);
    }
    if out.wants("durable.update_per_s_64threads") {
        durable_updates(&out, 64);
    }
    if out.wants("durable.recovery_100k_ms") || out.wants("durable.disk_bytes_per_pod") {
        durable_recovery(&out);
    }
    #[cfg(feature = "etcd")]
    if out.wants("etcd.update_per_s") {
        etcd_updates(&out, 1);
    }
    #[cfg(feature = "etcd")]
    if out.wants("etcd.update_per_s_64threads") {
        etcd_updates(&out, 64);
    }
    #[cfg(feature = "etcd")]
    if out.wants("etcd.failover_ms") {
        etcd_failover(&out);
    }
    #[cfg(feature = "etcd")]
    if out.wants("etcd.converge_1000_pods") {
        etcd_converge(&out);
    }
    if out.wants("watch.") {
        watch_latency(&out, 1);
        watch_latency(&out, 100);
    }
    if out.wants("runtime.reconciles_per_s") || out.wants("runtime.reconcile_cpu_ns") {
        runtime_throughput(&out);
    }
    if out.wants("runtime.event_to_reconcile") {
        runtime_latency(&out);
    }
    if out.wants("worker.restart") {
        worker_restart(&out);
    }
    #[cfg(unix)]
    if out.wants("node.process_pods_1000") {
        out.in_fresh_process("node.process_pods_1000", process_pods_1000);
    }
    #[cfg(unix)]
    if out.wants("process.restart") {
        out.in_fresh_process("process.restart", process_restart);
    }
    #[cfg(unix)]
    if out.wants("proxy.") {
        service_proxy(&out);
    }
    if out.wants("ffi.") || out.wants("rust.dynamic_get") {
        ffi_get(&out);
    }
    if out.wants("python.") {
        python_get(&out);
    }
    if [
        "store.create_10k_pods_ms",
        "controllers.converge_10k_ms",
        "controllers.rollout_10k_ms",
    ]
    .iter()
    .any(|n| out.wants(n))
    {
        controllers_converge(&out);
    }
    let plain = [
        "scheduler.pods_per_s_5000_nodes",
        "scheduler.ms_10k_pods_5000_nodes",
        "scheduler.cpu_us_per_pod_5000_nodes",
        "store.update_10k_pods_ms",
    ]
    .iter()
    .any(|n| out.wants(n))
    .then(|| scheduler_throughput(&out));
    if out.wants("scheduler.pods_per_s_5000_nodes_anti_affinity")
        || out.wants("scheduler.pods_per_s_5000_nodes_preferred_affinity")
    {
        scheduler_affinity(&out, plain);
    }
    #[cfg(feature = "apiserver")]
    if out.wants("api.") {
        api_server(&out);
    }
}
