"""A simulated Transbank self-service terminal speaking the serial protocol (see devices/payment.py)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from ..transbank import ACK, ETX, NAK, STX, frame, unframe


class TransbankPeer:
    def __init__(self, result: str = "approved", brand: str = "VI", last4: str = "4242", no_ack: bool = False):
        # approved, declined, cancelled, host_down; timeout: the citizen never presents a card and
        # the sale is never answered; lost_answer: approved, but the answer never reaches the kiosk.
        self.result = result
        self.brand = brand
        self.last4 = last4
        self.no_ack = no_ack
        # A misbehaving terminal: field index -> text put into the sale answer (and so into the
        # last-sale answer), e.g. {5: "4111111111111111"} or {6: "12.50"}.
        self.overrides: dict[int, str] = {}
        self.requests: list[list[str]] = []
        self.naks_received = 0
        self._buffer = bytearray()
        self._last_answer = b""
        self._last_sale: list[str] | None = None
        self._operation = 100
        self.charged = 0  # the terminal's own tally, in the sale's amount units: approved minus cancelled
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> TransbankPeer:
        return cls(result=options.get("result", "approved"), brand=options.get("brand", "VI"),
                   last4=options.get("last4", "4242"), no_ack=options.get("no_ack") in ("1", "true"))

    def feed(self, data: bytes) -> bytes:
        with self._lock:
            self._buffer.extend(data)
            out = bytearray()
            while self._buffer:
                first = self._buffer[0]
                if first == ACK:
                    del self._buffer[0]
                    continue
                if first == NAK:
                    del self._buffer[0]
                    self.naks_received += 1
                    out.extend(self._last_answer)  # the host could not read our answer: resend it
                    continue
                if first != STX:
                    del self._buffer[0]  # line noise
                    continue
                end = self._buffer.find(bytes([ETX]))
                if end < 0 or end + 1 >= len(self._buffer):
                    break  # frame not complete yet
                raw = bytes(self._buffer[: end + 2])
                del self._buffer[: end + 2]
                out.extend(self._on_frame(raw))
            return bytes(out)

    def _on_frame(self, raw: bytes) -> bytes:
        try:
            fields = unframe(raw)
        except ValueError:
            return bytes([NAK])
        if self.no_ack:
            return b""
        self.requests.append(fields)
        answer = self._answer(fields)
        final = answer[answer.rfind(bytes([STX])):] if answer else b""
        self._last_answer = final  # what a NAK from the host asks for again
        return bytes([ACK]) + answer

    def _answer(self, fields: list[str]) -> bytes:
        command, *arguments = fields
        arguments += [""] * 2  # a request short of fields reads as empty ones, as a terminal would
        if command == "0200":
            return self._sale(arguments[0], arguments[1])
        if command == "0250":
            return frame(["0260", *(self._last_sale or ["11"])[1:]])
        if command == "1200":
            ok = self._last_sale is not None and self._last_sale[10] == arguments[0]
            if ok and self._last_sale is not None and self._last_sale[1] == "00":
                self.charged -= _amount(self._last_sale[6])
                self._last_sale[1] = "07"  # cancelled: a second 1200 finds nothing to cancel
            return frame(["1210", "00" if ok else "05", "597012345678", "TERM0001", "A1B2C3" if ok else "",
                          arguments[0]])
        return b""  # 0100 polling: the ACK is the answer

    def _sale(self, amount: str, ticket: str) -> bytes:
        code = {"approved": "00", "declined": "01", "cancelled": "07", "host_down": "02"}.get(self.result, "00")
        progress = frame(["0900", "80"]) + frame(["0900", "82"])  # "insert card", "processing"
        if self.result == "timeout":
            return progress
        self._operation += 1
        answer = ["0210", code, "597012345678", "TERM0001", ticket, "A1B2C3" if code == "00" else "", amount,
                  "0", "0", self.last4, str(self._operation), "CR", "211126", "", self.brand, "21112026", "103000"]
        for index, text in self.overrides.items():
            answer[index] = text
        self._last_sale = answer
        if code == "00":
            self.charged += _amount(amount)
        if self.result == "lost_answer":
            return progress
        return progress + frame(answer)


def _amount(text: str) -> int:
    """A sale's amount as the tally counts it (a request garbled past the framing counts 0)."""
    return int(text) if text.isascii() and text.isdigit() else 0
