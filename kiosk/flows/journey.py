"""What the citizen's screens read: navigation trees, procedure records and pages, search.

A `CatalogSnapshot` is built from the catalog store in one go (off the UI thread: it reads
SQLite and builds a tree per language and a search index) and then swapped in whole, so the
screens never see half of an old catalog and half of a new one. Before the first catalog
arrives the snapshot is empty and the tree offers only the three intents.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.catalog.navtree import NavNode, build_tree, starter_tree, text_in
from kiosk.core.i18n import Translator
from kiosk.core.logs import event
from kiosk.core.threads import CallSoon, Runner, run_in_thread

log = logging.getLogger("kiosk.flows.journey")
Record = Mapping[str, Any]


@dataclass(frozen=True)
class CatalogSnapshot:
    revision: int | None = None
    trees: Mapping[str, NavNode] = field(default_factory=dict)
    records: Mapping[str, Record] = field(default_factory=dict)
    followers: Mapping[str, tuple[Record, ...]] = field(default_factory=dict)
    search_index: Any = None

    @property
    def empty(self) -> bool:
        return not self.records


def build_snapshot(categories: Sequence[Record], procedures: Sequence[Record], languages: Sequence[str],
                   revision: int | None = None, search_index: Any = None) -> CatalogSnapshot:
    trees = {}
    for language in languages:
        translator = Translator(language)
        trees[language] = build_tree(categories, procedures, language, translator.gettext)
    records = {record["id"]: record for record in procedures}
    followers: dict[str, list[Record]] = {}
    for record in procedures:
        for requirement in record.get("requirements") or ():
            other = requirement.get("procedure_id")
            if other and other != record["id"]:
                followers.setdefault(other, []).append(record)
    return CatalogSnapshot(revision, trees, records, {k: tuple(v) for k, v in followers.items()}, search_index)


def snapshot_from_store(store: Any, languages: Sequence[str]) -> CatalogSnapshot:
    """Read everything needed from the catalog store (any thread; the store opens its own connection)."""
    procedures = store.list_active()
    return build_snapshot(store.categories(), procedures, languages, store.revision(), store.search_index())


class CitizenCatalog:
    def __init__(self, languages: Sequence[str]):
        self.languages = tuple(languages)
        self.snapshot = CatalogSnapshot()
        self._listeners: list[Callable[[CatalogSnapshot], None]] = []

    def on_change(self, listener: Callable[[CatalogSnapshot], None]) -> None:
        self._listeners.append(listener)

    def replace(self, snapshot: CatalogSnapshot) -> None:
        """Swap in a new catalog (call on the UI thread)."""
        self.snapshot = snapshot
        event(log, "catalog.shown", revision=snapshot.revision, procedures=len(snapshot.records))
        for listener in list(self._listeners):
            listener(snapshot)

    def tree(self, language: str) -> NavNode:
        trees = self.snapshot.trees
        return trees.get(language) or trees.get(self.languages[0]) or starter_tree()

    def procedure(self, procedure_id: str) -> Record | None:
        return self.snapshot.records.get(procedure_id)

    def followers(self, procedure_id: str) -> tuple[Record, ...]:
        return self.snapshot.followers.get(procedure_id, ())

    def search(self, text: str, limit: int = 6) -> list[Any]:
        index = self.snapshot.search_index
        if index is None or not text.strip():
            return []
        return index.search(text, limit)


SAMPLE_CATALOG = Path(__file__).resolve().parents[1] / "data" / "sample-catalog.json"


def sample_snapshot(languages: Sequence[str], path: Path = SAMPLE_CATALOG) -> CatalogSnapshot:
    """The bundled sample catalog, for the tour and tests (a kiosk serves what it synced)."""
    from kiosk.catalog.search import SearchIndex

    document = json.loads(path.read_text(encoding="utf-8"))
    active = [p for p in document["procedures"] if p.get("status") == "active"]
    names = {c["id"]: text_in(c.get("name"), "es") for c in document["categories"]}
    return build_snapshot(document["categories"], active, languages, document.get("revision"),
                          SearchIndex(active, names))


def load_in_background(store_path: Path, languages: Sequence[str], deliver: Callable[[CatalogSnapshot], None],
                       open_store: Callable[[Path], Any] | None = None,
                       run_in_background: Runner | None = None
                       ) -> threading.Thread | None:
    """Read the synced catalog in a worker thread; `deliver` receives it (hop to the UI there).
    `open_store` (default: kiosk.catalog.store.CatalogStore) and `run_in_background` (default: a
    new thread, returned) are for tests."""
    if not store_path.exists():
        return None

    def work() -> None:
        store = None
        try:
            store = (open_store or _open_catalog_store)(store_path)
            snapshot = snapshot_from_store(store, languages)
        except Exception as error:  # a damaged store must not take the kiosk down; keep what is shown
            event(log, "catalog.load_failed", level=logging.ERROR, reason=type(error).__name__, detail=str(error))
            return
        finally:
            if store is not None:
                store.close()
        if not snapshot.empty:
            deliver(snapshot)

    if run_in_background is not None:
        run_in_background(work)
        return None
    return run_in_thread(work, "catalog-load")


def _open_catalog_store(path: Path) -> Any:
    from kiosk.catalog.store import CatalogStore

    return CatalogStore(path)


def _sync_service_from_config(config: Any, on_change: Callable[[Any], None]) -> Any:
    from kiosk.catalog.service import service_from_config

    return service_from_config(config, on_change=on_change)


class CatalogFeed:
    """Keeps the shown catalog current: loads the stored one at start, then syncs in the
    background and reloads after every change. Without a pinned key it only serves what is stored.
    `run_in_background`, `open_store` and `open_sync` (how the sync service is built from the
    configuration) default to the real thread, store and service; tests pass fakes."""

    def __init__(self, config: Any, catalog: CitizenCatalog, call_soon: CallSoon,
                 run_in_background: Runner | None = None,
                 open_store: Callable[[Path], Any] | None = None,
                 open_sync: Callable[..., Any] | None = None):
        self.config = config
        self.catalog = catalog
        self.call_soon = call_soon
        self.run = run_in_background
        self.open_store = open_store
        self.open_sync = open_sync or _sync_service_from_config
        self.sync_service: Any = None

    def start(self) -> None:
        """Everything here reads disk or imports the network stack: a worker thread does it."""
        (self.run or (lambda work: run_in_thread(work, "catalog-feed")))(self._start)

    def _start(self) -> None:
        self.reload()
        from kiosk.catalog.sync import SyncError

        try:
            service = self.open_sync(self.config, on_change=lambda _result: self.reload())
        except SyncError as error:  # e.g. no pinned key: keep serving the stored catalog, say why
            event(log, "catalog.sync_off", level=logging.WARNING, reason=error.code, detail=str(error))
            return
        self.sync_service = service
        service.start()

    def reload(self) -> None:
        from kiosk.catalog.service import store_path

        load_in_background(store_path(self.config), self.config.kiosk.languages,
                           deliver=lambda snapshot: self.call_soon(lambda: self.catalog.replace(snapshot)),
                           open_store=self.open_store, run_in_background=self.run)

    def stop(self) -> None:
        if self.sync_service is not None:
            self.sync_service.stop(timeout=2)
