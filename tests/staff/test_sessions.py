"""Staff sessions: audited logins and refusals, idle lock on an injected clock, permissions
with separation of duties, listeners."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.staff.access import StaffAccess
from kiosk.staff.audit import AuditLog, AuditUnavailable
from kiosk.staff.model import (
    ALL_PERMISSIONS,
    PERMISSIONS,
    NoSession,
    NotPermitted,
    StaffLocked,
    StaffMember,
    WrongPin,
)
from kiosk.staff.sessions import StaffSessions
from tests.staff.conftest import PIN, Clock

ANA = StaffMember("1042", "Ana Ruiz", "attendant")
BO = StaffMember("7", "Bo Díaz", "technician")
BO_PIN = "5550193"


@pytest.fixture
def monotonic() -> Clock:
    return Clock(500.0)


@pytest.fixture
def sessions(access: StaffAccess, audit: AuditLog, monotonic: Clock) -> Iterator[StaffSessions]:
    access.add(ANA.staff_id, ANA.name, ANA.role, PIN)
    access.add(BO.staff_id, BO.name, BO.role, BO_PIN)
    yield StaffSessions(access, audit, idle_s=120, now=monotonic)


def _actions(audit: AuditLog) -> list[tuple[str, str, dict[str, object]]]:
    return [(entry.actor, entry.action, entry.details) for entry in audit.tail(100)]


def test_login_record_logout_are_audited(sessions: StaffSessions, audit: AuditLog) -> None:
    assert sessions.current is None
    assert sessions.login("1042", PIN) == ANA and sessions.current == ANA
    sessions.record("receipt.reprint", folio="EMO-01-261121-C0BA")
    sessions.logout()
    sessions.logout()  # a second logout is a no-op
    assert sessions.current is None
    assert _actions(audit) == [
        ("staff:1042", "staff.login", {"role": "attendant"}),
        ("staff:1042", "receipt.reprint", {"folio": "EMO-01-261121-C0BA"}),
        ("staff:1042", "staff.logout", {"reason": "logout"}),
    ]
    assert audit.verify().ok


def test_failures_and_refusals_are_audited_without_the_pin(sessions: StaffSessions, audit: AuditLog) -> None:
    with pytest.raises(WrongPin):
        sessions.login("1042", "550193")
    with pytest.raises(WrongPin):
        sessions.login(PIN, PIN)  # the PIN typed into the id field: it must not be recorded anywhere
    for _ in range(4):
        with pytest.raises((WrongPin, StaffLocked)):
            sessions.login("1042", "550193")
    with pytest.raises(StaffLocked):
        sessions.login("1042", PIN)
    actions = _actions(audit)
    assert actions[0] == ("kiosk", "staff.login_failed", {"attempts_left": 4, "staff_id": "1042"})
    assert actions[1] == ("kiosk", "staff.login_failed", {"attempts_left": 4})  # its own number's count
    assert [action for _, action, _ in actions[5:]] == ["staff.locked_out", "staff.login_refused"]
    assert actions[5][2] == {"minutes": 30.0, "staff_id": "1042"}
    assert actions[6][2]["reason"] == "locked"
    assert sessions.current is None
    assert PIN not in repr(actions) and "550193" not in repr(actions)


def test_the_session_locks_itself_after_idle_seconds(sessions: StaffSessions, audit: AuditLog,
                                                     monotonic: Clock) -> None:
    assert sessions.check_idle() is False  # no session: nothing to lock
    sessions.login("1042", PIN)
    monotonic.advance(119)
    assert sessions.check_idle() is False and sessions.seconds_until_idle() == pytest.approx(1)
    sessions.touched()
    monotonic.advance(119)
    assert sessions.check_idle() is False
    sessions.record("cash.count", amount_cents=50000)  # recording counts as activity
    monotonic.advance(119)
    assert sessions.check_idle() is False
    monotonic.advance(1)
    assert sessions.check_idle() is True and sessions.current is None
    assert sessions.check_idle() is False and sessions.seconds_until_idle() is None
    assert _actions(audit)[-1] == ("staff:1042", "staff.logout", {"reason": "idle"})


def test_idle_seconds_can_change_while_running(sessions: StaffSessions, monotonic: Clock) -> None:
    sessions.login("1042", PIN)
    sessions.idle_s = 360  # assisted mode: three times longer
    monotonic.advance(300)
    assert sessions.check_idle() is False
    monotonic.advance(60)
    assert sessions.check_idle() is True


def test_attendants_handle_money_technicians_the_machine(sessions: StaffSessions, audit: AuditLog) -> None:
    assert PERMISSIONS["attendant"] == {"help_requests", "assisted", "reprint", "resolve", "cash"}
    assert PERMISSIONS["technician"] == {"diagnostics", "device_tests", "force_sync", "restart", "help_requests"}
    assert ANA.can("cash") and not BO.can("cash") and BO.can("restart") and not ANA.can("restart")
    assert not StaffMember("1", "X", "mayor").can("cash")
    with pytest.raises(NoSession):
        sessions.require("cash")
    sessions.login("1042", PIN)
    for permission in sorted(ALL_PERMISSIONS):
        if ANA.can(permission):
            assert sessions.require(permission) == ANA
        else:
            with pytest.raises(NotPermitted):
                sessions.require(permission)
    sessions.login("7", BO_PIN)  # replaces Ana's session
    assert sessions.current == BO
    for money in ("cash", "resolve", "reprint", "assisted"):
        with pytest.raises(NotPermitted, match="technician may not"):
            sessions.require(money)
    assert sessions.require("help_requests") == BO
    with pytest.raises(ValueError):
        sessions.require("cassh")  # a typo is a bug, not a refusal
    actions = _actions(audit)
    assert ("staff:1042", "staff.logout", {"reason": "replaced"}) in actions
    assert ("staff:7", "staff.denied", {"permission": "cash"}) in actions


def test_recording_needs_a_session(sessions: StaffSessions) -> None:
    with pytest.raises(NoSession):
        sessions.record("receipt.reprint", folio="X")
    assert issubclass(NoSession, NotPermitted)


def test_listeners_hear_login_and_logout(sessions: StaffSessions, monotonic: Clock) -> None:
    heard: list[StaffMember | None] = []
    unsubscribe = sessions.on_change(heard.append)
    sessions.on_change(lambda member: 1 / 0)  # a broken listener does not break the session
    sessions.login("1042", PIN)
    monotonic.advance(120)
    sessions.check_idle()
    unsubscribe()
    sessions.login("1042", PIN)
    assert heard == [ANA, None]


def test_a_login_that_cannot_be_recorded_is_refused(sessions: StaffSessions, access: StaffAccess,
                                                    tmp_path) -> None:
    sessions.audit = AuditLog(tmp_path / "missing-dir" / "file-in-the-way" / "audit.sqlite", b"k" * 32)
    (tmp_path / "missing-dir").mkdir()
    (tmp_path / "missing-dir" / "file-in-the-way").write_text("a file where a directory should be")
    with pytest.raises(AuditUnavailable):
        sessions.login("1042", PIN)
    assert sessions.current is None
    with pytest.raises(WrongPin):  # failures are still refused even when they cannot be recorded
        sessions.login("1042", "550193")
