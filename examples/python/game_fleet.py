"""An Agones-style game-server fleet in Python: the Python version of examples/game_fleet.rs.

Run from the repository root after `cargo build --release`:

    PYTHONPATH=bindings/python python3 examples/python/game_fleet.py --short  # a few seconds
    PYTHONPATH=bindings/python python3 examples/python/game_fleet.py          # + 30 s of churn

Custom kinds (``games.example.com/v1``), each an ordinary controller written in Python:

- ``Fleet`` keeps ``spec.replicas`` GameServers from its template, placing each on a node
  (Packed: the fullest Ready node with room; Distributed: the emptiest; the fleet picks the
  node itself and sets ``spec.nodeName``, from the engine's nodes: the embedded engine has
  one), replacing Unhealthy and Shutdown ones, scaling down not-yet-Ready then
  Ready ones and never Allocated ones. Status: replicas, readyReplicas, allocatedReplicas.
- ``GameServer`` runs one pod (an in-process Python worker, image ``game-server``) with a
  ``heartbeat`` liveness probe, and mirrors the pod into ``status.state``: Scheduled, Ready
  (the worker called ``ctx.ready()``), Allocated (set by an allocation), Unhealthy (the
  worker raised, or stopped its heartbeats), Shutdown (the match ended and the server
  exited). A finalizer deletes the pod with the GameServer.
- ``GameServerAllocation`` picks a Ready GameServer matching the first of its label
  selectors that matches any (Packed: preferring nodes with the most Allocated servers) and
  marks both objects in one transaction that compares-and-swaps their resourceVersions: two
  concurrent allocations never get the same server; the loser sees a conflict and picks
  again.
- ``FleetAutoscaler`` (Buffer policy): fleet replicas = allocated + bufferSize (or its
  percentage form), clamped to minReplicas..maxReplicas, synced on a fixed interval as
  Agones does.

The host checks game objects before applying them (what admission hooks do in the Rust
version), naming the bad field. The game servers obey commands put in the annotation
``games.example.com/command``: ``crash`` (raise), ``hang`` (stop heartbeating),
``shutdown`` (end the match and exit).

``bindings/python/tests/test_game_fleet_example.py`` runs :func:`run` with ``short=True``
and checks its :class:`Outcome`.
"""

from __future__ import annotations

import argparse
import copy
import logging
import random
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import steady

API_VERSION = "games.example.com/v1"
FLEET = f"{API_VERSION}/Fleet"
GAME_SERVER = f"{API_VERSION}/GameServer"
ALLOCATION = f"{API_VERSION}/GameServerAllocation"
AUTOSCALER = f"{API_VERSION}/FleetAutoscaler"
#: Label every GameServer of a fleet carries.
FLEET_LABEL = "games.example.com/fleet"
#: Annotation the game servers take commands from.
COMMAND = "games.example.com/command"
#: Finalizer that deletes a GameServer's pod.
POD_FINALIZER = "games.example.com/pod"
#: The worker image the game servers run.
IMAGE = "game-server"
#: How often an autoscaler looks at its fleet (Agones' FixedInterval sync, 30 s by default).
SYNC_INTERVAL = 0.1

SCHEDULED, READY, ALLOCATED = "Scheduled", "Ready", "Allocated"
UNHEALTHY, SHUTDOWN, UNALLOCATED = "Unhealthy", "Shutdown", "UnAllocated"

#: The fleet and its autoscaler, as a user would write them.
MANIFEST: list[dict[str, Any]] = [
    {
        "apiVersion": API_VERSION, "kind": "Fleet", "metadata": {"name": "arena"},
        "spec": {
            "replicas": 3,
            "scheduling": "Packed",
            "template": {
                "metadata": {"labels": {"game": "arena", "region": "eu"}},
                "spec": {
                    "health": {"periodSeconds": 1, "failureThreshold": 3},
                    "template": {"spec": {"containers": [{"name": "game", "image": IMAGE}]}},
                },
            },
        },
    },
    {
        "apiVersion": API_VERSION, "kind": "FleetAutoscaler", "metadata": {"name": "arena-buffer"},
        "spec": {
            "fleetName": "arena",
            "policy": {"type": "Buffer",
                       "buffer": {"bufferSize": 3, "minReplicas": 3, "maxReplicas": 9}},
        },
    },
]
BUFFER, MIN_REPLICAS, MAX_REPLICAS = 3, 3, 9

Object = dict[str, Any]

# -------------------------------------------------------------------------------------------
# Reading game objects
# -------------------------------------------------------------------------------------------


def at(o: Optional[Any], *path: str) -> Any:
    """``o[path[0]][path[1]]...``, or None where something is missing."""
    for key in path:
        if not isinstance(o, dict):
            return None
        o = o.get(key)
    return o


def state(o: Object) -> str:
    return at(o, "status", "state") or ""


