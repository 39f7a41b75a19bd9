"""Scrubbed means gone from disk: once a request's personal data is scrubbed (the API confirmed it,
or the transaction ended without being sent), the name, CURP and ID number are in no file of the
data directory: not the database, not the -wal (where the old pages stay until a checkpoint
overwrites them), not the -shm, not a journal.

The raw bytes are read by `grep` in another process while the kiosk's outbox stays open: reading
a live database file from the process that holds it would drop that process's locks, and closing
the last connection would checkpoint and delete the -wal, hiding exactly what is tested here.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kiosk.catalog.sample import load_sample
from kiosk.transactions import Identity
from offline_cache import outbox as ob
from offline_cache.outbox import Outbox
from tests.transactions.test_service import _pay_card, _service

NAME, CURP, ID_NUMBER = "Zacarías Quintanilla Ybarra", "QUYZ800101HDFNBC09", "ID4455667788"


def _needles() -> list[bytes]:
    """The personal data as it could appear in a file: UTF-8 and JSON-escaped."""
    found = set()
    for text in (NAME, CURP, ID_NUMBER, "Quintanilla"):
        found.add(text.encode())
        found.add(json.dumps(text)[1:-1].encode())
    return sorted(found)


def _files_holding_personal_data(directory: Path) -> list[str]:
    holding = []
    for needle in _needles():
        found = subprocess.run(["grep", "-r", "-l", "-a", "-F", "-e", needle.decode(), str(directory)],
                               capture_output=True, text=True, timeout=30)
        assert found.returncode in (0, 1), found.stderr  # 1: not found
        holding += [f"{line} ({needle.decode()})" for line in found.stdout.splitlines()]
    return holding


def _certificate() -> dict:
    return next(p for p in load_sample()["procedures"] if p["id"] == "sadv:PRE-004")


def test_a_confirmed_request_leaves_no_personal_data_in_any_file(sandbox, tmp_path: Path) -> None:
    service, pump, _ = _service(tmp_path, sandbox.url)
    person = Identity("typed", NAME, CURP, "")
    tx = service.begin(_certificate(), "card", person=person)
    data_dir = service.config.data_path
    assert _files_holding_personal_data(data_dir), "the test must see the data while it is kept"
    assert _pay_card(service, pump, tx).ok
    service.submitter.run_once()
    record = service.outbox.get(tx.key)
    assert record.state == ob.CONFIRMED and record.payload["person"] == {"scrubbed": True}
    assert _files_holding_personal_data(data_dir) == []  # the outbox is still open, its -wal live


@pytest.mark.parametrize("ending", ["cancelled", "abandoned"])
def test_a_request_that_ends_unsent_leaves_no_personal_data(tmp_path: Path, ending: str) -> None:
    box = Outbox(tmp_path / "outbox.sqlite")
    record = box.create("certificate", 0, folio="C1", payload={
        "person": {"method": "id_card", "name": NAME, "id_number": ID_NUMBER}, "folio": "C1"})
    assert _files_holding_personal_data(tmp_path)
    if ending == "cancelled":
        box.transition(record.key, ob.CANCELLED, "citizen.left")
    else:
        box.recover()  # a restart finds it unpaid
    assert box.get(record.key).payload["person"] == {"scrubbed": True}
    assert _files_holding_personal_data(tmp_path) == []
    box.close()
