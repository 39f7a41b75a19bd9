"""Cash: a ccTalk coin acceptor and bill validator, and optionally payout hoppers for change.

On open the adapter reads each device's identity and its coin/bill tables, so the accepted
denominations, and how much change can be given, are known before the citizen inserts money
(`acceptance()`). `enable()` lifts the inhibits for the accepted denominations; a poll thread
then reads the buffered credit / bill event queues (event counter + five newest events) and
emits "credit.accepted", "cash.rejected", "cash.returned", "cash.jam" and "cash.fraud". Lost
events (counter jumped by more than five) are reported, never silently guessed.

With escrow on, a bill is held while the session's policy (`set_escrow_policy`) decides: stacked
(then credited as any bill) or handed back ("cash.returned", no credit). Hoppers pay change the
ledger-first way described in devices/hopper.py: `prepare_payout`, the caller records the request,
`dispense(..., expect_counter=)`, `wait_payout`; after a crash `reconcile_payout(request)`.

URL options: coin (address, default 2; 0 = none), bill (default 40; 0 = none), hopper (address or
comma list, default none: no change), hopper_coin (peso value per hopper; default: the coin the
hopper names), hopper_low_coins (coins a low-level sensor still guarantees while it reads above),
hopper_nv_count (1: the hopper's dispense count survives power cuts), escrow (1/0, default on with a
hopper), payout_stall_ms (3000), payout_poll_ms (100), accept (comma list of peso values, e.g.
0.5,1,2,5,10,20,50,100,200), poll_ms (default 200). Sim faults: see devices/sim/cctalk.py.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from . import cctalk as cc
from .contract import Adapter, CallSoon, Check, DeviceError, State, Supply, immediate, log, log_event
from .hopper import (
    HopperDriver,
    HopperInfo,
    HopperStatus,
    HopperUnit,
    PayoutRequest,
    PayoutResult,
    plan_change,
    wait_until_final,
)
from .links import Link, SimLink, link_for_url
from .urls import DeviceUrl, UrlError

RETRIES = 3
QUIET_POLLS = 2  # polls in a row without a new credit before a disable() counts as done
COIN_JAM = {14, 15, 26}
COIN_FRAUD = {17, 20, 254}
BILL_JAM = {3, 6, 7, 15, 16}
BILL_FRAUD = {8, 9, 17, 18}
BILL_STACKER = {11, 13, 14}
SUPPLY_SEVERITY = (Supply.OUT, Supply.LOW, Supply.UNKNOWN, Supply.FULL)  # worst first
T = TypeVar("T")
EscrowPolicy = Callable[[int], bool]  # cents of the bill in escrow -> True: stack it, False: hand it back


@dataclass(frozen=True)
class Acceptance:
    coins_cents: tuple[int, ...]
    bills_cents: tuple[int, ...]
    can_give_change: bool  # some hopper reads above its low-level sensor (or counts coins in it)
    reason: str  # "ok" or "cash.no_change"
    change_cents: int = 0  # what the hoppers themselves vouch for now (see HopperInfo.coins_sure)
    escrow: bool = False  # bills are held until the escrow policy decides
    hoppers: tuple[HopperInfo, ...] = ()

    @property
    def denominations_cents(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.coins_cents) | set(self.bills_cents)))


@dataclass(frozen=True)
class CashMark:
    """The acceptor's own running counts since the adapter opened: a session takes one when it
    enables the acceptor and one when the acceptor has confirmed it is inhibited; the difference
    is what the device says this session took, to reconcile with the credits recorded for it."""

    credits: int  # credit events
    cents: int  # their value
    lost: int  # events the device reported but the adapter could not read (counter jumped > 5)

    def since(self, start: CashMark) -> CashMark:
        return CashMark(self.credits - start.credits, self.cents - start.cents, self.lost - start.lost)


@dataclass(frozen=True)
class UnreadCash:
    """What the acceptors took after a cursor that nobody read: the event queues as the adapter
    found them when it opened (a restart after the app died mid-payment)."""

    credits: tuple[tuple[str, int, int, int], ...]  # (coin or bill, cents, address, event counter), oldest first
    lost: int  # events past the five the queue keeps: taken, but their value is unknown
    unknown: tuple[int, ...]  # acceptors that were reset (counter 0) or not found: nothing can be told

    @property
    def cents(self) -> int:
        return sum(credit[1] for credit in self.credits)


@dataclass
class _Acceptor:
    address: int
    kind: str  # "coin" or "bill"
    positions: dict[int, int]  # position -> value in cents (accepted ones only)
    counter: int | None = None
    identity: str = ""
    escrow: bool = False  # the validator confirmed escrow mode (153)
    escrow_cents: int = 0  # the bill last held in escrow
    escrow_pending: bool = False  # routed (or held), its stacked / returned event not read yet
    escrow_returning: bool = False  # we asked for it to be handed back
    at_open: bytes = b""  # the event queue as read when the adapter opened: events nobody polled


def _hopper_units(url: DeviceUrl) -> list[HopperUnit]:
    """hopper=3 or hopper=3,4 with hopper_coin=10 or 10,5 (pesos) and hopper_low_coins=N or a list."""
    addresses = [a for a in _numbers(url, "hopper", int) if a]
    coins = [round(value * 100) for value in _numbers(url, "hopper_coin", float)]
    lows = _numbers(url, "hopper_low_coins", int)
    for key, values in (("hopper_coin", coins), ("hopper_low_coins", lows)):
        if len(values) not in (0, 1, len(addresses)):
            raise UrlError(f"option {key}: one value, or one per hopper ({len(addresses)})")
    if len(set(addresses)) != len(addresses) or not all(1 < a < 256 for a in addresses):
        raise UrlError("option hopper: distinct ccTalk addresses from 2 to 255")
    if any(value < 0 for value in (*coins, *lows)):
        raise UrlError("options hopper_coin and hopper_low_coins cannot be negative")
    nv = url.flag("hopper_nv_count")
    return [HopperUnit(address, _nth(coins, i), _nth(lows, i), nv) for i, address in enumerate(addresses)]


def _numbers(url: DeviceUrl, key: str, kind: type) -> list:
    text = url.option(key, "")
    try:
        values = [int(part, 0) if kind is int else float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = [math.nan]
    if not all(math.isfinite(value) for value in values):
        raise UrlError(f"option {key}={text!r} is not a number or a comma list of numbers")
    return values


def _queue_header(kind: str) -> int:
    """The request that reads an acceptor's event queue (counter and five newest events)."""
    return cc.H_READ_BUFFERED_CREDIT if kind == "coin" else cc.H_READ_BUFFERED_BILL_EVENTS


