"""Card payment terminal: Transbank's self-service ("POS Autoservicio") serial protocol.

Frames are STX, ASCII fields separated by "|", ETX and an LRC byte (XOR of everything after
STX up to and including ETX). The receiver answers ACK (0x06) or NAK (0x15, bad LRC); the sender
retries up to three times (a sale only after a NAK: an ACK that is merely late would otherwise
start a second sale). Commands used: 0100 polling, 0200 sale (answer 0210, with 0900
progress messages on the way), 0250 last sale (0260), 1200 cancellation (1210).

The kiosk sends an amount and a reference and gets back approved (authorisation code, last
four digits, brand), declined, cancelled or timed out. The terminal should never hand over a
full card number; in case one does, every field of every answer is masked (`devices.pan`)
before anything reads it, and only the last four digits of the last-4 field are kept (defence in
depth, PCI). When a sale answer never comes, the adapter asks for the last sale before
reporting a timeout, so a sale approved at the terminal is not lost.

Whatever bytes arrive, the parsers here raise only `FrameError` (a bad frame: answered with
NAK) or `DeviceError("transport.garbled")` (a well-framed answer that makes no sense).

URL options: ack_timeout (s, default 2), sale_timeout (s, default 120), baudrate (19200).
Sim faults: result=approved|declined|cancelled|timeout|lost_answer|host_down, brand=VI, last4,
no_ack=1, offline=1.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from .contract import Adapter, CallSoon, Check, DeviceError, State, immediate, log, log_event
from .links import Link, SimLink, link_for_url
from .pan import mask_card_numbers
from .transbank import ACK, ETX, NAK, STX, FrameError, frame, unframe
from .urls import DeviceUrl

ABORT_CHECK_S = 0.2  # how often a waiting sale looks at the citizen's "Cancelar"
RETRIES = 3
MAX_FRAME = 1024
MAX_AMOUNT_DIGITS = 12  # far above any sale; bounds what int() is asked to read

# Response codes of the public Transbank reference that the kiosk must tell apart.
APPROVED = "00"
CANCELLED_CODES = {"07"}  # cancelled at the terminal by the citizen
HOST_DOWN_CODES = {"02", "03", "14"}  # authoriser not answering, connection failed, no line
BRANDS = {"VI": "VISA", "MC": "Mastercard", "AX": "American Express", "DC": "Diners", "RP": "Redcompra",
          "MG": "Magna", "TC": "Tarjeta"}


def parse_answer(raw: bytes) -> list[str]:
    """A terminal answer's fields, every one with card numbers masked: nothing after this sees a PAN."""
    return [mask_card_numbers(field) for field in unframe(raw)]


def parse_amount(text: str) -> int:
    """An amount field: digits only (empty: 0); anything else is a garbled answer."""
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_AMOUNT_DIGITS:
        raise DeviceError("transport.garbled", f"amount field of {len(text)} characters is not a number")
    return int(text)


class Outcome(enum.StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True)
class PaymentResult:
    outcome: Outcome
    reason: str
    amount: int
    reference: str
    authorization_code: str = ""
    masked_card: str = ""
    brand: str = ""
    operation_number: str = ""
    response_code: str = ""

    @property
    def approved(self) -> bool:
        return self.outcome == Outcome.APPROVED

    def is_for(self, reference: str) -> bool:
        """Whether this (last) sale is the one sent with `reference`. The terminal's echo of the
        ticket went through the card-number mask like every field, so a reference whose digits
        pass for a card number comes back masked."""
        return _same_ticket(self.reference, reference)


def _same_ticket(echoed: str, reference: str) -> bool:
    return echoed in (reference, mask_card_numbers(reference))


def _last4(value: str) -> str:
    return "".join(char for char in value if char in "0123456789")[-4:]


def _brand_name(code: str) -> str:
    """A known brand's name; an unknown code keeps its letters only (digits never reach a receipt)."""
    if code in BRANDS:
        return BRANDS[code]
    return "".join(char for char in code if char.isascii() and (char.isalpha() or char == " ")).strip()[:20]


def _padded(fields: list[str], size: int = 17) -> list[str]:
    return [mask_card_numbers(field) for field in fields] + [""] * (size - len(fields))


