"""The citizen's catalog (kiosk.flows.journey): CitizenCatalog, what the screens read, and
CatalogFeed, which loads the stored catalog and keeps it current, with a fake store and a fake
sync service (no SQLite, no network, no threads).

What a citizen must be able to rely on: before any catalog the kiosk still offers its three
intents; a catalog is swapped in whole; a damaged, empty or unsyncable catalog never blanks
what is shown; the last good catalog stays until a newer one arrives.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kiosk.catalog.sync import SyncError
from kiosk.flows.journey import CatalogFeed, CitizenCatalog, build_snapshot
from tests.flows.conftest import at_once

LANGUAGES = ("es", "en")
CATEGORIES = [{"id": "predial", "name": {"es": "Impuesto predial", "en": "Property tax"}, "order": 1}]


def procedure(pid: str, name: str, pay: bool = False, requires: str = "") -> dict[str, Any]:
    return {"id": pid, "status": "active", "name": {"es": name}, "categories": ["predial"],
            "requirements": [{"name": {"es": "Trámite previo"}, "procedure_id": requires}] if requires else [],
            "channels": [{"type": "kiosk", "kiosk": {"pay": pay, "request": False, "print": True}}]}


PREDIAL = procedure("pre-1", "Pago del impuesto predial", pay=True)
CONSTANCIA = procedure("pre-2", "Constancia de no adeudo", requires="pre-1")


def leaf_ids(node: Any) -> set[str]:
    found = {node.procedure_id} if node.procedure_id else set()
    for child in node.children:
        found |= leaf_ids(child)
    return found


class FakeIndex:
    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def search(self, text: str, limit: int) -> list[str]:
        self.asked.append((text, limit))
        return [f"hit:{text}"]


class FakeStore:
    """kiosk.catalog.store.CatalogStore as snapshot_from_store reads it."""

    def __init__(self, procedures: list[dict[str, Any]], revision: int, broken: bool = False):
        self.procedures, self.rev, self.broken, self.closed = procedures, revision, broken, False

    def list_active(self) -> list[dict[str, Any]]:
        if self.broken:
            raise OSError("database disk image is malformed")
        return self.procedures

    def categories(self) -> list[dict[str, Any]]:
        return CATEGORIES

    def revision(self) -> int:
        return self.rev

    def search_index(self) -> FakeIndex:
        return FakeIndex()

    def close(self) -> None:
        self.closed = True


class FakeSync:
    """kiosk.catalog.service.CatalogSyncService: `changed()` is a sync that stored a new catalog."""

    def __init__(self, on_change: Any):
        self.on_change, self.started, self.stopped = on_change, False, False

    def start(self) -> None:
        self.started = True

    def stop(self, timeout: float = 10.0) -> bool:
        self.stopped = True
        return True

    def changed(self) -> None:
        self.on_change(SimpleNamespace(changed=True))


@pytest.fixture
def rig(tmp_path: Path) -> SimpleNamespace:
    state = SimpleNamespace(store=FakeStore([PREDIAL, CONSTANCIA], revision=7), opened=[], syncs=[], ui=[],
                            sync_refusal=None)
    (tmp_path / "catalog.sqlite").touch()  # the synced store's file: CatalogFeed looks for it
    config = SimpleNamespace(kiosk=SimpleNamespace(languages=LANGUAGES), data_path=tmp_path)
    catalog = CitizenCatalog(LANGUAGES)
    shown: list[Any] = []
    catalog.on_change(shown.append)

    def open_store(path: Path) -> FakeStore:
        state.opened.append(path)
        return state.store

    def open_sync(config: Any, on_change: Any) -> FakeSync:
        if state.sync_refusal is not None:
            raise state.sync_refusal
        state.syncs.append(FakeSync(on_change))
        return state.syncs[-1]

    def on_ui_thread(work: Any) -> None:
        state.ui.append(work)
        work()

    feed = CatalogFeed(config, catalog, on_ui_thread, run_in_background=at_once, open_store=open_store,
                       open_sync=open_sync)
    return SimpleNamespace(feed=feed, catalog=catalog, shown=shown, path=tmp_path / "catalog.sqlite", state=state)


# -- before any catalog ----------------------------------------------------------------------------
def test_before_any_catalog_the_three_intents_are_offered_and_nothing_breaks():
    catalog = CitizenCatalog(LANGUAGES)
    tree = catalog.tree("es")
    assert [child.id for child in tree.children] == ["pay", "procedures", "search"]
    assert leaf_ids(tree) == set() and catalog.snapshot.empty
    assert catalog.procedure("pre-1") is None and catalog.followers("pre-1") == ()
    assert catalog.search("predial") == []


# -- the catalog being shown -----------------------------------------------------------------------
def test_a_catalog_is_swapped_in_whole_and_the_screens_are_told():
    catalog = CitizenCatalog(LANGUAGES)
    shown: list[Any] = []
    catalog.on_change(shown.append)
    snapshot = build_snapshot(CATEGORIES, [PREDIAL, CONSTANCIA], LANGUAGES, revision=7)
    catalog.replace(snapshot)
    assert shown == [snapshot] and catalog.snapshot is snapshot
    assert leaf_ids(catalog.tree("es")) == {"pre-1", "pre-2"}
    pay = catalog.tree("es").find("pay")
    assert leaf_ids(pay) == {"pre-1"}  # only what can be paid here is under "Pagar"
    assert catalog.procedure("pre-2")["name"]["es"] == "Constancia de no adeudo"
    assert [f["id"] for f in catalog.followers("pre-1")] == ["pre-2"]  # "Después puede hacer"


def test_a_language_the_catalog_has_no_tree_for_falls_back_to_the_first():
    catalog = CitizenCatalog(LANGUAGES)
    catalog.replace(build_snapshot(CATEGORIES, [PREDIAL], ("es",), revision=1))
    assert leaf_ids(catalog.tree("en")) == {"pre-1"}


def test_a_procedure_withdrawn_by_a_new_catalog_is_gone_from_every_path():
    catalog = CitizenCatalog(LANGUAGES)
    catalog.replace(build_snapshot(CATEGORIES, [PREDIAL, CONSTANCIA], LANGUAGES, revision=7))
    catalog.replace(build_snapshot(CATEGORIES, [PREDIAL], LANGUAGES, revision=8))
    assert catalog.procedure("pre-2") is None  # a page left open says it is no longer offered
    assert leaf_ids(catalog.tree("es")) == {"pre-1"} and catalog.followers("pre-1") == ()


def test_search_asks_the_index_only_for_something_typed():
    catalog = CitizenCatalog(LANGUAGES)
    index = FakeIndex()
    catalog.replace(build_snapshot(CATEGORIES, [PREDIAL], LANGUAGES, revision=1, search_index=index))
    assert catalog.search("   ") == [] and index.asked == []
    assert catalog.search("predail", limit=3) == ["hit:predail"] and index.asked == [("predail", 3)]


# -- the feed --------------------------------------------------------------------------------------
def test_at_start_the_stored_catalog_is_shown_on_the_ui_thread_and_the_sync_starts(rig):
    rig.feed.start()
    assert rig.state.opened == [rig.path] and rig.state.store.closed
    assert [s.revision for s in rig.shown] == [7] and len(rig.state.ui) == 1  # delivered through call_soon
    assert leaf_ids(rig.catalog.tree("es")) == {"pre-1", "pre-2"}
    [sync] = rig.state.syncs
    assert sync.started and rig.feed.sync_service is sync
    rig.feed.stop()
    assert sync.stopped


def test_a_newer_catalog_from_the_sync_replaces_the_shown_one(rig):
    rig.feed.start()
    rig.state.store = FakeStore([PREDIAL], revision=8)
    rig.state.syncs[0].changed()
    assert [s.revision for s in rig.shown] == [7, 8]
    assert rig.catalog.procedure("pre-2") is None


def test_while_the_sync_fails_the_last_good_catalog_stays_shown(rig):
    """A stale catalog is better than none: nothing is replaced until a sync stores a newer one."""
    rig.feed.start()
    stale = rig.catalog.snapshot
    rig.state.store = FakeStore([], revision=7)  # what a failed sync leaves: no change is announced
    assert rig.catalog.snapshot is stale and [s.revision for s in rig.shown] == [7]
    rig.feed.reload()  # even a reload (e.g. forced) with nothing in the store does not blank it
    assert rig.catalog.snapshot is stale and not rig.catalog.snapshot.empty


def test_a_damaged_store_keeps_what_is_shown_and_says_why_in_the_log(rig, caplog):
    rig.feed.start()
    shown = rig.catalog.snapshot
    rig.state.store = FakeStore([PREDIAL], revision=9, broken=True)
    with caplog.at_level(logging.ERROR, logger="kiosk.flows.journey"):
        rig.state.syncs[0].changed()
    assert rig.catalog.snapshot is shown and rig.state.store.closed
    [record] = [r for r in caplog.records if r.getMessage() == "catalog.load_failed"]
    assert "malformed" in record.fields["detail"]


def test_a_kiosk_that_never_synced_keeps_its_three_intents(rig):
    rig.path.unlink()
    rig.feed.start()
    assert rig.shown == [] and rig.state.opened == [] and rig.catalog.snapshot.empty
    assert [child.id for child in rig.catalog.tree("es").children] == ["pay", "procedures", "search"]
    assert rig.state.syncs[0].started  # and it goes to fetch one


def test_a_sync_that_cannot_start_keeps_the_stored_catalog_and_says_why(rig, caplog):
    rig.state.sync_refusal = SyncError("no_public_key", "no pinned catalog key: set [api] public_key")
    with caplog.at_level(logging.WARNING, logger="kiosk.flows.journey"):
        rig.feed.start()
    assert [s.revision for s in rig.shown] == [7]  # the stored catalog is still served
    assert rig.feed.sync_service is None
    [record] = [r for r in caplog.records if r.getMessage() == "catalog.sync_off"]
    assert record.fields["reason"] == "no_public_key" and "public_key" in record.fields["detail"]
    rig.feed.stop()  # nothing to stop: no error


def test_the_technician_s_forced_sync_says_what_to_do_when_sync_is_off(rig):
    from kiosk.fleet.actions import force_sync

    rig.state.sync_refusal = SyncError("no_public_key", "no pinned key")
    rig.feed.start()
    result = force_sync(rig.feed)
    assert not result.ok and "public_key" in result.message  # the way forward: pin the key
