//! Property test: random operation sequences give the same results, and the same watch
//! stream, from the store as from a plain single-threaded model of its semantics.

mod common;

use common::counters;
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;
use steady::api::Object;
use steady::store::{DeleteParams, WatchEvent, WatchParams};
use steady::Error;

#[derive(Clone, Debug)]
enum Op {
    Create {
        name: u8,
        value: i64,
        finalizer: bool,
    },
    Update {
        name: u8,
        value: i64,
        cas: Cas,
    },
    Status {
        name: u8,
        seen: i64,
    },
    Delete {
        name: u8,
    },
    DropFinalizer {
        name: u8,
    },
}

#[derive(Clone, Copy, Debug)]
enum Cas {
    None,
    Current,
    Stale,
}

fn op() -> impl Strategy<Value = Op> {
    let name = 0u8..3;
    prop_oneof![
        (name.clone(), 0i64..5, any::<bool>()).prop_map(|(name, value, finalizer)| Op::Create {
            name,
            value,
            finalizer
        }),
        (
            name.clone(),
            0i64..5,
            prop_oneof![Just(Cas::None), Just(Cas::Current), Just(Cas::Stale)]
        )
            .prop_map(|(name, value, cas)| Op::Update { name, value, cas }),
        (name.clone(), 0i64..3).prop_map(|(name, seen)| Op::Status { name, seen }),
        name.clone().prop_map(|name| Op::Delete { name }),
        name.prop_map(|name| Op::DropFinalizer { name }),
    ]
}

#[derive(Clone, Debug, PartialEq)]
struct M {
    value: i64,
    seen: Option<i64>,
    generation: i64,
    rv: u64,
    finalizer: bool,
    deleting: bool,
}

#[derive(Debug, PartialEq)]
enum Res {
    Ok(u64),
    NotFound,
    Exists,
    Conflict,
    Invalid,
}

fn res(r: Result<u64, Error>) -> Res {
    match r {
        Ok(rv) => Res::Ok(rv),
        Err(Error::NotFound { .. }) => Res::NotFound,
        Err(Error::AlreadyExists { .. }) => Res::Exists,
        Err(Error::Conflict { .. }) => Res::Conflict,
        Err(Error::Invalid { .. }) => Res::Invalid,
        Err(e) => panic!("unexpected {e}"),
    }
}

