//! The real `kubectl`, unchanged, against an engine serving the Kubernetes API: through the
//! kubeconfig the engine writes, it applies manifests, lists in table form, scales, labels,
//! reads logs, re-applies with a strategic merge, serves a CRD's kind, validates fields
//! strictly on the server, creates objects with `kubectl create|run|expose` (whose
//! bodies client-go sends in protobuf), and is refused without the token.
#![cfg(feature = "apiserver")]

mod common;

use common::eventually;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use steady::apiserver::ApiServerConfig;
use steady::node::WorkerContext;
use steady::Engine;

struct Kubectl {
    kubeconfig: PathBuf,
}

/// Whether a run succeeded, with its stdout and its stderr.
fn said(o: &Output) -> (bool, String, String) {
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

impl Kubectl {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.kubeconfig.parent().unwrap())
            .output()
            .expect("kubectl runs (install it: Debian's kubernetes-client)")
    }

    /// Runs kubectl and returns its stdout; fails the test when it fails.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "kubectl {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Writes `text` to `name` beside the kubeconfig and runs `kubectl <verb...> -f` on it.
    fn with_file(&self, verb: &[&str], name: &str, text: &str) -> Output {
        let path = self.kubeconfig.parent().unwrap().join(name);
        std::fs::write(&path, text).unwrap();
        let mut args = verb.to_vec();
        args.extend(["-f", path.to_str().unwrap()]);
        self.run(&args)
    }

    fn err(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(!o.status.success(), "kubectl {} succeeded", args.join(" "));
        String::from_utf8_lossy(&o.stderr).into_owned()
    }
}

/// The name of the first pod of the `hello` Deployment.
fn pod_name(k: &Kubectl) -> String {
    k.ok(&[
        "get",
        "pods",
        "-l",
        "app=hello",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ])
}

fn serve(dir: &Path) -> (Engine, Kubectl) {
    let e = Engine::builder()
        .data_dir(dir.join("data"))
        .api_server(ApiServerConfig::new("127.0.0.1:0".parse().unwrap()))
        .build()
        .expect("engine starts");
    let kubeconfig = dir.join("kubeconfig");
    e.api_server()
        .unwrap()
        .write_kubeconfig(&kubeconfig)
        .unwrap();
    (e, Kubectl { kubeconfig })
}

const APP: &str = r"apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, labels: {app: hello}}
spec:
  replicas: 1
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - name: main
        image: busybox
        command: [sh, -c, 'echo hello from $POD_NAME; exec sleep 600']
        env: [{name: A, value: '1'}]
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{port: 8080}]
";