def result_from_fields(fields: list[str], amount: int, reference: str) -> PaymentResult:
    """0210/0260: code|resp|commerce|terminal|ticket|auth|amount|shares|share amount|last4|operation|
    card type|accounting date|account|brand|date|time|..."""
    padded = _padded(fields)
    response_code, auth, last4, operation = padded[1], padded[5], padded[9], padded[10]
    brand_name = _brand_name(padded[14])
    if response_code == APPROVED:
        outcome, reason_code = Outcome.APPROVED, "ok"
    elif response_code in CANCELLED_CODES:
        outcome, reason_code = Outcome.CANCELLED, "payment.cancelled"
    elif response_code in HOST_DOWN_CODES:
        outcome, reason_code = Outcome.DECLINED, "payment.host_unreachable"
    else:
        outcome, reason_code = Outcome.DECLINED, "payment.declined"
    digits = _last4(last4)
    masked = f"{brand_name} **** {digits}".strip() if digits else ""
    return PaymentResult(outcome, reason_code, amount, reference, auth if outcome == Outcome.APPROVED else "",
                         masked, brand_name, operation, response_code)


def last_sale_from_fields(fields: list[str]) -> PaymentResult:
    """0260: the terminal's last sale, with its own amount and ticket; a non-numeric amount is
    `transport.garbled` (never a ValueError)."""
    padded = _padded(fields)
    return result_from_fields(padded, parse_amount(padded[6]), padded[4])


def cancellation_from_fields(fields: list[str], operation_number: str) -> PaymentResult:
    """1210: code|resp|commerce|terminal|auth|operation."""
    padded = _padded(fields)
    ok = padded[1] == APPROVED
    return PaymentResult(Outcome.CANCELLED if ok else Outcome.ERROR, "ok" if ok else "payment.error", 0,
                         operation_number, padded[4], "", "", operation_number, padded[1])


