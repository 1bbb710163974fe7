"""The engine's log messages arrive in Python's logging, under the logger "steady"."""

from __future__ import annotations

import logging
import threading
import unittest

import steady

from .support import TEST_KINDS


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        # The engine's own message (the binding logs the exception on "steady" too).
        if hasattr(record, "steady_target") and "failed for good" in record.getMessage():
            self.arrived.set()


class LogRouting(unittest.TestCase):
    def test_a_failed_reconcile_is_logged_as_an_error_of_the_steady_logger(self) -> None:
        handler = Collect()
        logger = logging.getLogger("steady")
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        with steady.Engine(kinds=TEST_KINDS, workers=1) as e:

            @e.controller("example.com/v1/Widget")
            def widgets(req: steady.Request) -> None:
                raise steady.TerminalError("the spec can never work")

            e.apply("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
            self.assertTrue(handler.arrived.wait(20), [r.getMessage() for r in handler.records])
        failed = [r for r in handler.records if hasattr(r, "steady_target")]
        self.assertIn("the spec can never work", failed[0].getMessage())
        self.assertEqual(failed[0].levelno, logging.ERROR)
        self.assertTrue(failed[0].steady_target.startswith("steady"))  # type: ignore[attr-defined]

    def test_the_level_can_be_raised_and_lowered(self) -> None:
        steady.set_log_level(logging.CRITICAL + 1)
        steady.set_log_level(logging.DEBUG)
        steady.set_log_level(logging.WARNING)
