//! An Agones-style game-server fleet, built only on steady's public API.
//!
//! ```sh
//! cargo run --example game_fleet -- --short   # a scripted run of a few seconds
//! cargo run --example game_fleet              # the same, then half a minute of churn
//! ```
//!
//! Custom kinds (`games.example.com/v1`), each an ordinary controller:
//! - `Fleet`: keeps `spec.replicas` GameServers from its template, placing each on a node
//!   (Packed: the fullest node with room; the fleet picks the node itself and sets
//!   `spec.nodeName`, so the choice is Agones' and not the scheduler's), replacing
//!   Unhealthy and Shutdown ones, scaling down Ready ones from the emptiest nodes first and
//!   never touching Allocated ones. Status: replicas, ready, allocated.
//! - `GameServer`: runs one pod (an in-process worker, image `game-server`) with a
//!   `heartbeat` liveness probe, and mirrors the pod into `status.state`: Scheduled, Ready
//!   (the worker called `ready()`), Allocated (set by an allocation), Unhealthy (the worker
//!   crashed or stopped its heartbeats), Shutdown (the match ended and the server exited).
//!   A finalizer deletes the pod with the GameServer.
//! - `GameServerAllocation`: picks a Ready GameServer matching the first of its label
//!   selectors that matches any, preferring (Packed) nodes with the most Allocated servers,
//!   and marks both objects in one store transaction that compares-and-swaps their
//!   resourceVersions: two concurrent allocations never get the same server; the loser sees
//!   a conflict and picks again.
//! - `FleetAutoscaler` (Buffer policy): fleet replicas = allocated + bufferSize (or the
//!   percentage form), clamped to minReplicas..maxReplicas.
//!
//! Admission hooks reject bad Fleets, FleetAutoscalers and allocations with the field named.
//! The game servers obey commands put in the annotation `games.example.com/command`:
//! `crash` (panic), `hang` (stop heartbeating), `shutdown` (end the match and exit).
//!
//! `tests/game_fleet_example.rs` runs [`run`] on a manual clock and checks its [`Outcome`].

use serde_json::{json, Value};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use steady::api::{DynamicObject, KindInfo, LabelSelector, Node, Object, Pod, Selector};
use steady::client::events::EventKind;
use steady::clock::{ManualClock, SharedClock};
use steady::node::{NodeConfig, Worker, WorkerContext};
use steady::runtime::finalizer::{finalizer, FinalizerEvent};
use steady::runtime::{
    owner_reference, Action, Context, Controller, ObjectKey, ReconcileError, ReconcileResult,
};
use steady::store::{DeleteParams, ListParams, Operation, Store, TxnOp, WatchEvent, WatchParams};
use steady::Engine;

/// apiVersion of the game kinds.
pub const API_VERSION: &str = "games.example.com/v1";
/// Label every GameServer of a fleet carries.
const FLEET_LABEL: &str = "games.example.com/fleet";
/// Annotation the game servers take commands from.
const COMMAND: &str = "games.example.com/command";
/// Finalizer that deletes a GameServer's pod.
const POD_FINALIZER: &str = "games.example.com/pod";
/// The worker image the game servers run.
const IMAGE: &str = "game-server";
/// Game servers per node (the nodes' pod capacity).
const SERVERS_PER_NODE: i64 = 3;
/// Nodes of the example.
const NODES: usize = 3;

const SCHEDULED: &str = "Scheduled";
const READY: &str = "Ready";
const ALLOCATED: &str = "Allocated";
const UNHEALTHY: &str = "Unhealthy";
const SHUTDOWN: &str = "Shutdown";
const UNALLOCATED: &str = "UnAllocated";

/// The fleet and its autoscaler, as a user would write them.
const MANIFEST: &str = "\
apiVersion: games.example.com/v1
kind: Fleet
metadata:
  name: arena
spec:
  replicas: 3
  scheduling: Packed
  template:
    metadata:
      labels: {game: arena, region: eu}
    spec:
      health: {periodSeconds: 1, failureThreshold: 3}
      template:
        spec:
          containers:
          - name: game
            image: game-server
---
apiVersion: games.example.com/v1
kind: FleetAutoscaler
metadata:
  name: arena-buffer
spec:
  fleetName: arena
  policy:
    type: Buffer
    buffer: {bufferSize: 3, minReplicas: 3, maxReplicas: 9}
";

/// The autoscaler's buffer and bounds in [`MANIFEST`].
const BUFFER: i64 = 3;
const MIN_REPLICAS: i64 = 3;
const MAX_REPLICAS: i64 = 9;

// ---------------------------------------------------------------------------------------
// Reading game objects
// ---------------------------------------------------------------------------------------

fn at<'a>(v: Option<&'a Value>, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v?, |v, k| v.get(k))
}

fn state(o: &DynamicObject) -> &str {
    at(o.status(), &["state"])
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn node_of(gs: &DynamicObject) -> &str {
    at(gs.spec(), &["nodeName"])
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn int(o: Option<&Value>, path: &[&str]) -> Option<i64> {
    at(o, path).and_then(Value::as_i64)
}

fn deleting(o: &DynamicObject) -> bool {
    o.metadata.deletion_timestamp.is_some()
}

/// `o` with `status` replaced (its resourceVersion kept: writing it is a compare-and-swap).
fn with_status(o: &DynamicObject, status: Value) -> DynamicObject {
    let mut next = o.clone();
    next.data.insert("status".into(), status);
    next
}

fn as_dynamic(o: &Arc<dyn Object>) -> Option<&DynamicObject> {
    o.as_any().downcast_ref::<DynamicObject>()
}

fn ignore_not_found(r: steady::Result<steady::store::Deleted>) -> steady::Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// The buffer of a Buffer policy: a count or a percentage.
#[derive(Clone, Copy, Debug, PartialEq)]
enum BufferSize {
    Count(i64),
    Percent(i64),
}

fn buffer_size(v: Option<&Value>) -> Result<BufferSize, String> {
    match v {
        Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n >= 1) => {
            Ok(BufferSize::Count(n.as_i64().unwrap_or(1)))
        }
        Some(Value::String(s)) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|p| (1..=99).contains(p))
            .map(BufferSize::Percent)
            .ok_or_else(|| format!("{s:?} is not a percentage from 1% to 99%")),
        _ => Err("must be a positive integer or a percentage such as \"20%\"".into()),
    }
}

