"""What staff access is made of: members, roles and their permissions, lock status, errors."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiosk.core.errors import StaffError

ATTENDANT = "attendant"
TECHNICIAN = "technician"
ROLES = (ATTENDANT, TECHNICIAN)

# Separation of duties: only attendants handle money (cash, resolving paid-or-not transactions);
# technicians handle the machine. Both can answer a citizen's call for help.
PERMISSIONS: dict[str, frozenset[str]] = {
    ATTENDANT: frozenset({"help_requests", "assisted", "reprint", "resolve", "cash"}),
    TECHNICIAN: frozenset({"diagnostics", "device_tests", "force_sync", "restart", "help_requests"}),
}
ALL_PERMISSIONS = frozenset().union(*PERMISSIONS.values())

STAFF_ID_PATTERN = re.compile(r"[0-9]{1,8}")  # typed on the same PIN pad as the PIN
MAX_NAME_CHARS = 64


@dataclass(frozen=True)
class StaffMember:
    staff_id: str
    name: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

    @property
    def actor(self) -> str:
        """How the audit log names this member."""
        return f"staff:{self.staff_id}"


@dataclass(frozen=True)
class LockStatus:
    locked: bool
    seconds_left: float  # 0 when not locked
    attempts_left: int  # wrong PINs still allowed at any number before the lock (0 while locked)


@dataclass(frozen=True)
class Unlocked:
    """What `kiosk staff unlock` did: lifted a lock or not, and how many counted attempts it cleared."""

    was_locked: bool
    attempts_cleared: int


@dataclass(frozen=True)
class Lockout:
    """One past or current lockout, for `kiosk staff list` and fleet alerts."""

    locked_at: float
    locked_until: float
    unlocked_at: float | None
    unlocked_by: str


class StaffAccessError(StaffError):
    """Base class of everything staff access refuses."""

    code = "staff.refused"


class StaffLocked(StaffAccessError):
    """Too many wrong PINs: nobody can log in for `seconds_left` more seconds. `just_locked` is
    True when the attempt that raised it was the wrong PIN that set the lock."""

    code = "staff.locked"

    def __init__(self, seconds_left: float, just_locked: bool = False, known_id: str = ""):
        self.seconds_left = seconds_left
        self.just_locked = just_locked
        self.known_id = known_id  # the typed id when it exists (for the audit log), else ""
        super().__init__(f"staff access is locked for {_minutes(seconds_left)} more")


class WrongPin(StaffAccessError):
    """The staff id and PIN do not match (an unknown id says the same, on purpose)."""

    code = "staff.wrong_pin"

    def __init__(self, attempts_left: int, known_id: str = ""):
        self.attempts_left = attempts_left
        self.known_id = known_id  # the typed id when it exists (for the audit log), else ""
        attempts = "attempt" if attempts_left == 1 else "attempts"
        super().__init__(f"wrong staff id or PIN ({attempts_left} {attempts} left before the lock)")


class StaffUnavailable(StaffAccessError):
    """Staff access cannot work right now (database or secret problem); the attempt is not counted."""

    code = "staff.unavailable"


class InvalidStaff(StaffAccessError, ValueError):
    """A staff id, name or role that cannot be stored, or an id that exists / does not exist."""

    code = "staff.invalid"


class WeakPin(StaffAccessError, ValueError):
    """A proposed PIN breaks a rule; the message says which, in words a technician can act on."""

    code = "staff.weak_pin"


class NotPermitted(StaffAccessError):
    """The current staff member's role does not include the permission (or nobody is logged in)."""

    code = "staff.not_permitted"

    def __init__(self, permission: str, message: str = ""):
        self.permission = permission
        super().__init__(message or f"not permitted: {permission}")


class NoSession(NotPermitted):
    """An action needs a staff session and there is none (it may have locked itself when idle)."""

    code = "staff.no_session"

    def __init__(self, permission: str = ""):
        super().__init__(permission, "no staff session")


def check_staff_id(staff_id: str) -> None:
    if not STAFF_ID_PATTERN.fullmatch(staff_id):
        raise InvalidStaff("a staff id is 1 to 8 digits (it is typed on the PIN pad)")


def check_name(name: str) -> None:
    if not name.strip() or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise InvalidStaff(f"a name is 1 to {MAX_NAME_CHARS} printable characters")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidStaff(f"a role is one of {', '.join(ROLES)}")


def _minutes(seconds: float) -> str:
    minutes = max(1, int(-(-seconds // 60)))  # round up: "locked for 0 min" would be a lie
    return f"{minutes} min"
