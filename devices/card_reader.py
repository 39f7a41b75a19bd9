"""ID-card reader over PC/SC (pyscard, pcscd): insert/remove events, ATR, the citizen's identity.

A monitor thread runs its own SCardGetStatusChange loop instead of pyscard's CardMonitor,
which dies for good when pcscd restarts (pyscard issue #82): on a service error it drops its
context, reports the reader offline and keeps trying until pcscd is back, counting a
reconnect. Reads run on the adapter's worker with a deadline; a mute card that never answers
becomes "card.mute" instead of a hung kiosk.

Identity is returned to the caller and never kept by the adapter or logged: it lives only in
the citizen's session. Profiles (URL option `profile`):
  esteid     personal data file (DF 5000, EF 5001..5008) of the Estonian ID card, no PIN
  auth_cert  authentication certificate (DF ADF1, EF 3401), parsed for name and serial number
URL: pcsc://<reader name pattern>?profile=esteid ; the pattern is a case-insensitive substring
(empty: the first reader). Sim options: card=normal|foreign|mute|remove_mid_read|t0|absent.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from .contract import FAILED_STATES, Adapter, CallSoon, Check, DeviceError, State, immediate, log, log_event
from .urls import DeviceUrl

ESTEID_AID = bytes.fromhex("A000000077010800070000FE00000100")
PROFILES = ("esteid", "auth_cert")
# A T=0 answer fetched with GET RESPONSE takes one or two rounds on real cards; a card that keeps
# saying "61xx, more" is broken, so the loop ends with card.unreadable instead of spinning.
MAX_RESPONSE_ROUNDS = 16
MAX_RESPONSE_BYTES = 16 * 1024
MAX_TEXT_FIELD = 200  # characters kept of a personal-data field (names, numbers)


@dataclass(frozen=True)
class Identity:
    surname: str
    given_names: str
    id_number: str
    document_number: str = ""
    profile: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.given_names} {self.surname}".strip()

    def __repr__(self) -> str:  # keeps names and numbers out of logs and tracebacks
        return f"Identity(profile={self.profile!r}, id_number='***{self.id_number[-2:]}')"

    __str__ = __repr__


class CardSession(Protocol):
    atr: bytes

    def transmit(self, apdu: bytes) -> tuple[bytes, int]: ...
    def disconnect(self) -> None: ...


class CardBackend(Protocol):
    def readers(self) -> list[str]: ...
    def wait_change(self, reader: str, known_state: int, timeout_s: float) -> tuple[int, bool, bytes]: ...
    def connect(self, reader: str) -> CardSession: ...
    def reset(self) -> None: ...
    def cancel(self) -> None: ...


# ------------------------------------------------------------------ PC/SC through pyscard


class _PcscSession:
    def __init__(self, scard, context, handle, protocol, atr: bytes):
        self._scard, self._context, self._handle, self._protocol = scard, context, handle, protocol
        self.atr = atr

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        s = self._scard
        hresult, response = s.SCardTransmit(self._handle, self._protocol, list(apdu))
        if hresult != s.SCARD_S_SUCCESS or len(response) < 2:
            raise DeviceError(_card_error_code(s, hresult), s.SCardGetErrorMessage(hresult) if hresult else "empty")
        return bytes(response[:-2]), (response[-2] << 8) | response[-1]

    def disconnect(self) -> None:
        s = self._scard
        s.SCardDisconnect(self._handle, s.SCARD_LEAVE_CARD)
        s.SCardReleaseContext(self._context)


def _card_error_code(scard, hresult: int) -> str:
    if hresult in (scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD, scard.SCARD_S_SUCCESS):
        return "card.removed"
    if hresult in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_F_COMM_ERROR,
                   scard.SCARD_E_INVALID_HANDLE):
        return "card.service_unavailable"
    if hresult in (scard.SCARD_W_UNRESPONSIVE_CARD, scard.SCARD_W_UNSUPPORTED_CARD):
        return "card.mute"
    if hresult in (scard.SCARD_E_NOT_TRANSACTED, scard.SCARD_W_RESET_CARD):
        return "card.stale"  # the handle belongs to a card swapped a moment ago: connect again
    if hresult == scard.SCARD_E_UNKNOWN_READER:
        return "card.no_reader"
    return "card.unreadable"


class PcscBackend:
    """Low-level pyscard calls: one context for the monitor's waits, short-lived ones otherwise."""

    def __init__(self) -> None:
        try:
            from smartcard import scard
        except ImportError:
            raise DeviceError("driver.missing", "pyscard is not installed") from None
        self.s = scard
        self._context: Any = None  # a PC/SC context handle once established

    def _ensure_context(self):
        s = self.s
        if self._context is None:
            hresult, context = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
            if hresult != s.SCARD_S_SUCCESS:
                raise DeviceError("card.service_unavailable", s.SCardGetErrorMessage(hresult))
            self._context = context
        return self._context

    def reset(self) -> None:
        if self._context is not None:
            self.s.SCardReleaseContext(self._context)
            self._context = None

    def cancel(self) -> None:
        if self._context is not None:
            self.s.SCardCancel(self._context)

    def readers(self) -> list[str]:
        """A short-lived context of its own: the monitor's context may be blocked in a wait."""
        s = self.s
        hresult, context = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
        if hresult != s.SCARD_S_SUCCESS:
            raise DeviceError("card.service_unavailable", s.SCardGetErrorMessage(hresult))
        try:
            hresult, readers = s.SCardListReaders(context, [])
        finally:
            s.SCardReleaseContext(context)
        if hresult == s.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if hresult != s.SCARD_S_SUCCESS:
            raise DeviceError(_card_error_code(s, hresult), s.SCardGetErrorMessage(hresult))
        return list(readers)

    def wait_change(self, reader: str, known_state: int, timeout_s: float) -> tuple[int, bool, bytes]:
        s = self.s
        hresult, states = s.SCardGetStatusChange(self._ensure_context(), int(timeout_s * 1000),
                                                 [(reader, known_state)])
        if hresult in (s.SCARD_E_TIMEOUT, s.SCARD_E_CANCELLED):
            return known_state, bool(known_state & s.SCARD_STATE_PRESENT), b""
        if hresult != s.SCARD_S_SUCCESS:
            self.reset()
            raise DeviceError(_card_error_code(s, hresult), s.SCardGetErrorMessage(hresult))
        _, event_state, atr = states[0]
        if event_state & (s.SCARD_STATE_UNKNOWN | s.SCARD_STATE_UNAVAILABLE):
            raise DeviceError("card.no_reader", reader)
        state = event_state & ~s.SCARD_STATE_CHANGED
        present = bool(event_state & s.SCARD_STATE_PRESENT) and not event_state & s.SCARD_STATE_MUTE
        return state, present, bytes(atr)

    def connect(self, reader: str) -> CardSession:
        s = self.s
        hresult, context = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
        if hresult != s.SCARD_S_SUCCESS:
            raise DeviceError("card.service_unavailable", s.SCardGetErrorMessage(hresult))
        hresult, handle, protocol = s.SCardConnect(context, reader, s.SCARD_SHARE_SHARED,
                                                   s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1)
        if hresult != s.SCARD_S_SUCCESS:
            s.SCardReleaseContext(context)
            code = _card_error_code(s, hresult)
            raise DeviceError("card.absent" if code == "card.removed" else code, s.SCardGetErrorMessage(hresult))
        hresult, _, _, _, atr = s.SCardStatus(handle)
        return _PcscSession(s, context, handle, protocol, bytes(atr) if hresult == s.SCARD_S_SUCCESS else b"")


