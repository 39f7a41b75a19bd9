"""Verifying kiosk-signed QR payloads: real receipts, vouchers and collections pass; any other
text, and payloads re-signed with the real key but crafted contents, are refused with a
ReceiptInvalid (never another exception), and `kiosk receipt verify` answers in one line."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import event, given
from hypothesis import strategies as st

from kiosk import cli
from kiosk.catalog import signing
from kiosk.transactions.receipts import (
    COLLECTION_PREFIX,
    KIND_NAMES,
    MAX_CENTS,
    PREFIX,
    VOUCHER_PREFIX,
    ProvisionalReceipt,
    ReceiptInvalid,
    kiosk_key,
    public_key_path,
    sign_document,
    sign_receipt,
    sign_voucher,
    verify_document,
    verify_receipt,
)
from tests.conftest import count_example, fuzz_settings

ROOT = Path(__file__).resolve().parents[2]
ISSUED = dt.datetime(2026, 3, 17, 10, 22, 33)
KIOSK = "kiosk-demo-01"
FOLIO = "DEMO-01-260317-9F3A0C1B"


class Signer:
    """The kiosk's real receipt key (made the way the kiosk makes it) and its public half."""

    def __init__(self, data_dir: Path):
        self.key: Ed25519PrivateKey = kiosk_key(data_dir)
        self.public_path = public_key_path(data_dir)
        self.public: Ed25519PublicKey = signing.parse_public_key(str(self.public_path))
        self.key_id = signing.key_id(self.public)

    def raw(self, prefix: str, body: bytes) -> str:
        """Any bytes as the signed data: what someone holding the key could craft."""
        signature = self.key.sign(prefix.encode() + b"." + body)
        return f"{prefix}.{_b64(body)}.{_b64(signature)}"

    def fields(self, prefix: str, payload: Any) -> str:
        return self.raw(prefix, json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())

    def real(self) -> dict[str, str]:
        return {PREFIX: sign_receipt(self.key, FOLIO, 10000, ISSUED, KIOSK),
                VOUCHER_PREFIX: sign_voucher(self.key, "DEMO-01-V000001", FOLIO, 6000, "cash", ISSUED, KIOSK),
                COLLECTION_PREFIX: sign_document(self.key, COLLECTION_PREFIX, {"n": 3, "r": 150000, "e": 140000,
                                                                               "d": -2500}, ISSUED, KIOSK)}

    def valid_fields(self, prefix: str) -> dict[str, Any]:
        common = {"t": ISSUED.isoformat(timespec="seconds"), "k": KIOSK, "i": self.key_id}
        kind = {PREFIX: {"f": FOLIO, "a": 10000},
                VOUCHER_PREFIX: {"v": "DEMO-01-V000001", "f": FOLIO, "a": 6000, "m": "cash"},
                COLLECTION_PREFIX: {"n": 3, "r": 150000, "e": 140000, "d": -2500}}[prefix]
        return {**common, **kind}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return Signer(tmp_path_factory.mktemp("kiosk-data"))


def test_real_documents_verify_with_their_fields(signer: Signer) -> None:
    real = signer.real()
    assert verify_receipt(real[PREFIX], signer.public) == ProvisionalReceipt(FOLIO, 10000, "2026-03-17T10:22:33",
                                                                             KIOSK, signer.key_id)
    for prefix, text in real.items():
        assert verify_document(text, signer.public) == (prefix, signer.valid_fields(prefix))
        assert verify_document(f"  {text}\n", signer.public)[0] == prefix  # as a scanner may hand it over


