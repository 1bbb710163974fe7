//! The status `steady run` shows, built from watch events of every kind.
//!
//! [`Status`] keeps one row per workload (any object with `spec.replicas`, plus the built-in
//! workload kinds), pod, node and custom object with a state, and the latest Events. Each
//! change fed to [`Status::apply`] returns the line `--output lines` prints for it, if it
//! changed what is shown; [`Status::render`] draws the whole table for the live view. The
//! model reads objects as JSON only, so it works with any kind, built-in or custom.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;
use steady::api::Time;

/// How many Events the view keeps.
const EVENTS_KEPT: usize = 8;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Created (or first seen).
    Added,
    /// Changed.
    Modified,
    /// Deleted.
    Deleted,
}

/// (kind, namespace, name).
type Key = (String, String, String);

#[derive(Clone, Debug, PartialEq)]
struct WorkloadRow {
    desired: String,
    ready: String,
    available: String,
    status: String,
}

#[derive(Clone, Debug, PartialEq)]
struct PodRow {
    status: String,
    ready: String,
    restarts: i64,
    node: String,
    created: Option<Time>,
}

#[derive(Clone, Debug, PartialEq)]
struct ObjectRow {
    state: String,
    created: Option<Time>,
}

#[derive(Clone, Debug, PartialEq)]
struct EventRow {
    /// The Event object's own key (repeats update it in place).
    key: Key,
    type_: String,
    reason: String,
    object: String,
    message: String,
    count: i64,
    time: Option<Time>,
}

/// The status view's model. See the [module documentation](self).
#[derive(Debug)]
pub struct Status {
    builtin: HashSet<String>,
    workloads: BTreeMap<Key, WorkloadRow>,
    pods: BTreeMap<Key, PodRow>,
    nodes: BTreeMap<String, String>,
    objects: BTreeMap<Key, ObjectRow>,
    /// Newest first.
    events: VecDeque<EventRow>,
    /// What the last line said about each object (`--output lines` prints changes only).
    said: HashMap<Key, String>,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            builtin: steady::api::builtin_kinds()
                .into_iter()
                .map(|k| k.kind)
                .collect(),
            workloads: BTreeMap::new(),
            pods: BTreeMap::new(),
            nodes: BTreeMap::new(),
            objects: BTreeMap::new(),
            events: VecDeque::new(),
            said: HashMap::new(),
        }
    }
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

fn int(v: &Value, path: &[&str]) -> Option<i64> {
    at(v, path).and_then(Value::as_i64)
}

fn time(v: &Value, path: &[&str]) -> Option<Time> {
    text(v, path).and_then(|t| t.parse().ok())
}

fn key_of(kind: &str, v: &Value) -> Key {
    (
        kind.to_string(),
        text(v, &["metadata", "namespace"])
            .unwrap_or("")
            .to_string(),
        text(v, &["metadata", "name"]).unwrap_or("").to_string(),
    )
}

/// `namespace/name`, or `name` for cluster-scoped objects.
fn name_of(k: &Key) -> String {
    if k.1.is_empty() {
        k.2.clone()
    } else {
        format!("{}/{}", k.1, k.2)
    }
}

/// The condition `type_`'s (status, reason).
fn condition<'a>(v: &'a Value, type_: &str) -> Option<(&'a str, &'a str)> {
    at(v, &["status", "conditions"])?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
        .map(|c| {
            (
                c.get("status").and_then(Value::as_str).unwrap_or(""),
                c.get("reason").and_then(Value::as_str).unwrap_or(""),
            )
        })
}

const WORKLOAD_KINDS: [&str; 5] = [
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
];

fn is_workload(kind: &str, v: &Value) -> bool {
    WORKLOAD_KINDS.contains(&kind) || at(v, &["spec", "replicas"]).is_some_and(Value::is_i64)
}

