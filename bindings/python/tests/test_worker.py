"""Python workers: start functions running pod containers on engine threads, their context
(identity, environment, ready, heartbeat, stop), exit codes, exceptions turned into failed
exits and restarts, stop functions, replacement, and use after an instance ended."""

from __future__ import annotations

import sys
import threading
import unittest
from typing import Any, Optional

import steady

from .support import eventually


def pod(name: str, node: str, image: str, policy: str = "Always", **labels: str) -> dict:
    """A pod running one container of ``image`` on ``node``."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "nodeName": node,
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "env": [{"name": "GREETING", "value": "hello"}],
                    "ports": [{"name": "http", "containerPort": 9000}],
                }
            ],
        },
    }


def container_status(e: steady.Engine, name: str) -> dict[str, Any]:
    try:
        statuses = e.get("Pod", name).get("status", {}).get("containerStatuses", [])
    except steady.NotFound:
        return {}
    return statuses[0] if statuses else {}


def ready(e: steady.Engine, name: str) -> bool:
    return bool(container_status(e, name).get("ready"))


def phase(e: steady.Engine, name: str) -> Optional[str]:
    try:
        return e.get("Pod", name).get("status", {}).get("phase")
    except steady.NotFound:
        return None


def gone(e: steady.Engine, name: str) -> bool:
    try:
        e.get("Pod", name)
        return False
    except steady.NotFound:
        return True


def serve(ctx: steady.WorkerContext) -> None:
    """Ready at once; heartbeats until asked to stop."""
    ctx.ready()
    while not ctx.wait_stop(0.01):
        ctx.heartbeat()


class Workers(unittest.TestCase):
    def setUp(self) -> None:
        self.e = steady.Engine(workers=2)
        self.node = self.e.node_names()[0]

    def tearDown(self) -> None:
        self.e.close()

    def test_the_engine_has_one_local_node(self) -> None:
        names = self.e.node_names()
        self.assertEqual(len(names), 1)
        self.assertIsInstance(names[0], str)
        eventually(lambda: any(n["metadata"]["name"] == names[0] for n in self.e.list("Node")),
                   "the Node object")

    def test_a_worker_sees_its_pod_and_environment_and_reports_ready(self) -> None:
        e = self.e
        seen: dict[str, Any] = {}
        threads: list[str] = []

        def start(ctx: steady.WorkerContext) -> None:
            threads.append(threading.current_thread().name)
            seen.update(pod=ctx.pod_name, ns=ctx.namespace, node=ctx.node_name,
                        container=ctx.container_name, uid=ctx.pod_uid,
                        greeting=ctx.env("GREETING"), pod_env=ctx.env("POD_NAME"),
                        missing=ctx.env("MISSING"), mount=ctx.mount("/data"),
                        stopping=ctx.stopping)
            # A worker may use the engine: here it reads its own pod.
            own = ctx.engine.get("Pod", ctx.pod_name, namespace=ctx.namespace)
            seen["image"] = own["spec"]["containers"][0]["image"]
            ctx.log(f"hello from {ctx.pod_name}")
            serve(ctx)

        e.register_worker("echo", start)
        created = e.create(pod("p1", self.node, "echo"))
        eventually(lambda: ready(e, "p1"), "the worker is ready")
        self.assertEqual(phase(e, "p1"), "Running")
        conditions = {c["type"]: c["status"] for c in e.get("Pod", "p1")["status"]["conditions"]}
        self.assertEqual(conditions["Ready"], "True")
        self.assertEqual(seen, {
            "pod": "p1", "ns": "default", "node": self.node, "container": "main",
            "uid": created["metadata"]["uid"], "greeting": "hello", "pod_env": "p1",
            "missing": None, "mount": None, "stopping": False, "image": "echo",
        })
        self.assertNotIn(threading.main_thread().name, threads)
        eventually(lambda: "hello from p1" in e.logs("p1"), "the logged line")
        self.assertIn("hello from p1", e.logs("p1", container="main"))

    def test_an_exception_is_a_logged_exit_with_code_1_and_the_container_restarts(self) -> None:
        e = self.e
        starts: list[int] = []

        def start(ctx: steady.WorkerContext) -> None:
            starts.append(1)
            ctx.ready()
            if len(starts) == 1:
                raise RuntimeError("the level file is corrupt")
            serve(ctx)

        with self.assertLogs("steady", level="ERROR") as logs:
            e.register_worker("flaky", start)
            e.create(pod("p1", self.node, "flaky"))
            eventually(lambda: container_status(e, "p1").get("restartCount") == 1
                       and ready(e, "p1"), "restarted and ready again")
        self.assertIn("RuntimeError: the level file is corrupt", logs.output[0])
        last = container_status(e, "p1")["lastState"]["terminated"]
        self.assertEqual(last["exitCode"], 1)
        self.assertEqual(last["reason"], "Error")
        self.assertEqual(last["message"], "RuntimeError: the level file is corrupt")
        previous = e.logs("p1", previous=True)
        self.assertIn("Traceback (most recent call last):", previous)
        self.assertIn("RuntimeError: the level file is corrupt", previous)
        self.assertNotIn("Traceback", e.logs("p1"))

    def test_the_return_value_is_the_exit_code(self) -> None:
        e = self.e
        outcomes = {"done": None, "zero": 0, "three": 3, "odd": "soon"}

        def start(ctx: steady.WorkerContext) -> Optional[int]:
            if ctx.pod_name == "exits":
                sys.exit(4)
            return outcomes[ctx.pod_name]  # type: ignore[return-value]

        e.register_worker("once", start)
        with self.assertLogs("steady", level="ERROR") as logs:
            for name in [*outcomes, "exits"]:
                e.create(pod(name, self.node, "once", policy="Never"))
            for name in [*outcomes, "exits"]:
                eventually(lambda: phase(e, name) in ("Succeeded", "Failed"), f"{name} ended")
        code = {n: container_status(e, n)["state"]["terminated"]["exitCode"]
                for n in [*outcomes, "exits"]}
        self.assertEqual(code, {"done": 0, "zero": 0, "three": 3, "odd": 1, "exits": 4})
        self.assertEqual(phase(e, "done"), "Succeeded")
        self.assertEqual(phase(e, "three"), "Failed")
        self.assertIn("TypeError", "\n".join(logs.output))

    def test_stop_gets_the_same_context_while_start_runs_and_start_returns(self) -> None:
        e = self.e
        contexts: list[steady.WorkerContext] = []
        stopped: list[tuple[bool, bool]] = []
        returned = threading.Event()
        release = threading.Event()

        def start(ctx: steady.WorkerContext) -> None:
            contexts.append(ctx)
            ctx.ready()
            release.wait(30)  # a worker with its own way of being told to stop
            returned.set()

        def stop(ctx: steady.WorkerContext) -> None:
            stopped.append((ctx is contexts[0], ctx.stopping))
            release.set()

        e.register_worker("srv", start, stop)
        e.create(pod("p1", self.node, "srv"))
        eventually(lambda: ready(e, "p1"), "ready")
        e.delete("Pod", "p1")
        eventually(lambda: gone(e, "p1"), "the pod is gone")
        self.assertTrue(returned.is_set())
        # The stop function ran before stopping turned true, with the start function's
        # context.
        self.assertEqual(stopped, [(True, False)])

    def test_a_context_used_after_its_instance_ended_raises_closed(self) -> None:
        e = self.e
        kept: list[steady.WorkerContext] = []

        def start(ctx: steady.WorkerContext) -> None:
            kept.append(ctx)

        e.register_worker("brief", start)
        e.create(pod("p1", self.node, "brief", policy="Never"))
        eventually(lambda: phase(e, "p1") == "Succeeded", "the instance ended")
        ctx = kept[0]
        self.assertTrue(ctx.closed)
        self.assertEqual(ctx.pod_name, "p1")  # names are copies
        for call in (ctx.ready, ctx.not_ready, ctx.heartbeat, lambda: ctx.stopping,
                     lambda: ctx.wait_stop(0), lambda: ctx.log("x"), lambda: ctx.env("A"),
                     lambda: ctx.mount("/a")):
            with self.assertRaises(steady.Closed):
                call()

    def test_a_waiting_worker_does_not_hold_the_gil(self) -> None:
        e = self.e
        waiting = threading.Event()

        def start(ctx: steady.WorkerContext) -> None:
            ctx.ready()
            waiting.set()
            ctx.wait_stop()  # no limit: until the pod is deleted

        e.register_worker("idle", start)
        e.create(pod("p1", self.node, "idle"))
        self.assertTrue(waiting.wait(20))
        # Python code on another thread runs while the worker waits (it would block until
        # the pod is deleted, below, if the wait held the GIL).
        done = threading.Event()

        def busy() -> None:
            sum(range(100_000))
            e.get("Pod", "p1")
            done.set()

        t = threading.Thread(target=busy)
        t.start()
        self.assertTrue(done.wait(20), "another Python thread was blocked")
        t.join()
        e.delete("Pod", "p1")
        eventually(lambda: gone(e, "p1"), "the waiting worker stopped")

    def test_registering_an_image_again_replaces_the_worker_for_new_containers(self) -> None:
        e = self.e
        ran: list[str] = []

        def first(ctx: steady.WorkerContext) -> None:
            ran.append("first " + ctx.pod_name)
            serve(ctx)

        def second(ctx: steady.WorkerContext) -> None:
            ran.append("second " + ctx.pod_name)
            serve(ctx)

        e.register_worker("game", first)
        e.create(pod("a", self.node, "game"))
        eventually(lambda: ready(e, "a"), "a is ready")
        e.register_worker("game", second)
        e.create(pod("b", self.node, "game"))
        eventually(lambda: ready(e, "b"), "b is ready")
        self.assertEqual(ran, ["first a", "second b"])
        self.assertTrue(ready(e, "a"), "the running instance goes on")

    def test_an_exception_in_stop_is_logged_and_the_instance_still_stops(self) -> None:
        e = self.e

        def stop(ctx: steady.WorkerContext) -> None:
            raise ValueError("stop went wrong")

        e.register_worker("srv", serve, stop)
        e.create(pod("p1", self.node, "srv"))
        eventually(lambda: ready(e, "p1"), "ready")
        with self.assertLogs("steady", level="ERROR") as logs:
            e.delete("Pod", "p1")
            eventually(lambda: gone(e, "p1"), "stopped anyway")
        self.assertIn("ValueError: stop went wrong", "\n".join(logs.output))

    def test_closing_the_engine_stops_every_worker_and_waits_for_it(self) -> None:
        e = steady.Engine(workers=1)
        node = e.node_names()[0]
        returned: list[str] = []

        def start(ctx: steady.WorkerContext) -> None:
            serve(ctx)
            returned.append(ctx.pod_name)

        e.register_worker("srv", start)
        for name in ("a", "b"):
            e.create(pod(name, node, "srv"))
        eventually(lambda: ready(e, "a") and ready(e, "b"), "both ready")
        e.close()
        self.assertEqual(sorted(returned), ["a", "b"])

    def test_bad_registrations_and_log_requests_raise(self) -> None:
        e = self.e
        with self.assertRaises(steady.Invalid) as cm:
            e.register_worker("", serve)
        self.assertIn("image", str(cm.exception))
        with self.assertRaises(TypeError):
            e.register_worker("x", "not a function")  # type: ignore[arg-type]
        with self.assertRaises(steady.Invalid):
            e.register_worker("caf\udcc3", serve)  # not UTF-8
        with self.assertRaises(steady.NotFound) as nf:
            e.logs("ghost")
        self.assertIn("ghost", str(nf.exception))
        e.register_worker("srv", serve)
        e.create(pod("p1", self.node, "srv"))
        eventually(lambda: ready(e, "p1"), "ready")
        with self.assertRaises(steady.Invalid) as cm:
            e.logs("p1", container="nope")
        self.assertIn('"nope"', str(cm.exception))
        with self.assertRaises(steady.Invalid) as cm:
            e.logs("p1", previous=True)
        self.assertIn("previous", str(cm.exception))
        closed = steady.Engine(workers=1)
        closed.close()
        for call in (lambda: closed.register_worker("x", serve), lambda: closed.logs("p"),
                     lambda: closed.node_names(), lambda: closed.resolve("s"),
                     lambda: closed.transaction([])):
            with self.assertRaises(steady.Closed):
                call()


class Services(unittest.TestCase):
    def setUp(self) -> None:
        self.e = steady.Engine(workers=2)
        self.node = self.e.node_names()[0]
        self.ready: dict[str, bool] = {}

        def start(ctx: steady.WorkerContext) -> None:
            was = None
            while not ctx.wait_stop(0.002):
                now = self.ready.get(ctx.pod_name, False)
                if now != was:
                    ctx.ready() if now else ctx.not_ready()
                    was = now

        self.e.register_worker("api", start)

    def tearDown(self) -> None:
        self.e.close()

    def test_resolve_takes_turns_among_ready_workers(self) -> None:
        e = self.e
        with self.assertRaises(steady.NotFound):
            e.resolve("api")
        e.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
                 "spec": {"selector": {"app": "api"},
                          "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
        e.create(pod("api-0", self.node, "api", app="api"))
        e.create(pod("api-1", self.node, "api", app="api"))
        with self.assertRaises(steady.Unavailable):
            e.resolve("api")
        with self.assertRaises(steady.Invalid) as cm:
            e.resolve("api", port="admin")
        self.assertIn('no port named "admin"', str(cm.exception))

        self.ready["api-0"] = True
        eventually(lambda: self._resolves(), "one ready endpoint")
        host, port = e.resolve("api", port="http")
        self.assertEqual(port, 9000)
        self.assertTrue(host.startswith("127."), host)
        self.ready["api-1"] = True
        seen: set[tuple[str, int]] = set()

        def both() -> bool:
            seen.add(e.resolve("api"))
            return len(seen) == 2

        eventually(both, "both endpoints in turn")
        self.ready.clear()
        eventually(lambda: not self._resolves(), "no ready endpoint")
        with self.assertRaises(steady.Unavailable) as un:
            e.resolve("api")
        self.assertIn("no ready endpoints", str(un.exception))

    def _resolves(self) -> bool:
        try:
            self.e.resolve("api")
            return True
        except steady.Unavailable:
            return False


if __name__ == "__main__":
    unittest.main()
