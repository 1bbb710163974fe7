"""A Python controller and Python workers keep a small fleet alive while the workers raise
exceptions, on command and at random.

The custom kind ``Fleet`` (``spec.replicas``) is reconciled by a Python controller that
runs worker Pods on the engine's node (``spec.nodeName``: there is no scheduler), replaces
pods whose container is crash-looping, and deletes extra ones. The Python workers report
ready and heartbeat, and raise when told to or at random. After each failure the number of
Running and Ready pods returns to ``spec.replicas``, through restarts (a failed container
restarts at once the first time) or replacements (a container failing again would wait in
CrashLoopBackOff: the controller replaces its pod).
"""

from __future__ import annotations

import random
import threading
import unittest
from typing import Any, Optional

import steady

from .support import TEST_KINDS, eventually

FLEET = "example.com/v1/Fleet"
IMAGE = "fleet-worker"
LABEL = "example.com/fleet"


def running_and_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status", {})
    conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
    return (
        "deletionTimestamp" not in pod["metadata"]
        and status.get("phase") == "Running"
        and conditions.get("Ready") == "True"
    )


def crash_looping(pod: dict[str, Any]) -> bool:
    for c in pod.get("status", {}).get("containerStatuses", []):
        if c.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff":
            return True
    return pod.get("status", {}).get("phase") == "Failed"


class Fleet(unittest.TestCase):
    def setUp(self) -> None:
        self.e = steady.Engine(kinds=TEST_KINDS, workers=2)
        self.node = self.e.node_names()[0]
        self.commands: dict[str, str] = {}
        self.random_failure_rate = 0.0  # per worker tick
        self.rng = random.Random(7)
        self.rng_lock = threading.Lock()
        self.raised = 0
        self.replaced: list[str] = []
        self.e.register_worker(IMAGE, self.worker)
        self.e.controller(FLEET, name="fleet", owns=["Pod"])(self.reconcile)

    def tearDown(self) -> None:
        self.e.close()

    # -- the worker -------------------------------------------------------------------------

    def worker(self, ctx: steady.WorkerContext) -> None:
        ctx.ready()
        while not ctx.wait_stop(0.005):
            ctx.heartbeat()
            if self.commands.pop(ctx.pod_name, None) == "fail":
                self.raised += 1
                raise RuntimeError(f"{ctx.pod_name} was told to fail")
            with self.rng_lock:
                unlucky = self.rng.random() < self.random_failure_rate
            if unlucky:
                self.raised += 1
                raise RuntimeError(f"{ctx.pod_name} failed at random")

    # -- the controller -----------------------------------------------------------------------

    def reconcile(self, req: steady.Request) -> None:
        e = self.e
        ns = req.namespace or "default"
        pods = e.list("Pod", namespace=ns, selector={LABEL: req.name})
        fleet = req.object()
        if fleet is None:  # the fleet is gone, and so are its pods
            for p in pods:
                self._delete(p["metadata"]["name"], ns)
            return None
        live = [p for p in pods if "deletionTimestamp" not in p["metadata"]]
        for p in [p for p in live if crash_looping(p)]:
            self.replaced.append(p["metadata"]["name"])
            self._delete(p["metadata"]["name"], ns)
            live.remove(p)
        replicas = int(fleet["spec"]["replicas"])
        for _ in range(replicas - len(live)):
            e.create({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "generateName": f"{req.name}-", "namespace": ns,
                    "labels": {LABEL: req.name},
                    "ownerReferences": [{"apiVersion": req.api_version, "kind": req.kind,
                                         "name": req.name, "uid": fleet["metadata"]["uid"],
                                         "controller": True}],
                },
                "spec": {"nodeName": self.node, "terminationGracePeriodSeconds": 5,
                         "containers": [{"name": "server", "image": IMAGE}]},
            })
        # Scale down: not-ready pods first, then the newest.
        extra = sorted(live, key=lambda p: (running_and_ready(p),
                                            p["metadata"]["creationTimestamp"]), reverse=False)
        for p in extra[: max(0, len(live) - replicas)]:
            self._delete(p["metadata"]["name"], ns)
        status = {"replicas": min(len(live), replicas) if live else 0,
                  "readyReplicas": sum(running_and_ready(p) for p in live)}
        if fleet.get("status") != status:
            e.patch(FLEET, req.name, {"status": status}, namespace=ns, status=True)
        return None

    def _delete(self, name: str, ns: str) -> None:
        try:
            self.e.delete("Pod", name, namespace=ns)
        except steady.NotFound:
            pass

    # -- observations -------------------------------------------------------------------------

    def pods(self) -> list[dict[str, Any]]:
        return self.e.list("Pod", selector={LABEL: "arena"})

    def healthy(self, replicas: int) -> bool:
        pods = self.pods()
        return len(pods) == replicas and all(running_and_ready(p) for p in pods)

    def restarts(self, name: Optional[str] = None) -> int:
        return sum(c.get("restartCount", 0)
                   for p in self.pods() if name is None or p["metadata"]["name"] == name
                   for c in p.get("status", {}).get("containerStatuses", []))

    def test_a_python_controller_and_python_workers_keep_the_fleet_alive(self) -> None:
        e = self.e
        with self.assertLogs("steady", level="ERROR") as logs:
            e.create({"apiVersion": "example.com/v1", "kind": "Fleet",
                      "metadata": {"name": "arena"}, "spec": {"replicas": 3}})
            eventually(lambda: self.healthy(3), "3 Running and Ready pods")
            names = sorted(p["metadata"]["name"] for p in self.pods())

            # Each worker raises once, on command: its container restarts, the fleet heals.
            for name in names:
                self.commands[name] = "fail"
                eventually(lambda: self.restarts(name) == 1 and self.healthy(3),
                           f"{name} restarted and the fleet back at 3")
            self.assertEqual(self.raised, 3)
            self.assertIn(f"{names[0]} was told to fail", e.logs(names[0], previous=True))

            # A second failure of the same worker would wait in CrashLoopBackOff: the
            # controller replaces its pod instead.
            self.commands[names[0]] = "fail"
            eventually(lambda: names[0] in self.replaced and self.healthy(3),
                       f"{names[0]} replaced and the fleet back at 3")
            self.assertNotIn(names[0], [p["metadata"]["name"] for p in self.pods()])

            # Workers failing at random for a while; then the fleet settles again.
            before = self.raised
            self.random_failure_rate = 0.02
            eventually(lambda: self.raised >= before + 6, "random failures")
            self.random_failure_rate = 0.0
            eventually(lambda: self.healthy(3), "the fleet back at 3 after random failures")
            eventually(lambda: e.get(FLEET, "arena").get("status", {}).get("readyReplicas") == 3,
                       "the fleet's status says 3 ready")

            # Scaling: the controller deletes the extra pod, and makes it again.
            e.patch(FLEET, "arena", {"spec": {"replicas": 2}})
            eventually(lambda: self.healthy(2), "scaled down to 2")
            e.patch(FLEET, "arena", {"spec": {"replicas": 3}})
            eventually(lambda: self.healthy(3), "scaled up to 3")
        self.assertTrue(any("was told to fail" in line for line in logs.output))
        self.assertTrue(any("failed at random" in line for line in logs.output))


if __name__ == "__main__":
    unittest.main()
