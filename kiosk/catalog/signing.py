"""Ed25519 keys and the signed catalog manifest.

The manifest says which bytes are the catalog: `{type, kind, revision, since, issued_at, expires_at,
length, sha256, digest, count}`. It travels in a DSSE-style envelope
`{"payloadType", "payload" (base64), "signatures": [{"keyid", "sig"}]}`; the signature covers
`PAE(payloadType, payload)` so a manifest can't be replayed as another kind of document, and the
JSON inside is parsed only after the signature checks out. On the wire the envelope rides in the
`Catalog-Manifest` response header, base64url-encoded, next to the body it describes, so a
snapshot and its manifest can never come from two different revisions.

Key files: `signing.key` is PKCS#8 PEM (mode 0600); `signing.pub` is one line, `ed25519:<base64>`,
short enough to paste into `[api] public_key`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.catalog import wire
from kiosk.core.errors import CatalogError

PAYLOAD_TYPE = "application/vnd.kiosk.catalog-manifest+json"
MANIFEST_TYPE = "kiosk-catalog-manifest/1"
MANIFEST_HEADER = "Catalog-Manifest"
MAX_ENVELOPE_BYTES = 16 * 1024
MAX_NESTING = 4  # the envelope is {"signatures": [{...}]}; the manifest is flat
PUBLIC_PREFIX = "ed25519:"


class SignatureError(CatalogError, ValueError):
    """The manifest is missing, malformed, or not signed by the pinned key."""

    code = "catalog.bad_signature"


@dataclass(frozen=True)
class Manifest:
    kind: str  # "snapshot" or "changes"
    revision: int
    since: int | None
    issued_at: dt.datetime
    expires_at: dt.datetime
    length: int
    sha256: str
    digest: str
    count: int
    keyid: str


def _pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# ---- key files --------------------------------------------------------------------------------

def generate_keys(directory: Path, overwrite: bool = False) -> tuple[Path, Path]:
    """Write DIR/signing.key (private, 0600) and DIR/signing.pub; refuse to overwrite by default."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / "signing.key", directory / "signing.pub"
    if not overwrite and (private_path.exists() or public_path.exists()):
        raise FileExistsError(f"{private_path} or {public_path} already exists")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public_path.write_text(public_text(key.public_key()) + "\n", encoding="ascii")
    return private_path, public_path


def public_text(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PUBLIC_PREFIX + base64.b64encode(raw).decode("ascii")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def parse_public_key(value: str, base_dir: Path | None = None) -> Ed25519PublicKey:
    """Accept `ed25519:<base64>`, bare base64, PEM text, or a path to a file holding one of those."""
    value = value.strip()
    if not value:
        raise ValueError("no public key configured: set [api] public_key to the key or to the signing.pub path")
    candidate = _key_from_text(value)
    if candidate is not None:
        return candidate
    path = Path(value)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        content = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"public key is neither a key nor a readable file: {value} ({error})") from None
    candidate = _key_from_text(content)
    if candidate is None:
        raise ValueError(f"{path} does not hold an Ed25519 public key")
    return candidate


def _key_from_text(text: str) -> Ed25519PublicKey | None:
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        return key if isinstance(key, Ed25519PublicKey) else None
    body = text.removeprefix(PUBLIC_PREFIX)
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None
    return Ed25519PublicKey.from_public_bytes(raw) if len(raw) == 32 else None


# ---- manifests ---------------------------------------------------------------------------------

