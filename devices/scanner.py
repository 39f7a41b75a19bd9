"""Barcode/QR scanner in serial or USB-CDC mode, delivering the bill reference to the app.

Serial mode is preferred to keyboard-wedge mode: a wedge types into whatever widget has the
focus. A reader thread collects bytes up to CR or LF, drops STX/ETX framing and control bytes,
and extracts the reference (URL option `pattern`: a regular expression
the reference must match; by default 4-40 letters, digits, '-', '/' or '.'). A URL (a QR code)
gives its `ref` query parameter; any other code is the reference itself. A good code is
delivered as a "scan" event, a bad one as "scan.invalid" (reason scanner.invalid_code).

URL: serial:///dev/ttyACM0?baudrate=9600. Sim: sim:// (then `adapter.simulator.scan("REF")`),
sim://?scan=REF emits one code at open, offline=1.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qs, urlsplit

from .contract import Adapter, CallSoon, Check, DeviceError, State, immediate, log, log_event
from .links import Link, SimLink, link_for_url
from .urls import DeviceUrl

DEFAULT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9\-/.]{3,39}"
MAX_CODE = 512


def extract_reference(raw: bytes, pattern: re.Pattern[str]) -> str | None:
    """The bill reference in a scanned code: the `ref` parameter of a URL, or the whole code."""
    text = "".join(chr(b) for b in raw if 0x20 <= b < 0x7F).strip()
    if "://" in text or "?" in text:
        values = parse_qs(urlsplit(text).query).get("ref", [])
        text = values[0] if values else ""
    return text if pattern.fullmatch(text) else None


def bill_details(raw: bytes) -> dict[str, object]:
    """What a bill's QR URL states beside its reference: `amount` (pesos, as cents) and `concept`.
    A kiosk without network can take cash against exactly this printed amount."""
    text = "".join(chr(b) for b in raw if 0x20 <= b < 0x7F).strip()
    if "://" not in text and "?" not in text:
        return {}
    query = parse_qs(urlsplit(text).query)
    details: dict[str, object] = {}
    amount = (query.get("amount") or [""])[0]
    if re.fullmatch(r"\d{1,9}(\.\d{1,2})?", amount):
        pesos, _, cents = amount.partition(".")
        details["amount_cents"] = int(pesos) * 100 + int((cents + "00")[:2])
    concept = (query.get("concept") or [""])[0]
    if concept:
        details["concept"] = concept[:80]
    return details


class ScannerAdapter(Adapter):
    kind = "scanner"

    def __init__(self, name: str, driver: str, url: DeviceUrl, call_soon: CallSoon = immediate,
                 link: Link | None = None):
        super().__init__(name, driver, url, call_soon)
        try:
            self.pattern = re.compile(url.option("pattern", DEFAULT_PATTERN))
        except re.error as error:
            raise DeviceError("config.invalid", f"pattern: {error}") from None
        self.simulator = None
        if link is None and url.is_sim:
            from .sim.scanner import SimScanner

            self.simulator = SimScanner()
            link = SimLink(self.simulator, offline=url.flag("offline"))
            self.simulator.attach(link)
        self.link = link or link_for_url(url, default_baudrate=9600)
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._set_capabilities(model="serial scanner", features=frozenset({"barcode", "qr"}))

    def _open(self) -> None:
        self.link.open()
        self._stop.clear()
        self._reader = threading.Thread(target=self._read_loop, name=f"scanner-{self.name}", daemon=True)
        self._reader.start()
        if self.simulator is not None and self.url.option("scan"):
            self.simulator.scan(self.url.option("scan"))

    def _close(self) -> None:
        self._stop.set()
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=2)
        self._reader = None
        self.link.close()

    def alive(self) -> bool:
        if self.status().state in (State.CLOSED, State.OFFLINE, State.NO_DEVICE):
            return True  # nothing running to die; the state alone tells the supervisor what to do
        return self._reader is not None and self._reader.is_alive()

    def _probe(self) -> None:
        if not self.link.present():
            raise DeviceError("transport.no_device", "scanner port is gone")
        if not self.alive():
            raise DeviceError("transport.connection_lost", "reader stopped")
        self._set_state(State.READY, "ok")

    def _read_loop(self) -> None:
        pending = bytearray()
        while not self._stop.is_set():
            try:
                chunk = self.link.read(256, 0.2)
            except DeviceError as error:
                self._fail(error)
                return  # the supervisor reopens the port when the scanner is back
            for byte in chunk:
                if byte in (0x0D, 0x0A, 0x03):
                    if pending:
                        self._deliver(bytes(pending))
                    pending.clear()
                elif byte != 0x02:
                    pending.append(byte)
            if len(pending) > MAX_CODE:
                pending.clear()  # no terminator: noise, not a code

    def _deliver(self, raw: bytes) -> None:
        reference = extract_reference(raw, self.pattern)
        self._bump(operations=1)
        if reference is None:
            self._note_error("scanner.invalid_code")
            log_event(log, "scanner.invalid", device=self.name, length=len(raw))
            self._emit("scan.invalid", reason="scanner.invalid_code")
            return
        log_event(log, "scanner.scan", device=self.name, length=len(reference))
        self._emit("scan", reference=reference, **bill_details(raw))

    def _self_test_checks(self) -> list[Check]:
        self._probe()
        return [Check("port open and reader running", self.alive(), self.url.redacted())]
