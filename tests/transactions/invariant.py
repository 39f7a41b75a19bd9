"""The exactly-once invariant, checked against the sandbox's ledger (shared by crash and fault tests).

Money taken is read from the witness file that `kiosk load --witness` appends to the moment a
simulated device takes money (the bank's view). After recovery and a full drain:
- every folio that took money is confirmed and applied exactly once, or stands in
  needs_attendant with a reason;
- nothing is left pending, no ledger key is unknown to the kiosk, no folio applied under two keys,
  no key applied twice, and nothing confirmed without money taken.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from offline_cache import outbox as ob


def read_witness(path: Path) -> Counter[str]:
    money: Counter[str] = Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            folio, cents = line.split()
            money[folio] += int(cents)
    return money


def check(money: Counter[str], records: list[ob.Record], ledger: list[dict[str, Any]]) -> dict[str, Any]:
    by_folio = {r.folio: r for r in records}
    by_key = {r.key: r for r in records}
    applied = {e["idempotency_key"]: e for e in ledger}
    violations: list[str] = []
    for folio, cents in money.items():
        record = by_folio.get(folio)
        if record is None:
            violations.append(f"{folio}: money taken, no transaction recorded")
        elif record.state == ob.CONFIRMED:
            entry = applied.get(record.key)
            if entry is None or entry["applied"] != 1:
                violations.append(f"{folio}: confirmed but not applied exactly once")
            elif cents < record.amount_cents:
                violations.append(f"{folio}: applied {record.amount_cents} with only {cents} taken")
        elif record.state == ob.NEEDS_ATTENDANT:
            if not record.reason:
                violations.append(f"{folio}: needs_attendant without a reason")
        else:
            violations.append(f"{folio}: money taken, left in {record.state}")
    for record in records:
        if record.state in (ob.CREATED, ob.PAYING, ob.PAID, ob.QUEUED, ob.SUBMITTED):
            violations.append(f"{record.folio}: still {record.state} after recovery and drain")
        if record.state == ob.CONFIRMED and record.amount_cents and record.folio not in money:
            violations.append(f"{record.folio}: confirmed without money taken")
        if record.state == ob.CONFIRMED and record.response.get("id") != record.key:
            violations.append(f"{record.folio}: confirmed without the API's answer stored")
    folios = Counter(e["folio"] for e in ledger if e["applied"])
    for entry in ledger:
        if entry["idempotency_key"] not in by_key:
            violations.append(f"ledger key {entry['idempotency_key'][:8]} unknown to the kiosk")
        if entry["applied"] > 1:
            violations.append(f"key {entry['idempotency_key'][:8]} applied {entry['applied']} times")
        if folios[entry["folio"]] > 1:
            violations.append(f"{entry['folio']}: applied under {folios[entry['folio']]} keys")
    states = Counter(r.state for r in records)
    return {"violations": violations, "money_folios": len(money), "states": dict(states),
            "applied_once": sum(1 for e in ledger if e["applied"] == 1),
            "received": sum(e["received"] for e in ledger), "keys": len(ledger),
            "redelivered_keys": sum(1 for e in ledger if e["received"] > 1)}


def order_violations(records: list[ob.Record], ledger: list[dict[str, Any]]) -> list[str]:
    """One kiosk's confirmed transactions of each account reached the API in outbox order
    (the ledger lists keys in the order they were first received)."""
    position = {e["idempotency_key"]: i for i, e in enumerate(ledger)}
    by_account: dict[tuple[str, str], list[ob.Record]] = {}
    for record in records:
        if record.state == ob.CONFIRMED and record.account_ref and record.key in position:
            by_account.setdefault(record.account, []).append(record)
    violations = []
    for account, confirmed in by_account.items():
        arrived = [r.seq for r in sorted(confirmed, key=lambda r: position[r.key])]
        if arrived != sorted(arrived):
            violations.append(f"account {account[1]}: applied out of order {arrived[:10]}")
    return violations
