"""steady: an embeddable reconciliation engine (Kubernetes-style declarative state
management inside one process), over its C library with ctypes.

    import steady

    with steady.Engine() as engine:
        engine.apply(open("web.yaml").read())
        print(engine.get("Deployment", "web")["spec"]["replicas"])

        @engine.controller("example.com/v1/Widget")
        def widgets(req: steady.Request):
            ...

        def server(ctx: steady.WorkerContext):
            ctx.ready()
            while not ctx.wait_stop(1.0):
                ctx.heartbeat()

        engine.register_worker("game-server", server)

See :class:`Engine` for the kind naming rule and the threads callbacks run on.
"""

from __future__ import annotations

from ._lib import lib as _lib
from ._lib import library_path
from .controller import Request
from .engine import Engine, ObjectList
from .log import set_log_level
from .errors import (
    AlreadyExists,
    Closed,
    Conflict,
    Denied,
    Error,
    Expired,
    Invalid,
    NotFound,
    TerminalError,
    TooLarge,
    Unavailable,
    StorageError,
)
from .watch import Watch, WatchEvent
from .worker import WorkerContext

__all__ = [
    "Engine",
    "ObjectList",
    "Request",
    "Watch",
    "WatchEvent",
    "WorkerContext",
    "Error",
    "NotFound",
    "AlreadyExists",
    "Conflict",
    "Invalid",
    "TooLarge",
    "Denied",
    "Expired",
    "Closed",
    "Unavailable",
    "StorageError",
    "TerminalError",
    "library_path",
    "set_log_level",
    "__version__",
]

#: The version of the loaded library.
__version__: str = _lib.steady_version().decode()
