"""StaffAccess: who may log in, with which PIN, and when nobody may.

    access = StaffAccess(config)
    access.status()                           # LockStatus(locked, seconds_left, attempts_left)
    member = access.authenticate("1042", pin) # StaffMember, or StaffLocked / WrongPin
    access.add("1042", "Ana Ruiz", "attendant", pin); access.remove("1042"); access.members()
    access.unlock(by="shell:root")            # Unlocked(was_locked, attempts_cleared)

`authenticate` takes ~35 ms of argon2 work: call it from a worker thread. It is thread-safe
(attempts are serialised, so the counts are exact within a process; across processes BEGIN
IMMEDIATE keeps them exact too). It never logs or stores the PIN, and it logs a typed staff id
only when that id exists: a PIN typed into the id field must not end up in a log. The lockout
counts the typed number under a keyed hash for the same reason (store.py says how it counts).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from kiosk.core.config import Config, StaffSection
from kiosk.core.logs import event
from kiosk.staff import pins
from kiosk.staff.db import StorageProblem
from kiosk.staff.model import (
    ALL_PERMISSIONS,
    PERMISSIONS,
    ROLES,
    InvalidStaff,
    Lockout,
    LockStatus,
    NoSession,
    NotPermitted,
    StaffAccessError,
    StaffLocked,
    StaffMember,
    StaffUnavailable,
    Unlocked,
    WeakPin,
    WrongPin,
    check_name,
    check_role,
    check_staff_id,
)
from kiosk.staff.secrets import Secret, SecretProblem, load_pepper
from kiosk.staff.store import Outcome, Policy, StaffStore

log = logging.getLogger("kiosk.staff")

DATABASE_NAME = "staff.sqlite"

T = TypeVar("T")


class StaffAccess:
    def __init__(self, config: Config, now: Callable[[], float] = time.time, *, pepper: Secret | None = None):
        self.path = config.data_path / DATABASE_NAME
        self._data_dir = config.data_path
        self._settings = config.staff
        self._policy, self._policy_problem = _policy(config.staff)
        self._now = now
        self._pepper = pepper
        self._pepper_checked = False
        self._store: StaffStore | None = None
        self._db_lock = threading.RLock()  # the one connection, one statement at a time
        self._attempt_lock = threading.Lock()  # one authentication at a time

    # ---- plumbing --------------------------------------------------------------------------

    def _db(self) -> StaffStore:
        """The store, opened on first use (a broken file makes staff access unavailable, not the
        kiosk: the citizen side keeps working)."""
        if self._store is None:
            try:
                self._store = StaffStore(self.path)
            except StorageProblem as error:
                raise StaffUnavailable(str(error)) from None
        return self._store

    def _call(self, operation: Callable[[StaffStore], T]) -> T:
        with self._db_lock:
            try:
                return operation(self._db())
            except StorageProblem as error:
                event(log, "staff.storage_problem", logging.ERROR, problem=str(error))
                raise StaffUnavailable(str(error)) from None

    def _checked_pepper(self) -> bytes:
        """The pepper, refused when the stored hashes were made with another one (a shell command
        run without the service's credential would otherwise make every PIN 'wrong')."""
        with self._db_lock:
            if self._pepper is None:
                try:
                    self._pepper = load_pepper(self._data_dir)
                except (SecretProblem, OSError) as error:
                    raise StaffUnavailable(f"PIN pepper: {error}") from None
            if not self._pepper_checked:
                fingerprint = self._pepper.fingerprint("pepper")
                recorded = self._call(lambda store: store.adopt_pepper(fingerprint))
                if recorded is not None:
                    raise StaffUnavailable(
                        f"the PIN pepper ({self._pepper.source}) is not the one the staff PINs were made with; "
                        "run with the kiosk's credentials (docs/staff.md) or re-add the staff")
                self._pepper_checked = True
            return self._pepper.value

    # ---- the lock --------------------------------------------------------------------------

    def _lockout(self) -> Policy:
        """The lockout policy; a broken one makes staff access unavailable (never open)."""
        if self._policy is None:
            raise StaffUnavailable(f"the [staff] lockout settings cannot be used: {self._policy_problem}")
        return self._policy

    def status(self) -> LockStatus:
        policy = self._lockout()
        return self._call(lambda store: store.status(self._now(), policy))

    def unlock(self, by: str) -> Unlocked:
        """Lift the lock and clear every wrong-PIN count, per number and in total (shell only)."""
        was_locked, cleared = self._call(lambda store: store.unlock(self._now(), by))
        event(log, "staff.unlocked", by=by, was_locked=was_locked, attempts_cleared=cleared)
        return Unlocked(was_locked, cleared)

    def lockouts(self, since: float) -> list[Lockout]:
        """Lockouts that began at or after `since` (wall clock), oldest first."""
        return self._call(lambda store: store.lockouts(since))

    # ---- logging in ------------------------------------------------------------------------

    def authenticate(self, staff_id: str, pin: str) -> StaffMember:
        """The member whose id and PIN these are. Raises StaffLocked (nobody may log in now),
        WrongPin (no such id/PIN pair; unknown ids are indistinguishable) or StaffUnavailable.
        The attempt is counted and committed before the PIN is checked."""
        with self._attempt_lock:
            policy = self._lockout()
            pepper = self._checked_pepper()  # before counting: a setup problem is not a guess
            target = _target(staff_id, pepper)
            attempt = self._call(lambda store: store.begin_attempt(staff_id, target, self._now(), policy))
            if attempt.locked_s > 0:
                if attempt.just_locked:
                    event(log, "staff.locked", logging.WARNING, cause=attempt.cause,
                          minutes=round(attempt.locked_s / 60, 1))
                raise StaffLocked(attempt.locked_s, attempt.just_locked)
            member: StaffMember | None = attempt.member
            # Unknown ids cost one argon2 verification too, against a hash nobody's PIN matches.
            matched = pins.verify_pin(attempt.pin_hash or pins.DUMMY_HASH, pin, pepper)
            matched = matched and member is not None
            outcome = self._call(lambda store: store.finish_attempt(target, attempt.ticket, matched, self._now(),
                                                                    policy))
            return self._settle(member, matched, outcome, attempt.pin_hash, pin, pepper)

    def _settle(self, member: StaffMember | None, matched: bool, outcome: Outcome, stored: str, pin: str,
                pepper: bytes) -> StaffMember:
        known_id = member.staff_id if member is not None else ""
        if outcome.locked_s > 0:
            if outcome.just_locked:
                event(log, "staff.locked", logging.WARNING, cause=outcome.cause,
                      minutes=round(outcome.locked_s / 60, 1))
            raise StaffLocked(outcome.locked_s, outcome.just_locked, known_id)
        if not matched or member is None:
            event(log, "staff.login_failed", staff_id=known_id or "(unknown)",
                  attempts_left=outcome.attempts_left)
            raise WrongPin(outcome.attempts_left, known_id)
        if pins.needs_rehash(stored):  # parameters were raised since this PIN was set
            new_hash = pins.hash_pin(pin, pepper)
            self._call(lambda store: store.set_pin_hash(member.staff_id, new_hash, only_if=stored))
        event(log, "staff.authenticated", staff_id=member.staff_id, role=member.role)
        return member

    # ---- managing staff --------------------------------------------------------------------

    def add(self, staff_id: str, name: str, role: str, pin: str) -> StaffMember:
        """Add a member; raises InvalidStaff (bad or existing id, name, role) or WeakPin."""
        member = StaffMember(staff_id, name.strip(), role)
        check_staff_id(staff_id)
        check_name(name)
        check_role(role)
        pins.check_pin(pin, self._settings.pin_min_digits, staff_id)
        pin_hash = pins.hash_pin(pin, self._checked_pepper())
        self._call(lambda store: store.add(member, pin_hash, self._now()))
        event(log, "staff.added", staff_id=staff_id, role=role)
        return member

    def set_pin(self, staff_id: str, pin: str) -> None:
        """Give a member a new PIN (a forgotten PIN, a periodic change)."""
        check_staff_id(staff_id)
        pins.check_pin(pin, self._settings.pin_min_digits, staff_id)
        pin_hash = pins.hash_pin(pin, self._checked_pepper())
        if not self._call(lambda store: store.set_pin_hash(staff_id, pin_hash)):
            raise InvalidStaff(f"no staff member has id {staff_id}")
        event(log, "staff.pin_changed", staff_id=staff_id)

    def remove(self, staff_id: str) -> None:
        if not self._call(lambda store: store.remove(staff_id)):
            raise InvalidStaff(f"no staff member has id {staff_id}")
        event(log, "staff.removed", staff_id=staff_id)

    def members(self) -> list[StaffMember]:
        return [member for member, _added in self.members_with_dates()]

    def members_with_dates(self) -> list[tuple[StaffMember, float]]:
        """Members with the wall-clock time each was added."""
        return self._call(lambda store: store.members())

    def close(self) -> None:
        with self._db_lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _policy(settings: StaffSection) -> tuple[Policy | None, str]:
    """The lockout policy from [staff], or None and why it cannot be used."""
    try:
        return Policy(settings.lockout_attempts, settings.lockout_minutes * 60, settings.lockout_total_attempts,
                      settings.lockout_total_minutes * 60, settings.lockout_window_minutes * 60), ""
    except (TypeError, ValueError) as problem:
        return None, str(problem)


def _target(staff_id: str, pepper: bytes) -> str:
    """What the lockout counts a typed staff number under: a keyed hash, because what was typed
    may be a PIN (and every typed string, known or not, has to be countable)."""
    typed = staff_id.encode("utf-8", "surrogatepass")
    return hmac.new(pepper, b"kiosk lockout target\0" + typed, hashlib.sha256).hexdigest()[:32]


__all__ = [
    "ALL_PERMISSIONS",
    "PERMISSIONS",
    "ROLES",
    "InvalidStaff",
    "LockStatus",
    "Lockout",
    "NoSession",
    "NotPermitted",
    "StaffAccess",
    "StaffAccessError",
    "StaffLocked",
    "StaffMember",
    "StaffUnavailable",
    "Unlocked",
    "WeakPin",
    "WrongPin",
]
