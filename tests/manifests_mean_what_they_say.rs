//! Nothing is accepted silently: a kind nobody serves is refused (and nothing of its file is
//! applied), a CustomResourceDefinition serves its kind at once, cluster-scoped kinds never
//! get a namespace, objects live only in Namespaces that exist, a deleted Namespace takes its
//! content with it, and immutable fields stay as they were.

mod common;

use common::eventually;
use serde_json::json;
use steady::api::{ConfigMap, Deployment, Namespace, Pod, StatefulSet};
use steady::store::{DeleteParams, INITIAL_NAMESPACES};
use steady::Error;

const CRONTAB_CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object}
  - name: v1beta1
    served: true
    storage: false
";

#[test]
fn an_unknown_kind_is_refused_naming_it_and_nothing_of_the_file_is_applied() {
    let e = common::bare_engine();
    let before = e.store().revision();
    let err = e
        .apply(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: hello}\n\
             spec: {ingressClassName: nginx}\n",
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("document 2, line 6")
            && text.contains("no matches for kind \"Ingress\" in version \"networking.k8s.io/v1\""),
        "{text}"
    );
    assert!(text.contains("CustomResourceDefinition"), "a hint: {text}");
    assert!(matches!(err.root(), Error::NoMatch { .. }));
    assert_eq!(e.store().revision(), before, "nothing was written");
    assert!(e.api::<ConfigMap>().get("first").is_err());
    // Nor does any API make the kind up on first use.
    assert!(matches!(
        e.dynamic("networking.k8s.io/v1", "Ingress"),
        Err(Error::NoMatch { .. })
    ));
    assert!(e.store().registry().get("Ingress").is_none());
}

#[test]
fn a_definition_serves_its_kind_in_the_same_apply_and_in_every_served_version() {
    let e = common::bare_engine();
    let report = e
        .apply(&format!(
            "{CRONTAB_CRD}---\napiVersion: stable.example.com/v1\nkind: CronTab\n\
             metadata: {{name: every-minute}}\nspec: {{cronSpec: '* * * * */5'}}\n"
        ))
        .unwrap();
    assert_eq!(report.objects.len(), 2);
    let tabs = e.dynamic("stable.example.com/v1", "CronTab").unwrap();
    assert_eq!(
        tabs.get("every-minute").unwrap().data["spec"]["cronSpec"],
        "* * * * */5"
    );
    // Another served version is accepted; one that is not served is not.
    e.apply("apiVersion: stable.example.com/v1beta1\nkind: CronTab\nmetadata: {name: b}\n")
        .unwrap();
    let err = e
        .apply("apiVersion: stable.example.com/v2\nkind: CronTab\nmetadata: {name: c}\n")
        .unwrap_err();
    assert!(matches!(err.root(), Error::NoMatch { .. }), "{err}");
    // The kind is namespaced: objects default to `default`.
    assert_eq!(
        tabs.get("b").unwrap().metadata.namespace.as_deref(),
        Some("default")
    );
}

#[test]
fn a_failed_apply_registers_no_kind() {
    let e = common::bare_engine();
    let err = e
        .apply(&format!(
            "{CRONTAB_CRD}---\napiVersion: stable.example.com/v1\nkind: CronTab\n\
             metadata: {{name: Not_Valid}}\n"
        ))
        .unwrap_err();
    assert!(err.to_string().contains("metadata.name"), "{err}");
    assert!(e.store().registry().get("CronTab").is_none());
    assert!(e.dynamic("stable.example.com/v1", "CronTab").is_err());
}

#[test]
fn a_cluster_scoped_definition_never_gets_a_namespace() {
    let e = common::bare_engine();
    e.apply(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
         metadata: {name: regions.geo.example.com}\n\
         spec: {group: geo.example.com, scope: Cluster, names: {kind: Region, plural: regions},\n\
         \x20 versions: [{name: v1, served: true, storage: true}]}\n---\n\
         apiVersion: geo.example.com/v1\nkind: Region\nmetadata: {name: eu}\n",
    )
    .unwrap();
    let regions = e.dynamic("geo.example.com/v1", "Region").unwrap();
    assert_eq!(regions.get("eu").unwrap().metadata.namespace, None);
    let err = e
        .apply("apiVersion: geo.example.com/v1\nkind: Region\nmetadata: {name: us, namespace: default}\n")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("metadata.namespace: Region is cluster-scoped: namespace must not be set"),
        "{err}"
    );
    let err = e
        .apply("apiVersion: v1\nkind: Node\nmetadata: {name: n1, namespace: default}\n")
        .unwrap_err();
    assert!(err.to_string().contains("Node is cluster-scoped"), "{err}");
}