fn selectors(alloc: &DynamicObject) -> Result<Vec<Selector>, String> {
    let list = at(alloc.spec(), &["selectors"])
        .and_then(Value::as_array)
        .ok_or("spec.selectors: at least one label selector is required")?;
    if list.is_empty() {
        return Err("spec.selectors: at least one label selector is required".into());
    }
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            serde_json::from_value::<LabelSelector>(s.clone())
                .map_err(|e| format!("spec.selectors[{i}]: {e}"))?
                .to_selector()
                .map_err(|e| format!("spec.selectors[{i}].{e}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Admission: bad objects are refused with the field named
// ---------------------------------------------------------------------------------------

fn validate_fleet(o: &DynamicObject) -> Result<(), String> {
    let spec = o.spec();
    match int(spec, &["replicas"]) {
        Some(r) if r >= 0 => {}
        _ => return Err("spec.replicas: must be an integer >= 0".into()),
    }
    match at(spec, &["scheduling"]).map(|s| s.as_str()) {
        None | Some(Some("Packed" | "Distributed")) => {}
        _ => return Err("spec.scheduling: must be Packed or Distributed".into()),
    }
    let containers = at(
        spec,
        &["template", "spec", "template", "spec", "containers"],
    )
    .and_then(Value::as_array);
    if containers.is_none_or(|c| c.is_empty()) {
        return Err("spec.template.spec.template.spec.containers: at least one container".into());
    }
    Ok(())
}

fn validate_autoscaler(o: &DynamicObject) -> Result<(), String> {
    let spec = o.spec();
    if at(spec, &["fleetName"])
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err("spec.fleetName: required".into());
    }
    if at(spec, &["policy", "type"]).and_then(Value::as_str) != Some("Buffer") {
        return Err("spec.policy.type: only Buffer is supported".into());
    }
    let buffer = at(spec, &["policy", "buffer"]);
    buffer_size(at(buffer, &["bufferSize"]))
        .map_err(|e| format!("spec.policy.buffer.bufferSize: {e}"))?;
    let min = int(buffer, &["minReplicas"]).unwrap_or(0);
    let Some(max) = int(buffer, &["maxReplicas"]) else {
        return Err("spec.policy.buffer.maxReplicas: required".into());
    };
    if min < 0 || max < min {
        return Err(format!(
            "spec.policy.buffer: need 0 <= minReplicas <= maxReplicas (got {min} and {max})"
        ));
    }
    Ok(())
}

/// Checks one object of a game kind.
type Check = fn(&DynamicObject) -> Result<(), String>;

/// Adds the admission hooks of the game kinds to `store`.
fn add_admission(store: &Store) {
    let hooks: [(&str, Check); 3] = [
        ("Fleet", validate_fleet),
        ("FleetAutoscaler", validate_autoscaler),
        ("GameServerAllocation", |o| selectors(o).map(|_| ())),
    ];
    for (kind, check) in hooks {
        store.add_validating_hook(&format!("games-{kind}"), Some(kind), move |req| {
            if !matches!(req.operation, Operation::Create | Operation::Update) {
                return Ok(());
            }
            match req.object.as_any().downcast_ref::<DynamicObject>() {
                Some(o) => check(o),
                None => Ok(()),
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// Fleet controller
// ---------------------------------------------------------------------------------------

/// Ready nodes with their game-server capacity and what occupies them (game servers and
/// pods by name: a pod and its game server share one, and a terminating pod still holds
/// its slot).
struct Occupancy {
    capacity: BTreeMap<String, i64>,
    used: HashMap<String, HashSet<String>>,
}

impl Occupancy {
    fn read(store: &Store) -> Result<Occupancy, ReconcileError> {
        let mut capacity = BTreeMap::new();
        for n in steady::client::Api::<Node>::all(store.clone())
            .list(&ListParams::default())?
            .items
        {
            let status = n.status.as_ref();
            let ready = status.is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            });
            if !ready || n.spec.unschedulable == Some(true) {
                continue;
            }
            let pods = status
                .and_then(|s| s.allocatable.get("pods"))
                .map_or(0, |q| q.value());
            capacity.insert(n.metadata.name.clone(), pods);
        }
        let mut used: HashMap<String, HashSet<String>> = HashMap::new();
        for p in steady::client::Api::<Pod>::all(store.clone())
            .list(&ListParams::default())?
            .items
        {
            if let Some(node) = &p.spec.node_name {
                used.entry(node.clone())
                    .or_default()
                    .insert(p.metadata.name.clone());
            }
        }
        let servers = steady::client::DynamicApi::new(store.clone(), API_VERSION, "GameServer")?;
        for gs in servers.list(&ListParams::default())?.0 {
            let node = node_of(&gs);
            if !node.is_empty() {
                used.entry(node.to_string())
                    .or_default()
                    .insert(gs.metadata.name.clone());
            }
        }
        Ok(Occupancy { capacity, used })
    }

    fn count(&self, node: &str) -> i64 {
        self.used.get(node).map_or(0, |s| s.len() as i64)
    }

    /// The node a new server goes to: Packed, the fullest node with room (ties: by name);
    /// Distributed, the emptiest.
    fn place(&self, packed: bool) -> Option<String> {
        let with_room = self
            .capacity
            .iter()
            .filter(|(n, cap)| self.count(n) < **cap)
            .map(|(n, _)| n);
        if packed {
            with_room
                .max_by_key(|n| (self.count(n), Reverse(*n)))
                .cloned()
        } else {
            with_room.min_by_key(|n| (self.count(n), *n)).cloned()
        }
    }
}

fn reconcile_fleet(ctx: &Context) -> ReconcileResult {
    let servers = ctx.dynamic(API_VERSION, "GameServer")?;
    let Some(fleet) = ctx.dynamic_object() else {
        // The fleet is gone: so are its game servers (as the garbage collector would do).
        let sel = Selector::parse(&format!("{FLEET_LABEL}={}", ctx.name()))
            .map_err(|e| ReconcileError::terminal(e.to_string()))?;
        let params = ListParams {
            selector: Some(sel),
            ..Default::default()
        };
        for gs in servers.list(&params)?.0 {
            ignore_not_found(servers.delete(&gs.metadata.name, &DeleteParams::default()))?;
        }
        return Ok(Action::done());
    };
    if deleting(&fleet) {
        return Ok(Action::done());
    }
    let spec = fleet.spec();
    let replicas = int(spec, &["replicas"]).unwrap_or(0).max(0) as usize;
    let packed = at(spec, &["scheduling"]).and_then(Value::as_str) != Some("Distributed");
    let owned = ListParams {
        owner_uid: fleet.metadata.uid.clone(),
        ..Default::default()
    };
    let mut live = Vec::new();
    for gs in servers.list(&owned)?.0 {
        if deleting(&gs) {
            continue;
        }
        if matches!(state(&gs), UNHEALTHY | SHUTDOWN) {
            // Replaced below: a fresh server instead of one that crashed or finished.
            ignore_not_found(servers.delete(&gs.metadata.name, &DeleteParams::default()))?;
            let why = if state(&gs) == UNHEALTHY {
                "unhealthy"
            } else {
                "shut down"
            };
            ctx.event(
                &*fleet,
                EventKind::Normal,
                "Replacing",
                &format!("game server {} is {why}", gs.metadata.name),
            );
            continue;
        }
        live.push(gs);
    }

    let mut requeue = None;
    if live.len() < replicas {
        let mut occupancy = Occupancy::read(ctx.store())?;
        let template = at(spec, &["template"]).cloned().unwrap_or(json!({}));
        let mut labels = at(Some(&template), &["metadata", "labels"])
            .cloned()
            .unwrap_or(json!({}));
        labels[FLEET_LABEL] = json!(ctx.name());
        for _ in live.len()..replicas {
            let Some(node) = occupancy.place(packed) else {
                ctx.event(
                    &*fleet,
                    EventKind::Warning,
                    "NoCapacity",
                    "no Ready node has room for another game server",
                );
                requeue = Some(Action::requeue(Duration::from_secs(1)));
                break;
            };
            let mut gs_spec = at(Some(&template), &["spec"]).cloned().unwrap_or(json!({}));
            gs_spec["nodeName"] = json!(node);
            let created = servers.create(json!({
                "apiVersion": API_VERSION,
                "kind": "GameServer",
                "metadata": {
                    "generateName": format!("{}-", ctx.name()),
                    "labels": labels,
                    "ownerReferences": [owner_reference(&*fleet, true)],
                },
                "spec": gs_spec,
            }))?;
            occupancy
                .used
                .entry(node)
                .or_default()
                .insert(created.metadata.name.clone());
        }
    } else if live.len() > replicas {
        // Scale down: never an Allocated server; not-yet-Ready ones first, then Ready ones
        // on the emptiest nodes (Packed keeps nodes full), newest first.
        let occupancy = Occupancy::read(ctx.store())?;
        let mut victims: Vec<&Arc<DynamicObject>> =
            live.iter().filter(|g| state(g) != ALLOCATED).collect();
        victims.sort_by_key(|g| {
            (
                state(g) == READY,
                occupancy.count(node_of(g)),
                Reverse(g.metadata.creation_timestamp),
            )
        });
        for gs in victims.into_iter().take(live.len() - replicas) {
            // Only if still as read: a server allocated meanwhile must not go. A lost race
            // changed the server, which brings this fleet back here.
            let unchanged = DeleteParams {
                resource_version: gs.metadata.resource_version.clone(),
                ..Default::default()
            };
            match servers.delete(&gs.metadata.name, &unchanged) {
                Ok(_) => {}
                Err(e) if e.is_conflict() || e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    let count = |s: &str| live.iter().filter(|g| state(g) == s).count();
    let status = json!({
        "replicas": live.len(),
        "readyReplicas": count(READY),
        "allocatedReplicas": count(ALLOCATED),
        "reservedReplicas": 0,
    });
    if fleet.status() != Some(&status) {
        ctx.primary()?
            .patch(ctx.name(), &json!({ "status": status }), true)?;
    }
    Ok(requeue.unwrap_or(Action::done()))
}

// ---------------------------------------------------------------------------------------
// GameServer controller
// ---------------------------------------------------------------------------------------

fn reconcile_gameserver(ctx: &Context) -> ReconcileResult {
    let Some(gs) = ctx.object() else {
        return Ok(Action::done());
    };
    let outcome = finalizer(ctx.store(), POD_FINALIZER, gs, |event| match event {
        FinalizerEvent::Apply(o) => match as_dynamic(o) {
            Some(gs) => sync_gameserver(ctx, gs),
            None => Ok(Action::done()),
        },
        FinalizerEvent::Cleanup(_) => {
            ignore_not_found(
                ctx.api::<Pod>()
                    .delete(ctx.name(), &DeleteParams::default()),
            )?;
            Ok(Action::done())
        }
    })?;
    Ok(outcome.into_value().unwrap_or(Action::done()))
}

/// The pod of a game server: its template, on its node, with a heartbeat liveness probe and
/// no restarts (a crashed game server is replaced, not restarted).
fn pod_for(gs: &DynamicObject) -> Result<Pod, ReconcileError> {
    let spec = gs.spec();
    let mut pod_spec = at(spec, &["template", "spec"])
        .cloned()
        .unwrap_or(json!({}));
    let health = at(spec, &["health"]);
    let probe = json!({
        "heartbeat": {},
        "periodSeconds": int(health, &["periodSeconds"]).unwrap_or(5),
        "failureThreshold": int(health, &["failureThreshold"]).unwrap_or(3),
    });
    if let Some(cs) = pod_spec["containers"].as_array_mut() {
        for c in cs {
            c["livenessProbe"] = probe.clone();
        }
    }
    pod_spec["nodeName"] = json!(node_of(gs));
    pod_spec["restartPolicy"] = json!("Never");
    pod_spec["terminationGracePeriodSeconds"] = json!(5);
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": gs.metadata.name,
            "labels": gs.metadata.labels,
            "ownerReferences": [owner_reference(gs, true)],
        },
        "spec": pod_spec,
    }))
    .map_err(|e| ReconcileError::terminal(format!("spec.template: {e}")))
}

/// The state the pod says the game server is in, and why.
fn state_from_pod(current: &str, pod: &Pod) -> (String, Option<String>) {
    if matches!(current, UNHEALTHY | SHUTDOWN) {
        return (current.into(), None);
    }
    let status = pod.status.as_ref();
    let terminated = status
        .and_then(|s| s.container_statuses.first())
        .and_then(|c| c.state.as_ref()?.terminated.clone());
    let why = terminated.map(|t| match (t.reason, t.message) {
        (Some(r), Some(m)) if !m.is_empty() => format!("{r}: {m}"),
        (r, m) => r.or(m).unwrap_or_default(),
    });
    match status.and_then(|s| s.phase.as_deref()) {
        Some("Failed") => return (UNHEALTHY.into(), why),
        Some("Succeeded") => return (SHUTDOWN.into(), why),
        _ => {}
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return (UNHEALTHY.into(), Some("its pod is being deleted".into()));
    }
    let ready = status.is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    });
    // The worker's `ready()` is Agones' SDK.Ready() (RequestReady): the pod turns Ready.
    match current {
        "" | SCHEDULED if ready => (READY.into(), None),
        "" => (SCHEDULED.into(), None),
        other => (other.into(), None),
    }
}

fn sync_gameserver(ctx: &Context, gs: &DynamicObject) -> ReconcileResult {
    let pods = ctx.api::<Pod>();
    let current = state(gs);
    let (next, reason) = match pods.get_opt(ctx.name())? {
        None if current.is_empty() => {
            pods.create(pod_for(gs)?)?;
            (SCHEDULED.to_string(), None)
        }
        None if matches!(current, UNHEALTHY | SHUTDOWN) => return Ok(Action::done()),
        None => (UNHEALTHY.to_string(), Some("its pod is gone".to_string())),
        Some(pod) => state_from_pod(current, &pod),
    };
    if next == current {
        return Ok(Action::done());
    }
    let mut status = gs.status().cloned().unwrap_or(json!({}));
    status["state"] = json!(next);
    status["nodeName"] = json!(node_of(gs));
    if let Some(r) = &reason {
        status["reason"] = json!(r);
    }
    // Compare-and-swap on the version read: an allocation that committed meanwhile wins,
    // and this reconcile runs again on the new state (never Allocated -> Ready).
    let next_obj = with_status(gs, status);
    ctx.primary()?
        .update_status(serde_json::to_value(&next_obj).map_err(ReconcileError::retry)?)?;
    let kind = if next == UNHEALTHY {
        EventKind::Warning
    } else {
        EventKind::Normal
    };
    ctx.event(gs, kind, &next, reason.as_deref().unwrap_or(&next));
    Ok(Action::done())
}

// ---------------------------------------------------------------------------------------
// GameServerAllocation controller
// ---------------------------------------------------------------------------------------

/// Decides the GameServerAllocation `namespace/name`, unless someone already did, and returns
/// it as decided. The GameServerAllocation controller calls it; so may anyone else at the
/// same time (Agones allocates synchronously in its API server): the compare-and-swap
/// transaction lets exactly one decision stand, for the allocation and for the server.
pub fn allocate(
    store: &Store,
    namespace: &str,
    name: &str,
    conflicts: &AtomicUsize,
) -> Result<Arc<DynamicObject>, ReconcileError> {
    let allocations =
        steady::client::DynamicApi::new(store.clone(), API_VERSION, "GameServerAllocation")?
            .namespace(namespace);
    let servers = steady::client::DynamicApi::new(store.clone(), API_VERSION, "GameServer")?
        .namespace(namespace);
    for _ in 0..32 {
        let alloc = allocations.get(name)?;
        if !state(&alloc).is_empty() || deleting(&alloc) {
            return Ok(alloc);
        }
        let selectors = selectors(&alloc).map_err(ReconcileError::terminal)?;
        let packed =
            at(alloc.spec(), &["scheduling"]).and_then(Value::as_str) != Some("Distributed");
        let all = servers.list(&ListParams::default())?.0;
        let mut allocated: HashMap<&str, i64> = HashMap::new();
        for g in all.iter().filter(|g| state(g) == ALLOCATED) {
            *allocated.entry(node_of(g)).or_default() += 1;
        }
        // The first selector that matches a Ready server decides; among its matches, Packed
        // prefers the node with the most Allocated servers, Distributed the fewest (ties:
        // by node, then server name, so racing allocators all reach for the same server).
        let pick = selectors.iter().find_map(|sel| {
            let ready = all
                .iter()
                .filter(|g| state(g) == READY && !deleting(g) && sel.matches(&g.metadata.labels));
            ready.max_by_key(|g| {
                let n = allocated.get(node_of(g)).copied().unwrap_or(0);
                (
                    if packed { n } else { -n },
                    Reverse(node_of(g).to_string()),
                    Reverse(g.metadata.name.clone()),
                )
            })
        });
        let txn = match pick {
            None => vec![TxnOp::UpdateStatus(Arc::new(with_status(
                &alloc,
                json!({"state": UNALLOCATED}),
            )))],
            Some(gs) => {
                let mut gs_status = gs.status().cloned().unwrap_or(json!({}));
                gs_status["state"] = json!(ALLOCATED);
                gs_status["allocation"] = json!(name);
                let alloc_status = json!({
                    "state": ALLOCATED,
                    "gameServerName": gs.metadata.name,
                    "nodeName": node_of(gs),
                });
                // Both writes commit together, each only if its object is still at the
                // version read: a server taken (or an allocation decided) meanwhile fails
                // the whole transaction.
                vec![
                    TxnOp::UpdateStatus(Arc::new(with_status(gs, gs_status))),
                    TxnOp::UpdateStatus(Arc::new(with_status(&alloc, alloc_status))),
                ]
            }
        };
        match store.transaction(txn) {
            Ok(_) => return Ok(allocations.get(name)?),
            // Lost a race: read everything again.
            Err(e) if e.is_conflict() => {
                conflicts.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ReconcileError::retry("still contended after 32 attempts"))
}

fn reconcile_allocation(ctx: &Context, conflicts: &AtomicUsize) -> ReconcileResult {
    if ctx.dynamic_object().is_none() {
        return Ok(Action::done());
    }
    let ns = ctx.namespace().unwrap_or("default");
    let alloc = allocate(ctx.store(), ns, ctx.name(), conflicts)?;
    if state(&alloc) == UNALLOCATED {
        ctx.event(
            &*alloc,
            EventKind::Warning,
            UNALLOCATED,
            "no Ready game server matches",
        );
    }
    Ok(Action::done())
}

// ---------------------------------------------------------------------------------------
// FleetAutoscaler controller
// ---------------------------------------------------------------------------------------

/// Replicas a Buffer policy wants for `allocated` allocated servers, before clamping.
fn buffer_target(allocated: i64, buffer: BufferSize) -> i64 {
    match buffer {
        BufferSize::Count(n) => allocated + n,
        // Agones: the buffer is that share of the total: allocated / (1 - p), rounded up.
        BufferSize::Percent(p) => (allocated * 100 + (100 - p) - 1) / (100 - p),
    }
}

/// Replicas a Buffer policy wants for `allocated` allocated servers.
fn buffered(allocated: i64, buffer: BufferSize, min: i64, max: i64) -> i64 {
    buffer_target(allocated, buffer).clamp(min, max)
}

fn reconcile_autoscaler(ctx: &Context) -> ReconcileResult {
    let Some(fa) = ctx.dynamic_object() else {
        return Ok(Action::done());
    };
    let spec = fa.spec();
    let fleet_name = at(spec, &["fleetName"])
        .and_then(Value::as_str)
        .unwrap_or("");
    let fleets = ctx.dynamic(API_VERSION, "Fleet")?;
    let fleet = match fleets.get(fleet_name) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => {
            ctx.primary()?
                .patch(ctx.name(), &json!({"status": {"ableToScale": false}}), true)?;
            return Ok(Action::done());
        }
        Err(e) => return Err(e.into()),
    };
    let buffer = at(spec, &["policy", "buffer"]);
    let size = buffer_size(at(buffer, &["bufferSize"])).map_err(ReconcileError::terminal)?;
    let min = int(buffer, &["minReplicas"]).unwrap_or(0);
    let max = int(buffer, &["maxReplicas"]).unwrap_or(i64::MAX);
    let allocated = int(fleet.status(), &["allocatedReplicas"]).unwrap_or(0);
    let want = buffer_target(allocated, size);
    let desired = want.clamp(min, max);
    let current = int(fleet.spec(), &["replicas"]).unwrap_or(0);
    if current != desired {
        fleets.patch(fleet_name, &json!({"spec": {"replicas": desired}}), false)?;
        ctx.event(
            &*fa,
            EventKind::Normal,
            "AutoScalingFleet",
            &format!(
                "scaling fleet {fleet_name} from {current} to {desired} ({allocated} allocated)"
            ),
        );
    }
    let status = json!({
        "ableToScale": true,
        "currentReplicas": current,
        "desiredReplicas": desired,
        "scalingLimited": want != desired,
    });
    if fa.status() != Some(&status) {
        ctx.primary()?
            .patch(ctx.name(), &json!({ "status": status }), true)?;
    }
    Ok(Action::done())
}

// ---------------------------------------------------------------------------------------
// The game server: an in-process worker
// ---------------------------------------------------------------------------------------

/// Random crashes and match lengths of the churn phase.
#[derive(Debug, Default)]
struct Chaos {
    enabled: AtomicBool,
    /// Expected crashes per second of each game server while enabled.
    crash_rate: f64,
    /// Matches last this long (engine time) while enabled; otherwise until `shutdown`.
    match_length: (Duration, Duration),
    seed: u64,
}

/// A small xorshift generator: the example needs no randomness crate.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A float in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// The game server process: ready at once, heartbeats while healthy, plays a match once
/// allocated, obeys commands.
struct GameServerWorker {
    store: Store,
    clock: SharedClock,
    chaos: Arc<Chaos>,
}

impl Worker for GameServerWorker {
    fn run(&self, ctx: &WorkerContext) -> Result<(), String> {
        let name = ctx.pod_name().to_string();
        let mut rng = Rng::new(self.chaos.seed ^ hash(&name));
        ctx.log("game server up");
        ctx.ready();
        let mut hung = false;
        let mut match_end: Option<Duration> = None;
        let mut last = self.clock.monotonic();
        loop {
            if ctx.wait_stop(Duration::from_millis(5)) {
                // As a process getting SIGTERM: stopped mid-life is not a clean exit.
                return Err("terminated".into());
            }
            let now = self.clock.monotonic();
            let elapsed = now.saturating_sub(last);
            last = now;
            let gs = self
                .store
                .get("GameServer", Some(ctx.namespace()), &name)
                .ok();
            let Some(gs) = gs.as_ref().and_then(as_dynamic) else {
                ctx.heartbeat();
                continue;
            };
            let command = gs.metadata.annotations.get(COMMAND).map(String::as_str);
            match command {
                Some("crash") => panic!("game server {name} crashed (on command)"),
                Some("hang") if !hung => {
                    ctx.log("hanging: no more heartbeats");
                    hung = true;
                }
                _ => {}
            }
            if !hung {
                ctx.heartbeat();
            }
            let chaos = self.chaos.enabled.load(Ordering::Relaxed);
            if chaos && rng.unit() < self.chaos.crash_rate * elapsed.as_secs_f64() {
                panic!("game server {name} crashed (at random)");
            }
            if state(gs) != ALLOCATED {
                continue;
            }
            let end = *match_end.get_or_insert_with(|| {
                ctx.log("allocated: match started");
                let (lo, hi) = self.chaos.match_length;
                now + lo + (hi.saturating_sub(lo)).mul_f64(rng.unit())
            });
            if command == Some("shutdown") || (chaos && now >= end) {
                ctx.log("match over: shutting down");
                return Ok(());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------

/// Where the scenario's output goes.
pub type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// What [`run`] does.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Only the scripted phases (a few seconds); otherwise half a minute of churn follows.
    pub short: bool,
    /// Drive the engine on this manual clock (tests); `None`: real time.
    pub clock: Option<Arc<ManualClock>>,
    /// Seed of the random crashes and match lengths.
    pub seed: u64,
}

impl Scenario {
    /// The scripted phases only.
    pub fn short() -> Self {
        Scenario {
            short: true,
            clock: None,
            seed: 7,
        }
    }

    /// The scripted phases, then churn.
    pub fn full() -> Self {
        Scenario {
            short: false,
            ..Self::short()
        }
    }

    /// The same on a manual clock the scenario advances itself.
    pub fn on_manual_clock(mut self) -> Self {
        self.clock = Some(Arc::new(ManualClock::default()));
        self
    }
}

/// One allocation's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// The GameServerAllocation.
    pub name: String,
    /// Allocated or UnAllocated.
    pub state: String,
    /// The game server it got.
    pub game_server: String,
    /// Its node.
    pub node: String,
}

/// The Packed preference, checked on one allocation made with servers Ready on several
/// nodes.
#[derive(Clone, Debug, Default)]
pub struct PackedCheck {
    /// Allocated servers per node just before.
    pub allocated_before: BTreeMap<String, i64>,
    /// Nodes that had a Ready server just before.
    pub ready_nodes: BTreeSet<String>,
    /// The allocation.
    pub allocation: Option<Allocation>,
}

impl PackedCheck {
    /// The chosen node had the most Allocated servers among the nodes with a Ready one.
    pub fn holds(&self) -> bool {
        let count = |n: &str| self.allocated_before.get(n).copied().unwrap_or(0);
        let best = self.ready_nodes.iter().map(|n| count(n)).max();
        match &self.allocation {
            Some(a) if a.state == ALLOCATED => Some(count(&a.node)) == best,
            _ => false,
        }
    }
}

/// A game server made to fail, and what became of it.
#[derive(Clone, Debug, Default)]
pub struct Failure {
    /// The server.
    pub victim: String,
    /// Why it was marked Unhealthy (`status.reason`).
    pub reason: String,
    /// It is gone and the fleet is back to full strength.
    pub replaced: bool,
}

/// The fleet as last observed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FleetCounts {
    /// `spec.replicas`.
    pub replicas: i64,
    /// Ready servers.
    pub ready: i64,
    /// Allocated servers.
    pub allocated: i64,
}

/// What happened, for the summary and the test.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Two allocations made at the same time.
    pub concurrent: Vec<Allocation>,
    /// One allocation checked for the Packed preference.
    pub packed: PackedCheck,
    /// A server that panicked.
    pub crashed: Failure,
    /// A server that stopped its heartbeats.
    pub hung: Failure,
    /// Five allocations racing for three Ready servers.
    pub contended: Vec<Allocation>,
    /// Servers still Allocated from earlier allocations when the race began.
    pub allocated_before_race: BTreeSet<String>,
    /// Allocation attempts that lost a compare-and-swap and picked again.
    pub conflicts: usize,
    /// Allocations made during the churn phase (full scenario only).
    pub churn_allocations: usize,
    /// The fleet at the end, after every match ended.
    pub end: FleetCounts,
}

impl Outcome {
    /// Every expectation that did not hold, in words (empty: all held).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let granted = |v: &[Allocation]| -> Vec<String> {
            v.iter()
                .filter(|a| a.state == ALLOCATED)
                .map(|a| a.game_server.clone())
                .collect()
        };
        let distinct = |v: &[String]| v.iter().collect::<HashSet<_>>().len() == v.len();
        let both = granted(&self.concurrent);
        if both.len() != 2 || !distinct(&both) {
            p.push(format!(
                "two concurrent allocations should get two servers: {:?}",
                self.concurrent
            ));
        }
        if !self.packed.holds() {
            p.push(format!(
                "the Packed preference was not kept: {:?}",
                self.packed
            ));
        }
        for (what, f, cause) in [
            ("crashed", &self.crashed, "Panicked"),
            ("hung", &self.hung, "liveness"),
        ] {
            if !f.replaced || !f.reason.contains(cause) {
                p.push(format!(
                    "the {what} server should be Unhealthy ({cause}) and replaced: {f:?}"
                ));
            }
        }
        let raced = granted(&self.contended);
        if raced.is_empty()
            || !distinct(&raced)
            || raced.iter().any(|g| self.allocated_before_race.contains(g))
        {
            p.push(format!(
                "racing allocations must each get a different free server: {:?}",
                self.contended
            ));
        }
        let want = buffered(0, BufferSize::Count(BUFFER), MIN_REPLICAS, MAX_REPLICAS);
        let end = FleetCounts {
            replicas: want,
            ready: want,
            allocated: 0,
        };
        if self.end != end {
            p.push(format!(
                "the fleet should end at {end:?} (the buffer), not {:?}",
                self.end
            ));
        }
        p
    }
}

/// How the scenario waits: real time, or steps of a manual clock.
struct Pace {
    clock: Option<Arc<ManualClock>>,
}

impl Pace {
    /// Lets time pass a little: 10 ms of real time, or 20 ms of the manual clock and a
    /// moment (4 ms) for the engine's threads to act on it. A manual second thus takes at
    /// least 200 ms of real time, so a worker's heartbeats (every 5 ms of real time) cannot
    /// look three periods stale unless its thread starves for over half a second.
    fn step(&self) {
        match &self.clock {
            Some(c) => {
                c.advance(Duration::from_millis(20));
                std::thread::sleep(Duration::from_millis(4));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }

    /// Steps until `cond` holds; an error after a minute of real time.
    fn until(&self, what: &str, mut cond: impl FnMut() -> bool) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cond() {
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}"));
            }
            self.step();
        }
        Ok(())
    }
}

