"""Provisional receipts: a QR payload the kiosk signs with its own Ed25519 key.

While a transaction is not yet confirmed by the API (offline, or still queued), the receipt's
QR carries `KR1.<payload>.<signature>` (both base64url without padding), where the payload is
compact JSON {"f": folio, "a": amount_cents, "t": ISO time, "k": kiosk id, "i": key id}. Anyone
with the kiosk's public key (DATA/receipt-key/signing.pub) can check it offline:
`kiosk receipt verify PAYLOAD [--public-key FILE]`.

The same key signs the attendant's documents, each under its own prefix so a signature made for
one kind can never pass for another (the prefix is part of the signed bytes):
`KV1` refund vouchers {"v": voucher number, "f": folio, "a": amount_cents, "m": method, "t",
"k", "i"} and `KC1` cash-collection receipts {"n": collection number, "r": received, "e":
expected in the box, "d": net for the treasury, "t", "k", "i"} (amounts in cents).

Verification trusts nothing it did not check: any text gets a ReceiptInvalid saying why, and a
valid signature is not enough. The payload must also be exactly what a kiosk signs: canonical
JSON with the kind's fields and no others, each of its type and form (a folio of letters, digits
and dashes; amounts in whole cents, never booleans or fractions; an ISO time; this key's id).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.catalog import signing
from kiosk.core.errors import TransactionError

PREFIX = "KR1"
VOUCHER_PREFIX = "KV1"
COLLECTION_PREFIX = "KC1"
KIND_NAMES = {PREFIX: "receipt", VOUCHER_PREFIX: "refund voucher", COLLECTION_PREFIX: "cash collection"}
KEY_DIR = "receipt-key"
MAX_PAYLOAD_CHARS = 4296  # the most any QR code holds (version 40, alphanumeric)
MAX_CENTS = 10 ** 12  # ten billion pesos: far beyond any kiosk amount


class ReceiptInvalid(TransactionError, ValueError):
    code = "receipt.invalid"


@dataclass(frozen=True)
class ProvisionalReceipt:
    folio: str
    amount_cents: int
    issued_at: str
    kiosk_id: str
    key_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    """Strict: only the one canonical spelling of the bytes (unused low bits zero), so no other
    string can pass for a signed payload."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not the canonical base64url of its bytes")
    return data


def kiosk_key(data_dir: Path) -> Ed25519PrivateKey:
    """The kiosk's receipt key, generated (0600) in DATA/receipt-key on first use."""
    directory = data_dir / KEY_DIR
    if not (directory / "signing.key").exists():
        signing.generate_keys(directory)
    return signing.load_private_key(directory / "signing.key")


def public_key_path(data_dir: Path) -> Path:
    return data_dir / KEY_DIR / "signing.pub"


def sign_document(key: Ed25519PrivateKey, prefix: str, fields: dict[str, Any], issued_at: dt.datetime,
                  kiosk_id: str) -> str:
    """`prefix.<payload>.<signature>`: the payload is `fields` plus time, kiosk and key id."""
    payload = dict(fields, t=issued_at.isoformat(timespec="seconds"), k=kiosk_id, i=signing.key_id(key.public_key()))
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    signature = key.sign(prefix.encode() + b"." + raw)
    return f"{prefix}.{_b64(raw)}.{_b64(signature)}"


def sign_receipt(key: Ed25519PrivateKey, folio: str, amount_cents: int, issued_at: dt.datetime,
                 kiosk_id: str) -> str:
    return sign_document(key, PREFIX, {"f": folio, "a": amount_cents}, issued_at, kiosk_id)


def sign_voucher(key: Ed25519PrivateKey, number: str, folio: str, amount_cents: int, method: str,
                 issued_at: dt.datetime, kiosk_id: str) -> str:
    return sign_document(key, VOUCHER_PREFIX, {"v": number, "f": folio, "a": amount_cents, "m": method},
                         issued_at, kiosk_id)


