"""Catalog sync: fetch, verify, validate and atomically apply the municipal catalog.

One `sync_once()`:
1. with a stored revision, asks `GET /v1/catalog/changes?since=REV` with `If-None-Match`
   (304: nothing new; 410 Gone: too far behind, so fetch the full snapshot); without one, fetches
   `GET /v1/catalog`;
2. reads the body as a stream with connect and read timeouts and stops at `max_catalog_bytes`;
3. checks the Content-Type, the Ed25519-signed manifest against the pinned key, the manifest's
   expiry (freeze), its revision against the stored one (rollback), the exact length and SHA-256
   of the body, then parses it within bounds (kiosk.catalog.wire) and validates every record;
4. applies the whole change in one SQLite transaction and checks the signed catalog digest before
   committing.
A 304 counts as "synced now" only when it carries a valid signed manifest for the catalog the
kiosk holds: anyone on the path can send a bare 304, and a stale catalog must not look fresh.
Network errors, timeouts and 500/502/503/504 are retried with exponential backoff and full jitter;
anything else fails at once. Every failure is logged with a reason code, recorded for
`kiosk catalog status`, and leaves the previous catalog in place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.catalog import signing, wire
from kiosk.catalog.model import Invalid, drop_nulls, validate_catalog, validate_changes, without_nulls
from kiosk.catalog.store import CatalogStore, StoreError
from kiosk.core.errors import CatalogError
from kiosk.core.logs import event

if TYPE_CHECKING:
    import requests

    from kiosk.core.config import Config

log = logging.getLogger("kiosk.catalog.sync")
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
CHUNK = 256 * 1024
MAX_NESTING = 32  # a procedure record nests 8 levels deep; the rest is room for additions


class SyncError(CatalogError):
    """A failed sync. `code` is stable for logs and status (rollback, expired, http_503, ...); the
    message names the problem."""

    def __init__(self, code: str, message: str, retryable: bool = False):
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class SyncSettings:
    base_url: str
    public_key: Ed25519PublicKey
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    max_bytes: int = 64 * 1024 * 1024
    attempts: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0

    @classmethod
    def from_config(cls, config: Config) -> SyncSettings:
        base_dir = Path(config.source).resolve().parent if config.source != "(defaults)" else None
        api = config.api
        try:
            key = signing.parse_public_key(api.public_key, base_dir)
        except ValueError as error:
            raise SyncError("no_public_key", str(error)) from None
        return cls(api.base_url.rstrip("/"), key, getattr(api, "connect_timeout_s", 5.0), api.timeout_s,
                   api.max_catalog_bytes, getattr(api, "retry_attempts", 4), getattr(api, "retry_backoff_s", 1.0),
                   getattr(api, "retry_backoff_max_s", 60.0))


@dataclass
class SyncResult:
    mode: str  # "snapshot", "changes" or "unchanged"
    revision: int
    previous_revision: int | None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def changed(self) -> bool:
        return self.mode != "unchanged" and (self.revision != self.previous_revision or bool(
            self.added or self.updated or self.removed))

    def summary(self) -> str:
        if not self.changed:
            return f"catalog unchanged at revision {self.revision}"
        return (f"catalog revision {self.previous_revision or '-'} -> {self.revision} ({self.mode}): "
                f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed")


@dataclass
class _Fetched:
    status: int
    body: bytes
    headers: Any


class CatalogSync:
    def __init__(self, settings: SyncSettings, store: CatalogStore, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, rand: Callable[[], float] = random.random,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        import requests

        self.settings = settings
        self.store = store
        self.session = session or requests.Session()
        self._sleep, self._rand, self._now = sleep, rand, now

    # ---- entry point ------------------------------------------------------------------------

    def sync_once(self, full: bool = False) -> SyncResult:
        started = time.perf_counter()
        try:
            result = self._sync(full)
        except SyncError as error:
            self._record(error)
            raise
        except Exception as error:  # a bug must still leave the old catalog, a status line and a log
            log.error("catalog.sync_crashed", exc_info=True)
            failure = SyncError("internal", f"unexpected {type(error).__name__}: {_first_line(error)}")
            self._record(failure)
            raise failure from None
        result.duration_s = time.perf_counter() - started
        event(log, "catalog.synced", mode=result.mode, revision=result.revision, added=len(result.added),
              updated=len(result.updated), removed=len(result.removed), ms=round(result.duration_s * 1000))
        return result

    def _record(self, error: SyncError) -> None:
        self.store.record_failure(error.code, str(error), self.settings.base_url)
        event(log, "catalog.sync_failed", level=logging.WARNING, reason=error.code, detail=str(error))

    def _sync(self, full: bool) -> SyncResult:
        state = self.store.state()
        revision = state.get("revision")
        if revision is None or full or not state.get("verified"):
            # An unsigned local catalog (first boot, demo) is replaced wholesale by the first
            # verified one, whatever its revision number says.
            return self._full(state, conditional=not full and bool(state.get("verified")))
        fetched = self._get("/v1/catalog/changes", {"since": str(revision)}, state.get("etag"))
        if fetched.status == 304:
            return self._unchanged(state, fetched)
        if fetched.status == 410:
            event(log, "catalog.changes_gone", since=revision)
            return self._full(state, conditional=False)
        return self._apply_changes(state, fetched)

    # ---- the two ways to get a catalog ------------------------------------------------------

    def _full(self, state: dict[str, Any], conditional: bool) -> SyncResult:
        fetched = self._get("/v1/catalog", {}, state.get("etag") if conditional else None)
        if fetched.status == 304:
            return self._unchanged(state, fetched)
        if fetched.status != 200:
            raise SyncError("http_status", f"GET /v1/catalog answered HTTP {fetched.status}")
        manifest = self._verify(fetched, "snapshot", state)
        document = self._parse(fetched.body)
        try:
            validate_catalog(document)
        except Invalid as error:
            raise _invalid(error) from None
        if document["revision"] != manifest.revision or len(document["procedures"]) != manifest.count:
            raise SyncError("manifest_mismatch", "the catalog's revision or record count differs from the manifest")
        before = dict(self.store.db.execute("SELECT id, content_hash FROM procedures").fetchall())
        categories, procedures = _as_stored(document["categories"], document["procedures"], b"null" in fetched.body)
        with _store_errors():
            self.store.replace_all(categories, procedures, self._state_after(manifest, fetched, document),
                                   manifest.digest)
        return _diff("snapshot", manifest.revision, state.get("revision"), before, procedures)

    def _apply_changes(self, state: dict[str, Any], fetched: _Fetched) -> SyncResult:
        if fetched.status != 200:
            raise SyncError("http_status", f"GET /v1/catalog/changes answered HTTP {fetched.status}")
        manifest = self._verify(fetched, "changes", state)
        document = self._parse(fetched.body)
        try:
            validate_changes(document)
        except Invalid as error:
            raise _invalid(error) from None
        if document["revision"] != manifest.revision or document["since"] != state.get("revision"):
            raise SyncError("manifest_mismatch", "the changes page does not match its manifest or our revision")
        upserts, tombstones = document["upserts"], [item["id"] for item in document["tombstones"]]
        existing = self._check_kept_categories(document["categories"], upserts, tombstones)
        categories, upserts = _as_stored(document["categories"], upserts, b"null" in fetched.body)
        with _store_errors():
            self.store.apply_changes(categories, upserts, tombstones, self._state_after(manifest, fetched, document),
                                     manifest.digest)
        return SyncResult("changes", manifest.revision, state.get("revision"),
                          added=[r["id"] for r in upserts if r["id"] not in existing],
                          updated=[r["id"] for r in upserts if r["id"] in existing], removed=tombstones)

    def _check_kept_categories(self, categories: list[dict], upserts: list[dict], tombstones: list[str]) -> set[str]:
        """The page's categories replace ours: refuse it if a record we keep names one it drops.
        Returns the ids stored before the page."""
        known = {item["id"] for item in categories}
        changed = {record["id"] for record in upserts} | set(tombstones)
        existing: set[str] = set()
        for record_id, names in self.store.db.execute("SELECT id, categories FROM procedures"):
            existing.add(record_id)
            if record_id in changed:
                continue
            missing = sorted(set(json.loads(names)) - known)
            if missing:
                raise SyncError("unknown_category", f"the changes page drops category {missing[0]!r}, "
                                                    f"still used by procedure {record_id!r}")
        return existing

    def _unchanged(self, state: dict[str, Any], fetched: _Fetched) -> SyncResult:
        """A 304 with a freshly signed manifest for the catalog we hold: nothing to download, and
        the manifest extends freshness (freeze protection). Without one it proves nothing."""
        try:
            manifest = self._check_manifest(fetched.headers.get(signing.MANIFEST_HEADER), "snapshot", state)
        except SyncError as error:
            raise SyncError(error.code, f"the 304 answer does not prove the catalog is current: {error}") from None
        if manifest.revision != state.get("revision") or manifest.digest != state.get("digest"):
            raise SyncError("manifest_mismatch", f"the 304 answer's signed manifest is for revision "
                                                 f"{manifest.revision} with another digest, not our "
                                                 f"revision {state.get('revision')}")
        now = self._iso_now()
        updates: dict[str, Any] = {"synced_at": now, "last_attempt_at": now, "last_error": None}
        stored_expiry = state.get("expires_at")
        if not stored_expiry or manifest.expires_at > dt.datetime.fromisoformat(stored_expiry):
            updates.update(issued_at=manifest.issued_at.isoformat(), expires_at=manifest.expires_at.isoformat())
        self.store.update_state(**updates)
        return SyncResult("unchanged", state["revision"], state["revision"])

    # ---- checks -----------------------------------------------------------------------------

    def _check_signature(self, header: str | None) -> signing.Manifest:
        try:
            return signing.verify_manifest(header, self.settings.public_key)
        except signing.SignatureError as error:
            raise SyncError("signature", str(error)) from None

    def _check_manifest(self, header: str | None, kind: str, state: dict[str, Any]) -> signing.Manifest:
        """Signature, kind, expiry and rollback: what any manifest must pass, with or without a body."""
        manifest = self._check_signature(header)
        if manifest.kind != kind:
            raise SyncError("signature", f"the manifest is for a {manifest.kind}, not a {kind}")
        now = self._now()
        last_issued = state.get("issued_at")
        # "expires > max(now, last issued)": a kiosk clock set backwards cannot reopen old manifests.
        floor = max(now, dt.datetime.fromisoformat(last_issued)) if last_issued else now
        if manifest.expires_at <= floor:
            raise SyncError("expired", f"the signed manifest expired at {manifest.expires_at.isoformat()}")
        stored = state.get("revision") if state.get("verified") else None
        if stored is not None and manifest.revision < stored:
            raise SyncError("rollback", f"the server offers revision {manifest.revision}, older than our {stored}")
        return manifest

    def _verify(self, fetched: _Fetched, kind: str, state: dict[str, Any]) -> signing.Manifest:
        manifest = self._check_manifest(fetched.headers.get(signing.MANIFEST_HEADER), kind, state)
        stored = state.get("revision") if state.get("verified") else None
        if kind == "snapshot" and stored == manifest.revision and state.get("digest") not in (None, manifest.digest):
            raise SyncError("rollback", f"revision {stored} was re-issued with different content")
        if len(fetched.body) != manifest.length:
            raise SyncError("truncated", f"received {len(fetched.body)} bytes, the manifest promises {manifest.length}")
        if hashlib.sha256(fetched.body).hexdigest() != manifest.sha256:
            raise SyncError("hash_mismatch", "the body's SHA-256 differs from the signed manifest")
        return manifest

    @staticmethod
    def _parse(body: bytes) -> Any:
        try:
            return wire.loads(body, MAX_NESTING)
        except wire.WireError as error:
            raise SyncError("malformed_json", str(error)) from None

    def _state_after(self, manifest: signing.Manifest, fetched: _Fetched, document: dict[str, Any]) -> dict:
        now = self._iso_now()
        state = {"revision": manifest.revision, "etag": fetched.headers.get("ETag"),
                 "generated_at": document.get("generated_at"), "issued_at": manifest.issued_at.isoformat(),
                 "expires_at": manifest.expires_at.isoformat(), "synced_at": now, "last_attempt_at": now,
                 "source": self.settings.base_url, "signature": f"verified (ed25519 key {manifest.keyid})",
                 "verified": True, "sha256": manifest.sha256}
        if document.get("municipality") is not None:  # optional on a changes page: keep ours then
            state["municipality"] = document["municipality"]
        return state

    def _iso_now(self) -> str:
        return self._now().isoformat(timespec="seconds")

    # ---- HTTP with retries ------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str], etag: str | None) -> _Fetched:
        attempts = max(1, self.settings.attempts)
        for attempt in range(attempts):
            try:
                return self._get_once(path, params, etag)
            except SyncError as error:
                if not error.retryable or attempt == attempts - 1:
                    raise
                ceiling = min(self.settings.backoff_max_s, self.settings.backoff_s * 2 ** attempt)
                delay = self._rand() * ceiling  # full jitter: kiosks that failed together retry apart
                event(log, "catalog.sync_retry", reason=error.code, attempt=attempt + 1, delay_s=round(delay, 2))
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _get_once(self, path: str, params: dict[str, str], etag: str | None) -> _Fetched:
        import requests

        headers = {"Accept": "application/json"}
        if etag:
            headers["If-None-Match"] = etag
        timeout = (self.settings.connect_timeout_s, self.settings.read_timeout_s)
        try:
            response = self.session.get(self.settings.base_url + path, params=params, headers=headers,
                                        timeout=timeout, stream=True)
        except requests.Timeout as error:
            raise SyncError("timeout", f"{path}: no answer in time ({type(error).__name__})", True) from None
        except requests.RequestException as error:
            raise SyncError("network", f"{path}: cannot reach {self.settings.base_url} ({_cause(error)})",
                            True) from None
        with response:
            status = response.status_code
            if status in RETRYABLE_STATUS:
                raise SyncError(f"http_{status}", f"{path} answered HTTP {status}", True)
            if status in (304, 410):
                return _Fetched(status, b"", response.headers)
            if status != 200:
                raise SyncError("http_status", f"{path} answered HTTP {status}")
            content_type = response.headers.get("Content-Type", "")
            if content_type.split(";")[0].strip().lower() != "application/json":
                raise SyncError("content_type", f"{path} answered with Content-Type {content_type!r}, "
                                                "expected application/json")
            return _Fetched(status, self._read_limited(response, path), response.headers)

    def _read_limited(self, response: requests.Response, path: str) -> bytes:
        import requests

        limit = self.settings.max_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise SyncError("too_large", f"{path} is {declared} bytes, over the {limit}-byte limit")
        body = bytearray()
        try:
            for chunk in response.iter_content(CHUNK):
                body += chunk
                if len(body) > limit:
                    raise SyncError("too_large", f"{path} exceeded the {limit}-byte limit while downloading")
        except requests.exceptions.ChunkedEncodingError as error:
            raise SyncError("truncated", f"{path}: the body was cut short ({_first_line(error)})", True) from None
        except requests.exceptions.ConnectionError as error:
            if "timed out" in str(error).lower():
                raise SyncError("timeout", f"{path}: the body stopped arriving (read timeout)", True) from None
            raise SyncError("network", f"{path}: {_first_line(error)}", True) from None
        if declared and declared.isdigit() and len(body) != int(declared):
            raise SyncError("truncated", f"{path}: got {len(body)} of {declared} bytes", True)
        return bytes(body)


def _cause(error: BaseException) -> str:
    """The useful part of requests' nested connection errors, e.g. 'Connection refused'."""
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error))
    if match:
        return match.group(1).strip()
    return "Name or service not known" if "resolve" in str(error).lower() else type(error).__name__


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__