def node_of(gs: Object) -> str:
    return at(gs, "spec", "nodeName") or ""


def name_of(o: Object) -> str:
    return o["metadata"]["name"]


def deleting(o: Object) -> bool:
    return "deletionTimestamp" in o["metadata"]


def with_status(o: Object, status: Object) -> Object:
    """``o`` with ``status`` replaced; its resourceVersion kept, so writing it is a
    compare-and-swap."""
    return {**o, "status": status}


def owner_reference(o: Object) -> Object:
    return {"apiVersion": o["apiVersion"], "kind": o["kind"], "name": name_of(o),
            "uid": o["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def owned_by(o: Object, owner: Object) -> bool:
    return any(r.get("uid") == owner["metadata"]["uid"]
               for r in o["metadata"].get("ownerReferences", []))


def buffer_size(v: Any) -> tuple[str, int]:
    """A Buffer policy's bufferSize: ``("count", n)`` or ``("percent", p)``."""
    if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
        return ("count", v)
    if isinstance(v, str) and v.endswith("%") and v[:-1].isdigit() and 1 <= int(v[:-1]) <= 99:
        return ("percent", int(v[:-1]))
    if isinstance(v, str):
        raise ValueError(f'"{v}" is not a percentage from 1% to 99%')
    raise ValueError('must be a positive integer or a percentage such as "20%"')


def selector_text(sel: Object, where: str) -> str:
    """A LabelSelector as the engine's selector syntax (``"a=b,c in (d,e)"``)."""
    parts = [f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items()]
    for i, e in enumerate(sel.get("matchExpressions") or []):
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            raise ValueError(f"{where}.matchExpressions[{i}].operator: {op!r} is not one of "
                             "In, NotIn, Exists, DoesNotExist")
    return ",".join(parts)


def selectors(alloc: Object) -> list[str]:
    sels = at(alloc, "spec", "selectors")
    if not isinstance(sels, list) or not sels:
        raise ValueError("spec.selectors: at least one label selector is required")
    return [selector_text(s, f"spec.selectors[{i}]") for i, s in enumerate(sels)]


# -------------------------------------------------------------------------------------------
# Checks before applying (the admission hooks of the Rust version)
# -------------------------------------------------------------------------------------------


def validate(o: Object) -> None:
    """Raises ValueError naming the bad field of a game object."""
    spec = o.get("spec") or {}
    kind = o.get("kind")
    if kind == "Fleet":
        r = spec.get("replicas")
        if not isinstance(r, int) or isinstance(r, bool) or r < 0:
            raise ValueError("spec.replicas: must be an integer >= 0")
        if spec.get("scheduling", "Packed") not in ("Packed", "Distributed"):
            raise ValueError("spec.scheduling: must be Packed or Distributed")
        if not at(spec, "template", "spec", "template", "spec", "containers"):
            raise ValueError("spec.template.spec.template.spec.containers: at least one container")
    elif kind == "FleetAutoscaler":
        if not spec.get("fleetName"):
            raise ValueError("spec.fleetName: required")
        if at(spec, "policy", "type") != "Buffer":
            raise ValueError("spec.policy.type: only Buffer is supported")
        buffer = at(spec, "policy", "buffer") or {}
        try:
            buffer_size(buffer.get("bufferSize"))
        except ValueError as e:
            raise ValueError(f"spec.policy.buffer.bufferSize: {e}") from None
        lo, hi = buffer.get("minReplicas", 0), buffer.get("maxReplicas")
        if hi is None:
            raise ValueError("spec.policy.buffer.maxReplicas: required")
        if lo < 0 or hi < lo:
            raise ValueError(f"spec.policy.buffer: need 0 <= minReplicas <= maxReplicas "
                             f"(got {lo} and {hi})")
    elif kind == "GameServerAllocation":
        selectors(o)


def apply_checked(engine: steady.Engine, objects: list[Object]) -> None:
    """Checks every game object, then applies them all (all-or-nothing)."""
    for o in objects:
        try:
            validate(o)
        except ValueError as e:
            raise steady.Invalid(f'{o["kind"]} "{name_of(o)}" is invalid: {e}') from None
    engine.apply(objects)


# -------------------------------------------------------------------------------------------
# Fleet controller
# -------------------------------------------------------------------------------------------


class Occupancy:
    """Ready nodes with their pod capacity and what occupies them (game servers and pods by
    name: a pod and its game server share one, and a terminating pod still holds its
    slot)."""

    def __init__(self, engine: steady.Engine) -> None:
        self.capacity: dict[str, int] = {}
        for n in engine.list("Node"):
            status = n.get("status") or {}
            ready = any(c["type"] == "Ready" and c["status"] == "True"
                        for c in status.get("conditions", []))
            if ready and not at(n, "spec", "unschedulable"):
                self.capacity[name_of(n)] = int(at(status, "allocatable", "pods") or 0)
        self.used: dict[str, set[str]] = {}
        for p in engine.list("Pod"):
            if at(p, "spec", "nodeName"):
                self.used.setdefault(p["spec"]["nodeName"], set()).add(name_of(p))
        for gs in engine.list(GAME_SERVER):
            if node_of(gs):
                self.used.setdefault(node_of(gs), set()).add(name_of(gs))

    def count(self, node: str) -> int:
        return len(self.used.get(node, ()))

    def place(self, packed: bool) -> Optional[str]:
        """The node a new server goes to: Packed, the fullest node with room; Distributed,
        the emptiest (ties: by name)."""
        room = [n for n, cap in sorted(self.capacity.items()) if self.count(n) < cap]
        if not room:
            return None
        if packed:
            return min(room, key=lambda n: (-self.count(n), n))
        return min(room, key=lambda n: (self.count(n), n))


def ignore_not_found(call: Callable[[], Any]) -> None:
    try:
        call()
    except steady.NotFound:
        pass


def reconcile_fleet(engine: steady.Engine, req: steady.Request) -> Optional[float]:
    ns = req.namespace or "default"
    fleet = req.object()
    servers = engine.list(GAME_SERVER, namespace=ns, selector={FLEET_LABEL: req.name})
    if fleet is None:
        # The fleet is gone: so are its game servers (as the garbage collector would do).
        for gs in servers:
            ignore_not_found(lambda: engine.delete(GAME_SERVER, name_of(gs), namespace=ns))
        return None
    if deleting(fleet):
        return None
    spec = fleet["spec"]
    replicas = max(0, int(spec.get("replicas", 0)))
    packed = spec.get("scheduling") != "Distributed"
    live = []
    for gs in servers:
        if not owned_by(gs, fleet) or deleting(gs):
            continue
        if state(gs) in (UNHEALTHY, SHUTDOWN):
            # Replaced below: a fresh server instead of one that crashed or finished.
            ignore_not_found(lambda: engine.delete(GAME_SERVER, name_of(gs), namespace=ns))
            continue
        live.append(gs)

    requeue = None
    if len(live) < replicas:
        occupancy = Occupancy(engine)
        template = spec.get("template") or {}
        labels = {**(at(template, "metadata", "labels") or {}), FLEET_LABEL: req.name}
        for _ in range(replicas - len(live)):
            node = occupancy.place(packed)
            if node is None:
                requeue = 1.0  # no Ready node has room for another game server
                break
            gs_spec = copy.deepcopy(template.get("spec") or {})
            gs_spec["nodeName"] = node
            created = engine.create({
                "apiVersion": API_VERSION, "kind": "GameServer",
                "metadata": {"generateName": f"{req.name}-", "namespace": ns, "labels": labels,
                             "ownerReferences": [owner_reference(fleet)]},
                "spec": gs_spec,
            })
            occupancy.used.setdefault(node, set()).add(name_of(created))
    elif len(live) > replicas:
        # Scale down: never an Allocated server; not-yet-Ready ones first, then Ready ones
        # on the emptiest nodes (Packed keeps nodes full), newest first.
        occupancy = Occupancy(engine)
        victims = sorted((g for g in live if state(g) != ALLOCATED),
                         key=lambda g: g["metadata"]["creationTimestamp"], reverse=True)
        victims.sort(key=lambda g: (state(g) == READY, occupancy.count(node_of(g))))
        for gs in victims[: len(live) - replicas]:
            # Only if still as read: a server allocated meanwhile must not go. A lost race
            # changed the server, which brings this fleet back here.
            try:
                engine.delete(GAME_SERVER, name_of(gs), namespace=ns, preconditions={
                    "resourceVersion": gs["metadata"]["resourceVersion"]})
            except (steady.Conflict, steady.NotFound):
                pass

    def count(s: str) -> int:
        return sum(1 for g in live if state(g) == s)

    status = {"replicas": len(live), "readyReplicas": count(READY),
              "allocatedReplicas": count(ALLOCATED), "reservedReplicas": 0}
    if fleet.get("status") != status:
        engine.patch(FLEET, req.name, {"status": status}, namespace=ns, status=True)
    return requeue


# -------------------------------------------------------------------------------------------
# GameServer controller
# -------------------------------------------------------------------------------------------


def pod_for(gs: Object) -> Object:
    """The pod of a game server: its template, on its node, with a heartbeat liveness probe
    and no restarts (a crashed game server is replaced, not restarted)."""
    pod_spec = copy.deepcopy(at(gs, "spec", "template", "spec") or {})
    health = at(gs, "spec", "health") or {}
    probe = {"heartbeat": {}, "periodSeconds": health.get("periodSeconds", 5),
             "failureThreshold": health.get("failureThreshold", 3)}
    for c in pod_spec.get("containers", []):
        c["livenessProbe"] = probe
    pod_spec.update(nodeName=node_of(gs), restartPolicy="Never", terminationGracePeriodSeconds=5)
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name_of(gs), "namespace": gs["metadata"]["namespace"],
                     "labels": gs["metadata"].get("labels", {}),
                     "ownerReferences": [owner_reference(gs)]},
        "spec": pod_spec,
    }