def verify_document(text: str, public: Ed25519PublicKey) -> tuple[str, dict[str, Any]]:
    """Check any kiosk-signed QR payload; returns (prefix, payload) or raises ReceiptInvalid."""
    if len(text) > MAX_PAYLOAD_CHARS:
        raise ReceiptInvalid(f"{len(text)} characters: longer than any QR code holds")
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] not in KIND_NAMES:
        raise ReceiptInvalid(f"not a kiosk document payload (expected {'|'.join(KIND_NAMES)}.<data>.<signature>)")
    if not all(_BASE64URL.fullmatch(part) for part in parts[1:]):
        raise ReceiptInvalid("the payload is not readable (its data and signature must be base64url)")
    try:
        raw, signature = _unb64(parts[1]), _unb64(parts[2])
    except (binascii.Error, ValueError):
        raise ReceiptInvalid("the payload is not readable (its data and signature must be base64url)") from None
    try:
        public.verify(signature, parts[0].encode() + b"." + raw)
    except InvalidSignature:
        raise ReceiptInvalid("the signature does not match: altered, or signed by another kiosk") from None
    return parts[0], _signed_fields(parts[0], raw, public)


def verify_receipt(text: str, public: Ed25519PublicKey) -> ProvisionalReceipt:
    """Check a provisional receipt's QR payload; raises ReceiptInvalid saying why."""
    if not text.strip().startswith(PREFIX + "."):
        raise ReceiptInvalid(f"not a kiosk receipt payload (expected {PREFIX}.<data>.<signature>)")
    _prefix, payload = verify_document(text, public)
    return ProvisionalReceipt(payload["f"], payload["a"], payload["t"], payload["k"], payload["i"])


# ---- what a kiosk signs, field by field -------------------------------------------------------

_BASE64URL = re.compile(r"[A-Za-z0-9_-]{1,8000}")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # folios, voucher numbers and kiosk ids (config's pattern)
_METHOD = re.compile(r"[a-z_]{1,16}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([+-][0-9]{2}:[0-9]{2})?")


def _matches(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None


def _cents(minimum: int) -> Callable[[Any], bool]:
    # bool is an int in Python, and a float is not a whole number of cents: neither is an amount.
    return lambda value: type(value) is int and minimum <= value <= MAX_CENTS


def _iso_time(value: Any) -> bool:
    if not _matches(_ISO_TIME)(value):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:  # (a 13th month, a 25th hour)
        return False
    return True


_COMMON_FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "t": ("time", _iso_time), "k": ("kiosk id", _matches(_CODE)), "i": ("key id", _matches(_KEY_ID))}
_FIELDS: dict[str, dict[str, tuple[str, Callable[[Any], bool]]]] = {
    PREFIX: {"f": ("folio", _matches(_CODE)), "a": ("amount", _cents(0))},
    VOUCHER_PREFIX: {"v": ("voucher number", _matches(_CODE)), "f": ("folio", _matches(_CODE)),
                     "a": ("amount", _cents(0)), "m": ("payment method", _matches(_METHOD))},
    COLLECTION_PREFIX: {"n": ("collection number", _cents(0)), "r": ("amount received", _cents(0)),
                        "e": ("amount expected in the box", _cents(-MAX_CENTS)),
                        "d": ("net amount", _cents(-MAX_CENTS))},
}


def _signed_fields(prefix: str, raw: bytes, public: Ed25519PublicKey) -> dict[str, Any]:
    """The payload a valid signature covers, refused unless it is exactly what a kiosk signs."""
    try:
        payload = json.loads(raw, parse_constant=_no_constant)
        canonical = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    except (ValueError, RecursionError):
        raise ReceiptInvalid("signed, but the payload is not JSON a kiosk writes") from None
    if not isinstance(payload, dict) or canonical != raw:
        raise ReceiptInvalid("signed, but the payload is not JSON a kiosk writes")
    rules = {**_COMMON_FIELDS, **_FIELDS[prefix]}
    missing = [name for key, (name, _check) in rules.items() if key not in payload]
    if missing:
        raise ReceiptInvalid(f"signed, but the payload lacks its {', '.join(missing)}")
    if len(payload) != len(rules):
        raise ReceiptInvalid(f"signed, but the payload has {len(payload) - len(rules)} fields a kiosk never signs")
    for key, (name, check) in rules.items():
        if not check(payload[key]):
            raise ReceiptInvalid(f"signed, but its {name} is malformed: not a {KIND_NAMES[prefix]} a kiosk issues")
    if payload["i"] != signing.key_id(public):
        raise ReceiptInvalid("signed, but it names another key than the one that verified it")
    return payload


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