def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_manifest(kind: str, revision: int, body: bytes, digest: str, count: int,
                   since: int | None = None, lifetime: dt.timedelta = dt.timedelta(days=7),
                   now: dt.datetime | None = None) -> dict[str, Any]:
    issued = now or dt.datetime.now(dt.UTC)
    return {"type": MANIFEST_TYPE, "kind": kind, "revision": revision, "since": since,
            "issued_at": _iso(issued), "expires_at": _iso(issued + lifetime), "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(), "digest": digest, "count": count}


def sign_manifest(manifest: dict[str, Any], key: Ed25519PrivateKey) -> str:
    """Return the envelope as a base64url string ready for the `Catalog-Manifest` header."""
    payload = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    signature = key.sign(_pae(PAYLOAD_TYPE, payload))
    envelope = {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
                "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode()}]}
    return base64.urlsafe_b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()


def verify_manifest(header: str | None, public: Ed25519PublicKey) -> Manifest:
    """Check the envelope's signature with the pinned key, then parse the manifest inside.

    Anything may arrive in the header (no key is needed to send it), so the envelope is bounded in
    size and nesting before it is parsed, and every failure is a SignatureError."""
    if not header:
        raise SignatureError("the response carries no signed manifest (Catalog-Manifest header missing)")
    if len(header) > MAX_ENVELOPE_BYTES:
        raise SignatureError("the signed manifest is larger than 16 KiB")
    payload_type, payload, signatures = _read_envelope(header)
    expected_id = key_id(public)
    for entry in signatures:
        if not isinstance(entry, dict) or entry.get("keyid") != expected_id:
            continue
        try:
            public.verify(base64.b64decode(entry.get("sig", ""), validate=True), _pae(payload_type, payload))
        except (InvalidSignature, binascii.Error, ValueError, TypeError):
            raise SignatureError("the manifest signature does not verify with the pinned key") from None
        return _parse_manifest(payload, expected_id)
    raise SignatureError("the manifest is not signed by the pinned key (key id mismatch)")


def _read_envelope(header: str) -> tuple[str, bytes, list[Any]]:
    try:
        raw = base64.urlsafe_b64decode(header.encode("ascii"))
        envelope = wire.loads(raw, MAX_NESTING, "the signed manifest")
    except wire.WireError as error:
        raise SignatureError(str(error)) from None
    except (ValueError, UnicodeEncodeError, binascii.Error):
        raise SignatureError("the signed manifest is not a readable envelope") from None
    if not isinstance(envelope, dict) or type(envelope.get("payloadType")) is not str:
        raise SignatureError("the signed manifest is not a readable envelope")
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise SignatureError(f"the manifest has the wrong payload type {envelope['payloadType'][:80]!r}")
    try:
        payload_text: Any = envelope.get("payload")  # not a string: the TypeError below says so
        payload = base64.b64decode(payload_text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise SignatureError("the signed manifest is not a readable envelope") from None
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise SignatureError("the manifest carries no signature")
    return envelope["payloadType"], payload, signatures


_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_MAX_REVISION = 2**53  # what a JSON number holds exactly everywhere


def _parse_manifest(payload: bytes, keyid: str) -> Manifest:
    """The signed fields, each of exactly the documented type (a signed mistake is still refused)."""
    try:
        data = wire.loads(payload, MAX_NESTING, "the manifest")
        if not isinstance(data, dict) or data.get("type") != MANIFEST_TYPE \
                or data.get("kind") not in ("snapshot", "changes"):
            raise ValueError
        since = data.get("since")
        manifest = Manifest(
            kind=data["kind"], revision=_count(data["revision"], 1),
            since=None if since is None else _count(since, 0),
            issued_at=_parse_time(data["issued_at"]), expires_at=_parse_time(data["expires_at"]),
            length=_count(data["length"], 0), sha256=_matching(data["sha256"], _HEX64),
            digest=_matching(data["digest"], _DIGEST),
            count=_count(data["count"], 0), keyid=keyid)
    except (ValueError, KeyError, TypeError, OverflowError):
        raise SignatureError("the signed manifest has missing or malformed fields") from None
    return manifest


def _count(value: Any, minimum: int) -> int:
    if type(value) is not int or not minimum <= value <= _MAX_REVISION:
        raise ValueError("not a count")
    return value


def _matching(value: Any, pattern: re.Pattern[str]) -> str:
    if type(value) is not str or not pattern.fullmatch(value):
        raise ValueError("malformed")
    return value


def _parse_time(value: Any) -> dt.datetime:
    if type(value) is not str:
        raise ValueError("not a time")
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("naive time")
    return moment.astimezone(dt.UTC)  # raises OverflowError at the ends of the calendar
