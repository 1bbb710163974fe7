//! Writes: transactions, generation versus status, finalizers, preconditions, admission.

mod common;

use common::{counter, counters, value_of};
use serde_json::json;
use std::sync::Arc;
use steady::api::{DynamicObject, Object};
use steady::store::{DeleteParams, Deleted, Propagation, TxnOp};
use steady::{Engine, Error};

fn dynamic(v: serde_json::Value) -> Arc<dyn Object> {
    Arc::new(serde_json::from_value::<DynamicObject>(v).unwrap())
}

#[test]
fn a_transaction_commits_all_its_writes_under_one_revision() {
    let e = common::engine();
    let api = counters(&e);
    let a = api.create(counter("a", 1)).unwrap();
    let before = e.store().revision();
    let mut a2 = (*a).clone();
    a2.data["spec"]["value"] = 2.into();
    let out = e
        .store()
        .transaction(vec![
            TxnOp::Update(Arc::new(a2)),
            TxnOp::Create(dynamic(counter("b", 1))),
            TxnOp::Create(dynamic(counter("c", 1))),
        ])
        .unwrap();
    assert_eq!(
        e.store().revision(),
        before + 1,
        "one revision for the whole transaction"
    );
    for o in out {
        assert_eq!(o.unwrap().meta().revision(), Some(before + 1));
    }
}

#[test]
fn a_transaction_creating_an_object_that_exists_fails_and_changes_nothing() {
    let e = common::engine();
    let api = counters(&e);
    api.create(counter("a", 1)).unwrap();
    let before = e.store().revision();
    let err = e
        .store()
        .transaction(vec![
            TxnOp::Create(dynamic(counter("b", 1))),
            TxnOp::Create(dynamic(counter("a", 2))),
        ])
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert_eq!(e.store().revision(), before);
    assert!(api.get("b").unwrap_err().is_not_found());
    assert_eq!(value_of(api.get("a").unwrap().as_ref()), 1);
}

#[test]
fn a_transaction_with_one_failing_precondition_changes_nothing() {
    let e = common::engine();
    let api = counters(&e);
    let a = api.create(counter("a", 1)).unwrap();
    api.patch("a", &json!({"spec": {"value": 5}}), false)
        .unwrap(); // a is now newer than `a`
    let before = e.store().revision();
    let mut stale = (*a).clone();
    stale.data["spec"]["value"] = 100.into();
    let err = e
        .store()
        .transaction(vec![
            TxnOp::Create(dynamic(counter("b", 1))),
            TxnOp::Update(Arc::new(stale)),
        ])
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(e.store().revision(), before);
    assert!(
        api.get("b").unwrap_err().is_not_found(),
        "the create in the failed transaction did not happen"
    );
    assert_eq!(value_of(api.get("a").unwrap().as_ref()), 5);

    // A check guard on absence fails the same way.
    let err = e
        .store()
        .transaction(vec![
            TxnOp::Create(dynamic(counter("b", 1))),
            TxnOp::Check {
                kind: "Counter".into(),
                namespace: None,
                name: "a".into(),
                resource_version: None,
            },
        ])
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert!(api.get("b").is_err());
}

