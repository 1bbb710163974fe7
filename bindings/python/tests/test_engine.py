"""Engine lifecycle, configuration, library lookup and use after close."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import steady

PACKAGE_ROOT = Path(steady.__file__).resolve().parent.parent


class EngineLifecycle(unittest.TestCase):
    def test_the_embedded_default_starts_and_closes(self) -> None:
        e = steady.Engine()
        self.assertFalse(e.closed)
        e.close()
        self.assertTrue(e.closed)
        e.close()  # idempotent

    def test_a_context_manager_closes_the_engine(self) -> None:
        with steady.Engine(workers=1) as e:
            e.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
        self.assertTrue(e.closed)

    def test_use_after_close_raises_closed_instead_of_crashing(self) -> None:
        e = steady.Engine(workers=1)
        e.close()
        for call in (
            lambda: e.get("ConfigMap", "a"),
            lambda: e.apply("a: b"),
            lambda: e.list("ConfigMap"),
            lambda: e.metrics(),
            lambda: e.watch("ConfigMap"),
            lambda: e.controller("ConfigMap")(lambda req: None),
        ):
            with self.assertRaises(steady.Closed) as cm:
                call()
            self.assertIsInstance(cm.exception, steady.Error)
            self.assertEqual(str(cm.exception), "this engine is closed")

    def test_configuration_keys_are_engine_settings(self) -> None:
        config = {
            "workers": 2,
            "history_limit": 10,
            "watch_capacity": 100,
            "max_object_bytes": 2048,
            "shutdown_grace_ms": 500,
            "kinds": [{"apiVersion": "example.com/v1", "kind": "Cluster", "namespaced": False}],
        }
        with steady.Engine(config) as e:
            e.create({"apiVersion": "example.com/v1", "kind": "Cluster", "metadata": {"name": "c"}})
            self.assertNotIn("namespace", e.get("example.com/v1/Cluster", "c")["metadata"])
            big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
                   "data": {"k": "x" * 4096}}
            with self.assertRaises(steady.TooLarge) as cm:
                e.create(big)
            self.assertIn("over the size limit of 2048 bytes", str(cm.exception))

    def test_an_image_table_runs_commandless_containers(self) -> None:
        images = {"hello:1": {"command": ["sh", "-c"], "args": ["echo hello from $WHO; exec sleep 60"],
                              "env": {"WHO": "the image"}}}
        with steady.Engine(workers=1, images=images) as e:
            e.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hello"},
                     "spec": {"containers": [{"name": "main", "image": "hello:1"}]}})
            deadline = time.monotonic() + 30
            out = ""
            while time.monotonic() < deadline:
                try:
                    out = e.logs("hello")
                except steady.NotFound:
                    out = ""
                if out:
                    break
                time.sleep(0.05)
            self.assertEqual(out, "hello from the image\n")
        with self.assertRaises(steady.Invalid) as cm:
            steady.Engine(images={"hello": {"comand": ["x"]}})
        self.assertIn('"images"', str(cm.exception))
        self.assertIn("comand", str(cm.exception))

    def test_a_host_reports_pod_metrics_and_usage(self) -> None:
        with steady.Engine(workers=1) as e:
            e.report_pod_metric("web-0", "requests_per_second", 12.5)
            e.report_pod_usage("web-0", "cpu", "250m", namespace="default")
            with self.assertRaises(steady.Invalid) as cm:
                e.report_pod_usage("web-0", "memory", "lots")
            self.assertIn("usage of memory by pod default/web-0", str(cm.exception))
            with self.assertRaises(steady.Invalid):
                e.report_pod_metric("web-0", "rps", float("nan"))

    def test_the_api_server_serves_kubectl_with_its_kubeconfig(self) -> None:
        try:
            served = steady.Engine(workers=1, api_server={"bind": "127.0.0.1:0"})
        except steady.Invalid as err:
            # A package built with the library's default features (pip install) has none.
            if "does not include the API server" in str(err):
                self.skipTest(str(err))
            raise
        with served as e:
            config = e.kubeconfig()
            self.assertIn("server: https://127.0.0.1:", config)
            self.assertIn("certificate-authority-data:", config)
            self.assertIn("token:", config)
            if shutil.which("kubectl"):
                with tempfile.TemporaryDirectory() as d:
                    path = Path(d) / "kubeconfig"
                    path.write_text(config)
                    out = subprocess.run(
                        ["kubectl", "get", "namespaces", "-o", "name"],
                        env={**os.environ, "KUBECONFIG": str(path), "HOME": d},
                        capture_output=True, text=True, timeout=60, check=True,
                    ).stdout
                    self.assertIn("namespace/kube-system", out)
        with steady.Engine(workers=1) as e:
            with self.assertRaises(steady.NotFound):
                e.kubeconfig()

    def test_an_unknown_configuration_key_is_invalid_naming_it(self) -> None:
        with self.assertRaises(steady.Invalid) as cm:
            steady.Engine(wrokers=2)
        self.assertIn('unknown key "wrokers"', str(cm.exception))
        with self.assertRaises(steady.Invalid) as cm:
            steady.Engine(workers="two")
        self.assertIn('"workers"', cm.exception.message)
        self.assertEqual(cm.exception.code, 4)

    def test_the_version_is_the_librarys(self) -> None:
        self.assertRegex(steady.__version__, r"^\d+\.\d+\.\d+$")


class LibraryLookup(unittest.TestCase):
    def run_python(self, env: dict[str, str]) -> subprocess.CompletedProcess:
        full = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), **env}
        return subprocess.run(
            [sys.executable, "-c", "import steady; steady.Engine().close(); print(steady.library_path())"],
            env=full,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_steady_library_names_the_library(self) -> None:
        lib = os.environ.get("STEADY_LIBRARY") or steady.library_path()
        r = self.run_python({"STEADY_LIBRARY": lib})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), lib)

    def test_a_wrong_steady_library_is_reported(self) -> None:
        r = self.run_python({"STEADY_LIBRARY": "/nonexistent/libsteady.so"})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("STEADY_LIBRARY is '/nonexistent/libsteady.so', which is not a file", r.stderr)


if __name__ == "__main__":
    unittest.main()
