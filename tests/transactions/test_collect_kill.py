"""kill -9 during cash collections: either no collection or a complete one, never a credit
counted twice or lost between periods.

A child process takes cash (credits of coins and bills) and collects the box through the real
CashOffice as fast as it can, printing an ACK after each collection returns (after COMMIT). The
parent SIGKILLs it at random instants and checks the file each time.
"""

from __future__ import annotations

import os
import random
import textwrap
from pathlib import Path

from kiosk.transactions.cash_office import CashTotals
from offline_cache.outbox import Outbox
from tests.transactions.conftest import kill_mid_run

KILLS = int(os.environ.get("KIOSK_COLLECT_KILLS", "12"))

COLLECTOR = textwrap.dedent("""
    import sys, types
    from offline_cache.outbox import Outbox
    from kiosk.transactions.cash_office import CashOffice
    box = Outbox(sys.argv[1])
    service = types.SimpleNamespace(outbox=box, _device=lambda kind: None, call_soon=lambda fn: fn(), audit=None)
    office = CashOffice(service)
    n = int(sys.argv[2])
    while True:
        for _ in range(n % 3 + 1):
            n += 1
            r = box.create("payment", 3000, folio=f"C{n}", method="cash")
            box.transition(r.key, "paying")
            box.add_credit(r.key, 2000, "bill")
            box.add_credit(r.key, 1500, "coin")
            box.transition(r.key, "paid")
            box.transition(r.key, "queued")
        collection = office.collect("1042", "corte")
        print("ACK", collection.number, collection.totals.received_cents, flush=True)
""")


def test_kill_during_collections_leaves_whole_periods(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    rng = random.Random(7)
    acked: dict[int, int] = {}
    for kill in range(KILLS):
        kill_mid_run(COLLECTOR, [str(path), str(kill * 100000)], rng.uniform(0.01, 0.2),
                     lambda line: _note(line, acked))
        _check(path, acked)
    assert len(acked) > KILLS  # collections really happened between the kills


def _note(line: str, acked: dict[int, int]) -> None:
    parts = line.split()
    if len(parts) == 3 and parts[0] == "ACK":
        acked[int(parts[1])] = int(parts[2])


def _check(path: Path, acked: dict[int, int]) -> None:
    box = Outbox(path)
    try:
        assert box._read("PRAGMA integrity_check")[0][0] == "ok"
        collections = sorted(box.collections(limit=100000), key=lambda c: c.number)
        assert [c.number for c in collections] == list(range(1, len(collections) + 1))  # no gap, no half
        credits = {row[0]: row[1] for row in box._read("SELECT id, cents FROM credits")}
        previous_mark = 0
        for collection in collections:
            totals = CashTotals.from_dict(collection.totals)
            period = [cents for number, cents in credits.items() if previous_mark < number <= collection.credit_mark]
            assert totals.received_cents == sum(period) > 0, collection.number  # the snapshot is the period
            assert totals.since_collection == collection.number - 1
            previous_mark = collection.credit_mark
        for number, received in acked.items():  # every ACKed collection is on disk as it was reported
            assert collections[number - 1].totals["received_cents"] == received
        open_period = box.cash_ledger()
        assert open_period.credit_mark == previous_mark
        collected = sum(CashTotals.from_dict(c.totals).received_cents for c in collections)
        assert collected + sum(c.cents for c in open_period.credits) == sum(credits.values())  # none lost or twice
    finally:
        box.close()