#[test]
fn kubectl_applies_lists_scales_labels_and_reads_logs() {
    let dir = common::scratch("basics");
    let (e, k) = serve(&dir);
    std::fs::write(dir.join("app.yaml"), APP).unwrap();
    let out = k.ok(&["apply", "-f", dir.join("app.yaml").to_str().unwrap()]);
    assert!(out.contains("deployment.apps/hello created"), "{out}");
    assert!(out.contains("service/hello created"), "{out}");

    let running = || {
        k.ok(&[
            "get",
            "pods",
            "-l",
            "app=hello",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ])
    };
    eventually(30, "the pod runs", || running() == "Running");
    // Field selectors: on the fields kube-apiserver selects by, and refused on others.
    let phases = k.ok(&[
        "get",
        "pods",
        "--field-selector",
        "status.phase=Running",
        "-o",
        "name",
    ]);
    assert!(phases.contains("pod/hello-"), "{phases}");
    // Unset fields select as kube-apiserver's defaults.
    let always = k.ok(&[
        "get",
        "pods",
        "--field-selector",
        "spec.restartPolicy=Always,spec.hostNetwork=false",
        "-o",
        "name",
    ]);
    assert!(always.contains("pod/hello-"), "{always}");
    let err = k.err(&["get", "pods", "--field-selector", "spec.bogus=1"]);
    assert!(
        err.contains("field label not supported: spec.bogus"),
        "{err}"
    );
    let pcs = k.ok(&["get", "pc"]);
    let header: Vec<&str> = pcs.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    );
    assert!(
        pcs.contains("system-node-critical      2000001000   false"),
        "{pcs}"
    );
    let events = k.ok(&["get", "events", "-o", "wide"]);
    let header: Vec<&str> = events.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "LAST",
            "SEEN",
            "TYPE",
            "REASON",
            "OBJECT",
            "SUBOBJECT",
            "SOURCE",
            "MESSAGE",
            "FIRST",
            "SEEN",
            "COUNT",
            "NAME"
        ]
    );
    // The token may do everything, and the server says so.
    assert_eq!(k.ok(&["auth", "can-i", "create", "pods"]).trim(), "yes");
    assert!(k.ok(&["auth", "can-i", "--list"]).contains("*.*"));
    let err = k.err(&[
        "autoscale",
        "deploy",
        "hello",
        "--min=1",
        "--max=3",
        "--cpu-percent=80",
    ]);
    assert!(err.contains("autoscaling/v2 only"), "{err}");
    let err = k.err(&["debug", &pod_name(&k), "--image=busybox"]);
    assert!(
        err.contains("ephemeralcontainers is not served by steady"),
        "{err}"
    );
    let table = k.ok(&["get", "pods"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert!(table.contains("Running"), "{table}");
    let wide = k.ok(&["get", "deploy", "-o", "wide"]);
    assert!(
        wide.contains("CONTAINERS") && wide.contains("busybox"),
        "{wide}"
    );
    // Objects carry kube-apiserver's defaults, so describe and -o yaml show them.
    let strategy = k.ok(&[
        "get",
        "deploy",
        "hello",
        "-o",
        "jsonpath={.spec.strategy.type} {.spec.revisionHistoryLimit}",
    ]);
    assert_eq!(strategy, "RollingUpdate 10");
    let yaml = k.ok(&["get", "deploy", "hello", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("resourceVersion:"),
        "{yaml}"
    );

    // kubectl top: the process's measured usage through the resource metrics API.
    eventually(30, "kubectl top lists the pod", || {
        let top = String::from_utf8_lossy(&k.run(&["top", "pods", "-l", "app=hello"]).stdout)
            .into_owned();
        top.contains("CPU(cores)") && top.contains("hello-")
    });
    let top = k.ok(&["top", "nodes"]);
    assert!(top.contains("MEMORY(bytes)"), "{top}");
    // The selector picks the pods; a pod without metrics is metrics-server's NotFound.
    let (_, stdout, stderr) = said(&k.run(&["top", "pods", "-l", "app=nothing-has-this"]));
    let both = stdout + &stderr;
    // kubectl says there is nothing to show (no metrics for the selected pods).
    assert!(
        !both.contains("hello-") && both.contains("No resources found"),
        "{both}"
    );
    let err = k.err(&["top", "pod", "nope"]);
    assert!(
        err.contains(r#"podmetrics.metrics.k8s.io "default/nope" not found"#),
        "{err}"
    );

    // Logs of the process, through the log subresource.
    let pod = k.ok(&[
        "get",
        "pods",
        "-l",
        "app=hello",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    eventually(10, "the process printed", || {
        k.ok(&["logs", &pod]).contains(&format!("hello from {pod}"))
    });
    assert_eq!(k.ok(&["logs", &pod, "--limit-bytes=5"]), "hello");
    // The buffers keep no time per line: --since returns everything, and says so.
    let (ok, stdout, stderr) = said(&k.run(&["logs", &pod, "--since=1h"]));
    assert!(ok);
    assert!(stdout.contains("hello from"));
    assert!(
        stderr.contains("sinceSeconds: not implemented by steady"),
        "{stderr}"
    );
    // A crash-looping container's output is readable while it waits to restart, as the
    // kubelet serves it; one that never started is a 400 naming why it waits.
    let o = k.with_file(
        &["apply"],
        "crash.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: crash}\nspec:\n\
         \x20 containers: [{name: c, image: x, command: [sh, -c, 'echo boom; exit 3']}]\n\
         ---\napiVersion: v1\nkind: Pod\nmetadata: {name: never}\nspec:\n\
         \x20 containers: [{name: c, image: not-mapped-anywhere}]\n",
    );
    let (ok, _, stderr) = said(&o);
    assert!(ok, "{stderr}");
    let waiting = |pod: &str| {
        k.ok(&[
            "get",
            "pod",
            pod,
            "-o",
            "jsonpath={.status.containerStatuses[0].state.waiting.reason}",
        ])
    };
    eventually(30, "the crash loop backs off", || {
        waiting("crash") == "CrashLoopBackOff"
    });
    assert_eq!(k.ok(&["logs", "crash"]), "boom\n");
    assert_eq!(k.ok(&["logs", "crash", "--previous"]), "boom\n");
    eventually(30, "the unmapped image waits", || {
        waiting("never") == "ErrImageNeverPull"
    });
    let err = k.err(&["logs", "never"]);
    assert!(
        err.contains("Error from server (BadRequest)")
            && err.contains("is waiting to start: ErrImageNeverPull"),
        "{err}"
    );
    k.ok(&[
        "delete",
        "pod",
        "crash",
        "never",
        "--grace-period=0",
        "--force",
    ]);

    // Scale through the scale subresource while `kubectl get -w` follows the pods: the
    // watch (in table form) sees the new pod arrive.
    let mut watcher = Command::new("kubectl")
        .args([
            "get",
            "pods",
            "-l",
            "app=hello",
            "-w",
            "--output-watch-events",
        ])
        .env("KUBECONFIG", &k.kubeconfig)
        .env("HOME", k.kubeconfig.parent().unwrap())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    let watched = watcher.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(watched)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // The initial list (the running pod) is out: the watch is open from its revision.
    let mut lines: Vec<String> = Vec::new();
    eventually(60, "kubectl get -w lists the running pod", || {
        lines.extend(rx.try_iter());
        lines
            .iter()
            .any(|l| l.starts_with("ADDED") && l.contains(&pod))
    });
    assert!(k
        .ok(&["scale", "deploy/hello", "--replicas=2"])
        .contains("scaled"));
    eventually(30, "two pods run", || running() == "Running Running");
    // The stream then brings the new pod, and its turn to Running.
    eventually(30, "kubectl get -w sees the new pod run", || {
        lines.extend(rx.try_iter());
        lines.iter().any(|l| {
            let mut f = l.split_whitespace();
            matches!(f.next(), Some("ADDED" | "MODIFIED"))
                && f.next().is_some_and(|name| name != pod)
                && l.contains("Running")
        })
    });
    let _ = watcher.kill();
    let _ = watcher.wait();

    // Labels and annotations are strategic merge patches.
    k.ok(&["label", "deploy", "hello", "tier=front"]);
    k.ok(&["annotate", "deploy", "hello", "owner=ops"]);
    let labels = k.ok(&[
        "get",
        "deploy",
        "hello",
        "-o",
        "jsonpath={.metadata.labels.tier}",
    ]);
    assert_eq!(labels, "front");

    // Re-apply with another env var: kubectl's three-way strategic merge patch merges the
    // containers and their env by name, and (as against Kubernetes) sets every field the
    // manifest gives, so the replicas go back to the manifest's 1.
    let changed = APP.replace(
        "env: [{name: A, value: '1'}]",
        "env: [{name: A, value: '1'}, {name: B, value: '2'}]",
    );
    std::fs::write(dir.join("app.yaml"), &changed).unwrap();
    let out = k.ok(&["apply", "-f", dir.join("app.yaml").to_str().unwrap()]);
    assert!(out.contains("deployment.apps/hello configured"), "{out}");
    let env = k.ok(&[
        "get",
        "deploy",
        "hello",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[*].name}",
    ]);
    assert_eq!(env, "A B");
    let replicas = k.ok(&["get", "deploy", "hello", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "1");

    // Server-side dry runs check everything and change nothing.
    let dry = APP.replace("image: busybox", "image: busybox:9");
    let out = k.with_file(&["apply", "--dry-run=server"], "dry.yaml", &dry);
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("(server dry run)"), "{out}");
    let image = || {
        k.ok(&[
            "get",
            "deploy",
            "hello",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
    };
    assert_eq!(image(), "busybox");
    let bad = APP.replace("matchLabels: {app: hello}", "matchLabels: {app: other}");
    let out = k.with_file(&["apply", "--dry-run=server"], "bad.yaml", &bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("field is immutable"), "{err}");
    k.ok(&["delete", "deploy", "hello", "--dry-run=server"]);
    assert_eq!(image(), "busybox", "still there");

    // Rollouts: status, a new template, history, undo, restart, wait.
    k.ok(&["rollout", "status", "deploy/hello", "--timeout=30s"]);
    k.ok(&["set", "image", "deploy/hello", "main=busybox:2"]);
    k.ok(&["rollout", "status", "deploy/hello", "--timeout=30s"]);
    let history = k.ok(&["rollout", "history", "deploy/hello"]);
    assert!(
        history.contains("REVISION") && history.lines().count() >= 4,
        "{history}"
    );
    let sets = || {
        let names = k.ok(&[
            "get",
            "rs",
            "-l",
            "app=hello",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        names
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let before = sets();
    let revisions = || {
        let history = k.ok(&["rollout", "history", "deploy/hello"]);
        history
            .lines()
            .skip(2)
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect::<Vec<_>>()
    };
    let (first_revisions, last) = (revisions(), revisions().len());
    k.ok(&["rollout", "undo", "deploy/hello"]);
    eventually(30, "the undo brings the first image back", || {
        k.ok(&[
            "get",
            "deploy",
            "hello",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ]) == "busybox"
    });
    // The undo found the ReplicaSet of the previous revision (kubectl sends its template
    // back with `resources: {}`) and made it the newest revision, as
    // kube-controller-manager does: no new ReplicaSet, and the history moves on by one.
    assert_eq!(sets(), before);
    let mut want = first_revisions.clone();
    want.remove(last - 2);
    want.push((last + 1).to_string());
    assert_eq!(revisions(), want);
    k.ok(&["rollout", "restart", "deploy/hello"]);
    k.ok(&["rollout", "status", "deploy/hello", "--timeout=30s"]);
    k.ok(&[
        "wait",
        "--for=condition=Available",
        "deploy/hello",
        "--timeout=30s",
    ]);

    // describe lists the pod's events (a field-selected list of Events).
    let described = k.ok(&["describe", "pods", "-l", "app=hello"]);
    assert!(
        described.contains("Events:") && described.contains("Scheduled"),
        "{described}"
    );

    // Drain evicts through the eviction subresource (client-go sends it in protobuf),
    // within the pods' disruption budget, and the evicted pods come back once the node is
    // uncordoned.
    let node = k.ok(&["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"]);
    // A budget that allows no disruption: the evictions are refused with 429 and
    // Kubernetes' message, and the drain gives up at its timeout.
    k.ok(&[
        "create",
        "pdb",
        "hello",
        "--selector=app=hello",
        "--min-available=100%",
    ]);
    eventually(30, "the budget's status is computed", || {
        !k.ok(&[
            "get",
            "pdb",
            "hello",
            "-o",
            "jsonpath={.status.expectedPods}",
        ])
        .is_empty()
    });
    let pdbs = k.ok(&["get", "pdb"]);
    assert!(
        pdbs.contains("MIN AVAILABLE") && pdbs.contains("100%"),
        "{pdbs}"
    );
    let o = k.run(&["drain", &node, "--ignore-daemonsets", "--timeout=2s"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "{said}");
    assert!(
        said.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{said}"
    );
    k.ok(&["delete", "pdb", "hello"]);
    let out = k.ok(&["drain", &node, "--ignore-daemonsets", "--timeout=30s"]);
    assert!(out.contains("evicted") && out.contains("drained"), "{out}");
    k.ok(&["uncordon", &node]);
    eventually(30, "the pods run again", || running() == "Running");

    // Delete, and the pods go with the Deployment.
    k.ok(&["delete", "deploy", "hello", "--cascade=foreground"]);
    eventually(30, "the pods go", || running().is_empty());

    // An orphaning delete keeps the ReplicaSet (and its pods), now without an owner.
    std::fs::write(
        dir.join("orph.yaml"),
        APP.replace("hello", "orph").split("---").next().unwrap(),
    )
    .unwrap();
    k.ok(&["apply", "-f", dir.join("orph.yaml").to_str().unwrap()]);
    let sets = || {
        k.ok(&[
            "get",
            "rs",
            "-l",
            "app=orph",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
    };
    eventually(30, "the ReplicaSet exists", || !sets().is_empty());
    let set = sets();
    k.ok(&["delete", "deploy", "orph", "--cascade=orphan"]);
    eventually(30, "the Deployment goes", || {
        !k.ok(&["get", "deploy", "-o", "name"]).contains("orph")
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(sets(), set, "the orphaned ReplicaSet stays");
    let owners = k.ok(&[
        "get",
        "rs",
        &set,
        "-o",
        "jsonpath={.metadata.ownerReferences}",
    ]);
    assert_eq!(owners, "", "its owner reference is removed");
    e.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

/// Server-side apply as kube-apiserver does it: every write records its field manager in
/// `managedFields`; an apply conflicts on a field another manager changed, takes it with
/// `--force-conflicts`, and drops what it stopped applying unless someone else owns it.
#[test]
fn kubectl_applies_on_the_server_with_field_ownership() {
    const SSA: &str = r"apiVersion: apps/v1
kind: Deployment
metadata: {name: ssa, labels: {app: ssa, tier: front}}
spec:
  replicas: 2
  selector: {matchLabels: {app: ssa}}
  template:
    metadata: {labels: {app: ssa}}
    spec:
      containers: [{name: main, image: busybox, command: [sleep, '600']}]
";
    let dir = common::scratch("ssa");
    let (_e, k) = serve(&dir);
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let first = file("ssa.yaml", SSA);
    let out = k.ok(&["apply", "--server-side", "-f", &first]);
    assert_eq!(out.trim(), "deployment.apps/ssa serverside-applied");
    let managers = || {
        k.ok(&[
            "get",
            "deploy",
            "ssa",
            "-o",
            r#"jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation}/{.subresource} {end}"#,
        ])
    };
    assert_eq!(managers().trim(), "kubectl/Apply/");

    // kubectl scale writes spec.replicas through the scale subresource: the field changes
    // hands, and an apply that still says 2 conflicts with it.
    k.ok(&["scale", "deploy", "ssa", "--replicas=3"]);
    assert_eq!(managers().trim(), "kubectl/Apply/ kubectl/Update/scale");
    let one = file("one.yaml", &SSA.replace("replicas: 2", "replicas: 1"));
    let err = k.err(&["apply", "--server-side", "-f", &one]);
    assert!(
        err.contains(
            r#"Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas"#
        ),
        "{err}"
    );
    // The same value is shared, not a conflict; forced, the field is the applier's again.
    k.ok(&[
        "apply",
        "--server-side",
        "-f",
        &file("three.yaml", &SSA.replace("replicas: 2", "replicas: 3")),
    ]);
    k.ok(&["apply", "--server-side", "--force-conflicts", "-f", &one]);
    let replicas = k.ok(&["get", "deploy", "ssa", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "1");
    assert_eq!(managers().trim(), "kubectl/Apply/");

    // A label the apply no longer names goes; one another manager set stays. The server's
    // dry run (`kubectl diff --server-side`) shows it first, without writing.
    k.ok(&["label", "deploy", "ssa", "owner=ops"]);
    let untiered = file(
        "untiered.yaml",
        &SSA.replace(", tier: front", "")
            .replace("replicas: 2", "replicas: 1"),
    );
    let diff = k.run(&["diff", "--server-side", "-f", &untiered]);
    let diff_out = String::from_utf8_lossy(&diff.stdout);
    assert_eq!(diff.status.code(), Some(1), "kubectl diff: {diff_out}");
    assert!(diff_out.contains("-    tier: front"), "{diff_out}");
    assert!(!diff_out.contains("-    owner: ops"), "{diff_out}");
    k.ok(&["apply", "--server-side", "-f", &untiered]);
    let labels = k.ok(&["get", "deploy", "ssa", "-o", "jsonpath={.metadata.labels}"]);
    assert_eq!(labels, r#"{"app":"ssa","owner":"ops"}"#);

    // A custom field manager, and an apply of a field the applier does not own over an
    // object someone else changed: the manager is named by what `--field-manager` says.
    let err = k.err(&["apply", "--server-side", "--field-manager=ci", "-f", &first]);
    assert!(
        err.contains(r#"conflict with "kubectl""#) && err.contains(".spec.replicas"),
        "{err}"
    );
    let yaml = k.ok(&[
        "get",
        "deploy",
        "ssa",
        "--show-managed-fields",
        "-o",
        "yaml",
    ]);
    assert!(
        yaml.contains("fieldsType: FieldsV1") && yaml.contains("f:owner: {}"),
        "{yaml}"
    );
}

/// `kubectl explain` reads the schemas the engine serves: the built-in kinds' from their
/// types (steady's fields and descriptions), a CRD's from its `openAPIV3Schema`.
#[test]
fn kubectl_explains_built_in_and_custom_kinds() {
    let dir = common::scratch("explain");
    let (_e, k) = serve(&dir);
    let deploy = k.ok(&["explain", "deployment"]);
    assert!(deploy.contains("KIND:       Deployment"), "{deploy}");
    assert!(deploy.contains("spec\t<DeploymentSpec>"), "{deploy}");
    assert!(deploy.contains("status\t<DeploymentStatus>"), "{deploy}");
    let containers = k.ok(&["explain", "pod.spec.containers"]);
    assert!(
        containers.contains("FIELD: containers <[]Container>"),
        "{containers}"
    );
    for field in [
        "command\t<[]string>",
        "env\t<[]EnvVar>",
        "resources\t<ResourceRequirements>",
    ] {
        assert!(containers.contains(field), "{field}: {containers}");
    }
    let replicas = k.ok(&["explain", "deploy.spec.replicas"]);
    assert!(replicas.contains("FIELD: replicas <integer>"), "{replicas}");
    // A field steady does not model is not offered.
    let err = k.err(&["explain", "pod.spec.containers.imagePullPolicy"]);
    assert!(
        err.contains(r#"field "imagePullPolicy" does not exist"#),
        "{err}"
    );

    let crd = dir.join("crd.yaml");
    std::fs::write(
        &crd,
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: backups.ops.example.com}
spec:
  group: ops.example.com
  scope: Namespaced
  names: {plural: backups, singular: backup, kind: Backup}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What to back up.
            properties:
              path: {type: string, description: The directory to copy.}
",
    )
    .unwrap();
    k.ok(&["apply", "-f", crd.to_str().unwrap()]);
    eventually(10, "kubectl explains the custom kind", || {
        let o = k.run(&["explain", "backup.spec"]);
        let text = String::from_utf8_lossy(&o.stdout);
        o.status.success()
            && text.contains("path\t<string>")
            && text.contains("The directory to copy.")
    });
}

#[test]
fn kubectl_serves_a_crd_s_kind_validates_strictly_and_needs_the_token() {
    let dir = common::scratch("crd");
    let (e, k) = serve(&dir);
    std::fs::write(
        dir.join("crd.yaml"),
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
",
    )
    .unwrap();
    k.ok(&["apply", "-f", dir.join("crd.yaml").to_str().unwrap()]);
    std::fs::write(
        dir.join("tab.yaml"),
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: nightly}\nspec: {cronSpec: '0 3 * * *'}\n",
    )
    .unwrap();
    k.ok(&["apply", "-f", dir.join("tab.yaml").to_str().unwrap()]);
    let table = k.ok(&["get", "ct"]);
    assert!(
        table.contains("SPEC") && table.contains("0 3 * * *"),
        "{table}"
    );

    // kubectl validates strictly by default, and the server knows the fields.
    std::fs::write(
        dir.join("bad.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {a: b}\nfrobnicate: true\n",
    )
    .unwrap();
    let err = k.err(&["apply", "-f", dir.join("bad.yaml").to_str().unwrap()]);
    assert!(err.contains("unknown field \"frobnicate\""), "{err}");
    assert!(e.api::<steady::api::ConfigMap>().get("bad").is_err());
    // Fields Kubernetes defines and steady keeps without modelling them are not unknown:
    // an ordinary manifest (or `kubectl get -o yaml` of a real cluster) applies, with a
    // warning for each; a misspelling beside them is still refused.
    let real = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: real}\nspec:\n\
                \x20 selector: {matchLabels: {app: real}}\n  template:\n\
                \x20   metadata: {labels: {app: real}}\n    spec:\n      dnsPolicy: ClusterFirst\n\
                \x20     containers: [{name: c, image: x, command: [sleep, '600'],\n\
                \x20                   imagePullPolicy: Always, terminationMessagePolicy: File}]\n";
    let (ok, _, stderr) = said(&k.with_file(&["apply"], "real.yaml", real));
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("spec.template.spec.dnsPolicy: kept but not implemented by steady"),
        "{stderr}"
    );
    let o = k.with_file(
        &["apply"],
        "typo.yaml",
        &real
            .replace("dnsPolicy", "dnsPolcy")
            .replace("name: real}", "name: typo}"),
    );
    let (ok, _, stderr) = said(&o);
    assert!(!ok);
    assert!(
        stderr.contains("unknown field \"spec.template.spec.dnsPolcy\""),
        "{stderr}"
    );

    // kubectl create namespace|configmap|secret send their objects in protobuf.
    k.ok(&["create", "namespace", "team-x"]);
    k.ok(&[
        "create",
        "configmap",
        "cfg",
        "--from-literal=a=b",
        "-n",
        "team-x",
    ]);
    k.ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=password=hunter2",
    ]);
    assert_eq!(
        k.ok(&[
            "get",
            "cm",
            "cfg",
            "-n",
            "team-x",
            "-o",
            "jsonpath={.data.a}"
        ]),
        "b"
    );
    assert_eq!(
        k.ok(&["get", "secret", "creds", "-o", "jsonpath={.data.password}"]),
        "aHVudGVyMg=="
    );
    // The engine's metrics, through the same authenticated endpoint.
    let metrics = k.ok(&["get", "--raw", "/metrics"]);
    assert!(
        metrics.contains("controller_runtime_reconcile_total"),
        "{metrics}"
    );

    // A pod no node can take is Pending from its creation, as kube-apiserver makes it.
    std::fs::write(
        dir.join("stuck.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: stuck}\n\
         spec: {nodeSelector: {disk: none}, containers: [{name: a, image: x, command: [sleep, '1']}]}\n",
    )
    .unwrap();
    k.ok(&["apply", "-f", dir.join("stuck.yaml").to_str().unwrap()]);
    let phase = k.ok(&["get", "pod", "stuck", "-o", "jsonpath={.status.phase}"]);
    assert_eq!(phase, "Pending");
    // A kind the engine does not serve.
    let err = k.err(&["get", "ingresses"]);
    assert!(
        err.contains("the server doesn't have a resource type \"ingresses\""),
        "{err}"
    );

    // Without the token: 401, nothing else.
    let text = std::fs::read_to_string(&k.kubeconfig).unwrap();
    let token = e.api_server().unwrap().token().to_string();
    let stranger = dir.join("stranger");
    std::fs::write(&stranger, text.replace(&token, "not-the-token-at-all")).unwrap();
    let o = Command::new("kubectl")
        .args(["get", "pods"])
        .env("KUBECONFIG", &stranger)
        .env("HOME", &dir)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Unauthorized"), "{err}");
    e.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

/// `kubectl create deployment|job|service`, `run` and `expose` build their
/// objects in kubectl and send them in protobuf (client-go's choice for built-in kinds):
/// the engine reads them into the same objects a manifest gives.
#[test]
fn kubectl_create_run_and_expose_send_protobuf_the_engine_reads() {
    let dir = common::scratch("protobuf");
    let (e, k) = serve(&dir);
    // `--image=nginx` without a command: an in-process worker stands in for the image.
    e.register_worker("nginx", |ctx: &WorkerContext| {
        ctx.log("nginx ready");
        ctx.ready();
        while !ctx.wait_stop(Duration::from_millis(200)) {}
        Ok(())
    });
    let get = |args: &[&str]| k.ok(&[&["get"], args].concat());

    // -v=8 shows the request's headers: the body is protobuf indeed.
    let o = k.run(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=2",
        "--port=8080",
        "-v=8",
    ]);
    let (out, log) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(out.contains("deployment.apps/web created"), "{out}{log}");
    assert!(
        log.contains("Content-Type: application/vnd.kubernetes.protobuf"),
        "{log}"
    );
    assert_eq!(
        get(&[
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.replicas} {.spec.selector.matchLabels.app} \
             {.spec.template.metadata.labels.app} {.spec.template.spec.containers[0].name} \
             {.spec.template.spec.containers[0].image} \
             {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.strategy.type}",
        ]),
        "2 web web nginx nginx 8080 RollingUpdate"
    );
    eventually(30, "the deployment's two pods run", || {
        get(&[
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ]) == "Running Running"
    });
    eventually(30, "the deployment is available", || {
        get(&[
            "deploy",
            "web",
            "-o",
            "jsonpath={.status.availableReplicas}",
        ]) == "2"
    });
    // A server-side dry run of the same create reads the body and writes nothing.
    k.ok(&[
        "create",
        "deployment",
        "dry",
        "--image=nginx",
        "--dry-run=server",
    ]);
    assert!(k.err(&["get", "deploy", "dry"]).contains("NotFound"));

    // kubectl run: a Pod with labels, env, a port and a command run as a host process
    // (kubectl 1.32 sends this one, and expose's Service, in JSON; newer ones may not).
    let out = k.ok(&[
        "run",
        "solo",
        "--image=busybox",
        "--restart=Never",
        "--labels=tier=batch",
        "--env=GREETING=hi",
        "--port=9000",
        "--command",
        "--",
        "sh",
        "-c",
        "echo $GREETING from run; exec sleep 600",
    ]);
    assert!(out.contains("pod/solo created"), "{out}");
    assert_eq!(
        get(&[
            "pod",
            "solo",
            "-o",
            "jsonpath={.metadata.labels.tier} {.spec.restartPolicy} \
             {.spec.containers[0].command[0]} {.spec.containers[0].env[0].value} \
             {.spec.containers[0].ports[0].containerPort}",
        ]),
        "batch Never sh hi 9000"
    );
    eventually(30, "the run pod logs", || {
        k.run(&["logs", "solo"]).stdout.starts_with(b"hi from run")
    });

    // kubectl expose: a Service for the deployment's pods, targetPort an IntOrString.
    let out = k.ok(&[
        "expose",
        "deployment",
        "web",
        "--port=80",
        "--target-port=8080",
    ]);
    assert!(out.contains("service/web exposed"), "{out}");
    assert_eq!(
        get(&[
            "svc",
            "web",
            "-o",
            "jsonpath={.spec.selector.app} {.spec.ports[0].port} \
             {.spec.ports[0].targetPort} {.spec.ports[0].protocol}",
        ]),
        "web 80 8080 TCP"
    );
    // kubectl create service clusterip: a named port and a selector from the name.
    k.ok(&["create", "service", "clusterip", "api", "--tcp=5678:http"]);
    assert_eq!(
        get(&[
            "svc",
            "api",
            "-o",
            "jsonpath={.spec.type} {.spec.selector.app} {.spec.ports[0].name} \
             {.spec.ports[0].port} {.spec.ports[0].targetPort}",
        ]),
        "ClusterIP api 5678-http 5678 http"
    );

    // kubectl create job: a Job whose pod runs to completion.
    let out = k.ok(&[
        "create",
        "job",
        "once",
        "--image=busybox",
        "--",
        "sh",
        "-c",
        "echo done",
    ]);
    assert!(out.contains("job.batch/once created"), "{out}");
    eventually(30, "the job succeeds", || {
        get(&["job", "once", "-o", "jsonpath={.status.succeeded}"]) == "1"
    });

    e.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}
