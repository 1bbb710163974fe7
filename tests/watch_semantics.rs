//! Watch: replay from a revision, initial state, filters, expiry, bookmarks, release on drop.

mod common;

use common::{counter, counters, value_of};
use serde_json::json;
use steady::api::Selector;
use steady::store::{DeleteParams, WatchEvent, WatchParams};
use steady::Error;

fn rev(o: &steady::api::DynamicObject) -> u64 {
    o.metadata
        .resource_version
        .as_ref()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn watch_from_a_revision_replays_exactly_the_missed_events() {
    let e = common::engine();
    let api = counters(&e);
    let a = api.create(counter("a", 1)).unwrap();
    let from = rev(&a);
    // Missed while nobody watched: create b, update a, delete b.
    api.create(counter("b", 2)).unwrap();
    api.patch("a", &json!({"spec": {"value": 10}}), false)
        .unwrap();
    api.delete("b", &DeleteParams::default()).unwrap();

    let mut w = api
        .watch(&WatchParams {
            since: Some(from),
            ..Default::default()
        })
        .unwrap();
    let got: Vec<(String, String, i64, u64)> = (0..3)
        .map(|_| {
            let ev = w.recv().unwrap();
            let o = ev.object().unwrap().clone();
            (
                ev.type_name().to_string(),
                o.meta().name.clone(),
                value_of(o.as_ref()),
                ev.revision(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("ADDED".into(), "b".into(), 2, from + 1),
            ("MODIFIED".into(), "a".into(), 10, from + 2),
            ("DELETED".into(), "b".into(), 2, from + 3),
        ]
    );
    assert!(w.try_recv().unwrap().is_none());
    // And it goes on live.
    api.create(counter("c", 3)).unwrap();
    match w.recv().unwrap() {
        WatchEvent::Added(o) => assert_eq!(o.meta().name, "c"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn watch_without_a_revision_starts_with_the_current_state_then_goes_live() {
    let e = common::engine();
    let api = counters(&e);
    api.create(counter("a", 1)).unwrap();
    api.create(counter("b", 2)).unwrap();
    let mut w = api.watch(&WatchParams::default()).unwrap();
    let mut names: Vec<String> = (0..2)
        .map(|_| match w.recv().unwrap() {
            WatchEvent::Added(o) => o.meta().name.clone(),
            other => panic!("expected synthetic ADDED, got {other:?}"),
        })
        .collect();
    names.sort(); // the initial state comes in no particular order
    assert_eq!(names, ["a", "b"]);
    assert!(w.try_recv().unwrap().is_none());
    api.patch("b", &json!({"spec": {"value": 5}}), false)
        .unwrap();
    assert!(matches!(w.recv().unwrap(), WatchEvent::Modified(_)));
}

#[test]
fn watch_from_a_revision_older_than_history_is_expired_naming_both_revisions() {
    let e = common::builder()
        .local_node(false)
        .history_limit(5)
        .build()
        .unwrap();
    let api = counters(&e);
    let first = api.create(counter("c", 0)).unwrap();
    for i in 1..=10 {
        api.patch("c", &json!({"spec": {"value": i}}), false)
            .unwrap();
    }
    let err = api
        .watch(&WatchParams {
            since: Some(rev(&first)),
            ..Default::default()
        })
        .unwrap_err();
    let Error::Expired { requested, oldest } = err.clone() else {
        panic!("expected Expired, got {err}")
    };
    assert_eq!(requested, rev(&first));
    // 11 events, 5 kept: the oldest deliverable revision is the 7th change.
    assert_eq!(oldest, rev(&first) + 6);
    assert_eq!(
        err.to_string(),
        format!("too old resource version: {requested} ({oldest})")
    );
    // From the oldest kept point it works and replays the 5 kept events.
    let mut w = api
        .watch(&WatchParams {
            since: Some(oldest - 1),
            ..Default::default()
        })
        .unwrap();
    for _ in 0..5 {
        w.recv().unwrap();
    }
    assert!(w.try_recv().unwrap().is_none());
}

#[test]
fn a_watch_from_beyond_the_stores_revision_is_refused_as_too_large() {
    let e = common::builder().local_node(false).build().unwrap();
    let api = counters(&e);
    api.create(counter("c", 0)).unwrap();
    let now = e.store().revision();
    let err = api
        .watch(&WatchParams {
            since: Some(now + 1),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(err, Error::TooNew { requested, current } if requested == now + 1 && current == now),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("too large resource version: {}, current: {now}", now + 1)
    );
    // From the current revision it works, and delivers what comes next.
    let mut w = api
        .watch(&WatchParams {
            since: Some(now),
            ..Default::default()
        })
        .unwrap();
    assert!(w.try_recv().unwrap().is_none());
    api.patch("c", &json!({"spec": {"value": 1}}), false)
        .unwrap();
    assert!(matches!(w.recv().unwrap(), WatchEvent::Modified(_)));
}

#[test]
fn a_watcher_that_falls_behind_gets_everything_it_was_sent_then_expired() {
    let e = common::builder()
        .local_node(false)
        .watch_capacity(4)
        .build()
        .unwrap();
    let api = counters(&e);
    let c = api.create(counter("c", 0)).unwrap();
    let mut w = api
        .watch(&WatchParams {
            since: Some(rev(&c)),
            ..Default::default()
        })
        .unwrap();
    for i in 1..=10 {
        api.patch("c", &json!({"spec": {"value": i}}), false)
            .unwrap();
    }
    // The 4 queued events come first, in order, then Expired naming where it stopped.
    for i in 1..=4 {
        let ev = w.recv().unwrap();
        assert_eq!(value_of(ev.object().unwrap().as_ref()), i);
    }
    match w.recv() {
        Err(Error::Expired { requested, oldest }) => {
            assert_eq!(requested, rev(&c) + 4);
            assert_eq!(oldest, rev(&c) + 5);
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    // The writer was never blocked, and the watch stays failed.
    assert!(w.recv().is_err());
}

#[test]
fn label_selector_watch_sees_objects_moving_in_and_out_as_added_and_deleted() {
    let e = common::engine();
    let api = counters(&e);
    let mut w = api
        .watch(&WatchParams {
            selector: Some(Selector::parse("tier=web").unwrap()),
            ..Default::default()
        })
        .unwrap();
    api.create(counter("x", 0)).unwrap(); // not matching: nothing
    api.patch(
        "x",
        &json!({"metadata": {"labels": {"tier": "web"}}}),
        false,
    )
    .unwrap();
    assert!(matches!(w.recv().unwrap(), WatchEvent::Added(_)));
    api.patch("x", &json!({"spec": {"value": 1}}), false)
        .unwrap();
    assert!(matches!(w.recv().unwrap(), WatchEvent::Modified(_)));
    api.patch("x", &json!({"metadata": {"labels": {"tier": "db"}}}), false)
        .unwrap();
    assert!(matches!(w.recv().unwrap(), WatchEvent::Deleted(_)));
    api.delete("x", &DeleteParams::default()).unwrap();
    assert!(w.try_recv().unwrap().is_none());
}

#[test]
fn namespace_watch_sees_only_its_namespace() {
    let e = common::engine();
    common::namespaces(&e, &["prod"]);
    let api = counters(&e);
    let mut w = api
        .watch(&WatchParams {
            namespace: Some("prod".into()),
            ..Default::default()
        })
        .unwrap();
    api.create(counter("d", 0)).unwrap();
    api.namespace("prod").create(counter("p", 0)).unwrap();
    let ev = w.recv().unwrap();
    assert_eq!(
        ev.object().unwrap().meta().namespace.as_deref(),
        Some("prod")
    );
    assert!(w.try_recv().unwrap().is_none());
}

#[test]
fn bookmarks_report_progress_when_nothing_matches() {
    let e = common::engine();
    let api = counters(&e);
    let mut w = api
        .watch(&WatchParams {
            namespace: Some("quiet".into()),
            bookmarks: true,
            ..Default::default()
        })
        .unwrap();
    api.create(counter("noise", 0)).unwrap();
    let now = e.store().revision();
    match w.recv_timeout(std::time::Duration::from_millis(1)).unwrap() {
        Some(WatchEvent::Bookmark(r)) => assert_eq!(r, now),
        other => panic!("expected a bookmark, got {other:?}"),
    }
}

#[test]
fn dropping_a_watch_unregisters_it_and_shutdown_closes_the_rest() {
    // Without the built-in controllers: the garbage collector would add its own watch.
    let e = common::builder()
        .builtin_controllers(false)
        .build()
        .unwrap();
    let api = counters(&e);
    let w1 = api.watch(&WatchParams::default()).unwrap();
    let mut w2 = api.watch(&WatchParams::default()).unwrap();
    assert_eq!(e.store().watch_count("Counter"), 2);
    drop(w1);
    assert_eq!(
        e.store().watch_count("Counter"),
        1,
        "a dropped watch is unregistered at once"
    );
    api.create(counter("a", 0)).unwrap();
    assert!(w2.recv().is_ok());
    e.shutdown();
    assert_eq!(w2.recv().unwrap_err(), Error::Closed);
}

/// A `WatchSet` reads several kinds' watches from one thread: every event arrives once,
/// under its watch's index and in its watch's order; a quiet set times out; a watch the
/// store closes reports Closed once and leaves the set.
#[test]
fn a_watch_set_delivers_every_kinds_events_in_order_and_drops_closed_watches() {
    use std::time::Duration;
    use steady::store::WatchSet;
    let e = common::engine();
    let counters = counters(&e);
    let widgets = e.dynamic("example.com/v1", "Widget").unwrap();
    let mut set = WatchSet::new();
    let c = set.push(counters.watch(&WatchParams::default()).unwrap());
    let w = set.push(widgets.watch(&WatchParams::default()).unwrap());
    assert_eq!(set.len(), 2);
    assert!(set.recv_timeout(Duration::from_millis(20)).is_none());
    let writer = std::thread::spawn({
        let counters = counters.clone();
        let widgets = widgets.clone();
        move || {
            for i in 0..50 {
                counters.create(counter(&format!("c{i}"), i)).unwrap();
                widgets
                    .create(json!({"apiVersion": "example.com/v1", "kind": "Widget",
                                   "metadata": {"name": format!("w{i}")}}))
                    .unwrap();
            }
        }
    });
    let mut got: [Vec<String>; 2] = Default::default();
    while got[0].len() + got[1].len() < 100 {
        let (at, ev) = set
            .recv_timeout(Duration::from_secs(10))
            .expect("an event within 10 s");
        let ev = ev.unwrap();
        assert_eq!(ev.type_name(), "ADDED");
        got[at].push(ev.object().unwrap().meta().name.clone());
    }
    writer.join().unwrap();
    let want = |p: &str| (0..50).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    assert_eq!(got[c], want("c"));
    assert_eq!(got[w], want("w"));
    assert!(set.try_recv().is_none());
    e.shutdown();
    let mut closed = Vec::new();
    while let Some((at, ev)) = set.recv_timeout(Duration::from_secs(5)) {
        assert!(matches!(ev, Err(Error::Closed)), "{ev:?}");
        closed.push(at);
    }
    closed.sort();
    assert_eq!(closed, vec![c, w]);
    assert!(set.is_empty());
}
