//! Compare-and-swap under contention: many writers, one object, no lost update, and a
//! watcher sees every revision exactly once, in order.

mod common;

use common::{counter, counters, engine, value_of};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use steady::store::{WatchEvent, WatchParams};
use steady::Error;

#[test]
fn eight_threads_incrementing_one_counter_lose_no_update_and_the_watcher_sees_every_revision() {
    let e = engine();
    let api = counters(&e);
    let created = api.create(counter("c", 0)).unwrap();
    let start_rev: u64 = created
        .metadata
        .resource_version
        .as_ref()
        .unwrap()
        .parse()
        .unwrap();
    let mut watch = api
        .watch(&WatchParams {
            since: Some(start_rev),
            ..Default::default()
        })
        .unwrap();

    const THREADS: usize = 8;
    const PER_THREAD: usize = 200;
    let successes = Arc::new(AtomicU64::new(0));
    let conflicts = Arc::new(AtomicU64::new(0));
    thread::scope(|s| {
        for _ in 0..THREADS {
            let api = api.clone();
            let successes = successes.clone();
            let conflicts = conflicts.clone();
            s.spawn(move || {
                for _ in 0..PER_THREAD {
                    loop {
                        let cur = api.get("c").unwrap();
                        let mut next = (*cur).clone();
                        let v = next.data["spec"]["value"].as_i64().unwrap();
                        next.data["spec"]["value"] = (v + 1).into();
                        match api.update(serde_json::to_value(&next).unwrap()) {
                            Ok(_) => {
                                successes.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            Err(Error::Conflict { .. }) => {
                                conflicts.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(other) => panic!("unexpected error: {other}"),
                        }
                    }
                }
            });
        }
    });

    let total = successes.load(Ordering::Relaxed);
    assert_eq!(total, (THREADS * PER_THREAD) as u64);
    let last = api.get("c").unwrap();
    assert_eq!(value_of(last.as_ref()), total as i64, "no update was lost");

    // The watcher saw each successful update once, with values 1..=total and revisions rising
    // by exactly one each time (nothing else was written).
    let mut prev_rev = start_rev;
    for expected in 1..=total as i64 {
        let ev = watch.recv().unwrap();
        let WatchEvent::Modified(o) = ev else {
            panic!("expected MODIFIED, got {ev:?}")
        };
        let rev = o.meta().revision().unwrap();
        assert_eq!(rev, prev_rev + 1, "revisions are gap-free and in order");
        assert_eq!(value_of(o.as_ref()), expected);
        prev_rev = rev;
    }
    assert!(watch.try_recv().unwrap().is_none(), "no event twice");
    assert_eq!(e.store().revision(), prev_rev);
}