#[test]
fn generation_counts_spec_changes_only_and_status_is_a_subresource() {
    let e = common::engine();
    let api = counters(&e);
    let a = api
        .create(json!({"apiVersion": "example.com/v1", "kind": "Counter",
        "metadata": {"name": "a"}, "spec": {"value": 1}, "status": {"seen": 99}}))
        .unwrap();
    assert_eq!(a.metadata.generation, Some(1));
    assert!(a.status().is_none(), "create drops the status");

    let b = api
        .patch("a", &json!({"status": {"seen": 1}}), true)
        .unwrap();
    assert_eq!(
        b.metadata.generation,
        Some(1),
        "status changes do not bump generation"
    );
    assert_eq!(b.status(), Some(&json!({"seen": 1})));

    let c = api
        .patch("a", &json!({"metadata": {"labels": {"x": "y"}}}), false)
        .unwrap();
    assert_eq!(
        c.metadata.generation,
        Some(1),
        "metadata changes do not bump generation"
    );
    assert_ne!(c.metadata.resource_version, b.metadata.resource_version);

    let d = api
        .patch(
            "a",
            &json!({"spec": {"value": 2}, "status": {"seen": 42}}),
            false,
        )
        .unwrap();
    assert_eq!(
        d.metadata.generation,
        Some(2),
        "a spec change bumps generation"
    );
    assert_eq!(
        d.status(),
        Some(&json!({"seen": 1})),
        "a normal update ignores status"
    );

    let s = api
        .patch(
            "a",
            &json!({"spec": {"value": 3}, "status": {"seen": 2}}),
            true,
        )
        .unwrap();
    assert_eq!(value_of(&*s), 2, "a status update ignores spec");
    assert_eq!(s.metadata.generation, Some(2));

    // Writing the same thing again commits nothing.
    let rev = e.store().revision();
    let same = api
        .patch("a", &json!({"spec": {"value": 2}}), false)
        .unwrap();
    assert_eq!(e.store().revision(), rev);
    assert_eq!(same.metadata.resource_version, s.metadata.resource_version);
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let e = common::engine();
    let api = counters(&e);
    api.create(json!({"apiVersion": "example.com/v1", "kind": "Counter",
        "metadata": {"name": "f", "finalizers": ["example.com/cleanup"]}, "spec": {"value": 1}}))
        .unwrap();
    let d = api.delete("f", &DeleteParams::default()).unwrap();
    let Deleted::Pending(o) = d else {
        panic!("expected pending deletion")
    };
    assert!(o.meta().deletion_timestamp.is_some());
    let live = api.get("f").unwrap();
    assert!(live.metadata.deletion_timestamp.is_some());

    // Spec changes are refused while deleting; adding finalizers too.
    let err = api
        .patch("f", &json!({"spec": {"value": 2}}), false)
        .unwrap_err();
    assert!(err.to_string().contains("being deleted"), "{err}");
    let err = api
        .patch(
            "f",
            &json!({"metadata": {"finalizers": ["example.com/cleanup", "more"]}}),
            false,
        )
        .unwrap_err();
    assert!(err.to_string().contains("metadata.finalizers"), "{err}");

    // Deleting again changes nothing.
    let rev = e.store().revision();
    api.delete("f", &DeleteParams::default()).unwrap();
    assert_eq!(e.store().revision(), rev);

    // Removing the last finalizer removes the object.
    api.patch("f", &json!({"metadata": {"finalizers": null}}), false)
        .unwrap();
    assert!(api.get("f").unwrap_err().is_not_found());
}

