"""The engine's log messages (reconcile errors, panics caught in controllers and callbacks,
warnings) routed into Python's :mod:`logging`, under the logger ``steady``.

Importing :mod:`steady` routes warnings and errors; :func:`set_log_level` changes how much
is routed (messages below it are not even formatted by the engine). The engine's log is
process-wide: one routing for every engine.
"""

from __future__ import annotations

import atexit
import logging

from ._handle import check
from ._lib import LOG_FN, lib

logger = logging.getLogger("steady")

# steady_log_level -> logging level
_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: 5}


def _steady_level(level: int) -> int:
    """The steady_log_level that lets through Python level ``level`` and above."""
    if level <= 5:
        return 5
    if level <= logging.DEBUG:
        return 4
    if level <= logging.INFO:
        return 3
    if level <= logging.WARNING:
        return 2
    if level <= logging.CRITICAL:
        return 1
    return 0


@LOG_FN
def _on_log(_userdata, level, target, message):  # type: ignore[no-untyped-def]
    # Called on engine threads (ctypes takes the GIL); never raises into C.
    try:
        logger.log(
            _LEVELS.get(level, logging.ERROR),
            "%s",
            message.decode("utf-8", "replace"),
            extra={"steady_target": target.decode("utf-8", "replace")},
        )
    except Exception:  # noqa: BLE001 - a logging failure must not reach the engine
        pass


def set_log_level(level: int) -> None:
    """Routes the engine's messages at Python logging level ``level`` and above (for example
    ``logging.DEBUG``); ``logging.CRITICAL + 1`` or more routes none."""
    steady = _steady_level(level)
    check(lib.steady_set_log_callback(steady, _on_log if steady else LOG_FN(), None))


def _stop() -> None:
    # No callbacks into an interpreter that is shutting down.
    lib.steady_set_log_callback(0, LOG_FN(), None)


try:
    set_log_level(logging.WARNING)
    atexit.register(_stop)
except Exception:  # noqa: BLE001 - another logger owns the process's log (a Rust host)
    logger.debug("steady's log is not routed: another logger is installed")
