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
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.catalog import signing

PREFIX = "KR1"
VOUCHER_PREFIX = "KV1"
COLLECTION_PREFIX = "KC1"
KIND_NAMES = {PREFIX: "receipt", VOUCHER_PREFIX: "refund voucher", COLLECTION_PREFIX: "cash collection"}
KEY_DIR = "receipt-key"


class ReceiptInvalid(ValueError):
    pass


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
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] not in KIND_NAMES:
        raise ReceiptInvalid(f"not a kiosk document payload (expected {'|'.join(KIND_NAMES)}.<data>.<signature>)")
    try:
        raw, signature = _unb64(parts[1]), _unb64(parts[2])
        payload = json.loads(raw)
    except ValueError:
        raise ReceiptInvalid("the payload is not readable") from None
    try:
        public.verify(signature, parts[0].encode() + b"." + raw)
    except InvalidSignature:
        raise ReceiptInvalid("the signature does not match: altered, or signed by another kiosk") from None
    if not isinstance(payload, dict) or not {"t", "k", "i"} <= set(payload):
        raise ReceiptInvalid("the payload lacks its time, kiosk or key id")
    return parts[0], payload


def verify_receipt(text: str, public: Ed25519PublicKey) -> ProvisionalReceipt:
    """Check a provisional receipt's QR payload; raises ReceiptInvalid saying why."""
    if not text.strip().startswith(PREFIX + "."):
        raise ReceiptInvalid(f"not a kiosk receipt payload (expected {PREFIX}.<data>.<signature>)")
    _prefix, payload = verify_document(text, public)
    try:
        return ProvisionalReceipt(str(payload["f"]), int(payload["a"]), str(payload["t"]), str(payload["k"]),
                                  str(payload["i"]))
    except (KeyError, TypeError, ValueError):
        raise ReceiptInvalid("the payload lacks folio, amount or time") from None
