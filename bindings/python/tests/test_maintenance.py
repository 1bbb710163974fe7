"""Evictions that honour PodDisruptionBudgets, and node maintenance: cordon, uncordon and
drain (evictions retried within the budget, a report of what went)."""

from __future__ import annotations

import unittest

import steady

from .support import eventually


def ready_worker(ctx: steady.WorkerContext) -> None:
    ctx.ready()
    while not ctx.wait_stop(0.005):
        pass


def pod(name: str, node: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "ready"}],
        },
    }


def budget(min_available: int) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web"},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": "web"}}},
    }


class Maintenance(unittest.TestCase):
    def setUp(self) -> None:
        self.e = steady.Engine(workers=2)
        self.node = self.e.node_names()[0]
        self.e.register_worker("ready", ready_worker)
        for name in ("web-0", "web-1"):
            self.e.create(pod(name, self.node))
        self.e.apply(budget(2))
        eventually(lambda: self.status().get("currentHealthy") == 2, "both pods healthy")

    def tearDown(self) -> None:
        self.e.close()

    def status(self) -> dict:
        return self.e.get("PodDisruptionBudget", "web").get("status", {})

    def names(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.e.list("Pod")]

    def test_a_budget_refuses_an_eviction_in_kubernetes_words(self) -> None:
        with self.assertRaises(steady.Unavailable) as cm:
            self.e.evict("web-0")
        message = str(cm.exception)
        self.assertIn("Cannot evict pod as it would violate the pod's disruption budget.", message)
        self.assertIn("The disruption budget web needs 2 healthy pods and has 2 currently", message)
        self.assertEqual(self.names(), ["web-0", "web-1"])
        with self.assertRaises(steady.NotFound):
            self.e.evict("nope")

        self.e.apply(budget(1))
        eventually(
            lambda: self.status()["disruptionsAllowed"] == 1,
            "one disruption allowed",
        )
        last = self.e.evict("web-0")
        self.assertEqual(last["metadata"]["name"], "web-0")
        eventually(lambda: self.names() == ["web-1"], "the evicted pod gone")

    def test_cordon_drain_and_uncordon(self) -> None:
        # Blocked by the budget: the drain gives up at its timeout and reports both pods.
        report = self.e.drain(self.node, timeout=0.2, retry_interval=0.05)
        self.assertEqual(report["evicted"], [])
        self.assertEqual(sorted(f["name"] for f in report["failed"]), ["web-0", "web-1"])
        self.assertTrue(self.e.get("Node", self.node)["spec"]["unschedulable"])
        self.e.uncordon(self.node)
        self.assertNotIn("unschedulable", self.e.get("Node", self.node).get("spec", {}))
        self.e.cordon(self.node)
        self.assertTrue(self.e.get("Node", self.node)["spec"]["unschedulable"])

        self.e.apply(budget(0))
        eventually(
            lambda: self.status()["disruptionsAllowed"] == 2,
            "two disruptions allowed",
        )
        report = self.e.drain(self.node, timeout=60)
        report["evicted"].sort(key=lambda p: p["name"])
        self.assertEqual(
            report,
            {
                "evicted": [
                    {"namespace": "default", "name": "web-0"},
                    {"namespace": "default", "name": "web-1"},
                ],
                "skipped": [],
                "failed": [],
            },
        )
        self.assertEqual(self.names(), [])
        with self.assertRaises(steady.NotFound):
            self.e.drain("no-such-node")
        with self.assertRaises(steady.NotFound):
            self.e.cordon("no-such-node")


if __name__ == "__main__":
    unittest.main()
