"""`kiosk queue [--json]`, `kiosk queue drain`, `kiosk load` as a technician runs them."""

from __future__ import annotations

import json
from pathlib import Path

from offline_cache import outbox as ob
from offline_cache.outbox import Outbox
from tests.transactions.conftest import kiosk, write_config


def _queue_one(config_dir: Path) -> str:
    box = Outbox(config_dir / "kiosk" / "outbox.sqlite")
    body = {"kind": "payment", "account": {"kind": "clave_catastral", "ref": "001-002-003-0001"},
            "amount_cents": 500, "folio": "Q1"}
    record = box.create("payment", 500, folio="Q1", account=("clave_catastral", "001-002-003-0001"), payload=body)
    for state in (ob.PAYING, ob.PAID, ob.QUEUED):
        box.transition(record.key, state)
    box.close()
    return record.key


def test_queue_counts_and_drain_exit_status(sandbox, tmp_path: Path) -> None:
    offline = write_config(tmp_path, "http://127.0.0.1:9")
    _queue_one(tmp_path)
    shown = kiosk("queue", "--json", "--config", str(offline))
    assert shown.returncode == 0
    status = json.loads(shown.stdout)
    assert status["counts"]["queued"] == 1 and status["pending"] == 1 and status["oldest_pending_age_s"] >= 0
    text = kiosk("queue", "--config", str(offline)).stdout
    assert "queued" in text and "oldest pending" in text
    stuck = kiosk("queue", "drain", "--timeout", "1", "--config", str(offline))
    assert stuck.returncode == 1 and "1 transactions still pending" in stuck.stderr
    online = write_config(tmp_path, sandbox.url)
    drained = kiosk("queue", "drain", "--timeout", "20", "--config", str(online))
    assert drained.returncode == 0, drained.stderr
    assert json.loads(kiosk("queue", "--json", "--config", str(online)).stdout)["counts"]["confirmed"] == 1


def test_load_runs_and_reruns(sandbox, tmp_path: Path) -> None:
    config = write_config(tmp_path, sandbox.url)
    for seed in (1, 2):
        result = kiosk("load", "--transactions", "8", "--seed", str(seed), "--json", "--config", str(config))
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["drained"] is True and report["counts"]["confirmed"] >= 6 * seed
