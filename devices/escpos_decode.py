"""A small incremental ESC/POS decoder: bytes in, text lines, code pages, QR codes, cuts out.

It understands what our renderer (python-escpos) emits and the real-time status requests, so it
serves three purposes: the simulated printer uses it to answer DLE EOT like a printer and to
know what it "printed"; the tests use it to check what arrived on the wire; and the technician
self-test can show the test page as text. Commands it does not know are listed in `unknown`
(a test asserts that list is empty), never skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C
CODE_PAGES = {0: "cp437", 2: "cp850", 16: "cp1252", 19: "cp858"}

# Commands followed by a fixed number of argument bytes.
_ESC_FIXED = {
    ord("@"): 0, ord("!"): 1, ord("E"): 1, ord("-"): 1, ord("M"): 1, ord("a"): 1, ord("{"): 1,
    ord("d"): 1, ord("J"): 1, ord("2"): 0, ord("3"): 1, ord("t"): 1, ord("p"): 3, ord("G"): 1,
    ord("V"): 1, ord("r"): 1, ord("R"): 1, ord("c"): 2,
}
_GS_FIXED = {ord("!"): 1, ord("B"): 1, ord("b"): 1, ord("r"): 1, ord("I"): 1, ord("a"): 1,
             ord("L"): 2, ord("W"): 2, ord("h"): 1, ord("w"): 1, ord("H"): 1, ord("f"): 1}


@dataclass
class Decoded:
    lines: list[str] = field(default_factory=list)
    code_pages: list[str] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)
    images: list[tuple[int, int]] = field(default_factory=list)  # (width_px, height_px) of rasters
    cuts: int = 0
    status_requests: list[tuple[str, int]] = field(default_factory=list)  # ("DLE EOT", n) / ("GS r", n)
    unknown: list[str] = field(default_factory=list)
    inits: int = 0


class EscPosDecoder:
    """Feed bytes in any chunking; complete commands are decoded, partial ones wait."""

    def __init__(self) -> None:
        self.result = Decoded()
        self._pending = bytearray()
        self._line = bytearray()
        self._code_page = "cp437"
        self._qr_store = b""
        self.on_status_request: Callable[[str, int], None] | None = None  # set by the simulator

    def feed(self, data: bytes) -> None:
        self._pending.extend(data)
        buffer = memoryview(bytes(self._pending))  # sliced without copying: linear in the input
        offset = 0
        while offset < len(buffer):
            used = self._step(buffer[offset:])
            if used == 0:
                break  # incomplete command: wait for more bytes
            offset += used
        del self._pending[:offset]

    def finish(self) -> Decoded:
        if self._line:
            self._flush_line()
        return self.result

    # one command or one text byte; returns bytes consumed, 0 if incomplete
    def _step(self, buf: memoryview) -> int:
        first = buf[0]
        if first == 0x0A:
            self._flush_line()
            return 1
        if first in (0x0D, 0x09):
            return 1
        if first == DLE:
            return self._dle(buf)
        if first == ESC:
            return self._esc(buf)
        if first == GS:
            return self._gs(buf)
        if first < 0x20:
            self.result.unknown.append(f"control 0x{first:02x}")
            return 1
        self._line.append(first)
        return 1

    def _dle(self, buf: memoryview) -> int:
        if len(buf) < 3:
            return 0
        if buf[1] == 0x04:
            self._status("DLE EOT", buf[2])
            return 3
        self.result.unknown.append(f"DLE 0x{buf[1]:02x}")
        return 2

    def _esc(self, buf: memoryview) -> int:
        if len(buf) < 2:
            return 0
        command = buf[1]
        size = _ESC_FIXED.get(command)
        if size is None:
            self.result.unknown.append(f"ESC 0x{command:02x}")
            return 2
        if len(buf) < 2 + size:
            return 0
        if command == ord("@"):
            self.result.inits += 1
        elif command == ord("t"):
            self._code_page = CODE_PAGES.get(buf[2], f"unknown-{buf[2]}")
            self.result.code_pages.append(self._code_page)
        return 2 + size

    def _gs(self, buf: memoryview) -> int:
        if len(buf) < 2:
            return 0
        command = buf[1]
        if command == ord("V"):
            return self._cut(buf)
        if command == ord("("):
            return self._gs_paren(buf)
        if command == ord("v"):
            return self._raster(buf)
        size = _GS_FIXED.get(command)
        if size is None:
            self.result.unknown.append(f"GS 0x{command:02x}")
            return 2
        if len(buf) < 2 + size:
            return 0
        if command == ord("r"):
            self._status("GS r", buf[2])
        elif command == ord("I"):
            self._status("GS I", buf[2])
        return 2 + size

    def _cut(self, buf: memoryview) -> int:
        if len(buf) < 3:
            return 0
        mode = buf[2]
        size = 4 if mode in (65, 66, 97, 98, 103, 104) else 3
        if len(buf) < size:
            return 0
        self.result.cuts += 1
        return size

    def _gs_paren(self, buf: memoryview) -> int:
        if len(buf) < 5:
            return 0
        length = buf[3] + buf[4] * 256
        if len(buf) < 5 + length:
            return 0
        body = bytes(buf[5 : 5 + length])
        if buf[2] == ord("k") and len(body) >= 3 and body[0] == 49:  # cn=49: QR code
            function = body[1]
            if function == 80:  # store data (m=48 follows)
                self._qr_store = body[3:]
            elif function == 81:  # print the stored symbol
                self.result.qr_codes.append(self._qr_store.decode("utf-8", "replace"))
        return 5 + length

    def _raster(self, buf: memoryview) -> int:
        if len(buf) < 8:
            return 0
        width_bytes = buf[4] + buf[5] * 256
        height = buf[6] + buf[7] * 256
        size = 8 + width_bytes * height
        if len(buf) < size:
            return 0
        self.result.images.append((width_bytes * 8, height))
        return size

    def _status(self, kind: str, n: int) -> None:
        self.result.status_requests.append((kind, n))
        if self.on_status_request is not None:
            self.on_status_request(kind, n)

    def _flush_line(self) -> None:
        # An unknown ESC t page is recorded as such; its text reads as the printer default (CP437).
        codec = self._code_page if self._code_page in CODE_PAGES.values() else "cp437"
        self.result.lines.append(bytes(self._line).decode(codec, "replace"))
        self._line.clear()


def decode(data: bytes) -> Decoded:
    decoder = EscPosDecoder()
    decoder.feed(data)
    return decoder.finish()
