"""A simulated ESC/POS receipt printer: answers DLE EOT like an Epson, decodes what it prints.

Faults can be set at creation (sim:// query options) or changed while running, as a
technician would: `paper` ("ok", "low", "out"), `cover_open`, `mute` (never answers status),
`cutter_error`, `paper_out_after` (paper runs out after that many printed lines).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from ..escpos_decode import Decoded, EscPosDecoder

PRINTER_INFO = {65: "1.02 ESC/POS", 67: "SIM-T20", 68: "SIM0001234"}  # GS I: firmware, model, serial


class SimPrinter:
    def __init__(self, paper: str = "ok", cover_open: bool = False, mute: bool = False,
                 cutter_error: bool = False, paper_out_after: int | None = None):
        self.paper = paper
        self.cover_open = cover_open
        self.mute = mute
        self.cutter_error = cutter_error
        self.paper_out_after = paper_out_after
        self._lock = threading.Lock()
        self._decoder = EscPosDecoder()
        self._decoder.on_status_request = self._on_status
        self._answer = bytearray()
        self.received = bytearray()

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> SimPrinter:
        after = options.get("paper_out_after")
        return cls(
            paper=options.get("paper", "ok"),
            cover_open=options.get("cover") == "open",
            mute=options.get("mute") in ("1", "true"),
            cutter_error=options.get("cutter") == "error",
            paper_out_after=int(after) if after else None,
        )

    def feed(self, data: bytes) -> bytes:
        with self._lock:
            self.received.extend(data)
            self._decoder.feed(data)
            if self.paper_out_after is not None and self._printed_lines() >= self.paper_out_after:
                self.paper = "out"
            answer, self._answer = bytes(self._answer), bytearray()
            return answer

    def forget_output(self) -> None:
        """Start a fresh record of what was printed (e.g. after loading a new roll)."""
        with self._lock:
            self.received.clear()
            self._decoder = EscPosDecoder()
            self._decoder.on_status_request = self._on_status

    def decoded(self) -> Decoded:
        with self._lock:
            return self._decoder.result

    def _printed_lines(self) -> int:
        return len(self._decoder.result.lines)

    def _on_status(self, kind: str, n: int) -> None:
        if self.mute:
            return
        if kind == "DLE EOT":
            self._answer.append(self.status_byte(n))
        elif kind == "GS I" and n in PRINTER_INFO:
            self._answer.extend(b"_" + PRINTER_INFO[n].encode() + b"\x00")

    def status_byte(self, n: int) -> int:
        out = self.paper == "out"
        offline = out or self.cover_open or self.cutter_error
        if n == 1:
            return 0x12 | (0x08 if offline else 0)
        if n == 2:
            return 0x12 | (0x04 if self.cover_open else 0) | (0x20 if out else 0) | (0x40 if self.cutter_error else 0)
        if n == 3:
            return 0x12 | (0x08 if self.cutter_error else 0)
        if n == 4:
            return 0x12 | (0x0C if self.paper == "low" else 0) | (0x60 if out else 0)
        return 0x12