# ------------------------------------------------------------------ profiles


def _check(sw: int, what: str) -> None:
    if sw != 0x9000:
        raise DeviceError("card.unreadable", f"{what}: SW {sw:04X}")


def transmit(session: CardSession, apdu: bytes) -> tuple[bytes, int]:
    """Transmit with the T=0 conventions: 61xx (fetch with GET RESPONSE), 6Cxx (resend once with
    Le). Bounded: at most MAX_RESPONSE_ROUNDS GET RESPONSEs and MAX_RESPONSE_BYTES of data."""
    data, sw = session.transmit(apdu)
    if sw >> 8 == 0x6C:
        data, sw = session.transmit(apdu[:4] + bytes([sw & 0xFF]))
    rounds = 0
    while sw >> 8 == 0x61:
        rounds += 1
        if rounds > MAX_RESPONSE_ROUNDS or len(data) > MAX_RESPONSE_BYTES:
            raise DeviceError("card.unreadable", f"GET RESPONSE chain longer than {MAX_RESPONSE_ROUNDS} rounds")
        more, sw = session.transmit(bytes([0x00, 0xC0, 0x00, 0x00, sw & 0xFF]))
        data += more
    if len(data) > MAX_RESPONSE_BYTES:
        raise DeviceError("card.unreadable", f"answer of {len(data)} bytes")
    return data, sw


