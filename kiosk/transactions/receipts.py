"""Provisional receipts: a QR payload the kiosk signs with its own Ed25519 key.

While a transaction is not yet confirmed by the API (offline, or still queued), the receipt's
QR carries `KR1.<payload>.<signature>` (both base64url without padding), where the payload is
compact JSON {"f": folio, "a": amount_cents, "t": ISO time, "k": kiosk id, "i": key id}. Anyone
with the kiosk's public key (DATA/receipt-key/signing.pub) can check it offline:
`kiosk receipt verify PAYLOAD [--public-key FILE]`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.catalog import signing

PREFIX = "KR1"
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


def sign_receipt(key: Ed25519PrivateKey, folio: str, amount_cents: int, issued_at: dt.datetime,
                 kiosk_id: str) -> str:
    payload = {"f": folio, "a": amount_cents, "t": issued_at.isoformat(timespec="seconds"), "k": kiosk_id,
               "i": signing.key_id(key.public_key())}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    signature = key.sign(PREFIX.encode() + b"." + raw)
    return f"{PREFIX}.{_b64(raw)}.{_b64(signature)}"


def verify_receipt(text: str, public: Ed25519PublicKey) -> ProvisionalReceipt:
    """Check a QR payload; raises ReceiptInvalid saying why."""
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise ReceiptInvalid(f"not a kiosk receipt payload (expected {PREFIX}.<data>.<signature>)")
    try:
        raw, signature = _unb64(parts[1]), _unb64(parts[2])
        payload = json.loads(raw)
    except ValueError:
        raise ReceiptInvalid("the payload is not readable") from None
    try:
        public.verify(signature, PREFIX.encode() + b"." + raw)
    except InvalidSignature:
        raise ReceiptInvalid("the signature does not match: altered, or signed by another kiosk") from None
    try:
        return ProvisionalReceipt(str(payload["f"]), int(payload["a"]), str(payload["t"]), str(payload["k"]),
                                  str(payload["i"]))
    except (KeyError, TypeError, ValueError):
        raise ReceiptInvalid("the payload lacks folio, amount or time") from None
