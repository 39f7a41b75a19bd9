"""Sync against the real sandbox API: snapshot, 304, deltas, 410 fallback, rollback and freeze."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from kiosk.catalog.sync import SyncError
from kiosk.sandbox import Fault

PROBE = "sadv:PRE-001"


def test_first_sync_downloads_the_signed_snapshot(make_sync, store):
    result = make_sync().sync_once()
    assert result.mode == "snapshot" and result.revision == 1 and len(result.added) == 158
    status = store.status()
    assert status["signature"].startswith("verified (ed25519 key ")
    assert status["records"] == 158 and status["last_error"] is None and not status["expired"]
    assert store.get(PROBE)["name"] == {"es": "Pago del impuesto predial"}


def test_no_change_is_a_304(synced, sandbox):
    before = synced.store.status()["expires_at"]
    result = synced.sync_once()
    assert result.mode == "unchanged" and not result.changed
    # the 304 carried a freshly signed manifest, so freshness moved forward without a download
    assert synced.store.status()["expires_at"] >= before


def test_incremental_change_applies_upserts_and_tombstones(synced, sandbox, store):
    record = store.get(PROBE)
    record["costs"][0]["formula"] = {"es": "0.2 % anual sobre el valor catastral"}
    new = dict(store.get("sadv:PRE-002"), id="sadv:PRE-099", name={"es": "Trámite nuevo de prueba"})
    sandbox.app.catalog.publish(upserts=[record, new], deletions=["sadv:AC-013"])
    result = synced.sync_once()
    assert (result.mode, result.revision) == ("changes", 2)
    assert result.added == ["sadv:PRE-099"] and result.updated == [PROBE] and result.removed == ["sadv:AC-013"]
    assert store.get("sadv:AC-013") is None
    assert store.get(PROBE)["costs"][0]["formula"]["es"].startswith("0.2 %")
    assert store.status()["records"] == 158


def test_too_far_behind_gets_410_then_full_snapshot(synced, sandbox, store):
    for popularity in range(7):  # retention is 5 revisions in the fixture
        sandbox.app.catalog.publish(upserts=[dict(store.get(PROBE), popularity=popularity)])
    result = synced.sync_once()
    assert result.mode == "snapshot" and result.revision == 8
    assert store.get(PROBE)["popularity"] == 6


def test_rollback_to_an_older_signed_revision_is_refused(synced, sandbox, store):
    old_body = sandbox.app.catalog.snapshot().body
    sandbox.app.catalog.publish(upserts=[dict(store.get(PROBE), popularity=1)])
    synced.sync_once()
    assert store.revision() == 2
    sandbox.app.inject(Fault(body=old_body, revision=1, times=5))
    with pytest.raises(SyncError) as failure:
        synced.sync_once(full=True)
    assert failure.value.code == "rollback"
    assert store.revision() == 2 and store.get(PROBE)["popularity"] == 1


def test_same_revision_with_other_content_is_refused(synced, sandbox, sample):
    sample["procedures"][0]["popularity"] = 2
    sandbox.app.catalog.procedures[sample["procedures"][0]["id"]] = sample["procedures"][0]
    # Simulate a server that re-issued revision 1 with different records.
    from kiosk.catalog.model import with_content_hash

    with_content_hash(sample["procedures"][0])
    sandbox.app.catalog._snapshot = None
    with pytest.raises(SyncError) as failure:
        synced.sync_once(full=True)
    assert failure.value.code == "rollback"


def test_expired_clock_cannot_reopen_old_manifest(synced, sandbox, store):
    # A kiosk whose clock jumps back still refuses a manifest that expired before the last one it saw.
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    store.update_state(issued_at=future.isoformat())
    with pytest.raises(SyncError) as failure:
        synced.sync_once(full=True)
    assert failure.value.code == "expired"


def test_readers_never_see_a_half_applied_catalog(synced, sandbox, store):
    # Every record changes (rev 1 -> 2); a reader polling in another thread must only ever see
    # all-old or all-new rows, never a mixture.
    sandbox.app.catalog.publish(upserts=[store.get(rid) for rid in list(sandbox.app.catalog.procedures)])
    seen: set[tuple[int, ...]] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.add(tuple(row[0] for row in store.db.execute("SELECT DISTINCT rev FROM procedures ORDER BY rev")))
        store.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        synced.sync_once()
    finally:
        stop.set()
        thread.join(10)
    assert (1,) in seen
    assert seen <= {(1,), (2,)}
    assert store.db.execute("SELECT DISTINCT rev FROM procedures").fetchall() == [(2,)]


def test_failed_apply_keeps_previous_catalog(synced, sandbox, store, monkeypatch):
    sandbox.app.catalog.publish(upserts=[dict(store.get(PROBE), popularity=9)])
    real = store.apply_changes

    def broken_digest(*args, **kwargs):
        return real(*args[:4], expected_digest="sha256:" + "0" * 64)
    monkeypatch.setattr(store, "apply_changes", broken_digest)
    with pytest.raises(SyncError) as failure:
        synced.sync_once()
    assert failure.value.code == "digest_mismatch"
    assert store.revision() == 1 and store.get(PROBE)["popularity"] != 9


def test_random_corruptions_of_a_signed_body_are_all_rejected(synced, sandbox, store):
    import random

    from kiosk.sandbox import Fault

    body = sandbox.app.catalog.snapshot().body
    rng = random.Random(3)
    for _ in range(25):
        mutated = bytearray(body)
        action = rng.choice(["flip", "cut", "append"])
        if action == "flip":
            position = rng.randrange(len(mutated))
            mutated[position] ^= 1 << rng.randrange(8)
        elif action == "cut":
            del mutated[rng.randrange(len(mutated)):]
        else:
            mutated += b" "
        sandbox.app.inject(Fault(body=bytes(mutated), sign_body=False))
        with pytest.raises(SyncError) as failure:
            synced.sync_once(full=True)
        assert failure.value.code in {"hash_mismatch", "truncated"}
    assert store.revision() == 1 and store.count() == 158


def test_load_local_file_then_sync_replaces_it(tmp_path, make_sync, store, capsys):
    import json

    from kiosk import cli
    from kiosk.catalog.sample import SAMPLE_PATH

    from .conftest import write_config

    config = write_config(tmp_path / "k.toml", "http://127.0.0.1:9", tmp_path / "nokey.pub", tmp_path / "data")
    assert cli.main(["catalog", "load", "--config", str(config)]) == 0
    status = store.status()
    assert status["revision"] == 1 and status["signature"] == "none (local file)"
    assert status["source"].startswith("file:") and status["records"] == len(
        json.loads(SAMPLE_PATH.read_text())["procedures"])
    result = make_sync().sync_once()
    assert result.mode == "snapshot" and store.status()["signature"].startswith("verified")


def test_unsigned_local_catalog_never_blocks_the_first_verified_one(tmp_path, make_sync, store, sample):
    import copy

    from kiosk.catalog.sync import load_local

    sample = copy.deepcopy(sample)  # the sandbox fixture serves the original
    sample["revision"] = 99  # higher than the server's: must not count as a rollback
    sample["procedures"][0]["popularity"] = 0
    load_local(store, sample, "file:test")
    result = make_sync().sync_once()
    assert (result.mode, result.revision) == ("snapshot", 1)
    assert store.get(PROBE)["popularity"] == 1000 and store.state()["verified"] is True


def test_sandbox_data_dir_keeps_key_and_revisions(tmp_path):
    from kiosk.sandbox import create_app

    app = create_app(data_dir=tmp_path / "sb")
    record = dict(app.catalog.procedures["sadv:PRE-001"], popularity=5)
    assert app.catalog.publish(upserts=[record]) == 2
    again = create_app(data_dir=tmp_path / "sb")
    assert again.catalog.revision == 2 and again.catalog.procedures["sadv:PRE-001"]["popularity"] == 5
    assert (tmp_path / "sb" / "signing.pub").read_text().startswith("ed25519:")


def test_database_failure_during_apply_keeps_previous_catalog(synced, sandbox, store, monkeypatch):
    import sqlite3

    sandbox.app.catalog.publish(upserts=[dict(store.get(PROBE), popularity=4)])
    real_categories = store._replace_categories

    def disk_full(categories):
        real_categories(categories)
        raise sqlite3.OperationalError("database or disk is full")
    monkeypatch.setattr(store, "_replace_categories", disk_full)
    with pytest.raises(SyncError) as failure:
        synced.sync_once()
    assert failure.value.code == "store" and "disk is full" in str(failure.value)
    monkeypatch.undo()
    assert store.revision() == 1 and store.get(PROBE)["popularity"] != 4
    assert store.status()["last_error"]["reason"] == "store"


def test_unchanged_catalog_keeps_getting_fresh_manifests(synced, sandbox, store):
    import datetime as dt

    from kiosk.catalog import signing
    from kiosk.sandbox.state import Published

    state = sandbox.app.catalog
    current = state.snapshot()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=6)  # as if signed six days ago, expiring tomorrow
    manifest = signing.build_manifest("snapshot", 1, current.body, state.digest(), len(state.procedures), now=past)
    state._snapshot = Published(current.body, signing.sign_manifest(manifest, state.key), current.etag)
    state._signed_at = past
    stale = state._snapshot.manifest
    assert state.snapshot().manifest != stale
    store.update_state(expires_at=(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat())
    synced.sync_once()  # a 304 with the re-signed manifest
    assert dt.datetime.fromisoformat(store.status()["expires_at"]) > dt.datetime.now(dt.UTC) + dt.timedelta(days=6)
