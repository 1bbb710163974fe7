"""apply, get, list, create, update, update_status, patch, delete, metrics and their
errors."""

from __future__ import annotations

import threading
import unittest

import steady

from .support import TEST_KINDS, widget

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.25"}]
"""


class Objects(unittest.TestCase):
    def setUp(self) -> None:
        self.e = steady.Engine(kinds=TEST_KINDS, workers=1)

    def tearDown(self) -> None:
        self.e.close()

    def test_apply_takes_text_a_dict_or_a_list_and_reports(self) -> None:
        report = self.e.apply(WEB)
        self.assertEqual(report["objects"][0]["action"], "created")
        self.assertEqual(report["objects"][0]["kind"], "Deployment")
        self.assertEqual(self.e.apply(WEB)["objects"][0]["action"], "unchanged")
        one = self.e.apply(widget("a"))
        self.assertEqual(one["objects"][0]["name"], "a")
        many = self.e.apply([widget("b"), widget("c")])
        self.assertEqual([o["name"] for o in many["objects"]], ["b", "c"])

    def test_apply_errors_name_the_document_and_field(self) -> None:
        with self.assertRaises(steady.Invalid) as cm:
            self.e.apply([widget("fine"), {"apiVersion": "apps/v1", "kind": "Deployment",
                                           "metadata": {"name": "x"}, "spec": {"replicas": "many"}}])
        self.assertIn("document 2", str(cm.exception))
        self.assertIn("spec.replicas", str(cm.exception))
        with self.assertRaises(steady.NotFound):
            self.e.get("example.com/v1/Widget", "fine")

    def test_get_by_built_in_kind_or_api_version_and_kind(self) -> None:
        self.e.apply(WEB)
        self.assertEqual(self.e.get("Deployment", "web")["spec"]["replicas"], 3)
        self.assertEqual(self.e.get("apps/v1/Deployment", "web", namespace="default")["kind"], "Deployment")
        with self.assertRaises(steady.NotFound) as cm:
            self.e.get("Deployment", "web", namespace="prod")
        self.assertEqual(str(cm.exception), 'Deployment "prod/web" not found')

    def test_a_custom_kind_needs_its_api_version(self) -> None:
        self.e.create(widget("a"))
        with self.assertRaises(steady.Invalid) as cm:
            self.e.get("Widget", "a")
        self.assertIn('"example.com/v1/Widget"', str(cm.exception))
        self.assertEqual(self.e.get("example.com/v1/Widget", "a")["spec"]["size"], 1)
        with self.assertRaises(steady.Invalid) as cm:
            self.e.get("apps/v2/Deployment", "x")
        self.assertIn('served as "apps/v1"', str(cm.exception))

    def test_immutable_fields_are_refused_and_unimplemented_fields_warned_about(self) -> None:
        report = self.e.apply(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\ndata: {a: '1'}\nimmutable: true\n"
            "---\napiVersion: v1\nkind: Service\nmetadata: {name: edge}\n"
            "spec: {type: NodePort, selector: {app: x}, ports: [{port: 80}]}\n"
        )
        self.assertEqual(len(report["warnings"]), 1, report)
        self.assertIn("spec.type", report["warnings"][0])
        with self.assertRaises(steady.Invalid) as cm:
            self.e.patch("ConfigMap", "frozen", {"data": {"a": "2"}})
        self.assertIn("data: Forbidden: field is immutable when `immutable` is set", str(cm.exception))
        self.assertEqual(self.e.get("ConfigMap", "frozen")["data"], {"a": "1"})

    def test_an_unserved_kind_is_refused_until_a_definition_serves_it(self) -> None:
        tab = {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "t"}}
        with self.assertRaises(steady.Invalid) as cm:
            self.e.create(tab)
        self.assertIn('no matches for kind "CronTab" in version "stable.example.com/v1"', str(cm.exception))
        with self.assertRaises(steady.Invalid):
            self.e.apply("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: nightly}\n")
        self.e.apply(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
            "metadata: {name: crontabs.stable.example.com}\n"
            "spec: {group: stable.example.com, scope: Namespaced,\n"
            "  names: {kind: CronTab, plural: crontabs},\n"
            "  versions: [{name: v1, served: true, storage: true}]}\n"
            "---\napiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: first}\n"
        )
        self.assertEqual(self.e.get("stable.example.com/v1/CronTab", "first")["kind"], "CronTab")
        self.e.create(tab)
        self.assertEqual(len(self.e.list("stable.example.com/v1/CronTab")), 2)

    def test_list_filters_by_namespace_and_selector(self) -> None:
        self.e.create(widget("a", color="blue"))
        self.e.create(widget("b", color="red"))
        prod = widget("c", color="blue")
        prod["metadata"]["namespace"] = "prod"
        with self.assertRaises(steady.Invalid) as cm:
            self.e.create(prod)
        self.assertIn('namespaces "prod" not found', str(cm.exception))
        self.e.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}})
        self.e.create(prod)
        names = lambda items: [o["metadata"]["name"] for o in items]  # noqa: E731
        everything = self.e.list("example.com/v1/Widget")
        self.assertEqual(names(everything), ["a", "b", "c"])
        self.assertTrue(int(everything.resource_version) > 0)
        self.assertEqual(names(self.e.list("example.com/v1/Widget", namespace="default")), ["a", "b"])
        self.assertEqual(names(self.e.list("example.com/v1/Widget", selector="color=blue")), ["a", "c"])
        self.assertEqual(names(self.e.list("example.com/v1/Widget", selector={"color": "red"})), ["b"])
        with self.assertRaises(steady.Invalid) as cm:
            self.e.list("example.com/v1/Widget", selector="color in (")
        self.assertIn("invalid label selector", str(cm.exception))

    def test_create_update_and_the_status_subresource(self) -> None:
        created = self.e.create(widget("a", size=1))
        self.assertEqual(created["metadata"]["generation"], 1)
        with self.assertRaises(steady.AlreadyExists):
            self.e.create(widget("a"))
        stale = widget("a", size=2)
        stale["metadata"]["resourceVersion"] = "1"
        with self.assertRaises(steady.Conflict) as cm:
            self.e.update(stale)
        self.assertIn("conflict", str(cm.exception))
        fresh = widget("a", size=2)
        fresh["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
        updated = self.e.update(fresh)
        self.assertEqual(updated["metadata"]["generation"], 2)
        with_status = dict(updated, status={"ready": True}, spec={"size": 99})
        after = self.e.update_status(with_status)
        self.assertEqual(after["status"], {"ready": True})
        self.assertEqual(after["spec"]["size"], 2)
        with self.assertRaises(steady.NotFound):
            self.e.update(widget("missing"))

    def test_invalid_objects_name_their_fields(self) -> None:
        with self.assertRaises(steady.Invalid) as cm:
            self.e.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"},
                           "spec": {"containers": []}})
        self.assertIn("metadata.name", str(cm.exception))
        with self.assertRaises(steady.Invalid) as cm:
            self.e.create({"kind": "Widget", "metadata": {"name": "x"}})
        self.assertIn("apiVersion is required", str(cm.exception))

    def test_patch_merges_spec_or_status(self) -> None:
        self.e.create(widget("a", size=1, color="blue"))
        p = self.e.patch("example.com/v1/Widget", "a",
                         {"spec": {"shape": "round"}, "metadata": {"labels": {"color": None}}})
        self.assertEqual(p["spec"], {"size": 1, "shape": "round"})
        self.assertNotIn("color", p["metadata"].get("labels", {}))
        s = self.e.patch("example.com/v1/Widget", "a", {"status": {"ready": True}}, status=True)
        self.assertEqual(s["status"], {"ready": True})
        with self.assertRaises(steady.NotFound):
            self.e.patch("example.com/v1/Widget", "zzz", {})

    def test_delete_with_propagation_and_preconditions(self) -> None:
        a = self.e.create(widget("a"))
        with self.assertRaises(steady.Conflict):
            self.e.delete("example.com/v1/Widget", "a", preconditions={"uid": "not-it"})
        pending = self.e.delete("example.com/v1/Widget", "a", propagation="Foreground",
                                preconditions={"uid": a["metadata"]["uid"]})
        self.assertIn("deletionTimestamp", pending["metadata"])
        self.assertIn("foregroundDeletion", pending["metadata"]["finalizers"])
        self.e.create(widget("b"))
        gone = self.e.delete("example.com/v1/Widget", "b")
        self.assertEqual(gone["metadata"]["name"], "b")
        with self.assertRaises(steady.NotFound):
            self.e.get("example.com/v1/Widget", "b")
        with self.assertRaises(steady.Invalid) as cm:
            self.e.delete("example.com/v1/Widget", "a", propagation="Later")
        self.assertIn("propagationPolicy", str(cm.exception))

    def test_invalid_utf8_is_reported_by_the_library(self) -> None:
        with self.assertRaises(steady.Invalid) as cm:
            self.e.get("ConfigMap", "bad\udcff")
        self.assertIn("parameter name is not valid UTF-8", str(cm.exception))
        self.assertEqual(cm.exception.code, 101)

    def test_python_threads_share_an_engine(self) -> None:
        self.e.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}})
        errors: list[BaseException] = []

        def write(i: int) -> None:
            try:
                for n in range(1, 51):
                    self.e.patch("ConfigMap", "shared", {"data": {f"t{i}": str(n)}})
                    self.e.get("ConfigMap", "shared")
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        data = self.e.get("ConfigMap", "shared")["data"]
        self.assertEqual(data, {f"t{i}": "50" for i in range(4)})

    def test_metrics_are_prometheus_text(self) -> None:
        self.assertIsInstance(self.e.metrics(), str)


if __name__ == "__main__":
    unittest.main()
