"""Python workers: functions the engine runs in-process as the containers of an image.

A container whose ``image`` is registered with :meth:`steady.Engine.register_worker` runs
``start(ctx)`` on an engine thread of its own, one call per container instance (a restart is
a new instance with a new :class:`WorkerContext`). The worker says it is ready
(:meth:`WorkerContext.ready`, which turns the pod Ready and puts it behind its Services) and
alive (:meth:`WorkerContext.heartbeat`, checked by a ``livenessProbe`` with a ``heartbeat``
handler), and returns when asked to stop (:attr:`WorkerContext.stopping`,
:meth:`WorkerContext.wait_stop`). Its return is its exit: ``None`` or ``0`` succeeds, an int
is that exit code; an exception is exit code 1 with the exception as the message, logged on
the ``steady`` logger and in the container's log (``engine.logs(pod, previous=True)`` after
the restart). Nothing raised in a worker ever crosses into C.

One C trampoline serves every Python worker: the userdata the engine passes back is a key
into a table of Python callables, dropped when the engine calls the userdata destructor
(the registration was replaced and its last instance ended, or the engine was freed).

Threads and the GIL: ctypes takes the GIL for each callback; every call into the library
releases it, and :meth:`WorkerContext.wait_stop` is such a call, so a waiting worker never
holds up other Python threads.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import threading
import traceback
import weakref
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from ._handle import check, encode, take_string
from ._lib import FREE_FN, WORKER_START_FN, WORKER_STOP_FN, lib
from .errors import Closed

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["WorkerContext", "Start", "Stop", "register"]

log = logging.getLogger("steady")

_NOT_FOUND = 1  # STEADY_NOT_FOUND
_TIMEOUT = 8  # STEADY_TIMEOUT
# An unbounded wait is made of slices this long, so Ctrl-C still interrupts it on the main
# thread (handled between Python bytecodes).
_SLICE_S = 0.25


def _name(raw: Optional[bytes]) -> str:
    return "" if raw is None else raw.decode("utf-8", "replace")


class WorkerContext:
    """One running instance of a worker, as its ``start`` (and ``stop``) function sees it.

    Valid until ``start`` returns: afterwards every method raises :class:`steady.Closed`
    (never a crash). Its methods may be called from any thread; a call still in progress on
    another thread when ``start`` returns delays the end of the instance until it is done.
    """

    def __init__(self, ptr: int, engine: "Engine") -> None:
        self.__ptr: Optional[int] = ptr
        self.__calls = 0
        self.__cv = threading.Condition()
        #: The engine running this worker (to read its pod, write objects...).
        self.engine = engine
        self.__pod_name = _name(lib.steady_worker_pod_name(ptr))
        self.__namespace = _name(lib.steady_worker_namespace(ptr))
        self.__pod_uid = _name(lib.steady_worker_pod_uid(ptr))
        self.__node_name = _name(lib.steady_worker_node_name(ptr))
        self.__container_name = _name(lib.steady_worker_container_name(ptr))

    def __repr__(self) -> str:
        return (
            f"WorkerContext(pod={self.__namespace}/{self.__pod_name}, "
            f"container={self.__container_name}, node={self.__node_name})"
        )

    # -- identity -----------------------------------------------------------------------------

    @property
    def pod_name(self) -> str:
        """The name of the instance's pod."""
        return self.__pod_name

    @property
    def namespace(self) -> str:
        """The namespace of the pod."""
        return self.__namespace

    @property
    def pod_uid(self) -> str:
        """The pod's ``metadata.uid``."""
        return self.__pod_uid

    @property
    def node_name(self) -> str:
        """The node the instance runs on (the pod's ``spec.nodeName``)."""
        return self.__node_name

    @property
    def container_name(self) -> str:
        """The container's name."""
        return self.__container_name

    @property
    def closed(self) -> bool:
        """True once ``start`` has returned."""
        return self.__ptr is None

    # -- calls into C -------------------------------------------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Calls ``fn(handle, *args)``; the handle cannot be freed while the call runs."""
        with self.__cv:
            ptr = self.__ptr
            if ptr is None:
                raise Closed(
                    f"the worker instance of pod {self.__namespace}/{self.__pod_name} has "
                    "ended: its context is no longer usable",
                    9,
                )
            self.__calls += 1
        try:
            return fn(ptr, *args)
        finally:
            with self.__cv:
                self.__calls -= 1
                if self.__calls == 0:
                    self.__cv.notify_all()

    def _end(self) -> None:
        """Ends the context (``start`` returned): waits for calls in progress, after which
        the C handle may be freed."""
        with self.__cv:
            self.__ptr = None
            while self.__calls:
                self.__cv.wait()

    # -- reporting ----------------------------------------------------------------------------

    def ready(self) -> None:
        """Reports the instance ready (a heartbeat too): the pod turns Ready and joins the
        endpoints of its Services."""
        check(self._call(lib.steady_worker_ready))

    def not_ready(self) -> None:
        """Withdraws readiness: the pod leaves its Services' endpoints."""
        check(self._call(lib.steady_worker_not_ready))

    def heartbeat(self) -> None:
        """Says the instance is alive: a ``livenessProbe`` with a ``heartbeat`` handler
        (``{"heartbeat": {}, "periodSeconds": 5}``) fails without one in its period."""
        check(self._call(lib.steady_worker_heartbeat))

    @property
    def stopping(self) -> bool:
        """True once the instance has been asked to stop: ``start`` should return."""
        return bool(self._call(lib.steady_worker_stopping))

    def wait_stop(self, timeout: Optional[float] = None) -> bool:
        """Waits until the instance is asked to stop (True) or ``timeout`` seconds pass
        (False); None waits without limit. The GIL is released while waiting: use it as
        the worker's idle sleep."""
        if timeout is not None:
            return self._wait(max(0, int(timeout * 1000)))
        while not self._wait(int(_SLICE_S * 1000)):
            pass
        return True

    def _wait(self, millis: int) -> bool:
        code = self._call(lib.steady_worker_wait_stop, millis)
        if code == _TIMEOUT:
            return False
        check(code)
        return True

    def log(self, text: str) -> None:
        """Writes ``text`` as a line of the container's log (``engine.logs(pod)``)."""
        check(self._call(lib.steady_worker_log, encode(text)))

    def env(self, name: str) -> Optional[str]:
        """The container's environment variable ``name``, or None: steady sets
        ``POD_NAME``, ``POD_NAMESPACE``, ``POD_UID``, ``NODE_NAME``, ``POD_IP`` and
        ``HOSTNAME``, then the container's ``env``."""
        return self._owned(lib.steady_worker_env, name)

    def mount(self, path: str) -> Optional[str]:
        """The host directory mounted at ``path`` in the container (an emptyDir or a
        claim's directory), or None."""
        return self._owned(lib.steady_worker_mount, path)

    def _owned(self, fn: Callable[..., int], arg: str) -> Optional[str]:
        out = ctypes.c_void_p()
        code = self._call(fn, encode(arg), ctypes.byref(out))
        if code == _NOT_FOUND:
            return None
        check(code)
        return take_string(out)


