"""Point 5 of the issue: bad input never breaks the kiosk.

Each test makes the real sandbox API (a loopback HTTP server) misbehave in one way, then checks
the same four things: the sync fails with a reason code that names the problem, a log line says
so, the previous catalog is still served, and `kiosk catalog status` shows the failure.
"""

from __future__ import annotations

import json
import logging

import pytest

from kiosk import cli
from kiosk.catalog.sync import SyncError
from kiosk.sandbox import Fault

from .conftest import write_config

PROBE_ID = "sadv:PRE-001"


def _cli_status(tmp_path, sandbox, key_dir, capsys) -> dict:
    config = write_config(tmp_path / "kiosk.toml", sandbox.url, key_dir / "signing.pub", tmp_path / "data")
    capsys.readouterr()
    assert cli.main(["catalog", "status", "--json", "--config", str(config)]) == 0
    return json.loads(capsys.readouterr().out)


def assert_fails_safely(sync, reason, caplog, tmp_path, sandbox, key_dir, capsys, full=False, words=()):
    before = sync.store.get(PROBE_ID)
    count = sync.store.count()
    with caplog.at_level(logging.WARNING, logger="kiosk.catalog.sync"), pytest.raises(SyncError) as failure:
        sync.sync_once(full=full)
    assert failure.value.reason == reason, str(failure.value)
    for word in words:
        assert word in str(failure.value)
    logged = [r for r in caplog.records if r.getMessage() == "catalog.sync_failed"]
    assert logged and logged[-1].fields["reason"] == reason
    assert sync.store.revision() == 1
    assert sync.store.count() == count
    assert sync.store.get(PROBE_ID) == before
    assert sync.store.search("predial")[0].id.startswith("sadv:PRE")
    status = _cli_status(tmp_path, sandbox, key_dir, capsys)
    assert status["revision"] == 1
    assert status["last_error"]["reason"] == reason
    return failure.value


@pytest.fixture
def check(caplog, tmp_path, sandbox, key_dir, capsys):
    def run(sync, reason, **kwargs):
        return assert_fails_safely(sync, reason, caplog, tmp_path, sandbox, key_dir, capsys, **kwargs)
    return run


def _snapshot_with(sample, change) -> bytes:
    change(sample)
    return json.dumps(sample, ensure_ascii=False).encode()


def test_malformed_json(synced, sandbox, check):
    sandbox.app.inject(Fault(body=b'{"format": "kiosk-catalog/1", "revision": 1, "procedures": [', times=5))
    check(synced, "malformed_json", full=True, words=("not valid JSON",))


def test_wrong_types(synced, sandbox, sample, check):
    def change(doc):
        doc["procedures"][5]["popularity"] = "alta"
    sandbox.app.inject(Fault(body=_snapshot_with(sample, change), times=5))
    check(synced, "invalid_record", full=True, words=("procedures[5].popularity", "expected an integer"))


def test_wrong_money_type(synced, sandbox, sample, check):
    def change(doc):
        doc["procedures"][7]["costs"][0] = {"id": "derechos", "kind": "fixed", "amount": 204.5, "currency": "MXN"}
    sandbox.app.inject(Fault(body=_snapshot_with(sample, change), times=5))
    check(synced, "invalid_record", full=True, words=("procedures[7].costs[0].amount", "decimal string"))


def test_missing_required_field(synced, sandbox, sample, check):
    def change(doc):
        del doc["procedures"][3]["name"]
    sandbox.app.inject(Fault(body=_snapshot_with(sample, change), times=5))
    check(synced, "invalid_record", full=True, words=("procedures[3]", "missing required field 'name'"))


def test_bad_signature(synced, sandbox, check):
    sandbox.app.inject(Fault(bad_signature=True, times=5))
    check(synced, "signature", full=True, words=("pinned key",))


def test_missing_signature(synced, sandbox, check):
    sandbox.app.inject(Fault(no_manifest=True, times=5))
    check(synced, "signature", full=True, words=("no signed manifest",))


def test_tampered_body_fails_hash(synced, sandbox, check):
    body = sandbox.app.catalog.snapshot().body.replace(b"Pago del impuesto predial", b"Pago del impuesto predia1")
    sandbox.app.inject(Fault(body=body, sign_body=False, times=5))
    check(synced, "hash_mismatch", full=True)


