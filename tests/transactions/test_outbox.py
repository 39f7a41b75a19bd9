"""The outbox's state machine, journal and ordering, on a real SQLite file."""

from __future__ import annotations

import itertools
import os
import sqlite3
from pathlib import Path

import pytest

from offline_cache import outbox as ob
from offline_cache.outbox import IllegalTransition, Outbox


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite", clock=Clock())


def _new(box: Outbox, folio: str = "F1", account: tuple[str, str] = ("clave_catastral", "A"), amount: int = 500):
    return box.create("payment", amount, folio=folio, account=account, payload={"folio": folio})


def _walk(box: Outbox, key: str, *states: str) -> None:
    for state in states:
        box.transition(key, state)


def test_file_is_private_and_durable(box: Outbox, tmp_path: Path) -> None:
    assert (os.stat(tmp_path / "outbox.sqlite").st_mode & 0o777) == 0o600
    conn = sqlite3.connect(tmp_path / "outbox.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._connect().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_happy_path_records_every_transition_with_its_time(box: Outbox) -> None:
    record = _new(box)
    assert len(record.key) == 36 and record.state == ob.CREATED
    _walk(box, record.key, ob.PAYING, ob.PAID, ob.QUEUED, ob.SUBMITTED, ob.CONFIRMED)
    history = box.history(record.key)
    assert [(h[0], h[1]) for h in history] == [("", "created"), ("created", "paying"), ("paying", "paid"),
                                                 ("paid", "queued"), ("queued", "submitted"),
                                                 ("submitted", "confirmed")]
    times = [h[2] for h in history]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert box.get(record.key).key == record.key  # the key never changes


@pytest.mark.parametrize("current,wanted", [
    (current, wanted) for current, wanted in itertools.product(ob.STATES, ob.STATES)
    if wanted not in ob.TRANSITIONS[current]])
def test_every_illegal_transition_is_refused_and_changes_nothing(tmp_path: Path, current: str, wanted: str) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    record = _new(box)
    path = {ob.CREATED: [], ob.PAYING: [ob.PAYING], ob.PAID: [ob.PAYING, ob.PAID],
            ob.QUEUED: [ob.PAYING, ob.PAID, ob.QUEUED], ob.SUBMITTED: [ob.PAYING, ob.PAID, ob.QUEUED, ob.SUBMITTED],
            ob.CONFIRMED: [ob.PAYING, ob.PAID, ob.QUEUED, ob.SUBMITTED, ob.CONFIRMED],
            ob.REJECTED: [ob.PAYING, ob.PAID, ob.QUEUED, ob.SUBMITTED, ob.REJECTED],
            ob.NEEDS_ATTENDANT: [ob.PAYING, ob.NEEDS_ATTENDANT], ob.CANCELLED: [ob.CANCELLED],
            ob.ABANDONED: [ob.ABANDONED]}[current]
    _walk(box, record.key, *path)
    before = box.history(record.key)
    with pytest.raises(IllegalTransition):
        box.transition(record.key, wanted)
    assert box.get(record.key).state == current and box.history(record.key) == before


def test_cash_credits_are_recorded_only_while_paying(box: Outbox) -> None:
    record = _new(box, amount=10000)
    with pytest.raises(IllegalTransition):
        box.add_credit(record.key, 5000)
    box.transition(record.key, ob.PAYING)
    assert box.add_credit(record.key, 5000) == 5000
    assert box.add_credit(record.key, 2000) == 7000
    assert box.credits(record.key) == [5000, 2000] and box.get(record.key).paid_cents == 7000


def test_recover_settles_what_a_crash_left(box: Outbox) -> None:
    unpaid, paying, cash, paid, submitted = (_new(box, f"F{i}") for i in range(5))
    box.transition(paying.key, ob.PAYING)
    box.transition(cash.key, ob.PAYING)
    box.add_credit(cash.key, 2000)
    _walk(box, paid.key, ob.PAYING, ob.PAID)
    _walk(box, submitted.key, ob.PAYING, ob.PAID, ob.QUEUED, ob.SUBMITTED)
    assert box.recover() == {"abandoned": 1, "needs_attendant": 2, "queued": 1}
    assert box.get(unpaid.key).state == ob.ABANDONED
    assert box.get(paying.key).reason == "restart.payment_outcome_unknown"
    assert box.get(cash.key).reason == "restart.partial_cash:2000"
    assert box.get(paid.key).state == ob.QUEUED
    assert box.get(submitted.key).state == ob.SUBMITTED  # resent with the same key


def test_due_keeps_per_account_order_and_skips_dead_letters(box: Outbox) -> None:
    first, second = _new(box, "A1"), _new(box, "A2")
    other = _new(box, "B1", account=("clave_catastral", "B"))
    for record in (first, second, other):
        _walk(box, record.key, ob.PAYING, ob.PAID, ob.QUEUED)
    assert [r.folio for r in box.due(now=1e12)] == ["A1", "B1"]
    box.note_attempt(first.key, next_at=1e13, error="network")  # backing off: the account waits
    assert [r.folio for r in box.due(now=1e12)] == ["B1"]
    box.transition(first.key, ob.NEEDS_ATTENDANT, "test")  # dead-lettered head does not block
    assert [r.folio for r in box.due(now=1e12)] == ["A2", "B1"]


def test_counts_and_oldest_age(box: Outbox) -> None:
    assert box.oldest_pending_age() is None
    record = _new(box)
    _walk(box, record.key, ob.PAYING, ob.PAID, ob.QUEUED)
    counts = box.counts()
    assert counts["queued"] == 1 and set(counts) == set(ob.STATES)
    assert box.oldest_pending_age(now=record.created_at + 42) == 42


def test_state_survives_reopening(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    record = _new(box)
    box.transition(record.key, ob.PAYING)
    box.close()
    again = Outbox(tmp_path / "o.sqlite")
    assert again.get(record.key).state == ob.PAYING and len(again.history(record.key)) == 2


def test_personal_data_is_scrubbed_after_confirmation(box: Outbox) -> None:
    record = box.create("certificate", 0, folio="C1", payload={"person": {"name": "Ana"}, "folio": "C1"})
    box.scrub_personal_data(record.key)
    assert box.get(record.key).payload == {"person": {"scrubbed": True}, "folio": "C1"}


def test_prune_keeps_undelivered_and_attendant_rows(box: Outbox) -> None:
    done, pending, attention = _new(box, "D"), _new(box, "P"), _new(box, "N")
    _walk(box, done.key, ob.PAYING, ob.PAID, ob.QUEUED, ob.SUBMITTED, ob.CONFIRMED)
    _walk(box, pending.key, ob.PAYING, ob.PAID, ob.QUEUED)
    _walk(box, attention.key, ob.PAYING, ob.NEEDS_ATTENDANT)
    assert box.prune(before=box.clock() + 1) == 1
    assert {r.folio for r in box.all()} == {"P", "N"} and box.history(done.key) == []
