"""One SQLite write transaction, the way every store here takes it.

BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that reads first and writes
later cannot wait for another writer (SQLite answers "database is locked" at once instead of using
the busy timeout). COMMIT at the end; on any exception the transaction is rolled back (if SQLite
has not ended it already) and the exception goes on to the store, which words it its own way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
