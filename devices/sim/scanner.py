"""A simulated serial scanner: `scan(code)` sends the code followed by CR LF."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..links import SimLink


class SimScanner:
    def __init__(self, suffix: bytes = b"\r\n"):
        self.suffix = suffix
        self._link: SimLink | None = None

    def attach(self, link: SimLink) -> None:
        self._link = link

    def feed(self, data: bytes) -> bytes:
        return b""  # scanners in serial mode ignore what the host sends

    def scan(self, code: str | bytes) -> None:
        payload = code.encode() if isinstance(code, str) else code
        if self._link is not None:
            self._link.push(payload + self.suffix)
