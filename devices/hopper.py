"""ccTalk payout hoppers: change that is never paid twice and never forgotten.

What a hopper tells about itself (ccTalk generic specification):

- Request hopper status (166): [event counter] [payout coins remaining] [last payout: coins paid]
  [last payout: coins unpaid]. The event counter is 0 only after power-up or reset; every dispense
  command the hopper accepts adds one (1..255, then 1 again). Remaining > 0 while coins are being
  paid; at 0 the payout is over and paid / unpaid describe it (unpaid: coins it gave up on, when it
  ran empty, jammed or was stopped).
- Dispense hopper coins (167) answers the post-increment event counter (or a bare ACK on older
  hoppers). It is never re-sent blindly: a second copy of a dispense the hopper did receive would
  pay twice, so a missing answer is settled by reading the counter (unchanged: not received, safe
  to send again; one more: accepted; anything else: unknown, reconcile).
- Emergency stop (172), test hopper (163: flag registers), enable (164), request hopper dispense
  count (168: coins ever paid, 24 bits), request payout high / low status (217: level sensors),
  request payout absolute count (207: only on hoppers that count their coins).

"Ledger first": `PayoutRequest` is read from the hopper before anything moves (counter E, coins N,
dispense count D) and the caller stores it durably; then the dispense is sent only if the counter
is still E. After a crash, `conclude()` compares the stored request with the hopper's counters now
and says what they prove (see its docstring and docs/devices.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import cctalk as cc
from .contract import DeviceError, Supply, log_event

log = logging.getLogger("kiosk.devices")

COUNT_MODULO = 1 << 24  # the dispense count (168) is 24 bits and wraps

# Test hopper (163) flag registers 1..3, bit 0 first (generic specification, header 163).
FLAG_WORDS: tuple[tuple[str, ...], ...] = (
    ("absolute maximum current exceeded", "payout timeout", "motor reversed to clear a jam",
     "opto fraud: path blocked while idle", "opto fraud: short-circuit while idle",
     "opto blocked permanently during payout", "power-up detected", "payout disabled"),
    ("opto fraud: short-circuit during payout", "single coin payout mode", "use other hopper for change",
     "opto fraud: finger or slider mismatch", "motor reverse limit reached", "inductive coil fault",
     "NV memory checksum error", "PIN number mechanism"),
    ("power-down during payout", "unknown coin type paid", "PIN number incorrect", "incorrect cipher key",
     "encryption enabled", "reserved bit 5", "reserved bit 6", "reserved bit 7"),
)
# Conditions under which the hopper must not be asked to pay until a technician has looked at it.
# "payout timeout" is not among them: it is how a hopper reports running empty, and it stays set
# until the next payout, so refilling must be enough to pay again.
BLOCKING_FLAGS = frozenset({
    "absolute maximum current exceeded", "opto fraud: path blocked while idle",
    "opto fraud: short-circuit while idle", "opto blocked permanently during payout",
    "opto fraud: short-circuit during payout", "opto fraud: finger or slider mismatch",
    "motor reverse limit reached", "inductive coil fault", "NV memory checksum error",
    "unknown coin type paid", "incorrect cipher key",
})


# ---- what the hopper answers --------------------------------------------------------------------

@dataclass(frozen=True)
class HopperStatus:
    """Request hopper status (166)."""

    event_counter: int  # 0 after power-up or reset; +1 (1..255, wrapping to 1) per accepted dispense
    remaining: int  # coins still to pay in the running payout; 0: none running
    last_paid: int  # coins the last (or running) payout has paid
    last_unpaid: int  # coins the last payout gave up on


def parse_hopper_status(data: bytes) -> HopperStatus:
    """The four status bytes; anything else is a garbled answer (DeviceError, never another error)."""
    if len(data) != 4:
        raise DeviceError("transport.garbled", f"hopper status of {len(data)} bytes")
    return HopperStatus(data[0], data[1], data[2], data[3])


def parse_test_flags(data: bytes) -> tuple[str, ...]:
    """Test hopper (163): one to three registers -> the words of the conditions that are on."""
    if not 1 <= len(data) <= len(FLAG_WORDS):
        raise DeviceError("transport.garbled", f"hopper test of {len(data)} bytes")
    return tuple(word for register, words in zip(data, FLAG_WORDS, strict=False)
                 for bit, word in enumerate(words) if register >> bit & 1)


@dataclass(frozen=True)
class LevelSensors:
    """Request payout high / low status (217). None: that sensor is not fitted."""

    below_low: bool | None
    above_high: bool | None


def parse_level(data: bytes) -> LevelSensors:
    if len(data) != 1:
        raise DeviceError("transport.garbled", f"payout level status of {len(data)} bytes")
    bits = data[0]
    # A set "below low" bit is believed even without the "fitted" bit (the cautious reading);
    # "not below low" only counts when the hopper says the sensor is fitted.
    below = True if bits & 0x01 else (False if bits & 0x10 else None)
    above = bool(bits & 0x02) if bits & 0x20 else None
    return LevelSensors(below, above)


def parse_count(data: bytes, size: int) -> int:
    """A little-endian counter of `size` bytes (168: 3, 207: 2)."""
    if len(data) != size:
        raise DeviceError("transport.garbled", f"counter of {len(data)} bytes, expected {size}")
    return int.from_bytes(data, "little")


def next_counter(counter: int) -> int:
    """The event counter after one more accepted dispense: 0 -> 1, 254 -> 255, 255 -> 1."""
    return counter % 255 + 1


# ---- ledger-first records and what the counters prove --------------------------------------------

@dataclass(frozen=True)
class PayoutRequest:
    """What the caller stores durably before the dispense is sent."""

    hopper: int  # ccTalk address
    coin_cents: int
    coins: int
    event_counter: int  # the hopper's counter before: the dispense is sent only while it still reads this
    dispense_count: int | None  # coins ever paid (168) before; None when the hopper does not tell

    def to_dict(self) -> dict[str, Any]:
        return {"hopper": self.hopper, "coin_cents": self.coin_cents, "coins": self.coins,
                "event_counter": self.event_counter, "dispense_count": self.dispense_count}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PayoutRequest:
        """Back from the ledger; a damaged record is refused with ValueError, never half-trusted."""
        try:
            values = {key: data[key] for key in ("hopper", "coin_cents", "coins", "event_counter")}
            count = data.get("dispense_count")
        except (KeyError, TypeError, AttributeError):
            raise ValueError("payout request record is incomplete") from None
        if not all(type(value) is int for value in values.values()) or not (
                count is None or type(count) is int):
            raise ValueError("payout request record has non-integer fields")
        if not (0 < values["hopper"] < 256 and 0 < values["coins"] < 256 and 0 <= values["event_counter"] < 256
                and values["coin_cents"] >= 0 and (count is None or 0 <= count < COUNT_MODULO)):
            raise ValueError("payout request record is out of range")
        return cls(dispense_count=count, **values)


@dataclass(frozen=True)
class PayoutResult:
    """What is known about one request. `certain`: paid + unpaid == coins, proven by the hopper."""

    hopper: int
    coin_cents: int
    coins: int  # asked
    executed: bool | None  # did the hopper accept the dispense; None: cannot be told
    paid: int | None  # coins that left the hopper for this request; None: cannot be told
    unpaid: int | None  # coins still owed to the citizen; None: cannot be told
    event_counter: int | None  # the hopper's counter when this was concluded; None: it did not answer
    certain: bool
    reason: str  # see conclude()
    in_progress: bool = False
    faults: tuple[str, ...] = ()  # test hopper words read after a short or unknown payout

    @property
    def paid_cents(self) -> int | None:
        return None if self.paid is None else self.paid * self.coin_cents

    @property
    def unpaid_cents(self) -> int | None:
        return None if self.unpaid is None else self.unpaid * self.coin_cents

    def to_dict(self) -> dict[str, Any]:
        return {"hopper": self.hopper, "coin_cents": self.coin_cents, "coins": self.coins,
                "executed": self.executed, "paid": self.paid, "unpaid": self.unpaid,
                "event_counter": self.event_counter, "certain": self.certain, "reason": self.reason,
                "in_progress": self.in_progress, "faults": list(self.faults)}


def conclude(request: PayoutRequest, status: HopperStatus, count_now: int | None,
             count_survives_reset: bool) -> PayoutResult:
    """What the hopper's counters prove about `request` (E = its counter, N = its coins).

    counter now      remaining  conclusion (reason)
    next(E)          > 0        accepted and still paying ("in_progress"; paid so far, not final)
    next(E)          0          accepted and over: paid, unpaid; certain when paid + unpaid = N
                                ("paid" or "short"), else "inconsistent"
    E (E != 0)       -          never accepted: nothing paid, nothing will be ("not_executed")
    0 (or E = 0)     -          the hopper was reset (power cut) after E was read, or (E = 0) maybe
                                never accepted: the counters are gone. With a dispense count that
                                survives resets (option hopper_nv_count=1): paid = count now - D
                                ("reset_counted"); otherwise "reset_unknown" (paid 0..N, attendant)
    anything else    -          further dispenses followed this one ("overtaken"): unknown

    The dispense count, when both readings exist, must agree (paid = count now - D; 0 when not
    executed), or the answer is "inconsistent". This holds only if every dispense on the hopper
    is prepared, recorded and concluded in order: conclude a request before preparing the next.
    """
    counter, coins = status.event_counter, request.coins
    moved = None if count_now is None or request.dispense_count is None else (
        (count_now - request.dispense_count) % COUNT_MODULO)

    def result(reason: str, executed: bool | None, paid: int | None, unpaid: int | None, certain: bool,
               in_progress: bool = False) -> PayoutResult:
        return PayoutResult(request.hopper, request.coin_cents, coins, executed, paid, unpaid, counter, certain,
                            reason, in_progress)

    if counter == next_counter(request.event_counter):
        paid, unpaid = status.last_paid, status.last_unpaid
        if status.remaining:
            return result("in_progress", True, paid, None, False, in_progress=True)
        if paid + unpaid != coins or (moved is not None and moved != paid):
            return result("inconsistent", True, paid, unpaid, False)
        return result("short" if unpaid else "paid", True, paid, unpaid, True)
    if counter == request.event_counter and counter != 0:
        if moved:
            return result("inconsistent", False, None, None, False)
        return result("not_executed", False, 0, coins, True)
    if counter == 0:
        if moved is None or not count_survives_reset:
            return result("reset_unknown", None, None, None, False)
        if moved > coins:
            return result("inconsistent", True, None, None, False)
        return result("reset_counted", True if moved else None, moved, coins - moved, True)
    return result("overtaken", True, None, None, False)


# ---- capacity: what the kiosk can give as change now ----------------------------------------------

@dataclass(frozen=True)
class HopperInfo:
    """What one hopper can vouch for now (no I/O to read it)."""

    address: int
    coin_cents: int  # 0: unknown coin, never used for change
    answered: bool  # it answered the last reading
    level: Supply  # from the level sensors (and the count, when the hopper keeps one)
    coins_counted: int | None  # the hopper's own count (207); None: it does not count its coins
    coins_sure: int  # coins the device itself vouches for (see HopperUnit.info)
    faults: tuple[str, ...] = ()  # blocking test-hopper conditions: no change from it until cleared
    identity: str = ""

    @property
    def sure_cents(self) -> int:
        return self.coins_sure * self.coin_cents

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "coin_cents": self.coin_cents, "answered": self.answered,
                "level": str(self.level), "coins_counted": self.coins_counted, "coins_sure": self.coins_sure,
                "faults": list(self.faults), "identity": self.identity}


def plan_change(cents: int, hoppers: Sequence[HopperInfo]) -> dict[int, int] | None:
    """Coins per hopper address that make exactly `cents` with the fewest coins, using only the
    coins each hopper vouches for; None when it cannot be made ({} for 0)."""
    if cents < 0:
        return None
    usable = [h for h in hoppers if h.coin_cents > 0 and h.coins_sure > 0 and not h.faults]
    best: dict[int, dict[int, int]] = {0: {}}  # amount -> fewest-coins plan (bounded coin change)
    for hopper in usable:
        for amount, plan in sorted(best.items(), reverse=True):
            for count in range(1, hopper.coins_sure + 1):
                total = amount + count * hopper.coin_cents
                if total > cents:
                    break
                candidate = {**plan, hopper.address: count}
                known = best.get(total)
                if known is None or sum(candidate.values()) < sum(known.values()):
                    best[total] = candidate
    return best.get(cents)


# ---- one hopper on the bus ----------------------------------------------------------------------

Transact = Callable[[int, int, bytes], "cc.Message | None"]  # one attempt: ACK/NAK message or None (silence)
Command = Callable[[int, int, bytes], bytes]  # with retries: the ACK's data, or DeviceError


@dataclass
class HopperUnit:
    """One hopper's configuration and what the adapter last read from it (worker thread only)."""

    address: int
    coin_cents: int = 0  # from the URL, else from the hopper's coin name (171)
    low_coins: int = 0  # coins its low-level sensor still guarantees while it reads "above"
    count_survives_reset: bool = False  # its dispense count (168) is non-volatile
    identity: str = ""
    serial: bytes = b"\x00\x00\x00"
    counts_coins: bool | None = None  # answers 207; None until asked
    discovered: bool = False
    info: HopperInfo | None = None
    pending: PayoutRequest | None = None  # dispensed in this process and not yet concluded
    last_result: PayoutResult | None = None  # the last conclusion reached in this process

    def current_info(self) -> HopperInfo:
        return self.info or HopperInfo(self.address, self.coin_cents, False, Supply.UNKNOWN, None, 0,
                                       identity=self.identity)