def state_from_pod(current: str, pod: Object) -> tuple[str, Optional[str]]:
    """The state the pod says the game server is in, and why."""
    if current in (UNHEALTHY, SHUTDOWN):
        return current, None
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or [{}]
    terminated = at(statuses[0], "state", "terminated")
    why = None
    if terminated:
        reason, message = terminated.get("reason"), terminated.get("message")
        why = f"{reason}: {message}" if reason and message else (reason or message or "")
    if status.get("phase") == "Failed":
        return UNHEALTHY, why
    if status.get("phase") == "Succeeded":
        return SHUTDOWN, why
    if deleting(pod):
        return UNHEALTHY, "its pod is being deleted"
    ready = any(c["type"] == "Ready" and c["status"] == "True"
                for c in status.get("conditions", []))
    # The worker's ready() is Agones' SDK.Ready(): the pod turns Ready.
    if current in ("", SCHEDULED) and ready:
        return READY, None
    return (current or SCHEDULED), None


def reconcile_gameserver(engine: steady.Engine, req: steady.Request) -> Optional[float]:
    gs = req.object()
    if gs is None:
        return None
    ns = req.namespace or "default"
    finalizers = gs["metadata"].get("finalizers", [])
    if deleting(gs):
        if POD_FINALIZER in finalizers:
            ignore_not_found(lambda: engine.delete("Pod", req.name, namespace=ns))
            rest = [f for f in finalizers if f != POD_FINALIZER]
            ignore_not_found(lambda: engine.patch(
                GAME_SERVER, req.name, {"metadata": {"finalizers": rest}}, namespace=ns))
        return None
    if POD_FINALIZER not in finalizers:
        # The patch is a change: it brings this server back here.
        engine.patch(GAME_SERVER, req.name,
                     {"metadata": {"finalizers": [*finalizers, POD_FINALIZER]}}, namespace=ns)
        return None
    current = state(gs)
    try:
        pod: Optional[Object] = engine.get("Pod", req.name, namespace=ns)
    except steady.NotFound:
        pod = None
    if pod is None:
        if current in (UNHEALTHY, SHUTDOWN):
            return None
        if current == "":
            try:
                engine.create(pod_for(gs))
            except steady.AlreadyExists:
                pass
            nxt, reason = SCHEDULED, None
        else:
            nxt, reason = UNHEALTHY, "its pod is gone"
    else:
        nxt, reason = state_from_pod(current, pod)
    if nxt == current:
        return None
    status = {**(gs.get("status") or {}), "state": nxt, "nodeName": node_of(gs)}
    if reason:
        status["reason"] = reason
    # Compare-and-swap on the version read: an allocation that committed meanwhile wins,
    # and this reconcile runs again at once on the new state (never Allocated -> Ready).
    try:
        engine.update_status(with_status(gs, status))
    except steady.Conflict:
        return 0.0
    return None


