"""A Python host running its own controller on steady.

Every Widget (a custom kind, example.com/v1) gets a ConfigMap of the same name that carries
the Widget's color and is owned by it; the Widget's status says when it is ready. The host
applies two Widgets, watches ConfigMaps until both exist, changes one Widget and sees its
ConfigMap follow.

Run from the repository root after `cargo build --release`:

    PYTHONPATH=bindings/python python3 examples/python/widgets.py
"""

from __future__ import annotations

import logging
from typing import Optional

import steady

WIDGET = "example.com/v1/Widget"

# steady serves only the kinds it is told about: this definition makes Widget a kind, as in
# Kubernetes (Engine(kinds=[...]) would do the same from configuration).
DEFINITION = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions: [{name: v1, served: true, storage: true}]
"""

MANIFEST = """\
apiVersion: example.com/v1
kind: Widget
metadata: {name: sky}
spec: {color: blue}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: grass}
spec: {color: green}
"""


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(threadName)s %(message)s")
    with steady.Engine() as engine:
        engine.apply(DEFINITION)

        # Runs on an engine worker thread; never for the same Widget on two threads at once.
        @engine.controller(WIDGET, owns=["ConfigMap"])
        def widgets(req: steady.Request) -> Optional[float]:
            widget = req.object()
            if widget is None:
                return None  # deleted: the garbage collector removes its ConfigMap
            config_map = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": req.name,
                    "namespace": req.namespace,
                    "ownerReferences": [
                        {"apiVersion": req.api_version, "kind": req.kind, "name": req.name,
                         "uid": widget["metadata"]["uid"], "controller": True}
                    ],
                },
                "data": {"color": widget["spec"]["color"]},
            }
            try:
                engine.create(config_map)
            except steady.AlreadyExists:
                engine.update(config_map)
            engine.patch(WIDGET, req.name, {"status": {"ready": True}}, namespace=req.namespace,
                         status=True)
            logging.info("reconciled %s/%s", req.namespace, req.name)
            return None  # done until the Widget or its ConfigMap changes

        def wait_for_color(name: str, color: str) -> None:
            # Level-triggered: check the state, then sleep until the next ConfigMap change.
            with engine.watch("ConfigMap", timeout=10) as changes:
                for _ in changes:
                    try:
                        if engine.get("ConfigMap", name)["data"]["color"] == color:
                            print(f"ConfigMap {name} has color {color}")
                            return
                    except steady.NotFound:
                        pass
            raise SystemExit(f"ConfigMap {name} never got color {color}")

        engine.apply(MANIFEST)
        wait_for_color("sky", "blue")
        wait_for_color("grass", "green")
        engine.patch(WIDGET, "sky", {"spec": {"color": "grey"}})
        wait_for_color("sky", "grey")


if __name__ == "__main__":
    main()
