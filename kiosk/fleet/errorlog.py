"""The last 50 warnings and errors, kept on disk for the technician screen and `kiosk diag`.

A logging handler copies every WARNING-or-worse record into `<data_dir>/diag/errors.sqlite`,
capped at the newest `capacity` rows, so the list survives a restart (the crash a technician is
asked about happened before it) and a shell can read what the running app logged.

The record is stored as the same logfmt line journald gets (kiosk/core/logs.py), so the same personal
data rules apply: values that look like card or ID numbers, e-mail addresses, CURP or RFC codes
are already masked. The handler never blocks or raises into the code that logs: `emit` formats
the line and appends it to a bounded in-memory queue; a writer thread commits it. When records
arrive faster than the disk takes them, the oldest queued ones are dropped, which is what a cap
of 50 means anyway.
"""

from __future__ import annotations

import collections
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.core.logs import LogfmtFormatter, redact
from offline_cache.sqlite import Database, Options, open_database
from offline_cache.transactions import write_transaction

CAPACITY = 50
_HANDLER_MARK = "_kiosk_error_log"

SCHEMA = """
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    level TEXT NOT NULL,
    logger TEXT NOT NULL,
    event TEXT NOT NULL,
    line TEXT NOT NULL
)
"""


def _create_table(conn: sqlite3.Connection) -> None:
    conn.execute(SCHEMA)


@dataclass(frozen=True)
class ErrorEntry:
    """One kept record: when, how bad, who logged it, the event name and the redacted line."""

    at: float
    level: str
    logger: str
    event: str
    line: str

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "level": self.level, "logger": self.logger, "event": self.event, "line": self.line}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ErrorEntry:
        return cls(float(data["at"]), str(data["level"]), str(data["logger"]), str(data["event"]), str(data["line"]))


def error_log_path(data_dir: Path) -> Path:
    return Path(data_dir) / "diag" / "errors.sqlite"


class ErrorLog:
    """The capped table. Thread-safe; `read_only` opens an existing file without ever writing it
    (a shell must not create files, or take locks, in the running app's data directory)."""

    def __init__(self, path: Path | str, capacity: int = CAPACITY, read_only: bool = False):
        self.path = Path(path)
        self.capacity = capacity
        self.read_only = read_only
        self._lock = threading.Lock()
        self._owner: Database | None = None

    def _connect(self) -> sqlite3.Connection | None:
        """The file's owner in this process (offline_cache/sqlite.py), shared with any other
        ErrorLog on it. A rollback journal, not WAL: a read-only reader (a shell, maybe root) then
        needs no -shm/-wal files, so it never leaves files the app's user could not write; losing
        the last warning on power loss is fine (synchronous=NORMAL)."""
        if self._owner is not None:
            return self._owner.connection
        if self.read_only and not self.path.exists():
            return None
        options = Options(journal_mode="delete", synchronous="NORMAL", busy_timeout_ms=1000, private=False,
                          quick_check=False, read_only=self.read_only)
        self._owner = open_database(self.path, options, None if self.read_only else _create_table)
        return self._owner.connection

    def add(self, entries: list[ErrorEntry]) -> None:
        """Append entries and drop everything older than the newest `capacity` rows."""
        if not entries or self.read_only:
            return
        rows = [(e.at, e.level, e.logger, e.event, e.line) for e in entries[-self.capacity:]]
        with self._lock:
            conn = self._connect()
            assert conn is not None and self._owner is not None
            with self._owner.lock, write_transaction(conn):
                conn.executemany("INSERT INTO errors (at, level, logger, event, line) VALUES (?, ?, ?, ?, ?)", rows)
                conn.execute("DELETE FROM errors WHERE id <= (SELECT MAX(id) FROM errors) - ?", (self.capacity,))

    def recent(self, limit: int | None = None) -> list[ErrorEntry]:
        """Newest first; an absent or unreadable file reads as no errors."""
        with self._lock:
            try:
                conn = self._connect()
                if conn is None:
                    return []
                rows = conn.execute("SELECT at, level, logger, event, line FROM errors ORDER BY id DESC LIMIT ?",
                                    (limit or self.capacity,)).fetchall()
            except sqlite3.Error:
                return []
        return [ErrorEntry(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._owner is not None:
                self._owner.release()
                self._owner = None


class ErrorLogHandler(logging.Handler):
    """Copies WARNING+ records into an ErrorLog from a writer thread; `on_record(level)` is
    called in the logging thread (cheap: it feeds a Prometheus counter)."""

    def __init__(self, error_log: ErrorLog, on_record: Callable[[str], None] | None = None,
                 level: int = logging.WARNING):
        super().__init__(level)
        self.error_log = error_log
        self.on_record = on_record
        self.setFormatter(LogfmtFormatter())
        self.dropped = 0  # records that could not be formatted or written (never raised)
        self._pending: collections.deque[ErrorEntry] = collections.deque(maxlen=error_log.capacity)
        self._queued = 0
        self._written = 0
        self._progress = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._write_loop, name="error-log", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = ErrorEntry(record.created, record.levelname, record.name, redact(record.getMessage()),
                               self.format(record))
            with self._progress:
                self._pending.append(entry)
                self._queued += 1
                self._progress.notify_all()
            if self.on_record is not None:
                self.on_record(record.levelname)
        except Exception:  # a log call must never fail because of diagnostics
            self.dropped += 1

    def _write_loop(self) -> None:
        while True:
            with self._progress:
                while not self._pending and not self._stopping:
                    self._progress.wait()
                if not self._pending and self._stopping:
                    return
                batch = list(self._pending)
                self._pending.clear()
                queued = self._queued
            try:
                self.error_log.add(batch)
            except Exception:  # disk full, locked file: keep the app running, count the loss
                self.dropped += len(batch)
            with self._progress:
                self._written = queued
                self._progress.notify_all()

    def flush(self, timeout: float = 2.0) -> bool:  # type: ignore[override]  # logging ignores the bool
        """Wait until everything emitted so far is on disk (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._progress:
            target = self._queued
            while self._written < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._progress.wait(left)
        return True

    def close(self) -> None:
        with self._progress:
            self._stopping = True
            self._progress.notify_all()
        self._thread.join(timeout=2.0)
        self.error_log.close()
        super().close()


def install_error_log(data_dir: Path, on_record: Callable[[str], None] | None = None,
                      logger: logging.Logger | None = None) -> ErrorLogHandler:
    """Attach the handler to the root logger once; later calls return it (and set `on_record`)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if getattr(handler, _HANDLER_MARK, False):
            if on_record is not None:
                handler.on_record = on_record  # type: ignore[attr-defined]  # the mark says it is ours
            return handler  # type: ignore[return-value]  # the mark says it is an ErrorLogHandler
    directory = error_log_path(data_dir).parent
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o750)  # the error lines are redacted, but they are still nobody else's business
    handler = ErrorLogHandler(ErrorLog(error_log_path(data_dir)), on_record)
    setattr(handler, _HANDLER_MARK, True)
    target.addHandler(handler)  # the logger's level is the app's choice (setup_logging); not changed here
    return handler


def uninstall_error_log(logger: logging.Logger | None = None) -> None:
    target = logger or logging.getLogger()
    for handler in list(target.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            target.removeHandler(handler)
            handler.close()
