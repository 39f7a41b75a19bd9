"""Opening the staff and audit SQLite files through the one store opener (offline_cache/sqlite.py).

WAL, synchronous=FULL (a commit is on disk when it returns: a counted PIN attempt or an audit
entry must survive a power cut), a busy timeout so the kiosk and a shell command can share a file,
the file created 0600 without a descriptor ever opened on a live file, and one owner per file per
process: two StaffAccess (or AuditLog) objects in one process share one connection and its lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kiosk.core.errors import StaffError
from offline_cache.sqlite import Damaged, Database, Options, open_database
from offline_cache.transactions import write_transaction

BUSY_TIMEOUT_MS = 5000
_OWNERS_LOCK = threading.Lock()
_OWNERS: dict[int, Database] = {}  # id(shared connection) -> its owner


class StorageProblem(StaffError):
    """A staff or audit database cannot be opened or written; the message names the file."""

    code = "staff.storage"


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """The file's shared connection (offline_cache/sqlite.py: one owner per file per process),
    usable from any thread; writes go through `immediate`, which holds the owner's lock. Every
    connect is matched by one `release(conn)`."""

    def create_schema(conn: sqlite3.Connection) -> None:
        conn.executescript("BEGIN IMMEDIATE;" + schema + "COMMIT;")

    name = "schema:" + hashlib.sha256(schema.encode()).hexdigest()[:16]
    try:
        owner = open_database(path, Options(busy_timeout_ms=BUSY_TIMEOUT_MS), create_schema, name)
    except Damaged as error:
        raise StorageProblem(f"{path}: {error}") from None
    except sqlite3.Error as error:
        raise StorageProblem(f"{path}: {error}") from None
    except OSError as error:
        raise StorageProblem(f"{path}: {error.strerror or error}") from None
    with _OWNERS_LOCK:
        _OWNERS[id(owner.connection)] = owner
    return owner.connection


def release(conn: sqlite3.Connection) -> None:
    """This holder is done with the file (the last one closes it)."""
    with _OWNERS_LOCK:
        owner = _OWNERS.get(id(conn))
        if owner is not None and owner.holders <= 1:
            del _OWNERS[id(conn)]
    if owner is not None:
        owner.release()


def _owner(conn: sqlite3.Connection) -> Database | None:
    with _OWNERS_LOCK:
        return _OWNERS.get(id(conn))


@contextmanager
def immediate(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT: takes the write lock first, so read-modify-write is atomic across
    processes. SQLite errors become StorageProblem; anything else rolls back and propagates."""
    owner = _owner(conn)
    lock = owner.lock if owner is not None else contextlib.nullcontext()
    try:
        with lock, write_transaction(conn):  # the owner's lock: every handle on the file shares it
            yield conn
    except sqlite3.Error as error:
        raise StorageProblem(f"{path}: {error}") from None
