//! The controller runtime end to end: a custom kind `Widget` that wants N child ConfigMaps.

mod common;

use common::eventually;
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steady::api::{ConfigMap, DynamicObject, Object, ObjectMeta};
use steady::client::DeleteParams;
use steady::clock::{Clock, ManualClock};
use steady::runtime::finalizer::finalizer;
use steady::runtime::{
    owner_reference, Action, Context, Controller, ReconcileError, ReconcileResult,
};

/// A metric of the controller `name`, 0 when absent.
fn metric(e: &Engine, metric: &str, label: &str, name: &str) -> f64 {
    e.metrics()
        .value(metric, &[(label, name)])
        .map_or(0.0, |v| v.as_f64())
}
use steady::store::ListParams;
use steady::Engine;

/// Waits until `controller` has no reconcile running. A test that moves a manual clock must
/// first let the failed or requeued reconcile finish: its retry deadline is computed from the
/// clock when the reconcile returns, not when the test saw it start.
fn idle(e: &Engine, controller: &str) {
    eventually(10, "the controller's workers to finish", || {
        metric(
            e,
            "controller_runtime_active_workers",
            "controller",
            controller,
        ) == 0.0
    });
}

fn widget(name: &str, replicas: i64) -> serde_json::Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"replicas": replicas}})
}