fn workload_row(kind: &str, v: &Value, builtin: bool) -> WorkloadRow {
    let n = |path: &[&str]| int(v, path).map_or("0".to_string(), |n| n.to_string());
    match kind {
        "DaemonSet" => WorkloadRow {
            desired: n(&["status", "desiredNumberScheduled"]),
            ready: n(&["status", "numberReady"]),
            available: n(&["status", "numberAvailable"]),
            status: String::new(),
        },
        "Job" => {
            let status = match (condition(v, "Complete"), condition(v, "Failed")) {
                (Some(("True", _)), _) => "Complete".to_string(),
                (_, Some(("True", reason))) => format!("Failed {reason}").trim().to_string(),
                _ => format!(
                    "active {} succeeded {}",
                    n(&["status", "active"]),
                    n(&["status", "succeeded"])
                ),
            };
            WorkloadRow {
                desired: int(v, &["spec", "completions"]).unwrap_or(1).to_string(),
                ready: n(&["status", "ready"]),
                available: "-".into(),
                status,
            }
        }
        _ => {
            // Custom kinds may not count available replicas: say so rather than show 0.
            let available = match int(v, &["status", "availableReplicas"]) {
                Some(a) => a.to_string(),
                None if builtin => "0".into(),
                None => "-".into(),
            };
            let status = match (condition(v, "ReplicaFailure"), condition(v, "Progressing")) {
                (Some(("True", reason)), _) => reason.to_string(),
                (_, Some(("False", reason))) => reason.to_string(),
                _ => String::new(),
            };
            WorkloadRow {
                desired: int(v, &["spec", "replicas"]).unwrap_or(1).to_string(),
                ready: n(&["status", "readyReplicas"]),
                available,
                status,
            }
        }
    }
}

fn pod_row(v: &Value) -> PodRow {
    let statuses = at(v, &["status", "containerStatuses"])
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let containers = at(v, &["spec", "containers"])
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = statuses
        .iter()
        .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
        .count();
    let restarts = statuses
        .iter()
        .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
        .sum();
    let phase = text(v, &["status", "phase"]).unwrap_or("Pending");
    // As kubectl shows it: the pod's reason, then a container's waiting reason, then a
    // terminated container's reason while the pod still runs, then the phase.
    let waiting = statuses
        .iter()
        .find_map(|c| text(c, &["state", "waiting", "reason"]));
    let terminated = statuses
        .iter()
        .find_map(|c| text(c, &["state", "terminated", "reason"]))
        .filter(|_| phase == "Running");
    let status = if at(v, &["metadata", "deletionTimestamp"]).is_some() {
        "Terminating"
    } else {
        text(v, &["status", "reason"])
            .or(waiting)
            .or(terminated)
            .unwrap_or(phase)
    };
    PodRow {
        status: status.to_string(),
        ready: format!("{ready}/{containers}"),
        restarts,
        node: text(v, &["spec", "nodeName"])
            .unwrap_or("<none>")
            .to_string(),
        created: time(v, &["metadata", "creationTimestamp"]),
    }
}

fn node_state(v: &Value) -> String {
    let mut s = match condition(v, "Ready") {
        Some(("True", _)) => "Ready",
        Some(("False", _)) => "NotReady",
        _ => "Unknown",
    }
    .to_string();
    if at(v, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        s.push_str(",SchedulingDisabled");
    }
    s
}

