"""The API behind a misbehaving loopback proxy: drops, delays, 5xx, answers cut after the server
applied the request; plus kills of the kiosk. Same invariant as the crash test."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
from pathlib import Path

import requests

from offline_cache.outbox import Outbox
from tests.transactions import invariant
from tests.transactions.conftest import PYTHON, ROOT, kiosk, write_config
from tests.transactions.faultproxy import FaultProxy


def test_faulty_network_and_kills_still_apply_each_payment_once(sandbox, tmp_path: Path) -> None:
    port = int(sandbox.url.rsplit(":", 1)[1])
    proxy = FaultProxy(port, seed=11).start()
    try:
        config = write_config(tmp_path, proxy.url)
        text = config.read_text().replace("timeout_s = 2", "timeout_s = 1")
        config.write_text(text)
        witness = tmp_path / "witness"
        rng = random.Random(5)
        kills = 0
        for run in range(6):
            process = subprocess.Popen(
                [PYTHON, "-m", "kiosk", "load", "--transactions", "12", "--seed", str(run), "--config", str(config),
                 "--witness", str(witness), "--announce", "--drain-timeout", "20"],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            try:
                ready, _, _ = select.select([process.stdout], [], [], 20)
                assert ready and process.stdout.readline().strip() == b"started"
                if run % 2:  # every other run is killed mid-way
                    try:
                        process.wait(timeout=rng.uniform(0.2, 1.5))
                    except subprocess.TimeoutExpired:
                        os.kill(process.pid, signal.SIGKILL)
                        kills += 1
                process.wait(timeout=90)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)
                process.stdout.close()
        settle = kiosk("load", "--transactions", "0", "--config", str(config), "--drain-timeout", "60")
        assert settle.returncode == 0, settle.stderr
        drain = kiosk("queue", "drain", "--config", str(config), "--timeout", "60")
        assert drain.returncode == 0, drain.stderr
    finally:
        proxy.stop()
    ledger = requests.get(sandbox.url + "/v1/sandbox/ledger", timeout=5).json()["transactions"]
    records = Outbox(tmp_path / "kiosk" / "outbox.sqlite").all()
    result = invariant.check(invariant.read_witness(witness), records, ledger)
    print(f"\nnetwork faults: {result} proxy={dict(proxy.counts)} kills={kills}")
    assert result["violations"] == [], result["violations"][:10]
    assert invariant.order_violations(records, ledger) == []
    assert proxy.counts["cut:POST"] > 0 and proxy.counts["error5xx"] > 0 and proxy.counts["reset"] > 0
    assert result["redelivered_keys"] > 0  # answers lost after the server applied them were resent
    assert result["applied_once"] >= 20