struct Game {
    engine: Engine,
    pace: Pace,
    say: Say,
    conflicts: Arc<AtomicUsize>,
    chaos: Arc<Chaos>,
    narrators: Vec<std::thread::JoinHandle<()>>,
}

impl Game {
    fn servers(&self) -> Vec<Arc<DynamicObject>> {
        self.engine
            .dynamic(API_VERSION, "GameServer")
            .expect("the kind is registered")
            .list(&ListParams::default())
            .map(|l| l.0)
            .unwrap_or_default()
    }

    fn fleet(&self) -> FleetCounts {
        let servers = self.servers();
        let count = |s: &str| {
            servers
                .iter()
                .filter(|g| state(g) == s && !deleting(g))
                .count() as i64
        };
        let replicas = self
            .engine
            .dynamic(API_VERSION, "Fleet")
            .expect("the kind is registered")
            .get("arena")
            .ok()
            .and_then(|f| int(f.spec(), &["replicas"]))
            .unwrap_or(-1);
        FleetCounts {
            replicas,
            ready: count(READY),
            allocated: count(ALLOCATED),
        }
    }

    /// Every server Ready or Allocated, as many as the fleet wants, and the fleet at the
    /// size its autoscaler wants.
    fn settled(&self) -> bool {
        let servers = self.servers();
        let f = self.fleet();
        servers
            .iter()
            .all(|g| matches!(state(g), READY | ALLOCATED) && !deleting(g))
            && servers.len() as i64 == f.replicas
            && f.replicas
                == buffered(
                    f.allocated,
                    BufferSize::Count(BUFFER),
                    MIN_REPLICAS,
                    MAX_REPLICAS,
                )
    }