@pytest.mark.parametrize("prefix, changes, refused", [
    (PREFIX, {"a": True}, "its amount is malformed"),
    (PREFIX, {"a": 100.5}, "its amount is malformed"),
    (PREFIX, {"a": 100.0}, "its amount is malformed"),
    (PREFIX, {"a": "10000"}, "its amount is malformed"),
    (PREFIX, {"a": -1}, "its amount is malformed"),
    (PREFIX, {"a": MAX_CENTS + 1}, "its amount is malformed"),
    (PREFIX, {"f": "DEMO\n01"}, "its folio is malformed"),
    (PREFIX, {"f": "\x1b[2J"}, "its folio is malformed"),
    (PREFIX, {"f": ""}, "its folio is malformed"),
    (PREFIX, {"f": {"x": 1}}, "its folio is malformed"),
    (PREFIX, {"f": "x" * 65}, "its folio is malformed"),
    (PREFIX, {"t": "yesterday"}, "its time is malformed"),
    (PREFIX, {"t": "2026-13-40T25:61:61"}, "its time is malformed"),
    (PREFIX, {"t": None}, "its time is malformed"),
    (PREFIX, {"k": "kiosk 01"}, "its kiosk id is malformed"),
    (PREFIX, {"i": "0123456789abcdef"}, "names another key"),
    (PREFIX, {"i": 7}, "its key id is malformed"),
    (PREFIX, {"x": 1}, "1 fields a kiosk never signs"),
    (PREFIX, {"a": None, "f": None}, "its folio is malformed"),
    (VOUCHER_PREFIX, {"a": "abc"}, "its amount is malformed"),  # crashed `kiosk receipt verify` before
    (VOUCHER_PREFIX, {"m": "CASH; rm -rf /"}, "its payment method is malformed"),
    (VOUCHER_PREFIX, {"v": ["V1"]}, "its voucher number is malformed"),
    (COLLECTION_PREFIX, {"r": 1e308}, "its amount received is malformed"),
    (COLLECTION_PREFIX, {"n": False}, "its collection number is malformed"),
    (COLLECTION_PREFIX, {"d": -MAX_CENTS - 1}, "its net amount is malformed"),
])
def test_a_valid_signature_over_malformed_fields_is_refused(signer: Signer, prefix: str, changes: dict[str, Any],
                                                            refused: str) -> None:
    crafted = signer.fields(prefix, {**signer.valid_fields(prefix), **changes})
    with pytest.raises(ReceiptInvalid, match=re.escape(refused)):
        verify_document(crafted, signer.public)


@pytest.mark.parametrize("body, refused", [
    (b"[1,2]", "not JSON a kiosk writes"),
    (b'"text"', "not JSON a kiosk writes"),
    (b"NaN", "not JSON a kiosk writes"),
    (b'{"a":NaN}', "not JSON a kiosk writes"),
    (b"[" * 2500, "not JSON a kiosk writes"),  # deeper than Python recurses
    (b"\xff\xfe{}", "not JSON a kiosk writes"),
    (b"", "not readable"),
    (b'{"a": 1}', "not JSON a kiosk writes"),  # not canonical
    (b'{"f":"A","f":"B"}', "not JSON a kiosk writes"),  # a key twice
    (b"{}", "lacks its time, kiosk id, key id, folio, amount"),
])
def test_a_valid_signature_over_crafted_bytes_is_refused(signer: Signer, body: bytes, refused: str) -> None:
    with pytest.raises(ReceiptInvalid, match=re.escape(refused)):
        verify_document(signer.raw(PREFIX, body), signer.public)


def test_one_kind_cannot_pass_for_another(signer: Signer) -> None:
    real = signer.real()
    _, body, signature = real[VOUCHER_PREFIX].split(".")
    with pytest.raises(ReceiptInvalid, match="signature does not match"):
        verify_document(f"{PREFIX}.{body}.{signature}", signer.public)
    with pytest.raises(ReceiptInvalid, match="lacks its folio"):  # the right key, the wrong kind's fields
        verify_document(signer.fields(PREFIX, signer.valid_fields(COLLECTION_PREFIX)), signer.public)
    with pytest.raises(ReceiptInvalid, match="not a kiosk receipt payload"):
        verify_receipt(real[VOUCHER_PREFIX], signer.public)


@pytest.mark.parametrize("text, refused", [
    ("", "not a kiosk document payload"),
    ("hello", "not a kiosk document payload"),
    ("KR2.a.b", "not a kiosk document payload"),
    ("KR1.a.b.c", "not a kiosk document payload"),
    ("KR1..", "not readable"),
    ("KR1.e30.!!!!", "not readable"),
    ("KR1.e30=.AAAA", "not readable"),
    ("KR1.A.AAAA", "not readable"),  # a length base64 cannot have
    ("KR1.ñ.AAAA", "not readable"),
    ("KR1.\udcff.AAAA", "not readable"),  # invalid UTF-8 in a command-line argument
    ("KR1.e30.AAAA", "signature does not match"),
    ("KR1." + "A" * 5000 + ".AAAA", "longer than any QR code holds"),
])
def test_text_that_is_no_payload_is_refused(signer: Signer, text: str, refused: str) -> None:
    with pytest.raises(ReceiptInvalid, match=re.escape(refused)):
        verify_document(text, signer.public)