/// Keeps `spec.replicas` ConfigMaps named `<widget>-<i>`, owned by the widget, and deletes
/// them (finalizer cleanup) when the widget is deleted; panics on a widget named `bad`.
fn reconcile_widget(ctx: &Context) -> ReconcileResult {
    let Some(obj) = ctx.object() else {
        return Ok(Action::done());
    };
    if obj.meta().name == "bad" {
        panic!("widget {} is cursed", obj.meta().name);
    }
    let out = finalizer(
        ctx.store(),
        "example.com/children",
        obj,
        |ev| -> ReconcileResult {
            let w = ev
                .object()
                .as_any()
                .downcast_ref::<DynamicObject>()
                .expect("a Widget");
            let want = if ev.is_cleanup() {
                0
            } else {
                w.data["spec"]["replicas"].as_u64().unwrap_or(0) as usize
            };
            let uid = w.metadata.uid.clone().unwrap_or_default();
            let cms = ctx.api::<ConfigMap>();
            let owned = cms.list(&ListParams {
                owner_uid: Some(uid),
                ..Default::default()
            })?;
            let have: HashSet<String> = owned
                .items
                .iter()
                .map(|c| c.metadata.name.clone())
                .collect();
            for i in 0..want {
                let name = format!("{}-{i}", w.metadata.name);
                if !have.contains(&name) {
                    let cm = ConfigMap {
                        metadata: ObjectMeta {
                            name,
                            owner_references: vec![owner_reference(w, true)],
                            ..Default::default()
                        },
                        ..Default::default()
                    };
                    match cms.create(cm) {
                        Ok(_) | Err(steady::Error::AlreadyExists { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            for c in &owned.items {
                let idx: Option<usize> = c
                    .metadata
                    .name
                    .rsplit('-')
                    .next()
                    .and_then(|s| s.parse().ok());
                if idx.is_none_or(|i| i >= want) {
                    let _ = cms.delete(&c.metadata.name, &DeleteParams::default());
                }
            }
            if !ev.is_cleanup() {
                ctx.primary()?.patch(
                    &w.metadata.name,
                    &json!({"status": {"children": want}}),
                    true,
                )?;
            }
            Ok(Action::done())
        },
    )?;
    Ok(out.into_value().unwrap_or(Action::done()))
}

fn children(e: &Engine, widget: &str) -> usize {
    e.api::<ConfigMap>()
        .list(&Default::default())
        .unwrap()
        .items
        .iter()
        .filter(|c| c.metadata.name.starts_with(&format!("{widget}-")))
        .count()
}

#[test]
fn widgets_converge_scale_heal_and_survive_a_panicking_neighbour() {
    let e = common::builder()
        .workers(2)
        .controller(
            Controller::new("widgets", "example.com/v1", "Widget")
                .owns("ConfigMap")
                .concurrency(2)
                .build(reconcile_widget),
        )
        .build()
        .unwrap();
    let widgets = e.dynamic("example.com/v1", "Widget").unwrap();
    widgets.create(widget("a", 3)).unwrap();
    widgets.create(widget("bad", 2)).unwrap();
    widgets.create(widget("b", 1)).unwrap();
    eventually(10, "a has 3 children, b has 1", || {
        children(&e, "a") == 3 && children(&e, "b") == 1
    });

    // Scale up and down.
    widgets
        .patch("a", &json!({"spec": {"replicas": 5}}), false)
        .unwrap();
    eventually(10, "a has 5 children", || children(&e, "a") == 5);
    widgets
        .patch("a", &json!({"spec": {"replicas": 2}}), false)
        .unwrap();
    eventually(10, "a has 2 children", || children(&e, "a") == 2);

    // A child deleted behind the controller's back comes back.
    e.api::<ConfigMap>()
        .delete("a-1", &DeleteParams::default())
        .unwrap();
    eventually(10, "a-1 is back", || {
        e.api::<ConfigMap>().get("a-1").is_ok()
    });

    // The cursed widget panicked, was counted and retried; the others converged all along.
    eventually(10, "a panic was counted", || {
        metric(
            &e,
            "controller_runtime_reconcile_panics_total",
            "controller",
            "widgets",
        ) >= 1.0
    });
    assert_eq!(children(&e, "bad"), 0);
    assert_eq!(widgets.get("b").unwrap().data["status"]["children"], 1);
    // Deleting a widget runs the finalizer's cleanup: its children go, then the widget.
    widgets.delete("a", &DeleteParams::default()).unwrap();
    eventually(10, "a and its children are gone", || {
        children(&e, "a") == 0 && widgets.get("a").is_err()
    });
    assert_eq!(children(&e, "b"), 1);

    let text = steady::runtime::render_prometheus(&e.metrics());
    assert!(
        text.contains("controller_runtime_reconcile_panics_total{controller=\"widgets\"}"),
        "{text}"
    );
    e.shutdown();
}

#[test]
fn a_key_is_never_reconciled_by_two_workers_at_once() {
    let in_flight = Arc::new(Mutex::new(HashSet::<String>::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (f, c) = (in_flight.clone(), calls.clone());
    let e = common::builder()
        .workers(4)
        .controller(
            Controller::new("exclusive", "example.com/v1", "Widget")
                .concurrency(4)
                .build(move |ctx: &Context| {
                    assert!(
                        f.lock().unwrap().insert(ctx.name().to_string()),
                        "{} reconciled twice at once",
                        ctx.name()
                    );
                    std::thread::sleep(Duration::from_micros(200));
                    f.lock().unwrap().remove(ctx.name());
                    c.fetch_add(1, Ordering::SeqCst);
                    Ok(Action::done())
                }),
        )
        .build()
        .unwrap();
    let widgets = e.dynamic("example.com/v1", "Widget").unwrap();
    for i in 0..4 {
        widgets.create(widget(&format!("w{i}"), 0)).unwrap();
    }
    for round in 1..=50 {
        for i in 0..4 {
            widgets
                .patch(
                    &format!("w{i}"),
                    &json!({"spec": {"replicas": round}}),
                    false,
                )
                .unwrap();
        }
    }
    // The last change of every key is seen after it was made (dirty keys are reprocessed).
    eventually(10, "every widget reconciled at its last generation", || {
        metric(&e, "workqueue_depth", "name", "exclusive") == 0.0
            && metric(
                &e,
                "controller_runtime_active_workers",
                "controller",
                "exclusive",
            ) == 0.0
            && calls.load(Ordering::SeqCst) >= 4
    });
    assert_eq!(
        metric(
            &e,
            "controller_runtime_reconcile_panics_total",
            "controller",
            "exclusive"
        ),
        0.0,
        "no overlap was detected"
    );
}

#[test]
fn status_only_changes_do_not_wake_the_controller_that_wrote_them() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let e = common::builder()
        .controller(
            Controller::new("status-writer", "example.com/v1", "Widget").build(
                move |ctx: &Context| {
                    let n = c.fetch_add(1, Ordering::SeqCst);
                    ctx.primary()?
                        .patch(ctx.name(), &json!({"status": {"calls": n + 1}}), true)?;
                    Ok(Action::done())
                },
            ),
        )
        .build()
        .unwrap();
    let widgets = e.dynamic("example.com/v1", "Widget").unwrap();
    widgets.create(widget("w", 1)).unwrap();
    eventually(10, "the first reconcile wrote status", || {
        widgets.get("w").unwrap().data.get("status").is_some()
    });
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "writing its own status did not re-trigger it"
    );
    widgets
        .patch("w", &json!({"spec": {"replicas": 2}}), false)
        .unwrap();
    eventually(10, "a spec change triggers it", || {
        calls.load(Ordering::SeqCst) == 2
    });
}

#[test]
fn failures_back_off_exponentially_on_the_engine_clock() {
    let clock = Arc::new(ManualClock::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let e = common::builder()
        .clock(clock.clone())
        .controller(
            Controller::new("failing", "example.com/v1", "Widget").build(move |_: &Context| {
                c.fetch_add(1, Ordering::SeqCst);
                Err(ReconcileError::retry("not yet"))
            }),
        )
        .build()
        .unwrap();
    e.dynamic("example.com/v1", "Widget")
        .unwrap()
        .create(widget("w", 1))
        .unwrap();
    eventually(10, "first attempt", || calls.load(Ordering::SeqCst) == 1);
    // Backoff: 5 ms, then 10 ms, then 20 ms. Nothing happens until the clock gets there.
    for (n, step_ms) in [(2, 5), (3, 10), (4, 20)] {
        idle(&e, "failing");
        clock.advance(Duration::from_millis(step_ms - 1));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            n - 1,
            "retried before its backoff elapsed"
        );
        clock.advance(Duration::from_millis(1));
        eventually(10, "retry after backoff", || {
            calls.load(Ordering::SeqCst) == n
        });
    }
    idle(&e, "failing");
    assert_eq!(
        metric(
            &e,
            "controller_runtime_reconcile_errors_total",
            "controller",
            "failing"
        ),
        4.0
    );
}

#[test]
fn requeue_after_reconciles_again_when_the_clock_gets_there() {
    let clock = Arc::new(ManualClock::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let e = common::builder()
        .clock(clock.clone())
        .controller(Controller::new("poller", "example.com/v1", "Widget").build(
            move |_: &Context| {
                c.fetch_add(1, Ordering::SeqCst);
                Ok(Action::requeue(Duration::from_secs(30)))
            },
        ))
        .build()
        .unwrap();
    e.dynamic("example.com/v1", "Widget")
        .unwrap()
        .create(widget("w", 1))
        .unwrap();
    eventually(10, "first reconcile", || calls.load(Ordering::SeqCst) == 1);
    idle(&e, "poller");
    clock.advance(Duration::from_secs(29));
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(1));
    eventually(10, "requeued reconcile", || {
        calls.load(Ordering::SeqCst) == 2
    });
}

/// A reconcile that takes a while (here: the manual clock moves while it runs) and then asks
/// to come back in 10 s, or fails, is due 10 s (or its backoff) after it began, not after it
/// returned: a deadline is never pushed past the time the reconcile decided on.
#[test]
fn requeue_and_retry_deadlines_count_from_when_the_reconcile_began() {
    let clock = Arc::new(ManualClock::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let (c, clk) = (calls.clone(), clock.clone());
    let e = common::builder()
        .clock(clock.clone())
        .controller(Controller::new("slow", "example.com/v1", "Widget").build(
            move |_: &Context| match c.fetch_add(1, Ordering::SeqCst) {
                0 => {
                    clk.advance(Duration::from_secs(10));
                    Ok(Action::requeue(Duration::from_secs(10)))
                }
                1 => {
                    clk.advance(Duration::from_millis(5));
                    Err(ReconcileError::retry("slow and failing"))
                }
                _ => Ok(Action::done()),
            },
        ))
        .build()
        .unwrap();
    e.dynamic("example.com/v1", "Widget")
        .unwrap()
        .create(widget("w", 1))
        .unwrap();
    // No one advances the clock from outside: both deadlines have passed when they are set.
    eventually(10, "requeued, retried, then done", || {
        calls.load(Ordering::SeqCst) == 3
    });
    idle(&e, "slow");
    assert_eq!(clock.monotonic(), Duration::from_millis(10_005));
}

#[test]
fn one_deep_queue_does_not_starve_another_controller() {
    let slow_done = Arc::new(AtomicUsize::new(0));
    let fast_seen_at = Arc::new(Mutex::new(None));
    let (s, f) = (slow_done.clone(), fast_seen_at.clone());
    let s2 = slow_done.clone();
    let e = common::builder()
        .workers(1)
        .kind(steady::api::KindInfo::dynamic(
            "example.com/v1",
            "Gadget",
            true,
        ))
        .controller(Controller::new("slow", "example.com/v1", "Widget").build(
            move |_: &Context| {
                std::thread::sleep(Duration::from_millis(1));
                s.fetch_add(1, Ordering::SeqCst);
                Ok(Action::done())
            },
        ))
        .controller(Controller::new("fast", "example.com/v1", "Gadget").build(
            move |_: &Context| {
                f.lock().unwrap().get_or_insert(s2.load(Ordering::SeqCst));
                Ok(Action::done())
            },
        ))
        .build()
        .unwrap();
    let widgets = e.dynamic("example.com/v1", "Widget").unwrap();
    let txn: Vec<_> = (0..500)
        .map(|i| {
            steady::store::TxnOp::Create(Arc::new(
                serde_json::from_value::<steady::api::DynamicObject>(widget(&format!("w{i}"), 1))
                    .unwrap(),
            ) as Arc<dyn Object>)
        })
        .collect();
    e.store().transaction(txn).unwrap();
    eventually(10, "the slow controller is busy", || {
        slow_done.load(Ordering::SeqCst) >= 5
    });
    e.dynamic("example.com/v1", "Gadget")
        .unwrap()
        .create(
            json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}),
        )
        .unwrap();
    eventually(10, "the fast controller ran", || {
        fast_seen_at.lock().unwrap().is_some()
    });
    let at = fast_seen_at.lock().unwrap().unwrap();
    let _ = widgets;
    assert!(
        at < 100,
        "the fast controller waited for {at} of 500 slow reconciles"
    );
}

#[test]
fn controllers_added_at_run_time_see_existing_objects_and_shutdown_joins() {
    let e = common::builder().build().unwrap();
    e.dynamic("example.com/v1", "Widget")
        .unwrap()
        .create(widget("early", 1))
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    e.add_controller(Controller::new("late", "example.com/v1", "Widget").build(
        move |ctx: &Context| {
            s.lock().unwrap().push(ctx.name().to_string());
            Ok(Action::done())
        },
    ))
    .unwrap();
    eventually(10, "the late controller saw the early widget", || {
        seen.lock().unwrap().contains(&"early".to_string())
    });
    e.shutdown();
    assert!(e
        .add_controller(
            Controller::new("after", "example.com/v1", "Widget")
                .build(|_: &Context| Ok(Action::done()))
        )
        .is_err());
}

/// Informers queue a burst of changes (a controller's initial list, a transaction) and wake
/// the pool once per burst: every key of the burst, and a lone change right after it, must
/// still be reconciled, with the pool's workers asleep in between.
#[test]
fn bursts_of_changes_and_a_lone_change_after_them_are_all_reconciled() {
    let e = common::builder().build().unwrap();
    let widgets = e.dynamic("example.com/v1", "Widget").unwrap();
    let txn = |from: usize, n: usize| {
        let ops = (from..from + n)
            .map(|i| {
                let o: DynamicObject =
                    serde_json::from_value(widget(&format!("w-{i}"), 0)).unwrap();
                steady::store::TxnOp::Create(Arc::new(o))
            })
            .collect();
        e.store().transaction(ops).unwrap();
    };
    txn(0, 1000);
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let s = seen.clone();
    e.add_controller(Controller::new("bursts", "example.com/v1", "Widget").build(
        move |ctx: &Context| {
            s.lock().unwrap().insert(ctx.name().to_string());
            Ok(Action::done())
        },
    ))
    .unwrap();
    eventually(10, "the 1,000 widgets that existed before", || {
        seen.lock().unwrap().len() == 1000
    });
    // Several bursts of 700 (more than one informer burst each), then one lone create.
    for b in 0..3 {
        txn(1000 + b * 700, 700);
    }
    eventually(10, "every widget of the transactions", || {
        seen.lock().unwrap().len() == 1000 + 3 * 700
    });
    widgets.create(widget("lone", 0)).unwrap();
    eventually(10, "the lone widget created after the bursts", || {
        seen.lock().unwrap().contains("lone")
    });
    e.shutdown();
}

/// A watch that falls behind (here: the informer thread held up by a mapper while more
/// changes arrive than a watch may queue) is reopened with the current state: every object
/// is still reconciled.
#[test]
fn an_informer_that_falls_behind_relists_and_misses_nothing() {
    let e = common::builder()
        .local_node(false)
        .watch_capacity(8)
        .build()
        .unwrap();
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(Some(gate_rx));
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let s = seen.clone();
    e.add_controller(
        Controller::new("behind", "example.com/v1", "Widget")
            .watches("ConfigMap", move |_: &dyn steady::api::Object| {
                // The first ConfigMap holds the informer thread until the test lets go.
                if let Some(rx) = gate.lock().unwrap().take() {
                    let _ = rx.recv_timeout(Duration::from_secs(10));
                }
                Vec::new()
            })
            .build(move |ctx: &Context| {
                s.lock().unwrap().insert(ctx.name().to_string());
                Ok(Action::done())
            }),
    )
    .unwrap();
    let cms = e.api::<ConfigMap>().namespace("default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = "hold".into();
    cms.create(cm).unwrap();
    let widgets = e.dynamic("example.com/v1", "Widget").unwrap();
    for i in 0..40 {
        widgets.create(widget(&format!("w-{i}"), 0)).unwrap();
    }
    gate_tx.send(()).unwrap();
    eventually(
        10,
        "all 40 widgets, after the Widget watch was reopened",
        || seen.lock().unwrap().len() == 40,
    );
    // The reopened watch wakes the informer as the first one did: a change made once it is
    // idle again is reconciled too (not only when another kind happens to wake it).
    widgets.create(widget("w-late", 0)).unwrap();
    eventually(10, "the widget created after the relist", || {
        seen.lock().unwrap().contains("w-late")
    });
    e.shutdown();
}

#[test]
fn shutdown_lets_a_running_reconcile_finish_then_joins_everything() {
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (s, f) = (started.clone(), finished.clone());
    let e = common::builder()
        .shutdown_grace(Duration::from_secs(10))
        .controller(
            Controller::new("slowpoke", "example.com/v1", "Widget").build(move |_: &Context| {
                s.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(200));
                f.fetch_add(1, Ordering::SeqCst);
                Ok(Action::done())
            }),
        )
        .build()
        .unwrap();
    e.dynamic("example.com/v1", "Widget")
        .unwrap()
        .create(widget("w", 1))
        .unwrap();
    eventually(10, "the reconcile started", || {
        started.load(Ordering::SeqCst) == 1
    });
    e.shutdown();
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "shutdown waited for the running reconcile"
    );
    // No work is taken after shutdown.
    assert!(e
        .dynamic("example.com/v1", "Widget")
        .unwrap()
        .create(widget("x", 1))
        .is_ok());
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(started.load(Ordering::SeqCst), 1);
}

#[test]
fn an_engine_dropped_right_after_it_starts_shuts_down_without_hanging() {
    // Informer threads may still be starting their watches when shutdown closes them.
    for i in 0..50 {
        let e = common::builder()
            .controller(
                Controller::new("quick", "example.com/v1", "Widget")
                    .owns("ConfigMap")
                    .build(|_: &Context| Ok(Action::done())),
            )
            .build()
            .unwrap();
        if i % 2 == 0 {
            e.dynamic("example.com/v1", "Widget")
                .unwrap()
                .create(widget("w", 1))
                .unwrap();
        }
        drop(e);
    }
}

#[test]
fn a_trigger_queues_keys_from_outside_the_store_now_and_after_a_delay() {
    let clock = Arc::new(ManualClock::default());
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let s = seen.clone();
    let ctl =
        Controller::new("external", "example.com/v1", "Widget").build(move |ctx: &Context| {
            s.lock().unwrap().push(ctx.name().to_string());
            Ok(Action::done())
        });
    let trigger = ctl.trigger();
    // Not registered yet: nothing to queue into.
    assert!(!trigger.enqueue(steady::runtime::ObjectKey::new(Some("default"), "early")));
    let e = common::builder()
        .clock(clock.clone())
        .controller(ctl)
        .build()
        .unwrap();
    // A key with no object behind it: the reconciler still runs (it sees the object gone).
    assert!(trigger.enqueue(steady::runtime::ObjectKey::new(Some("default"), "ghost")));
    eventually(10, "the triggered reconcile", || {
        seen.lock().unwrap().as_slice() == ["ghost"]
    });
    assert!(trigger.enqueue_after(
        steady::runtime::ObjectKey::new(Some("default"), "later"),
        Duration::from_secs(5)
    ));
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(seen.lock().unwrap().len(), 1, "not before the delay");
    clock.advance(Duration::from_secs(5));
    eventually(10, "the delayed reconcile", || {
        seen.lock().unwrap().len() == 2
    });
    assert_eq!(seen.lock().unwrap()[1], "later");
    e.shutdown();
    assert!(!trigger.enqueue(steady::runtime::ObjectKey::new(Some("default"), "after")));
}

#[test]
fn a_child_created_and_deleted_right_after_registration_still_wakes_its_owner() {
    // The informer of a newly watched kind opens its watch before add_controller returns,
    // so even a child that lives only between registration and the informer thread's start
    // is seen. Each round watches a kind no informer watches yet.
    let e = common::engine();
    for round in 0..30 {
        let kind = format!("Part{round}");
        let owners = e.dynamic("example.com/v1", "Gadget").unwrap();
        let owner = owners
            .create(json!({"apiVersion": "example.com/v1", "kind": "Gadget",
                "metadata": {"name": format!("g{round}")}}))
            .unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        e.store()
            .registry()
            .register(steady::api::KindInfo::dynamic(
                "example.com/v1",
                &kind,
                true,
            ));
        e.add_controller(
            Controller::new(&format!("gadgets-{round}"), "example.com/v1", "Gadget")
                .owns(&kind)
                .namespace("nowhere") // the primary informer never enqueues this owner
                .build(move |_: &Context| {
                    c.fetch_add(1, Ordering::SeqCst);
                    Ok(Action::done())
                }),
        )
        .unwrap();
        let parts = e.dynamic("example.com/v1", &kind).unwrap();
        parts
            .create(json!({"apiVersion": "example.com/v1", "kind": kind,
                "metadata": {"name": "p", "ownerReferences": [owner_reference(&*owner, true)]}}))
            .unwrap();
        parts.delete("p", &DeleteParams::default()).unwrap();
        eventually(10, "the owner reconciled for its short-lived child", || {
            calls.load(Ordering::SeqCst) >= 1
        });
    }
}

/// Whether a widget has an even `spec.replicas`; panics on the widget "cursed", as user code
/// may.
fn even_replicas(o: &dyn Object) -> bool {
    let w = o.as_any().downcast_ref::<DynamicObject>().unwrap();
    assert!(w.metadata.name != "cursed", "user code that panics");
    w.data["spec"]["replicas"].as_i64().unwrap_or(1) % 2 == 0
}

/// An engine with one controller of widgets, shaped by `shape`, that records the name of
/// every widget it reconciles; and the record. Strict FIFO (no pacing), for [`mark`].
fn recording(shape: impl FnOnce(Controller) -> Controller) -> (Engine, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let s = seen.clone();
    let e = common::builder()
        .controller(
            // Strict FIFO for the markers: a reconcile slowed by a loaded machine must not
            // be paced behind one.
            shape(Controller::new("recorder", "example.com/v1", "Widget").pacing(None)).build(
                move |ctx: &Context| {
                    s.lock().unwrap().push(ctx.name().to_string());
                    Ok(Action::done())
                },
            ),
        )
        .build()
        .unwrap();
    (e, seen)
}

/// Creates the widget `name` (even replicas) and waits until the recorder reconciled it. One
/// worker, FIFO: a marker reconciled after a change proves the change was not queued.
fn mark(e: &Engine, seen: &Mutex<Vec<String>>, name: &str) {
    let widgets = e.dynamic("example.com/v1", "Widget").unwrap();
    widgets.create(widget(name, 0)).unwrap();
    eventually(10, name, || seen.lock().unwrap().iter().any(|n| n == name));
}

#[test]
fn a_filter_scopes_the_primary_kind_and_an_object_leaving_it_is_seen_once_more() {
    // Widgets with an even spec.replicas are in scope; "cursed" panics in the filter.
    let (e, seen) = recording(|c| c.filter(even_replicas));
    let widgets = e.dynamic("example.com/v1", "Widget").unwrap();
    let seen_now = || seen.lock().unwrap().clone();
    widgets.create(widget("odd", 1)).unwrap();
    widgets.create(widget("cursed", 2)).unwrap();
    mark(&e, &seen, "m1");
    assert_eq!(
        seen_now(),
        vec!["m1"],
        "out of scope, and a panicking filter"
    );

    widgets.create(widget("even", 2)).unwrap();
    eventually(10, "even", || seen_now().contains(&"even".to_string()));
    // Leaving the scope: reconciled once more. Changes outside it: not at all.
    widgets
        .patch("even", &json!({"spec": {"replicas": 3}}), false)
        .unwrap();
    widgets
        .patch("even", &json!({"spec": {"replicas": 5}}), false)
        .unwrap();
    widgets
        .patch("odd", &json!({"spec": {"replicas": 7}}), false)
        .unwrap();
    mark(&e, &seen, "m2");
    assert_eq!(seen_now(), vec!["m1", "even", "even", "m2"]);
}

#[test]
fn a_custom_predicate_filters_creations_and_one_that_panics_lets_the_change_through() {
    // Widgets are reconciled when created or changed with an even spec.replicas; the
    // predicate panics on "cursed", which is reconciled all the same.
    let (e, seen) = recording(|c| {
        c.predicate(steady::runtime::Predicate::Custom(Arc::new(
            |_old: Option<&dyn Object>, new: &dyn Object| even_replicas(new),
        )))
    });
    let widgets = e.dynamic("example.com/v1", "Widget").unwrap();
    let seen_now = || seen.lock().unwrap().clone();
    widgets.create(widget("odd", 1)).unwrap();
    widgets.create(widget("cursed", 1)).unwrap();
    mark(&e, &seen, "m1");
    assert_eq!(
        seen_now(),
        vec!["cursed", "m1"],
        "an odd creation is filtered; a panicking predicate passes"
    );
    widgets
        .patch("odd", &json!({"spec": {"replicas": 2}}), false)
        .unwrap();
    mark(&e, &seen, "m2");
    widgets.delete("odd", &DeleteParams::default()).unwrap();
    mark(&e, &seen, "m3");
    assert_eq!(
        seen_now(),
        vec!["cursed", "m1", "odd", "m2", "odd", "m3"],
        "a change that passes, and a deletion, are reconciled"
    );
}
