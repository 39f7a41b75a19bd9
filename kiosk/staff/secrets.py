"""The two staff secrets: the PIN pepper and the audit-log HMAC key.

Each comes from a systemd credential when the service has one (`LoadCredentialEncrypted=` puts
it, decrypted, in `$CREDENTIALS_DIRECTORY` on unswappable memory), else from a 0600 file under
`<data_dir>/staff/` that is created with 32 random bytes on first use. Neither is ever kept in
the database it protects: a copy of staff.sqlite alone does not allow an offline PIN search,
and a copy of audit.sqlite alone does not allow forging entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from kiosk.core.errors import StaffError

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
PEPPER_CREDENTIAL = "kiosk-staff-pepper"
AUDIT_KEY_CREDENTIAL = "kiosk-audit-key"
PEPPER_FILE = "pepper"
AUDIT_KEY_FILE = "audit.key"
SECRET_BYTES = 32
MIN_SECRET_BYTES = 16


class SecretProblem(StaffError):
    """A secret exists but cannot be used (unreadable, too short)."""

    code = "staff.secret"


@dataclass(frozen=True, repr=False)
class Secret:
    value: bytes
    source: str  # where it came from, for messages: "credential kiosk-audit-key" or a path

    def fingerprint(self, purpose: str) -> str:
        """A short id that tells two secrets apart without revealing either."""
        return hmac.new(self.value, f"kiosk {purpose} fingerprint".encode(), hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:  # never print the bytes
        return f"Secret(source={self.source!r})"


def staff_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "staff"


def load_pepper(data_dir: Path) -> Secret:
    return _load(PEPPER_CREDENTIAL, staff_dir(data_dir) / PEPPER_FILE)


def load_audit_key(data_dir: Path) -> Secret:
    return _load(AUDIT_KEY_CREDENTIAL, staff_dir(data_dir) / AUDIT_KEY_FILE)


def _load(credential: str, fallback: Path) -> Secret:
    directory = os.environ.get(CREDENTIALS_ENV)
    if directory and (Path(directory) / credential).is_file():
        return _checked(_read(Path(directory) / credential), f"credential {credential}")
    if not fallback.exists():
        _create(fallback)
    return _checked(_read(fallback), str(fallback))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise SecretProblem(f"{path}: {error.strerror or error}") from None


def _checked(value: bytes, source: str) -> Secret:
    if len(value) < MIN_SECRET_BYTES:
        raise SecretProblem(f"{source}: holds {len(value)} bytes, at least {MIN_SECRET_BYTES} are needed")
    return Secret(value, source)


def _create(path: Path) -> None:
    """Write 32 random bytes to a 0600 file atomically; if another process wins the race, keep its."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(descriptor, secrets.token_bytes(SECRET_BYTES))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temporary, path)  # fails if the file appeared meanwhile: never replace a secret in use
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    directory = os.open(path.parent, os.O_RDONLY)
    with contextlib.suppress(OSError):
        os.fsync(directory)
    os.close(directory)