class PaymentAdapter(Adapter):
    kind = "payment"

    def __init__(self, name: str, driver: str, url: DeviceUrl, call_soon: CallSoon = immediate,
                 link: Link | None = None):
        super().__init__(name, driver, url, call_soon)
        self.ack_timeout = url.float_option("ack_timeout", 2.0)
        self.sale_timeout = url.float_option("sale_timeout", 120.0)
        self.simulator = None
        if link is None and url.is_sim:
            from .sim.transbank import TransbankPeer

            self.simulator = TransbankPeer.from_options(url.options)
            link = SimLink(self.simulator, offline=url.flag("offline"))
        self.link = link or link_for_url(url, default_baudrate=19200)
        self._buffer = bytearray()
        self._abort: threading.Event | None = None  # the waiting sale's "Cancelar" (see sale())
        self._set_capabilities(model="Transbank POS Autoservicio", features=frozenset(
            {"sale", "last_sale", "cancellation", "masked_card_only"}))

    # --- framing over the link ---

    def _byte(self, deadline: float) -> int | None:
        while not self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or (self._abort is not None and self._abort.is_set()):
                return None
            self._buffer.extend(self.link.read(256, min(left, ABORT_CHECK_S)))
        return self._buffer.pop(0)

    def _read_frame(self, deadline: float) -> bytes | None:
        """Skip noise up to STX, then read through ETX and the LRC byte."""
        while True:
            byte = self._byte(deadline)
            if byte is None:
                return None
            if byte == STX:
                break
        raw = bytearray([STX])
        while True:
            byte = self._byte(deadline)
            if byte is None:
                return None
            if byte == STX or len(raw) > MAX_FRAME:
                raw = bytearray([STX])  # a frame cut short by noise: start again at the new STX
                continue
            raw.append(byte)
            if byte == ETX:
                check = self._byte(deadline)
                return None if check is None else bytes(raw) + bytes([check])

    def _send(self, request: bytes, resend_on_silence: bool = True) -> None:
        """Send a frame until the terminal ACKs it: a NAK (it could not read the frame) is resent,
        three tries. Silence is resent only when the ACK is the whole answer (polling): a late ACK
        means a slow terminal has the frame, and a second copy would start a second sale, or
        answer twice (the spare answer then passes for the next request's: a last sale of
        another ticket read as "nothing charged" after "Cancelar"). The caller waits instead."""
        for _attempt in range(RETRIES):
            self.link.write(request)
            deadline = time.monotonic() + self.ack_timeout
            while True:
                byte = self._byte(deadline)
                if byte is None and not resend_on_silence:
                    return
                if byte is None or byte == NAK:
                    break
                if byte == ACK:
                    return
                if byte == STX:
                    # The terminal is already answering, so it has our request even if its ACK was
                    # lost in noise: resending now could start a second sale.
                    self._buffer.insert(0, STX)
                    return
        raise DeviceError("transport.timeout", "no ACK from the terminal")

    def _receive(self, expected: str, timeout_s: float,
                 ours: Callable[[list[str]], bool] = lambda _fields: True) -> list[str] | None:
        """Wait for the `expected` answer that is `ours`, ACKing good frames and NAKing bad ones;
        an answer to an earlier request (a late or resent 0210 of another ticket) is passed over."""
        deadline = time.monotonic() + timeout_s
        while True:
            raw = self._read_frame(deadline)
            if raw is None:
                return None
            try:
                fields = parse_answer(raw)
            except FrameError:
                self.link.write(bytes([NAK]))
                continue
            self.link.write(bytes([ACK]))
            if fields[0] == "0900":
                self._emit("payment.progress", code=fields[1] if len(fields) > 1 else "")
                continue
            if fields[0] == expected and ours(fields):
                return fields
            if fields[0] == expected:
                log_event(log, "payment.stale_answer", level=logging.WARNING, device=self.name, command=expected)

    def _exchange(self, fields: list[str], expected: str | None, timeout_s: float,
                  ours: Callable[[list[str]], bool] = lambda _fields: True) -> list[str] | None:
        self._buffer.clear()
        self.link.reset_input()
        self._send(frame(fields), resend_on_silence=expected is None)
        if expected is None:
            return []
        return self._receive(expected, timeout_s, ours)

    # --- adapter contract ---

    def _open(self) -> None:
        self.link.open()

    def _close(self) -> None:
        self.link.close()

    def _probe(self) -> None:
        if not self.link.present():
            raise DeviceError("transport.no_device", "terminal port is gone")
        self._exchange(["0100"], None, self.ack_timeout)  # polling: an ACK means alive
        self._set_state(State.READY, "ok")

    def _self_test_checks(self) -> list[Check]:
        started = time.monotonic()
        self._probe()
        checks = [Check("polling (0100)", True, f"ACK in {(time.monotonic() - started) * 1000:.0f} ms")]
        last = self._exchange(["0250"], "0260", self.ack_timeout * 3)
        checks.append(Check("last sale (0250)", last is not None, "answered" if last else "no answer"))
        return checks

    # --- payments (blocking, with deadlines; the UI uses Adapter.request) ---

    def sale(self, amount: int, reference: str, abort: threading.Event | None = None) -> PaymentResult:
        """Charge `amount` (terminal currency units) for `reference` (ticket, max 20 chars).

        `abort` is set (any thread, no I/O) when the citizen presses "Cancelar". Set before the
        sale reaches the terminal, nothing is sent; set while it waits, it stops waiting, the
        terminal is asked for its last sale and one it approved meanwhile is cancelled (1200)
        before this returns: `payment.cancelled` when nothing stays charged, else an unknown
        outcome for an attendant. One event per sale, so a press is never lost to a race with
        the sale's start nor carried over to the next sale."""
        if amount <= 0 or not reference or len(reference) > 20 or "|" in reference:
            raise DeviceError("config.invalid", "amount must be positive and reference 1-20 chars without '|'")
        deadline = self.sale_timeout + self.ack_timeout * (RETRIES + 2)
        try:
            result = self.call(lambda: self._sale(amount, reference, abort or threading.Event()), deadline)
        except DeviceError as error:
            self._fail(error)  # the terminal stopped answering or went away: it is offline now
            if error.code != "transport.timeout":
                raise
            result = PaymentResult(Outcome.TIMEOUT, "payment.timeout", amount, reference)
        log_event(log, "payment.result", device=self.name, outcome=str(result.outcome), reason=result.reason,
                  reference=reference, amount=amount)
        if result.outcome != Outcome.APPROVED:
            self._note_error(result.reason)
        self._bump(operations=1)
        return result

    def _sale(self, amount: int, reference: str, abort: threading.Event) -> PaymentResult:
        if abort.is_set():
            return PaymentResult(Outcome.CANCELLED, "payment.cancelled", amount, reference)
        self._set_state(State.BUSY, "busy")
        self._abort = abort
        try:
            fields = self._exchange(["0200", str(amount), reference, "0", "1"], "0210", self.sale_timeout,
                                    ours=lambda answer: _same_ticket(_padded(answer)[4], reference))
        finally:
            self._abort = None
            self._set_state(State.READY, "ok")
        if fields is None and abort.is_set():
            return self._settle_abort(amount, reference)
        if fields is None:
            return self._reconcile(amount, reference)
        return result_from_fields(fields, amount, reference)

    def _settle_abort(self, amount: int, reference: str) -> PaymentResult:
        """Stopped waiting at the citizen's request: nothing may stay charged. The terminal's last
        sale tells whether this one was approved meanwhile; if so it is cancelled (1200). Without
        an answer nobody knows: an unknown outcome (an attendant checks the terminal)."""
        unknown = PaymentResult(Outcome.TIMEOUT, "payment.cancel_unconfirmed", amount, reference)
        # A terminal that has the sale answers it first (one request at a time): its own answer,
        # if it comes within a moment, says what happened to it better than any later question.
        try:
            own = self._receive("0210", self.ack_timeout * 3, ours=lambda answer: _same_ticket(_padded(answer)[4],
                                                                                               reference))
        except DeviceError:
            own = None
        if own is not None:
            sale = result_from_fields(own, amount, reference)
            if sale.outcome != Outcome.APPROVED:
                return PaymentResult(Outcome.CANCELLED, "payment.cancelled", amount, reference)
            return self._cancel_approved(sale.operation_number, amount, reference, unknown)
        try:
            fields = self._exchange(["0250"], "0260", self.ack_timeout * 3)
            last = last_sale_from_fields(fields) if fields is not None else None
        except DeviceError:
            return unknown
        if last is None:
            return unknown
        if not last.is_for(reference) or last.outcome != Outcome.APPROVED:
            return PaymentResult(Outcome.CANCELLED, "payment.cancelled", amount, reference)
        return self._cancel_approved(last.operation_number, amount, reference, unknown)

    def _cancel_approved(self, operation: str, amount: int, reference: str, unknown: PaymentResult) -> PaymentResult:
        """Cancel (1200) a sale the terminal approved after "Cancelar"; unconfirmed: `unknown`."""
        try:
            cancelled = self._exchange(["1200", operation], "1210", self.ack_timeout * 5)
        except DeviceError:
            return unknown
        if cancelled is None or cancellation_from_fields(cancelled, operation).outcome != Outcome.CANCELLED:
            return unknown
        log_event(log, "payment.approved_then_cancelled", device=self.name, reference=reference, amount=amount)
        return PaymentResult(Outcome.CANCELLED, "payment.cancelled", amount, reference)

    def _reconcile(self, amount: int, reference: str) -> PaymentResult:
        """The sale answer never came: did the terminal approve it anyway?"""
        try:
            fields = self._exchange(["0250"], "0260", self.ack_timeout * 3)
        except DeviceError:
            fields = None
        try:
            last = last_sale_from_fields(fields) if fields is not None else None
        except DeviceError:
            last = None  # a garbled last sale proves nothing: an attendant checks the terminal
        if last is not None and last.is_for(reference) and last.amount in (0, amount):
            return replace(last, amount=amount)
        return PaymentResult(Outcome.TIMEOUT, "payment.timeout", amount, reference)

    def last_sale(self) -> PaymentResult | None:
        """The terminal's last sale (None when it answered nothing); a garbled answer raises
        DeviceError("transport.garbled") and leaves the terminal usable."""
        fields = self.call(lambda: self._exchange(["0250"], "0260", self.ack_timeout * 3), self.timeout_s * 4)
        if not fields:
            return None
        try:
            return last_sale_from_fields(fields)
        except DeviceError as error:
            self._note_error(error.code)
            log_event(log, "payment.last_sale_garbled", device=self.name, detail=error.detail)
            raise

    def cancel(self, operation_number: str) -> PaymentResult:
        """Cancellation (anulación) of an approved sale by its operation number."""
        fields = self.call(lambda: self._exchange(["1200", operation_number], "1210", self.ack_timeout * 5),
                           self.timeout_s * 5)
        if fields is None:
            return PaymentResult(Outcome.TIMEOUT, "payment.timeout", 0, operation_number)
        return cancellation_from_fields(fields, operation_number)