fn rv_of(o: &dyn Object) -> u64 {
    o.meta().revision().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn store_agrees_with_a_sequential_model(ops in proptest::collection::vec(op(), 1..40)) {
        let e = common::engine();
        let api = counters(&e);
        let start = e.store().revision();
        let mut watch = api.watch(&WatchParams { since: Some(start), ..Default::default() }).unwrap();
        let mut model: BTreeMap<String, M> = BTreeMap::new();
        let mut rev = start;
        let mut expected_events: Vec<(&'static str, String, u64)> = Vec::new();

        for op in ops {
            match op {
                Op::Create { name, value, finalizer } => {
                    let n = format!("o{name}");
                    let fins: Vec<&str> = if finalizer { vec!["example.com/f"] } else { vec![] };
                    let got = res(api.create(json!({"apiVersion": "example.com/v1", "kind": "Counter",
                        "metadata": {"name": n, "finalizers": fins}, "spec": {"value": value}}))
                        .map(|o| rv_of(&*o)));
                    let want = if model.contains_key(&n) { Res::Exists } else {
                        rev += 1;
                        model.insert(n.clone(), M { value, seen: None, generation: 1, rv: rev, finalizer, deleting: false });
                        expected_events.push(("ADDED", n.clone(), rev));
                        Res::Ok(rev)
                    };
                    prop_assert_eq!(got, want);
                }
                Op::Update { name, value, cas } => {
                    let n = format!("o{name}");
                    let mut meta = json!({"name": n});
                    let cur = model.get(&n).cloned();
                    if let Some(c) = &cur {
                        if c.finalizer { meta["finalizers"] = json!(["example.com/f"]); }
                    }
                    match (cas, &cur) {
                        (Cas::Current, Some(c)) => meta["resourceVersion"] = c.rv.to_string().into(),
                        (Cas::Stale, Some(c)) => meta["resourceVersion"] = (c.rv - 1).to_string().into(),
                        (Cas::Stale, None) | (Cas::Current, None) => meta["resourceVersion"] = "1".into(),
                        _ => {}
                    }
                    let got = res(api.update(json!({"apiVersion": "example.com/v1", "kind": "Counter",
                        "metadata": meta, "spec": {"value": value}})).map(|o| rv_of(&*o)));
                    let want = match cur {
                        None => Res::NotFound,
                        Some(_) if matches!(cas, Cas::Stale) => Res::Conflict,
                        Some(c) if c.value == value => Res::Ok(c.rv),
                        Some(c) if c.deleting => Res::Invalid,
                        Some(_) => {
                            rev += 1;
                            let m = model.get_mut(&n).unwrap();
                            m.value = value;
                            m.generation += 1;
                            m.rv = rev;
                            expected_events.push(("MODIFIED", n.clone(), rev));
                            Res::Ok(rev)
                        }
                    };
                    prop_assert_eq!(got, want);
                }
                Op::Status { name, seen } => {
                    let n = format!("o{name}");
                    let got = res(api.patch(&n, &json!({"status": {"seen": seen}}), true).map(|o| rv_of(&*o)));
                    let want = match model.get_mut(&n) {
                        None => Res::NotFound,
                        Some(m) if m.seen == Some(seen) => Res::Ok(m.rv),
                        Some(m) => {
                            rev += 1;
                            m.seen = Some(seen);
                            m.rv = rev;
                            expected_events.push(("MODIFIED", n.clone(), rev));
                            Res::Ok(rev)
                        }
                    };
                    prop_assert_eq!(got, want);
                }
                Op::Delete { name } => {
                    let n = format!("o{name}");
                    let got = res(api.delete(&n, &DeleteParams::default()).map(|d| rv_of(d.object().as_ref())));
                    let want = match model.get(&n).cloned() {
                        None => Res::NotFound,
                        Some(m) if m.finalizer && m.deleting => Res::Ok(m.rv),
                        Some(_) if model[&n].finalizer => {
                            rev += 1;
                            let m = model.get_mut(&n).unwrap();
                            m.deleting = true;
                            m.generation += 1; // marking for deletion bumps generation
                            m.rv = rev;
                            expected_events.push(("MODIFIED", n.clone(), rev));
                            Res::Ok(rev)
                        }
                        Some(_) => {
                            rev += 1;
                            model.remove(&n);
                            expected_events.push(("DELETED", n.clone(), rev));
                            Res::Ok(rev)
                        }
                    };
                    prop_assert_eq!(got, want);
                }
                Op::DropFinalizer { name } => {
                    let n = format!("o{name}");
                    let got = res(api.patch(&n, &json!({"metadata": {"finalizers": null}}), false).map(|o| rv_of(&*o)));
                    let want = match model.get(&n).cloned() {
                        None => Res::NotFound,
                        Some(m) if !m.finalizer => Res::Ok(m.rv),
                        Some(m) if m.deleting => {
                            rev += 1;
                            model.remove(&n);
                            expected_events.push(("DELETED", n.clone(), rev));
                            Res::Ok(rev)
                        }
                        Some(_) => {
                            rev += 1;
                            let m = model.get_mut(&n).unwrap();
                            m.finalizer = false;
                            m.rv = rev;
                            expected_events.push(("MODIFIED", n.clone(), rev));
                            Res::Ok(rev)
                        }
                    };
                    prop_assert_eq!(got, want);
                }
            }
            prop_assert_eq!(e.store().revision(), rev);
        }

        // Final state agrees object by object.
        let (items, list_rev) = api.list(&Default::default()).unwrap();
        prop_assert_eq!(list_rev, rev);
        prop_assert_eq!(items.len(), model.len());
        for o in &items {
            let m = &model[&o.metadata.name];
            prop_assert_eq!(o.data["spec"]["value"].as_i64(), Some(m.value));
            prop_assert_eq!(o.metadata.generation, Some(m.generation));
            prop_assert_eq!(rv_of(&**o), m.rv);
            prop_assert_eq!(o.metadata.deletion_timestamp.is_some(), m.deleting);
            prop_assert_eq!(o.status().and_then(|s| s["seen"].as_i64()), m.seen);
        }

        // The watch stream is exactly the model's event list.
        let mut got_events = Vec::new();
        while let Some(ev) = watch.try_recv().unwrap() {
            let kind = match ev { WatchEvent::Added(_) => "ADDED", WatchEvent::Modified(_) => "MODIFIED", WatchEvent::Deleted(_) => "DELETED", WatchEvent::Bookmark(_) => "BOOKMARK" };
            got_events.push((kind, ev.object().unwrap().meta().name.clone(), ev.revision()));
        }
        prop_assert_eq!(got_events, expected_events);
    }
}