/// A custom object's state: `status.state` or `status.phase`.
fn object_state(v: &Value) -> Option<String> {
    let s = at(v, &["status", "state"]).or_else(|| at(v, &["status", "phase"]))?;
    Some(match s {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn event_row(key: Key, v: &Value) -> EventRow {
    let io = |f: &str| text(v, &["involvedObject", f]).unwrap_or("");
    let object = match (io("kind"), io("name")) {
        ("", "") => "-".to_string(),
        (k, n) => format!("{}/{}", k.to_ascii_lowercase(), n),
    };
    EventRow {
        key,
        type_: text(v, &["type"]).unwrap_or("Normal").to_string(),
        reason: text(v, &["reason"]).unwrap_or("").to_string(),
        object,
        message: text(v, &["message"]).unwrap_or("").replace('\n', " "),
        count: int(v, &["count"]).unwrap_or(1),
        time: time(v, &["lastTimestamp"])
            .or_else(|| time(v, &["eventTime"]))
            .or_else(|| time(v, &["firstTimestamp"]))
            .or_else(|| time(v, &["metadata", "creationTimestamp"])),
    }
}

/// `12s`, `3m4s`, `42m`, `5h`, `3d`, as kubectl writes ages.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s}s"),
        120..600 => format!("{}m{}s", s / 60, s % 60),
        600..7200 => format!("{}m", s / 60),
        7200..172_800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn age_at(now: Time, t: Option<Time>) -> String {
    t.map_or("-".into(), |t| age(now.saturating_duration_since(t)))
}

impl Status {
    /// An empty status.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one watch event for an object of `kind` (its JSON). Returns the line
    /// `--output lines` prints for it (without a time stamp), or `None` when nothing shown
    /// changed. Leases (node heartbeats) are followed silently.
    pub fn apply(&mut self, kind: &str, change: Change, v: &Value) -> Option<String> {
        let key = key_of(kind, v);
        if kind == "Event" {
            return self.apply_event(key, change, v);
        }
        if kind == "Lease" {
            return None;
        }
        let name = name_of(&key);
        if change == Change::Deleted {
            self.workloads.remove(&key);
            self.pods.remove(&key);
            self.objects.remove(&key);
            if kind == "Node" {
                self.nodes.remove(&key.2);
            }
            self.said.remove(&key);
            return Some(format!("{kind} {name}: deleted"));
        }
        let builtin = self.builtin.contains(kind);
        let said = if kind == "Pod" {
            let row = pod_row(v);
            let s = format!(
                "{} ready {} restarts {} node {}",
                row.status, row.ready, row.restarts, row.node
            );
            self.pods.insert(key.clone(), row);
            s
        } else if kind == "Node" {
            let s = node_state(v);
            self.nodes.insert(key.2.clone(), s.clone());
            s
        } else if is_workload(kind, v) {
            let row = workload_row(kind, v, builtin);
            let mut s = format!(
                "desired {} ready {} available {}",
                row.desired, row.ready, row.available
            );
            if !row.status.is_empty() {
                s.push_str(&format!(" ({})", row.status));
            }
            self.workloads.insert(key.clone(), row);
            s
        } else {
            let state = object_state(v);
            if let (Some(state), false) = (&state, builtin) {
                self.objects.insert(
                    key.clone(),
                    ObjectRow {
                        state: state.clone(),
                        created: time(v, &["metadata", "creationTimestamp"]),
                    },
                );
            }
            // Other kinds: created, then each new generation or state.
            let generation = int(v, &["metadata", "generation"]).unwrap_or(0);
            let now = format!("generation {generation}|{}", state.as_deref().unwrap_or(""));
            let before = self.said.insert(key.clone(), now.clone());
            let line = match before {
                None => match state {
                    Some(s) => format!("created, {s}"),
                    None => "created".into(),
                },
                Some(b) if b == now => return None,
                Some(b) => {
                    let (old_gen, old_state) = b.split_once('|').unwrap_or_default();
                    match state {
                        Some(s) if s != old_state => s,
                        _ if old_gen != format!("generation {generation}") => {
                            format!("updated (generation {generation})")
                        }
                        _ => return None,
                    }
                }
            };
            return Some(format!("{kind} {name}: {line}"));
        };
        if self.said.get(&key) == Some(&said) {
            return None;
        }
        self.said.insert(key, said.clone());
        Some(format!("{kind} {name}: {said}"))
    }

    fn apply_event(&mut self, key: Key, change: Change, v: &Value) -> Option<String> {
        let old = self.events.iter().position(|e| e.key == key);
        let previous = old.and_then(|i| self.events.remove(i));
        if change == Change::Deleted {
            return None;
        }
        let row = event_row(key, v);
        let repeat = previous
            .as_ref()
            .is_some_and(|p| p.count == row.count && p.message == row.message);
        let mut line = format!(
            "Event {} {} {}: {}",
            row.type_, row.reason, row.object, row.message
        );
        if row.count > 1 {
            line.push_str(&format!(" (x{})", row.count));
        }
        self.events.push_front(row);
        self.events.truncate(EVENTS_KEPT);
        (!repeat).then_some(line)
    }

    /// Forgets every object of `kind` (its watch is starting over from a fresh list).
    pub fn forget_kind(&mut self, kind: &str) {
        self.workloads.retain(|k, _| k.0 != kind);
        self.pods.retain(|k, _| k.0 != kind);
        self.objects.retain(|k, _| k.0 != kind);
        self.said.retain(|k, _| k.0 != kind);
        match kind {
            "Node" => self.nodes.clear(),
            "Event" => self.events.clear(),
            _ => {}
        }
    }

    /// Number of pods.
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// The nodes as `name (state)`.
    pub fn nodes_summary(&self) -> String {
        let v: Vec<String> = self
            .nodes
            .iter()
            .map(|(n, s)| format!("{n} ({s})"))
            .collect();
        if v.is_empty() {
            "no nodes".into()
        } else {
            v.join(", ")
        }
    }

    /// The live view: `header`, then workloads, pods, custom objects and the latest events,
    /// each line cut to `width` columns and the whole to `height` lines (0: no limit; the
    /// pods table gives way first).
    pub fn render(&self, header: &str, now: Time, width: usize, height: usize) -> Vec<String> {
        let mut workloads =
            Table::new(&["KIND", "NAME", "DESIRED", "READY", "AVAILABLE", "STATUS"]);
        for (k, w) in &self.workloads {
            workloads.row(vec![
                k.0.clone(),
                name_of(k),
                w.desired.clone(),
                w.ready.clone(),
                w.available.clone(),
                w.status.clone(),
            ]);
        }
        let mut pods = Table::new(&["NAME", "STATUS", "READY", "RESTARTS", "NODE", "AGE"]);
        for (k, p) in &self.pods {
            pods.row(vec![
                name_of(k),
                p.status.clone(),
                p.ready.clone(),
                p.restarts.to_string(),
                p.node.clone(),
                age_at(now, p.created),
            ]);
        }
        let mut objects = Table::new(&["KIND", "NAME", "STATE", "AGE"]);
        for (k, o) in &self.objects {
            objects.row(vec![
                k.0.clone(),
                name_of(k),
                o.state.clone(),
                age_at(now, o.created),
            ]);
        }
        let mut events = Table::new(&["AGE", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
        for e in &self.events {
            let mut message = e.message.clone();
            if e.count > 1 {
                message.push_str(&format!(" (x{})", e.count));
            }
            events.row(vec![
                age_at(now, e.time),
                e.type_.clone(),
                e.reason.clone(),
                e.object.clone(),
                message,
            ]);
        }

        let mut out = vec![header.to_string()];
        let section = |out: &mut Vec<String>, title: &str, t: &Table, max: Option<usize>| {
            if t.rows.is_empty() {
                return;
            }
            out.push(String::new());
            out.push(title.to_string());
            out.extend(t.lines(max));
        };
        section(&mut out, "WORKLOADS", &workloads, None);
        // Lines left for the pods once everything else is drawn (title, blank and header
        // lines included).
        let fixed = |t: &Table| {
            if t.rows.is_empty() {
                0
            } else {
                t.rows.len() + 3
            }
        };
        let pod_budget = (height > 0).then(|| {
            let used = out.len() + fixed(&objects) + fixed(&events) + 2;
            height.saturating_sub(used).max(1)
        });
        if self.pods.is_empty() {
            out.push(String::new());
            out.push("PODS".into());
            out.push("(none yet)".into());
        } else {
            section(&mut out, "PODS", &pods, pod_budget);
        }
        section(&mut out, "OBJECTS", &objects, None);
        section(&mut out, "EVENTS (latest first)", &events, None);
        if height > 0 {
            out.truncate(height);
        }
        if width > 0 {
            for l in &mut out {
                if l.chars().count() > width {
                    *l = l.chars().take(width).collect();
                }
            }
        }
        out
    }
}

/// A text table with columns as wide as their widest cell.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Header and rows; with `max`, at most that many lines, the last saying how many rows
    /// were left out.
    fn lines(&self, max: Option<usize>) -> Vec<String> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let fmt = |cells: &[String]| {
            let mut line = String::new();
            for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                if i + 1 == cells.len() {
                    line.push_str(c);
                } else {
                    line.push_str(&format!("{c:<w$}  "));
                }
            }
            line.trim_end().to_string()
        };
        let mut out = vec![fmt(&self.header)];
        let room = max.map_or(usize::MAX, |m| m.saturating_sub(1).max(1));
        if self.rows.len() <= room {
            out.extend(self.rows.iter().map(|r| fmt(r)));
        } else {
            let shown = room.saturating_sub(1);
            out.extend(self.rows[..shown].iter().map(|r| fmt(r)));
            out.push(format!("... and {} more", self.rows.len() - shown));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, phase: &str, ready: bool, restarts: i64) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default",
                "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"nodeName": "host", "containers": [{"name": "main"}]},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "main", "ready": ready, "restartCount": restarts}]}
        })
    }

    #[test]
    fn a_pod_line_is_printed_only_when_what_it_shows_changes() {
        let mut s = Status::new();
        assert_eq!(
            s.apply("Pod", Change::Added, &pod("web", "Pending", false, 0))
                .as_deref(),
            Some("Pod default/web: Pending ready 0/1 restarts 0 node host")
        );
        assert_eq!(
            s.apply("Pod", Change::Modified, &pod("web", "Pending", false, 0)),
            None
        );
        assert_eq!(
            s.apply("Pod", Change::Modified, &pod("web", "Running", true, 1))
                .as_deref(),
            Some("Pod default/web: Running ready 1/1 restarts 1 node host")
        );
        assert_eq!(
            s.apply("Pod", Change::Deleted, &pod("web", "Running", true, 1))
                .as_deref(),
            Some("Pod default/web: deleted")
        );
        assert_eq!(s.pod_count(), 0);
    }

    #[test]
    fn a_waiting_reason_or_deletion_shows_instead_of_the_phase() {
        let mut p = pod("web", "Running", false, 3);
        p["status"]["containerStatuses"][0]["state"] =
            json!({"waiting": {"reason": "CrashLoopBackOff"}});
        assert_eq!(pod_row(&p).status, "CrashLoopBackOff");
        p["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:01Z");
        assert_eq!(pod_row(&p).status, "Terminating");
    }

    #[test]
    fn any_kind_with_spec_replicas_is_a_workload() {
        let mut s = Status::new();
        let fleet = json!({"apiVersion": "games.example.com/v1", "kind": "Fleet",
            "metadata": {"name": "arena", "namespace": "default"},
            "spec": {"replicas": 4}, "status": {"readyReplicas": 2}});
        assert_eq!(
            s.apply("Fleet", Change::Added, &fleet).as_deref(),
            Some("Fleet default/arena: desired 4 ready 2 available -")
        );
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"}, "spec": {}});
        assert_eq!(
            s.apply("Deployment", Change::Added, &deploy).as_deref(),
            Some("Deployment default/web: desired 1 ready 0 available 0")
        );
        let lines = s.render("hdr", Time::UNIX_EPOCH, 0, 0);
        assert_eq!(lines[0], "hdr");
        assert_eq!(lines[2], "WORKLOADS");
        assert_eq!(
            lines[3],
            "KIND        NAME           DESIRED  READY  AVAILABLE  STATUS"
        );
        assert_eq!(lines[4], "Deployment  default/web    1        0      0");
        assert_eq!(lines[5], "Fleet       default/arena  4        2      -");
    }

    #[test]
    fn custom_objects_report_creation_state_changes_and_new_generations() {
        let mut s = Status::new();
        let mut gs = json!({"kind": "GameServer",
            "metadata": {"name": "gs-1", "namespace": "default", "generation": 1},
            "status": {"state": "Scheduled"}});
        assert_eq!(
            s.apply("GameServer", Change::Added, &gs).as_deref(),
            Some("GameServer default/gs-1: created, Scheduled")
        );
        gs["status"]["state"] = json!("Ready");
        assert_eq!(
            s.apply("GameServer", Change::Modified, &gs).as_deref(),
            Some("GameServer default/gs-1: Ready")
        );
        gs["metadata"]["generation"] = json!(2);
        assert_eq!(
            s.apply("GameServer", Change::Modified, &gs).as_deref(),
            Some("GameServer default/gs-1: updated (generation 2)")
        );
        assert_eq!(s.apply("GameServer", Change::Modified, &gs), None);
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}});
        assert_eq!(
            s.apply("ConfigMap", Change::Added, &cm).as_deref(),
            Some("ConfigMap default/c: created")
        );
        assert_eq!(s.apply("Lease", Change::Added, &cm), None);
    }

    #[test]
    fn events_keep_the_latest_first_and_print_repeats_with_their_count() {
        let mut s = Status::new();
        let mut ev = json!({"kind": "Event",
            "metadata": {"name": "e1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web"},
            "type": "Warning", "reason": "BackOff", "message": "restarting", "count": 1});
        assert_eq!(
            s.apply("Event", Change::Added, &ev).as_deref(),
            Some("Event Warning BackOff pod/web: restarting")
        );
        assert_eq!(s.apply("Event", Change::Modified, &ev), None);
        ev["count"] = json!(3);
        assert_eq!(
            s.apply("Event", Change::Modified, &ev).as_deref(),
            Some("Event Warning BackOff pod/web: restarting (x3)")
        );
        for i in 0..20 {
            let e = json!({"kind": "Event", "metadata": {"name": format!("n{i}"), "namespace": "default"},
                "reason": format!("R{i}"), "message": "m"});
            s.apply("Event", Change::Added, &e);
        }
        let lines = s.render("h", Time::UNIX_EPOCH, 0, 0);
        let at = lines.iter().position(|l| l.starts_with("EVENTS")).unwrap();
        assert_eq!(lines.len() - at - 2, EVENTS_KEPT);
        assert!(lines[at + 2].contains("R19"), "{lines:#?}");
    }

    #[test]
    fn the_pods_table_gives_way_when_the_screen_is_short() {
        let mut s = Status::new();
        for i in 0..50 {
            s.apply(
                "Pod",
                Change::Added,
                &pod(&format!("p{i:02}"), "Running", true, 0),
            );
        }
        let lines = s.render("h", Time::UNIX_EPOCH, 30, 20);
        assert_eq!(lines.len(), 20, "{lines:#?}");
        assert!(lines.iter().all(|l| l.chars().count() <= 30));
        assert!(
            lines.iter().any(|l| l.starts_with("... and ")),
            "{lines:#?}"
        );
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(Duration::from_secs(5)), "5s");
        assert_eq!(age(Duration::from_secs(185)), "3m5s");
        assert_eq!(age(Duration::from_secs(3000)), "50m");
        assert_eq!(age(Duration::from_secs(4 * 3600)), "4h");
        assert_eq!(age(Duration::from_secs(3 * 86_400)), "3d");
    }
}