def select_applet(session: CardSession) -> None:
    # P2=00 asks for the FCI, as the DigiDoc reader does (T=0 readers then see 61xx: handled).
    _, sw = transmit(session, bytes([0x00, 0xA4, 0x04, 0x00, len(ESTEID_AID)]) + ESTEID_AID)
    if sw in (0x6A82, 0x6A86, 0x6D00, 0x6E00):
        raise DeviceError("card.foreign", f"SELECT AID: SW {sw:04X}")
    _check(sw, "SELECT AID")


def select_file(session: CardSession, fid: bytes, p1: int = 0x01) -> None:
    _, sw = transmit(session, bytes([0x00, 0xA4, p1, 0x0C, len(fid)]) + fid)
    _check(sw, f"SELECT {fid.hex()}")


def read_binary(session: CardSession, chunk: int = 0xE0, limit: int = 8192) -> bytes:
    content = b""
    while len(content) < limit:
        offset = len(content)
        data, sw = transmit(session, bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, chunk]))
        if sw in (0x6B00, 0x6282) or (sw == 0x9000 and not data):
            break
        _check(sw, "READ BINARY")
        content += data
        if len(data) < chunk:
            break
    return content


def read_esteid_personal_data(session: CardSession) -> Identity:
    select_applet(session)
    select_file(session, b"\x50\x00")
    fields: dict[int, str] = {}
    for record in (1, 2, 6, 7):  # surname, given names, personal code, document number: nothing more
        select_file(session, bytes([0x50, record]))
        fields[record] = personal_data_text(read_binary(session))
    if not fields[6]:
        raise DeviceError("card.unreadable", "empty personal code")
    return Identity(fields[1], fields[2], fields[6], fields[7], "esteid")


def personal_data_text(raw: bytes) -> str:
    """A personal-data file as text: UTF-8 (bad bytes replaced), without control characters or
    padding, at most MAX_TEXT_FIELD characters: whatever the card holds, a name the screen can show."""
    text = raw.decode("utf-8", "replace")
    printable = "".join(char if char.isprintable() else " " for char in text)
    return " ".join(printable.split())[:MAX_TEXT_FIELD]


