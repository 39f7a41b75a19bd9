"""The sandbox municipal API's data: the current catalog, its revision history and signing.

`CatalogState` keeps every published revision's change list so it can answer
`GET /v1/catalog/changes?since=REV` with upserts and tombstones. History older than
`retention` revisions is forgotten, after which such a request gets 410 Gone (the kiosk then
falls back to the full snapshot), like a server that keeps tombstones for a bounded time.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.catalog import signing
from kiosk.catalog.model import CATALOG_FORMAT, catalog_digest, validate_catalog, with_content_hash


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Published:
    """One response body with its signed manifest and ETag."""

    body: bytes
    manifest: str
    etag: str


@dataclass
class _Change:
    revision: int
    upserted: set[str] = field(default_factory=set)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> tombstone


class CatalogState:
    """Thread-safe catalog holder; every publish bumps the revision by one."""

    def __init__(self, document: dict[str, Any], key: Ed25519PrivateKey, retention: int = 50,
                 lifetime: dt.timedelta = dt.timedelta(days=7), state_path: Path | None = None):
        validate_catalog(document)
        document = json.loads(json.dumps(document))  # own copy: callers may keep editing theirs
        self._lock = threading.RLock()
        self.key = key
        self.retention = retention
        self.lifetime = lifetime
        self.state_path = state_path
        self.header = {k: v for k, v in document.items() if k != "procedures"}
        self.procedures: dict[str, dict[str, Any]] = {}
        for record in document["procedures"]:
            self.procedures[record["id"]] = with_content_hash(record)
        self.revision: int = document["revision"]
        self.oldest_since: int = self.revision  # a kiosk at this revision or later can get a delta
        self._history: list[_Change] = []
        self._snapshot: Published | None = None
        self._signed_at = dt.datetime.now(dt.UTC)

    # ---- publishing ------------------------------------------------------------------------

    def publish(self, upserts: Sequence[dict[str, Any]] = (), deletions: Sequence[str] = (),
                categories: list[dict[str, Any]] | None = None, reason: str = "retirado") -> int:
        """Apply upserts and deletions as one new revision; the new catalog must validate."""
        with self._lock:
            revision = self.revision + 1
            procedures = dict(self.procedures)
            change = _Change(revision)
            for record in upserts:
                record = json.loads(json.dumps(record))
                record.setdefault("meta", {})["rev"] = revision
                procedures[record["id"]] = with_content_hash(record)
                change.upserted.add(record["id"])
            for record_id in deletions:
                procedures.pop(record_id, None)
                change.deleted[record_id] = {"id": record_id, "deleted_at": _now_iso(), "reason": reason,
                                             "rev": revision}
            header = dict(self.header, revision=revision, generated_at=_now_iso())
            if categories is not None:
                header["categories"] = categories
            validate_catalog({**header, "procedures": list(procedures.values())})
            self.header, self.procedures, self.revision = header, procedures, revision
            self._history.append(change)
            if len(self._history) > self.retention:
                dropped = self._history.pop(0)
                self.oldest_since = dropped.revision
            self._snapshot = None
            self._save()
            return revision

    def _save(self) -> None:
        if self.state_path is None:
            return
        temp = self.state_path.with_suffix(".tmp")
        temp.write_text(json.dumps(self.document(), ensure_ascii=False), encoding="utf-8")
        temp.replace(self.state_path)

    # ---- reading ---------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        with self._lock:
            return {**self.header, "procedures": list(self.procedures.values())}

    def etag(self) -> str:
        return f'"rev-{self.revision}"'

    def digest(self) -> str:
        return catalog_digest((rid, rec["meta"]["content_hash"]) for rid, rec in self.procedures.items())

    def snapshot(self) -> Published:
        with self._lock:
            now = dt.datetime.now(dt.UTC)
            if self._snapshot is None:
                body = json.dumps(self.document(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
                self._snapshot = self.sign(body, "snapshot", self.revision, len(self.procedures))
                self._signed_at = now
            elif now - self._signed_at > self.lifetime / 2:
                # Re-sign the same bytes well before expiry, so kiosks polling an unchanged
                # catalog keep getting fresh manifests (the freeze defence depends on it).
                self._snapshot = self.sign(self._snapshot.body, "snapshot", self.revision, len(self.procedures))
                self._signed_at = now
            return self._snapshot

    def changes(self, since: int) -> Published | None:
        """The delta from `since` to now, or None when `since` is older than the kept history."""
        with self._lock:
            if since < self.oldest_since:
                return None
            upserted: set[str] = set()
            deleted: dict[str, dict[str, Any]] = {}
            for change in self._history:
                if change.revision <= since:
                    continue
                for record_id in change.upserted:
                    upserted.add(record_id)
                    deleted.pop(record_id, None)
                for record_id, tomb in change.deleted.items():
                    upserted.discard(record_id)
                    deleted[record_id] = tomb
            body_doc = {
                "format": CATALOG_FORMAT, "since": since, "revision": self.revision,
                "generated_at": self.header["generated_at"], "municipality": self.header["municipality"],
                "categories": self.header["categories"],
                "upserts": [self.procedures[rid] for rid in sorted(upserted) if rid in self.procedures],
                "tombstones": [deleted[rid] for rid in sorted(deleted)],
            }
            body = json.dumps(body_doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            return self.sign(body, "changes", self.revision, len(self.procedures), since=since)

    def sign(self, body: bytes, kind: str, revision: int, count: int, since: int | None = None,
             key: Ed25519PrivateKey | None = None, lifetime: dt.timedelta | None = None,
             digest: str | None = None) -> Published:
        manifest = signing.build_manifest(kind, revision, body, digest or self.digest(), count, since=since,
                                          lifetime=lifetime if lifetime is not None else self.lifetime)
        return Published(body, signing.sign_manifest(manifest, key or self.key), f'"rev-{revision}"')
