"""Opening the staff and audit SQLite files the way the outbox does (offline_cache/outbox.py).

WAL, synchronous=FULL (a commit is on disk when it returns: a counted PIN attempt or an audit
entry must survive a power cut), a busy timeout so the kiosk and a shell command can share a file,
and the file created 0600 before SQLite opens it (its -wal/-shm copy the mode).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from offline_cache.transactions import write_transaction

BUSY_TIMEOUT_MS = 5000


class StorageProblem(Exception):
    """A staff or audit database cannot be opened or written; the message names the file."""


def create_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(descriptor)
    os.chmod(path, 0o600)


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """An autocommit connection usable from any thread (callers serialise with their own lock)."""
    try:
        create_private(path)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=FULL")
            check = conn.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise StorageProblem(f"{path}: the database is damaged ({check[0] if check else 'no answer'})")
            conn.executescript("BEGIN IMMEDIATE;" + schema + "COMMIT;")
        except BaseException:
            conn.close()
            raise
    except sqlite3.Error as error:
        raise StorageProblem(f"{path}: {error}") from None
    except OSError as error:
        raise StorageProblem(f"{path}: {error.strerror or error}") from None
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT: takes the write lock first, so read-modify-write is atomic across
    processes. SQLite errors become StorageProblem; anything else rolls back and propagates."""
    try:
        with write_transaction(conn):
            yield conn
    except sqlite3.Error as error:
        raise StorageProblem(f"{path}: {error}") from None
