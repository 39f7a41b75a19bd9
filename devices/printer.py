"""Receipt printer: ESC/POS through python-escpos, with real-time status and reprint.

Rendering uses python-escpos' `Dummy` printer (bytes in memory) with one explicitly configured
code page (CP858 by default: it has á é í ó ú ñ ü ¿ ¡ and €), after normalising typographic
characters, so Spanish never prints as "?". Bytes go out through our own links with deadlines
(python-escpos' Network waits 60 s and its paper_status() reports "adequate" on silence).

Status is read with DLE EOT 1-4, which printers answer in real time even when offline. No
answer means UNKNOWN, never "paper OK". A receipt is sent block by block with a status read
after each block and after the cut, so paper running out mid-receipt is caught; the receipt
is kept in memory (it carries no personal data) and `reprint(job_id)` prints it again marked
as a copy.

URL options: code_page (CP858, CP850, CP1252, CP437), profile (python-escpos printer profile,
default TM-T20II), qr (native or image), width (characters per line, default 42),
near_end_sensor (0 if the model has none: paper then reads "unknown" until it is out).
Sim faults: paper=low|out, cover=open, offline=1, mute=1, cutter=error, paper_out_after=N.
"""

from __future__ import annotations

import functools
import itertools
import textwrap
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime

from .contract import Adapter, CallSoon, Check, DeviceError, State, Supply, immediate
from .links import FileLink, Link, SimLink, link_for_url, read_exactly
from .urls import DeviceUrl

ESC_T = {"CP437": 0, "CP850": 2, "CP1252": 16, "CP858": 19}
STATUS_REQUEST = b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04"
INFO_REQUEST = b"\x1dI\x41\x1dI\x43\x1dI\x44"  # GS I 65 firmware, 67 model, 68 serial number

# Typographic characters receipts pick up from catalogs and word processors.
_TYPOGRAPHIC = {
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'",
    "\u2026": "...", "\u2022": "*", "\u00b7": "-", "\u00a0": " ", "\u202f": " ", "\u2009": " ",
    "\u20ac": "EUR", "\u2122": "TM", "\u00d7": "x", "\u2116": "No.",
}
FALLBACK_CHARACTER = "-"  # what an unprintable symbol becomes: visible, and never "?"


def normalise_text(text: str, code_page: str = "CP858") -> str:
    """Make `text` printable in `code_page` without ever producing '?'."""
    encoding = code_page.lower()
    out: list[str] = []
    for char in text:
        if char == "?" or _encodable(char, encoding):
            out.append(char)
            continue
        if char in _TYPOGRAPHIC and _encodable(_TYPOGRAPHIC[char], encoding):
            out.append(_TYPOGRAPHIC[char])
            continue
        stripped = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(stripped if stripped and _encodable(stripped, encoding) else FALLBACK_CHARACTER)
    return "".join(out)


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return all(ord(c) >= 0x20 for c in text)