# -------------------------------------------------------------------------------------------
# GameServerAllocation controller
# -------------------------------------------------------------------------------------------


class Counter:
    """A thread-safe count (allocation conflicts)."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.value += 1


def allocate(engine: steady.Engine, ns: str, name: str, conflicts: Counter) -> Object:
    """Decides the GameServerAllocation ``ns/name``, unless someone already did, and returns
    it as decided. The controller calls it; so may anyone else at the same time (Agones
    allocates synchronously in its API server): the compare-and-swap transaction lets exactly
    one decision stand, for the allocation and for the server."""
    for _ in range(32):
        alloc = engine.get(ALLOCATION, name, namespace=ns)
        if state(alloc) or deleting(alloc):
            return alloc
        packed = at(alloc, "spec", "scheduling") != "Distributed"
        allocated: dict[str, int] = {}
        for g in engine.list(GAME_SERVER, namespace=ns):
            if state(g) == ALLOCATED:
                allocated[node_of(g)] = allocated.get(node_of(g), 0) + 1
        # The first selector that matches a Ready server decides; among its matches, Packed
        # prefers the node with the most Allocated servers, Distributed the fewest (ties: by
        # node, then name, so racing allocators all reach for the same server).
        pick = None
        for sel in selectors(alloc):
            ready = [g for g in engine.list(GAME_SERVER, namespace=ns, selector=sel)
                     if state(g) == READY and not deleting(g)]
            if ready:
                sign = -1 if packed else 1
                pick = min(ready, key=lambda g: (sign * allocated.get(node_of(g), 0),
                                                 node_of(g), name_of(g)))
                break
        if pick is None:
            ops = [{"op": "updateStatus", "object": with_status(alloc, {"state": UNALLOCATED})}]
        else:
            gs_status = {**(pick.get("status") or {}), "state": ALLOCATED, "allocation": name}
            alloc_status = {"state": ALLOCATED, "gameServerName": name_of(pick),
                            "nodeName": node_of(pick)}
            # Both writes commit together, each only if its object is still at the version
            # read: a server taken (or an allocation decided) meanwhile fails the whole
            # transaction.
            ops = [{"op": "updateStatus", "object": with_status(pick, gs_status)},
                   {"op": "updateStatus", "object": with_status(alloc, alloc_status)}]
        try:
            engine.transaction(ops)
            return engine.get(ALLOCATION, name, namespace=ns)
        except steady.Conflict:
            conflicts.add()  # lost a race: read everything again
    raise RuntimeError("still contended after 32 attempts")


# -------------------------------------------------------------------------------------------
# FleetAutoscaler controller
# -------------------------------------------------------------------------------------------


def buffer_target(allocated: int, size: tuple[str, int]) -> int:
    """Replicas a Buffer policy wants for ``allocated`` allocated servers, before clamping."""
    kind, n = size
    if kind == "count":
        return allocated + n
    # Agones: the buffer is that share of the total: allocated / (1 - p), rounded up.
    return (allocated * 100 + (100 - n) - 1) // (100 - n)


def buffered(allocated: int) -> int:
    """What the example's autoscaler wants for ``allocated`` allocated servers."""
    return min(max(buffer_target(allocated, ("count", BUFFER)), MIN_REPLICAS), MAX_REPLICAS)


