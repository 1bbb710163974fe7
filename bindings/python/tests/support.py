"""Helpers shared by the tests."""

from __future__ import annotations

import time
from typing import Callable


def eventually(cond: Callable[[], bool], what: str, secs: float = 20.0) -> None:
    """Polls ``cond`` until it holds or ``secs`` pass (engine threads make progress on their
    own; nothing here waits out a backoff)."""
    deadline = time.monotonic() + secs
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.002)


#: The custom kinds the tests use: steady serves no kind it was not told about.
TEST_KINDS = [{"apiVersion": "example.com/v1", "kind": k} for k in ("Widget", "Gadget", "Fleet")]


def widget(name: str, size: int = 1, **labels: str) -> dict:
    """A custom-kind object."""
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "labels": labels},
        "spec": {"size": size},
    }
