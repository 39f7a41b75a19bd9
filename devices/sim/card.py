"""A virtual national ID card, and a client that plugs it into pcscd's vsmartcard (vpcd) reader.

The card follows the Estonian ID card (2018+) layout, which is openly documented: applet AID
A000000077010800070000FE00000100, personal data in DF 5000 / EF 5001..5008 (UTF-8, no PIN),
authentication certificate in DF ADF1 / EF 3401 (DER, readable without PIN).

Behaviours a test can choose: "normal", "foreign" (another applet: SELECT AID fails with 6A82),
"mute" (answers the reset but never an APDU), "remove_mid_read" (taken out after a few APDUs),
"t0" (T=0 conventions: 61xx after SELECT, fetched with GET RESPONSE; 6Cxx for a wrong Le),
"endless" (a broken card that answers 61xx to everything, GET RESPONSE included, forever).

vpcd protocol: TCP to 127.0.0.1:35963; every message is a 2-byte big-endian length and a
payload. One byte from vpcd is a control code (0 power off, 1 power on, 2 reset, 4 get ATR);
longer payloads are C-APDUs answered with R-APDUs. Closing the socket removes the card.
vpcd listens on all interfaces: install vsmartcard-vpcd on test machines only, never on a kiosk.
"""

from __future__ import annotations

import datetime
import socket
import struct
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

ESTEID_AID = bytes.fromhex("A000000077010800070000FE00000100")
ESTEID_ATR = bytes.fromhex("3BDB960080B1FE451F830012233F536549440F9000F1")
FOREIGN_ATR = bytes.fromhex("3B951381018073FF01000B")  # some other ISO 7816 card (T=1)
SW_OK = b"\x90\x00"
SW_NOT_FOUND = b"\x6a\x82"
SW_NO_EF = b"\x69\x86"
SW_BAD_INS = b"\x6d\x00"
SW_WRONG_OFFSET = b"\x6b\x00"
FCI = bytes.fromhex("6F0A8408A000000077010800")  # a short File Control Information template


@dataclass(frozen=True)
class CardHolder:
    surname: str = "MUÑOZ PEÑA"
    given_names: str = "JOSÉ ÁNGEL"
    sex: str = "M"
    citizenship: str = "MEX"
    birth: str = "08 01 1980 Oaxaca"
    personal_code: str = "38001085718"
    document_number: str = "AB0123456"
    expiry: str = "01 01 2030"