def event_number(newest: int, index: int) -> int:
    """The counter of the queue's `index`-th newest event (ccTalk counts 1..255, then 1 again)."""
    return (newest - 1 - index) % 255 + 1


def _nth(values: list[int], index: int) -> int:
    if not values:
        return 0
    return values[index] if len(values) > 1 else values[0]


class CashAdapter(Adapter):
    kind = "cash"

    def __init__(self, name: str, driver: str, url: DeviceUrl, call_soon: CallSoon = immediate,
                 link: Link | None = None):
        self._hoppers = _hopper_units(url)
        self.hopper_address = self._hoppers[0].address if self._hoppers else 0
        self.supply_names = ("hopper",) if self._hoppers else ()  # coins for change
        super().__init__(name, driver, url, call_soon)
        self.coin_address = url.int_option("coin", cc.COIN_ACCEPTOR)
        self.bill_address = url.int_option("bill", cc.BILL_VALIDATOR)
        self.poll_s = url.int_option("poll_ms", 200) / 1000
        self.stall_s = url.int_option("payout_stall_ms", 3000) / 1000
        self.payout_poll_s = url.int_option("payout_poll_ms", 100) / 1000
        self.escrow_wanted = url.flag("escrow") if "escrow" in url.options else bool(self._hoppers)
        accept = url.option("accept", "")
        self.accept_cents = {round(float(v) * 100) for v in accept.split(",") if v.strip()} if accept else None
        self.simulator = None
        if link is None and url.is_sim:
            from .sim.cctalk import CcTalkBus

            self.simulator = CcTalkBus.from_options(url.options)
            link = SimLink(self.simulator, offline=url.flag("offline"))
        self.link = link or link_for_url(url, default_baudrate=9600)
        self._hopper_driver = HopperDriver(self._request, self._command)
        self._acceptors: list[_Acceptor] = []
        self._acceptance = Acceptance((), (), False, "cash.no_change")
        self._escrow_policy: EscrowPolicy | None = None
        self._enabled = False
        self._wanted_enabled = False
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()
        self.total_cents = 0
        self._credit_events = 0
        self._lost_events = 0

    # --- ccTalk request/response ---

    def _request(self, address: int, header: int, data: bytes = b"") -> cc.Message | None:
        """One attempt: the reply (ACK or NAK) or None for silence / noise. For commands that must
        not be repeated blindly (dispense); everything else goes through `_command`."""
        self.link.reset_input()
        self.link.write(cc.Message(address, cc.HOST, header, data).encode())
        return self._read_reply(address, time.monotonic() + self.timeout_s / RETRIES)

    def _command(self, address: int, header: int, data: bytes = b"") -> bytes:
        """One request with retries on silence, noise or bad checksums; returns the reply data."""
        for _attempt in range(RETRIES):
            reply = self._request(address, header, data)
            if reply is None:
                continue
            if reply.header == cc.H_NAK:
                raise DeviceError("transport.garbled", f"NAK for header {header} at address {address}")
            return reply.data
        raise DeviceError("transport.timeout", f"address {address} header {header}: no valid reply")

    def _read_reply(self, address: int, deadline: float) -> cc.Message | None:
        buffer = b""
        while time.monotonic() < deadline:
            buffer += self.link.read(64, deadline - time.monotonic())
            message, _ = cc.find_message(buffer, cc.HOST)
            if message is not None and message.source == address:
                return message
        return None

    # --- lifecycle ---

    def _open(self) -> None:
        self.link.open()
        self._acceptors = []
        if self.coin_address:
            self._acceptors.append(self._discover(self.coin_address, "coin"))
        if self.bill_address:
            self._acceptors.append(self._discover(self.bill_address, "bill"))
        self._acceptance = self._build_acceptance()
        if self._wanted_enabled:  # reconnected in the middle of a payment: accept money again
            self._set_inhibits(True)
            self._start_poller()
        identities = [a.identity for a in self._acceptors] + [h.identity for h in self._hoppers if h.identity]
        self._set_capabilities(
            model=" + ".join(identities),
            firmware=" + ".join(identity.rsplit(" rev ", 1)[-1] for identity in identities),
            features=frozenset({"coins" if self.coin_address else "", "bills" if self.bill_address else "",
                                "change" if self._acceptance.can_give_change else "",
                                "payout" if self._hoppers else "", "escrow" if self._acceptance.escrow else ""}
                               - {""}),
        )

    def _discover(self, address: int, kind: str) -> _Acceptor:
        category = self._command(address, cc.H_EQUIPMENT_CATEGORY).decode("ascii", "replace")
        product = self._command(address, cc.H_PRODUCT_CODE).decode("ascii", "replace")
        manufacturer = self._command(address, cc.H_MANUFACTURER).decode("ascii", "replace")
        revision = self._command(address, cc.H_SOFTWARE_REVISION).decode("ascii", "replace")
        header, value_of = ((cc.H_REQUEST_COIN_ID, cc.coin_value_cents) if kind == "coin"
                            else (cc.H_REQUEST_BILL_ID, cc.bill_value_cents))
        positions: dict[int, int] = {}
        for position in range(1, 17):
            value = value_of(self._command(address, header, bytes([position])).decode("ascii", "replace"))
            if value and (self.accept_cents is None or value in self.accept_cents):
                positions[position] = value
        self._command(address, cc.H_MODIFY_MASTER_INHIBIT, b"\x00")  # nothing accepted until enable()
        queue = self._command(address, _queue_header(kind))
        identity = f"{manufacturer} {product} ({category}) rev {revision}"
        acceptor = _Acceptor(address, kind, positions, queue[0] if queue else 0, identity,
                             at_open=queue if len(queue) == 11 else b"")
        if kind == "bill" and self.escrow_wanted:
            acceptor.escrow = self._enable_escrow(address)
        if kind == "bill" and len(queue) == 11 and queue[0] and queue[1] and queue[2] == cc.BILL_HELD_IN_ESCROW:
            # A note waits in escrow: its payment died with the last run. It was never taken: hand it back.
            self._command(address, cc.H_ROUTE_BILL, bytes([cc.ROUTE_RETURN]))
            log_event(log, "cash.escrow_returned_at_open", level=logging.WARNING, device=self.name,
                      cents=positions.get(queue[1], 0))
        return acceptor

    def _enable_escrow(self, address: int) -> bool:
        """Stacker and escrow on (153); a validator that refuses keeps stacking every bill it takes."""
        for _attempt in range(RETRIES):
            reply = self._request(address, cc.H_MODIFY_BILL_OPERATING_MODE,
                                  bytes([cc.BILL_MODE_STACKER | cc.BILL_MODE_ESCROW]))
            if reply is not None:
                if reply.header == cc.H_NAK:
                    log_event(log, "cash.escrow_unsupported", level=logging.WARNING, device=self.name)
                return reply.header != cc.H_NAK
        raise DeviceError("transport.timeout", f"address {address}: no answer to bill operating mode")

    def _build_acceptance(self) -> Acceptance:
        coins = tuple(sorted(v for a in self._acceptors if a.kind == "coin" for v in a.positions.values()))
        bills = tuple(sorted(v for a in self._acceptors if a.kind == "bill" for v in a.positions.values()))
        hoppers = tuple(self._hopper_driver.read_info(unit) for unit in self._hoppers)
        usable = [h for h in hoppers if h.answered and h.coin_cents and not h.faults]
        change = any(h.level == Supply.FULL or h.coins_sure > 0 for h in usable)
        if hoppers:
            self._set_supply("hopper", min((h.level for h in hoppers), key=SUPPLY_SEVERITY.index))
        escrow = any(a.escrow for a in self._acceptors)
        return Acceptance(coins, bills, change, "ok" if change else "cash.no_change",
                          sum(h.sure_cents for h in usable), escrow, hoppers)

    def _close(self) -> None:
        self._stop.set()
        poller = self._poller
        if poller is not None and poller is not threading.current_thread():
            poller.join(timeout=2)
        self._poller = None
        self._enabled = False
        self.link.close()

    def _probe(self) -> None:
        if not self.link.present():
            raise DeviceError("transport.no_device", "cash port is gone")
        if not self._acceptors:
            raise DeviceError("transport.timeout", "no acceptor answered when the bus was opened")
        for acceptor in self._acceptors:
            self._command(acceptor.address, cc.H_SIMPLE_POLL)
        if self.status().reason.code in ("cash.jam", "cash.fraud"):
            raise DeviceError(self.status().reason.code, "until a technician clears it")
        self._acceptance = self._build_acceptance()  # the hopper may have run low since
        self._state_from_change()

    def _state_from_change(self) -> None:
        if self._hoppers and not self._acceptance.can_give_change:
            self._set_state(State.DEGRADED, "cash.no_change")
        else:
            self._set_state(State.READY, "ok")

    # --- public API: accepting money ---

    def diagnostics(self) -> dict[str, object]:
        acceptance = self._acceptance
        last = [unit.last_result.to_dict() for unit in self._hoppers if unit.last_result is not None]
        return {"coins_cents": list(acceptance.coins_cents), "bills_cents": list(acceptance.bills_cents),
                "can_give_change": acceptance.can_give_change, "change_cents": acceptance.change_cents,
                "escrow": acceptance.escrow, "accepting": self._enabled,
                "acceptors": [a.identity for a in self._acceptors],
                "hoppers": [h.to_dict() for h in acceptance.hoppers], "last_payouts": last}

    def acceptance(self) -> Acceptance:
        """Accepted denominations and the change the hoppers vouch for: show them before insertion."""
        return self._acceptance

    def set_escrow_policy(self, policy: EscrowPolicy | None) -> None:
        """`policy(cents) -> bool` decides each bill held in escrow: True stacks it (a credit follows),
        False hands it back ("cash.returned"). It runs on the device's thread while the bill waits:
        it must be quick. None (the default) stacks every bill, as without escrow."""
        with self._lock:
            self._escrow_policy = policy

    def enable(self) -> None:
        """Accept the denominations in `acceptance()` and start polling for credits."""
        self._wanted_enabled = True
        self.call(self._resync_and_accept)
        self._start_poller()

    def _resync_and_accept(self) -> None:
        """Nothing is polled while inhibited, so coins pushed at an inhibited slot leave refusal
        events behind; they cannot be credits. Take each queue's counter as the start before
        accepting, or more than five of them would read as lost events of this payment."""
        self._resync()
        self._set_inhibits(True)

    def _resync(self) -> dict[int, int]:
        for acceptor in self._acceptors:
            reply = self._command(acceptor.address, _queue_header(acceptor.kind))
            if len(reply) == 11:
                acceptor.counter = reply[0]
        return {a.address: a.counter or 0 for a in self._acceptors}

    def cursor(self) -> dict[int, int]:
        """Each acceptor's event counter now, read from the device while it is inhibited: every
        event after it belongs to the payment about to start. The payment stores it before
        `enable()` and moves it with every credit it records, so that after a crash
        `unread_since(cursor)` finds what was taken but never read."""
        return self.call(self._resync)

    def unread_since(self, cursor: dict[int, int]) -> UnreadCash:
        """The credits in the event queues found at open that come after `cursor` (address ->
        counter, as `cursor()` and the credit events give it). No I/O: the queues were read when
        the adapter opened (`wait_open`), after it inhibited the acceptors."""
        if not self._opened.is_set():
            raise DeviceError("transport.no_device", "the acceptors were not read since the kiosk started")
        credits: list[tuple[str, int, int, int]] = []
        lost, unknown = 0, []
        for acceptor in self._acceptors:
            start = cursor.get(acceptor.address)
            queue = acceptor.at_open
            if start is None:
                continue
            if not queue or (queue[0] == 0 and start != 0):
                unknown.append(acceptor.address)  # reset since: its queue no longer holds those events
                continue
            fresh = (queue[0] - start) % 255 if start else queue[0]
            lost += max(0, fresh - 5)
            for index in reversed(range(min(fresh, 5))):  # oldest first
                a, b = queue[1 + 2 * index], queue[2 + 2 * index]
                value = acceptor.positions.get(a, 0)
                if a and value and (acceptor.kind == "coin" or b == 0):  # a bill in escrow is no credit
                    credits.append((acceptor.kind, value, acceptor.address, event_number(queue[0], index)))
        return UnreadCash(tuple(credits), lost, tuple(unknown))

    def disable(self) -> None:
        """Inhibit every acceptor and read the event queues until they are quiet, so every credit
        stacked before the inhibit took effect has been emitted (and reached direct subscribers)
        when this returns. A note or coin offered afterwards is refused by the device."""
        self._wanted_enabled = False
        self.call(self._inhibit_and_drain, self.timeout_s * 3)

    def _inhibit_and_drain(self) -> None:
        self._set_inhibits(False)
        settle = min(self.poll_s, 0.1)
        escrow_until = time.monotonic() + self.timeout_s * 2  # a routed bill's stacked/returned event
        quiet = 0
        while quiet < QUIET_POLLS:  # a coin already in the validator when the inhibit came lands late
            waiting = time.monotonic() < escrow_until and any(a.escrow_pending for a in self._acceptors)
            busy = bool(self._poll_once()) or waiting
            quiet = 0 if busy else quiet + 1  # refusals of what is offered now do not count
            if quiet < QUIET_POLLS:
                time.sleep(settle)

    def mark(self) -> CashMark:
        """The running counts now (cheap, no I/O)."""
        with self._lock:
            return CashMark(self._credit_events, self.total_cents, self._lost_events)

    def _start_poller(self) -> None:
        self._stop.clear()
        if self._poller is None or not self._poller.is_alive():
            self._poller = threading.Thread(target=self._poll_loop, name=f"cctalk-{self.name}", daemon=True)
            self._poller.start()

    def _set_inhibits(self, accept: bool) -> None:
        for acceptor in self._acceptors:
            mask = sum(1 << (p - 1) for p in acceptor.positions) if accept else 0
            self._command(acceptor.address, cc.H_MODIFY_INHIBIT, bytes([mask & 0xFF, mask >> 8]))
            self._command(acceptor.address, cc.H_MODIFY_MASTER_INHIBIT, b"\x01" if accept else b"\x00")
        self._enabled = accept

    def poll(self) -> list[tuple[str, int]]:
        """Read the event queues once (also run by the poll thread); returns credits (kind, cents)."""
        return self.call(self._poll_once, self._poll_deadline())

    def _poll_deadline(self) -> float:
        return self.timeout_s * (len(self._acceptors) + 2)  # each queue read may take its retries

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            if not self._enabled:
                continue
            try:
                self.call(self._poll_while_enabled, self._poll_deadline())
            except DeviceError as error:
                self._fail(error)
                return  # the supervisor reopens the bus; a new poller starts with it

    def _poll_while_enabled(self) -> list[tuple[str, int]]:
        """The poll thread's read: skipped when a disable ran first on the worker (disable drains
        the queues itself; what is offered afterwards is refused and read at the next enable)."""
        return self._poll_once() if self._enabled else []

    def _poll_once(self) -> list[tuple[str, int]]:
        credits: list[tuple[str, int]] = []
        for acceptor in self._acceptors:
            reply = self._command(acceptor.address, _queue_header(acceptor.kind))
            if len(reply) != 11:
                raise DeviceError("transport.garbled", f"event buffer of {len(reply)} bytes")
            credits.extend(self._new_events(acceptor, reply))
        return credits

    def _new_events(self, acceptor: _Acceptor, reply: bytes) -> list[tuple[str, int]]:
        counter = reply[0]
        previous = acceptor.counter
        acceptor.counter = counter
        if previous is None or counter == previous:
            return []
        if counter == 0:  # the device was reset: its queue starts again
            return []
        fresh = (counter - previous) % 255 if previous else counter
        if fresh > 5:
            with self._lock:
                self._lost_events += fresh - 5
            self._note_error("cash.events_lost")
            log_event(log, "cash.events_lost", device=self.name, missed=fresh - 5)
            fresh = 5
        credits: list[tuple[str, int]] = []
        for index in reversed(range(fresh)):  # oldest first
            a, b = reply[1 + 2 * index], reply[2 + 2 * index]
            credit = self._event(acceptor, a, b, event_number(counter, index))
            if credit:
                credits.append((acceptor.kind, credit))
        return credits

    def _event(self, acceptor: _Acceptor, a: int, b: int, number: int) -> int:
        if a != 0 and acceptor.kind == "bill" and b != 0:  # held in escrow (result B 1)
            self._route_escrow(acceptor, a)
            return 0
        if a != 0:
            return self._credit(acceptor, acceptor.positions.get(a, 0), number)
        if acceptor.kind == "bill" and b == cc.BILL_RETURNED_FROM_ESCROW:
            self._returned(acceptor)
            return 0
        jam, fraud = (COIN_JAM, COIN_FRAUD) if acceptor.kind == "coin" else (BILL_JAM, BILL_FRAUD)
        if b in jam:
            self._emit("cash.jam", kind=acceptor.kind, code=b)
            self._fail(DeviceError("cash.jam", f"{acceptor.kind} error {b}"))
        elif b in fraud:
            self._emit("cash.fraud", kind=acceptor.kind, code=b)
            self._fail(DeviceError("cash.fraud", f"{acceptor.kind} error {b}"))
        elif b != 0:
            self._emit("cash.rejected", kind=acceptor.kind, code=b)
        return 0

    def _credit(self, acceptor: _Acceptor, value: int, number: int) -> int:
        acceptor.escrow_pending = False
        if value:
            with self._lock:
                self.total_cents += value
                self._credit_events += 1
            self._bump(operations=1)
            log_event(log, "cash.credit", device=self.name, kind=acceptor.kind, cents=value)
            self._emit("credit.accepted", kind=acceptor.kind, cents=value, total_cents=self.total_cents,
                       address=acceptor.address, event=number)
        return value

    def _route_escrow(self, acceptor: _Acceptor, bill_type: int) -> None:
        """Ask the policy, then stack or return. Where the bill really went is read from the events
        that follow (stacked: a credit; returned: "cash.returned"), never assumed from the command."""
        cents = acceptor.positions.get(bill_type, 0)
        stack = cents > 0 and self._policy_says_stack(cents)
        acceptor.escrow_cents, acceptor.escrow_pending, acceptor.escrow_returning = cents, True, not stack
        reply = self._command(acceptor.address, cc.H_ROUTE_BILL, bytes([cc.ROUTE_STACK if stack else cc.ROUTE_RETURN]))
        log_event(log, "cash.escrow", device=self.name, cents=cents, route="stack" if stack else "return")
        if reply[:1] == bytes([cc.ROUTE_ERROR_FAILED]):
            self._note_error("cash.route_failed")  # the validator keeps or returns it: the events will say
            log_event(log, "cash.route_failed", level=logging.WARNING, device=self.name, cents=cents)

    def _policy_says_stack(self, cents: int) -> bool:
        with self._lock:
            policy = self._escrow_policy
        if policy is None:
            return True
        try:
            return bool(policy(cents))
        except Exception:  # a broken policy must not take money it did not approve: hand it back
            log.error("cash.escrow_policy_failed", exc_info=True, extra={"fields": {"device": self.name}})
            return False

    def _returned(self, acceptor: _Acceptor) -> None:
        cents, asked = acceptor.escrow_cents, acceptor.escrow_returning
        acceptor.escrow_pending, acceptor.escrow_cents, acceptor.escrow_returning = False, 0, False
        log_event(log, "cash.returned", device=self.name, cents=cents, asked=asked)
        self._emit("cash.returned", kind=acceptor.kind, cents=cents, why="policy" if asked else "validator")

    def clear_fault(self) -> None:
        """A technician cleared the jam: the next probe decides the state again."""
        self._set_state(State.UNKNOWN, "status_unknown")
        self.refresh()

    # --- public API: paying change (see devices/hopper.py for what each answer proves) ---

    def change_capacity(self) -> tuple[HopperInfo, ...]:
        """Per hopper: coin, level, own count, coins vouched for, blocking faults (no I/O)."""
        return self._acceptance.hoppers

    def plan_change(self, cents: int) -> dict[int, int] | None:
        """Coins per hopper address that make `cents` from what the hoppers vouch for, or None."""
        return plan_change(cents, self._acceptance.hoppers)

    def payout_status(self, hopper: int | None = None) -> HopperStatus:
        """The hopper's own counters (166): event counter, coins remaining, last paid, last unpaid."""
        unit = self._unit(hopper)
        return self.call(lambda: self._hopper_driver.status(unit), self.timeout_s * 2)

    def dispense_count(self, hopper: int | None = None) -> int | None:
        """Coins the hopper has ever paid (168); None when it does not tell."""
        unit = self._unit(hopper)
        return self.call(lambda: self._hopper_driver.dispense_count(unit), self.timeout_s * 2)

    def prepare_payout(self, coins: int, hopper: int | None = None) -> PayoutRequest:
        """Read the counters the request will be checked against; nothing moves. Store the result
        durably, then `dispense(coins, hopper, expect_counter=request.event_counter)`."""
        unit = self._unit(hopper)
        return self.call(lambda: self._hopper_driver.prepare(unit, coins), self.timeout_s * 4)

    def dispense(self, coins: int, hopper: int | None = None, expect_counter: int | None = None) -> int:
        """Enable (164) and dispense (167) once; returns the event counter it was sent against.
        With `expect_counter`, nothing is sent unless the hopper's counter still reads that."""
        unit = self._unit(hopper)
        request = self.call(lambda: self._hopper_driver.dispense(unit, coins, expect_counter), self.timeout_s * 10)
        self._bump(operations=1)
        return request.event_counter

    def wait_payout(self, timeout_s: float, hopper: int | None = None,
                    request: PayoutRequest | None = None) -> PayoutResult:
        """Poll 166 until the payout is over, or stop it (172) when its counters stop moving or at
        the deadline; returns what the counters prove. `request`: a recorded one (after a restart);
        by default the last dispense of this process on that hopper."""
        unit = self._unit(request.hopper if request else hopper)
        request = request or unit.pending
        if request is None:
            raise DeviceError("cash.payout_invalid", f"hopper {unit.address}: no payout to wait for")
        chosen = request
        result, stopped = wait_until_final(
            lambda: self._try(lambda: self._hopper_driver.settle(unit, chosen)),
            lambda: self._try(lambda: self._hopper_driver.emergency_stop(unit)),
            timeout_s, self.stall_s, self.payout_poll_s)
        if result is None or result.in_progress:
            result = PayoutResult(unit.address, request.coin_cents, request.coins, None,
                                  None if result is None else result.paid, None,
                                  None if result is None else result.event_counter, False, "no_answer")
        return self.call(lambda: self._finish_payout(unit, result, stopped), self.timeout_s * 6)

    def reconcile_payout(self, request: PayoutRequest) -> PayoutResult:
        """After a restart: what the hopper's counters prove about a recorded request now (one
        reading; `in_progress` -> `wait_payout(timeout, request=request)`)."""
        unit = self._unit(request.hopper)
        return self.call(lambda: self._hopper_driver.settle(unit, request), self.timeout_s * 3)

    def emergency_stop(self, hopper: int | None = None) -> int:
        """Halt the payout (172); returns the coins it will not pay."""
        unit = self._unit(hopper)
        return self.call(lambda: self._hopper_driver.emergency_stop(unit), self.timeout_s * 3)

    def hopper_test(self, hopper: int | None = None) -> tuple[str, ...]:
        """Test hopper (163): the conditions that are on, in words."""
        unit = self._unit(hopper)
        return self.call(lambda: self._hopper_driver.test(unit), self.timeout_s * 2)

    def _unit(self, hopper: int | None) -> HopperUnit:
        if not self._hoppers:
            raise DeviceError("cash.no_change", "no hopper is configured")
        for unit in self._hoppers:
            if hopper is None or unit.address == hopper:
                return unit
        raise DeviceError("cash.payout_invalid", f"no hopper at address {hopper}")

    def _try(self, fn: Callable[[], T]) -> T | None:
        """A hopper call while waiting on a payout: silence (a power cut) is waited out, not fatal."""
        try:
            return self.call(fn, self.timeout_s * 3)
        except DeviceError as error:
            log_event(log, "hopper.no_answer", device=self.name, code=error.code)
            return None

    def _finish_payout(self, unit: HopperUnit, result: PayoutResult, stopped: bool) -> PayoutResult:
        """On the worker: faults read, hopper disabled, capacity and state refreshed, event sent."""
        if result.unpaid or not result.certain:
            with contextlib.suppress(DeviceError):
                result = replace(result, faults=self._hopper_driver.test(unit))
        with contextlib.suppress(DeviceError):
            self._hopper_driver.disable(unit)
        self._acceptance = self._build_acceptance()
        if self.status().state in (State.READY, State.DEGRADED):
            self._state_from_change()
        info = unit.current_info()
        if info.faults:
            self._emit("hopper.fault", hopper=unit.address, faults=list(info.faults))
        log_event(log, "hopper.payout", level=logging.INFO if result.certain else logging.ERROR, device=self.name,
                  hopper=unit.address, reason=result.reason, paid=result.paid, unpaid=result.unpaid,
                  stopped=stopped)
        self._emit("payout.completed", **result.to_dict(), paid_cents=result.paid_cents,
                   unpaid_cents=result.unpaid_cents, stopped=stopped)
        return result

    def _self_test_checks(self) -> list[Check]:
        checks: list[Check] = []
        for acceptor in self._acceptors:
            self._command(acceptor.address, cc.H_SIMPLE_POLL)
            checks.append(Check(f"{acceptor.kind} poll", True, acceptor.identity))
            values = ", ".join(f"${v / 100:g}" for v in sorted(acceptor.positions.values()))
            checks.append(Check(f"{acceptor.kind} denominations", bool(acceptor.positions), values or "none"))
        self._poll_once()
        checks.append(Check("event queues", True, "read"))
        acceptance = self._acceptance = self._build_acceptance()
        for info in acceptance.hoppers:
            checks.append(self._hopper_check(info))
        checks.append(Check("change", True, "can give change" if acceptance.can_give_change else
                            "no change: exact amount only"))
        return checks

    def _hopper_check(self, info: HopperInfo) -> Check:
        if not info.answered:
            return Check(f"hopper {info.address}", False, "does not answer")
        counted = "" if info.coins_counted is None else f", {info.coins_counted} coins counted"
        detail = f"{info.identity}: ${info.coin_cents / 100:g} coins, level {info.level}{counted}"
        if info.faults:
            detail += f"; faults: {', '.join(info.faults)}"
        return Check(f"hopper {info.address}", not info.faults and info.coin_cents > 0, detail)