#[test]
fn a_second_definition_of_a_served_kind_is_refused() {
    let e = common::bare_engine();
    e.apply(CRONTAB_CRD).unwrap();
    let err = e
        .apply(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
             metadata: {name: crontabs.other.example.com}\n\
             spec: {group: other.example.com, scope: Namespaced,\n\
             \x20 names: {kind: CronTab, plural: crontabs},\n\
             \x20 versions: [{name: v1, served: true, storage: true}]}\n",
        )
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "spec.names.kind: kind \"CronTab\" is already served by CustomResourceDefinition \"crontabs.stable.example.com\""
        ),
        "{err}"
    );
    let err = e
        .apply(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
             metadata: {name: pods.mine.example.com}\n\
             spec: {group: mine.example.com, scope: Namespaced, names: {kind: Pod, plural: pods},\n\
             \x20 versions: [{name: v1, served: true, storage: true}]}\n",
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("kind \"Pod\" is already served as \"v1\""),
        "{err}"
    );
}

#[test]
fn a_definition_goes_only_once_its_objects_are_gone_and_takes_its_kind_with_it() {
    let e = common::bare_engine();
    e.apply(&format!(
        "{CRONTAB_CRD}---\napiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {{name: t}}\n"
    ))
    .unwrap();
    let crds = e
        .dynamic("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        .unwrap();
    let err = crds
        .delete("crontabs.stable.example.com", &DeleteParams::default())
        .unwrap_err();
    assert!(
        err.to_string().contains("1 CronTab object(s) exist"),
        "{err}"
    );
    let tabs = e.dynamic("stable.example.com/v1", "CronTab").unwrap();
    tabs.delete("t", &DeleteParams::default()).unwrap();
    crds.delete("crontabs.stable.example.com", &DeleteParams::default())
        .unwrap();
    assert!(e.store().registry().get("CronTab").is_none());
    assert!(
        matches!(tabs.list(&Default::default()), Err(Error::NoMatch { .. })) || {
            // A handle taken before may still list the (empty) kind store; new writes are refused.
            tabs.create(
                json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
            "metadata": {"name": "u"}}),
            )
            .is_err()
        }
    );
    assert!(e
        .apply("apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: u}\n")
        .is_err());
}

#[test]
fn the_initial_namespaces_exist_and_other_namespaces_must_be_created_first() {
    let e = common::bare_engine();
    let namespaces = e.api::<Namespace>();
    for n in INITIAL_NAMESPACES {
        namespaces.get(n).unwrap();
        // The cluster relies on them: they cannot be deleted.
        let err = namespaces.delete(n, &DeleteParams::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("this namespace may not be deleted"),
            "{err}"
        );
        assert!(namespaces
            .get(n)
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_none());
    }
    let err = e
        .apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: team-a}\n")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("metadata.namespace: namespaces \"team-a\" not found"),
        "{err}"
    );
    // The same apply may create the Namespace first.
    e.apply(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: team-a}\n",
    )
    .unwrap();
    e.api::<ConfigMap>().namespace("team-a").get("c").unwrap();
    eventually(10, "the namespace turns Active", || {
        namespaces
            .get("team-a")
            .ok()
            .and_then(|n| n.status.clone())
            .and_then(|s| s.phase)
            .as_deref()
            == Some("Active")
    });
}

#[test]
fn a_deleted_namespace_terminates_deletes_its_content_then_goes() {
    let e = common::bare_engine();
    e.apply(&format!(
        "{CRONTAB_CRD}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: team-b}}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: team-b}}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: held, namespace: team-b, finalizers: [example.com/hold]}}\n---\n\
         apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {{name: t, namespace: team-b}}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: other}}\n"
    ))
    .unwrap();
    let namespaces = e.api::<Namespace>();
    let deleted = namespaces
        .delete("team-b", &DeleteParams::default())
        .unwrap();
    // The deletion's answer already says Terminating.
    let ns = deleted
        .object()
        .as_ref()
        .downcast_ref::<Namespace>()
        .unwrap();
    assert_eq!(
        ns.status.as_ref().unwrap().phase.as_deref(),
        Some("Terminating")
    );
    let cms = e.api::<ConfigMap>().namespace("team-b");
    eventually(10, "the content without finalizers goes", || {
        cms.get("c").is_err()
            && e.dynamic("stable.example.com/v1", "CronTab")
                .unwrap()
                .namespace("team-b")
                .get("t")
                .is_err()
    });
    // Terminating: still there (a finalizer holds one object), refusing new content.
    let ns = namespaces.get("team-b").unwrap();
    assert_eq!(
        ns.status.as_ref().unwrap().phase.as_deref(),
        Some("Terminating")
    );
    let err = e
        .apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: team-b}\n")
        .unwrap_err();
    assert!(err.to_string().contains("is being terminated"), "{err}");
    // Once the finalizer is removed, the object and then the Namespace go.
    let mut held = (*cms.get("held").unwrap()).clone();
    held.metadata.finalizers.clear();
    cms.update(held).unwrap();
    eventually(10, "the namespace goes", || {
        namespaces.get("team-b").is_err()
    });
    // Nothing outside it was touched.
    e.api::<ConfigMap>().get("other").unwrap();
}