@lru_cache(maxsize=8)
def auth_certificate(holder: CardHolder) -> bytes:
    """A self-signed authentication certificate with the holder's name and serial number."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "EE"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{holder.surname},{holder.given_names},{holder.personal_code}"),
        x509.NameAttribute(NameOID.SURNAME, holder.surname),
        x509.NameAttribute(NameOID.GIVEN_NAME, holder.given_names),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, f"PNOEE-{holder.personal_code}"),
    ])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test eID CA")]))
        .public_key(key.public_key())
        .serial_number(0x1234567890)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


class VirtualIdCard:
    """The card's APDU logic, independent of how it is connected."""

    def __init__(self, behaviour: str = "normal", holder: CardHolder | None = None, remove_after: int = 4):
        self.behaviour = behaviour
        self.holder = holder or CardHolder()
        self.remove_after = remove_after
        self.apdus = 0
        self._files = self._build_files()
        self._selected_df = b""
        self._selected_ef: bytes | None = None
        self._applet = False
        self._pending = b""

    @property
    def atr(self) -> bytes:
        return FOREIGN_ATR if self.behaviour == "foreign" else ESTEID_ATR

    def _build_files(self) -> dict[tuple[bytes, bytes], bytes]:
        h = self.holder
        values = [h.surname, h.given_names, h.sex, h.citizenship, h.birth, h.personal_code, h.document_number,
                  h.expiry]
        files = {(b"\x50\x00", bytes([0x50, index])): value.encode() for index, value in enumerate(values, 1)}
        files[(b"\xad\xf1", b"\x34\x01")] = auth_certificate(h) + b"\x00" * 32  # cards pad their files
        return files

    def reset(self) -> None:
        self._applet = False
        self._selected_df = b""
        self._selected_ef = None

    def wants_removal(self) -> bool:
        return self.behaviour == "remove_mid_read" and self.apdus >= self.remove_after

    def process(self, apdu: bytes) -> bytes | None:
        """The R-APDU, or None when the card stays silent (mute)."""
        self.apdus += 1
        if self.behaviour == "mute":
            return None
        if len(apdu) < 4:
            return b"\x67\x00"
        if self.behaviour == "endless":
            return (b"\x00" * 16 if apdu[1] == 0xC0 else b"") + b"\x61\x10"  # "16 more bytes", always
        ins, p1, p2 = apdu[1], apdu[2], apdu[3]
        data = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if ins == 0xA4:
            answer = self._select(p1, data)
            if self.behaviour == "t0" and p1 == 0x04 and answer == SW_OK:
                self._pending = FCI  # T=0: the FCI waits for a GET RESPONSE
                return bytes([0x61, len(FCI)])
            return answer
        if ins == 0xC0:
            pending, self._pending = self._pending, b""
            return pending + SW_OK if pending else b"\x6f\x00"
        if ins == 0xB0:
            return self._read_binary((p1 << 8) | p2, apdu[4] if len(apdu) == 5 else 0)
        return SW_BAD_INS

    def _select(self, p1: int, data: bytes) -> bytes:
        if p1 == 0x04:
            self._applet = self.behaviour != "foreign" and data == ESTEID_AID
            return SW_OK if self._applet else SW_NOT_FOUND
        if not self._applet:
            return SW_NOT_FOUND
        if p1 == 0x01 and data in (b"\x50\x00", b"\xad\xf1"):
            self._selected_df, self._selected_ef = data, None
            return SW_OK
        if (self._selected_df, data) in self._files:
            self._selected_ef = data
            return SW_OK
        return SW_NOT_FOUND

    def _read_binary(self, offset: int, length: int) -> bytes:
        if self._selected_ef is None:
            return SW_NO_EF
        content = self._files[(self._selected_df, self._selected_ef)]
        if offset > len(content):
            return SW_WRONG_OFFSET
        left = len(content) - offset
        if self.behaviour == "t0" and 0 < left < (length or 256):
            return bytes([0x6C, left])  # T=0: wrong Le, the exact length follows
        return content[offset : offset + (length or 256)] + SW_OK


class VpcdCardClient:
    """Inserts a VirtualIdCard into the vpcd reader on `port` (35963 is 'Virtual PCD 00 00')."""

    def __init__(self, card: VirtualIdCard, port: int = 35963, lifetime_s: float = 30.0):
        self.card = card
        self.port = port
        self.lifetime_s = lifetime_s
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def insert(self, wait_s: float = 5.0) -> None:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._sock.settimeout(0.2)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="virtual-card", daemon=True)
        self._thread.start()

    def remove(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._close()

    def _close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _receive(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            if self._stop.is_set() or self._sock is None:
                return None
            try:
                chunk = self._sock.recv(size - len(data))
                # vpcd writes length and payload separately; acknowledging at once avoids the
                # 40 ms Nagle/delayed-ACK stall per APDU.
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def _send(self, payload: bytes) -> None:
        if self._sock is not None:
            self._sock.sendall(struct.pack(">H", len(payload)) + payload)

    def _serve(self) -> None:
        deadline = time.monotonic() + self.lifetime_s
        try:
            while time.monotonic() < deadline and not self._stop.is_set():
                header = self._receive(2)
                if header is None:
                    return
                message = self._receive(struct.unpack(">H", header)[0])
                if message is None:
                    return
                if not self._answer(message):
                    return
        except OSError:
            return
        finally:
            self._close()

    def _answer(self, message: bytes) -> bool:
        if len(message) == 1:
            if message[0] == 4:
                self._send(self.card.atr)
            elif message[0] in (1, 2):
                self.card.reset()
            return True
        if self.card.wants_removal():
            return False  # pulled out between two APDUs
        answer = self.card.process(message)
        if answer is not None:
            self._send(answer)
        return True
