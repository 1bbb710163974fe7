//! Apply: create-or-update with kubectl's three-way merge, idempotence, all-or-nothing,
//! and errors that name the document and line.

mod common;

use serde_json::json;
use steady::client::ApplyAction;
use steady::Error;

const WIDGET: &str = r#"
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  labels:
    a: "1"
    b: "2"
spec:
  size: 3
  color: blue
"#;

#[test]
fn applying_the_same_manifest_twice_commits_nothing_the_second_time() {
    let e = common::engine();
    let r1 = e.apply(WIDGET).unwrap();
    assert_eq!(r1.objects[0].action, ApplyAction::Created);
    let rev = e.store().revision();
    let r2 = e.apply(WIDGET).unwrap();
    assert_eq!(r2.objects[0].action, ApplyAction::Unchanged);
    assert_eq!(e.store().revision(), rev, "nothing committed");
    assert_eq!(
        r2.objects[0].resource_version,
        r1.objects[0].resource_version
    );
}

#[test]
fn fields_removed_from_the_manifest_are_removed_and_fields_set_by_others_are_kept() {
    let e = common::engine();
    e.apply(WIDGET).unwrap();
    let widgets = e.dynamic("example.com/v1", "Widget").unwrap();
    // Someone else sets a label, a spec field and the status.
    widgets
        .patch(
            "w",
            &json!({"metadata": {"labels": {"c": "3"}}, "spec": {"owner": "ops"}}),
            false,
        )
        .unwrap();
    widgets
        .patch("w", &json!({"status": {"ready": true}}), true)
        .unwrap();

    let edited = WIDGET
        .replace("    b: \"2\"\n", "")
        .replace("  color: blue\n", "")
        .replace("size: 3", "size: 4");
    let r = e.apply(&edited).unwrap();
    assert_eq!(r.objects[0].action, ApplyAction::Configured);
    let w = widgets.get("w").unwrap();
    let labels: Vec<(&str, &str)> = w
        .metadata
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        [("a", "1"), ("c", "3")],
        "b removed (it was applied before), c kept (set by others)"
    );
    assert_eq!(
        w.data["spec"],
        json!({"size": 4, "owner": "ops"}),
        "color removed, owner kept"
    );
    assert_eq!(w.data["status"], json!({"ready": true}), "status kept");
    assert_eq!(w.metadata.generation, Some(3));
}

#[test]
fn a_multi_document_apply_with_one_bad_document_commits_nothing() {
    let e = common::engine();
    let text = r#"
apiVersion: example.com/v1
kind: Widget
metadata:
  name: good
spec: {size: 1}
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: Bad_Name
spec: {size: 2}
"#;
    let rev = e.store().revision();
    let err = e.apply(text).unwrap_err();
    match &err {
        Error::InDocument {
            document,
            line,
            source,
        } => {
            assert_eq!(*document, 2);
            assert_eq!(*line, Some(11), "the line of metadata.name: {err}");
            assert!(matches!(**source, Error::Invalid { .. }), "{err}");
        }
        other => panic!("expected a document error, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("metadata.name") && msg.contains("Bad_Name"),
        "{msg}"
    );
    assert_eq!(e.store().revision(), rev);
    assert!(
        e.dynamic("example.com/v1", "Widget")
            .unwrap()
            .get("good")
            .is_err(),
        "the good document was not committed"
    );
}

#[test]
fn a_multi_document_apply_commits_under_one_revision() {
    let e = common::engine();
    let text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: a}\n---\napiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: b}\n";
    let rev = e.store().revision();
    let r = e.apply(text).unwrap();
    assert_eq!(e.store().revision(), rev + 1);
    assert!(r
        .objects
        .iter()
        .all(|o| o.resource_version == (rev + 1).to_string()));
}

#[test]
fn json_objects_arrays_and_lists_apply_too() {
    let e = common::engine();
    let one = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "j1"}});
    let arr =
        json!([{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "j2"}}]);
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "j3"}}]});
    for t in [one, arr, list] {
        assert_eq!(e.apply(&t.to_string()).unwrap().objects.len(), 1);
    }
    let (items, _) = e
        .dynamic("example.com/v1", "Widget")
        .unwrap()
        .list(&Default::default())
        .unwrap();
    assert_eq!(items.len(), 3);
}