# ---- the command, in this process (fast enough for every generated example) ----------------

@pytest.fixture(scope="module", autouse=True)
def _one_parser() -> Iterator[None]:
    """main() builds the whole `kiosk` parser (~30 ms) at every call: build it once here."""
    parser = cli.build_parser()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "build_parser", lambda: parser)
        yield


def _command(signer: Signer, payload: str) -> tuple[int, list[str]]:
    """`kiosk receipt verify --public-key FILE -- PAYLOAD`: exit status and every line printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["receipt", "verify", "--public-key", str(signer.public_path), "--", payload])
    return status, (out.getvalue() + err.getvalue()).splitlines()


def _answers_in_one_line(signer: Signer, payload: str) -> tuple[int, str]:
    status, lines = _command(signer, payload)
    assert status in (0, 1) and len(lines) == 1, (status, lines)
    assert lines[0].startswith("kiosk: receipt NOT valid: ") == (status == 1), lines
    return status, lines[0]


def test_the_command_says_what_a_real_document_holds(signer: Signer) -> None:
    real = signer.real()
    assert _answers_in_one_line(signer, real[PREFIX]) == (
        0, f"receipt valid: folio {FOLIO}, amount 100.00, issued 2026-03-17T10:22:33, kiosk {KIOSK}")
    assert _answers_in_one_line(signer, real[VOUCHER_PREFIX])[1].startswith(
        "refund voucher valid: DEMO-01-V000001, folio DEMO-01-260317-9F3A0C1B, amount 60.00, paid by cash")
    assert _answers_in_one_line(signer, real[COLLECTION_PREFIX])[1].startswith(
        "cash collection valid: number 3, received 1500.00, expected in the box 1400.00, net -25.00")


# ---- the command as a technician runs it: a real process ------------------------------------

def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", "receipt", "verify", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def _one_line_refusal(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert result.returncode == status and "Traceback" not in result.stderr, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and not result.stdout, (result.stdout, result.stderr)
    return lines[0]


def test_crafted_payloads_get_one_line_and_status_1_from_the_command(signer: Signer) -> None:
    key = ("--public-key", str(signer.public_path))
    voucher = signer.fields(VOUCHER_PREFIX, {**signer.valid_fields(VOUCHER_PREFIX), "a": "abc"})
    assert "its amount is malformed" in _one_line_refusal(_run(*key, voucher), 1)  # a ValueError traceback before
    receipt = signer.fields(PREFIX, {**signer.valid_fields(PREFIX), "a": True})
    assert "its amount is malformed" in _one_line_refusal(_run(*key, receipt), 1)  # "amount 0.01" before
    deep = signer.raw(PREFIX, b"[" * 2500)
    assert "not JSON a kiosk writes" in _one_line_refusal(_run(*key, deep), 1)
    for text, refused in (("hola", "not a kiosk document"), ("KR1.%%%.AAAA", "not readable"),
                          ("KR1." + "A" * 100_000 + ".AAAA", "longer than any QR code holds")):
        assert refused in _one_line_refusal(_run(*key, text), 1)


def test_an_unusable_public_key_is_status_2_in_one_line(signer: Signer, tmp_path: Path) -> None:
    (tmp_path / "garbage.pub").write_text("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    real = signer.real()[PREFIX]
    for source in (str(tmp_path / "garbage.pub"), str(tmp_path / "missing\n.pub"), str(tmp_path)):
        assert _one_line_refusal(_run("--public-key", source, real), 2).startswith("kiosk: public key: ")


# ---- properties ---------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=8)
FIELD_KEYS = st.sampled_from(["f", "a", "t", "k", "i", "v", "m", "n", "r", "e", "d", "x", ""])


def _accepted_fields_are_well_formed(prefix: str, payload: dict[str, Any], signer: Signer) -> None:
    """What the test itself demands of anything the verifier accepts (not the verifier's code)."""
    expected_keys = {"t", "k", "i"} | {PREFIX: {"f", "a"}, VOUCHER_PREFIX: {"v", "f", "a", "m"},
                                       COLLECTION_PREFIX: {"n", "r", "e", "d"}}[prefix]
    assert set(payload) == expected_keys
    for key, value in payload.items():
        if key in ("a", "n", "r", "e", "d"):
            assert type(value) is int and abs(value) <= MAX_CENTS and (key in "ed" or value >= 0)
        else:
            assert isinstance(value, str) and value.isascii() and value.isprintable() and " " not in value
    assert payload["i"] == signer.key_id
    dt.datetime.fromisoformat(payload["t"])


@pytest.mark.fuzz
@fuzz_settings()
@given(text=st.text(max_size=300) | st.from_regex(r"K[RVC]1\.[A-Za-z0-9_=.-]{0,60}", fullmatch=True))
def test_any_text_is_refused_in_one_line(signer: Signer, text: str) -> None:
    count_example("receipt verify over arbitrary text")
    with pytest.raises(ReceiptInvalid):
        verify_document(text, signer.public)
    assert _answers_in_one_line(signer, text)[0] == 1


@pytest.mark.fuzz
@fuzz_settings()
@given(kind=st.sampled_from(sorted(KIND_NAMES)), position=st.integers(min_value=0), edit=st.sampled_from(
    ["replace", "insert", "delete", "truncate"]), char=st.characters())
def test_an_altered_real_payload_is_refused_or_unchanged(signer: Signer, kind: str, position: int, edit: str,
                                                         char: str) -> None:
    count_example("receipt verify over altered real payloads")
    original = signer.real()[kind]
    at = position % (len(original) + 1)
    altered = {"replace": original[:at] + char + original[at + 1:], "insert": original[:at] + char + original[at:],
               "delete": original[:at] + original[at + 1:], "truncate": original[:at]}[edit]
    try:
        accepted = verify_document(altered, signer.public)
    except ReceiptInvalid:
        assert _answers_in_one_line(signer, altered)[0] == 1
    else:  # only what changes nothing may pass (whitespace around it)
        assert altered.strip() == original and accepted == verify_document(original, signer.public)


# Values near what a kiosk signs (whole cents near the limits, codes, times) besides any JSON.
FIELD_VALUES = JSON_VALUES | st.integers(min_value=-2 * MAX_CENTS, max_value=2 * MAX_CENTS) | st.from_regex(
    r"[A-Za-z0-9_ .-]{0,70}", fullmatch=True) | st.datetimes(timezones=st.none() | st.just(dt.UTC)).map(
    lambda moment: moment.isoformat(timespec="seconds")) | st.from_regex(r"[0-9a-f]{16}", fullmatch=True)


@pytest.mark.fuzz
@fuzz_settings()
@given(kind=st.sampled_from(sorted(KIND_NAMES)), data=st.data())
def test_a_resigned_crafted_payload_is_never_trusted_when_malformed(signer: Signer, kind: str,
                                                                   data: st.DataObject) -> None:
    count_example("receipt verify over re-signed crafted payloads")
    own = st.sampled_from(sorted(signer.valid_fields(kind)))
    changes = data.draw(st.dictionaries(own | FIELD_KEYS, FIELD_VALUES, max_size=3), label="changes")
    removed = data.draw(st.sets(own | FIELD_KEYS, max_size=1), label="removed")
    canonical = data.draw(st.sampled_from([True, True, True, False]), label="canonical")
    payload = {key: value for key, value in {**signer.valid_fields(kind), **changes}.items() if key not in removed}
    body = json.dumps(payload, separators=(",", ":") if canonical else (", ", ": "), sort_keys=canonical).encode()
    crafted = signer.raw(kind, body)
    try:
        prefix, accepted = verify_document(crafted, signer.public)
    except ReceiptInvalid as refused:
        event(f"refused: {str(refused).split(':')[0][:40]}")
        assert _answers_in_one_line(signer, crafted)[0] == 1
        return
    event("accepted")
    assert prefix == kind
    _accepted_fields_are_well_formed(kind, accepted, signer)
    assert _answers_in_one_line(signer, crafted)[0] == 0
