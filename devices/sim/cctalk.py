"""Simulated ccTalk bus: a coin acceptor (address 2), a bill validator (40) and optionally a
payout hopper (3). Silent on bad checksums and unknown addresses, as real devices are.

Test controls: insert_coin(position), insert_bill(type), jam(), and the inhibit masks the host
set. Faults as sim:// options: jam=1, hopper=3, hopper_level=low|ok, echo=1, offline=1.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

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

    def answer(self, header: int, data: bytes) -> bytes | None:
        if header == cc.H_READ_BUFFERED_BILL_EVENTS:
            return self.buffer()
        if header == cc.H_REQUEST_BILL_ID and data:
            kind = data[0]
            return (MXN_BILLS[kind - 1] if kind <= len(MXN_BILLS) else ".......").encode()
        if header == cc.H_ROUTE_BILL:
            return b""
        return super().answer(header, data)

    def insert(self, kind: int) -> bool:
        """A note offered; True when the validator stacked it."""
        enabled = bool(self.master_enabled and self.inhibit_mask & (1 << (kind - 1)))
        if enabled:
            self.push(kind, 0)  # 0: stacked (a credit)
            self.accepted.append(kind)
        else:
            self.push(0, 4)  # error 4: inhibited
            self.refused += 1
        return enabled

    def jam(self) -> None:
        self.push(0, 7)  # bill jammed in stacker


class SimHopper(_Device):
    category = "Payout"
    product = "SIMHOPPER"

    def __init__(self, address: int, level: str = "ok"):
        super().__init__(address)
        self.level = level

    def answer(self, header: int, data: bytes) -> bytes | None:
        if header == cc.H_PAYOUT_STATUS:
            return bytes([0x01 if self.level in ("low", "empty") else 0x00])  # bit 0: below low-level sensor
        return super().answer(header, data)


class CcTalkBus:
    def __init__(self, jam: bool = False, hopper: int | None = None, hopper_level: str = "ok", echo: bool = False):
        self.coins = SimCoinAcceptor(cc.COIN_ACCEPTOR)
        self.bills = SimBillValidator(cc.BILL_VALIDATOR)
        self.devices: dict[int, _Device] = {cc.COIN_ACCEPTOR: self.coins, cc.BILL_VALIDATOR: self.bills}
        if hopper:
            self.devices[hopper] = SimHopper(hopper, hopper_level)
        self.echo = echo
        self.bad_checksums = 0
        self._buffer = bytearray()
        self._lock = threading.Lock()
        if jam:
            self.bills.jam()

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> CcTalkBus:
        hopper = options.get("hopper")
        return cls(jam=options.get("jam") in ("1", "true"), hopper=int(hopper) if hopper else None,
                   hopper_level=options.get("hopper_level", "ok"), echo=options.get("echo") in ("1", "true"))

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
        if device is None:
            return echo
        data = device.answer(raw[3], raw[4:-1])
        if data is None:
            return echo + cc.Message(cc.HOST, device.address, cc.H_NAK, b"").encode()
        return echo + cc.Message(cc.HOST, device.address, cc.H_ACK, data).encode()