#[test]
fn immutable_fields_are_refused_on_update_with_kubernetes_message() {
    let e = common::bare_engine();
    e.apply(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n\
         \x20 template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx:1.25}]}\n---\n\
         apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n\
         \x20 selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n\
         \x20   spec: {containers: [{name: db, image: postgres:16}]}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\ndata: {a: '1'}\nimmutable: true\n",
    )
    .unwrap();
    // Through apply.
    let err = e
        .apply(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web2}}\n\
             \x20 template:\n    metadata: {labels: {app: web2}}\n    spec: {containers: [{name: web, image: nginx:1.25}]}\n",
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("spec.selector: field is immutable"),
        "{err}"
    );
    // Through the typed API.
    let sts = e.api::<StatefulSet>();
    let mut db = (*sts.get("db").unwrap()).clone();
    db.spec.service_name = Some("db2".into());
    let err = sts.update(db).unwrap_err();
    assert!(
        err.to_string()
            .contains("spec.serviceName: field is immutable"),
        "{err}"
    );
    // Through the dynamic API.
    let err = e
        .dynamic("v1", "ConfigMap")
        .unwrap()
        .patch("frozen", &json!({"data": {"a": "2"}}), false)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("data: Forbidden: field is immutable when `immutable` is set"),
        "{err}"
    );
    // A change that is allowed still goes through.
    e.api::<Deployment>()
        .patch("web", &json!({"spec": {"replicas": 4}}))
        .unwrap();
    // A pod's spec is fixed but for images and a few more.
    e.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: x:1}]}\n")
        .unwrap();
    let pods = e.api::<Pod>();
    pods.patch(
        "p",
        &json!({"spec": {"containers": [{"name": "a", "image": "x:2"}]}}),
    )
    .unwrap();
    let err = pods
        .patch("p", &json!({"spec": {"restartPolicy": "Never"}}))
        .unwrap_err();
    assert!(
        err.to_string().contains("spec.restartPolicy changed"),
        "{err}"
    );
    // The uid cannot change: an update carrying another is a failed precondition.
    let mut cm = (*e.api::<ConfigMap>().get("frozen").unwrap()).clone();
    cm.metadata.uid = Some("another".into());
    let err = e.api::<ConfigMap>().update(cm).unwrap_err();
    assert!(err.is_conflict(), "{err}");
}

#[test]
fn apply_warns_about_each_field_kept_but_not_implemented_naming_document_line_and_path() {
    let e = common::bare_engine();
    let report = e
        .apply(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n\
             apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n\
             \x20 selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n\
             \x20   spec:\n      subdomain: web\n\
             \x20     containers: [{name: web, image: nginx, imagePullPolicy: Always}]\n",
        )
        .unwrap();
    assert_eq!(
        report.warnings,
        [
            "document 2, line 13: Deployment \"default/web\": spec.template.spec.subdomain: \
             kept but not implemented by steady: there is no cluster DNS",
            "document 2, line 14: Deployment \"default/web\": \
             spec.template.spec.containers[0].imagePullPolicy: unknown field, kept but not implemented by steady",
        ]
    );
    // Implemented fields are never reported, even those held as raw JSON.
    let report = e
        .apply(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  overhead: {cpu: 10m}\n\
             \x20 topologySpreadConstraints: [{maxSkew: 1, minDomains: 1, topologyKey: zone,\n\
             \x20   whenUnsatisfiable: DoNotSchedule, matchLabelKeys: [app]}]\n\
             \x20 containers: [{name: a, image: x}]\n",
        )
        .unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn init_containers_and_cron_job_templates_are_warned_about_as_containers_are() {
    let e = common::bare_engine();
    let report = e
        .apply(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n\
             \x20 schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n\
             \x20       spec:\n          restartPolicy: OnFailure\n\
             \x20         initContainers:\n\
             \x20         - {name: side, image: x, restartPolicy: Always, startupProbe: {grpc: {port: 9000}}}\n\
             \x20         containers: [{name: m, image: x, ports: [{containerPort: 80, hostPort: 8080}]}]\n",
        )
        .unwrap();
    let t = "spec.jobTemplate.spec.template.spec";
    assert_eq!(
        report.warnings,
        [
            format!(
                "document 1, line 12: CronJob \"default/nightly\": {t}.initContainers[0].startupProbe.grpc: \
                 kept but not implemented by steady: gRPC probes are not supported: the probe fails"
            ),
            format!(
                "document 1, line 13: CronJob \"default/nightly\": {t}.containers[0].ports[0].hostPort: \
                 kept but not implemented by steady: the node's port is not forwarded to the pod \
                 (pods are only placed so that their host ports do not clash): reach the pod at its own address"
            ),
        ]
    );
}

#[test]
fn a_volume_steady_cannot_mount_is_said_to_be_an_empty_directory() {
    let e = common::bare_engine();
    let report = e
        .apply(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  volumes:\n\
             \x20 - {name: shared, nfs: {server: nas, path: /export}}\n\
             \x20 - {name: conf, hostPath: {path: /etc/app, type: Directory}}\n\
             \x20 containers: [{name: a, image: x}]\n",
        )
        .unwrap();
    // hostPath.type is honoured (checked before the pod starts), so it is not reported.
    assert_eq!(
        report.warnings,
        [
            "document 1, line 6: Pod \"default/p\": spec.volumes[0].nfs: kept but not implemented \
          by steady: steady mounts no network or cloud storage: the volume is an empty \
          directory on this host"
        ]
    );
    let err = e
        .apply(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n\
             \x20 volumes: [{name: conf, hostPath: {path: /etc/app, type: Folder}}]\n\
             \x20 containers: [{name: a, image: x}]\n",
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spec.volumes[0].hostPath.type: Unsupported value: \"Folder\""),
        "{err}"
    );
}

