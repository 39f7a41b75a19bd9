"""Staff PINs: argon2id over HMAC-SHA256(pepper, PIN), and the rules a new PIN must meet.

A 6-digit PIN has only 10^6 values, so a stolen staff.sqlite would fall to an offline search in
hours whatever the hash. The pepper (kiosk/staff/secrets.py) lives outside the database, so the
hashes alone are useless; argon2id at OWASP's minimum (m=19 MiB, t=2, p=1) keeps each guess
costly even for someone who has both. The online guess budget is the lockout's job (store.py).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import threading
from typing import Any

from kiosk.staff.model import WeakPin

TIME_COST = 2
MEMORY_KIB = 19 * 1024
PARALLELISM = 1
HASH_BYTES = 32
SALT_BYTES = 16
MAX_PIN_DIGITS = 16

# An argon2id hash of random bytes with the same parameters: unknown staff ids are verified
# against it so that they take as long as known ones (no way to find valid ids by timing).
DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$ogyfuUJr5MHItv/VvoGumg$ah4x9jAjshd1hkIgeJdWj7HxDp9BH5bLpPcZzxeaCgQ"

# Notorious PINs that the pattern rules below do not catch (keypad shapes, doubled runs).
_COMMON = frozenset({"112233", "111222", "147258", "258369", "159753", "753951", "789456", "456789123",
                     "147258369", "102030", "010203", "123321", "654456"})

_hasher: Any = None
_hasher_lock = threading.Lock()


def _password_hasher() -> Any:
    # argon2 (cffi) loads on first use so that `kiosk --version` and the CLI parser stay light.
    global _hasher
    with _hasher_lock:
        if _hasher is None:
            from argon2 import PasswordHasher, Type

            _hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM,
                                     hash_len=HASH_BYTES, salt_len=SALT_BYTES, type=Type.ID)
        return _hasher


def _peppered(pin: str, pepper: bytes) -> bytes:
    return hmac.new(pepper, pin.encode("utf-8"), hashlib.sha256).digest()


def hash_pin(pin: str, pepper: bytes) -> str:
    """The PHC string `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` of the peppered PIN."""
    return _password_hasher().hash(_peppered(pin, pepper))


def verify_pin(stored: str, pin: str, pepper: bytes) -> bool:
    """True when `pin` matches `stored`. The comparison inside libargon2 is constant-time; a
    damaged stored hash is a mismatch (never an exception that would skip the attempt's cost)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_password_hasher().verify(stored, _peppered(pin, pepper)))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when `stored` was made with other parameters than today's (rehash on next login)."""
    from argon2.exceptions import InvalidHashError

    try:
        return bool(_password_hasher().check_needs_rehash(stored))
    except InvalidHashError:
        return True


def check_pin(pin: str, min_digits: int, staff_id: str = "") -> None:
    """Raise WeakPin unless `pin` is an acceptable new PIN."""
    if not re.fullmatch(r"[0-9]+", pin):
        raise WeakPin("a PIN is made of digits only (0-9)")
    if len(pin) < min_digits:
        raise WeakPin(f"a PIN needs at least {min_digits} digits")
    if len(pin) > MAX_PIN_DIGITS:
        raise WeakPin(f"a PIN has at most {MAX_PIN_DIGITS} digits")
    problem = _weakness(pin)
    if problem:
        raise WeakPin(f"this PIN is too easy to guess: {problem}; choose another")
    if staff_id and pin == staff_id:
        raise WeakPin("the PIN must not be the staff id")


def _weakness(pin: str) -> str:
    if len(set(pin)) == 1:
        return "all its digits are the same"
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {9}):
        return "its digits run in order (like 123456 or 987654)"
    for period in range(2, len(pin) // 2 + 1):
        if len(pin) % period == 0 and pin == pin[:period] * (len(pin) // period):
            return "it repeats a short group (like 121212 or 123123)"
    if pin in _COMMON:
        return "it is one of the most common PINs"
    return ""