class HopperDriver:
    """The hopper commands, on the adapter's worker thread through its request functions."""

    def __init__(self, transact: Transact, command: Command):
        self.transact = transact
        self.command = command

    # -- reading --

    def discover(self, unit: HopperUnit) -> None:
        ascii_of = self._ascii
        category = ascii_of(unit, cc.H_EQUIPMENT_CATEGORY)
        manufacturer = ascii_of(unit, cc.H_MANUFACTURER)
        product = ascii_of(unit, cc.H_PRODUCT_CODE)
        revision = ascii_of(unit, cc.H_SOFTWARE_REVISION)
        serial = self.command(unit.address, cc.H_SERIAL_NUMBER, b"")
        unit.serial = (serial + b"\x00\x00\x00")[:3]
        if not unit.coin_cents:
            unit.coin_cents = cc.coin_value_cents(ascii_of(unit, cc.H_REQUEST_HOPPER_COIN)) or 0
        unit.identity = f"{manufacturer} {product} ({category}) rev {revision}"
        unit.discovered = True

    def _ascii(self, unit: HopperUnit, header: int) -> str:
        return self.command(unit.address, header, b"").decode("ascii", "replace")

    def status(self, unit: HopperUnit) -> HopperStatus:
        return parse_hopper_status(self.command(unit.address, cc.H_REQUEST_HOPPER_STATUS, b""))

    def dispense_count(self, unit: HopperUnit) -> int | None:
        """Coins ever paid (168); None when the hopper does not answer that header."""
        reply = self._optional(unit, cc.H_REQUEST_HOPPER_DISPENSE_COUNT)
        return None if reply is None else parse_count(reply, 3)

    def test(self, unit: HopperUnit) -> tuple[str, ...]:
        return parse_test_flags(self.command(unit.address, cc.H_TEST_HOPPER, b""))

    def read_info(self, unit: HopperUnit) -> HopperInfo:
        """Sensors, own count and blocking faults now. Sure coins: the hopper's count when it keeps
        one; else `low_coins` while the low sensor reads "above"; else none."""
        try:
            if not unit.discovered:
                self.discover(unit)
            sensors = parse_level(self.command(unit.address, cc.H_PAYOUT_STATUS, b""))
            counted = self._absolute_count(unit)
            faults = tuple(word for word in self.test(unit) if word in BLOCKING_FLAGS)
        except DeviceError as error:
            log_event(log, "hopper.unreadable", address=unit.address, code=error.code)
            unit.info = HopperInfo(unit.address, unit.coin_cents, False, Supply.UNKNOWN, None, 0,
                                   identity=unit.identity)
            return unit.info
        sure = _sure_coins(unit, sensors, counted) if unit.coin_cents and not faults else 0
        unit.info = HopperInfo(unit.address, unit.coin_cents, True, _level(sensors, counted), counted, sure, faults,
                               unit.identity)
        return unit.info

    def _absolute_count(self, unit: HopperUnit) -> int | None:
        if unit.counts_coins is False:
            return None
        reply = self._optional(unit, cc.H_REQUEST_PAYOUT_ABSOLUTE_COUNT)
        unit.counts_coins = reply is not None
        return None if reply is None else parse_count(reply, 2)

    def _optional(self, unit: HopperUnit, header: int) -> bytes | None:
        """A header not every hopper implements: NAK means "not supported" (None)."""
        for _attempt in range(3):
            reply = self.transact(unit.address, header, b"")
            if reply is not None:
                return None if reply.header == cc.H_NAK else reply.data
        raise DeviceError("transport.timeout", f"hopper {unit.address} header {header}: no valid reply")

    # -- paying --

    def prepare(self, unit: HopperUnit, coins: int) -> PayoutRequest:
        """Read what the request will be checked against; nothing moves."""
        _check_coins(coins)
        if unit.pending is not None:
            raise DeviceError("cash.payout_busy", f"hopper {unit.address}: conclude the last payout first")
        if not unit.coin_cents:
            raise DeviceError("cash.no_change", f"hopper {unit.address}: its coin is not known")
        faults = tuple(word for word in self.test(unit) if word in BLOCKING_FLAGS)
        if faults:
            raise DeviceError("cash.hopper_fault", f"hopper {unit.address}: {', '.join(faults)}")
        status = self.status(unit)
        if status.remaining:
            raise DeviceError("cash.payout_busy", f"hopper {unit.address} is paying {status.remaining} coins")
        return PayoutRequest(unit.address, unit.coin_cents, coins, status.event_counter, self.dispense_count(unit))

    def dispense(self, unit: HopperUnit, coins: int, expect_counter: int | None) -> PayoutRequest:
        """Enable, then send one dispense; see the module docstring for why it is never re-sent blindly.

        Raises DeviceError: cash.payout_counter_moved / cash.payout_busy / cash.hopper_fault /
        cash.payout_refused (nothing was paid, nothing will be); cash.payout_unknown (it may have been
        accepted: conclude the request from the counters)."""
        request = self.prepare(unit, coins)
        if expect_counter is not None and request.event_counter != expect_counter:
            raise DeviceError("cash.payout_counter_moved",
                              f"hopper {unit.address} counter {request.event_counter}, recorded {expect_counter}")
        self.command(unit.address, cc.H_ENABLE_HOPPER, bytes([cc.HOPPER_ENABLE_CODE]))
        unit.pending = request  # from here on it may be paid: wait_payout() / settle() conclude it
        try:
            self._send_dispense(unit, request)
        except DeviceError as error:
            if error.code == "cash.payout_refused":
                unit.pending = None  # proven not accepted by the counter: nothing paid, nothing will be
                raise
            raise DeviceError("cash.payout_unknown", f"{error.code}: {error.detail}") from None
        log_event(log, "hopper.dispense", address=unit.address, coins=coins, counter=request.event_counter)
        return request

    def _send_dispense(self, unit: HopperUnit, request: PayoutRequest) -> None:
        accepted = next_counter(request.event_counter)
        for _attempt in range(3):
            reply = self.transact(unit.address, cc.H_DISPENSE_HOPPER_COINS, unit.serial + bytes([request.coins]))
            if reply is not None and reply.header != cc.H_NAK and (not reply.data or reply.data[0] == accepted):
                return  # the hopper says it took this dispense
            counter = self._counter_after_doubt(unit)
            if counter == accepted:
                return
            if counter != request.event_counter:
                raise DeviceError("cash.payout_unknown", f"hopper {unit.address} counter jumped to {counter}")
            if reply is not None and reply.header == cc.H_NAK:
                raise DeviceError("cash.payout_refused", f"hopper {unit.address} refused the dispense")
            # silence or noise and the counter did not move: it never got the command, send it again
        raise DeviceError("cash.payout_refused", f"hopper {unit.address}: no answer to dispense, nothing paid")

    def _counter_after_doubt(self, unit: HopperUnit) -> int:
        try:
            return self.status(unit).event_counter
        except DeviceError as error:
            raise DeviceError("cash.payout_unknown", f"hopper {unit.address}: {error.code} after dispense") from None

    def settle(self, unit: HopperUnit, request: PayoutRequest) -> PayoutResult:
        """Read the counters and say what they prove; final results free the hopper for the next one."""
        status = self.status(unit)
        count = None
        if not status.remaining:
            count = self.dispense_count(unit)
        result = conclude(request, status, count, unit.count_survives_reset)
        if not result.in_progress:
            if unit.pending == request:
                unit.pending = None
            unit.last_result = result
        return result

    def emergency_stop(self, unit: HopperUnit) -> int:
        """Halt the payout; the coins it will not pay, as the hopper's counters show them afterwards."""
        reply = self.command(unit.address, cc.H_EMERGENCY_STOP, b"")
        status = self.status(unit)
        if status.remaining == 0 and unit.pending is not None and \
                status.event_counter == next_counter(unit.pending.event_counter):
            return status.last_unpaid  # a retried stop answers 0; the counters keep the first one's figure
        return reply[0] if reply else 0

    def disable(self, unit: HopperUnit) -> None:
        self.command(unit.address, cc.H_ENABLE_HOPPER, b"\x00")