    fn wait_settled(&self) -> Result<FleetCounts, String> {
        self.pace.until("the fleet to settle", || self.settled())?;
        let f = self.fleet();
        (self.say)(&format!(
            "   fleet settled: {} replicas, {} ready, {} allocated",
            f.replicas, f.ready, f.allocated
        ));
        Ok(f)
    }

    /// Creates allocations `names` at the same moment (one thread each), then waits for
    /// every one to be decided. With `direct`, each thread also allocates at once itself
    /// (as Agones' API server does), racing the controller and the other threads.
    fn allocate(&self, names: &[String], direct: bool) -> Result<Vec<Allocation>, String> {
        let api = self
            .engine
            .dynamic(API_VERSION, "GameServerAllocation")
            .map_err(|e| e.to_string())?;
        let barrier = Arc::new(Barrier::new(names.len()));
        let handles: Vec<_> = names
            .iter()
            .map(|n| {
                let (api, barrier, n) = (api.clone(), barrier.clone(), n.clone());
                let store = self.engine.store().clone();
                let conflicts = self.conflicts.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    api.create(json!({
                        "apiVersion": API_VERSION, "kind": "GameServerAllocation",
                        "metadata": {"name": n},
                        "spec": {"scheduling": "Packed",
                                 "selectors": [{"matchLabels": {"game": "arena"}}]},
                    }))
                    .map_err(|e| e.to_string())?;
                    if direct {
                        allocate(&store, "default", &n, &conflicts).map_err(|e| e.to_string())?;
                    }
                    Ok::<(), String>(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "an allocating thread panicked")??;
        }
        let decided = || {
            names
                .iter()
                .all(|n| api.get(n).is_ok_and(|a| !state(&a).is_empty()))
        };
        self.pace.until("the allocations to be decided", decided)?;
        Ok(names
            .iter()
            .filter_map(|n| api.get(n).ok())
            .map(|a| {
                let s = |f: &str| {
                    at(a.status(), &[f])
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                Allocation {
                    name: a.metadata.name.clone(),
                    state: s("state"),
                    game_server: s("gameServerName"),
                    node: s("nodeName"),
                }
            })
            .collect())
    }

    /// Commands `server` (an annotation its worker reads).
    fn command(&self, server: &str, command: &str) -> Result<(), String> {
        self.engine
            .dynamic(API_VERSION, "GameServer")
            .map_err(|e| e.to_string())?
            .patch(
                server,
                &json!({"metadata": {"annotations": {COMMAND: command}}}),
                false,
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Makes a Ready server fail by `command`, and waits for it to be marked Unhealthy and
    /// replaced.
    fn fail_one(&self, command: &str) -> Result<Failure, String> {
        let victim = self
            .servers()
            .into_iter()
            .filter(|g| state(g) == READY)
            .map(|g| g.metadata.name.clone())
            .min()
            .ok_or("no Ready server to fail")?;
        // Watched from before the command: the Unhealthy state is seen even though the fleet
        // deletes the server right after.
        let mut watch = self
            .engine
            .dynamic(API_VERSION, "GameServer")
            .map_err(|e| e.to_string())?
            .watch(&WatchParams {
                since: Some(self.engine.store().revision()),
                ..Default::default()
            })
            .map_err(|e| e.to_string())?;
        (self.say)(&format!("   telling {victim} to {command}"));
        self.command(&victim, command)?;
        let mut reason = None;
        let mut gone = false;
        self.pace.until(&format!("{victim} to be replaced"), || {
            while let Ok(Some(ev)) = watch.try_recv() {
                let Some(o) = ev.object() else { continue };
                let Some(g) = as_dynamic(o) else { continue };
                if g.metadata.name != victim {
                    continue;
                }
                if state(g) == UNHEALTHY && reason.is_none() {
                    reason = at(g.status(), &["reason"])
                        .and_then(Value::as_str)
                        .map(str::to_string);
                }
                gone |= matches!(ev, WatchEvent::Deleted(_));
            }
            gone && self.settled()
        })?;
        Ok(Failure {
            victim,
            reason: reason.unwrap_or_default(),
            replaced: true,
        })
    }
}

/// Prints the changes of the game kinds as they happen.
fn narrate(engine: &Engine, say: &Say, t0: Duration) -> Vec<std::thread::JoinHandle<()>> {
    let clock = engine.store().config().clock.clone();
    ["Fleet", "GameServer", "GameServerAllocation"]
        .into_iter()
        .filter_map(|kind| {
            let mut watch = engine
                .dynamic(API_VERSION, kind)
                .ok()?
                .watch(&WatchParams::default())
                .ok()?;
            let (say, clock) = (say.clone(), clock.clone());
            Some(std::thread::spawn(move || {
                let mut said: HashMap<String, String> = HashMap::new();
                while let Ok(ev) = watch.recv() {
                    let Some(o) = ev.object().and_then(|o| as_dynamic(o).cloned()) else {
                        continue;
                    };
                    let name = o.metadata.name.clone();
                    let line = match (kind, &ev) {
                        (_, WatchEvent::Deleted(_)) if kind == "GameServer" => {
                            said.remove(&name);
                            format!("game server {name}: deleted")
                        }
                        (_, WatchEvent::Deleted(_)) => continue,
                        ("Fleet", _) => format!(
                            "fleet {name}: replicas {}, ready {}, allocated {}",
                            int(o.spec(), &["replicas"]).unwrap_or(0),
                            int(o.status(), &["readyReplicas"]).unwrap_or(0),
                            int(o.status(), &["allocatedReplicas"]).unwrap_or(0)
                        ),
                        ("GameServer", _) if state(&o).is_empty() => continue,
                        ("GameServer", _) => {
                            let mut l =
                                format!("game server {name} on {}: {}", node_of(&o), state(&o));
                            if let Some(r) = at(o.status(), &["reason"]).and_then(Value::as_str) {
                                l.push_str(&format!(" ({r})"));
                            }
                            l
                        }
                        (_, _) if state(&o).is_empty() => continue,
                        _ => {
                            let gs = at(o.status(), &["gameServerName"]).and_then(Value::as_str);
                            match gs {
                                Some(gs) => format!(
                                    "allocation {name}: {gs} on {}",
                                    at(o.status(), &["nodeName"])
                                        .and_then(Value::as_str)
                                        .unwrap_or("")
                                ),
                                None => format!("allocation {name}: {}", state(&o)),
                            }
                        }
                    };
                    if said.get(&name) != Some(&line) {
                        let t = clock.monotonic().saturating_sub(t0).as_secs_f64();
                        say(&format!("[{t:7.2}s] {line}"));
                        said.insert(name, line);
                    }
                }
            }))
        })
        .collect()
}

/// Runs the scenario; `say` gets every line it prints. An error when something it waits
/// for does not happen within a minute.
pub fn run(scenario: &Scenario, say: Say) -> Result<Outcome, String> {
    let mut builder = Engine::builder().local_node(false).workers(4);
    for kind in [
        "Fleet",
        "GameServer",
        "GameServerAllocation",
        "FleetAutoscaler",
    ] {
        builder = builder.kind(KindInfo::dynamic(API_VERSION, kind, true));
    }
    if let Some(c) = &scenario.clock {
        builder = builder.clock(c.clone());
    }
    for i in 0..NODES {
        let node =
            NodeConfig::simulated(&format!("sim-{i}"), 4000, 8 << 30).max_pods(SERVERS_PER_NODE);
        builder = builder.node(node);
    }
    let engine = builder.build().map_err(|e| e.to_string())?;
    let store = engine.store().clone();
    let clock = store.config().clock.clone();
    let chaos = Arc::new(Chaos {
        enabled: AtomicBool::new(false),
        crash_rate: 1.0 / 15.0,
        match_length: (Duration::from_secs(2), Duration::from_secs(6)),
        seed: scenario.seed,
    });
    add_admission(&store);
    engine.register_worker(
        IMAGE,
        GameServerWorker {
            store: store.clone(),
            clock: clock.clone(),
            chaos: chaos.clone(),
        },
    );
    let conflicts = Arc::new(AtomicUsize::new(0));
    let c = conflicts.clone();
    let autoscaler_store = store.clone();
    let controllers = [
        Controller::new("fleet", API_VERSION, "Fleet")
            .owns("GameServer")
            .build(reconcile_fleet),
        Controller::new("gameserver", API_VERSION, "GameServer")
            .owns("Pod")
            .build(reconcile_gameserver),
        Controller::new("gameserverallocation", API_VERSION, "GameServerAllocation")
            .concurrency(4)
            .build(move |ctx: &Context| reconcile_allocation(ctx, &c)),
        Controller::new("fleetautoscaler", API_VERSION, "FleetAutoscaler")
            .watches("Fleet", move |fleet: &dyn Object| {
                // The autoscalers of this fleet.
                let params = ListParams {
                    namespace: fleet.meta().namespace.clone(),
                    ..Default::default()
                };
                let Ok(list) = autoscaler_store.list("FleetAutoscaler", &params) else {
                    return Vec::new();
                };
                list.items
                    .iter()
                    .filter(|fa| {
                        as_dynamic(fa).and_then(|d| at(d.spec(), &["fleetName"])?.as_str())
                            == Some(fleet.meta().name.as_str())
                    })
                    .map(|fa| ObjectKey::of(fa.as_ref()))
                    .collect()
            })
            .build(reconcile_autoscaler),
    ];
    for c in controllers {
        engine.add_controller(c).map_err(|e| e.to_string())?;
    }
    let pace = Pace {
        clock: scenario.clock.clone(),
    };
    let t0 = clock.monotonic();
    let narrators = narrate(&engine, &say, t0);
    let game = Game {
        engine,
        pace,
        say: say.clone(),
        conflicts,
        chaos,
        narrators,
    };
    let outcome = play(&game, scenario);
    game.chaos.enabled.store(false, Ordering::Relaxed);
    game.engine.shutdown();
    for n in game.narrators {
        let _ = n.join();
    }
    outcome
}

fn play(game: &Game, scenario: &Scenario) -> Result<Outcome, String> {
    let say = &game.say;
    let mut out = Outcome::default();
    let nodes = steady::client::Api::<Node>::all(game.engine.store().clone());
    game.pace.until("the nodes to be Ready", || {
        nodes
            .list(&ListParams::default())
            .is_ok_and(|l| l.items.len() == NODES)
    })?;

    say("== 1. a fleet of 3 game servers and a buffer autoscaler (3 spare, 3..9)");
    // Bad input is refused with the field named.
    let bad = game.engine.apply(
        "apiVersion: games.example.com/v1\nkind: FleetAutoscaler\nmetadata: {name: bad}\n\
         spec: {fleetName: arena, policy: {type: Buffer, buffer: {bufferSize: \"150%\", maxReplicas: 5}}}\n",
    );
    if let Err(e) = bad {
        say(&format!("   (a bad autoscaler is refused: {e})"));
    }
    game.engine.apply(MANIFEST).map_err(|e| e.to_string())?;
    game.wait_settled()?;

    say("== 2. two allocations at the same moment");
    out.concurrent = game.allocate(&["match-1".into(), "match-2".into()], false)?;
    game.wait_settled()?;

    say("== 3. one allocation: Packed prefers the node with the most allocated servers");
    let servers = game.servers();
    for g in &servers {
        match state(g) {
            ALLOCATED => {
                *out.packed
                    .allocated_before
                    .entry(node_of(g).into())
                    .or_default() += 1
            }
            READY => {
                out.packed.ready_nodes.insert(node_of(g).into());
            }
            _ => {}
        }
    }
    say(&format!(
        "   allocated per node {:?}; Ready servers on {:?}",
        out.packed.allocated_before, out.packed.ready_nodes
    ));
    out.packed.allocation = game.allocate(&["match-3".into()], false)?.pop();
    game.wait_settled()?;

    say("== 4. a game server crashes (panics): Unhealthy, replaced");
    out.crashed = game.fail_one("crash")?;
    game.wait_settled()?;

    say("== 5. a game server hangs (no heartbeats): the liveness probe fails, replaced");
    out.hung = game.fail_one("hang")?;
    game.wait_settled()?;

    say("== 6. five allocations race for the Ready servers (each also allocated directly)");
    out.allocated_before_race = game
        .servers()
        .iter()
        .filter(|g| state(g) == ALLOCATED)
        .map(|g| g.metadata.name.clone())
        .collect();
    let names: Vec<String> = (4..9).map(|i| format!("match-{i}")).collect();
    out.contended = game.allocate(&names, true)?;
    game.wait_settled()?;

    if !scenario.short {
        say("== 7. churn: allocations keep coming, matches end, servers crash at random");
        game.chaos.enabled.store(true, Ordering::Relaxed);
        let mut rng = Rng::new(scenario.seed);
        let until = Instant::now() + Duration::from_secs(30);
        let mut n = 100;
        while Instant::now() < until {
            if rng.unit() < 0.25 {
                n += 1;
                let got = game.allocate(&[format!("match-{n}")], false)?;
                out.churn_allocations += got.iter().filter(|a| a.state == ALLOCATED).count();
            }
            for _ in 0..20 {
                game.pace.step();
            }
        }
        game.chaos.enabled.store(false, Ordering::Relaxed);
    }

    say("== the matches end: servers shut down, the autoscaler shrinks the fleet to its buffer");
    for g in game.servers() {
        if state(&g) == ALLOCATED {
            game.command(&g.metadata.name, "shutdown")?;
        }
    }
    game.pace
        .until("every match to end", || game.fleet().allocated == 0)?;
    out.end = game.wait_settled()?;
    out.conflicts = game.conflicts.load(Ordering::Relaxed);
    Ok(out)
}

fn main() {
    let short = std::env::args().any(|a| a == "--short")
        || std::env::var("STEADY_SHORT").is_ok_and(|v| v == "1");
    let scenario = if short {
        Scenario::short()
    } else {
        Scenario::full()
    };
    let say: Say = Arc::new(|line: &str| println!("{line}"));
    // Crashes are part of the show: one line each instead of the default panic report.
    std::panic::set_hook(Box::new(|info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("?");
        eprintln!("   (panic: {msg})");
    }));
    match run(&scenario, say) {
        Ok(outcome) => {
            println!(
                "== done: {} allocation conflicts resolved by compare-and-swap{}",
                outcome.conflicts,
                if short {
                    String::new()
                } else {
                    format!(", {} allocations during churn", outcome.churn_allocations)
                }
            );
            let problems = outcome.problems();
            for p in &problems {
                println!("PROBLEM: {p}");
            }
            std::process::exit(i32::from(!problems.is_empty()));
        }
        Err(e) => {
            eprintln!("game_fleet: {e}");
            std::process::exit(1);
        }
    }
}