def test_body_cut_short(synced, sandbox, sleeps, check):
    sandbox.app.inject(Fault(truncate=True, times=10))
    check(synced, "truncated", full=True)
    assert len(sleeps.delays) == 2  # three attempts, two backoff pauses


def test_body_over_size_limit_by_content_length(make_sync, store, sandbox, check):
    make_sync().sync_once()
    small = make_sync(max_bytes=100_000)
    check(small, "too_large", full=True, words=("over the 100000-byte limit",))


def test_body_over_size_limit_while_streaming(synced, make_sync, sandbox, check):
    # No Content-Length: only counting bytes as they arrive can stop an endless body.
    sandbox.app.inject(Fault(stream_bytes=200_000_000, times=5))
    check(make_sync(max_bytes=2_000_000), "too_large", full=True, words=("while downloading",))


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_then_reported(synced, sandbox, sleeps, check, status):
    sandbox.app.inject(Fault(status=status, times=10))
    check(synced, f"http_{status}", words=(f"HTTP {status}",))
    assert len(sleeps.delays) == 2
    assert all(0 <= delay <= 4.0 for delay in sleeps.delays)


def test_server_error_then_recovery(synced, sandbox, sleeps):
    sandbox.app.catalog.publish(upserts=[dict(synced.store.get(PROBE_ID), popularity=3)])
    sandbox.app.inject(Fault(status=503, times=2))
    result = synced.sync_once()
    assert result.revision == 2 and result.updated == [PROBE_ID]
    assert len(sleeps.delays) == 2


def test_read_timeout(synced, make_sync, sandbox, check):
    sandbox.app.inject(Fault(delay_s=5.0, times=10))
    check(make_sync(read_timeout_s=0.3, attempts=2), "timeout")


def test_connection_refused(synced, sandbox, check, make_sync):
    import socket

    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sync = make_sync(attempts=2)
    sync.settings = type(sync.settings)(**{**sync.settings.__dict__, "base_url": f"http://127.0.0.1:{port}"})
    check(sync, "network")


def test_wrong_content_type(synced, sandbox, check):
    sandbox.app.inject(Fault(content_type="text/html; charset=utf-8", times=5))
    check(synced, "content_type", full=True, words=("text/html",))


def test_duplicate_ids(synced, sandbox, sample, check):
    def change(doc):
        doc["procedures"][10] = dict(doc["procedures"][11])
    sandbox.app.inject(Fault(body=_snapshot_with(sample, change), times=5))
    check(synced, "duplicate_id", full=True, words=("duplicate procedure id",))


def _changes_body(sample, **overrides) -> bytes:
    page = {"format": "kiosk-catalog/1", "since": 1, "revision": 2, "generated_at": "2026-01-03T08:00:00Z",
            "categories": sample["categories"], "upserts": [], "tombstones": []}
    page.update(overrides)
    return json.dumps(page, ensure_ascii=False).encode()


def test_tombstone_for_unknown_id(synced, sandbox, sample, check):
    tomb = {"id": "sadv:NO-SUCH", "deleted_at": "2026-01-03T08:00:00Z", "reason": "retirado"}
    sandbox.app.inject(Fault(body=_changes_body(sample, tombstones=[tomb]), revision=2, times=5))
    check(synced, "unknown_tombstone", words=("sadv:NO-SUCH",))


def test_tombstone_with_upsert_applies_nothing(synced, sandbox, sample, check):
    # A valid tombstone next to an unknown one: the whole page is refused, including the valid part.
    good = {"id": PROBE_ID, "deleted_at": "2026-01-03T08:00:00Z"}
    bad = {"id": "sadv:NO-SUCH", "deleted_at": "2026-01-03T08:00:00Z"}
    sandbox.app.inject(Fault(body=_changes_body(sample, tombstones=[good, bad]), revision=2, times=5))
    check(synced, "unknown_tombstone")


def test_duplicate_ids_in_changes(synced, sandbox, sample, check):
    record = sample["procedures"][0]
    sandbox.app.inject(Fault(body=_changes_body(sample, upserts=[record, record]), revision=2, times=5))
    check(synced, "duplicate_id")


def test_expired_manifest(synced, sandbox, check):
    sandbox.app.inject(Fault(expired=True, times=5))
    check(synced, "expired", full=True)
