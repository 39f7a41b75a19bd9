"""kill -9 inside the outbox's own SQLite writes (research §4.1 applied to our transitions).

A child process walks transactions through every state as fast as it can and prints an ACK
after each call returns (i.e. after COMMIT). The parent SIGKILLs it at random instants and then
checks the file: integrity ok; every row's state equals the last history entry (no torn
transition: row and journal always change together); credits add up to paid_cents; every
ACKed step is on disk.
"""

from __future__ import annotations

import os
import random
import sqlite3
import textwrap
from pathlib import Path

from tests.transactions.conftest import kill_mid_run

KILLS = int(os.environ.get("KIOSK_OUTBOX_KILLS", "40"))

WRITER = textwrap.dedent("""
    import sys
    from offline_cache.outbox import Outbox
    box = Outbox(sys.argv[1])
    box.recover()
    n = int(sys.argv[2])
    while True:
        n += 1
        r = box.create("payment", 3000, folio=f"K{n}", account=("clave_catastral", f"A{n % 3}"),
                       payload={"pad": "x" * (n % 7 * 700)})
        print("ACK", r.key, "created", flush=True)
        for state in ("paying",):
            box.transition(r.key, state); print("ACK", r.key, state, flush=True)
        box.add_credit(r.key, 2000); print("ACK", r.key, "credit", flush=True)
        box.add_credit(r.key, 1000); print("ACK", r.key, "credit", flush=True)
        for state in ("paid", "queued", "submitted", "confirmed"):
            box.transition(r.key, state); print("ACK", r.key, state, flush=True)
""")


def test_kill_inside_outbox_writes_never_tears_a_transition(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    rng = random.Random(42)
    acked: dict[str, list[str]] = {}
    for kill in range(KILLS):
        kill_mid_run(WRITER, [str(path), str(kill * 100000)], rng.uniform(0.02, 0.25),
                     lambda line: _note(line, acked), start_timeout_s=20)
        _check(path, acked)
    assert sum(len(steps) for steps in acked.values()) > KILLS * 5


def _note(line: str, acked: dict[str, list[str]]) -> None:
    parts = line.split()
    if len(parts) == 3 and parts[0] == "ACK":
        acked.setdefault(parts[1], []).append(parts[2])


def _check(path: Path, acked: dict[str, list[str]]) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT seq, key, state, paid_cents FROM transactions").fetchall()
        for seq, key, state, paid in rows:
            history = [h[0] for h in conn.execute("SELECT to_state FROM history WHERE seq=? ORDER BY id", (seq,))]
            assert history and history[-1] == state, (key, state, history)  # row and journal together
            credits = conn.execute("SELECT COALESCE(SUM(cents), 0) FROM credits WHERE seq=?", (seq,)).fetchone()[0]
            assert credits == paid, (key, credits, paid)
            steps = [s for s in acked.get(key, []) if s != "credit"]
            assert history[: len(steps)] == steps or history[0] == "created"  # ACKed steps are on disk
            for step in steps:
                assert step in history, (key, step, history)
        known = {row[1] for row in rows}
        assert set(acked) <= known  # no ACKed transaction lost
    finally:
        conn.close()
