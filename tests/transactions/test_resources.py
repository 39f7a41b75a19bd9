"""Full disk, locked and corrupted outbox: refuse money before taking any, say why, lose nothing."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest

from kiosk.core.config import load_config
from kiosk.transactions import Refused, TransactionService
from kiosk.transactions.api import ApiClient
from offline_cache import outbox as ob
from offline_cache.outbox import Outbox
from tests.transactions.conftest import PYTHON, ROOT, write_config


def _service(tmp_path: Path, box: Outbox) -> TransactionService:
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9"))
    from devices.registry import create_adapter

    cash = create_adapter("cash", "cctalk", "sim://")
    cash.open()
    return TransactionService(config, box, ApiClient("http://127.0.0.1:9"), {"cash": cash})


def _recorded(box: Outbox, n: int) -> list[str]:
    keys = []
    for i in range(n):
        record = box.create("payment", 1000, folio=f"F{i}", payload={"i": i})
        box.transition(record.key, ob.PAYING)
        box.transition(record.key, ob.PAID)
        box.transition(record.key, ob.QUEUED)
        keys.append(record.key)
    return keys


def _bill(service: TransactionService):
    return service.bill_from_reference("numero_contrato_agua", "AGU-100234", 5000, "Agua")


def test_locked_database_refuses_then_recovers(tmp_path: Path, caplog) -> None:
    box = Outbox(tmp_path / "o.sqlite", busy_timeout_ms=200)
    keys = _recorded(box, 3)
    service = _service(tmp_path, box)
    holder = sqlite3.connect(tmp_path / "o.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    with caplog.at_level(logging.ERROR, logger="kiosk.transactions"), pytest.raises(Refused) as refused:
        service.begin(_bill(service), "cash")
    assert refused.value.code == "storage.locked" and "No se cobró nada" in refused.value.message
    assert any("storage_unhealthy" in r.getMessage() for r in caplog.records)  # staff alert in the log
    assert service.availability().cash == "storage.locked"
    holder.execute("ROLLBACK")
    holder.close()
    assert service.begin(_bill(service), "cash").state == ob.CREATED
    assert all(box.get(key).state == ob.QUEUED for key in keys)


@pytest.mark.parametrize("damage", ["header", "page"])
def test_corrupted_database_refuses_and_is_left_untouched(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    _recorded(box, 40)
    box._connect().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    box.close()
    data = bytearray(path.read_bytes())
    if damage == "header":
        data[0:16] = b"garbage garbage!"
    else:
        data[4096:3 * 4096] = b"\xff" * 8192  # pages 2 and 3: b-tree pages of the tables
    path.write_bytes(bytes(data))
    damaged = path.read_bytes()
    box = Outbox(path)
    assert box.last_error is not None and box.last_error.code == "storage.corrupt"
    service = _service(tmp_path, box)
    with pytest.raises(Refused) as refused:
        service.begin(_bill(service), "cash")
    assert refused.value.code == "storage.corrupt"
    assert path.read_bytes() == damaged  # never "repaired" by recreating: an attendant/technician decides


def test_free_space_floor_refuses_before_sqlite_would_fail(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", min_free_bytes=2**62)
    service = _service(tmp_path, box)
    with pytest.raises(Refused) as refused:
        service.begin(_bill(service), "cash")
    assert refused.value.code == "storage.low_space" and "espacio" in refused.value.message


FULL_DISK = textwrap.dedent("""
    import json, resource, signal, sys
    from offline_cache.outbox import Outbox, StorageError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write(2) instead of dying
    box = Outbox(sys.argv[1])
    box.health()
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))  # the "disk" is full at 1 MB
    committed, code = [], None
    for i in range(5000):
        try:
            committed.append(box.create("payment", 100, folio=f"F{i}", payload={"pad": "x" * 2000}).key)
        except StorageError as error:
            code = error.code
            break
    health = box.health()
    print(json.dumps({"committed": committed, "code": code, "health": [health.ok, health.code]}))
""")


def test_full_disk_refuses_and_keeps_every_committed_row(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    result = subprocess.run([PYTHON, "-c", FULL_DISK, str(path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["code"] in ("storage.full", "storage.io_error"), report["code"]
    assert report["health"][0] is False and len(report["committed"]) > 10
    box = Outbox(path)  # space is back (no limit here): everything acknowledged is there
    assert box.health().ok
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert {r.key for r in box.all()} >= set(report["committed"])