def _invalid(error: Invalid) -> SyncError:
    return SyncError(error.code, f"invalid catalog data at {error}")


def _as_stored(categories: list[dict], procedures: list[dict], nulls: bool) -> tuple[list[dict], list[dict]]:
    """Categories and procedures without null members (`nulls`: whether the text had any at all,
    which spares the walk over a large catalog that has none)."""
    if not nulls:
        return categories, procedures
    return [drop_nulls(item) for item in categories], [without_nulls(record) for record in procedures]


def _diff(mode: str, revision: int, previous: int | None, before: dict[str, str],
          records: list[dict[str, Any]]) -> SyncResult:
    after = {r["id"]: r["meta"].get("content_hash") for r in records}
    return SyncResult(mode, revision, previous,
                      added=[rid for rid in after if rid not in before],
                      updated=[rid for rid, h in after.items() if rid in before and before[rid] != h],
                      removed=[rid for rid in before if rid not in after])


def load_local(store: CatalogStore, document: dict[str, Any], source: str) -> SyncResult:
    """Install a catalog from a local file (first boot, demos) after full validation; unsigned."""
    try:
        validate_catalog(document)
    except Invalid as error:
        raise _invalid(error) from None
    before = dict(store.db.execute("SELECT id, content_hash FROM procedures").fetchall())
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    categories, procedures = _as_stored(document["categories"], document["procedures"], nulls=True)
    with _store_errors():
        store.replace_all(categories, procedures, {
            "revision": document["revision"], "etag": None, "generated_at": document["generated_at"],
            "issued_at": None, "expires_at": None, "synced_at": now, "last_attempt_at": now, "source": source,
            "signature": "none (local file)", "verified": False, "sha256": None,
            "municipality": document["municipality"]})
    return _diff("snapshot", document["revision"], None, before, procedures)


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """A store that refuses an update is a sync failure; the previous catalog stays in place."""
    try:
        yield
    except StoreError as error:
        raise SyncError(error.code, str(error)) from None
    except sqlite3.Error as error:  # disk full, locked, corrupt: the transaction rolled back
        raise SyncError("store", f"the catalog database refused the update ({error})") from None