#[test]
fn a_refusal_names_the_unknown_fields_that_may_explain_it() {
    let e = common::bare_engine();
    let err = e
        .apply(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: typo}\nspec:\n\
             \x20 selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n\
             \x20   spec:\n      contaienrs: [{name: web, image: nginx}]\n",
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spec.template.spec.containers: Required value"),
        "{err}"
    );
    assert!(
        err.contains("spec.template.spec.contaienrs: unknown field"),
        "{err}"
    );
    assert!(e.api::<Deployment>().get_opt("typo").unwrap().is_none());
}

#[test]
fn file_modes_copied_from_the_kubernetes_documentation_are_octal() {
    let e = common::bare_engine();
    e.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: x}]\n\
         \x20 volumes:\n  - name: creds\n    secret: {secretName: creds, defaultMode: 0400}\n",
    )
    .unwrap();
    let pod = e.api::<Pod>().get("p").unwrap();
    let mode = pod.spec.volumes[0]
        .secret
        .as_ref()
        .and_then(|s| s.default_mode);
    assert_eq!(mode, Some(0o400));
}

#[test]
fn one_apply_may_list_objects_before_the_namespace_and_definition_they_need() {
    let e = common::bare_engine();
    let report = e
        .apply(&format!(
            "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {{name: t, namespace: team-c}}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: team-c}}\n---\n\
             apiVersion: v1\nkind: Namespace\nmetadata: {{name: team-c}}\n---\n{CRONTAB_CRD}"
        ))
        .unwrap();
    // Reported in document order.
    let kinds: Vec<&str> = report
        .objects
        .iter()
        .map(|a| a.object.kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "CronTab",
            "ConfigMap",
            "Namespace",
            "CustomResourceDefinition"
        ]
    );
    e.api::<ConfigMap>().namespace("team-c").get("c").unwrap();
    e.dynamic("stable.example.com/v1", "CronTab")
        .unwrap()
        .namespace("team-c")
        .get("t")
        .unwrap();
}

#[test]
fn a_kind_defined_again_in_another_version_serves_it_in_the_same_apply() {
    let e = common::bare_engine();
    e.apply(CRONTAB_CRD).unwrap();
    let crds = e
        .dynamic("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        .unwrap();
    crds.delete("crontabs.stable.example.com", &DeleteParams::default())
        .unwrap();
    assert!(e.dynamic("stable.example.com/v1", "CronTab").is_err());
    e.apply(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
         metadata: {name: crontabs.stable.example.com}\n\
         spec: {group: stable.example.com, scope: Namespaced, names: {kind: CronTab, plural: crontabs},\n\
         \x20 versions: [{name: v2, served: true, storage: true}]}\n---\n\
         apiVersion: stable.example.com/v2\nkind: CronTab\nmetadata: {name: again}\n",
    )
    .unwrap();
    let tabs = e.dynamic("stable.example.com/v2", "CronTab").unwrap();
    tabs.get("again").unwrap();
    assert!(e.dynamic("stable.example.com/v1", "CronTab").is_err());
}