def reconcile_autoscaler(engine: steady.Engine, req: steady.Request) -> Optional[float]:
    fa = req.object()
    if fa is None:
        return None
    ns = req.namespace or "default"
    spec = fa["spec"]
    try:
        validate(fa)
    except ValueError as e:
        raise steady.TerminalError(str(e)) from None
    fleet_name = spec["fleetName"]
    try:
        fleet = engine.get(FLEET, fleet_name, namespace=ns)
    except steady.NotFound:
        engine.patch(AUTOSCALER, req.name, {"status": {"ableToScale": False}}, namespace=ns,
                     status=True)
        return SYNC_INTERVAL
    buffer = spec["policy"]["buffer"]
    allocated = int(at(fleet, "status", "allocatedReplicas") or 0)
    want = buffer_target(allocated, buffer_size(buffer["bufferSize"]))
    desired = min(max(want, buffer.get("minReplicas", 0)), buffer["maxReplicas"])
    current = int(fleet["spec"].get("replicas", 0))
    if current != desired:
        engine.patch(FLEET, fleet_name, {"spec": {"replicas": desired}}, namespace=ns)
    status = {"ableToScale": True, "currentReplicas": current, "desiredReplicas": desired,
              "scalingLimited": want != desired}
    if fa.get("status") != status:
        engine.patch(AUTOSCALER, req.name, {"status": status}, namespace=ns, status=True)
    return SYNC_INTERVAL


# -------------------------------------------------------------------------------------------
# The game server: an in-process Python worker
# -------------------------------------------------------------------------------------------


@dataclass
class Chaos:
    """Random crashes and match lengths of the churn phase."""

    enabled: bool = False
    #: expected crashes per second of each game server while enabled
    crash_rate: float = 1.0 / 15.0
    #: matches last this long (seconds) while enabled; otherwise until ``shutdown``
    match_length: tuple[float, float] = (2.0, 6.0)
    seed: int = 7


def game_server(ctx: steady.WorkerContext, chaos: Chaos) -> int:
    """The game server process: ready at once, heartbeats while healthy, plays a match once
    allocated, obeys commands."""
    name = ctx.pod_name
    rng = random.Random(chaos.seed ^ zlib.crc32(name.encode()))
    ctx.log("game server up")
    ctx.ready()
    hung = False
    match_end: Optional[float] = None
    last = time.monotonic()
    while True:
        if ctx.wait_stop(0.01):
            return 143  # as a process getting SIGTERM: stopped mid-life is no clean exit
        now = time.monotonic()
        elapsed, last = now - last, now
        try:
            gs = ctx.engine.get(GAME_SERVER, name, namespace=ctx.namespace)
        except steady.NotFound:
            ctx.heartbeat()
            continue
        command = (gs["metadata"].get("annotations") or {}).get(COMMAND)
        if command == "crash":
            raise RuntimeError(f"game server {name} crashed (on command)")
        if command == "hang" and not hung:
            ctx.log("hanging: no more heartbeats")
            hung = True
        if not hung:
            ctx.heartbeat()
        if chaos.enabled and rng.random() < chaos.crash_rate * elapsed:
            raise RuntimeError(f"game server {name} crashed (at random)")
        if state(gs) != ALLOCATED:
            continue
        if match_end is None:
            ctx.log("allocated: match started")
            lo, hi = chaos.match_length
            match_end = now + lo + (hi - lo) * rng.random()
        if command == "shutdown" or (chaos.enabled and now >= match_end):
            ctx.log("match over: shutting down")
            return 0