#: ``start(ctx)``: runs one instance; returns None/0 (success) or an exit code, or raises.
Start = Callable[[WorkerContext], Union[None, int]]
#: ``stop(ctx)``: asks a running instance to stop; should return quickly.
Stop = Callable[[WorkerContext], None]

_table: dict[int, tuple[Start, Optional[Stop], "weakref.ref[Engine]"]] = {}
_instances: dict[int, WorkerContext] = {}
_lock = threading.Lock()
_keys = itertools.count(1)


def _exit_code(result: Any) -> int:
    if result is None:
        return 0
    if isinstance(result, int) and not isinstance(result, bool):
        if not -(2**31) <= result < 2**31:
            raise ValueError(f"exit code {result} is not a 32-bit integer")
        return result
    raise TypeError(f"a worker's start function returns None or an exit code, not {result!r}")


def _fail(ctx: WorkerContext, ptr: int, e: BaseException) -> int:
    """Reports an exception raised by ``start``: logged, written to the container's log,
    and the exit's message; exit code 1."""
    message = f"{type(e).__name__}: {e}"
    try:
        log.error("worker of pod %s/%s failed: %s", ctx.namespace, ctx.pod_name, message,
                  exc_info=e)
        for line in traceback.format_exception(type(e), e, e.__traceback__):
            for part in line.rstrip("\n").split("\n"):
                lib.steady_worker_log(ptr, part.encode("utf-8", "replace"))
        lib.steady_worker_exit_message(ptr, message.encode("utf-8", "replace"))
    except BaseException:  # noqa: BLE001 - nothing may cross into C
        pass
    return 1


