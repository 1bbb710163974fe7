"""Transactions: several writes commit together under one revision, or none does."""

from __future__ import annotations

import unittest

import steady

from .support import TEST_KINDS, widget

W = "example.com/v1/Widget"


def config_map(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


class Transactions(unittest.TestCase):
    def setUp(self) -> None:
        self.e = steady.Engine(kinds=TEST_KINDS, workers=1)

    def tearDown(self) -> None:
        self.e.close()

    def test_writes_commit_together_at_one_revision(self) -> None:
        made = self.e.transaction([
            {"op": "create", "object": config_map("a", n="1")},
            {"op": "create", "object": widget("w")},
        ])
        self.assertEqual([o["metadata"]["name"] for o in made], ["a", "w"])
        self.assertEqual(made[0]["metadata"]["resourceVersion"],
                         made[1]["metadata"]["resourceVersion"])
        self.assertEqual(self.e.get("ConfigMap", "a")["data"], {"n": "1"})

    def test_a_failed_compare_and_swap_writes_nothing(self) -> None:
        e = self.e
        a = e.create(config_map("a", n="1"))
        w = e.create(widget("w"))
        e.patch("ConfigMap", "a", {"data": {"n": "2"}})  # a changes: the version read is stale
        w["status"] = {"owner": "x"}
        a["data"] = {"n": "3"}
        with self.assertRaises(steady.Conflict) as cm:
            e.transaction([{"op": "updateStatus", "object": w}, {"op": "update", "object": a}])
        self.assertIn("default/a", str(cm.exception))
        self.assertNotIn("status", e.get(W, "w"))
        self.assertEqual(e.get("ConfigMap", "a")["data"], {"n": "2"})
        # Read again, retry: both commit.
        a = e.get("ConfigMap", "a")
        a["data"] = {"n": "3"}
        e.transaction([{"op": "updateStatus", "object": w}, {"op": "update", "object": a}])
        self.assertEqual(e.get(W, "w")["status"], {"owner": "x"})
        self.assertEqual(e.get("ConfigMap", "a")["data"], {"n": "3"})

    def test_checks_and_deletes(self) -> None:
        e = self.e
        w = e.create(widget("w"))
        e.create(config_map("a"))
        result = e.transaction([
            {"op": "check", "kind": W, "name": "w",
             "resourceVersion": w["metadata"]["resourceVersion"]},
            {"op": "check", "kind": "ConfigMap", "name": "gone", "resourceVersion": None},
            {"op": "delete", "kind": "ConfigMap", "namespace": "default", "name": "a"},
        ])
        self.assertEqual(result[0]["metadata"]["name"], "w")
        self.assertIsNone(result[1])
        self.assertEqual(result[2]["metadata"]["name"], "a")
        with self.assertRaises(steady.NotFound):
            e.get("ConfigMap", "a")
        with self.assertRaises(steady.Conflict):
            e.transaction([{"op": "check", "kind": W, "name": "w", "resourceVersion": "1"}])
        with self.assertRaises(steady.AlreadyExists):
            e.transaction([{"op": "check", "kind": W, "name": "w", "resourceVersion": None}])

    def test_malformed_operations_are_named_by_index(self) -> None:
        e = self.e
        cases = [
            ([], "at least one operation"),
            ([{"op": "upsert"}], 'ops_json[0]: "op": "upsert" is not one of'),
            ([{"op": "check", "kind": W, "name": "w"}], 'ops_json[0]: "resourceVersion" is required'),
            ([{"op": "delete", "kind": "ConfigMap", "name": "a"},
              {"op": "create", "object": {"kind": "ConfigMap"}}],
             "ops_json[1].object: apiVersion is required"),
            ([{"op": "delete", "kind": "Widget", "name": "w"}], 'unknown kind "Widget"'),
        ]
        for ops, message in cases:
            with self.subTest(ops=ops):
                with self.assertRaises(steady.Invalid) as cm:
                    e.transaction(ops)
                self.assertIn(message, str(cm.exception))


if __name__ == "__main__":
    unittest.main()