#[test]
fn malformed_text_names_the_document_and_line() {
    let e = common::engine();
    let err = e
        .apply("apiVersion: v1\nkind: Widget\nmetadata:\n  name: a\n---\nkind: [unclosed\n")
        .unwrap_err();
    match err {
        Error::Parse { document, line, .. } => {
            assert_eq!(document, 2);
            assert!(line.is_some());
        }
        other => panic!("expected a parse error, got {other}"),
    }
    let err = e.apply("{\"kind\": \"Widget\", }").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Parse {
                document: 1,
                line: Some(1),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn missing_kind_api_version_or_name_is_refused_naming_the_field() {
    let e = common::engine();
    let before = e.store().revision();
    for (text, field) in [
        ("apiVersion: v1\nmetadata: {name: a}\n", "kind"),
        ("kind: Widget\nmetadata: {name: a}\n", "apiVersion"),
        ("apiVersion: example.com/v1\nkind: Widget\nmetadata: {}\n", "metadata.name"),
        ("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: a, labels: {x: \"bad value!\"}}\n", "metadata.labels"),
    ] {
        let err = e.apply(text).unwrap_err();
        let Error::Invalid { errors, .. } = err.root() else { panic!("expected Invalid for {field}, got {err}") };
        assert!(errors[0].field.starts_with(field), "{field}: {err}");
    }
    assert_eq!(e.store().revision(), before, "nothing was written");
}

#[test]
fn a_field_of_the_wrong_type_in_a_built_in_kind_names_the_field_and_line() {
    let e = common::engine();
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: three\n  selector: {matchLabels: {app: web}}\n";
    let err = e.apply(text).unwrap_err();
    let Error::InDocument { line, source, .. } = &err else {
        panic!("expected a document error, got {err}")
    };
    assert_eq!(*line, Some(6), "{err}");
    let Error::Invalid { errors, object } = &**source else {
        panic!("expected Invalid, got {err}")
    };
    assert_eq!(errors[0].field, "spec.replicas", "{err}");
    assert_eq!(object.to_string(), "Deployment \"default/web\"");
    assert!(e.api::<steady::api::Deployment>().get("web").is_err());
}

#[test]
fn kubernetes_validation_rules_apply_to_built_in_kinds() {
    let e = common::engine();
    // The template's labels do not match the selector; replicas is negative.
    let text = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: web, image: nginx}]
"#;
    let err = e.apply(text).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("spec.replicas"), "{msg}");
    assert!(
        msg.contains("selector") || msg.contains("template"),
        "{msg}"
    );
}

#[test]
fn an_invalid_selector_string_is_refused_naming_the_problem() {
    let err = steady::api::Selector::parse("app in (a,b").unwrap_err();
    assert!(err.to_string().contains("app in (a,b"), "{err}");
    assert!(steady::api::Selector::parse("a=b,!c,d in (x, y),e!=f").is_ok());
}

#[test]
fn unknown_fields_of_built_in_kinds_are_kept_and_reported() {
    let e = common::engine();
    let text = r#"
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    imagePullPolicy: Always
    securityContext: {runAsUser: 1000}
"#;
    let r = e.apply(text).unwrap();
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("spec.containers[0].imagePullPolicy")));
    let v = serde_json::to_value(&*e.api::<steady::api::Pod>().get("p").unwrap()).unwrap();
    assert_eq!(v["spec"]["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(
        v["spec"]["containers"][0]["securityContext"]["runAsUser"],
        1000
    );
}

#[test]
fn apply_merges_lists_by_their_keys_keeping_elements_others_added() {
    let e = common::engine();
    let manifest = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n\
             \x20 selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n\
             \x20   spec:\n      containers:\n      - {{name: web, image: {image}, command: [sleep, '60'],\n\
             \x20         env: [{{name: A, value: '1'}}]}}\n"
        )
    };
    e.apply(&manifest("nginx:1")).unwrap();
    // Another writer adds a sidecar and an env var (as an injector would).
    // (Read again on a conflict: the controller writes the Deployment's status meanwhile.)
    let deployments = e.api::<steady::api::Deployment>();
    loop {
        let mut d = (*deployments.get("web").unwrap()).clone();
        d.spec.template.spec.containers[0]
            .env
            .push(serde_json::from_value(json!({"name": "INJECTED", "value": "y"})).unwrap());
        d.spec.template.spec.containers.push(
            serde_json::from_value(
                json!({"name": "sidecar", "image": "envoy", "command": ["sleep", "60"]}),
            )
            .unwrap(),
        );
        match deployments.update(d) {
            Err(err) if err.is_conflict() => continue,
            other => break drop(other.unwrap()),
        }
    }
    // Re-applying the edited manifest changes the image and keeps what the other added.
    e.apply(&manifest("nginx:2")).unwrap();
    let d = deployments.get("web").unwrap();
    let c = &d.spec.template.spec.containers;
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0].image.as_deref(), Some("nginx:2"));
    let env: Vec<&str> = c[0].env.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(env, ["A", "INJECTED"]);
    assert_eq!(c[1].name, "sidecar");
}
