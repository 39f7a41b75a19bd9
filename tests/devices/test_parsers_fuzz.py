"""Every byte-level device parser, fed anything: a valid result or the parser's own error.

The parsers face bytes from devices a citizen can tamper with (coin slots, card readers) or
that simply break (terminals, printers). Each property says: whatever arrives, the result is
either valid or the parser's documented error (DeviceError with a stable code, or FrameError for
a Transbank frame), never a ValueError, IndexError, UnicodeError or KeyError, and loops are
bounded. `make test` runs a few hundred examples per property; `make fuzz` 100,000 or more.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import astuple
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import strategies as st

from devices import card_reader, cctalk
from devices import payment as transbank
from devices.card_reader import (
    MAX_RESPONSE_ROUNDS,
    MAX_TEXT_FIELD,
    Identity,
    der_length,
    identity_from_certificate,
    personal_data_text,
    read_auth_certificate,
    read_esteid_personal_data,
)
from devices.cash import CashAdapter, _Acceptor
from devices.contract import DeviceError
from devices.escpos_decode import EscPosDecoder, decode
from devices.pan import contains_card_number
from devices.payment import FrameError, Outcome, PaymentAdapter, PaymentResult
from devices.printer import PrinterAdapter, PrinterState, Receipt, parse_printer_info, parse_status
from devices.sim.card import CardHolder, VirtualIdCard, auth_certificate
from devices.sim.printer import SimPrinter
from devices.sim.transbank import TransbankPeer
from devices.urls import parse_device_url
from tests.conftest import count_example, fuzz_settings
from tests.devices.test_pan import TEST_PANS

pytestmark = pytest.mark.fuzz


@pytest.fixture(autouse=True)
def quiet_device_warnings():
    """A device going offline logs a warning; over 100,000 examples pytest's log capture would keep
    them all. Errors (a driver fault is a bug) still show."""
    logger = logging.getLogger("kiosk.devices")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)

# ------------------------------------------------------------------ ccTalk

addresses = st.integers(0, 255)


@given(st.binary(max_size=300), addresses)
@fuzz_settings(short=300)
def test_cctalk_find_message_on_any_bytes(buffer, destination):
    count_example("cctalk: find_message on any bytes")
    message, end = cctalk.find_message(buffer, destination)
    if message is None:
        assert end == 0
        return
    encoded = message.encode()
    assert 5 <= end <= len(buffer) and buffer[end - len(encoded):end] == encoded
    assert message.destination == destination and sum(encoded) % 256 == 0


@given(addresses, addresses, addresses, st.binary(max_size=255), st.binary(max_size=40), st.binary(max_size=40))
@fuzz_settings(short=300)
def test_cctalk_round_trip_through_noise(destination, source, header, data, noise, tail):
    count_example("cctalk: encode then find through noise")
    message = cctalk.Message(destination, source, header, data)
    prefix = bytes(b for b in noise if b != destination)  # no other message can start before ours
    found, end = cctalk.find_message(prefix + message.encode() + tail, destination)
    assert found == message and end == len(prefix) + len(message.encode())


ccTalk_text = st.one_of(
    st.text(max_size=10),
    st.binary(max_size=10).map(lambda raw: raw.decode("ascii", "replace")),  # as the cash adapter reads it
    st.tuples(st.text("MXEU", min_size=2, max_size=2), st.text("0123456789KM.-x ", min_size=3, max_size=3),
              st.text("ABCDEF", max_size=2)).map("".join),
)


@given(ccTalk_text)
@fuzz_settings(short=400)
def test_cctalk_coin_and_bill_ids_never_raise(text):
    count_example("cctalk: coin and bill id values")
    for value in (cctalk.coin_value_cents(text), cctalk.bill_value_cents(text)):
        assert value is None or (type(value) is int and value > 0)


@given(st.text("0123456789", min_size=2, max_size=2), st.sampled_from(["", "K", "M"]), st.integers(0, 2))
@fuzz_settings(short=300)
def test_cctalk_value_codes_are_exact(digits, letter, point):
    count_example("cctalk: value codes are exact")
    if letter:  # the letter is the decimal point: "2K5" is 2.5 thousand
        code = digits[:point] + letter + digits[point:]
        expected = int(Decimal(f"{digits[:point] or 0}.{digits[point:] or 0}") * (1000 if letter == "K" else 10**6))
    else:
        code, expected = f"{digits[0]}{digits}", int(f"{digits[0]}{digits}")
    assert cctalk.value_code(code) == expected
    assert cctalk.coin_value_cents(f"MX{code}A") == (expected or None)


@functools.cache
def idle_cash_adapter() -> CashAdapter:
    """Never opened: an event that needs the bus (a bill in escrow) ends in its DeviceError."""
    return CashAdapter("cash", "cctalk", parse_device_url("sim://?hopper=0"))


VALUES = (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)


@given(st.sampled_from(["coin", "bill"]), st.binary(min_size=22, max_size=66), st.integers(0, 0xFFFF))
@fuzz_settings(short=300)
def test_cctalk_buffered_events_on_any_replies(kind, raw, accepted):
    """devices/cash.py `_new_events` over successive 11-byte event buffers: credits only for
    accepted positions, whatever the counters and event codes say."""
    count_example("cctalk: buffered credit and bill events")
    adapter = idle_cash_adapter()
    positions = {p: VALUES[p % len(VALUES)] for p in range(1, 17) if accepted & (1 << (p - 1))}
    replies = [raw[i:i + 11] for i in range(0, len(raw) - 10, 11)]
    acceptor = _Acceptor(2 if kind == "coin" else 40, kind, positions, counter=replies[0][0])
    for reply in replies[1:]:
        try:
            credits = adapter._new_events(acceptor, reply)
        except DeviceError:
            continue
        assert len(credits) <= 5
        assert all(credit_kind == kind and cents in positions.values() for credit_kind, cents in credits)


# ------------------------------------------------------------------ Transbank

PANS = st.sampled_from(TEST_PANS)
planted_pan = st.one_of(
    PANS,
    PANS.map(lambda pan: " ".join(pan[i:i + 4] for i in range(0, len(pan), 4))),
    PANS.map(lambda pan: "-".join(pan[i:i + 4] for i in range(0, len(pan), 4))),
    PANS.map(lambda pan: f"T{pan}"),
)
field_text = st.one_of(st.text(st.characters(codec="ascii", exclude_characters="|\x02\x03"), max_size=24), planted_pan)
# Fields as one text split at "|" (digits, spaces and dashes weighted in), with card numbers
# planted in up to three of them: a handful of draws per answer instead of one per field.
field_run = st.text(st.sampled_from("0123456789 -|" * 3 + "ABCZaz.,/*:\x00\x7f\x04"), max_size=160)
answer_codes = st.one_of(st.sampled_from(["0210", "0260", "0900", "1210"]), field_text)


@st.composite
def odd_answer(draw) -> list[str]:
    fields = [draw(answer_codes), *draw(field_run).split("|")]
    for _ in range(draw(st.integers(0, 3))):
        fields.insert(draw(st.integers(1, len(fields))), draw(planted_pan))
    return fields


# An approved sale for 12500 as the simulated terminal sends it, to be bent field by field.
APPROVED_SALE = ["0210", "00", "597012345678", "TERM0001", "F-000123", "A1B2C3", "12500", "0", "0", "4242", "101",
                 "CR", "211126", "", "VI", "21112026", "103000"]


@st.composite
def bent_answer(draw) -> list[str]:
    fields = [draw(st.sampled_from(["0210", "0260", "1210"])), *APPROVED_SALE[1:]]
    for _ in range(draw(st.integers(0, 4))):
        fields[draw(st.integers(1, len(fields) - 1))] = draw(field_text)
    return fields[:draw(st.integers(1, len(fields)))] if draw(st.booleans()) else fields


def answer_fields() -> st.SearchStrategy[list[str]]:
    return st.one_of(odd_answer(), bent_answer())


def no_card_number(result: PaymentResult) -> bool:
    return not any(contains_card_number(value) for value in astuple(result) if isinstance(value, str))


def prints_on_a_receipt(result: PaymentResult) -> bool:
    """Receipt refuses a payment method with more than four digits in a row."""
    Receipt("Municipio", "F-1", "Predial", "Bimestre", 100, result.masked_card, datetime(2026, 1, 1), "k1", "Palacio",
            "https://verifica.example/r/F-1")
    return True


@given(st.binary(max_size=200))
@fuzz_settings(short=300)
def test_transbank_unframe_on_any_bytes(raw):
    count_example("transbank: unframe any bytes")
    try:
        fields = transbank.parse_answer(raw)
    except FrameError:
        return
    assert fields and all(isinstance(field, str) and not contains_card_number(field) for field in fields)


@given(st.lists(st.text(st.characters(codec="ascii", exclude_characters="|"), max_size=20), min_size=1, max_size=20))
@fuzz_settings(short=300)
def test_transbank_frame_round_trip(fields):
    count_example("transbank: frame then unframe")
    assert transbank.unframe(transbank.frame(fields)) == fields


@given(answer_fields(), st.integers(1, 10**9), st.text(st.characters(codec="ascii"), min_size=1, max_size=20))
@fuzz_settings(short=300)
def test_transbank_answer_parsers_on_any_fields(fields, amount, reference):
    count_example("transbank: sale, last-sale and cancellation answers")
    reference = re.sub(r"[0-9]", "x", reference)  # ours: never a card number
    sale = transbank.result_from_fields(fields, amount, reference)
    cancellation = transbank.cancellation_from_fields(fields, reference)
    results = [sale, cancellation]
    try:
        results.append(transbank.last_sale_from_fields(fields))
    except DeviceError as error:
        assert error.code == "transport.garbled"
    for result in results:
        assert no_card_number(result) and prints_on_a_receipt(result)
        assert result.outcome in Outcome


SALE_REQUEST = transbank.frame(["0200", "12500", "F-000123", "0", "1"])
REQUESTS = (SALE_REQUEST, transbank.frame(["0250"]), transbank.frame(["1200", "000101"]))


def assert_only_requests_acks_and_naks(written: bytes) -> None:
    assert written.count(SALE_REQUEST) <= transbank.RETRIES  # never a second sale after the first is taken
    for request in REQUESTS:
        written = written.replace(request, b"")
    assert set(written) <= {transbank.ACK, transbank.NAK}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class ScriptedTerminal:
    """A link whose far end says `stream`, in small chunks; once it has said everything, each read
    is silence that lasts the whole timeout on the fake clock, so no example ever sleeps."""

    def __init__(self, stream: bytes, clock: FakeClock, chunk: int = 9):
        self.stream, self.clock, self.chunk = stream, clock, chunk
        self.offset = 0
        self.written = bytearray()

    def read(self, size: int, timeout: float) -> bytes:
        if self.offset >= len(self.stream):
            self.clock.now += max(timeout, 0.001)
            return b""
        data = self.stream[self.offset:self.offset + min(size, self.chunk)]
        self.offset += len(data)
        return data

    def write(self, data: bytes) -> None:
        self.written += data

    def open(self) -> None: ...
    def close(self) -> None: ...
    def reset_input(self) -> None: ...  # the script is what arrives after the request

    def present(self) -> bool:
        return True


@functools.cache
def payment_adapter() -> PaymentAdapter:
    """One adapter for all examples (each adapter has a worker thread); its link is swapped per example."""
    return PaymentAdapter("payment", "transbank", parse_device_url("serial:///dev/null?timeout=30"),
                          link=ScriptedTerminal(b"", FakeClock()))


def corrupted(raw: bytes) -> bytes:
    return raw[:-1] + bytes([raw[-1] ^ 0x5A]) if raw else raw


terminal_chunks = st.one_of(
    st.binary(max_size=30),
    st.sampled_from([b"\x06", b"\x15", b"\x02", b"\x03"]),
    answer_fields().map(transbank.frame),
    answer_fields().map(transbank.frame).map(corrupted),
)


@given(st.tuples(st.sampled_from([b"\x06", b""]), st.lists(terminal_chunks, max_size=5)).map(
    lambda parts: parts[0] + b"".join(parts[1])), st.sampled_from(["sale", "last_sale", "cancel"]))
@fuzz_settings(short=200, suppress_health_check=[HealthCheck.too_slow])
def test_transbank_adapter_on_any_terminal_stream(stream, operation):
    """The whole adapter path (ACK wait, framing, NAK, progress, answer, reconciliation) against a
    terminal that says anything: a PaymentResult without card numbers, or a DeviceError."""
    count_example("transbank: adapter against any terminal stream")
    adapter = payment_adapter()
    clock = FakeClock()
    terminal = ScriptedTerminal(stream, clock)
    adapter.link = terminal
    with mock.patch.object(transbank, "time", SimpleNamespace(monotonic=clock.monotonic)):
        try:
            if operation == "sale":
                result = adapter.sale(12500, "F-000123")
            elif operation == "last_sale":
                result = adapter.last_sale()
            else:
                result = adapter.cancel("000101")
        except DeviceError as error:
            assert error.code in ("transport.garbled", "transport.timeout"), error
            return
    assert_only_requests_acks_and_naks(bytes(terminal.written))
    event(f"{operation}: {result.outcome if result else 'no answer'}")
    if result is not None:
        assert no_card_number(result) and prints_on_a_receipt(result)
        if operation == "sale" and result.approved:
            assert result.amount == 12500 and result.reference == "F-000123"


@given(st.lists(st.one_of(st.binary(max_size=30), answer_fields().map(transbank.frame),
                          field_run.map(lambda text: transbank.frame(["0200", *text.split("|")[:3]])),
                          field_run.map(lambda text: transbank.frame(["1200", *text.split("|")[:2]]))),
                max_size=4))
@fuzz_settings(short=200)
def test_transbank_simulator_answers_any_bytes(chunks):
    count_example("transbank: simulated terminal fed anything")
    peer = TransbankPeer()
    for chunk in chunks:
        assert isinstance(peer.feed(chunk), bytes)


# ------------------------------------------------------------------ ESC/POS


@given(st.one_of(st.binary(max_size=8), st.lists(st.integers(0, 255).map(lambda b: (b & ~0x93 & 0xFF) | 0x12),
                                                  min_size=4, max_size=4).map(bytes)))
@fuzz_settings(short=300)
def test_escpos_status_reply_on_any_bytes(reply):
    count_example("escpos: DLE EOT status replies")
    state = parse_status(reply)
    assert isinstance(state, PrinterState)
    assert state.answered == (len(reply) == 4 and all(byte & 0x93 == 0x12 for byte in reply))
    adapter = idle_printer_adapter()
    try:
        adapter._apply(state)
    except DeviceError as error:
        assert error.code.startswith("printer.") or error.code == "status_unknown"


@functools.cache
def idle_printer_adapter() -> PrinterAdapter:
    return PrinterAdapter("printer", "escpos", parse_device_url("sim://"))


@given(st.one_of(st.binary(max_size=120), st.lists(st.binary(max_size=50), min_size=3, max_size=4).map(
    lambda parts: b"\x00".join(b"_" + part for part in parts) + b"\x00")))
@fuzz_settings(short=300)
def test_escpos_printer_info_on_any_bytes(reply):
    count_example("escpos: GS I printer info")
    info = parse_printer_info(reply)
    if info is not None:
        assert all(0 < len(text) <= 40 and text.isascii() and text.isprintable() for text in info)


escpos_bytes = st.lists(st.one_of(
    st.binary(max_size=20),
    st.sampled_from([b"\x10\x04\x01", b"\x10\x04\x04", b"\x1bt\x13", b"\x1bt\x05", b"\x1d(k", b"\x1dV\x41\x03",
                     b"\x1dI\x43", b"\x1dv0\x00", b"\n", b"\x1b@"]),
    st.text(max_size=20).map(lambda text: text.encode("cp858", "replace")),
), max_size=8).map(b"".join)


@given(escpos_bytes, st.binary(min_size=1, max_size=30))
@fuzz_settings(short=300)
def test_escpos_decoder_on_any_bytes_in_any_chunks(data, cuts):
    count_example("escpos: decoder and simulated printer")
    whole = decode(data)
    chunked = EscPosDecoder()
    sizes = [byte % 16 + 1 for byte in cuts]
    offset = 0
    for size in sizes * (len(data) // sum(sizes) + 1):
        chunked.feed(data[offset:offset + size])
        offset += size
    assert chunked.finish() == whole  # the wire's chunking never changes what was printed
    assert isinstance(SimPrinter().feed(data), bytes)


# ------------------------------------------------------------------ ID card (APDU, DER, personal data)

INTERESTING_SW = (0x9000, 0x9000, 0x6100, 0x6110, 0x61FF, 0x6C10, 0x6C00, 0x6A82, 0x6B00, 0x6282, 0x6D00, 0x6F00)


def card_script(blob: bytes) -> list[tuple[bytes, int]]:
    """Bytes read as a card's answers: records of [length, data..., selector, (SW1 SW2)]; a
    selector below 160 picks a status word that matters (9000, 61xx, 6Cxx...), else two raw bytes.
    One binary draw per example instead of dozens keeps 100,000 examples quick."""
    answers, index = [], 0
    while index < len(blob):
        size = blob[index] % 41
        data = blob[index + 1:index + 1 + size]
        index += 1 + size
        selector = blob[index] if index < len(blob) else 0
        index += 1
        if selector < 160:
            sw = INTERESTING_SW[selector % len(INTERESTING_SW)]
        else:
            sw = int.from_bytes(blob[index:index + 2].ljust(2, b"\x00"), "big")
            index += 2
        answers.append((data, sw))
    return answers or [(b"", 0x9000)]


stuck_card = st.tuples(st.binary(max_size=40), st.integers(0, 255)).map(lambda t: [(t[0], 0x6100 | t[1])])
card_answers = st.one_of(st.binary(min_size=1, max_size=200).map(card_script), stuck_card)  # stuck: 61xx forever


class ScriptedCard:
    """A card session answering from a script; its last answer repeats for ever (a stuck card)."""

    def __init__(self, answers: list[tuple[bytes, int]]):
        self.answers = answers
        self.calls = 0
        self.atr = b"\x3b\x00"

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        assert self.calls < 100_000, "the reader keeps talking to a stuck card"  # fail, never hang
        return answer

    def disconnect(self) -> None: ...


@given(card_answers, st.binary(min_size=4, max_size=20))
@fuzz_settings(short=300)
def test_apdu_transmit_loop_is_bounded(answers, apdu):
    count_example("card: transmit and GET RESPONSE loop")
    session = ScriptedCard(answers)
    try:
        data, sw = card_reader.transmit(session, apdu)
    except DeviceError as error:
        assert error.code == "card.unreadable"
    else:
        assert isinstance(data, bytes) and 0 <= sw <= 0xFFFF and sw >> 8 != 0x61
    assert session.calls <= 2 + MAX_RESPONSE_ROUNDS


def assert_clean(identity: Identity) -> None:
    for text in (identity.surname, identity.given_names, identity.id_number, identity.document_number):
        assert len(text) <= MAX_TEXT_FIELD and all(char.isprintable() for char in text)
    assert identity.id_number


@given(card_answers, st.sampled_from([read_esteid_personal_data, read_auth_certificate]))
@fuzz_settings(short=300)
def test_id_card_profiles_against_a_card_answering_anything(answers, read):
    count_example("card: profiles against scripted answers")
    session = ScriptedCard(answers)
    try:
        assert_clean(read(session))
    except DeviceError as error:
        assert error.code in ("card.unreadable", "card.foreign")
    # Four files of at most 8 KiB, read in 224-byte chunks, each APDU with at most 16 GET RESPONSEs.
    assert session.calls <= 40 * 5 * (2 + MAX_RESPONSE_ROUNDS)


class FileCard:
    """A T=1 card holding the EstEID personal-data files with arbitrary contents."""

    def __init__(self, files: dict[int, bytes]):
        self.files = files
        self.selected: int | None = None
        self.atr = b"\x3b\x00"

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if apdu[1] == 0xA4:
            data = apdu[5:]
            self.selected = data[1] if len(data) == 2 and data[0] == 0x50 and data[1] in self.files else None
            return b"", 0x9000
        if self.selected is None:
            return b"", 0x6986
        offset, content = (apdu[2] << 8) | apdu[3], self.files[self.selected]
        if offset > len(content):
            return b"", 0x6B00
        return content[offset:offset + apdu[4]], 0x9000

    def disconnect(self) -> None: ...


personal_file = st.one_of(st.binary(max_size=300),
                          st.text(st.characters(exclude_categories=["Cs"]), max_size=60).map(str.encode))


@given(st.fixed_dictionaries({record: personal_file for record in (1, 2, 6, 7)}))
@fuzz_settings(short=300)
def test_esteid_personal_data_with_any_file_contents(files):
    count_example("card: EstEID personal data files")
    try:
        identity = read_esteid_personal_data(FileCard(files))
    except DeviceError as error:
        assert error.code == "card.unreadable" and not personal_data_text(files[6])
        return
    assert_clean(identity)
    assert (identity.surname, identity.given_names, identity.id_number, identity.document_number) == tuple(
        personal_data_text(files[record]) for record in (1, 2, 6, 7))


@given(st.binary(max_size=12))
@fuzz_settings(short=300)
def test_der_length_on_any_bytes(blob):
    count_example("card: DER length")
    try:
        assert der_length(blob) >= 2
    except DeviceError as error:
        assert error.code == "card.unreadable"


@functools.cache
def real_certificate() -> bytes:
    return auth_certificate(CardHolder())


@st.composite
def damaged_certificates(draw) -> bytes:
    der = bytearray(real_certificate())
    for _ in range(draw(st.integers(0, 6))):
        der[draw(st.integers(0, len(der) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(der)))
    return bytes(der[:cut]) + draw(st.binary(max_size=40))


@functools.cache
def signing_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


subject_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=16)  # <= 64 UTF-8 bytes
serial_text = st.one_of(st.text("PNOEIDCAST-0123456789 ", min_size=1, max_size=20), st.just(""))


@st.composite
def subject_certificates(draw) -> bytes:
    """Well-formed certificates whose subject says anything (names with controls, odd serials)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, draw(subject_text))]
    for oid in (NameOID.SURNAME, NameOID.GIVEN_NAME):
        if draw(st.booleans()):
            attributes.append(x509.NameAttribute(oid, draw(subject_text)))
    serial = draw(serial_text)
    if serial:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    key = signing_key()
    when = datetime(2024, 1, 1)
    certificate = (x509.CertificateBuilder().subject_name(x509.Name(attributes))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")]))
                   .public_key(key.public_key()).serial_number(1).not_valid_before(when)
                   .not_valid_after(when.replace(year=2034)).sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.DER) + b"\x00" * draw(st.integers(0, 32))


@given(st.one_of(st.binary(max_size=300), damaged_certificates(), subject_certificates()))
@fuzz_settings(short=200)
def test_identity_from_any_certificate(der):
    count_example("card: authentication certificate")
    try:
        identity = identity_from_certificate(der)
    except DeviceError as error:
        assert error.code == "card.unreadable"
        return
    assert_clean(identity)


@given(st.sampled_from(["normal", "foreign", "t0", "endless", "remove_mid_read"]), st.binary(max_size=30))
@fuzz_settings(short=200)
def test_virtual_card_answers_any_apdu(behaviour, apdu):
    count_example("card: virtual card fed any APDU")
    answer = virtual_card(behaviour).process(apdu)
    assert answer is None or (isinstance(answer, bytes) and len(answer) >= 2)


@functools.cache
def virtual_card(behaviour: str) -> VirtualIdCard:
    return VirtualIdCard(behaviour)
