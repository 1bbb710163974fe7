"""Watches: an iterator of a kind's changes, in revision order with no gaps."""

from __future__ import annotations

import ctypes
import json
import time
from dataclasses import dataclass
from typing import Any, Iterator

from ._handle import Handle, check, take_string
from ._lib import lib
from .errors import Closed

__all__ = ["Watch", "WatchEvent"]

_TIMEOUT = 8  # STEADY_TIMEOUT
# An unbounded wait is made of slices this long, so Ctrl-C (handled between Python
# bytecodes on the main thread) still interrupts it.
_SLICE_S = 0.25


def _free(ptr: int) -> None:
    lib.steady_watch_free(ptr)


@dataclass(frozen=True)
class WatchEvent:
    """One change: ``type`` is ``"ADDED"``, ``"MODIFIED"`` or ``"DELETED"``; ``object`` the
    object after the change (for a deletion, its last state)."""

    type: str
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        """The revision of this change (``object.metadata.resourceVersion``)."""
        return self.object.get("metadata", {}).get("resourceVersion", "")


class Watch(Handle):
    """An iterator of :class:`WatchEvent`; made by :meth:`steady.Engine.watch`.

    Iteration ends when no event arrives within the watch's ``timeout`` (if it has one) or
    when the engine is closed; it raises :class:`steady.Expired` when the watch fell behind
    or started from history the engine no longer keeps (list again, then watch from the
    list's ``resource_version``). Close it (or use ``with``) when done.
    """

    _what = "watch"

    def __init__(self, ptr: int, timeout: float | None) -> None:
        super().__init__(ptr, _free)
        self.timeout = timeout

    def next(self, timeout: float | None = None) -> WatchEvent | None:
        """The next event, waiting at most ``timeout`` seconds (None: without limit);
        None when nothing happened in time. Raises :class:`steady.Closed` after the engine
        closed, :class:`steady.Expired` when the watch expired."""
        deadline = None if timeout is None else time.monotonic() + timeout
        out = ctypes.c_void_p()
        while True:
            left = _SLICE_S if deadline is None else min(_SLICE_S, deadline - time.monotonic())
            rc = lib.steady_watch_next(self._ptr, max(0, int(left * 1000)), ctypes.byref(out))
            if rc == 0:
                raw = json.loads(take_string(out))
                return WatchEvent(raw["type"], raw["object"])
            if rc != _TIMEOUT:
                check(rc)
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def __iter__(self) -> Iterator[WatchEvent]:
        return self

    def __next__(self) -> WatchEvent:
        self._ptr  # raises Closed if this watch itself was closed
        try:
            ev = self.next(self.timeout)
        except Closed:
            raise StopIteration from None
        if ev is None:
            raise StopIteration
        return ev