def format_pesos(cents: int) -> str:
    """Mexican style: $1,250.00."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def mask_card(last4: str, brand: str = "") -> str:
    digits = "".join(c for c in last4 if c.isdigit())[-4:]
    return f"{brand} **** {digits}".strip()


@dataclass(frozen=True)
class Receipt:
    municipality: str
    folio: str
    procedure: str
    concept: str
    amount_cents: int
    payment_method: str  # "Efectivo", or a masked card: "VISA **** 1234"
    issued_at: datetime
    kiosk_id: str
    location: str
    verification: str  # the QR payload, e.g. https://verifica.example.gob.mx/r/<folio>?h=...
    header_lines: tuple[str, ...] = ()
    copy: bool = False
    notes: tuple[str, ...] = ()  # after the amount: e.g. where and when to obtain the document
    def __post_init__(self) -> None:
        digits = max((len(run) for run in "".join(c if c.isdigit() else " " for c in self.payment_method).split()),
                     default=0)
        if digits > 4:
            raise ValueError("payment_method must carry a masked card number (at most 4 digits)")


@dataclass(frozen=True)
class PrintResult:
    job_id: int
    completed: bool
    reason: str  # "ok" or the stable reason code that stopped the job
    blocks_sent: int
    blocks_total: int


class _BlockWriter:
    """python-escpos' Dummy printer set up for one code page, collecting output in blocks (a
    status read goes between blocks, so paper running out is caught mid-document)."""

    def __init__(self, code_page: str, width: int, profile: str):
        from escpos.printer import Dummy

        if code_page not in ESC_T:
            raise DeviceError("config.invalid", f"code_page {code_page} (use one of {', '.join(ESC_T)})")
        self.code_page, self.width = code_page, width
        self.printer = Dummy(profile=profile)
        self.blocks: list[bytes] = []
        self.printer.hw("INIT")
        self.printer.charcode(code_page)

    def line(self, text: str) -> None:
        for piece in textwrap.wrap(normalise_text(text, self.code_page), self.width) or [""]:
            self.printer.textln(piece)

    def end_block(self) -> None:
        self.blocks.append(self.printer.output)
        self.printer.clear()


def render_blocks(receipt: Receipt, code_page: str = "CP858", width: int = 42, qr: str = "native",
                  profile: str = "TM-T20II") -> list[bytes]:
    """The receipt as ESC/POS byte blocks (sent one by one with a status read between them)."""
    doc = _BlockWriter(code_page, width, profile)
    printer, line, cut_block, blocks = doc.printer, doc.line, doc.end_block, doc.blocks
    printer.set(align="center", bold=True, double_height=True, double_width=True)
    for piece in textwrap.wrap(normalise_text(receipt.municipality, code_page), width // 2):
        printer.textln(piece)
    printer.set_with_default(align="center")
    for header in receipt.header_lines:
        line(header)
    if receipt.copy:
        printer.set(align="center", bold=True)
        line("*** COPIA / REIMPRESIÓN ***")
    cut_block()
    printer.set_with_default()
    line("-" * width)
    line(f"Folio: {receipt.folio}")
    line(f"Trámite: {receipt.procedure}")
    line(f"Concepto: {receipt.concept}")
    cut_block()
    printer.set(bold=True, double_height=True)
    line(f"Importe: {format_pesos(receipt.amount_cents)} MXN")
    printer.set_with_default()
    line(f"Pago: {receipt.payment_method}")
    line(f"Fecha: {receipt.issued_at:%d/%m/%Y %H:%M:%S}")
    line(f"Kiosco: {receipt.kiosk_id}")
    line(f"Lugar: {receipt.location}")
    line("-" * width)
    for note in receipt.notes:
        line(note)
    if receipt.notes:
        line("-" * width)
    cut_block()
    printer.set_with_default(align="center")
    printer.qr(receipt.verification, native=(qr == "native"), size=6, center=(qr != "native"))
    line("Verifique este recibo escaneando el código.")
    line("¿Dudas? ¡Pregunte al personal de apoyo!")
    printer.set_with_default()
    printer.cut()
    cut_block()
    return blocks


@dataclass(frozen=True)
class InfoSheet:
    """A procedure's information, printed for free: what to bring, where, cost, and a QR to the
    online version. It carries no personal data."""

    municipality: str
    title: str
    sections: tuple[tuple[str, tuple[str, ...]], ...]
    qr: str  # the procedure's page on the city's site
    printed_at: datetime
    kiosk_id: str
    location: str


def render_sheet_blocks(sheet: InfoSheet, code_page: str = "CP858", width: int = 42, qr: str = "native",
                        profile: str = "TM-T20II") -> list[bytes]:
    """The sheet as ESC/POS byte blocks, one block per section so paper-out is caught between them."""
    doc = _BlockWriter(code_page, width, profile)
    printer, line = doc.printer, doc.line
    printer.set(align="center", bold=True)
    line(sheet.municipality)
    printer.set(align="center", bold=True, double_height=True)
    line(sheet.title)
    printer.set_with_default()
    doc.end_block()
    for heading, lines in sheet.sections:
        printer.set(bold=True)
        line(heading)
        printer.set_with_default()
        for text in lines:
            line(text)
        line("")
        doc.end_block()
    printer.set_with_default(align="center")
    if sheet.qr:
        printer.qr(sheet.qr, native=(qr == "native"), size=6, center=(qr != "native"))
        line("Vea este trámite en línea escaneando el código.")
    line(f"{sheet.printed_at:%d/%m/%Y %H:%M} - Kiosco {sheet.kiosk_id}, {sheet.location}")
    line("Información, no es un comprobante de pago.")
    printer.set_with_default()
    printer.cut()
    doc.end_block()
    return doc.blocks


@functools.lru_cache(maxsize=4)
def _warm_up_renderer(profile: str) -> None:
    """python-escpos loads its printer database on first use (~0.3 s): do it at open, not mid-receipt."""
    from escpos.printer import Dummy

    Dummy(profile=profile).text("")


def render_receipt(receipt: Receipt, **options: str | int) -> bytes:
    return b"".join(render_blocks(receipt, **options))  # type: ignore[arg-type]  # each option has its own type


def test_page(code_page: str, width: int, qr: str, profile: str) -> list[bytes]:
    sample = Receipt(
        municipality="Prueba de impresora", folio="PRUEBA-0001", procedure="Página de prueba",
        concept="á é í ó ú ñ ü Á É Í Ó Ú Ñ Ü ¿ ¡ $ – “comillas” …", amount_cents=123456,
        payment_method="Sin cobro", issued_at=datetime.now(), kiosk_id="prueba", location="Técnico",
        verification="https://verifica.example/prueba/0001",
    )
    return render_blocks(sample, code_page, width, qr, profile)


@dataclass(frozen=True)
class PrinterState:
    """What DLE EOT 1-4 said."""

    answered: bool
    offline: bool = False
    cover_open: bool = False
    paper_out: bool = False
    paper_low: bool = False
    cutter_error: bool = False
    unrecoverable: bool = False


MAX_INFO_REPLY = 512
MAX_INFO_FIELD = 40


def parse_printer_info(reply: bytes) -> tuple[str, str, str] | None:
    """GS I 65/67/68 answers ("_<text>NUL" each) as (firmware, model, serial number): printable
    ASCII, at most 40 characters each; None unless all three came (a clone that ignores GS I)."""
    parts = reply.split(b"\x00")
    if len(parts) < 4:  # three NUL-terminated answers
        return None
    fields = ["".join(char for char in part.lstrip(b"_").decode("ascii", "replace")
                      if char.isascii() and char.isprintable()).strip()[:MAX_INFO_FIELD] for part in parts[:3]]
    return (fields[0], fields[1], fields[2]) if all(fields) else None


def parse_status(reply: bytes) -> PrinterState:
    """Decode the four DLE EOT replies; anything short or malformed is 'no answer'."""
    if len(reply) != 4 or any((byte & 0x93) != 0x12 for byte in reply):
        return PrinterState(answered=False)
    printer, offline_cause, error_cause, paper = reply
    return PrinterState(
        answered=True,
        offline=bool(printer & 0x08),
        cover_open=bool(offline_cause & 0x04),
        paper_out=bool(paper & 0x60) or bool(offline_cause & 0x20),
        paper_low=bool(paper & 0x0C),
        cutter_error=bool(error_cause & 0x08),
        unrecoverable=bool(error_cause & 0x60),
    )


class PrinterAdapter(Adapter):
    kind = "printer"
    supply_names = ("paper",)
    _job_ids = itertools.count(1)

    def __init__(self, name: str, driver: str, url: DeviceUrl, call_soon: CallSoon = immediate,
                 link: Link | None = None):
        super().__init__(name, driver, url, call_soon)
        self.code_page = url.option("code_page", "CP858").upper()
        self.width = url.int_option("width", 42)
        self.qr_mode = url.option("qr", "native")
        self.profile = url.option("profile", "TM-T20II")
        self.near_end_sensor = url.option("near_end_sensor", "1") != "0"
        self.simulator = None
        if link is None and url.is_sim:
            from .sim.printer import SimPrinter

            self.simulator = SimPrinter.from_options(url.options)
            link = SimLink(self.simulator, offline=url.flag("offline"))
        self.link = link or link_for_url(url)
        self._jobs: OrderedDict[int, Receipt] = OrderedDict()
        self._set_capabilities(
            model=self.profile, features=frozenset({"cut", "status.realtime", f"qr.{self.qr_mode}", "reprint"}),
            details=(("code_page", self.code_page), ("width", str(self.width))),
        )
        if self.code_page not in ESC_T:
            raise DeviceError("config.invalid", f"code_page {self.code_page}")

    # --- worker-thread parts ---

    def _open(self) -> None:
        self.link.open()
        _warm_up_renderer(self.profile)
        if not isinstance(self.link, FileLink):
            self._read_printer_info()

    def _read_printer_info(self) -> None:
        """Model, firmware and serial number (GS I 67/65/68); clones that ignore it keep 'unknown'."""
        self.link.reset_input()
        self.link.write(INFO_REQUEST)
        reply = b""
        deadline = time.monotonic() + min(self.timeout_s, 1.0)
        while reply.count(b"\x00") < 3 and time.monotonic() < deadline and len(reply) < MAX_INFO_REPLY:
            reply += self.link.read(128, deadline - time.monotonic())
        info = parse_printer_info(reply)
        if info is not None:
            firmware, model, serial = info
            self._set_capabilities(model=model, firmware=firmware, serial_number=serial,
                                   details=(*self.capabilities().details, ("profile", self.profile)))

    def _close(self) -> None:
        self.link.close()

    def _read_state(self) -> PrinterState:
        self.link.reset_input()
        self.link.write(STATUS_REQUEST)
        return parse_status(read_exactly(self.link, 4, self.timeout_s))

    def _probe(self) -> None:
        if not self.link.present():
            raise DeviceError("transport.no_device", "printer node is gone")
        if isinstance(self.link, FileLink):
            # A write-only device file cannot answer DLE EOT: paper stays "unknown", never "full".
            self._set_supply("paper", Supply.UNKNOWN)
            self._set_state(State.DEGRADED, "printer.no_status")
            return
        self._apply(self._read_state())

    def _apply(self, status: PrinterState, keep_busy: bool = False) -> None:
        if not status.answered:
            self._set_supply("paper", Supply.UNKNOWN)
            raise DeviceError("status_unknown", "no DLE EOT answer")
        if status.paper_out:
            paper = Supply.OUT
        elif status.paper_low:
            paper = Supply.LOW
        else:
            paper = Supply.FULL if self.near_end_sensor else Supply.UNKNOWN
        self._set_supply("paper", paper)
        for fault, code in (
            (status.cover_open, "printer.cover_open"), (status.paper_out, "printer.paper_out"),
            (status.cutter_error, "printer.cutter_error"), (status.unrecoverable, "printer.error"),
            (status.offline, "printer.offline"),
        ):
            if fault:
                raise DeviceError(code)
        if keep_busy:
            return  # mid-job: stay BUSY instead of flapping to READY between blocks
        if status.paper_low:
            self._set_state(State.DEGRADED, "printer.paper_low")
        else:
            self._set_state(State.READY, "ok")

    def _print_job(self, job_id: int, receipt: Receipt) -> PrintResult:
        return self._print_blocks(job_id, render_blocks(receipt, self.code_page, self.width, self.qr_mode,
                                                        self.profile))

    def _print_blocks(self, job_id: int, blocks: list[bytes]) -> PrintResult:
        try:
            self._probe()
        except DeviceError as error:
            self._fail(error)
            return PrintResult(job_id, False, error.code, 0, len(blocks))
        self._set_state(State.BUSY, "busy")
        for index, block in enumerate(blocks, start=1):
            try:
                self.link.write(block)
                self._after_block(last=index == len(blocks))
            except DeviceError as error:
                self._fail(error)
                self._note_error(error.code)
                self._emit("print.incomplete", job_id=job_id, reason=error.code)
                return PrintResult(job_id, False, error.code, index, len(blocks))
        self._bump(operations=1)
        self._emit("print.completed", job_id=job_id)
        return PrintResult(job_id, True, "ok", len(blocks), len(blocks))

    def _after_block(self, last: bool) -> None:
        """DLE EOT after every block: paper running out mid-receipt shows up here."""
        if isinstance(self.link, FileLink):
            if last:
                self._probe()
            return
        if not self.link.present():
            raise DeviceError("transport.no_device", "printer node is gone")
        self._apply(self._read_state(), keep_busy=not last)

    # --- public API ---

    def diagnostics(self) -> dict[str, object]:
        return {"code_page": self.code_page, "qr": self.qr_mode, "width": self.width,
                "jobs_kept_for_reprint": len(self._jobs)}

    def check_ready(self) -> bool:
        """Real-time status now; call before taking the citizen's money."""
        return self.refresh().usable

    def print_receipt(self, receipt: Receipt) -> PrintResult:
        job_id = next(self._job_ids)
        self._remember(job_id, receipt)
        return self.call(lambda: self._print_job(job_id, receipt), self.timeout_s * 10)

    def print_sheet(self, sheet: InfoSheet) -> PrintResult:
        """A procedure's information sheet (free; not kept for reprint)."""
        job_id = next(self._job_ids)
        render = functools.partial(render_sheet_blocks, sheet, self.code_page, self.width, self.qr_mode, self.profile)
        return self.call(lambda: self._print_blocks(job_id, render()), self.timeout_s * 10)

    def reprint(self, job_id: int) -> PrintResult:
        receipt = self._jobs.get(job_id)
        if receipt is None:
            raise DeviceError("printer.error", f"job {job_id} is no longer kept")
        copy = replace(receipt, copy=True)
        return self.call(lambda: self._print_job(job_id, copy), self.timeout_s * 10)

    def _remember(self, job_id: int, receipt: Receipt) -> None:
        self._jobs[job_id] = receipt
        while len(self._jobs) > 20:
            self._jobs.popitem(last=False)

    def _self_test_checks(self) -> list[Check]:
        checks: list[Check] = []
        started = time.monotonic()
        state = self._read_state()
        checks.append(Check("status (DLE EOT)", state.answered, "answered" if state.answered else "no answer"))
        self._apply(state)
        checks.append(Check("paper", not state.paper_out, str(self.status().supply("paper"))))
        for block in test_page(self.code_page, self.width, self.qr_mode, self.profile):
            self.link.write(block)
        after = self._read_state()
        self._apply(after)
        checks.append(Check("test page (accents, QR, cut)", after.answered and not after.paper_out,
                            f"code page {self.code_page}, {(time.monotonic() - started) * 1000:.0f} ms"))
        return checks

