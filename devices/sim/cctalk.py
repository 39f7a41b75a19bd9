"""Simulated ccTalk bus: a coin acceptor (address 2), a bill validator (40) and optionally payout
hoppers (e.g. 3). Silent on bad checksums and unknown addresses, as real devices are.

The bill validator holds bills in escrow when the host turned escrow on (153) and stacks or
returns them on route bill (154). A hopper pays over time at its rate (so status polls see the
coins go), keeps its own event counter, paid / unpaid and non-volatile dispense count, and can run
empty, jam or lose power in the middle of a payout; it times out a payout that stopped moving, as
real hoppers do, and reports the conditions through test hopper (163).

Test controls: insert_coin(position), insert_bill(type), jam(), the inhibit masks the host set,
and hopper(address) with .jam_after, .power_cut_after, .cut_power(), .clear_jam(), .inventory,
.flags (changed through control(fn) once the bus is serving). Tallies: coins.accepted,
bills.accepted / .returned / .refused, hopper_tally() (coins paid, inventory, power cuts,
dispenses accepted).
Faults as sim:// options: jam=1, echo=1, offline=1, hopper=3 (or 3,4), hopper_coin=10 (pesos, or a
list), hopper_coins=100 (inventory, or a list), hopper_rate=8 (coins per second),
hopper_level=low|empty|ok, hopper_counts=1|0 (answers 207 with its inventory), hopper_timeout_s=1,
hopper_jam_after=N, hopper_power_cut_after=N (coins into the next payout), hopper_off_s=0.5.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from .. import cctalk as cc

MXN_COINS = ["MX050A", "MX100A", "MX200A", "MX500A", "MX1K0A", "MX2K0A"]  # 50c, $1, $2, $5, $10, $20
MXN_BILLS = ["MX0020A", "MX0050A", "MX0100A", "MX0200A", "MX0500A"]


class _Device:
    category = ""
    product = ""

    def __init__(self, address: int):
        self.address = address
        self.inhibit_mask = 0  # bit n-1 set: position n enabled
        self.master_enabled = False
        self.counter = 0
        self.events: list[tuple[int, int]] = []  # newest first, at most 5 kept
        self.accepted: list[int] = []  # the device's own tally: positions/types it took, in order
        self.refused = 0  # offered while inhibited: handed back, never taken

    def push(self, a: int, b: int) -> None:
        self.counter = self.counter % 255 + 1  # 1..255, 0 only after reset
        self.events = [(a, b), *self.events][:5]

    def buffer(self) -> bytes:
        pairs = self.events + [(0, 0)] * (5 - len(self.events))
        return bytes([self.counter]) + bytes(value for pair in pairs for value in pair)

    def answer(self, header: int, data: bytes) -> bytes | None:
        common = {
            cc.H_SIMPLE_POLL: b"", cc.H_EQUIPMENT_CATEGORY: self.category.encode(),
            cc.H_MANUFACTURER: b"SIM", cc.H_PRODUCT_CODE: self.product.encode(),
            cc.H_SOFTWARE_REVISION: b"1.4.2", cc.H_SERIAL_NUMBER: bytes([0x39, 0x30, 0x00]),
        }
        if header in common:
            return common[header]
        if header == cc.H_MODIFY_INHIBIT and len(data) >= 2:
            self.inhibit_mask = data[0] | (data[1] << 8)
            return b""
        if header == cc.H_REQUEST_INHIBIT:
            return bytes([self.inhibit_mask & 0xFF, self.inhibit_mask >> 8])
        if header == cc.H_MODIFY_MASTER_INHIBIT and data:
            self.master_enabled = bool(data[0] & 1)
            return b""
        return None


class SimCoinAcceptor(_Device):
    category = "Coin Acceptor"
    product = "SIMCOIN-MX"

    def answer(self, header: int, data: bytes) -> bytes | None:
        if header == cc.H_READ_BUFFERED_CREDIT:
            return self.buffer()
        if header == cc.H_REQUEST_COIN_ID and data:
            position = data[0]
            return (MXN_COINS[position - 1] if position <= len(MXN_COINS) else "......").encode()
        return super().answer(header, data)

    def insert(self, position: int) -> bool:
        """A coin offered at the slot; True when the acceptor took it."""
        enabled = bool(self.master_enabled and self.inhibit_mask & (1 << (position - 1)))
        if enabled:
            self.push(position, 1)
            self.accepted.append(position)
        else:
            self.push(0, 2)  # error 2: inhibited coin
            self.refused += 1
        return enabled


class SimBillValidator(_Device):
    category = "Bill Validator"
    product = "SIMBILL-MX"

    def __init__(self, address: int):
        super().__init__(address)
        self.mode = cc.BILL_MODE_STACKER
        self.escrow: int | None = None  # the bill type held, waiting for route bill
        self.returned: list[int] = []  # bill types handed back from escrow, never taken

    def answer(self, header: int, data: bytes) -> bytes | None:
        if header == cc.H_READ_BUFFERED_BILL_EVENTS:
            return self.buffer()
        if header == cc.H_REQUEST_BILL_ID and data:
            kind = data[0]
            return (MXN_BILLS[kind - 1] if kind <= len(MXN_BILLS) else ".......").encode()
        if header == cc.H_MODIFY_BILL_OPERATING_MODE and data:
            self.mode = data[0]
            return b""
        if header == cc.H_REQUEST_BILL_OPERATING_MODE:
            return bytes([self.mode])
        if header == cc.H_ROUTE_BILL and data:
            return self.route(data[0])
        return super().answer(header, data)

    def route(self, code: int) -> bytes:
        if self.escrow is None:
            return bytes([cc.ROUTE_ERROR_ESCROW_EMPTY])
        if code == cc.ROUTE_STACK:
            self.push(self.escrow, 0)  # stacked: the credit
            self.accepted.append(self.escrow)
        elif code == cc.ROUTE_RETURN:
            self.push(0, cc.BILL_RETURNED_FROM_ESCROW)
            self.returned.append(self.escrow)
        else:
            return b""  # 255: the escrow timeout is extended
        self.escrow = None
        return b""

    def insert(self, kind: int) -> bool:
        """A note offered; True when the validator took it in (stacked, or held in escrow)."""
        enabled = bool(self.master_enabled and self.inhibit_mask & (1 << (kind - 1)))
        if enabled and self.escrow is not None:
            enabled = False  # the slot is blocked while a bill waits in escrow
            self.refused += 1
        elif enabled and self.mode & cc.BILL_MODE_ESCROW:
            self.escrow = kind
            self.push(kind, cc.BILL_HELD_IN_ESCROW)
        elif enabled:
            self.push(kind, 0)  # 0: stacked (a credit)
            self.accepted.append(kind)
        else:
            self.push(0, 4)  # error 4: inhibited
            self.refused += 1
        return enabled

    def jam(self) -> None:
        self.push(0, 7)  # bill jammed in stacker


class SimHopper(_Device):
    """A hopper paying `rate` coins per second from `inventory`, advanced lazily on each request."""

    category = "Payout"
    product = "SIMHOPPER"

    def __init__(self, address: int, coin_cents: int = 1000, inventory: int = 100, rate: float = 8.0,
                 counts: bool = True, timeout_s: float = 1.0, off_s: float = 0.5, low_at: int = 20,
                 high_at: int = 400, clock: Callable[[], float] = time.monotonic):
        super().__init__(address)
        self.coin_cents, self.inventory, self.rate, self.counts = coin_cents, inventory, rate, counts
        self.timeout_s, self.off_s, self.low_at, self.high_at, self.clock = timeout_s, off_s, low_at, high_at, clock
        self.serial = bytes([0x39, 0x30, 0x00])
        self.enabled = False
        self.event_counter = 0
        self.remaining = 0
        self.last_paid = 0
        self.last_unpaid = 0
        self.dispense_count = 0  # non-volatile: survives power cuts
        self.paid_total = 0  # the simulator's own tally: coins that physically left the hopper
        self.dispenses = 0  # dispense commands it accepted (never reset)
        self.flags = [0, 0, 0]
        self.jammed = False
        self.jam_after: int | None = None  # coins into the next payout
        self.power_cut_after: int | None = None
        self.off_until = 0.0
        self.cuts = 0
        self._next_coin_at = 0.0
        self._stalled_at: float | None = None

    @property
    def level(self) -> str:
        return "empty" if not self.inventory else "low" if self.inventory < self.low_at else "ok"

    @level.setter
    def level(self, value: str) -> None:  # the sim option and the older test control
        self.inventory = {"empty": 0, "low": min(self.inventory, self.low_at - 1)}.get(
            value, max(self.inventory, self.low_at))

    def silent(self) -> bool:
        self.advance()
        return self.clock() < self.off_until

    def answer(self, header: int, data: bytes) -> bytes | None:
        self.advance()
        handler = self._handlers().get(header)
        if handler is not None:
            return handler(data)
        if header == cc.H_SERIAL_NUMBER:
            return self.serial
        return super().answer(header, data)

    def _handlers(self) -> dict[int, Callable[[bytes], bytes | None]]:
        return {
            cc.H_PAYOUT_STATUS: lambda _: bytes([0x30 | (self.inventory < self.low_at)
                                                 | (self.inventory >= self.high_at) << 1]),
            cc.H_REQUEST_PAYOUT_ABSOLUTE_COUNT: lambda _: self.inventory.to_bytes(2, "little") if self.counts else None,
            cc.H_REQUEST_HOPPER_COIN: lambda _: _coin_name(self.coin_cents).encode(),
            cc.H_REQUEST_HOPPER_DISPENSE_COUNT: lambda _: self.dispense_count.to_bytes(3, "little"),
            cc.H_REQUEST_HOPPER_STATUS: lambda _: bytes([self.event_counter, self.remaining, self.last_paid,
                                                         self.last_unpaid]),
            cc.H_ENABLE_HOPPER: self._enable,
            cc.H_DISPENSE_HOPPER_COINS: self._dispense,
            cc.H_EMERGENCY_STOP: lambda _: bytes([self._end_payout()]),
            cc.H_TEST_HOPPER: lambda _: bytes(self.flags),
        }

    def _enable(self, data: bytes) -> bytes:
        self.enabled = data[:1] == bytes([cc.HOPPER_ENABLE_CODE])
        return b""

    def _dispense(self, data: bytes) -> bytes | None:
        if len(data) != 4 or data[:3] != self.serial or not data[3] or not self.enabled or self.remaining:
            return None  # NAK: wrong security bytes, nothing asked, disabled or busy
        self.event_counter = self.event_counter % 255 + 1
        self.dispenses += 1
        self.remaining, self.last_paid, self.last_unpaid = data[3], 0, 0
        self.flags = [0, 0, 0] if not self.jammed else self.flags
        self._next_coin_at = self.clock() + 1 / self.rate
        self._stalled_at = self.clock() if self.jammed else None
        return bytes([self.event_counter])

    def advance(self) -> None:
        """Pay the coins due by now; stall on a jam or an empty bowl, then time out like a real one."""
        now = self.clock()
        while self.remaining:
            if self._stalled_at is not None:
                if now >= self._stalled_at + self.timeout_s:
                    self.flags[0] |= 0x02  # payout timeout
                    self._end_payout()
                return
            if now < self._next_coin_at:
                return
            self._next_coin(self._next_coin_at)

    def _next_coin(self, at: float) -> None:
        if self.power_cut_after is not None and self.last_paid >= self.power_cut_after:
            self.power_cut_after = None
            self.cut_power(at)
        elif self.jam_after is not None and self.last_paid >= self.jam_after:
            self.jam_after = None
            self.jammed = True
            self.flags[0] |= 0x01 | 0x04  # motor over-current, reversed to clear the jam
            self._stalled_at = at
        elif not self.inventory:
            self._stalled_at = at  # the motor turns, no coin comes: it will time out
        else:
            self.inventory -= 1
            self.remaining -= 1
            self.last_paid += 1
            self.dispense_count = (self.dispense_count + 1) % (1 << 24)
            self.paid_total += 1
            self._next_coin_at = at + 1 / self.rate

    def _end_payout(self) -> int:
        unpaid = self.remaining
        self.last_unpaid, self.remaining, self._stalled_at = unpaid, 0, None
        return unpaid

    def cut_power(self, at: float | None = None) -> None:
        """Power lost: the payout stops where it is, counters restart at 0, silent for off_s."""
        at = self.clock() if at is None else at
        paying = bool(self.remaining)
        self.off_until = at + self.off_s
        self.event_counter = self.remaining = self.last_paid = self.last_unpaid = 0
        self.enabled, self._stalled_at = False, None
        self.flags = [0x40, 0, 0x01 if paying else 0]  # power-up detected; power-down during payout
        self.cuts += 1

    def clear_jam(self) -> None:
        self.jammed = False
        self.flags = [0, 0, 0]


def _coin_name(cents: int) -> str:
    for name in MXN_COINS:
        if cc.coin_value_cents(name) == cents:
            return name
    return "......"


class CcTalkBus:
    def __init__(self, jam: bool = False, hopper: int | Sequence[int] | None = None, hopper_level: str = "ok",
                 echo: bool = False, hoppers: Sequence[SimHopper] = ()):
        self.coins = SimCoinAcceptor(cc.COIN_ACCEPTOR)
        self.bills = SimBillValidator(cc.BILL_VALIDATOR)
        self.devices: dict[int, _Device] = {cc.COIN_ACCEPTOR: self.coins, cc.BILL_VALIDATOR: self.bills}
        addresses = [hopper] if isinstance(hopper, int) else list(hopper or ())
        self.hoppers: dict[int, SimHopper] = {h.address: h for h in hoppers}
        for address in addresses:
            self.hoppers.setdefault(address, SimHopper(address))
        for unit in self.hoppers.values():
            if hopper_level != "ok":
                unit.level = hopper_level
            self.devices[unit.address] = unit
        self.echo = echo
        self.bad_checksums = 0
        self._buffer = bytearray()
        self._lock = threading.Lock()
        if jam:
            self.bills.jam()

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> CcTalkBus:
        def values(key: str, default: str) -> list[str]:
            return [part for part in options.get(key, default).split(",") if part.strip()]

        addresses = [int(value, 0) for value in values("hopper", "")]
        hoppers = []
        for index, address in enumerate(addresses):
            def nth(key: str, default: str, i: int = index) -> str:
                found = values(key, default) or [default]
                return found[i] if i < len(found) else found[-1]

            rate = float(options.get("hopper_rate", "8"))
            if not 0 < rate < 1000:
                raise ValueError(f"hopper_rate={rate}: coins per second, more than 0 and less than 1000")
            unit = SimHopper(address, round(float(nth("hopper_coin", "10")) * 100), int(nth("hopper_coins", "100")),
                             rate, options.get("hopper_counts", "1") != "0",
                             float(options.get("hopper_timeout_s", "1")), float(options.get("hopper_off_s", "0.5")))
            if options.get("hopper_level", "ok") != "ok":
                unit.level = options["hopper_level"]
            unit.jam_after = int(options["hopper_jam_after"]) if "hopper_jam_after" in options else None
            unit.power_cut_after = (int(options["hopper_power_cut_after"]) if "hopper_power_cut_after" in options
                                    else None)
            hoppers.append(unit)
        return cls(jam=options.get("jam") in ("1", "true"), echo=options.get("echo") in ("1", "true"),
                   hoppers=hoppers)

    def hopper(self, address: int | None = None) -> SimHopper:
        """The simulated hopper (the first one by default); change it through `control`."""
        return self.hoppers[address] if address is not None else next(iter(self.hoppers.values()))

    def control(self, fn: Callable[[], object]) -> object:
        """Run a test control under the bus lock (the bus answers the host on another thread)."""
        with self._lock:
            for unit in self.hoppers.values():
                unit.advance()
            return fn()

    def hopper_tally(self, address: int | None = None) -> dict[str, int]:
        """The hopper's own tally now: coins that left it, coins left in it, power cuts, its event
        counter and the dispense commands it accepted."""
        unit = self.hopper(address)
        tally: dict[str, int] = {}
        self.control(lambda: tally.update(paid=unit.paid_total, inventory=unit.inventory, cuts=unit.cuts,
                                          counter=unit.event_counter, dispenses=unit.dispenses))
        return tally

    def insert_coin(self, position: int) -> bool:
        with self._lock:
            return self.coins.insert(position)

    def insert_bill(self, kind: int) -> bool:
        with self._lock:
            return self.bills.insert(kind)

    def accepted_cents(self) -> int:
        """What the simulated devices took so far, by their own tally."""
        with self._lock:
            coins = sum(cc.coin_value_cents(MXN_COINS[p - 1]) or 0 for p in self.coins.accepted)
            bills = sum(cc.bill_value_cents(MXN_BILLS[k - 1]) or 0 for k in self.bills.accepted)
        return coins + bills

    def jam(self) -> None:
        with self._lock:
            self.bills.jam()

    def feed(self, data: bytes) -> bytes:
        with self._lock:
            self._buffer.extend(data)
            out = bytearray()
            while len(self._buffer) >= 5:
                size = 5 + self._buffer[1]
                if len(self._buffer) < size:
                    break
                raw = bytes(self._buffer[:size])
                if sum(raw) % 256 != 0:
                    self.bad_checksums += 1
                    self._buffer.clear()  # a garbled message: stay silent, the host retries
                    break
                del self._buffer[:size]
                out.extend(self._reply(raw))
            return bytes(out)

    def _reply(self, raw: bytes) -> bytes:
        device = self.devices.get(raw[0])
        echo = raw if self.echo else b""
        if device is None or (isinstance(device, SimHopper) and device.silent()):
            return echo  # not there, or a hopper without power
        data = device.answer(raw[3], raw[4:-1])
        if data is None:
            return echo + cc.Message(cc.HOST, device.address, cc.H_NAK, b"").encode()
        return echo + cc.Message(cc.HOST, device.address, cc.H_ACK, data).encode()