def der_length(blob: bytes) -> int:
    """Total length of the DER element at the start of `blob` (files are padded after it).
    DER lengths take one to four length bytes; anything else is not a certificate."""
    if len(blob) < 2:
        raise DeviceError("card.unreadable", "short certificate")
    first = blob[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if not 1 <= count <= 4 or len(blob) < 2 + count:
        raise DeviceError("card.unreadable", "certificate length is not DER")
    return 2 + count + int.from_bytes(blob[2 : 2 + count], "big")


def identity_from_certificate(der: bytes) -> Identity:
    """Name and personal number from an authentication certificate; DeviceError("card.unreadable")
    for anything that is not one (cryptography raises ValueError on bad DER, lazily on access)."""
    try:
        return _identity_from_certificate(der[: der_length(der)])
    except ValueError as error:
        raise DeviceError("card.unreadable", f"certificate: {type(error).__name__}") from None


def _identity_from_certificate(der: bytes) -> Identity:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    subject = x509.load_der_x509_certificate(der).subject

    def first(oid) -> str:
        values = subject.get_attributes_for_oid(oid)
        if not values:
            return ""
        value = values[0].value
        return personal_data_text(value if isinstance(value, bytes) else value.encode("utf-8", "replace"))

    serial = first(NameOID.SERIAL_NUMBER)
    # ETSI EN 319 412-1 semantics identifiers: "PNOEE-38001085718" = personal number, Estonia.
    id_number = serial.split("-", 1)[1] if len(serial) > 6 and serial[5] == "-" and serial[:3] in (
        "PNO", "IDC", "PAS", "TIN") else serial
    surname, given = first(NameOID.SURNAME), first(NameOID.GIVEN_NAME)
    if not surname and "," in first(NameOID.COMMON_NAME):
        surname, given = first(NameOID.COMMON_NAME).split(",")[:2]
    if not id_number:
        raise DeviceError("card.unreadable", "certificate has no serialNumber")
    return Identity(surname, given, id_number, "", "auth_cert")


def read_auth_certificate(session: CardSession) -> Identity:
    select_applet(session)
    select_file(session, b"\xad\xf1")
    select_file(session, b"\x34\x01", p1=0x02)
    return identity_from_certificate(read_binary(session))


READERS_BY_PROFILE = {"esteid": read_esteid_personal_data, "auth_cert": read_auth_certificate}


# ------------------------------------------------------------------ the adapter


class CardReaderAdapter(Adapter):
    kind = "card_reader"
    self_healing = True  # its monitor reconnects to pcscd by itself

    def __init__(self, name: str, driver: str, url: DeviceUrl, call_soon: CallSoon = immediate,
                 backend: CardBackend | None = None):
        super().__init__(name, driver, url, call_soon)
        self.profile = url.option("profile", "esteid")
        if self.profile not in PROFILES:
            raise DeviceError("config.invalid", f"profile {self.profile!r} (use one of {', '.join(PROFILES)})")
        self.pattern = (url.path or url.option("reader")).lower()
        self.simulator = None
        if backend is None and url.is_sim:
            from .sim.card_backend import SimCardBackend

            backend = self.simulator = SimCardBackend(url.option("card", "absent"), offline=url.flag("offline"))
        self._backend_given = backend
        self.backend: CardBackend | None = backend
        self.reader: str | None = None
        self.atr = b""
        self.card_present = False
        self._stop = threading.Event()
        self._settled = threading.Event()  # set once the monitor has looked at the reader
        self._monitor: threading.Thread | None = None
        self._service_lost = False
        self._set_capabilities(features=frozenset({"events.insert_remove", "atr", f"profile.{self.profile}"}),
                               details=(("profile", self.profile), ("reader_pattern", self.pattern or "*")))

    # --- lifecycle ---

    def _open(self) -> None:
        if self.backend is None:
            self.backend = PcscBackend()
        self._stop.clear()
        # The monitor starts even when pcscd or the reader is missing: it keeps looking for them.
        if self._monitor is None or not self._monitor.is_alive():
            self._monitor = threading.Thread(target=self._monitor_loop, name=f"pcsc-{self.name}", daemon=True)
            self._monitor.start()
        self.reader = self._find_reader()
        self._settled.wait(1.0)  # let the monitor see a card already in the reader before we report

    def _close(self) -> None:
        self._stop.set()
        if self.backend is not None:
            self.backend.cancel()
        monitor = self._monitor
        if monitor is not None and monitor is not threading.current_thread():
            monitor.join(timeout=2)
        self._monitor = None

    def diagnostics(self) -> dict[str, object]:
        return {"reader": self.reader, "card_present": self.card_present,
                "atr": self.atr.hex(" ").upper() if self.card_present else "", "profile": self.profile}

    def alive(self) -> bool:
        if self.status().state == State.CLOSED:
            return True  # not opened yet: the supervisor opens it, nothing has died
        return self._monitor is not None and self._monitor.is_alive()

    def _find_reader(self) -> str:
        assert self.backend is not None
        for reader in self.backend.readers():
            if self.pattern in reader.lower():
                self._set_capabilities(model=reader)
                return reader
        raise DeviceError("card.no_reader", f"no reader matches {self.pattern!r}")

    def _probe(self) -> None:
        if not self.alive():
            raise DeviceError("card.service_unavailable", "monitor stopped")
        if self._service_lost:
            raise DeviceError("card.service_unavailable", "pcscd not answering")
        self._set_state(State.READY, "ok")

    # --- the monitor thread: insert/remove events, survives pcscd restarts ---

    def _monitor_loop(self) -> None:
        known = 0
        while not self._stop.is_set():
            try:
                assert self.backend is not None
                if self.reader is None or self._service_lost:
                    self.reader = self._find_reader()
                    known = 0
                    self._recovered()
                known = self._watch_once(known)
                self._settled.set()
            except DeviceError as error:
                self._lost(error)
                known = 0
                self._stop.wait(0.3)  # pcscd restarts in well under a second; don't spin

    def _watch_once(self, known: int) -> int:
        assert self.backend is not None and self.reader is not None
        state, present, atr = self.backend.wait_change(self.reader, known, 0.5)
        if present != self.card_present:
            self.card_present = present
            if present:
                self.atr = atr
                log_event(log, "card.inserted", device=self.name, atr=atr.hex(" ").upper())
                self._emit("card.inserted", atr=atr.hex(" ").upper())
            else:
                self.atr = b""
                log_event(log, "card.removed", device=self.name)
                self._emit("card.removed")
        return state

    def _lost(self, error: DeviceError) -> None:
        assert self.backend is not None
        self.backend.reset()
        if not self._service_lost:
            self._service_lost = True
            self.reader = None
            if self.card_present:
                self.card_present = False
                self._emit("card.removed")
            if error.code not in ("card.no_reader", "card.service_unavailable"):
                error = DeviceError("card.service_unavailable", error.detail)  # the monitor only fails with pcscd
            self._fail(error)

    def _recovered(self) -> None:
        lost, self._service_lost = self._service_lost, False
        if lost or self.status().state in FAILED_STATES:
            self._bump(reconnects=1)
            log_event(log, "card_reader.reconnected", device=self.name)
            self._set_state(State.READY, "ok")

    # --- reads ---

    def _read(self) -> Identity:
        try:
            return self._read_once()
        except DeviceError as error:
            if error.code != "card.stale":
                raise
        time.sleep(0.2)  # the reader is still settling after a quick remove and re-insert
        try:
            return self._read_once()
        except DeviceError as error:
            raise DeviceError("card.unreadable" if error.code == "card.stale" else error.code, error.detail) from None

    def _read_once(self) -> Identity:
        if self.backend is None or self.reader is None:
            raise DeviceError("card.no_reader", "reader not open")
        session = self.backend.connect(self.reader)
        try:
            identity = READERS_BY_PROFILE[self.profile](session)
        finally:
            # The card may be gone already; then there is nothing to release.
            with contextlib.suppress(Exception):
                session.disconnect()
        return identity

    def read_identity(self) -> Identity:
        """Blocking read with a deadline; raises DeviceError with a card.* reason."""
        started = time.monotonic()
        try:
            identity = self.call(self._read, self.timeout_s)
        except DeviceError as error:
            code = "card.mute" if error.code == "transport.timeout" else error.code
            log_event(log, "card.read_failed", device=self.name, reason=code, profile=self.profile)
            self._note_error(code)
            raise DeviceError(code, error.detail) from None
        self._bump(operations=1)
        log_event(log, "card.read", device=self.name, profile=self.profile,
                  ms=round((time.monotonic() - started) * 1000))
        return identity

    def _self_test_checks(self) -> list[Check]:
        self._probe()
        checks = [Check("reader", True, self.reader or "")]
        if not self.card_present:
            checks.append(Check("card", False, "no card inserted: insert a test card"))
            return checks
        checks.append(Check("ATR", bool(self.atr), self.atr.hex(" ").upper()))
        try:
            identity = self._read()
        except DeviceError as error:
            checks.append(Check(f"profile {self.profile}", False, error.code))
        else:
            checks.append(Check(f"profile {self.profile}", bool(identity.id_number), "identity read (not shown)"))
        return checks
