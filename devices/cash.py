"""Cash: a ccTalk coin acceptor and bill validator (and, optionally, a payout hopper).

On open the adapter reads each device's identity and its coin/bill tables, so the accepted
denominations, and whether change can be given, are known before the citizen inserts money
(`acceptance()`). `enable()` lifts the inhibits for the accepted denominations; a poll thread
then reads the buffered credit / bill event queues (event counter + five newest events) and
emits "credit.accepted", "cash.rejected", "cash.jam" and "cash.fraud". Lost events (counter
jumped by more than five) are reported, never silently guessed.

URL options: coin (address, default 2; 0 = none), bill (default 40; 0 = none), hopper (address,
default none: no change), accept (comma list of peso values, e.g. 0.5,1,2,5,10,20,50,100,200),
poll_ms (default 200). Sim faults: jam=1, hopper_level=low, echo=1, offline=1.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from kiosk.logs import event as log_event

from . import cctalk as cc
from .contract import Adapter, CallSoon, Check, DeviceError, State, Supply, immediate, log
from .links import Link, SimLink, link_for_url
from .urls import DeviceUrl

RETRIES = 3
QUIET_POLLS = 2  # polls in a row without a new credit before a disable() counts as done
COIN_JAM = {14, 15, 26}
COIN_FRAUD = {17, 20, 254}
BILL_JAM = {3, 6, 7, 15, 16}
BILL_FRAUD = {8, 9, 17, 18}
BILL_STACKER = {11, 13, 14}


@dataclass(frozen=True)
class Acceptance:
    coins_cents: tuple[int, ...]
    bills_cents: tuple[int, ...]
    can_give_change: bool
    reason: str  # "ok" or "cash.no_change"

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


@dataclass
class _Acceptor:
    address: int
    kind: str  # "coin" or "bill"
    positions: dict[int, int]  # position -> value in cents (accepted ones only)
    counter: int | None = None
    identity: str = ""


class CashAdapter(Adapter):
    kind = "cash"

    def __init__(self, name: str, driver: str, url: DeviceUrl, call_soon: CallSoon = immediate,
                 link: Link | None = None):
        self.hopper_address = url.int_option("hopper", 0)
        self.supply_names = ("hopper",) if self.hopper_address else ()  # coins for change
        super().__init__(name, driver, url, call_soon)
        self.coin_address = url.int_option("coin", cc.COIN_ACCEPTOR)
        self.bill_address = url.int_option("bill", cc.BILL_VALIDATOR)
        self.poll_s = url.int_option("poll_ms", 200) / 1000
        accept = url.option("accept", "")
        self.accept_cents = {round(float(v) * 100) for v in accept.split(",") if v.strip()} if accept else None
        self.simulator = None
        if link is None and url.is_sim:
            from .sim.cctalk import CcTalkBus

            self.simulator = CcTalkBus.from_options(url.options)
            link = SimLink(self.simulator, offline=url.flag("offline"))
        self.link = link or link_for_url(url, default_baudrate=9600)
        self._acceptors: list[_Acceptor] = []
        self._acceptance = Acceptance((), (), False, "cash.no_change")
        self._enabled = False
        self._wanted_enabled = False
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()
        self.total_cents = 0
        self._credit_events = 0
        self._lost_events = 0

    # --- ccTalk request/response ---

    def _command(self, address: int, header: int, data: bytes = b"") -> bytes:
        """One request with retries on silence, noise or bad checksums; returns the reply data."""
        request = cc.Message(address, cc.HOST, header, data).encode()
        for _attempt in range(RETRIES):
            self.link.reset_input()
            self.link.write(request)
            reply = self._read_reply(address, time.monotonic() + self.timeout_s / RETRIES)
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
        self._set_capabilities(
            model=" + ".join(a.identity for a in self._acceptors),
            firmware=" + ".join(a.identity.rsplit(" rev ", 1)[-1] for a in self._acceptors),
            features=frozenset({"coins" if self.coin_address else "", "bills" if self.bill_address else "",
                                "change" if self._acceptance.can_give_change else ""} - {""}),
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
        counter = self._command(address, cc.H_READ_BUFFERED_CREDIT if kind == "coin"
                                else cc.H_READ_BUFFERED_BILL_EVENTS)[:1]
        identity = f"{manufacturer} {product} ({category}) rev {revision}"
        return _Acceptor(address, kind, positions, counter[0] if counter else 0, identity)

    def _build_acceptance(self) -> Acceptance:
        coins = tuple(sorted(v for a in self._acceptors if a.kind == "coin" for v in a.positions.values()))
        bills = tuple(sorted(v for a in self._acceptors if a.kind == "bill" for v in a.positions.values()))
        change = False
        if self.hopper_address:
            try:
                status = self._command(self.hopper_address, cc.H_PAYOUT_STATUS)
            except DeviceError:
                status = b""
            change = bool(status) and not status[0] & 0x01  # bit 0: coins below the low-level sensor
            self._set_supply("hopper", Supply.UNKNOWN if not status else Supply.LOW if not change else Supply.FULL)
        return Acceptance(coins, bills, change, "ok" if change else "cash.no_change")

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
        if self.hopper_address and not self._acceptance.can_give_change:
            self._set_state(State.DEGRADED, "cash.no_change")
        else:
            self._set_state(State.READY, "ok")

    # --- public API ---

    def diagnostics(self) -> dict[str, object]:
        acceptance = self._acceptance
        return {"coins_cents": list(acceptance.coins_cents), "bills_cents": list(acceptance.bills_cents),
                "can_give_change": acceptance.can_give_change, "accepting": self._enabled,
                "acceptors": [a.identity for a in self._acceptors]}

    def acceptance(self) -> Acceptance:
        """Accepted denominations and whether change can be given: show them before insertion."""
        return self._acceptance

    def enable(self) -> None:
        """Accept the denominations in `acceptance()` and start polling for credits."""
        self._wanted_enabled = True
        self.call(lambda: self._set_inhibits(True))
        self._start_poller()

    def disable(self) -> None:
        """Inhibit every acceptor and read the event queues until they are quiet, so every credit
        stacked before the inhibit took effect has been emitted (and reached direct subscribers)
        when this returns. A note or coin offered afterwards is refused by the device."""
        self._wanted_enabled = False
        self.call(self._inhibit_and_drain, self.timeout_s * 3)

    def _inhibit_and_drain(self) -> None:
        self._set_inhibits(False)
        settle = min(self.poll_s, 0.1)
        quiet = 0
        while quiet < QUIET_POLLS:  # a coin already in the validator when the inhibit came lands late
            quiet = 0 if self._poll_once() else quiet + 1  # refusals of what is offered now do not count
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
        return self.call(self._poll_once)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            if not self._enabled:
                continue
            try:
                self.call(self._poll_once)
            except DeviceError as error:
                self._fail(error)
                return  # the supervisor reopens the bus; a new poller starts with it

    def _poll_once(self) -> list[tuple[str, int]]:
        credits: list[tuple[str, int]] = []
        for acceptor in self._acceptors:
            header = cc.H_READ_BUFFERED_CREDIT if acceptor.kind == "coin" else cc.H_READ_BUFFERED_BILL_EVENTS
            reply = self._command(acceptor.address, header)
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
        pairs = [(reply[1 + 2 * i], reply[2 + 2 * i]) for i in range(fresh)]
        credits: list[tuple[str, int]] = []
        for a, b in reversed(pairs):  # oldest first
            credit = self._event(acceptor, a, b)
            if credit:
                credits.append((acceptor.kind, credit))
        return credits

    def _event(self, acceptor: _Acceptor, a: int, b: int) -> int:
        if a != 0 and (acceptor.kind == "coin" or b == 0):
            value = acceptor.positions.get(a, 0)
            if value:
                with self._lock:
                    self.total_cents += value
                    self._credit_events += 1
                self._bump(operations=1)
                log_event(log, "cash.credit", device=self.name, kind=acceptor.kind, cents=value)
                self._emit("credit.accepted", kind=acceptor.kind, cents=value, total_cents=self.total_cents)
            return value
        if a != 0:  # bill held in escrow (b == 1): we only enable what we accept, so stack it
            self._command(acceptor.address, cc.H_ROUTE_BILL, b"\x01")
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

    def clear_fault(self) -> None:
        """A technician cleared the jam: the next probe decides the state again."""
        self._set_state(State.UNKNOWN, "status_unknown")
        self.refresh()

    def _self_test_checks(self) -> list[Check]:
        checks: list[Check] = []
        for acceptor in self._acceptors:
            self._command(acceptor.address, cc.H_SIMPLE_POLL)
            checks.append(Check(f"{acceptor.kind} poll", True, acceptor.identity))
            values = ", ".join(f"${v / 100:g}" for v in sorted(acceptor.positions.values()))
            checks.append(Check(f"{acceptor.kind} denominations", bool(acceptor.positions), values or "none"))
        self._poll_once()
        checks.append(Check("event queues", True, "read"))
        acceptance = self._acceptance
        checks.append(Check("change", True, "can give change" if acceptance.can_give_change else
                            "no change: exact amount only"))
        return checks
