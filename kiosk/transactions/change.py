"""Change and refunds paid by the hoppers: ledger first, never twice, never forgotten.

`ChangeDesk.pay(tx, cents, purpose)` plans the coins (fewest coins, only those the hoppers vouch
for; devices/hopper.py `plan_change`), and for each hopper: reads its counters (nothing moves),
commits the request to the outbox (`payouts`), sends the one dispense, waits for the payout to end
and commits what the hopper's counters prove. A crash anywhere leaves a `requested` payout that
`recover()` concludes at the next start from the same counters: paid, short, not executed, or
unknown (an attendant counts). Nothing is ever dispensed again for a recorded request.

What cannot be proven paid becomes the citizen's: `PayoutOutcome.owed_cents` (proven unpaid)
and `uncertain_cents` (the hopper cannot tell), which the session turns into a voucher.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from devices.contract import DeviceError
from devices.hopper import PayoutRequest, PayoutResult
from kiosk.core.logs import event
from offline_cache.outbox import Outbox, Record, StorageError

log = logging.getLogger("kiosk.transactions")

PAYOUT_TIMEOUT_S = 60.0  # a full hopper pays ~8 coins/s; 200 pesos in $10 coins is 20 coins
NOTHING_PAID = frozenset({"cash.payout_refused", "cash.payout_counter_moved", "cash.payout_busy",
                          "cash.hopper_fault", "cash.payout_invalid", "cash.no_change"})


@dataclass(frozen=True)
class PayoutOutcome:
    asked_cents: int
    paid_cents: int  # proven paid by the hoppers
    owed_cents: int  # proven not paid: the citizen is owed it
    uncertain_cents: int  # the hoppers cannot tell whether it was paid: an attendant counts

    @property
    def complete(self) -> bool:
        return self.paid_cents == self.asked_cents


class ChangeDesk:
    def __init__(self, outbox: Outbox, cash: Any, timeout_s: float = PAYOUT_TIMEOUT_S):
        self.outbox = outbox
        self.cash = cash
        self.timeout_s = timeout_s

    def limit_cents(self, configured_max_cents: int) -> int:
        """The most change the kiosk can give now: the configured maximum, capped by what the
        hoppers vouch for (0 without a hopper)."""
        if self.cash is None:
            return 0
        return max(0, min(configured_max_cents, int(getattr(self.cash.acceptance(), "change_cents", 0))))

    def pay(self, tx: Record, cents: int, purpose: str) -> PayoutOutcome:
        """Pay `cents` back to the citizen of `tx` (purpose "change" or "refund")."""
        if cents <= 0:
            return PayoutOutcome(0, 0, 0, 0)
        plan = self._plan(cents)
        paid = uncertain = 0
        for hopper, coins in plan.items():
            result = self._pay_one(tx, purpose, hopper, coins)
            paid += result[0]
            uncertain += result[1]
        owed = cents - paid - uncertain
        event(log, "cash.payout", folio=tx.folio, purpose=purpose, asked=cents, paid=paid, owed=owed,
              uncertain=uncertain)
        return PayoutOutcome(cents, paid, owed, uncertain)

    def _plan(self, cents: int) -> dict[int, int]:
        """Coins per hopper for `cents`, or for the most below it that can be made exactly."""
        if self.cash is None or not getattr(self.cash.acceptance(), "hoppers", ()):
            return {}
        smallest = min((h.coin_cents for h in self.cash.acceptance().hoppers if h.coin_cents > 0), default=0)
        if smallest <= 0:
            return {}
        amount = cents - cents % smallest
        while amount > 0:
            plan = self.cash.plan_change(amount)
            if plan:
                return plan
            amount -= smallest
        return {}

    def _pay_one(self, tx: Record, purpose: str, hopper: int, coins: int) -> tuple[int, int]:
        """(paid cents proven, uncertain cents) for one hopper's share."""
        try:
            request = self.cash.prepare_payout(coins, hopper)
        except DeviceError as error:
            event(log, "cash.payout_not_started", level=logging.WARNING, folio=tx.folio, code=error.code)
            return 0, 0
        try:
            payout_id = self.outbox.request_payout(tx.key, purpose, request.to_dict())  # ledger first
        except StorageError as error:  # not recorded: nothing may move
            event(log, "cash.payout_not_recorded", level=logging.ERROR, folio=tx.folio, code=error.code)
            return 0, 0
        result = self._dispense(request)
        return self._conclude(payout_id, request, result)

    def _dispense(self, request: PayoutRequest) -> PayoutResult | None:
        try:
            self.cash.dispense(request.coins, request.hopper, expect_counter=request.event_counter)
            return self.cash.wait_payout(self.timeout_s, request.hopper, request=request)
        except DeviceError as error:
            if error.code in NOTHING_PAID:
                return PayoutResult(request.hopper, request.coin_cents, request.coins, False, 0, request.coins,
                                    None, True, "not_executed")
        try:  # it may have been accepted: the counters tell
            return self.cash.reconcile_payout(request)
        except DeviceError:
            return None

    def _conclude(self, payout_id: int, request: PayoutRequest, result: PayoutResult | None) -> tuple[int, int]:
        asked = request.coins * request.coin_cents
        if result is not None and result.certain:
            paid = int(result.paid_cents or 0)
            state, uncertain, details = result.reason, 0, result.to_dict()
        else:
            paid, uncertain = 0, asked
            state = "unknown" if result is None else result.reason
            details = {} if result is None else result.to_dict()
        try:
            self.outbox.finish_payout(payout_id, state, paid, asked - paid - uncertain, details)
        except StorageError:  # stays "requested": the next start concludes it from the counters
            event(log, "cash.payout_result_not_recorded", level=logging.ERROR, payout=payout_id)
        return paid, uncertain

    def recover(self) -> list[tuple[str, PayoutOutcome]]:
        """After a restart: conclude every payout a crash left `requested`, from the hoppers'
        counters (never by dispensing again). Returns (folio, outcome) of each."""
        concluded: list[tuple[str, PayoutOutcome]] = []
        for payout in self.outbox.open_payouts():
            try:
                request = PayoutRequest.from_dict(payout.request)
            except ValueError:
                request = None
            result = None
            if request is not None and self.cash is not None:
                try:
                    result = self.cash.reconcile_payout(request)
                    if result.in_progress:
                        result = self.cash.wait_payout(self.timeout_s, request.hopper, request=request)
                except DeviceError:
                    result = None
            if request is None:  # a damaged record: what was asked is unknown too
                self.outbox.finish_payout(payout.id, "unknown", 0, 0, {})
                concluded.append((payout.folio, PayoutOutcome(0, 0, 0, 0)))
                continue
            paid, uncertain = self._conclude(payout.id, request, result)
            asked = request.coins * request.coin_cents
            concluded.append((payout.folio, PayoutOutcome(asked, paid, asked - paid - uncertain, uncertain)))
        return concluded
