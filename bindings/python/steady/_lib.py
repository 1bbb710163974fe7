"""Finds and loads the steady C library and declares the C functions for ctypes.

The library is looked up, in order:

1. the path in the ``STEADY_LIBRARY`` environment variable;
2. the package folder (``steady/libsteady.so``, ``.dylib`` or ``steady.dll``), where
   ``pip install ./bindings/python`` puts it (see ``bindings/python/setup.py``);
3. ``target/release`` then ``target/debug`` of the checkout this package sits in
   (``bindings/python/steady`` -> the repository root), after ``cargo build``.

ctypes releases the GIL around every call into the library, so a call that blocks (a
watch, freeing an engine that waits for running reconciles) never stops other Python
threads, including the engine threads that run Python callbacks.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

__all__ = [
    "lib",
    "library_path",
    "RECONCILE_FN",
    "FREE_FN",
    "WORKER_START_FN",
    "WORKER_STOP_FN",
    "ReconcileRequest",
]


def _library_name() -> str:
    if sys.platform == "darwin":
        return "libsteady.dylib"
    if sys.platform == "win32":
        return "steady.dll"
    return "libsteady.so"


def _candidates() -> list[Path]:
    name = _library_name()
    here = Path(__file__).resolve().parent
    checkout = here.parent.parent.parent
    target = Path(os.environ.get("CARGO_TARGET_DIR", checkout / "target"))
    return [here / name, target / "release" / name, target / "debug" / name]


def library_path() -> str:
    """The path of the library this package loads (see the module docs for the order)."""
    explicit = os.environ.get("STEADY_LIBRARY")
    if explicit:
        if not Path(explicit).is_file():
            raise OSError(f"STEADY_LIBRARY is {explicit!r}, which is not a file")
        return explicit
    for p in _candidates():
        if p.is_file():
            return str(p)
    tried = ", ".join(str(p) for p in _candidates())
    raise OSError(
        "the steady library was not found: set STEADY_LIBRARY, run `cargo build "
        "--release` in the checkout, or install the package with `pip install "
        f"./bindings/python` (looked for {tried})"
    )


class ReconcileRequest(Structure):
    """``steady_reconcile_request``: the object a reconcile is about."""

    _fields_ = [
        ("controller", c_char_p),
        ("api_version", c_char_p),
        ("kind", c_char_p),
        ("ns", c_char_p),
        ("name", c_char_p),
        ("retries", c_uint32),
    ]


#: ``steady_reconcile_fn``
RECONCILE_FN = CFUNCTYPE(c_int32, c_void_p, POINTER(ReconcileRequest), c_void_p)
#: the userdata destructor type
FREE_FN = CFUNCTYPE(None, c_void_p)
#: ``steady_log_fn``: (userdata, level, target, message)
LOG_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p, c_char_p)
#: ``steady_worker_start_fn``: (userdata, worker) -> exit code
WORKER_START_FN = CFUNCTYPE(c_int32, c_void_p, c_void_p)
#: ``steady_worker_stop_fn``: (userdata, worker)
WORKER_STOP_FN = CFUNCTYPE(None, c_void_p, c_void_p)

_OUT = POINTER(c_void_p)


def _declare(lib: ctypes.CDLL) -> None:
    def fn(name: str, argtypes: list, restype=c_int) -> None:
        f = getattr(lib, name)
        f.argtypes = argtypes
        f.restype = restype

    fn("steady_version", [], c_char_p)
    fn("steady_set_log_callback", [c_uint32, LOG_FN, c_void_p])
    fn("steady_last_error", [], c_char_p)
    fn("steady_result_name", [c_int], c_char_p)
    fn("steady_string_free", [c_void_p], None)
    fn("steady_engine_new", [c_char_p, _OUT])
    fn("steady_engine_free", [c_void_p], None)
    fn("steady_engine_apply", [c_void_p, c_char_p, _OUT])
    fn("steady_engine_get", [c_void_p, c_char_p, c_char_p, c_char_p, _OUT])
    fn("steady_engine_list", [c_void_p, c_char_p, c_char_p, c_char_p, _OUT])
    fn("steady_engine_create", [c_void_p, c_char_p, _OUT])
    fn("steady_engine_update", [c_void_p, c_char_p, _OUT])
    fn("steady_engine_update_status", [c_void_p, c_char_p, _OUT])
    fn("steady_engine_patch", [c_void_p, c_char_p, c_char_p, c_char_p, c_char_p, c_bool, _OUT])
    fn("steady_engine_delete", [c_void_p, c_char_p, c_char_p, c_char_p, c_char_p, _OUT])
    fn("steady_engine_evict", [c_void_p, c_char_p, c_char_p, c_char_p, _OUT])
    fn("steady_engine_cordon", [c_void_p, c_char_p])
    fn("steady_engine_uncordon", [c_void_p, c_char_p])
    fn("steady_engine_drain", [c_void_p, c_char_p, c_char_p, _OUT])
    fn("steady_engine_metrics", [c_void_p, _OUT])
    fn("steady_engine_kubeconfig", [c_void_p, _OUT])
    fn("steady_engine_recovery_report", [c_void_p, _OUT])
    fn("steady_watch_new", [c_void_p, c_char_p, c_char_p, c_char_p, c_int64, _OUT])
    fn("steady_watch_next", [c_void_p, c_int64, _OUT])
    fn("steady_watch_free", [c_void_p], None)
    fn(
        "steady_engine_add_controller",
        [c_void_p, c_char_p, c_char_p, c_char_p, RECONCILE_FN, c_void_p, FREE_FN],
    )
    fn("steady_reconcile_reply_requeue_after", [c_void_p, c_uint64])
    fn("steady_reconcile_reply_error", [c_void_p, c_char_p])
    fn(
        "steady_engine_register_worker",
        [c_void_p, c_char_p, WORKER_START_FN, WORKER_STOP_FN, c_void_p, FREE_FN],
    )
    for name in ("ready", "not_ready", "heartbeat"):
        fn(f"steady_worker_{name}", [c_void_p])
    fn("steady_worker_stopping", [c_void_p], c_bool)
    fn("steady_worker_wait_stop", [c_void_p, c_int64])
    fn("steady_worker_log", [c_void_p, c_char_p])
    fn("steady_worker_exit_message", [c_void_p, c_char_p])
    fn("steady_worker_env", [c_void_p, c_char_p, _OUT])
    fn("steady_worker_mount", [c_void_p, c_char_p, _OUT])
    for name in ("pod_name", "namespace", "pod_uid", "node_name", "container_name"):
        fn(f"steady_worker_{name}", [c_void_p], c_char_p)
    fn("steady_engine_logs", [c_void_p, c_char_p, c_char_p, c_char_p, c_bool, _OUT])
    fn("steady_engine_resolve", [c_void_p, c_char_p, c_char_p, c_char_p, _OUT])
    fn("steady_engine_node_names", [c_void_p, _OUT])
    fn("steady_engine_report_pod_metric", [c_void_p, c_char_p, c_char_p, c_char_p, ctypes.c_double])
    fn("steady_engine_report_pod_usage", [c_void_p, c_char_p, c_char_p, c_char_p, c_char_p])
    fn("steady_engine_transaction", [c_void_p, c_char_p, _OUT])


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(library_path())
    _declare(lib)
    return lib


#: The loaded library, with every function declared.
lib: ctypes.CDLL = _load()
