"""Python controllers: reconcile functions called by the engine's worker threads.

One C trampoline serves every Python reconcile function: the userdata the engine passes
back is a key into a table of Python callables. An entry leaves the table when the engine
calls the userdata destructor (when the engine is freed), so a function stays alive exactly
as long as C may call it.

Threads and the GIL: reconcile functions run on the engine's worker threads, never for the
same object on two threads at once. ctypes takes the GIL for the duration of each call;
every call into the library releases it, so reconciles and the host's own threads
interleave normally. An exception never crosses into C: it becomes a reconcile error
(retried with exponential backoff, or not retried for :class:`steady.TerminalError`) and is
logged on the ``steady`` logger.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from ._handle import check, encode
from ._lib import FREE_FN, RECONCILE_FN, lib
from .errors import Closed, NotFound, TerminalError

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Request", "Reconcile", "register"]

log = logging.getLogger("steady")

DONE, REQUEUE, ERROR, TERMINAL_ERROR = 0, 1, 2, 3


@dataclass(frozen=True)
class Request:
    """The object a reconcile is about. The object itself may be gone (deleted): then
    :meth:`object` is None and the reconcile should clean up and return."""

    controller: str
    api_version: str
    kind: str
    namespace: Optional[str]
    name: str
    #: how many times in a row this object's reconcile failed before this call
    retries: int
    engine: "Engine" = field(repr=False, compare=False)

    @property
    def kind_name(self) -> str:
        """The kind as the engine's functions take it: ``apiVersion/Kind``."""
        return f"{self.api_version}/{self.kind}"

    def object(self) -> Optional[dict[str, Any]]:
        """The object as the engine holds it now, or None if it is gone."""
        try:
            return self.engine.get(self.kind_name, self.name, namespace=self.namespace or "default")
        except NotFound:
            return None


#: A reconcile function: returns None (done) or a number of seconds after which to
#: reconcile again even if nothing changes; raises to fail.
Reconcile = Callable[[Request], Union[None, bool, int, float]]

_table: dict[int, tuple[Reconcile, "weakref.ref[Engine]"]] = {}
_table_lock = threading.Lock()
_keys = itertools.count(1)


def _decode(b: Optional[bytes]) -> Optional[str]:
    return None if b is None else b.decode("utf-8")


@RECONCILE_FN
def _trampoline(userdata: Optional[int], request: Any, reply: Optional[int]) -> int:
    # Runs on an engine worker thread, holding the GIL (ctypes took it). Nothing may
    # escape: an exception here would be printed and turned into 0 ("done") by ctypes.
    engine = None
    try:
        with _table_lock:
            fn, engine_ref = _table[userdata or 0]
        engine = engine_ref()
        if engine is None or engine.closed:
            return DONE  # the engine is being freed; this reconcile is moot
        r = request.contents
        req = Request(
            controller=_decode(r.controller) or "",
            api_version=_decode(r.api_version) or "",
            kind=_decode(r.kind) or "",
            namespace=_decode(r.ns),
            name=_decode(r.name) or "",
            retries=int(r.retries),
            engine=engine,
        )
        result = fn(req)
        if result is None or result is True:
            return DONE
        if isinstance(result, (int, float)) and not isinstance(result, bool) and result >= 0:
            lib.steady_reconcile_reply_requeue_after(reply, int(result * 1000))
            return REQUEUE
        raise TypeError(
            f"a reconcile function returns None or a number of seconds >= 0, not {result!r}"
        )
    except BaseException as e:  # noqa: BLE001 - nothing may cross into C
        if isinstance(e, Closed) and (engine is None or engine.closed):
            return DONE  # the engine closed under this reconcile: nothing to report
        terminal = isinstance(e, TerminalError)
        message = f"{type(e).__name__}: {e}"
        try:
            log.error("reconcile failed: %s", message, exc_info=e)
            lib.steady_reconcile_reply_error(reply, message.encode("utf-8", "replace"))
        except BaseException:  # noqa: BLE001
            pass
        return TERMINAL_ERROR if terminal else ERROR


@FREE_FN
def _release(userdata: Optional[int]) -> None:
    with _table_lock:
        _table.pop(userdata or 0, None)


def register(
    engine: "Engine",
    name: str,
    kind: str,
    fn: Reconcile,
    options: dict[str, Any],
) -> None:
    """Registers ``fn`` as the reconciler of controller ``name`` on ``engine``."""
    key = next(_keys)
    with _table_lock:
        _table[key] = (fn, weakref.ref(engine))
    try:
        check(
            lib.steady_engine_add_controller(
                engine._ptr,
                encode(name),
                encode(kind),
                encode(json.dumps(options)) if options else None,
                _trampoline,
                ctypes.c_void_p(key),
                _release,
            )
        )
    except BaseException:
        # On failure the engine keeps nothing: the entry is ours to drop.
        with _table_lock:
            _table.pop(key, None)
        raise
