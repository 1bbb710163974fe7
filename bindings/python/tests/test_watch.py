"""Watches as iterators of events."""

from __future__ import annotations

import threading
import unittest

import steady

from .support import TEST_KINDS, widget

W = "example.com/v1/Widget"


class Watches(unittest.TestCase):
    def setUp(self) -> None:
        self.e = steady.Engine(kinds=TEST_KINDS, workers=1, history_limit=3)

    def tearDown(self) -> None:
        self.e.close()

    def test_a_watch_from_now_starts_with_the_current_objects(self) -> None:
        self.e.create(widget("a"))
        with self.e.watch(W, timeout=0.2) as w:
            first = next(w)
            self.assertEqual((first.type, first.object["metadata"]["name"]), ("ADDED", "a"))
            self.e.patch(W, "a", {"spec": {"size": 2}})
            self.e.delete(W, "a")
            rest = [(ev.type, ev.object["spec"]["size"]) for ev in w]
            self.assertEqual(rest, [("MODIFIED", 2), ("DELETED", 2)])

    def test_a_watch_since_a_list_replays_what_followed(self) -> None:
        self.e.create(widget("a"))
        listed = self.e.list(W)
        self.e.create(widget("b", color="blue"))
        self.e.create(widget("c"))
        events = list(self.e.watch(W, since=listed.resource_version, timeout=0.1))
        self.assertEqual([ev.object["metadata"]["name"] for ev in events], ["b", "c"])
        self.assertTrue(int(events[0].resource_version) > int(listed.resource_version))
        blue = list(self.e.watch(W, since=listed.resource_version, selector={"color": "blue"}, timeout=0.1))
        self.assertEqual([ev.object["metadata"]["name"] for ev in blue], ["b"])
        prod = list(self.e.watch(W, since=listed.resource_version, namespace="prod", timeout=0.1))
        self.assertEqual(prod, [])

    def test_history_that_is_gone_raises_expired(self) -> None:
        for i in range(6):
            self.e.create(widget(f"w{i}"))
        with self.assertRaises(steady.Expired) as cm:
            self.e.watch(W, since=1)
        self.assertIn("too old resource version", str(cm.exception))

    def test_a_resource_version_beyond_the_engines_is_refused(self) -> None:
        listed = self.e.list(W)
        # Far beyond: the engine's own writes (leases, events) may reach listed + 1 meanwhile.
        with self.assertRaises(steady.Invalid) as cm:
            self.e.watch(W, since=int(listed.resource_version) + 1_000_000)
        self.assertIn("too large resource version", str(cm.exception))

    def test_closing_the_engine_ends_the_iteration(self) -> None:
        w = self.e.watch(W)  # no timeout: it waits until the engine closes
        seen: list[str] = []
        t = threading.Thread(target=lambda: seen.extend(ev.type for ev in w))
        t.start()
        self.e.create(widget("a"))
        self.e.close()
        t.join(timeout=20)
        self.assertFalse(t.is_alive())
        self.assertEqual(seen, ["ADDED"])
        w.close()

    def test_next_with_a_timeout_gives_none_when_nothing_happens(self) -> None:
        with self.e.watch(W) as w:
            self.assertIsNone(w.next(timeout=0.05))

    def test_a_closed_watch_raises(self) -> None:
        w = self.e.watch(W)
        w.close()
        with self.assertRaises(steady.Closed):
            next(w)


if __name__ == "__main__":
    unittest.main()
