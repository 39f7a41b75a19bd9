"""`kiosk queue drain` in a shell while the app's own submitter sends the same queue: no
traceback, and no transaction is posted twice (the sandbox counts every POST per key)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import requests

from kiosk.core.config import load_config
from kiosk.sandbox import Fault
from kiosk.transactions.api import ApiClient
from kiosk.transactions.submitter import Submitter
from offline_cache import outbox as ob
from offline_cache.outbox import Outbox
from tests.transactions.conftest import ROOT, write_config

QUEUED_ROWS = 60


def _queue(box: Outbox, n: int) -> list[str]:
    keys = []
    for i in range(n):
        folio = f"D{i:04d}"
        record = box.create("certificate", 0, folio=folio, payload={"kind": "certificate", "folio": folio,
                                                                    "procedure_id": "sadv:PRE-004", "amount_cents": 0})
        box.transition(record.key, ob.QUEUED, "free")
        keys.append(record.key)
    return keys


def test_a_shell_drain_beside_the_app_neither_crashes_nor_sends_twice(sandbox, tmp_path: Path) -> None:
    config_path = write_config(tmp_path, sandbox.url)
    config = load_config(config_path)
    box = Outbox(config.data_path / "outbox.sqlite")
    keys = _queue(box, QUEUED_ROWS)
    # Slow answers, so that the app's pass and the shell's pass overlap for seconds.
    sandbox.app.inject(Fault(delay_s=0.05, path_prefix="/v1/transactions", times=QUEUED_ROWS * 2))
    app = Submitter(box, ApiClient(sandbox.url, timeout_s=5), base_s=0.02, cap_s=0.2)
    shell_result: list[subprocess.CompletedProcess] = []

    def shell() -> None:
        shell_result.append(subprocess.run(
            [sys.executable, "-m", "kiosk", "queue", "drain", "--timeout", "60", "--config", str(config_path)],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=dict(os.environ)))

    beside = threading.Thread(target=shell)
    beside.start()
    assert app.drain(60)
    beside.join(timeout=120)
    drain = shell_result[0]
    assert "Traceback" not in drain.stderr and drain.returncode == 0, drain.stderr
    ledger = {e["idempotency_key"]: e for e in
              requests.get(sandbox.url + "/v1/sandbox/ledger", timeout=5).json()["transactions"]}
    assert sorted(ledger) == sorted(keys)
    assert [k for k, e in ledger.items() if e["received"] != 1] == []  # each posted exactly once
    assert all(box.get(key).state == ob.CONFIRMED for key in keys)