@WORKER_START_FN
def _start(userdata: Optional[int], ptr: Optional[int]) -> int:
    # Runs on the instance's own engine thread, holding the GIL (ctypes took it). Nothing
    # may escape: ctypes would print an exception and return 0 ("success").
    try:
        with _lock:
            start, _, engine_ref = _table[userdata or 0]
        engine = engine_ref()
        if engine is None:
            return 0  # the engine is being freed: this instance is moot
        ctx = WorkerContext(ptr or 0, engine)
    except BaseException:  # noqa: BLE001
        try:
            log.exception("a worker could not start")
        except BaseException:  # noqa: BLE001
            pass
        return 1
    with _lock:
        _instances[ptr or 0] = ctx
    try:
        try:
            try:
                result = start(ctx)
            except SystemExit as e:
                if isinstance(e.code, str):
                    raise  # sys.exit("message"): a failure with that message
                result = e.code
            return _exit_code(result)
        except BaseException as e:  # noqa: BLE001 - nothing may cross into C
            if isinstance(e, Closed) and engine.closed:
                return 0  # the engine closed under this instance, which is being stopped
            return _fail(ctx, ptr or 0, e)
    finally:
        with _lock:
            _instances.pop(ptr or 0, None)
        ctx._end()


@WORKER_STOP_FN
def _stop(userdata: Optional[int], ptr: Optional[int]) -> None:
    # Runs on an engine thread while the instance's start function has not returned (C
    # guarantees it), so the instance's context is in the table.
    try:
        with _lock:
            _, stop, _ = _table[userdata or 0]
            ctx = _instances.get(ptr or 0)
        if stop is not None and ctx is not None:
            stop(ctx)
    except BaseException as e:  # noqa: BLE001 - nothing may cross into C
        try:
            log.error("a worker's stop function failed: %s: %s", type(e).__name__, e, exc_info=e)
        except BaseException:  # noqa: BLE001
            pass


@FREE_FN
def _release(userdata: Optional[int]) -> None:
    with _lock:
        _table.pop(userdata or 0, None)


def register(engine: "Engine", image: str, start: Start, stop: Optional[Stop]) -> None:
    """Registers ``start`` (and ``stop``) as the worker for ``image`` on ``engine``."""
    if not callable(start) or (stop is not None and not callable(stop)):
        raise TypeError("start (and stop, if given) must be callable")
    key = next(_keys)
    with _lock:
        _table[key] = (start, stop, weakref.ref(engine))
    try:
        check(
            lib.steady_engine_register_worker(
                engine._ptr,
                encode(image),
                _start,
                _stop if stop is not None else WORKER_STOP_FN(),
                ctypes.c_void_p(key),
                _release,
            )
        )
    except BaseException:
        # On failure the engine keeps nothing: the entry is ours to drop.
        with _lock:
            _table.pop(key, None)
        raise
