"""Recording money that has moved: retried, journalled, never forgotten, never denied.

Once the terminal approved a sale or the acceptor stacked a note, the citizen's money is in the
kiosk. `MoneyRecorder.record` writes the event to the outbox, retrying for a few seconds (another
process may hold the database a moment longer than the busy timeout); if the database still
refuses, the event goes to the money journal (offline_cache/money_journal.py), fsynced, and is
kept in memory as "stranded" so the attendant's list shows it at once. `settle()` (at start and
on every pass of the submitter) replays the journal into the outbox when it accepts writes again,
and retries the hand-over to an attendant of transactions whose `needs_attendant` transition
could not be written. Nothing here ever tells anyone that money was not taken.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from kiosk.core.logs import event as log_event
from offline_cache.money_journal import JournalError, MoneyEvent, MoneyJournal
from offline_cache.outbox import NEEDS_ATTENDANT, PAYING, Outbox, OutboxError, StorageError

log = logging.getLogger("kiosk.transactions")
T = TypeVar("T")

RETRY_FOR_S = 3.0  # how long a money write is retried before the journal takes it
FIRST_RETRY_S = 0.1  # doubled after each failure


class MoneyRecorder:
    def __init__(self, outbox: Outbox, journal: MoneyJournal, *, retry_for_s: float = RETRY_FOR_S,
                 sleep: Callable[[float], None] = time.sleep):
        self.outbox = outbox
        self.journal = journal
        self.retry_for_s = retry_for_s
        self.sleep = sleep
        self._lock = threading.Lock()
        self._stranded: dict[str, MoneyEvent] = {}  # id -> a journalled event not yet in the outbox
        self._handed_over: dict[str, str] = {}  # key -> reason: needs_attendant not yet written

    # ---- recording -------------------------------------------------------------------------

    def record(self, money: MoneyEvent, write: Callable[[], T]) -> T | None:
        """`write()` (the outbox commit that records `money`) until it succeeds; None when the
        database kept refusing and `money` went to the journal instead."""
        deadline = time.monotonic() + self.retry_for_s
        delay = FIRST_RETRY_S
        while True:
            try:
                return write()
            except StorageError as error:
                problem = error
            if time.monotonic() + delay > deadline:
                break
            self.sleep(delay)
            delay *= 2
        self._journal(money, problem)
        return None

    def _journal(self, money: MoneyEvent, problem: StorageError) -> None:
        with self._lock:
            self._stranded[money.id] = money
        try:
            self.journal.append(money)
            where = "journal"
        except JournalError as error:
            where = f"memory_only:{error}"
        log_event(log, "money.not_recorded", level=logging.CRITICAL, folio=money.folio, kind=money.kind,
                  cents=money.cents, storage=problem.code, kept_in=where)

    def hand_over(self, key: str, reason: str) -> bool:
        """Move a transaction that took money (or may have) to an attendant; if the database
        refuses, remember it (the attendant's list shows it now) and retry in `settle()`."""
        try:
            self.outbox.transition(key, NEEDS_ATTENDANT, reason)
            return True
        except StorageError:
            with self._lock:
                self._handed_over[key] = reason
            return False
        except OutboxError:  # already moved on (an attendant, a restart): nothing left to do
            return True

    # ---- what the attendant sees -------------------------------------------------------------

    def stranded(self) -> list[MoneyEvent]:
        """Money events not in the outbox yet, oldest first."""
        with self._lock:
            return sorted(self._stranded.values(), key=lambda money: money.at)

    def waiting_keys(self) -> dict[str, str]:
        """Transactions an attendant must see although the outbox does not say so yet: key ->
        reason ("money.not_recorded" for journalled money, else the hand-over reason)."""
        with self._lock:
            waiting = dict(self._handed_over)
            waiting.update({money.key: "money.not_recorded" for money in self._stranded.values()})
        return waiting

    # ---- catching up -----------------------------------------------------------------------

    def settle(self) -> int:
        """Replay the journal into the outbox (each entry once), then retry pending hand-overs;
        returns how many journal entries were applied now. Quiet when the database still refuses."""
        applied = 0
        try:
            for money in self.journal.entries():
                if self.outbox.apply_money_event(money):
                    applied += 1
                    log_event(log, "money.recorded_late", level=logging.WARNING, folio=money.folio,
                              kind=money.kind, cents=money.cents)
                with self._lock:
                    self._stranded.pop(money.id, None)
            self._clear_journal()
            self._retry_hand_overs()
        except StorageError:
            return applied
        return applied

    def _clear_journal(self) -> None:
        entries = self.journal.entries()
        if entries:
            self.journal.clear({money.id for money in entries if self.outbox.journal_applied(money.id)})

    def _retry_hand_overs(self) -> None:
        with self._lock:
            pending = dict(self._handed_over)
        for key, reason in pending.items():
            try:
                if self.outbox.get(key).state == PAYING:
                    self.outbox.transition(key, NEEDS_ATTENDANT, reason)
            except StorageError:
                raise
            except (KeyError, OutboxError):  # gone, or moved on meanwhile: nothing to hand over
                pass
            with self._lock:
                self._handed_over.pop(key, None)
