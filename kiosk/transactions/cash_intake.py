"""One cash payment, from enabling the acceptor until it has confirmed it is inhibited.

The acceptor's events reach the intake directly in the device's thread (no UI hop) and queue up
for the intake's own worker, which records each credit in the outbox before telling the screen
(`on_credit(cents, total)` through call_soon). The payment ends once: the amount is reached, the
citizen cancels, the acceptor jams or is lost, or the disk refuses a credit. Every ending first
disables the acceptor, and `disable()` returns only after the device has read its event queues
quiet, so every credit stacked before the inhibit took effect is recorded against this
transaction, over the amount as change due. The device's own counts (`CashAdapter.mark`, taken
when the acceptor is enabled and again when it is inhibited) are then reconciled with what was
recorded: a difference sends the transaction to an attendant.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.contract import DeviceError, DeviceEvent
from kiosk.logs import event as log_event
from offline_cache.money_journal import CREDIT, MoneyEvent
from offline_cache.outbox import Record

log = logging.getLogger("kiosk.transactions")

CANCEL = "cancel"
ENDING_EVENTS = {"cash.jam": "cash.jam", "cash.fraud": "cash.fraud", "device.lost": "cash.device_lost"}


@dataclass(frozen=True)
class _Stop:
    why: str


class CashIntake:
    def __init__(self, service: Any, tx: Record, cash: Any, on_credit: Callable[[int, int], None],
                 on_done: Callable[[Any], None]):
        self.service, self.tx, self.cash = service, tx, cash
        self.on_credit, self.on_done = on_credit, on_done
        self.items: queue.SimpleQueue[DeviceEvent | _Stop] = queue.SimpleQueue()
        self.total = 0  # every credit the acceptor reported for this payment
        self.credits = 0
        self.unrecorded = 0  # of which not in the outbox (journalled)
        self.outcome: Any = None
        self.ended = threading.Event()
        self._unsubscribe: Callable[[], None] = lambda: None
        self._start_mark: Any = None

    # ---- from the service --------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe, take the device's mark and enable; raises DeviceError (nothing taken)."""
        self._unsubscribe = self.cash.subscribe(self.items.put, direct=True)
        self._start_mark = self.cash.mark()
        try:
            self.cash.enable()
        except DeviceError:
            self._unsubscribe()
            raise
        threading.Thread(target=self._run, name=f"cash-{self.tx.folio}", daemon=True).start()

    def cancel(self) -> None:
        self.items.put(_Stop(CANCEL))

    # ---- the worker --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            why = self._take_until_done()
            self.outcome = self._end(why)
        except Exception:  # never leave a payment without an ending: an attendant takes it
            log.critical("cash.intake_failed", exc_info=True)
            self.outcome = self.service.hand_over_outcome(self.tx, f"cash.intake_failed:{self.total}", self.total)
        self.ended.set()
        self.service.call_soon(lambda: self.on_done(self.outcome))

    def _take_until_done(self) -> str:
        while True:
            item = self.items.get()
            if isinstance(item, _Stop):
                return item.why
            if item.kind == "credit.accepted":
                self._credit(item)
                if self.unrecorded:
                    return "money.not_recorded"  # stop taking money the disk cannot hold
                if self.total >= self.tx.amount_cents:
                    return "paid"
            elif item.kind in ENDING_EVENTS:
                return ENDING_EVENTS[item.kind]

    def _credit(self, item: DeviceEvent) -> None:
        cents, kind = int(item.data.get("cents", 0)), str(item.data.get("kind", ""))
        self.service.money_hook(self.tx.folio, cents)  # stacked: the money is in the kiosk now
        self.total += cents
        self.credits += 1
        money = MoneyEvent(self.tx.key, self.tx.folio, CREDIT, cents, {"kind": kind})
        if self.service.money.record(money, lambda: self.service.outbox.add_credit(self.tx.key, cents, kind)) is None:
            self.unrecorded += cents
        total = self.total
        self.service.call_soon(lambda: self.on_credit(cents, total))

    def _end(self, why: str) -> Any:
        """Inhibit (waiting for the device to confirm it), record the late credits, reconcile, settle."""
        confirmed = True
        try:
            self.cash.disable()
        except DeviceError as error:  # a gone acceptor takes nothing more, but it did not confirm
            confirmed = False
            log_event(log, "cash.inhibit_unconfirmed", level=logging.ERROR, folio=self.tx.folio, code=error.code)
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
        if why == "paid" or self.total >= tx.amount_cents:
            payment = {"method": "cash", "paid_cents": self.total, "change_due_cents": self.total - tx.amount_cents,
                       "acceptor": {"credits": self.credits, "cents": self.total}}
            return service.record_paid(tx, payment, self.total)
        if self.total:
            return service.hand_over_outcome(tx, f"cash.partial_refund_due:{self.total}", self.total)
        return service.back_to_created(tx, why)


