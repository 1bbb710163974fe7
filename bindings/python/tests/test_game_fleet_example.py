"""examples/python/game_fleet.py runs its short scenario to completion: concurrent
allocations get distinct servers, a crashed and a hung server are marked Unhealthy and
replaced, racing allocations never share a server, a bad autoscaler is refused, and the
autoscaler keeps the buffer."""

from __future__ import annotations

import importlib.util
import logging
import sys
import unittest
from pathlib import Path
from types import ModuleType

import steady

EXAMPLE = Path(steady.__file__).resolve().parents[3] / "examples" / "python" / "game_fleet.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("game_fleet_example", EXAMPLE)
    assert spec is not None and spec.loader is not None, EXAMPLE
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@unittest.skipUnless(EXAMPLE.is_file(), f"{EXAMPLE} is not in this checkout")
class GameFleetExample(unittest.TestCase):
    def test_the_short_scenario_allocates_heals_and_keeps_its_buffer(self) -> None:
        game_fleet = load_example()
        lines: list[str] = []
        # The crashed game server's exception is logged: part of the scenario.
        with self.assertLogs("steady", level=logging.ERROR):
            outcome = game_fleet.run(short=True, say=lines.append)
        log = "\n".join(lines)
        self.assertEqual(outcome.problems(), [], log)

        granted = [a for a in outcome.concurrent if a.state == "Allocated"]
        self.assertEqual(len(granted), 2, log)
        self.assertNotEqual(granted[0].game_server, granted[1].game_server)
        self.assertTrue(outcome.packed.holds(), outcome.packed)
        self.assertIn("crashed (on command)", outcome.crashed.reason)
        self.assertIn("liveness", outcome.hung.reason)
        self.assertNotEqual(outcome.crashed.victim, outcome.hung.victim)
        raced = [a.game_server for a in outcome.contended if a.state == "Allocated"]
        self.assertEqual(len(raced), len(set(raced)))
        self.assertFalse(set(raced) & outcome.allocated_before_race)
        self.assertIn("spec.policy.buffer.bufferSize", outcome.refused)
        self.assertEqual(outcome.end, game_fleet.FleetCounts(replicas=3, ready=3, allocated=0),
                         log)
        # It printed what happened as it went.
        self.assertIn("allocation match-1: ", log)
        self.assertIn(": Unhealthy (", log)


if __name__ == "__main__":
    unittest.main()
