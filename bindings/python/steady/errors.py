"""The exceptions of steady, one per result code of the C library.

Every exception carries the engine's message (``str(e)``, or ``e.message``) and the C
result code (``e.code``).
"""

from __future__ import annotations

__all__ = [
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
    "TerminalError",
]


class Error(Exception):
    """Base of every steady error: ``code`` is the C result code, ``message`` the engine's
    message."""

    code: int = -1

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(Error):
    """The object does not exist (``STEADY_NOT_FOUND``)."""

    code = 1


class AlreadyExists(Error):
    """A create found the name taken (``STEADY_ALREADY_EXISTS``)."""

    code = 2


class Conflict(Error):
    """A resourceVersion or uid precondition failed: the object changed since it was read
    (``STEADY_CONFLICT``)."""

    code = 3


class Invalid(Error):
    """Bad input: an invalid object (each bad field named), malformed YAML or JSON, an unknown
    kind, a bad selector or option (``STEADY_INVALID``, ``STEADY_INVALID_UTF8``)."""

    code = 4


class TooLarge(Error):
    """The object is over the engine's ``max_object_bytes`` (``STEADY_TOO_LARGE``)."""

    code = 5


class Denied(Error):
    """An admission hook refused the write, or an eviction was refused for good: more than
    one PodDisruptionBudget selects the pod, or its budget forbids evictions
    (``STEADY_DENIED``)."""

    code = 6


class Expired(Error):
    """A watch asked for history the engine no longer keeps, or fell behind
    (``STEADY_EXPIRED``): list again, then watch from the list's ``resource_version``."""

    code = 7


class Closed(Error):
    """The engine (or this handle) is closed (``STEADY_CLOSED``)."""

    code = 9


class Unavailable(Error):
    """The object cannot serve the request now, e.g. a Service with no ready endpoint, or
    a PodDisruptionBudget that does not allow an eviction now (``STEADY_UNAVAILABLE``): try
    again later."""

    code = 10


class StorageError(Error):
    """The engine's data dir (configuration key ``persist``) cannot be used: another engine
    holds it, a newer steady wrote it, or reading, writing or fsyncing it failed
    (``STEADY_STORAGE``). The message names the dir or file and what is wrong."""

    code = 11


class TerminalError(Exception):
    """Raise from a reconcile function when retrying cannot help: the failure is counted and
    recorded as a Warning Event, and the object is not reconciled again until it changes.
    Any other exception is retried with exponential backoff."""


_BY_CODE: dict[int, type[Error]] = {
    1: NotFound,
    2: AlreadyExists,
    3: Conflict,
    4: Invalid,
    5: TooLarge,
    6: Denied,
    7: Expired,
    9: Closed,
    10: Unavailable,
    11: StorageError,
    101: Invalid,  # STEADY_INVALID_UTF8
}


def error_for(code: int, message: str) -> Error:
    """The exception for a C result code."""
    return _BY_CODE.get(code, Error)(message, code)
