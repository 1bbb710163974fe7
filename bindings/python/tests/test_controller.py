"""Python controllers: reconcile functions on engine threads, re-entering the engine,
exceptions turned into retried errors, terminal errors, requeues."""

from __future__ import annotations

import gc
import logging
import threading
import unittest
from typing import Optional

import steady

from .support import TEST_KINDS, eventually, widget

W = "example.com/v1/Widget"


def config_map_exists(e: steady.Engine, name: str) -> bool:
    try:
        e.get("ConfigMap", name)
        return True
    except steady.NotFound:
        return False


class Controllers(unittest.TestCase):
    def setUp(self) -> None:
        self.e = steady.Engine(kinds=TEST_KINDS, workers=2)

    def tearDown(self) -> None:
        self.e.close()

    def test_a_controller_reconciles_existing_and_new_objects_through_the_engine(self) -> None:
        e = self.e
        e.create(widget("early"))
        threads: set[str] = set()
        found_existing: list[str] = []

        @e.controller(W, owns=["ConfigMap"])
        def widgets(req: steady.Request) -> None:
            threads.add(threading.current_thread().name)
            obj = req.object()
            if obj is None:
                return None
            try:
                e.create({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": req.name, "namespace": req.namespace,
                                       "ownerReferences": [{"apiVersion": req.api_version,
                                                            "kind": req.kind, "name": req.name,
                                                            "uid": obj["metadata"]["uid"],
                                                            "controller": True}]}})
            except steady.AlreadyExists:
                found_existing.append(req.name)
            e.patch(req.kind_name, req.name, {"status": {"ready": True}}, status=True)
            return None

        eventually(lambda: config_map_exists(e, "early"), "the existing Widget's ConfigMap")
        # A reconcile of "early" after its ConfigMap exists can only come from the ConfigMap
        # informer: once seen, that informer is watching. (add_controller returns before its
        # informers have opened their watches; a child created and deleted in between would
        # go unnoticed. Reported to the runtime's owner.)
        eventually(lambda: "early" in found_existing, "the ConfigMap informer is running")
        e.create(widget("late"))
        eventually(lambda: e.get(W, "late").get("status") == {"ready": True}, "late is ready")
        # An owned object's change wakes its owner, which repairs it.
        e.delete("ConfigMap", "late")
        eventually(lambda: config_map_exists(e, "late"), "the ConfigMap is back")
        self.assertNotIn(threading.main_thread().name, threads)

    def test_an_exception_is_logged_and_retried_and_the_engine_keeps_running(self) -> None:
        e = self.e
        calls: list[int] = []

        @e.controller(W)
        def flaky(req: steady.Request) -> None:
            calls.append(req.retries)
            if len(calls) <= 3:
                raise RuntimeError(f"not yet ({len(calls)})")
            e.patch(W, req.name, {"status": {"ok": True}}, status=True)

        with self.assertLogs("steady", level="ERROR") as logs:
            e.create(widget("a"))
            eventually(lambda: e.get(W, "a").get("status") == {"ok": True}, "success after retries")
        self.assertEqual(calls[:4], [0, 1, 2, 3], "each failure counts as a retry")
        self.assertIn("RuntimeError: not yet (1)", logs.output[0])
        metrics = e.metrics()
        self.assertIn('controller_runtime_reconcile_total{controller="flaky",result="error"} 3', metrics)
        # The engine and its other work go on.
        e.create(widget("b"))
        eventually(lambda: e.get(W, "b").get("status") == {"ok": True}, "the next object")

    def test_a_terminal_error_is_not_retried_until_the_object_changes(self) -> None:
        calls: list[str] = []

        @self.e.controller(W, name="final")
        def reconcile(req: steady.Request) -> None:
            calls.append(req.name)
            raise steady.TerminalError("this spec can never work")

        with self.assertLogs("steady", level="ERROR"):
            self.e.create(widget("a"))
            eventually(lambda: 'controller_runtime_terminal_reconcile_errors_total{controller="final"} 1'
                       in self.e.metrics(), "the terminal error is counted")
        self.assertEqual(calls, ["a"])

    def test_returning_seconds_requeues(self) -> None:
        calls: list[int] = []

        @self.e.controller(W)
        def poll(req: steady.Request) -> float:
            calls.append(1)
            return 0.001

        self.e.create(widget("a"))
        eventually(lambda: len(calls) >= 5, "reconciled again and again")

    def test_returning_something_else_is_an_error(self) -> None:
        retries: list[int] = []

        @self.e.controller(W)
        def odd(req: steady.Request) -> Optional[float]:
            retries.append(req.retries)
            return "soon"  # type: ignore[return-value]

        with self.assertLogs("steady", level="ERROR") as logs:
            self.e.create(widget("a"))
            eventually(lambda: len(retries) >= 2, "retried")
        self.assertIn("TypeError", logs.output[0])

    def test_the_function_is_kept_alive_while_registered(self) -> None:
        seen: list[str] = []

        def register() -> None:
            def local(req: steady.Request) -> None:
                seen.append(req.name)

            self.e.controller(W, name="local")(local)

        register()
        gc.collect()
        self.e.create(widget("a"))
        eventually(lambda: seen == ["a"], "the local function ran")

    def test_a_duplicate_name_or_unknown_kind_is_refused(self) -> None:
        self.e.controller(W, name="one")(lambda req: None)
        with self.assertRaises(steady.AlreadyExists):
            self.e.controller(W, name="one")(lambda req: None)
        with self.assertRaises(steady.Invalid) as cm:
            self.e.controller("Widget", name="two")(lambda req: None)
        self.assertIn("unknown kind", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
