"""One cash payment, from enabling the acceptor until the citizen has their change or their money back.

The acceptor's events reach the intake directly in the device's thread (no UI hop) and queue up
for the intake's own worker, which records each credit in the outbox before telling the screen
(`on_progress(Progress)` through call_soon). The change limit is known before any money goes in
(`ChangeDesk.limit_cents`), and a bill that would need more change than that is held in escrow and
handed back (`on_notice("cash.returned", cents)`).

The payment ends once: the amount is reached; the citizen cancels; nothing happens for
`idle_s` (the citizen walked away); the acceptor jams, reports fraud or is lost; or the disk refuses
a credit. Every ending first disables the acceptor, and `disable()` returns only after the device
has read its event queues quiet, so every credit stacked before the inhibit took effect is
recorded (over the amount: change due). The device's own counts from enable to inhibit
(`CashAdapter.mark`) are reconciled with what was recorded; a difference goes to an attendant.
Then the money is settled: change paid by the hoppers, or the money taken paid back, ledger first
(kiosk/transactions/change.py); whatever the hoppers cannot pay becomes a kiosk voucher.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.contract import DeviceError, DeviceEvent
from kiosk.core.logs import event as log_event
from offline_cache.money_journal import CREDIT, MoneyEvent
from offline_cache.outbox import Record

log = logging.getLogger("kiosk.transactions")

CANCEL, WALKED_AWAY = "cancel", "cash.walked_away"
ENDING_EVENTS = {"cash.jam": "cash.jam", "cash.fraud": "cash.fraud", "device.lost": "cash.device_lost"}
IDLE_S = 120.0  # no credit and no touch for this long: the citizen left; their money goes back


@dataclass(frozen=True)
class Progress:
    """What the screen says (and speaks) after every credit."""

    inserted_cents: int
    total_cents: int
    last_cents: int  # the credit that just arrived (0: none yet)
    change_limit_cents: int  # the most change the kiosk can give in this payment

    @property
    def remaining_cents(self) -> int:
        return max(0, self.total_cents - self.inserted_cents)


def credit_cursor(data: dict[str, Any]) -> dict[str, int]:
    """Where a credit sits in its acceptor's event queue ({address: counter}), recorded with it
    so that a restart reads only the events after it (CashAdapter.unread_since)."""
    if "address" not in data or "event" not in data:
        return {}
    return {str(int(data["address"])): int(data["event"])}


@dataclass(frozen=True)
class _Stop:
    why: str


@dataclass(frozen=True)
class _Touch:
    pass


class CashIntake:
    def __init__(self, service: Any, tx: Record, cash: Any, on_progress: Callable[[Progress], None],
                 on_done: Callable[[Any], None], on_notice: Callable[[str, int], None] | None = None,
                 change_limit_cents: int = 0, idle_s: float = IDLE_S):
        self.service, self.tx, self.cash = service, tx, cash
        self.on_progress, self.on_done = on_progress, on_done
        self.on_notice = on_notice or (lambda code, cents: None)
        self.change_limit_cents = change_limit_cents
        self.idle_s = idle_s
        self.items: queue.SimpleQueue[DeviceEvent | _Stop | _Touch] = queue.SimpleQueue()
        self.total = 0  # every credit the acceptor reported for this payment
        self.credits = 0
        self.unrecorded = 0  # of which not in the outbox (journalled)
        self.outcome: Any = None
        self.ended = threading.Event()
        self._unsubscribe: Callable[[], None] = lambda: None
        self._start_mark: Any = None

    # ---- from the service and the screen ---------------------------------------------------

    def start(self) -> None:
        """Subscribe, take the device's mark, set the escrow policy and enable; raises
        DeviceError (nothing taken)."""
        self._unsubscribe = self.cash.subscribe(self.items.put, direct=True)
        self._start_mark = self.cash.mark()
        self.cash.set_escrow_policy(self._accept_bill)
        try:
            self.cash.enable()
        except DeviceError:
            self.cash.set_escrow_policy(None)
            self._unsubscribe()
            raise
        threading.Thread(target=self._run, name=f"cash-{self.tx.folio}", daemon=True).start()

    def cancel(self) -> None:
        self.items.put(_Stop(CANCEL))

    def touch(self) -> None:
        """The citizen is still there (a touch on the payment screen): the idle time starts again."""
        self.items.put(_Touch())

    def progress(self, last_cents: int = 0) -> Progress:
        return Progress(self.total, self.tx.amount_cents, last_cents, self.change_limit_cents)

    def _accept_bill(self, cents: int) -> bool:
        """Escrow policy (device thread): stack a bill only if its change is within the limit."""
        return self.total + cents - self.tx.amount_cents <= self.change_limit_cents

    # ---- the worker --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            why = self._take_until_done()
            self.outcome = self._end(why)
        except Exception:  # never leave a payment without an ending: an attendant takes it
            log.critical("cash.intake_failed", exc_info=True)
            self._stop_taking()
            self.outcome = self.service.hand_over_outcome(self.tx, f"cash.intake_failed:{self.total}", self.total)
        self.ended.set()
        self.service.call_soon(lambda: self.on_done(self.outcome))

    def _take_until_done(self) -> str:
        while True:
            try:
                item = self.items.get(timeout=self.idle_s)
            except queue.Empty:
                return WALKED_AWAY
            if isinstance(item, _Stop):
                return item.why
            if isinstance(item, _Touch):
                continue
            if item.kind == "credit.accepted":
                self._credit(item)
                if self.unrecorded:
                    return "money.not_recorded"  # stop taking money the disk cannot hold
                if self.total >= self.tx.amount_cents:
                    return "paid"
            elif item.kind == "cash.returned":
                self._notice("cash.returned", int(item.data.get("cents", 0)))
            elif item.kind in ENDING_EVENTS:
                self._notice(ENDING_EVENTS[item.kind], self.total)  # told at once, before the ending
                return ENDING_EVENTS[item.kind]

    def _notice(self, code: str, cents: int) -> None:
        self.service.call_soon(lambda: self.on_notice(code, cents))

    def _stop_taking(self) -> None:
        """After a failure inside the intake: the acceptor must still stop taking money."""
        try:
            self.cash.disable()
        except Exception:
            log.error("cash.inhibit_after_failure_failed", exc_info=True)
        self.cash.set_escrow_policy(None)
        self._unsubscribe()

    def _credit(self, item: DeviceEvent) -> None:
        cents, kind = int(item.data.get("cents", 0)), str(item.data.get("kind", ""))
        self.service.money_hook(self.tx.folio, cents)  # stacked: the money is in the kiosk now
        self.total += cents
        self.credits += 1
        cursor = credit_cursor(item.data)
        money = MoneyEvent(self.tx.key, self.tx.folio, CREDIT, cents, {"kind": kind, "cursor": cursor})
        outbox = self.service.outbox
        if self.service.money.record(money, lambda: outbox.add_credit(self.tx.key, cents, kind, cursor)) is None:
            self.unrecorded += cents
        progress = self.progress(cents)
        self.service.call_soon(lambda: self.on_progress(progress))

    def _end(self, why: str) -> Any:
        """Inhibit (waiting for the device to confirm it), record the late credits, reconcile, settle."""
        confirmed = True
        try:
            self.cash.disable()
        except DeviceError as error:  # a gone acceptor takes nothing more, but it did not confirm
            confirmed = False
            log_event(log, "cash.inhibit_unconfirmed", level=logging.ERROR, folio=self.tx.folio, code=error.code)
        self.cash.set_escrow_policy(None)
        self._unsubscribe()
        self._record_late_credits()
        mismatch = self._reconcile(confirmed)
        return self._settle(why, mismatch)

    def _record_late_credits(self) -> None:
        while True:
            try:
                item = self.items.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, DeviceEvent) and item.kind == "credit.accepted":
                self._credit(item)

    def _reconcile(self, confirmed: bool) -> str:
        """"" when the device's own counts match what this payment recorded, else why not."""
        device = self.cash.mark().since(self._start_mark)
        if not confirmed:
            return f"cash.inhibit_unconfirmed:{self.total}"
        if device.lost or device.cents != self.total or device.credits != self.credits:
            log_event(log, "cash.unreconciled", level=logging.ERROR, folio=self.tx.folio, device_cents=device.cents,
                      recorded=self.total, lost=device.lost)
            return f"cash.unreconciled:{device.cents}:{self.total}"
        return ""

    def _settle(self, why: str, mismatch: str) -> Any:
        service, tx = self.service, self.tx
        if self.unrecorded:
            return service.hand_over_outcome(tx, f"money.not_recorded:{self.total}", self.total)
        if mismatch:
            return service.hand_over_outcome(tx, mismatch, self.total)
        if self.total >= tx.amount_cents:
            payment = {"method": "cash", "paid_cents": self.total, "change_due_cents": self.total - tx.amount_cents,
                       "acceptor": {"credits": self.credits, "cents": self.total}}
            outcome = service.record_paid(tx, payment, self.total)
            return service.give_change(tx, outcome, self.total - tx.amount_cents) if outcome.ok else outcome
        if self.total:
            return service.give_back(tx, self.total, why)
        return service.back_to_created(tx, f"cash.ended_no_money:{why}", "cash.cancelled" if why == CANCEL else why)
