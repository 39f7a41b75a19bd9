"""The chaos of the real process layout, for a fixed time (issue 2's figures).

The same chaos as tests/test_chaos_layout.py: a child opens the stores the way `kiosk run` does
(fleet monitor, transactions, staff, audit, catalog) and takes payments with the simulated devices
while `kiosk queue`, `diag`, `cash totals`, `staff list` and `audit verify` loop beside it, and is
SIGKILLed at random moments; then a clean restart drains the queue against the sandbox ledger.

- `chaos_kills`: SIGKILLs in KIOSK_BENCH_CHAOS_S seconds (45).
- `chaos_commits`: commits the child acknowledged before it was killed (payments, credits, audit
  entries, wrong PINs, logins, catalog beats).
- `chaos_survivors`: of those, found on disk after the kill (budget: all of them).
- `chaos_lost`: acknowledged and not found (budget: 0).
- `chaos_violations`: anything else the checks refused: a payment applied twice or left pending, a
  traceback in a shell, a damaged file, credits that disagree with the acceptor (budget: 0).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.harness import Measurement

SECONDS = float(os.environ.get("KIOSK_BENCH_CHAOS_S", "45"))


def run() -> list[Measurement]:
    from tests.test_chaos_layout import run_chaos

    with tempfile.TemporaryDirectory(prefix="bench-chaos-") as directory:
        result = run_chaos(Path(directory), SECONDS)
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(result.acked.items()))
    shells = sum(result.shells.values())
    where = f"{result.runs} runs in {result.seconds:.0f} s, {shells} shell commands beside"
    return [
        Measurement("chaos_kills", result.kills, "kills", detail=where),
        Measurement("chaos_commits", result.acknowledged, "commits", detail=kinds),
        Measurement("chaos_survivors", result.survivors, "commits", result.acknowledged, "acknowledged",
                    detail=f"applied exactly once at the API: {result.applied_once}"),
        Measurement("chaos_lost", result.lost, "commits", detail="acknowledged, then not on disk after a SIGKILL"),
        Measurement("chaos_violations", len(result.violations), "violations",
                    detail="; ".join(result.violations[:3])[:300]),
    ]
