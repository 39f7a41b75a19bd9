"""The kiosk's offline copy of the catalog: a SQLite read model written through sqlite-utils.

Writers replace or patch the whole catalog inside one transaction (WAL journal), so a reader
sees either the previous catalog or the new one, never a mixture; if anything fails before
COMMIT the previous catalog stays. Sync bookkeeping (revision, ETag, manifest times, last error)
lives in `sync_state` next to the data it describes, so `kiosk catalog status` can report it from
a separate process.

Each thread gets its own connection (sqlite3 connections must not cross threads); the search
index is rebuilt lazily when the stored revision changes.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlite_utils

from kiosk.catalog.model import catalog_digest, content_hash
from kiosk.catalog.search import SearchHit, SearchIndex
from kiosk.core.errors import CatalogError
from offline_cache.sqlite import Database, Options, open_database
from offline_cache.transactions import write_transaction

SCHEMA_VERSION = 1
_OPTIONS = Options(busy_timeout_ms=30000, private=False, quick_check=False)  # public data


class StoreError(CatalogError):
    """The catalog could not be applied; the previous catalog is still in place."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _row(record: Mapping[str, Any]) -> dict[str, Any]:
    meta = record.get("meta") or {}
    return {
        "id": record["id"], "status": record["status"], "popularity": record.get("popularity", 0),
        "rev": meta.get("rev", 0), "content_hash": meta.get("content_hash") or content_hash(record),
        "name": (record.get("name") or {}).get("es", ""), "categories": json.dumps(record.get("categories", [])),
        "doc": json.dumps(record, ensure_ascii=False, separators=(",", ":")),
    }


class CatalogStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One owner of the file per process (offline_cache/sqlite.py); each thread reads through
        # its own connection so the UI's searches never wait behind a sync's long write.
        self._owner: Database | None = open_database(self.path, _OPTIONS)
        self._local = threading.local()
        self._index_lock = threading.Lock()
        self._index: tuple[Any, SearchIndex] | None = None
        self._create_schema()

    # ---- connections ------------------------------------------------------------------------

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            if self._owner is None:
                raise sqlite3.ProgrammingError("the catalog store is closed")
            db = sqlite_utils.Database(self._owner.thread_connection())
            self._local.db = db
        return db

    def close(self) -> None:
        self._local.db = None
        if self._owner is not None:
            self._owner.release()
            self._owner = None

    def _write_transaction(self):
        """The write lock up front (offline_cache.transactions): two threads opening the store at
        once used to get "database is locked"."""
        return write_transaction(self.db.conn)

    def _create_schema(self) -> None:
        db = self.db
        with self._write_transaction():
            db.execute("""CREATE TABLE IF NOT EXISTS procedures (
                id TEXT PRIMARY KEY, status TEXT NOT NULL, popularity INTEGER NOT NULL, rev INTEGER NOT NULL,
                content_hash TEXT NOT NULL, name TEXT NOT NULL, categories TEXT NOT NULL, doc TEXT NOT NULL)""")
            db.execute("CREATE INDEX IF NOT EXISTS procedures_status ON procedures(status, popularity)")
            db.execute("CREATE TABLE IF NOT EXISTS categories (id TEXT PRIMARY KEY, ord INTEGER, doc TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT)")
            db.execute("INSERT OR IGNORE INTO sync_state VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])

    # ---- sync bookkeeping --------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {key: json.loads(value) for key, value in self.db.execute("SELECT key, value FROM sync_state")}

    def _put_state(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            self.db.execute("INSERT OR REPLACE INTO sync_state VALUES (?, ?)", [key, json.dumps(value)])

    def update_state(self, **values: Any) -> None:
        with self._write_transaction():
            self._put_state(values)

    def record_failure(self, reason: str, message: str, source: str = "") -> None:
        self.update_state(last_error={"reason": reason, "message": message, "at": _now(), "source": source},
                          last_attempt_at=_now())

    def revision(self) -> int | None:
        return self.state().get("revision")

    # ---- writing ------------------------------------------------------------------------------

    def replace_all(self, categories: list[dict[str, Any]], procedures: list[dict[str, Any]],
                    state: Mapping[str, Any], expected_digest: str | None = None) -> None:
        """Swap in a whole new catalog in one transaction."""
        rows = [_row(record) for record in procedures]
        digest = catalog_digest((row["id"], row["content_hash"]) for row in rows)
        if expected_digest and digest != expected_digest:
            raise StoreError("digest_mismatch", "the records do not match the digest in the signed manifest")
        db = self.db
        with self._write_transaction():
            db.execute("DELETE FROM procedures")
            db.table("procedures").insert_all(rows, batch_size=500)
            self._replace_categories(categories)
            self._put_state({**state, "digest": digest, "last_error": None})

    def apply_changes(self, categories: list[dict[str, Any]], upserts: list[dict[str, Any]],
                      deleted_ids: Iterable[str], state: Mapping[str, Any],
                      expected_digest: str | None = None) -> None:
        """Patch the catalog with upserts and tombstones in one transaction; all or nothing."""
        rows = [_row(record) for record in upserts]
        db = self.db
        with self._write_transaction():
            for record_id in deleted_ids:
                gone = db.execute("DELETE FROM procedures WHERE id = ?", [record_id]).rowcount
                if not gone:
                    raise StoreError("unknown_tombstone", f"tombstone for unknown procedure id {record_id!r}")
            if rows:
                db.table("procedures").upsert_all(rows, pk="id", batch_size=500)
            self._replace_categories(categories)
            digest = catalog_digest(db.execute("SELECT id, content_hash FROM procedures").fetchall())
            if expected_digest and digest != expected_digest:
                raise StoreError("digest_mismatch",
                                 "after applying the changes the catalog does not match the signed digest")
            self._put_state({**state, "digest": digest, "last_error": None})

    def _replace_categories(self, categories: list[dict[str, Any]]) -> None:
        self.db.execute("DELETE FROM categories")
        self.db.table("categories").insert_all(
            [{"id": c["id"], "ord": c.get("order", 0), "doc": json.dumps(c, ensure_ascii=False)} for c in categories])

    # ---- the read API for screens and services ------------------------------------------------

    def get(self, procedure_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT doc FROM procedures WHERE id = ?", [procedure_id]).fetchone()
        return json.loads(row[0]) if row else None

    def list_active(self, category: str | None = None) -> list[dict[str, Any]]:
        """Active procedures, most popular first (optionally one category)."""
        rows = self.db.execute(
            "SELECT doc, categories FROM procedures WHERE status = 'active' ORDER BY popularity DESC, name")
        return [json.loads(doc) for doc, cats in rows if category is None or category in json.loads(cats)]

    def categories(self) -> list[dict[str, Any]]:
        return [json.loads(doc) for (doc,) in self.db.execute("SELECT doc FROM categories ORDER BY ord, id")]

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM procedures").fetchone()[0]

    def search(self, text: str, limit: int = 10) -> list[SearchHit]:
        return self.search_index().search(text, limit)

    def search_index(self) -> SearchIndex:
        # Keyed by digest, which changes with any applied change, so a stale index is never used.
        key = self.state().get("digest")
        with self._index_lock:
            if self._index is None or self._index[0] != key:
                names = {c["id"]: c["name"].get("es", c["id"]) for c in self.categories()}
                records = [json.loads(doc) for (doc,) in self.db.execute("SELECT doc FROM procedures")]
                self._index = (key, SearchIndex(records, names))
            return self._index[1]

    def status(self, now: dt.datetime | None = None) -> dict[str, Any]:
        """What a technician needs: revision, age, source, signature state, counts and the last error."""
        state = self.state()
        now = now or dt.datetime.now(dt.UTC)
        active = self.db.execute("SELECT count(*) FROM procedures WHERE status = 'active'").fetchone()[0]
        synced_at = state.get("synced_at")
        expires_at = state.get("expires_at")
        age = (now - dt.datetime.fromisoformat(synced_at)).total_seconds() if synced_at else None
        expired = bool(expires_at and dt.datetime.fromisoformat(expires_at) <= now)
        return {
            "revision": state.get("revision"), "generated_at": state.get("generated_at"),
            "synced_at": synced_at, "age_s": None if age is None else round(age),
            "source": state.get("source"), "signature": state.get("signature", "none"),
            "expires_at": expires_at, "expired": expired, "records": self.count(), "active": active,
            "last_attempt_at": state.get("last_attempt_at"), "last_error": state.get("last_error"),
            "path": str(self.path),
        }
