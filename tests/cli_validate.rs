//! `steady validate` and the command line: one line per problem naming file, line, document,
//! object and field; warnings that do not fail; exit codes; help, version and usage errors.
#![cfg(feature = "cli")]

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn steady(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_steady"))
        .args(args)
        .output()
        .expect("steady runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const GOOD: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25, command: [nginx, -g, daemon off;]}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: fleets.games.example.com}
spec:
  group: games.example.com
  scope: Namespaced
  names: {kind: Fleet, plural: fleets}
  versions: [{name: v1, served: true, storage: true}]
---
apiVersion: games.example.com/v1
kind: Fleet
metadata: {name: arena}
spec: {replicas: 3}
";

const BROKEN: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: Not_A_Name
spec:
  containers:
  - name: main
    image: busybox
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: lots
---
apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  ports:
  - port: 70000
";

#[test]
fn good_manifests_validate_with_no_output_and_exit_0() {
    let d = common::scratch("good");
    let f = write(&d, "good.yaml", GOOD);
    let o = steady(&["validate", &f]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("3 object(s) in 1 file(s): 0 problem(s), 0 warning(s)"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn every_problem_is_one_line_with_file_line_document_object_and_field_and_exit_1() {
    let d = common::scratch("broken");
    let f = write(&d, "broken.yaml", BROKEN);
    let o = steady(&["validate", &f]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out,
        format!(
            "{f}:4: document 1: Pod/Not_A_Name: metadata.name: Invalid value: \"Not_A_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')
{f}:14: document 2: Deployment/web: spec.replicas: invalid type: string \"lots\", expected i32
{f}:21: document 3: Service/svc: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive
"
        )
    );
    assert!(stderr(&o).contains("3 problem(s)"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_yaml_syntax_error_names_its_line_and_the_other_files_are_still_checked() {
    let d = common::scratch("syntax");
    let bad = write(
        &d,
        "a-bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n",
    );
    write(
        &d,
        "b-worse.json",
        "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {}}",
    );
    let o = steady(&["validate", &d.display().to_string()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with(&format!("{bad}:")), "{out}");
    assert!(lines[0].contains(": document 1: "), "{out}");
    assert!(
        lines[1]
            .ends_with("b-worse.json:1: document 1: ConfigMap/?: metadata.name: name is required"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn unknown_fields_are_warnings_on_their_line_and_do_not_fail() {
    let d = common::scratch("warn");
    let f = write(
        &d,
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\nfrobnicate: true\n",
    );
    let o = steady(&["validate", &f]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "{f}:5: warning: document 1: ConfigMap/c: frobnicate: unknown field: Kubernetes does not define it either (misspelt?), and kubectl's default validation refuses it; kept but not implemented by steady\n"
        )
    );
    // --strict: the same warning is a problem, and fails the check, for CI pipelines.
    let o = steady(&["validate", "--strict", &f]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "{f}:5: document 1: ConfigMap/c: frobnicate: unknown field: Kubernetes does not define it either (misspelt?), and kubectl's default validation refuses it; kept but not implemented by steady\n"
        )
    );
    assert!(
        stderr(&o).contains("1 problem(s), 0 warning(s)"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn fields_steady_keeps_but_does_not_implement_are_warned_about_and_implemented_ones_are_not() {
    let d = common::scratch("unimplemented");
    let f = write(
        &d,
        "pod.yaml",
        "apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  priorityClassName: high
  overhead: {cpu: 100m}
  topologySpreadConstraints:
  - {maxSkew: 1, minDomains: 2, topologyKey: zone, whenUnsatisfiable: DoNotSchedule,
     matchLabelKeys: [app], nodeAffinityPolicy: Honor, labelSelector: {matchLabels: {app: a}}}
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: zone}]
  initContainers: [{name: side, image: x, restartPolicy: Always, command: [sleep, '1']}]
  containers:
  - name: a
    image: x
    command: [sleep, '1']
    resources: {limits: {memory: 1Gi, ephemeral-storage: 1Gi}}
",
    );
    let o = steady(&["validate", &f]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let fields: Vec<&str> = out
        .lines()
        .map(|l| l.split(": ").nth(4).unwrap_or(l))
        .collect();
    assert_eq!(
        fields,
        ["spec.containers[0].resources.limits.ephemeral-storage"],
        "{out}"
    );
    assert!(out.contains(&format!("{f}:18: warning: document 1: Pod/p: spec.containers[0].resources.limits.ephemeral-storage: kept but not implemented by steady: ephemeral-storage limits are not enforced")), "{out}");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn the_repository_example_manifests_validate() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/manifests");
    let o = steady(&["validate", dir]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let o = steady(&["validate", "/no/such/manifest.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("/no/such/manifest.yaml: "),
        "{}",
        stdout(&o)
    );
}

#[test]
fn unknown_options_and_commands_print_the_error_and_the_usage_and_exit_2() {
    let o = steady(&["run", "x.yaml", "--frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with("steady: error: unknown option \"--frobnicate\""),
        "{err}"
    );
    assert!(
        err.contains("Usage: steady run [OPTIONS] FILE|DIR..."),
        "{err}"
    );

    let o = steady(&["launch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown command \"launch\""));
    assert!(stderr(&o).contains("steady validate FILE|DIR..."));

    let o = steady(&["run", "x.yaml", "--for", "10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("needs a unit"), "{}", stderr(&o));

    let o = steady(&[]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help_and_version_print_to_stdout_and_exit_0() {
    for args in [
        &["--help"][..],
        &["help"],
        &["run", "--help"],
        &["validate", "-h"],
        &["help", "run"],
    ] {
        let o = steady(args);
        assert!(o.status.success(), "{args:?}");
        assert!(stdout(&o).contains("Usage:"), "{args:?}: {}", stdout(&o));
    }
    assert!(stdout(&steady(&["run", "--help"])).contains("--for DURATION"));
    for args in [&["version"][..], &["--version"], &["-V"]] {
        let o = steady(args);
        assert!(o.status.success());
        assert_eq!(
            stdout(&o),
            format!("steady {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn an_image_table_maps_commandless_containers_and_its_errors_name_the_file() {
    let d = common::scratch("images");
    let pod = write(
        &d,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: cache}\n\
         spec: {containers: [{name: redis, image: 'redis:7'}]}\n",
    );
    let o = steady(&["validate", &pod]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("ErrImageNeverPull"), "{}", stdout(&o));
    let images = write(
        &d,
        "images.yaml",
        "\"redis:7\": {command: [redis-server]}\n",
    );
    let o = steady(&["validate", "--images", &images, &pod]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "mapped: no warning");
    let bad = write(&d, "bad.yaml", "\"redis:7\": {comand: [redis-server]}\n");
    let o = steady(&["validate", "--images", &bad, &pod]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains(&bad) && out.contains("redis:7") && out.contains("comand"),
        "{out}"
    );
}

/// `steady --help | head -1` where head went first: the write fails with EPIPE, and steady
/// ends quietly rather than panicking with a backtrace.
#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    use std::os::fd::FromRawFd;
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is an array of two descriptors, as pipe(2) writes them.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just made by pipe(2) and are owned here, once each.
    let (reader, writer) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    drop(reader);
    for args in [&["--help"][..], &["validate", "examples/appliance"]] {
        let o = Command::new(env!("CARGO_BIN_EXE_steady"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(writer.try_clone().unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            o.status.code().is_some(),
            "{args:?}: killed: {:?}",
            o.status
        );
    }
}