# -------------------------------------------------------------------------------------------
# The scenario
# -------------------------------------------------------------------------------------------


@dataclass
class Allocation:
    """One allocation's result."""

    name: str
    state: str
    game_server: str
    node: str


@dataclass
class PackedCheck:
    """The Packed preference, checked on one allocation."""

    allocated_before: dict[str, int] = field(default_factory=dict)
    ready_nodes: set[str] = field(default_factory=set)
    allocation: Optional[Allocation] = None

    def holds(self) -> bool:
        """The chosen node had the most Allocated servers among the nodes with a Ready
        one."""
        best = max((self.allocated_before.get(n, 0) for n in self.ready_nodes), default=None)
        a = self.allocation
        return a is not None and a.state == ALLOCATED and \
            self.allocated_before.get(a.node, 0) == best


@dataclass
class Failure:
    """A game server made to fail, and what became of it."""

    victim: str = ""
    reason: str = ""
    replaced: bool = False


@dataclass
class FleetCounts:
    """The fleet as last observed."""

    replicas: int = 0
    ready: int = 0
    allocated: int = 0


@dataclass
class Outcome:
    """What happened, for the summary and the test."""

    concurrent: list[Allocation] = field(default_factory=list)
    packed: PackedCheck = field(default_factory=PackedCheck)
    crashed: Failure = field(default_factory=Failure)
    hung: Failure = field(default_factory=Failure)
    contended: list[Allocation] = field(default_factory=list)
    allocated_before_race: set[str] = field(default_factory=set)
    conflicts: int = 0
    churn_allocations: int = 0
    refused: str = ""
    end: FleetCounts = field(default_factory=FleetCounts)

    def problems(self) -> list[str]:
        """Every expectation that did not hold, in words (empty: all held)."""
        p = []

        def granted(v: list[Allocation]) -> list[str]:
            return [a.game_server for a in v if a.state == ALLOCATED]

        both = granted(self.concurrent)
        if len(both) != 2 or len(set(both)) != 2:
            p.append(f"two concurrent allocations should get two servers: {self.concurrent}")
        if not self.packed.holds():
            p.append(f"the Packed preference was not kept: {self.packed}")
        for what, f, cause in (("crashed", self.crashed, "crashed (on command)"),
                               ("hung", self.hung, "liveness")):
            if not f.replaced or cause not in f.reason:
                p.append(f"the {what} server should be Unhealthy ({cause}) and replaced: {f}")
        raced = granted(self.contended)
        if not raced or len(set(raced)) != len(raced) or \
                any(g in self.allocated_before_race for g in raced):
            p.append(f"racing allocations must each get a different free server: {self.contended}")
        if "bufferSize" not in self.refused:
            p.append(f"the bad autoscaler should be refused naming bufferSize: {self.refused!r}")
        want = buffered(0)
        if self.end != FleetCounts(want, want, 0):
            p.append(f"the fleet should end at {FleetCounts(want, want, 0)} (the buffer), "
                     f"not {self.end}")
        return p


