"""Staff access: PINs, lockout, staff sessions and the tamper-evident audit log (docs/staff.md).

    from kiosk.staff import AuditLog, StaffAccess, StaffSessions

    access = StaffAccess(config)                       # staff.sqlite: members and the lockout
    audit = AuditLog.open(config)                      # audit.sqlite: hash-chained, append-only
    sessions = StaffSessions(access, audit, config.staff.session_idle_s)

Names are loaded on first use so that importing `kiosk.cli.staff` (the command-line parser)
stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "StaffAccess": "kiosk.staff.access",
    "StaffSessions": "kiosk.staff.sessions",
    "AuditLog": "kiosk.staff.audit",
    "AuditEntry": "kiosk.staff.audit",
    "AuditVerdict": "kiosk.staff.audit",
    "AuditUnavailable": "kiosk.staff.audit",
    "StaffMember": "kiosk.staff.model",
    "LockStatus": "kiosk.staff.model",
    "Lockout": "kiosk.staff.model",
    "PERMISSIONS": "kiosk.staff.model",
    "ALL_PERMISSIONS": "kiosk.staff.model",
    "ROLES": "kiosk.staff.model",
    "ATTENDANT": "kiosk.staff.model",
    "TECHNICIAN": "kiosk.staff.model",
    "StaffAccessError": "kiosk.staff.model",
    "StaffLocked": "kiosk.staff.model",
    "WrongPin": "kiosk.staff.model",
    "StaffUnavailable": "kiosk.staff.model",
    "InvalidStaff": "kiosk.staff.model",
    "WeakPin": "kiosk.staff.model",
    "NotPermitted": "kiosk.staff.model",
    "NoSession": "kiosk.staff.model",
}

if TYPE_CHECKING:
    from kiosk.staff.access import StaffAccess
    from kiosk.staff.audit import AuditEntry, AuditLog, AuditUnavailable, AuditVerdict
    from kiosk.staff.model import (
        ALL_PERMISSIONS,
        ATTENDANT,
        PERMISSIONS,
        ROLES,
        TECHNICIAN,
        InvalidStaff,
        Lockout,
        LockStatus,
        NoSession,
        NotPermitted,
        StaffAccessError,
        StaffLocked,
        StaffMember,
        StaffUnavailable,
        WeakPin,
        WrongPin,
    )
    from kiosk.staff.sessions import StaffSessions


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kiosk.staff' has no attribute {name!r}")


__all__ = [
    "ALL_PERMISSIONS",
    "ATTENDANT",
    "PERMISSIONS",
    "ROLES",
    "TECHNICIAN",
    "AuditEntry",
    "AuditLog",
    "AuditUnavailable",
    "AuditVerdict",
    "InvalidStaff",
    "LockStatus",
    "Lockout",
    "NoSession",
    "NotPermitted",
    "StaffAccess",
    "StaffAccessError",
    "StaffLocked",
    "StaffMember",
    "StaffSessions",
    "StaffUnavailable",
    "WeakPin",
    "WrongPin",
]