def _check_coins(coins: int) -> None:
    if type(coins) is not int or not 1 <= coins <= 255:
        raise DeviceError("cash.payout_invalid", f"{coins!r} coins: a dispense pays 1 to 255")


def _sure_coins(unit: HopperUnit, sensors: LevelSensors, counted: int | None) -> int:
    if counted is not None:
        return counted
    return unit.low_coins if sensors.below_low is False else 0


def _level(sensors: LevelSensors, counted: int | None) -> Supply:
    if counted == 0:
        return Supply.OUT
    if sensors.below_low:
        return Supply.LOW
    if sensors.below_low is False or counted:
        return Supply.FULL
    return Supply.UNKNOWN


def wait_until_final(read: Callable[[], PayoutResult | None], stop: Callable[[], object], timeout_s: float,
                     stall_s: float, poll_s: float, clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep) -> tuple[PayoutResult | None, bool]:
    """Poll `read` until the result is final; on a stall (nothing moved for `stall_s`) or at the
    deadline, `stop` the hopper once and read again. Returns (last result or None, stopped)."""
    deadline = clock() + timeout_s
    moved_at, seen, stopped = clock(), None, False
    while True:
        result = read()  # None: the hopper did not answer (e.g. a power cut): keep asking
        if result is not None and not result.in_progress:
            return result, stopped
        now = clock()
        progress = None if result is None else (result.event_counter, result.paid)
        if progress != seen:
            seen, moved_at = progress, now
        if not stopped and (now - moved_at >= stall_s or now >= deadline):
            stop()
            stopped = True
            deadline = max(deadline, now + stall_s)  # time for the stopped hopper to report
        elif stopped and now >= deadline:
            return result, stopped
        sleep(poll_s)
