"""The base of every object that owns a C handle: ``close()``, a context manager, and use
after close raising :class:`steady.Closed` instead of crashing."""

from __future__ import annotations

import ctypes
import weakref
from typing import Any, Callable

from ._lib import lib
from .errors import Closed, error_for

__all__ = ["Handle", "check", "take_string", "encode"]


def encode(s: str | None) -> bytes | None:
    """A str as UTF-8 for C (None stays NULL). Lone surrogates are passed through as the
    bytes they stand for, so the library reports them as invalid UTF-8 instead of Python
    failing earlier with another error."""
    return None if s is None else s.encode("utf-8", "surrogateescape")


def check(code: int) -> None:
    """Raises the exception for a non-zero result code, with the thread's last error."""
    if code != 0:
        message = lib.steady_last_error().decode("utf-8", "replace")
        raise error_for(code, message)


def take_string(p: ctypes.c_void_p) -> str:
    """Copies a string the library handed over and frees it."""
    try:
        return ctypes.string_at(p.value).decode("utf-8")
    finally:
        lib.steady_string_free(p)


class Handle:
    """Owns one C handle, freed by ``free`` exactly once: on :meth:`close`, on leaving a
    ``with`` block, when garbage collected, or at interpreter exit (whichever comes first).
    """

    _what = "handle"

    def __init__(self, ptr: int, free: Callable[[Any], None], *keep_alive: Any) -> None:
        self.__ptr: int | None = ptr
        # The finalizer holds what must outlive the handle (callback tables): it is released
        # only after `free` returned, when C can no longer call back.
        self.__finalizer = weakref.finalize(self, free, ptr, *keep_alive)

    @property
    def _ptr(self) -> int:
        """The C handle; raises :class:`steady.Closed` once closed."""
        if self.__ptr is None:
            raise Closed(f"this {self._what} is closed", 9)
        return self.__ptr

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self.__ptr is None

    def close(self) -> None:
        """Frees the C handle. Idempotent; later use raises :class:`steady.Closed`."""
        self.__ptr = None
        self.__finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
