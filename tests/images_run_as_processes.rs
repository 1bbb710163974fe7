//! Manifests that name images and give no command run through the image table: the image's
//! program, with the container's own `command`, `args`, `env` and `workingDir` overriding
//! the image's as Kubernetes says; a registered worker keeps precedence; an image nobody
//! maps waits with ErrImageNeverPull and a message saying how to map it.
#![cfg(unix)]

mod common;

use common::eventually;
use serde_json::json;
use std::sync::Arc;
use steady::api::Pod;
use steady::clock::ManualClock;
use steady::node::{Image, ImageTable, WorkerContext};
use steady::Engine;

fn table() -> ImageTable {
    let redis = Image {
        command: vec!["sh".into(), "-c".into()],
        args: vec!["echo image cmd: MODE=$MODE in $(pwd); exec sleep 600".into()],
        env: [("MODE".to_string(), "image".to_string())].into(),
        working_dir: Some("/tmp".into()),
    };
    ImageTable::new()
        .with("redis:7", redis)
        .unwrap()
        .with("game-server", Image::command(["false"]))
        .unwrap()
}

fn apply_pod(e: &Engine, name: &str, container: serde_json::Value) {
    let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                   "spec": {"nodeName": common::LOCAL_NODE, "containers": [container]}});
    e.apply(&p.to_string()).unwrap();
}

fn logs(e: &Engine, pod: &str) -> String {
    e.logs("default", pod, None, false).unwrap_or_default()
}

fn idle(ctx: &WorkerContext) -> Result<(), String> {
    ctx.ready();
    while !ctx.wait_stop(std::time::Duration::from_secs(60)) {}
    Ok(())
}

#[test]
fn images_run_their_program_and_the_container_overrides_as_kubernetes_says() {
    let clock = Arc::new(ManualClock::default());
    let e = common::on_local_node(&clock)
        .images(table())
        .worker("game-server", idle)
        .build()
        .unwrap();
    // The image's ENTRYPOINT, CMD, ENV and WORKDIR.
    apply_pod(&e, "plain", json!({"name": "redis", "image": "redis:7"}));
    // The same image under its full name, with args of its own (the CMD replaced, the
    // ENTRYPOINT kept; $(VAR) expanded from the container's env) and env of its own.
    apply_pod(
        &e,
        "own-args",
        json!({"name": "redis", "image": "docker.io/library/redis:7",
               "env": [{"name": "MODE", "value": "mine"}],
               "args": ["echo own args: MODE=$MODE $(MODE); exec sleep 600"]}),
    );
    // A command of its own replaces both; its workingDir wins over the image's.
    apply_pod(
        &e,
        "own-command",
        json!({"name": "redis", "image": "redis:7", "workingDir": "/",
               "command": ["sh", "-c", "echo own command in $(pwd); exec sleep 600"]}),
    );
    // A registered worker wins over the table.
    apply_pod(&e, "worker", json!({"name": "gs", "image": "game-server"}));
    // Mapped to redis:7 only: redis (meaning redis:latest) is nobody's.
    apply_pod(&e, "unmapped", json!({"name": "redis", "image": "redis"}));

    eventually(20, "the image's program runs", || {
        logs(&e, "plain") == "image cmd: MODE=image in /tmp\n"
    });
    eventually(20, "the container's args replace the image's", || {
        logs(&e, "own-args") == "own args: MODE=mine mine\n"
    });
    eventually(20, "the container's command replaces both", || {
        logs(&e, "own-command") == "own command in /\n"
    });
    let state = |name: &str| {
        let p: Arc<Pod> = e.api::<Pod>().namespace("default").get(name).unwrap();
        let s = p.status.clone().unwrap_or_default();
        s.container_statuses.first().cloned()
    };
    eventually(20, "the worker runs", || {
        state("worker")
            .is_some_and(|c| c.container_id.is_some_and(|id| id.starts_with("worker://")))
    });
    eventually(20, "an unmapped image waits", || {
        state("unmapped").is_some_and(|c| {
            c.state.and_then(|s| s.waiting).is_some_and(|w| {
                w.reason.as_deref() == Some("ErrImageNeverPull")
                    && w.message
                        .as_deref()
                        .is_some_and(|m| m.contains("image table"))
            })
        })
    });
    // `kubectl describe` shows events, not the waiting message: a Warning says it there.
    let pod = e.api::<Pod>().namespace("default").get("unmapped").unwrap();
    let events = steady::client::events::events_for(e.store(), pod.as_ref()).unwrap();
    assert!(
        events
            .iter()
            .any(|ev| ev.reason.as_deref() == Some("Failed")
                && ev.type_.as_deref() == Some("Warning")
                && ev
                    .message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Error: image") && m.contains("image table"))),
        "{events:#?}"
    );
}