class Game:
    """The engine with the game's controllers and workers, and how the scenario waits."""

    def __init__(self, seed: int, say: Callable[[str], None]) -> None:
        kinds = [{"apiVersion": API_VERSION, "kind": k, "namespaced": True}
                 for k in ("Fleet", "GameServer", "GameServerAllocation", "FleetAutoscaler")]
        self.engine = steady.Engine(workers=4, kinds=kinds)
        self.say = say
        self.conflicts = Counter()
        self.chaos = Chaos(seed=seed)
        e = self.engine
        e.register_worker(IMAGE, lambda ctx: game_server(ctx, self.chaos))
        e.controller(FLEET, name="fleet", owns=[GAME_SERVER])(
            lambda req: reconcile_fleet(e, req))
        e.controller(GAME_SERVER, name="gameserver", owns=["Pod"])(
            lambda req: reconcile_gameserver(e, req))
        e.controller(ALLOCATION, name="gameserverallocation", concurrency=4)(
            lambda req: self._allocation(req))
        e.controller(AUTOSCALER, name="fleetautoscaler")(
            lambda req: reconcile_autoscaler(e, req))
        self.t0 = time.monotonic()
        self.narrators = [threading.Thread(target=self._narrate, args=(k,), daemon=True)
                          for k in (FLEET, GAME_SERVER, ALLOCATION)]
        for t in self.narrators:
            t.start()

    def _allocation(self, req: steady.Request) -> None:
        if req.object() is None:
            return None
        alloc = allocate(self.engine, req.namespace or "default", req.name, self.conflicts)
        if state(alloc) == UNALLOCATED:
            self.say(f"   allocation {req.name}: no Ready game server matches")
        return None

    def close(self) -> None:
        self.chaos.enabled = False
        self.engine.close()
        for t in self.narrators:
            t.join(10)

    # -- observing --------------------------------------------------------------------------

    def _narrate(self, kind: str) -> None:
        """Prints the changes of one game kind as they happen, until the engine closes."""
        said: dict[str, str] = {}
        for ev in self.engine.watch(kind):
            o = ev.object
            name = name_of(o)
            if ev.type == "DELETED":
                if kind != GAME_SERVER:
                    continue
                said.pop(name, None)
                line = f"game server {name}: deleted"
            elif kind == FLEET:
                line = (f"fleet {name}: replicas {at(o, 'spec', 'replicas') or 0}, "
                        f"ready {at(o, 'status', 'readyReplicas') or 0}, "
                        f"allocated {at(o, 'status', 'allocatedReplicas') or 0}")
            elif not state(o):
                continue
            elif kind == GAME_SERVER:
                line = f"game server {name} on {node_of(o)}: {state(o)}"
                if at(o, "status", "reason"):
                    line += f" ({o['status']['reason']})"
            elif at(o, "status", "gameServerName"):
                line = (f"allocation {name}: {o['status']['gameServerName']} "
                        f"on {at(o, 'status', 'nodeName')}")
            else:
                line = f"allocation {name}: {state(o)}"
            if said.get(name) != line:
                self.say(f"[{time.monotonic() - self.t0:7.2f}s] {line}")
                said[name] = line

    def servers(self) -> list[Object]:
        return self.engine.list(GAME_SERVER)

    def fleet(self) -> FleetCounts:
        servers = self.servers()

        def count(s: str) -> int:
            return sum(1 for g in servers if state(g) == s and not deleting(g))

        try:
            replicas = int(self.engine.get(FLEET, "arena")["spec"]["replicas"])
        except steady.NotFound:
            replicas = -1
        return FleetCounts(replicas, count(READY), count(ALLOCATED))

    def settled(self) -> bool:
        """Every server Ready or Allocated, as many as the fleet wants, and the fleet at the
        size its autoscaler wants."""
        servers = self.servers()
        f = self.fleet()
        return (all(state(g) in (READY, ALLOCATED) and not deleting(g) for g in servers)
                and len(servers) == f.replicas == buffered(f.allocated))

    @staticmethod
    def until(what: str, cond: Callable[[], bool], secs: float = 60.0) -> None:
        """Polls ``cond`` every 10 ms; an error after ``secs`` seconds."""
        deadline = time.monotonic() + secs
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.01)

    def wait_settled(self) -> FleetCounts:
        self.until("the fleet to settle", self.settled)
        f = self.fleet()
        self.say(f"   fleet settled: {f.replicas} replicas, {f.ready} ready, "
                 f"{f.allocated} allocated")
        return f

    # -- acting -----------------------------------------------------------------------------

    def allocate(self, names: list[str], direct: bool = False) -> list[Allocation]:
        """Creates allocations ``names`` at the same moment (one thread each), then waits for
        every one to be decided. With ``direct``, each thread also allocates at once itself
        (as Agones' API server does), racing the controller and the other threads."""
        e = self.engine
        barrier = threading.Barrier(len(names))
        errors: list[BaseException] = []

        def one(n: str) -> None:
            try:
                barrier.wait()
                e.create({"apiVersion": API_VERSION, "kind": "GameServerAllocation",
                          "metadata": {"name": n},
                          "spec": {"scheduling": "Packed",
                                   "selectors": [{"matchLabels": {"game": "arena"}}]}})
                if direct:
                    allocate(e, "default", n, self.conflicts)
            except BaseException as err:  # reported by the caller
                errors.append(err)

        threads = [threading.Thread(target=one, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        self.until("the allocations to be decided",
                   lambda: all(state(e.get(ALLOCATION, n)) for n in names))
        out = []
        for n in names:
            s = e.get(ALLOCATION, n).get("status", {})
            out.append(Allocation(n, s.get("state", ""), s.get("gameServerName", ""),
                                  s.get("nodeName", "")))
        return out

    def command(self, server: str, command: str) -> None:
        """Commands ``server`` (an annotation its worker reads)."""
        self.engine.patch(GAME_SERVER, server, {"metadata": {"annotations": {COMMAND: command}}})

    def fail_one(self, command: str) -> Failure:
        """Makes a Ready server fail by ``command``, and waits for it to be marked Unhealthy
        and replaced."""
        ready = sorted(name_of(g) for g in self.servers() if state(g) == READY)
        if not ready:
            raise RuntimeError("no Ready server to fail")
        victim = ready[0]
        # Watched from before the command: the Unhealthy state is seen even though the fleet
        # deletes the server right after.
        since = self.engine.list(GAME_SERVER).resource_version
        with self.engine.watch(GAME_SERVER, since=since) as watch:
            self.say(f"   telling {victim} to {command}")
            self.command(victim, command)
            seen = {"reason": None, "gone": False}

            def replaced() -> bool:
                while (ev := watch.next(0)) is not None:
                    if name_of(ev.object) != victim:
                        continue
                    if state(ev.object) == UNHEALTHY and seen["reason"] is None:
                        seen["reason"] = at(ev.object, "status", "reason") or ""
                    seen["gone"] = seen["gone"] or ev.type == "DELETED"
                return bool(seen["gone"]) and self.settled()

            self.until(f"{victim} to be replaced", replaced)
        return Failure(victim, seen["reason"] or "", True)


def play(game: Game, short: bool, seed: int) -> Outcome:
    say, out = game.say, Outcome()
    e = game.engine
    game.until("the node to be Ready", lambda: len(e.list("Node")) == len(e.node_names()))

    say("== 1. a fleet of 3 game servers and a buffer autoscaler (3 spare, 3..9)")
    bad = {"apiVersion": API_VERSION, "kind": "FleetAutoscaler", "metadata": {"name": "bad"},
           "spec": {"fleetName": "arena", "policy": {"type": "Buffer", "buffer": {
               "bufferSize": "150%", "maxReplicas": 5}}}}
    try:
        apply_checked(e, [bad])
    except steady.Invalid as err:
        out.refused = str(err)
        say(f"   (a bad autoscaler is refused: {err})")
    apply_checked(e, MANIFEST)
    game.wait_settled()

    say("== 2. two allocations at the same moment")
    out.concurrent = game.allocate(["match-1", "match-2"])
    game.wait_settled()

    say("== 3. one allocation: Packed prefers the node with the most allocated servers")
    for g in game.servers():
        if state(g) == ALLOCATED:
            node = node_of(g)
            out.packed.allocated_before[node] = out.packed.allocated_before.get(node, 0) + 1
        elif state(g) == READY:
            out.packed.ready_nodes.add(node_of(g))
    say(f"   allocated per node {out.packed.allocated_before}; "
        f"Ready servers on {sorted(out.packed.ready_nodes)}")
    out.packed.allocation = game.allocate(["match-3"])[0]
    game.wait_settled()

    say("== 4. a game server crashes (raises): Unhealthy, replaced")
    out.crashed = game.fail_one("crash")
    game.wait_settled()

    say("== 5. a game server hangs (no heartbeats): the liveness probe fails, replaced")
    out.hung = game.fail_one("hang")
    game.wait_settled()

    say("== 6. five allocations race for the Ready servers (each also allocated directly)")
    out.allocated_before_race = {name_of(g) for g in game.servers() if state(g) == ALLOCATED}
    out.contended = game.allocate([f"match-{i}" for i in range(4, 9)], direct=True)
    game.wait_settled()

    if not short:
        say("== 7. churn: allocations keep coming, matches end, servers crash at random")
        game.chaos.enabled = True
        rng = random.Random(seed)
        until, n = time.monotonic() + 30, 100
        while time.monotonic() < until:
            if rng.random() < 0.25:
                n += 1
                got = game.allocate([f"match-{n}"])
                out.churn_allocations += sum(1 for a in got if a.state == ALLOCATED)
            time.sleep(0.2)
        game.chaos.enabled = False

    say("== the matches end: servers shut down, the autoscaler shrinks the fleet to its buffer")
    for g in game.servers():
        if state(g) == ALLOCATED:
            game.command(name_of(g), "shutdown")
    game.until("every match to end", lambda: game.fleet().allocated == 0)
    out.end = game.wait_settled()
    out.conflicts = game.conflicts.value
    return out


def run(short: bool = True, seed: int = 7, say: Callable[[str], None] = print) -> Outcome:
    """Runs the scenario; ``say`` gets every line it prints. Raises TimeoutError when
    something it waits for does not happen within a minute."""
    game = Game(seed, say)
    try:
        return play(game, short, seed)
    finally:
        game.close()


class _OneLine(logging.Formatter):
    """Crashes are part of the show: one line each instead of a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return f"   ({record.getMessage()})"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true",
                        help="only the scripted phases (a few seconds), no churn")
    parser.add_argument("--seed", type=int, default=7, help="seed of the random crashes")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    logging.getLogger("steady").addHandler(handler)
    logging.getLogger("steady").propagate = False
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:  # lines from the narrator threads never interleave
            print(line, flush=True)

    try:
        outcome = run(short=args.short, seed=args.seed, say=say)
    except (TimeoutError, steady.Error, RuntimeError) as err:
        print(f"game_fleet: {err}", file=sys.stderr)
        return 1
    summary = f"== done: {outcome.conflicts} allocation conflicts resolved by compare-and-swap"
    if not args.short:
        summary += f", {outcome.churn_allocations} allocations during churn"
    print(summary)
    problems = outcome.problems()
    for p in problems:
        print(f"PROBLEM: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
