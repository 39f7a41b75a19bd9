"""The last 50 warnings and errors: capped, on disk across restarts, redacted, never in the way."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core.i18n import Translator
from kiosk.core.logs import event
from kiosk.fleet.checks import errors_check
from kiosk.fleet.errorlog import (
    ErrorEntry,
    ErrorLog,
    ErrorLogHandler,
    error_log_path,
    install_error_log,
    uninstall_error_log,
)
from kiosk.fleet.model import OK, WARN


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A private logger tree, so the test neither sees nor disturbs other handlers."""
    test_logger = logging.getLogger("fleet-test")
    test_logger.propagate = False
    test_logger.setLevel(logging.DEBUG)
    yield test_logger
    uninstall_error_log(test_logger)


def test_keeps_only_the_last_50_and_they_survive_a_restart(tmp_path: Path, logger: logging.Logger):
    handler = install_error_log(tmp_path, logger=logger)
    for number in range(60):
        event(logger, "printer.failed", level=logging.WARNING, attempt=number)
    logger.info("not.kept")
    assert handler.flush()
    uninstall_error_log(logger)  # the app stops ...

    reopened = ErrorLog(error_log_path(tmp_path), read_only=True)  # ... a shell reads what it left
    entries = reopened.recent()
    assert len(entries) == 50
    assert "attempt=59" in entries[0].line and "attempt=10" in entries[-1].line  # newest first
    assert {entry.event for entry in entries} == {"printer.failed"}
    reopened.close()

    handler = install_error_log(tmp_path, logger=logger)  # and starts again: still capped at 50
    event(logger, "api.offline", level=logging.ERROR)
    assert handler.flush()
    entries = ErrorLog(error_log_path(tmp_path), read_only=True).recent()
    assert len(entries) == 50 and entries[0].event == "api.offline" and entries[0].level == "ERROR"
    with sqlite3.connect(error_log_path(tmp_path)) as db:  # the file itself holds no more than 50
        assert db.execute("SELECT COUNT(*) FROM errors").fetchone() == (50,)


def test_lines_are_redacted_like_the_journal(tmp_path: Path, logger: logging.Logger):
    handler = install_error_log(tmp_path, logger=logger)
    event(logger, "card.declined", level=logging.WARNING, card="4111 1111 1111 1111", mail="ana@example.mx")
    logger.warning("lookup failed for 4111111111111111")
    assert handler.flush()
    text = " ".join(entry.line + entry.event for entry in ErrorLog(error_log_path(tmp_path)).recent())
    assert "4111" not in text and "ana@example.mx" not in text
    assert text.count("[redacted]") == 4  # card, mail, and the message's number in both line and event


def test_a_broken_store_never_raises_into_the_logging_call(tmp_path: Path, logger: logging.Logger):
    blocked = tmp_path / "errors.sqlite"
    blocked.mkdir()  # a directory where the database should be: every write fails
    handler = ErrorLogHandler(ErrorLog(blocked))
    logger.addHandler(handler)
    logger.error("device.driver_fault")  # must return normally
    assert handler.flush(timeout=2.0)  # the writer went on: the record was counted as dropped
    assert handler.dropped == 1
    logger.removeHandler(handler)
    handler.close()


def test_emitting_is_cheap_and_thread_safe(tmp_path: Path, logger: logging.Logger):
    counted: list[str] = []
    handler = install_error_log(tmp_path, on_record=counted.append, logger=logger)

    def burst() -> None:
        for _ in range(100):
            logger.warning("burst")

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert handler.flush()
    assert len(counted) == 400 and set(counted) == {"WARNING"}
    assert len(ErrorLog(error_log_path(tmp_path)).recent()) == 50


def test_install_is_idempotent(tmp_path: Path, logger: logging.Logger):
    first = install_error_log(tmp_path, logger=logger)
    assert install_error_log(tmp_path, logger=logger) is first
    assert sum(isinstance(handler, ErrorLogHandler) for handler in logger.handlers) == 1


def test_recent_errors_ask_for_attention_old_ones_are_history():
    now = 1_000_000.0
    warning = ErrorEntry(now - 10, "WARNING", "kiosk.devices", "device.state", "...")
    error = ErrorEntry(now - 60, "ERROR", "kiosk.payments", "payments.unavailable", "...")
    assert errors_check([warning], now).status == OK
    check = errors_check([warning, error], now)
    assert check.status == WARN and "payments.unavailable (kiosk.payments)" in check.explanation
    assert errors_check([ErrorEntry(now - 3600, "ERROR", "x", "y", "z")], now).status == OK
    assert errors_check([], now).value == "0 guardados, 0 en la última hora"  # Spanish unless told otherwise
    english = Translator("en").gettext
    assert errors_check([], now, _=english).value == "0 kept, 0 in the last hour"
