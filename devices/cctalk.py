"""ccTalk framing (public generic specification, 8-bit checksum variant).

A message is: destination, data length, source, header, data..., checksum; all bytes sum to 0
modulo 256. The bus is a single wire, so on real hardware the host reads its own message back
(the echo) before the answer; over a pty there is no echo. Both are handled.
"""

from __future__ import annotations

from dataclasses import dataclass

HOST = 1
COIN_ACCEPTOR = 2
HOPPER = 3
BILL_VALIDATOR = 40

H_ACK = 0
H_NAK = 5
H_BUSY = 6
H_SIMPLE_POLL = 254
H_EQUIPMENT_CATEGORY = 245
H_MANUFACTURER = 246
H_PRODUCT_CODE = 244
H_SERIAL_NUMBER = 242
H_SOFTWARE_REVISION = 241
H_READ_BUFFERED_CREDIT = 229
H_READ_BUFFERED_BILL_EVENTS = 159
H_MODIFY_INHIBIT = 231
H_REQUEST_INHIBIT = 230
H_MODIFY_MASTER_INHIBIT = 228
H_REQUEST_COIN_ID = 184
H_REQUEST_BILL_ID = 157
H_ROUTE_BILL = 154
H_PAYOUT_STATUS = 217  # request payout high / low status (hoppers)


@dataclass(frozen=True)
class Message:
    destination: int
    source: int
    header: int
    data: bytes

    def encode(self) -> bytes:
        body = bytes([self.destination, len(self.data), self.source, self.header]) + self.data
        return body + bytes([(-sum(body)) % 256])


def find_message(buffer: bytes, destination: int) -> tuple[Message | None, int]:
    """The first valid message to `destination` in `buffer` and the bytes it ends at.

    Noise and messages with bad checksums are skipped by sliding one byte at a time, which is
    how a host resynchronises on a ccTalk bus. (None, 0) means "need more bytes".
    """
    for start in range(len(buffer)):
        if len(buffer) - start < 5:
            break
        size = 5 + buffer[start + 1]
        end = start + size
        if end > len(buffer):
            continue
        if buffer[start] == destination and sum(buffer[start:end]) % 256 == 0:
            chunk = buffer[start:end]
            return Message(chunk[0], chunk[2], chunk[3], bytes(chunk[4:-1])), end
    return None, 0


_MULTIPLIERS = {"K": 3, "M": 6}  # the letter's power of ten; its position is the decimal point


def value_code(code: str) -> int | None:
    """A ccTalk value code in minor units: '100' -> 100, '1K0' -> 1000, '2K5' -> 2500, 'K50' -> 500.

    None for anything else ('..', '2KX', '-10', ' 1 '...): exact integer arithmetic, never an
    exception, because these codes come from the device.
    """
    if len(code) != 3 or not code.isascii():
        return None
    letters = [char for char in code if not char.isdigit()]
    if not letters:
        return int(code)
    if len(letters) != 1 or letters[0] not in _MULTIPLIERS:
        return None
    whole, _, fraction = code.partition(letters[0])
    exponent = _MULTIPLIERS[letters[0]]
    return int(whole or "0") * 10**exponent + int(fraction or "0") * 10 ** (exponent - len(fraction))


def coin_value_cents(coin_id: str) -> int | None:
    """'MX100A' -> 100 (1 peso), 'MX1K0A' -> 1000 (10 pesos); None for an empty or unknown position
    (the kiosk then simply does not accept that coin)."""
    value = value_code(coin_id[2:5]) if len(coin_id) >= 5 else None
    return value or None


def bill_value_cents(bill_id: str) -> int | None:
    """'MX0020A' -> 2000 (20 pesos); None for an empty or unknown position."""
    digits = bill_id[2:6] if len(bill_id) >= 6 else ""
    if not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits) * 100 or None


# ---- payout hoppers and bill escrow (devices/hopper.py, devices/cash.py) ----

H_REQUEST_PAYOUT_ABSOLUTE_COUNT = 207  # coins in the hopper, for hoppers that keep a count
H_EMERGENCY_STOP = 172  # -> [payout coins remaining], which will not be paid
H_REQUEST_HOPPER_COIN = 171  # -> the coin name it pays, e.g. MX1K0A
H_REQUEST_HOPPER_DISPENSE_COUNT = 168  # -> 24-bit count of coins ever dispensed, LSB first
H_DISPENSE_HOPPER_COINS = 167  # [security bytes] [coins] -> [event counter] (post-increment) or ACK
H_REQUEST_HOPPER_STATUS = 166  # -> [event counter] [remaining] [last paid] [last unpaid]
H_ENABLE_HOPPER = 164  # [165] enables payout, anything else disables it
H_TEST_HOPPER = 163  # -> one to three flag registers
H_MODIFY_BILL_OPERATING_MODE = 153  # [mask]: bit 0 use the stacker, bit 1 use the escrow
H_REQUEST_BILL_OPERATING_MODE = 152
HOPPER_ENABLE_CODE = 165
ROUTE_RETURN = 0  # header 154 route codes
ROUTE_STACK = 1
ROUTE_EXTEND_ESCROW = 255
ROUTE_ERROR_ESCROW_EMPTY = 254  # header 154 error answers
ROUTE_ERROR_FAILED = 255
BILL_MODE_STACKER = 0x01
BILL_MODE_ESCROW = 0x02
BILL_HELD_IN_ESCROW = 1  # result B of a bill event with a bill type: held, waiting for route bill
BILL_RETURNED_FROM_ESCROW = 1  # result B of a bill event with result A 0: handed back
