//! PriorityClass (scheduling.k8s.io/v1) through the engine: the built-in classes, the
//! Priority admission that resolves `priorityClassName` into `spec.priority` and
//! `spec.preemptionPolicy`, and kube-apiserver's refusals.

mod scheduler_support;

use scheduler_support::*;
use serde_json::json;
use steady::api::{Pod, PriorityClass};
use steady::scheduler::SchedulerConfig;
use steady::store::DeleteParams;

fn err_of<T: std::fmt::Debug>(r: steady::Result<T>) -> String {
    r.expect_err("refused").to_string()
}

#[test]
fn the_built_in_classes_exist_and_cannot_be_deleted() {
    let (e, _) = engine(SchedulerConfig::default());
    let api = e.api::<PriorityClass>();
    assert_eq!(
        api.get("system-cluster-critical").unwrap().value,
        2_000_000_000
    );
    assert_eq!(
        api.get("system-node-critical").unwrap().value,
        2_000_001_000
    );
    let err = err_of(api.delete("system-node-critical", &DeleteParams::default()));
    assert!(
        err.contains("this is a system priority class and cannot be deleted"),
        "{err}"
    );
    // A system class's pods get its value, above any user class.
    create_pod(
        &e,
        pod(
            "critical",
            "100m",
            json!({"spec": {"priorityClassName": "system-node-critical"}}),
        ),
    );
    let p = e.api::<Pod>().get("critical").unwrap();
    assert_eq!(p.spec.priority, Some(2_000_001_000));
}

#[test]
fn a_pod_gets_its_class_value_and_policy() {
    let (e, _) = engine(SchedulerConfig::default());
    priority_class(
        &e,
        "batch-low",
        -10,
        json!({"preemptionPolicy": "Never", "description": "batch work"}),
    );
    create_pod(
        &e,
        pod(
            "job",
            "100m",
            json!({"spec": {"priorityClassName": "batch-low"}}),
        ),
    );
    let p = e.api::<Pod>().get("job").unwrap();
    assert_eq!(p.spec.priority, Some(-10));
    assert_eq!(p.spec.preemption_policy.as_deref(), Some("Never"));
    // An update that leaves the resolved fields out keeps them. (Read again on a conflict:
    // the scheduler may bind the pod between the read and the write.)
    let p = loop {
        let mut changed = (*e.api::<Pod>().get("job").unwrap()).clone();
        changed.spec.priority = None;
        changed.spec.preemption_policy = None;
        changed.metadata.labels.insert("x".into(), "y".into());
        match e.api::<Pod>().update(changed) {
            Err(err) if err.is_conflict() => continue,
            other => break other.unwrap(),
        }
    };
    assert_eq!(p.spec.priority, Some(-10));
    // Without a class a pod gets 0 and may preempt.
    create_pod(&e, pod("plain", "100m", json!({})));
    let p = e.api::<Pod>().get("plain").unwrap();
    assert_eq!(p.spec.priority, Some(0));
    assert_eq!(
        p.spec.preemption_policy.as_deref(),
        Some("PreemptLowerPriority")
    );
}

#[test]
fn the_global_default_applies_to_pods_without_a_class_and_only_one_may_exist() {
    let (e, _) = engine(SchedulerConfig::default());
    priority_class(&e, "normal", 100, json!({"globalDefault": true}));
    let err = err_of(
        e.api::<PriorityClass>().create(
            serde_json::from_value(
                json!({"metadata": {"name": "other"}, "value": 5, "globalDefault": true}),
            )
            .unwrap(),
        ),
    );
    assert!(
        err.contains(
            "PriorityClass normal is already marked as default. Only one default can exist"
        ),
        "{err}"
    );
    create_pod(&e, pod("p", "100m", json!({})));
    let p = e.api::<Pod>().get("p").unwrap();
    assert_eq!(p.spec.priority, Some(100));
    assert_eq!(p.spec.priority_class_name.as_deref(), Some("normal"));
}

#[test]
fn pods_naming_a_missing_class_or_disagreeing_with_theirs_are_refused() {
    let (e, _) = engine(SchedulerConfig::default());
    let err = err_of(e.api::<Pod>().create(pod(
        "lost",
        "100m",
        json!({"spec": {"priorityClassName": "high"}}),
    )));
    assert!(
        err.contains("Pod \"default/lost\": denied by admission hook \"Priority\"")
            && err.contains("no PriorityClass with name high was found"),
        "{err}"
    );
    priority_class(&e, "high", 1000, json!({}));
    let err = err_of(e.api::<Pod>().create(pod(
        "liar",
        "100m",
        json!({"spec": {"priorityClassName": "high", "priority": 7}}),
    )));
    assert!(
        err.contains(
            "the integer value of priority (7) must not be provided in pod spec; \
             priority admission controller computed 1000 from the given PriorityClass name"
        ),
        "{err}"
    );
    // A priority without a class disagrees with the default (0).
    let err = err_of(
        e.api::<Pod>()
            .create(pod("bare", "100m", json!({"spec": {"priority": 5}}))),
    );
    assert!(err.contains("computed 0"), "{err}");
}

#[test]
fn class_values_are_bounded_and_immutable() {
    let (e, _) = engine(SchedulerConfig::default());
    let api = e.api::<PriorityClass>();
    let err = err_of(
        api.create(
            serde_json::from_value(json!({"metadata": {"name": "huge"}, "value": 1_000_000_001}))
                .unwrap(),
        ),
    );
    assert!(
        err.contains("value")
            && err.contains("maximum allowed value of a user defined priority is 1000000000"),
        "{err}"
    );
    let err = err_of(api.create(
        serde_json::from_value(json!({"metadata": {"name": "system-mine"}, "value": 1})).unwrap(),
    ));
    assert!(err.contains("reserved for system use only"), "{err}");
    priority_class(&e, "mid", 10, json!({}));
    let mut pc = (*api.get("mid").unwrap()).clone();
    pc.value = 11;
    let err = err_of(api.update(pc));
    assert!(
        err.contains("value") && err.contains("may not be changed"),
        "{err}"
    );
}
