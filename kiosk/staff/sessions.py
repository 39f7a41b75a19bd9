"""StaffSessions: the one staff session on this kiosk's screen, audited.

    sessions = StaffSessions(access, AuditLog.open(config), config.staff.session_idle_s)
    sessions.on_change(lambda member: ...)    # after login and logout (member None after logout)
    member = sessions.login(staff_id, pin)    # worker thread: ~35 ms of argon2
    sessions.require("cash")                  # NotPermitted / NoSession
    sessions.record("receipt.reprint", folio="EMO-01-261121-C0BA")
    sessions.touched()                        # on every staff touch
    sessions.check_idle()                     # from a clock tick: True when it just locked

Every login, failed login, refusal while locked, logout (with its reason: "logout", "idle",
"replaced") and refused permission goes to the audit log; the PIN never does, and a typed id
only when it exists. A successful login whose audit entry cannot be written is refused: staff
actions must not happen unrecorded. Listeners run in the thread that caused the change (a
worker thread for login): Kivy code must hop to the main thread itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kiosk.core.logs import event
from kiosk.core.threads import Runner, is_ui_thread
from kiosk.staff.access import StaffAccess
from kiosk.staff.audit import AuditEntry, AuditLog
from kiosk.staff.model import (
    ALL_PERMISSIONS,
    NoSession,
    NotPermitted,
    StaffLocked,
    StaffMember,
    StaffUnavailable,
    WrongPin,
)

log = logging.getLogger("kiosk.staff")

PINPAD_ACTOR = "kiosk"  # whoever stands at the PIN pad before a login succeeds

Listener = Callable[[StaffMember | None], None]


class StaffSessions:
    def __init__(self, access: StaffAccess, audit: AuditLog, idle_s: float,
                 now: Callable[[], float] = time.monotonic):
        self.access = access
        self.audit = audit
        self.idle_s = idle_s  # may be changed while running (e.g. longer in assisted mode)
        self._now = now
        self._lock = threading.RLock()
        self._current: StaffMember | None = None
        self._last_touch = 0.0
        self._listeners: list[Listener] = []
        self.record_later: Runner | None = None  # the staff desk's worker (see _audit_off_ui)

    @property
    def current(self) -> StaffMember | None:
        return self._current

    def on_change(self, callback: Listener) -> Callable[[], None]:
        """Call `callback(member_or_None)` after each login and logout; returns an unsubscribe."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    # ---- login and logout ------------------------------------------------------------------

    def login(self, staff_id: str, pin: str) -> StaffMember:
        """Authenticate and open a session (replacing any other). Raises what
        StaffAccess.authenticate raises, or AuditUnavailable when the login cannot be recorded."""
        try:
            member = self.access.authenticate(staff_id, pin)
        except StaffLocked as locked:
            self._audit_refusal(locked)
            raise
        except WrongPin as wrong:
            self._audit_quietly(PINPAD_ACTOR, "staff.login_failed", attempts_left=wrong.attempts_left,
                                **_known(wrong.known_id))
            raise
        with self._lock:
            if self._current is not None:
                self._close("replaced")
            self.audit.append(member.actor, "staff.login", role=member.role)  # no record, no session
            self._current = member
            self._last_touch = self._now()
        self._notify(member)
        return member

    def _audit_refusal(self, locked: StaffLocked) -> None:
        if locked.just_locked:
            self._audit_quietly(PINPAD_ACTOR, "staff.locked_out", minutes=round(locked.seconds_left / 60, 1),
                                **_known(locked.known_id))
        else:
            self._audit_quietly(PINPAD_ACTOR, "staff.login_refused", reason="locked",
                                seconds_left=round(locked.seconds_left), **_known(locked.known_id))

    def logout(self, reason: str = "logout") -> None:
        """End the session (no-op without one). Always succeeds: locking is the safe direction,
        so a failure to record it is logged, not raised."""
        with self._lock:
            if self._current is None:
                return
            self._close(reason)
        self._notify(None)

    def _close(self, reason: str) -> None:
        member, self._current = self._current, None
        if member is not None:
            self._audit_off_ui(member.actor, "staff.logout", reason=reason)

    def touched(self) -> None:
        """The staff member touched the screen: the idle countdown starts again."""
        with self._lock:
            if self._current is not None:
                self._last_touch = self._now()

    def seconds_until_idle(self) -> float | None:
        with self._lock:
            if self._current is None:
                return None
            return max(0.0, self.idle_s - (self._now() - self._last_touch))

    def check_idle(self) -> bool:
        """Lock the session when nobody touched it for `idle_s`; True when it did so now."""
        with self._lock:
            if self._current is None or self._now() - self._last_touch < self.idle_s:
                return False
            self._close("idle")
        self._notify(None)
        return True

    # ---- what the member may do and did ----------------------------------------------------

    def require(self, permission: str) -> StaffMember:
        """The current member if their role has `permission`; else NoSession or NotPermitted
        (a refusal is audited)."""
        if permission not in ALL_PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")
        with self._lock:
            member = self._current
            if member is None:
                raise NoSession(permission)
            if not member.can(permission):
                self._audit_off_ui(member.actor, "staff.denied", permission=permission)
                raise NotPermitted(permission, f"a {member.role} may not do this ({permission})")
            return member

    def record(self, action: str, **details: Any) -> AuditEntry:
        """Audit `action` by the current member (it counts as activity). Raises NoSession without
        a session and AuditUnavailable when it cannot be recorded: do not go ahead then."""
        with self._lock:
            member = self._current
            if member is None:
                raise NoSession()
            self._last_touch = self._now()
            return self.audit.append(member.actor, action, **details)

    # ---- helpers ---------------------------------------------------------------------------

    def _audit_off_ui(self, actor: str, action: str, **details: Any) -> None:
        """A lock, logout or refusal asked on the UI thread is written by `record_later` (the staff
        desk's worker, in order with its other audit writes); the session state changes at once,
        since locking is the safe direction. Elsewhere (a worker, the command line) it is written now."""
        if self.record_later is not None and is_ui_thread():
            self.record_later(lambda: self._audit_quietly(actor, action, **details))
        else:
            self._audit_quietly(actor, action, **details)

    def _audit_quietly(self, actor: str, action: str, **details: Any) -> None:
        try:
            self.audit.append(actor, action, **details)
        except StaffUnavailable as error:  # AuditUnavailable: the refusal itself still stands
            event(log, "staff.audit_failed", logging.ERROR, action=action, problem=str(error))

    def _notify(self, member: StaffMember | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(member)
            except Exception:
                log.exception("staff.listener_failed")


def _known(staff_id: str) -> dict[str, str]:
    return {"staff_id": staff_id} if staff_id else {}


__all__ = ["NoSession", "NotPermitted", "StaffSessions"]