#[test]
fn foreground_and_orphan_deletion_add_their_finalizers() {
    let e = common::engine();
    let api = counters(&e);
    api.create(counter("fg", 1)).unwrap();
    api.create(counter("or", 1)).unwrap();
    let fg = api
        .delete(
            "fg",
            &DeleteParams {
                propagation: Propagation::Foreground,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(fg.object().meta().finalizers, ["foregroundDeletion"]);
    let or = api
        .delete(
            "or",
            &DeleteParams {
                propagation: Propagation::Orphan,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(or.object().meta().finalizers, ["orphan"]);
}

#[test]
fn delete_preconditions_on_uid_and_resource_version() {
    let e = common::engine();
    let api = counters(&e);
    let a = api.create(counter("a", 1)).unwrap();
    let wrong_uid = DeleteParams {
        uid: Some("not-the-uid".into()),
        ..Default::default()
    };
    assert!(api.delete("a", &wrong_uid).unwrap_err().is_conflict());
    let wrong_rv = DeleteParams {
        resource_version: Some("1".into()),
        ..Default::default()
    };
    assert!(api.delete("a", &wrong_rv).unwrap_err().is_conflict());
    let right = DeleteParams {
        uid: a.metadata.uid.clone(),
        resource_version: a.metadata.resource_version.clone(),
        ..Default::default()
    };
    assert!(matches!(api.delete("a", &right).unwrap(), Deleted::Gone(_)));
    assert!(api
        .delete("a", &DeleteParams::default())
        .unwrap_err()
        .is_not_found());
}

#[test]
fn a_recreated_object_is_a_new_object_with_a_new_uid() {
    let e = common::engine();
    let api = counters(&e);
    let a = api.create(counter("a", 1)).unwrap();
    api.delete("a", &DeleteParams::default()).unwrap();
    let b = api.create(counter("a", 1)).unwrap();
    assert_ne!(a.metadata.uid, b.metadata.uid);
}

#[test]
fn generate_name_picks_a_free_name() {
    let e = common::engine();
    let api = counters(&e);
    let mut names = std::collections::HashSet::new();
    for _ in 0..50 {
        let o = api
            .create(json!({"apiVersion": "example.com/v1", "kind": "Counter", "metadata": {"generateName": "web-"}}))
            .unwrap();
        assert!(
            o.metadata.name.starts_with("web-") && o.metadata.name.len() == 9,
            "{}",
            o.metadata.name
        );
        assert!(names.insert(o.metadata.name.clone()));
    }
}

#[test]
fn admission_hooks_mutate_then_validate_and_a_denial_writes_nothing() {
    let e = common::engine();
    e.store()
        .add_mutating_hook("add-team", Some("Counter"), |_, obj, _| {
            obj.meta_mut().labels.insert("team".into(), "core".into());
            Ok(())
        });
    e.store()
        .add_validating_hook("no-negative", Some("Counter"), |req| {
            let d = req.object.as_any().downcast_ref::<DynamicObject>().unwrap();
            if d.data["spec"]["value"].as_i64().unwrap_or(0) < 0 {
                return Err("spec.value must not be negative".into());
            }
            Ok(())
        });
    let api = counters(&e);
    let a = api.create(counter("a", 1)).unwrap();
    assert_eq!(
        a.metadata.labels.get("team").map(String::as_str),
        Some("core")
    );
    let rev = e.store().revision();
    let err = api.create(counter("b", -1)).unwrap_err();
    assert!(
        matches!(&err, Error::Denied { hook, .. } if hook == "no-negative"),
        "{err}"
    );
    assert!(err.to_string().contains("Counter \"default/b\""), "{err}");
    assert_eq!(e.store().revision(), rev);
}

#[test]
fn objects_over_the_size_limit_are_refused() {
    let e = common::builder().max_object_bytes(1024).build().unwrap();
    let api = counters(&e);
    let big = "x".repeat(2000);
    let err = api
        .create(json!({"apiVersion": "example.com/v1", "kind": "Counter", "metadata": {"name": "big"}, "spec": {"blob": big}}))
        .unwrap_err();
    match &err {
        Error::TooLarge {
            size,
            limit,
            object,
        } => {
            assert!(*size > 2000);
            assert_eq!(*limit, 1024);
            assert_eq!(object.name, "big");
        }
        other => panic!("expected TooLarge, got {other}"),
    }
    assert!(api.get("big").is_err());
}

#[test]
fn reads_return_the_stored_snapshot_without_copying() {
    let e = common::engine();
    let api = counters(&e);
    api.create(counter("a", 1)).unwrap();
    let x = e.store().get("Counter", None, "a").unwrap();
    let y = e.store().get("Counter", Some("default"), "a").unwrap();
    assert!(Arc::ptr_eq(&x, &y));
}

#[test]
fn metadata_and_status_updates_cannot_grow_an_object_past_the_size_limit() {
    // Metadata-only and status-only writes bound the new size from the stored one instead of
    // encoding the whole object; the limit must hold all the same.
    let limit = 4096;
    let e = common::builder().max_object_bytes(limit).build().unwrap();
    let api = counters(&e);
    api.create(counter("a", 1)).unwrap();
    let mut accepted = 0;
    let err = loop {
        let patch = json!({"metadata": {"annotations": {format!("k{accepted}"): "v".repeat(100)}}});
        match api.patch("a", &patch, false) {
            Ok(o) => {
                assert!(serde_json::to_vec(&*o).unwrap().len() <= limit);
                accepted += 1;
            }
            Err(e) => break e,
        }
        assert!(accepted < 100, "the limit was never enforced");
    };
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(
        accepted >= 30,
        "objects well under the limit were refused after {accepted}"
    );

    api.create(counter("b", 1)).unwrap();
    let mut n = 0;
    let err = loop {
        match api.patch("b", &json!({"status": {"log": "x".repeat(200 * n)}}), true) {
            Ok(o) => assert!(serde_json::to_vec(&*o).unwrap().len() <= limit),
            Err(e) => break e,
        }
        n += 1;
        assert!(n < 100, "the limit was never enforced");
    };
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}

/// Counters with `spec.running: true` are deleted gracefully (as pods on a node are).
fn graceful_counters(e: &Engine) {
    e.store().set_graceful_deletion(
        "Counter",
        Arc::new(|o: &dyn Object| {
            let d = o.as_any().downcast_ref::<DynamicObject>()?;
            (d.data["spec"]["running"] == json!(true)).then_some(30)
        }),
    );
}

#[test]
fn graceful_deletion_marks_the_object_until_deleted_again_with_grace_zero() {
    let e = common::engine();
    graceful_counters(&e);
    let api = counters(&e);
    api.create(json!({"apiVersion": "example.com/v1", "kind": "Counter",
        "metadata": {"name": "g"}, "spec": {"value": 1, "running": true}}))
        .unwrap();
    let Deleted::Pending(o) = api.delete("g", &DeleteParams::default()).unwrap() else {
        panic!("a running counter is deleted gracefully")
    };
    assert_eq!(o.meta().deletion_grace_period_seconds, Some(30));
    let created = o.meta().creation_timestamp.unwrap();
    let deadline = o.meta().deletion_timestamp.unwrap();
    assert_eq!(
        deadline.saturating_duration_since(created).as_secs(),
        30,
        "deletionTimestamp is when it should be gone"
    );
    // Status and metadata writes while terminating do not remove it.
    api.patch("g", &json!({"status": {"phase": "Stopping"}}), true)
        .unwrap();
    api.patch("g", &json!({"metadata": {"labels": {"a": "b"}}}), false)
        .unwrap();
    assert!(api.get("g").is_ok());
    // A longer grace cannot extend it; deleting again changes nothing.
    let rev = e.store().revision();
    let longer = DeleteParams {
        grace_period_seconds: Some(60),
        ..Default::default()
    };
    api.delete("g", &longer).unwrap();
    assert_eq!(e.store().revision(), rev);
    // The runner's final deletion with grace 0 removes it.
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    assert!(matches!(api.delete("g", &now).unwrap(), Deleted::Gone(_)));
    assert!(api.get("g").unwrap_err().is_not_found());
    // Objects the policy does not cover go at once.
    api.create(counter("plain", 1)).unwrap();
    assert!(matches!(
        api.delete("plain", &DeleteParams::default()).unwrap(),
        Deleted::Gone(_)
    ));
}

#[test]
fn graceful_deletion_with_finalizers_goes_when_grace_is_zero_and_finalizers_are_gone() {
    let e = common::engine();
    graceful_counters(&e);
    let api = counters(&e);
    api.create(json!({"apiVersion": "example.com/v1", "kind": "Counter",
        "metadata": {"name": "h", "finalizers": ["example.com/x"]},
        "spec": {"value": 1, "running": true}}))
        .unwrap();
    api.delete("h", &DeleteParams::default()).unwrap();
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    let Deleted::Pending(o) = api.delete("h", &now).unwrap() else {
        panic!("finalizers still hold it")
    };
    assert_eq!(o.meta().deletion_grace_period_seconds, Some(0), "shortened");
    api.patch("h", &json!({"metadata": {"finalizers": null}}), false)
        .unwrap();
    assert!(api.get("h").unwrap_err().is_not_found());
}

#[test]
fn update_with_status_writes_spec_and_status_in_one_compare_and_swap() {
    let e = common::engine();
    let api = counters(&e);
    let a = api.create(counter("a", 1)).unwrap();
    let mut both = (*a).clone();
    both.data["spec"]["value"] = 2.into();
    both.data.insert("status".into(), json!({"seen": 2}));
    let before = e.store().revision();
    let out = e.store().update_with_status(Arc::new(both)).unwrap();
    assert_eq!(e.store().revision(), before + 1, "one write");
    let got = api.get("a").unwrap();
    assert_eq!(value_of(got.as_ref()), 2);
    assert_eq!(got.data["status"]["seen"], 2);
    assert_eq!(got.meta().generation, Some(2), "the spec changed");
    assert_eq!(out.meta().revision(), Some(before + 1));

    // Stale: refused whole, nothing written, the newer status kept.
    let mut stale = (*a).clone();
    stale.data["spec"]["value"] = 9.into();
    stale.data.insert("status".into(), json!({"seen": 9}));
    let err = e.store().update_with_status(Arc::new(stale)).unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let got = api.get("a").unwrap();
    assert_eq!(
        (value_of(got.as_ref()), got.data["status"]["seen"].clone()),
        (2, json!(2))
    );

    // No resourceVersion: there is nothing to compare against, so it is refused by name.
    let mut blind = (*got).clone();
    blind.meta_mut().resource_version = None;
    blind.data.insert("status".into(), json!({"seen": 3}));
    let err = e.store().update_with_status(Arc::new(blind)).unwrap_err();
    assert!(
        err.to_string().contains("metadata.resourceVersion"),
        "{err}"
    );
    assert_eq!(e.store().revision(), before + 1);
}
