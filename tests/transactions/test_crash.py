"""Crash safety: `kiosk load` killed with SIGKILL at random moments, restarted, drained.

Two lanes (two kiosks, each with its own outbox and witness) run in parallel against one
sandbox on loopback; each run does a few transactions and is killed at a random instant after
its services started (inside SQLite writes, between payment and record, between submit and
confirm: wherever the moment falls). The next run recovers what the killed one left. At the end
each lane recovers and drains, and the invariant (tests/transactions/invariant.py) is checked
against the sandbox's ledger. KIOSK_CRASH_RUNS overrides the number of runs (default 200).
"""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import statistics
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from offline_cache import outbox as ob
from offline_cache.outbox import Outbox
from tests.transactions import invariant
from tests.transactions.conftest import PYTHON, ROOT, kiosk, write_config

RUNS = int(os.environ.get("KIOSK_CRASH_RUNS", "200"))


def _wait_started(process: subprocess.Popen, deadline_s: float) -> bool:
    ready, _, _ = select.select([process.stdout], [], [], deadline_s)
    return bool(ready) and process.stdout.readline().strip() == b"started"


CALIBRATE_EVERY = 10  # one run in ten is left to finish, to time a whole run on this machine


def _kill_window(whole_runs_s: list[float]) -> float:
    """How long to wait, at most, before a kill: as long as a whole run takes here. A fixed 0.3 s
    let a fast idle machine finish most runs before the kill (CI once saw 93 kills in 200)."""
    return statistics.median(whole_runs_s) if whole_runs_s else 0.3


def _lane(config: Path, witness: Path, runs: int, seed: int, stats: Counter) -> None:
    rng = random.Random(seed)
    whole_runs_s: list[float] = []
    for run in range(runs):
        process = subprocess.Popen(
            [PYTHON, "-m", "kiosk", "load", "--transactions", "3", "--seed", str(seed * 100000 + run),
             "--config", str(config), "--witness", str(witness), "--announce", "--drain-timeout", "5"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            if _wait_started(process, 20):
                started = time.monotonic()
                calibrating = run % CALIBRATE_EVERY == 0
                try:
                    process.wait(timeout=20 if calibrating else rng.uniform(0.0, _kill_window(whole_runs_s)))
                    if calibrating:
                        whole_runs_s.append(time.monotonic() - started)
                    stats["finished_before_kill"] += 1
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
                    stats["kills"] += 1
            else:
                stats["no_start"] += 1
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            process.stdout.close()
        stats["runs"] += 1
        _note_landing(config.parent / "kiosk" / "outbox.sqlite", stats)


def _note_landing(path: Path, stats: Counter) -> None:
    """Where did the kill land? Rows a killed run left half-way tell (the next run settles them)."""
    box = Outbox(path)
    counts = box.counts()
    box.close()
    for state in (ob.CREATED, ob.PAYING, ob.PAID, ob.QUEUED, ob.SUBMITTED):
        if counts[state]:
            stats[f"left_{state}"] += 1


def test_sigkill_at_random_moments_loses_nothing_and_applies_nothing_twice(sandbox, tmp_path: Path) -> None:
    lanes = []
    for lane in range(2):
        directory = tmp_path / f"lane{lane}"
        directory.mkdir()
        lanes.append((write_config(directory, sandbox.url), directory / "witness", Counter()))
    started = time.monotonic()
    threads = [threading.Thread(target=_lane, args=(config, witness, RUNS // 2 + (i < RUNS % 2), i + 1, stats))
               for i, (config, witness, stats) in enumerate(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(thread.is_alive() for thread in threads)
    ledger = requests.get(sandbox.url + "/v1/sandbox/ledger", timeout=10).json()["transactions"]
    total = Counter()
    money: Counter = Counter()
    records: list[ob.Record] = []
    out_of_order: list[str] = []
    for config, witness, stats in lanes:
        total.update(stats)
        settle = kiosk("load", "--transactions", "0", "--config", str(config), "--drain-timeout", "30")
        assert settle.returncode == 0, settle.stderr
        drain = kiosk("queue", "drain", "--config", str(config), "--timeout", "30")
        assert drain.returncode == 0, drain.stderr
        path = config.parent / "kiosk" / "outbox.sqlite"
        assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        money.update(invariant.read_witness(witness))
        records.extend(Outbox(path).all())
    ledger = requests.get(sandbox.url + "/v1/sandbox/ledger", timeout=10).json()["transactions"]
    for config, _witness, _stats in lanes:
        lane_records = Outbox(config.parent / "kiosk" / "outbox.sqlite").all()
        out_of_order += invariant.order_violations(lane_records, ledger)
    result = invariant.check(money, records, ledger)
    report = {**result, **total, "seconds": round(time.monotonic() - started, 1)}
    print(f"\ncrash test: {report}")
    (ROOT / "var").mkdir(exist_ok=True)
    assert total["runs"] == RUNS and total["kills"] >= RUNS // 2
    assert result["violations"] == [], result["violations"][:10]
    assert out_of_order == []  # per-account order kept through kills and restarts
    assert result["money_folios"] > RUNS  # the workload really took money


def test_the_invariant_check_catches_a_double_application() -> None:
    """Negative control: a kiosk that minted a second key for one payment is caught."""
    record = ob.Record(1, "k1", "F1", "payment", "", "clave_catastral", "A", "", 500, "card", ob.CONFIRMED, "",
                       {}, {}, {"id": "k1"}, 500, 1, 0, "", 0, 0)
    ledger = [{"idempotency_key": "k1", "folio": "F1", "applied": 1, "received": 1},
              {"idempotency_key": "k2", "folio": "F1", "applied": 1, "received": 1}]
    violations = invariant.check(Counter({"F1": 500}), [record], ledger)["violations"]
    assert any("unknown to the kiosk" in v for v in violations)
    assert any("applied under 2 keys" in v for v in violations)
    lost = invariant.check(Counter({"F1": 500, "F2": 500}), [record], ledger[:1])["violations"]
    assert lost == ["F2: money taken, no transaction recorded"]


def test_the_order_check_catches_an_overtaking_payment() -> None:
    def confirmed(seq: int, key: str) -> ob.Record:
        return ob.Record(seq, key, f"F{seq}", "payment", "", "clave_catastral", "A", "", 1, "card", ob.CONFIRMED,
                         "", {}, {}, {"id": key}, 1, 1, 0, "", 0, 0)

    ledger = [{"idempotency_key": "k2"}, {"idempotency_key": "k1"}]
    assert invariant.order_violations([confirmed(1, "k1"), confirmed(2, "k2")], ledger)
    assert invariant.order_violations([confirmed(1, "k1"), confirmed(2, "k2")], ledger[::-1]) == []


@pytest.mark.parametrize("state", [ob.PAID, ob.QUEUED])
def test_the_invariant_check_catches_a_stuck_payment(state: str) -> None:
    record = ob.Record(1, "k1", "F1", "payment", "", "", "", "", 500, "card", state, "", {}, {}, {}, 500, 0, 0, "",
                       0, 0)
    assert invariant.check(Counter({"F1": 500}), [record], [])["violations"]
