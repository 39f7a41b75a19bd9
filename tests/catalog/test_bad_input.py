"""Point 5 of the issue: bad input never breaks the kiosk.

Each test makes the real sandbox API (a loopback HTTP server) misbehave in one way, then checks
the same four things: the sync fails with a reason code that names the problem, a log line says
so, the previous catalog is still served, and `kiosk catalog status` shows the failure.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
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
    assert failure.value.code == reason, str(failure.value)
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


# ---- publisher input that used to crash the kiosk (RecursionError, TypeError, UnicodeEncodeError) ----

def _nested_envelope(levels: int = 12_000) -> str:
    """What anyone on the path can put in the header: no key needed, 16,000 characters."""
    return base64.urlsafe_b64encode(b"[" * levels).decode()


def test_deeply_nested_manifest_header_is_refused(synced, sandbox, check):
    sandbox.app.inject(Fault(manifest=_nested_envelope(), times=5))
    check(synced, "signature", full=True, words=("nests JSON deeper than",))


def test_deeply_nested_manifest_on_a_changes_page_is_refused(synced, sandbox, check):
    sandbox.app.inject(Fault(manifest=base64.urlsafe_b64encode(b'{"a":' * 2000).decode(), times=5))
    check(synced, "signature", words=("nests JSON deeper than",))


def test_deeply_nested_signed_body_is_refused(synced, sandbox, check):
    sandbox.app.inject(Fault(body=b"[" * 50_000 + b"]" * 50_000, times=5))
    check(synced, "malformed_json", full=True, words=("nests JSON deeper than",))


def test_kiosk_sync_prints_one_line_for_a_nested_manifest(tmp_path, synced, sandbox, key_dir, capsys):
    config = write_config(tmp_path / "k.toml", sandbox.url, key_dir / "signing.pub", tmp_path / "data")
    capsys.readouterr()
    sandbox.app.inject(Fault(manifest=_nested_envelope(), times=5))
    assert cli.main(["sync", "--full", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("kiosk: sync failed (signature)") and "keeping revision 1" in err


def _signed_snapshot_text(sample, old: bytes, new: bytes) -> bytes:
    body = json.dumps(sample).encode()  # ensure_ascii: the publisher's text travels as \\u escapes
    assert old in body
    return body.replace(old, new, 1)


@pytest.mark.parametrize(("new", "reason", "words"), [
    (b'"Pago del impuesto predial \\ud800"', "invalid_record", ("procedures[0].name.es", "surrogate U+D800")),
    (b'"\\udfff Pago del impuesto predial"', "invalid_record", ("procedures[0].name.es", "surrogate U+DFFF")),
    (b'"Pago del impuesto predial \\u001b@"', "invalid_record", ("procedures[0].name.es", "U+001B")),
    (b'"Pago del impuesto predial \xed\xa0\x80"', "malformed_json", ("not UTF-8",)),
])
def test_text_that_cannot_be_stored_is_refused(synced, sandbox, sample, check, new, reason, words):
    body = _signed_snapshot_text(sample, b'"Pago del impuesto predial"', new)
    sandbox.app.inject(Fault(body=body, times=5))
    check(synced, reason, full=True, words=words)


def test_a_lone_surrogate_in_an_unknown_field_is_refused(synced, sandbox, sample, check):
    sample["procedures"][4]["extension_of_the_future"] = {"nota": "x"}
    body = _signed_snapshot_text(sample, b'"x"', b'"\\ud83d"')
    sandbox.app.inject(Fault(body=body, times=5))
    check(synced, "invalid_record", full=True, words=("procedures[4].extension_of_the_future.nota", "surrogate"))


def test_a_paired_surrogate_escape_is_ordinary_text(synced, sandbox, sample, store):
    from kiosk.catalog.model import catalog_digest, with_content_hash

    record = next(record for record in sample["procedures"] if record["id"] == PROBE_ID)
    record["summary"] = {"es": "Pague en l\u00ednea \U0001f4c4"}
    sample["revision"] = 2
    hashes = [(item["id"], with_content_hash(item)["meta"]["content_hash"]) for item in sample["procedures"]]
    body = json.dumps(sample).encode()  # ASCII only: U+1F4C4 travels as a pair of surrogate escapes
    assert b"\\ud83d\\udcc4" in body
    sandbox.app.inject(Fault(body=body, revision=2, digest=catalog_digest(hashes)))
    assert synced.sync_once(full=True).revision == 2
    assert store.get(PROBE_ID)["summary"]["es"].endswith("\U0001f4c4")


def test_copies_null_means_not_stated(synced, sandbox, store):
    """docs/catalog.md: absent and null mean the same. This used to raise TypeError in validation."""
    record = copy.deepcopy(store.get(PROBE_ID))
    requirement = record["requirements"][0]
    requirement.update(original=1, copies=None, certified_copies=None)
    record.update(forms=None, audience=None, life_events=None)
    sandbox.app.catalog.publish(upserts=[record])
    result = synced.sync_once()
    assert result.updated == [PROBE_ID]
    stored = store.get(PROBE_ID)
    assert "copies" not in stored["requirements"][0] and "forms" not in stored
    assert store.state()["digest"] == sandbox.app.catalog.digest()  # the signed digest still holds


def test_a_stored_record_with_nulls_renders_its_page(synced, sandbox, store):
    from kiosk.core.i18n import Translator
    from kiosk.flows.procedure_page import PageWriter

    record = copy.deepcopy(store.get(PROBE_ID))
    for key in ("requirements", "audience", "deadlines", "outputs", "forms", "keywords", "description"):
        record[key] = None
    sandbox.app.catalog.publish(upserts=[record])
    synced.sync_once()
    sections = PageWriter(Translator("es")).sections(store.get(PROBE_ID), store.get)
    assert sections and all(section.lines for section in sections)


def _changes_page_after(store, sample, upserts=(), tombstones=(), categories=None) -> tuple[bytes, str]:
    """A changes page and the digest the catalog really has once it is applied (so only the check
    under test can refuse it)."""
    from kiosk.catalog.model import catalog_digest, with_content_hash

    upserts = [with_content_hash(copy.deepcopy(record)) for record in upserts]
    hashes = dict(store.db.execute("SELECT id, content_hash FROM procedures").fetchall())
    hashes.update({record["id"]: record["meta"]["content_hash"] for record in upserts})
    for record_id in tombstones:
        hashes.pop(record_id)
    tombs = [{"id": record_id, "deleted_at": "2026-01-03T08:00:00Z"} for record_id in tombstones]
    page = _changes_body(sample, upserts=upserts, tombstones=tombs,
                         categories=sample["categories"] if categories is None else categories)
    return page, catalog_digest(hashes.items())


def test_changes_page_with_an_unknown_category_is_refused(synced, sandbox, sample, store, check):
    record = dict(store.get(PROBE_ID), categories=["predial", "fantasma"])
    page, digest = _changes_page_after(store, sample, upserts=[record])
    sandbox.app.inject(Fault(body=page, revision=2, digest=digest, times=5))
    check(synced, "unknown_category", words=("upserts[0].categories", "'fantasma'"))


def test_changes_page_dropping_a_category_still_in_use_is_refused(synced, sandbox, sample, store, check):
    kept = [category for category in sample["categories"] if category["id"] != "agua"]
    page, digest = _changes_page_after(store, sample, categories=kept)
    sandbox.app.inject(Fault(body=page, revision=2, digest=digest, times=5))
    check(synced, "unknown_category", words=("'agua'", "still"))


def test_changes_page_may_drop_a_category_with_its_last_procedures(synced, sandbox, sample, store):
    gone = [rid for (rid, cats) in store.db.execute("SELECT id, categories FROM procedures") if "agua" in cats]
    kept = [category for category in sample["categories"] if category["id"] != "agua"]
    page, digest = _changes_page_after(store, sample, tombstones=gone, categories=kept)
    sandbox.app.inject(Fault(body=page, revision=2, digest=digest, times=5))
    result = synced.sync_once()
    assert result.revision == 2 and sorted(result.removed) == sorted(gone)
    assert "agua" not in {category["id"] for category in store.categories()}


# ---- a 304 is proof of freshness only with the signed manifest ----

LONG_AGO = "2020-01-01T00:00:00+00:00"


def _other_manifest(sandbox, **changes) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    state = sandbox.app.catalog
    arguments = {"body": b"", "kind": "snapshot", "revision": state.revision, "count": len(state.procedures),
                 "key": None, "lifetime": None, "digest": None}
    arguments.update(changes)
    if arguments.pop("foreign_key", False):
        arguments["key"] = Ed25519PrivateKey.generate()
    return state.sign(**arguments).manifest


@pytest.mark.parametrize(("fault", "reason", "words"), [
    ({"no_manifest": True}, "signature", ("304", "no signed manifest")),
    ({"manifest": "not-base64!"}, "signature", ("304", "readable envelope")),
    ({"foreign_key": True}, "signature", ("304", "pinned key")),
    ({"lifetime": dt.timedelta(hours=-1)}, "expired", ("304", "expired")),
    ({"revision": 2}, "manifest_mismatch", ("304", "revision 2")),
    ({"digest": "sha256:" + "0" * 64}, "manifest_mismatch", ("304", "digest")),
    ({"kind": "changes", "since": 1}, "signature", ("304", "changes")),
])
def test_a_304_without_a_valid_signed_manifest_is_not_fresh(synced, sandbox, store, check, fault, reason, words):
    store.update_state(synced_at=LONG_AGO)
    if "no_manifest" not in fault and "manifest" not in fault:
        fault = {"manifest": _other_manifest(sandbox, **fault)}
    sandbox.app.inject(Fault(path_prefix="/v1/catalog/changes", times=5, **fault))
    check(synced, reason, words=words)
    assert store.status()["synced_at"] == LONG_AGO


def test_a_signed_304_is_fresh(synced, sandbox, store):
    store.update_state(synced_at=LONG_AGO)
    result = synced.sync_once()
    assert result.mode == "unchanged"
    assert store.status()["synced_at"] != LONG_AGO and store.status()["age_s"] < 60
