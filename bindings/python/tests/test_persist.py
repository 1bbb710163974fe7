"""An engine that keeps its state in a data dir (configuration key ``persist``)."""

from __future__ import annotations

import shutil
import tempfile
import unittest

import steady

CONFIG_MAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "kept"},
    "data": {"k": "v"},
}


class Persist(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="steady-py-persist-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def engine(self, durability: str = "sync") -> steady.Engine:
        return steady.Engine(workers=1, persist={"dir": self.dir, "durability": durability})

    def test_objects_and_their_versions_outlive_the_engine(self) -> None:
        with self.engine() as e:
            self.assertTrue(e.recovery_report()["fresh"])
            created = e.create(CONFIG_MAP)
        with self.engine() as again:
            report = again.recovery_report()
            self.assertFalse(report["fresh"])
            self.assertIsNone(report["truncation"])
            self.assertFalse(report["lostData"])
            kept = again.get("ConfigMap", "kept")
            self.assertEqual(kept["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"])
            self.assertEqual(kept["metadata"]["uid"], created["metadata"]["uid"])
            self.assertEqual(kept["data"], {"k": "v"})
            self.assertGreaterEqual(report["revision"], int(created["metadata"]["resourceVersion"]))

    def test_interval_durability_keeps_what_was_written_before_a_clean_close(self) -> None:
        with self.engine("interval:50ms") as e:
            e.create(CONFIG_MAP)
        with self.engine("interval:50ms") as again:
            self.assertEqual(again.get("ConfigMap", "kept")["data"], {"k": "v"})

    def test_a_second_engine_on_the_dir_is_refused(self) -> None:
        with self.engine():
            with self.assertRaises(steady.StorageError) as caught:
                self.engine()
            self.assertIn("in use by another engine", str(caught.exception))

    def test_bad_settings_name_the_key(self) -> None:
        with self.assertRaises(steady.Invalid) as caught:
            steady.Engine(persist={"dir": self.dir, "durability": "often"})
        self.assertIn("persist.durability", str(caught.exception))
        with self.assertRaises(steady.Invalid) as caught:
            steady.Engine(persist={"durability": "sync"})
        self.assertIn("persist.dir", str(caught.exception))

    def test_an_engine_without_persist_has_no_report(self) -> None:
        with steady.Engine(workers=1) as e:
            with self.assertRaises(steady.NotFound):
                e.recovery_report()


if __name__ == "__main__":
    unittest.main()
