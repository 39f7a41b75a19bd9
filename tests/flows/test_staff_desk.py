"""The staff desk (kiosk.flows.staff_desk.StaffDesk): logging in with a PIN, the lockout, the idle
lock, assisted mode, and what an attendant and a technician may and may not do.

The real StaffSessions (kiosk.staff.sessions: permissions, idle lock, audit-before-action) runs
on a fake StaffAccess (PINs and the lockout, in memory) and a fake audit log; the money tasks go
to a fake transaction service. The shell (navigator, idle monitor, citizen session) is the real one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from kiosk.flows.staff_desk import IDLE_PAUSE, Outcome, StaffDesk, locked_message
from kiosk.shell.idle import IdlePhase
from kiosk.staff.model import LockStatus, StaffLocked, StaffMember, StaffUnavailable, WrongPin
from kiosk.staff.sessions import StaffSessions
from kiosk.transactions.errors import Refused
from tests.flows.conftest import IDLE_TIMEOUT_S, IDLE_WARNING_S, at_once

ANA = StaffMember("1042", "Ana Ruiz", "attendant")
TOMAS = StaffMember("2077", "Tomás Gil", "technician")
PINS = {"1042": "739184", "2077": "402913"}
WRONG_PINS_ALLOWED = 3
LOCK_S = 900.0
STAFF_IDLE_S = 120.0
ASSISTED_FACTOR = 3


class FakeAccess:
    """kiosk.staff.access.StaffAccess in memory: a wrong PIN at any number counts; the last one
    allowed locks everybody out for LOCK_S."""

    def __init__(self, clock: Any):
        self.clock = clock
        self.wrong = 0
        self.locked_until = 0.0

    def status(self) -> LockStatus:
        left = max(0.0, self.locked_until - self.clock())
        return LockStatus(left > 0, left, 0 if left else WRONG_PINS_ALLOWED - self.wrong)

    def authenticate(self, staff_id: str, pin: str) -> StaffMember:
        if self.locked_until > self.clock():
            raise StaffLocked(self.locked_until - self.clock())
        if PINS.get(staff_id) == pin:
            self.wrong = 0
            return {"1042": ANA, "2077": TOMAS}[staff_id]
        self.wrong += 1
        if self.wrong >= WRONG_PINS_ALLOWED:
            self.wrong, self.locked_until = 0, self.clock() + LOCK_S
            raise StaffLocked(LOCK_S, just_locked=True)
        raise WrongPin(WRONG_PINS_ALLOWED - self.wrong, staff_id if staff_id in PINS else "")


@dataclass
class FakeAudit:
    entries: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    broken: bool = False

    def append(self, actor: str, action: str, **details: Any) -> Any:
        if self.broken:
            raise StaffUnavailable("audit log is read-only")
        self.entries.append((actor, action, details))
        return SimpleNamespace(seq=len(self.entries), mac=f"mac{len(self.entries)}")

    def head(self) -> tuple[int, str]:
        return len(self.entries), f"mac{len(self.entries)}"

    def actions(self) -> list[str]:
        return [action for _actor, action, _details in self.entries]


@dataclass
class FakeDeskService:
    """The transaction service's attendant side (kiosk.transactions.attendant)."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    refuse: str = ""

    def attention_items(self) -> list[Any]:
        return [SimpleNamespace(folio="EMO-01-260114-0001", amount_cents=35_000, voucher="")]

    def resolve(self, item: Any, outcome: str, staff_id: str, note: str) -> Any:
        self.calls.append(("resolve", item.folio, outcome, staff_id, note))
        if self.refuse:
            raise Refused(self.refuse)
        voucher = SimpleNamespace(number="EMO-01-V0003", amount_cents=12_550) if outcome == "refund" else None
        return SimpleNamespace(transaction=SimpleNamespace(folio=item.folio), voucher=voucher)

    def acknowledge_voucher(self, voucher: str, staff_id: str, note: str) -> bool:
        self.calls.append(("acknowledge_voucher", voucher, staff_id))
        return len(self.calls) == 1  # the second attendant finds it done

    def print_receipt(self, tx: Any, on_done: Any) -> None:
        self.calls.append(("print_receipt", tx.folio))

    def reprint_last(self) -> Any:
        self.calls.append(("reprint_last",))
        return SimpleNamespace(ok=False, message="No hay un recibo reciente que reimprimir.")

    def cash_totals(self) -> Any:
        self.calls.append(("cash_totals",))
        return SimpleNamespace(received_cents=120_000)

    def collect_cash(self, staff_id: str) -> Any:
        self.calls.append(("collect_cash", staff_id))
        return SimpleNamespace(number=12)


class FakeHelp:
    def __init__(self) -> None:
        self.open_request: Any = SimpleNamespace(screen="bill")
        self.closed: list[str] = []

    def close(self, outcome: str) -> None:
        self.closed.append(outcome)
        self.open_request = None


@pytest.fixture
def kiosk(shell: SimpleNamespace) -> SimpleNamespace:
    access, audit, service = FakeAccess(shell.clock), FakeAudit(), FakeDeskService()
    opened: list[StaffSessions] = []

    def open_sessions() -> StaffSessions:
        opened.append(StaffSessions(access, audit, STAFF_IDLE_S, now=shell.clock))
        return opened[-1]

    ctx = SimpleNamespace(
        config=SimpleNamespace(staff=SimpleNamespace(assisted_idle_factor=ASSISTED_FACTOR)),
        translator=shell.translator, navigator=shell.navigator, idle=shell.idle, sessions=shell.sessions,
        help=FakeHelp(), payments=SimpleNamespace(service=service, folio="EMO-01-260114-0009"))
    desk = StaffDesk(ctx, open_sessions=open_sessions, call_soon=at_once, run_in_background=at_once)
    changes: list[Any] = []
    desk.on_change(lambda: changes.append(desk.member))
    return SimpleNamespace(desk=desk, access=access, audit=audit, service=service, ctx=ctx, opened=opened,
                           changes=changes, **vars(shell))


def login(kiosk: SimpleNamespace, staff_id: str, pin: str) -> Outcome:
    answers: list[Outcome] = []
    kiosk.desk.login(staff_id, pin, answers.append)
    [answer] = answers
    return answer


def done(call: Any, *args: Any) -> Outcome:
    answers: list[Outcome] = []
    call(*args, answers.append)
    [answer] = answers
    return answer


def minutes_in(message: str) -> int:
    return int(re.search(r"(\d+) min", message).group(1))


# -- unlocking ------------------------------------------------------------------------------------
def test_the_right_pin_opens_the_attendant_panel_and_is_audited(kiosk):
    kiosk.navigator.go("menu", node="pay")
    answer = login(kiosk, "1042", PINS["1042"])
    assert answer.ok and answer.value == ANA and kiosk.desk.member == ANA
    assert kiosk.navigator.current.screen == "attendant"
    assert kiosk.idle.paused  # a staff panel is never wiped under the attendant's hands
    assert kiosk.changes == [ANA]
    assert kiosk.audit.entries[-1] == ("staff:1042", "staff.login", {"role": "attendant"})
    assert PINS["1042"] not in repr(kiosk.audit.entries)


def test_a_technician_gets_the_technician_panel(kiosk):
    assert login(kiosk, "2077", PINS["2077"]).ok
    assert kiosk.navigator.current.screen == "technician"


def test_the_staff_database_opens_once_off_the_ui_thread(kiosk):
    login(kiosk, "1042", "000000")
    login(kiosk, "1042", PINS["1042"])
    assert len(kiosk.opened) == 1


def test_a_wrong_pin_says_how_many_tries_are_left_and_not_whether_the_number_exists(kiosk):
    where = kiosk.navigator.current
    known = login(kiosk, "1042", "000000")
    unknown = login(kiosk, "5555", "000000")
    assert not known.ok and not unknown.ok
    assert str(WRONG_PINS_ALLOWED - 1) in known.message and str(WRONG_PINS_ALLOWED - 2) in unknown.message
    assert known.message.replace(str(WRONG_PINS_ALLOWED - 1), "N") == \
        unknown.message.replace(str(WRONG_PINS_ALLOWED - 2), "N")
    assert "5555" not in unknown.message and kiosk.desk.member is None
    assert kiosk.navigator.current == where and not kiosk.idle.paused
    assert "staff.login_failed" in kiosk.audit.actions()


def test_too_many_wrong_pins_lock_everybody_out_for_the_time_said(kiosk):
    for _ in range(WRONG_PINS_ALLOWED - 1):
        login(kiosk, "1042", "000000")
    locked = login(kiosk, "1042", "111111")
    assert not locked.ok and minutes_in(locked.message) == math.ceil(LOCK_S / 60)
    statuses: list[LockStatus] = []
    kiosk.desk.lock_status(statuses.append)
    assert statuses[-1].locked  # the PIN pad offers no attempt while locked
    assert not login(kiosk, "1042", PINS["1042"]).ok, "the right PIN during the lock"
    assert kiosk.desk.member is None and kiosk.navigator.current.screen == "home"
    assert "staff.locked_out" in kiosk.audit.actions()
    kiosk.clock.advance(LOCK_S)
    assert login(kiosk, "1042", PINS["1042"]).ok


@pytest.mark.parametrize("seconds_left", [30.0, 61.0, 89.0, 150.0, 270.0, 899.0])
def test_the_wait_said_on_the_pin_pad_is_never_shorter_than_the_lock(kiosk, seconds_left):
    """Told "try again in 4 min" with 4½ min left, the attendant comes back to a locked pad."""
    kiosk.access.locked_until = kiosk.clock() + seconds_left
    said = minutes_in(login(kiosk, "1042", PINS["1042"]).message)
    assert said * 60 >= seconds_left
    assert said == math.ceil(seconds_left / 60)  # and not longer than needed
    # the pad says the same before any digit is typed (screens/staff_pin.py shows locked_message)
    assert minutes_in(locked_message(seconds_left, lambda text: text)) == said


def test_staff_access_that_cannot_open_says_so_without_a_crash(kiosk):
    def broken() -> Any:
        raise StaffUnavailable("staff.sqlite is not readable")

    kiosk.desk._open_sessions = broken
    answer = login(kiosk, "1042", PINS["1042"])
    assert not answer.ok and "staff.sqlite is not readable" in answer.message
    assert kiosk.desk.member is None and kiosk.navigator.current.screen == "home"


# -- the idle lock --------------------------------------------------------------------------------
def test_a_staff_session_left_alone_locks_itself_and_wipes_the_screen(kiosk):
    kiosk.sessions.session.data["search"] = "acta"
    login(kiosk, "1042", PINS["1042"])
    kiosk.clock.advance(STAFF_IDLE_S - 1)
    kiosk.desk.touched()  # the attendant is working: the countdown starts again
    kiosk.clock.advance(STAFF_IDLE_S - 1)
    kiosk.desk.check_idle()
    assert kiosk.desk.member == ANA
    kiosk.clock.advance(1)
    kiosk.desk.check_idle()
    assert kiosk.desk.member is None and kiosk.changes[-1] is None
    assert kiosk.navigator.current.screen == "attract"  # the next person finds the attract screen
    assert kiosk.sessions.session.data == {} and not kiosk.idle.paused
    assert ("staff:1042", "staff.logout", {"reason": "idle"}) in kiosk.audit.entries


def test_a_citizen_session_wipe_logs_staff_out(kiosk):
    login(kiosk, "1042", PINS["1042"])
    kiosk.desk.leave()  # back to the citizen's screen, still in the session
    login(kiosk, "1042", PINS["1042"])
    kiosk.idle.resume(IDLE_PAUSE)
    assert kiosk.sessions.end("idle")
    assert kiosk.desk.member is None
    assert ("staff:1042", "staff.logout", {"reason": "session_wiped"}) in kiosk.audit.entries


def test_leaving_the_panel_returns_the_citizen_to_their_screen(kiosk):
    kiosk.navigator.go("menu", node="pay")
    login(kiosk, "1042", PINS["1042"])
    kiosk.desk.leave()
    assert kiosk.desk.member is None and not kiosk.idle.paused
    assert kiosk.navigator.current.screen == "menu"
    assert ("staff:1042", "staff.logout", {"reason": "left"}) in kiosk.audit.entries


def test_leaving_without_a_citizen_goes_back_to_the_attract_screen(kiosk):
    kiosk.sessions.end("idle")
    login(kiosk, "1042", PINS["1042"])
    kiosk.desk.leave()
    assert kiosk.navigator.current.screen == "attract"


# -- assisted mode --------------------------------------------------------------------------------
def test_assisted_mode_serves_the_citizen_with_more_time_and_larger_text(kiosk):
    kiosk.navigator.go("bill")
    login(kiosk, "1042", PINS["1042"])
    kiosk.desk.start_assisted()
    assert kiosk.navigator.current.screen == "bill"  # where the citizen was
    assert kiosk.desk.assisted_by == "1042" and kiosk.sessions.session.data["assisted_by"] == "1042"
    assert kiosk.sessions.session.accessibility.text_step >= 1
    assert kiosk.idle.timeout_s == IDLE_TIMEOUT_S * ASSISTED_FACTOR and not kiosk.idle.paused
    kiosk.clock.advance(STAFF_IDLE_S * 2)
    kiosk.desk.check_idle()
    assert kiosk.desk.member == ANA, "the attendant is with the citizen, not idle"
    kiosk.desk.back_to_panel()
    assert kiosk.navigator.current.screen == "attendant" and kiosk.idle.paused
    kiosk.desk.leave()
    assert (kiosk.idle.timeout_s, kiosk.idle.warning_s) == (IDLE_TIMEOUT_S, IDLE_WARNING_S)
    assert kiosk.desk.assisted_by == "" and kiosk.navigator.current.screen == "bill"
    assert "assisted.started" in kiosk.audit.actions()


def test_finishing_for_the_citizen_ends_the_visit_and_records_the_folio(kiosk):
    login(kiosk, "1042", PINS["1042"])
    kiosk.desk.start_assisted()
    kiosk.desk.finish_for_citizen()
    actor, _action, details = next(entry for entry in kiosk.audit.entries if entry[1] == "assisted.finished")
    assert actor == "staff:1042" and details["folio"] == kiosk.ctx.payments.folio
    assert kiosk.navigator.current.screen == "attract" and kiosk.desk.member is None
    assert kiosk.idle.state().phase is IdlePhase.DORMANT


# -- what an attendant may do ---------------------------------------------------------------------
def test_confirming_a_payment_is_audited_first_and_prints_the_receipt(kiosk):
    login(kiosk, "1042", PINS["1042"])
    item = done(kiosk.desk.attention).value[0]
    answer = done(kiosk.desk.resolve, item, "confirm", "Cobro visto en la terminal")
    assert answer.ok
    assert kiosk.service.calls == [("resolve", item.folio, "confirm", "1042", "Cobro visto en la terminal"),
                                   ("print_receipt", item.folio)]
    assert ("staff:1042", "transaction.confirm", {"folio": item.folio, "amount_cents": 35_000}) \
        in kiosk.audit.entries


def test_a_refund_names_the_voucher_and_its_amount(kiosk):
    login(kiosk, "1042", PINS["1042"])
    item = done(kiosk.desk.attention).value[0]
    answer = done(kiosk.desk.resolve, item, "refund", "Sin cobro en la terminal")
    assert answer.ok and "EMO-01-V0003" in answer.message and "$125.50 MXN" in answer.message
    cancelled = done(kiosk.desk.resolve, item, "cancel", "No pagó")
    assert cancelled.ok and "EMO-01-V" not in cancelled.message


def test_a_refused_resolution_is_told_and_its_failure_audited(kiosk):
    kiosk.service.refuse = "attendant.note_required"
    login(kiosk, "1042", PINS["1042"])
    item = done(kiosk.desk.attention).value[0]
    answer = done(kiosk.desk.resolve, item, "confirm", "")
    assert not answer.ok and answer.message == Refused("attendant.note_required").message
    assert "transaction.confirm.failed" in kiosk.audit.actions()
    assert ("print_receipt", item.folio) not in kiosk.service.calls


def test_a_voucher_already_attended_by_someone_else_is_said(kiosk):
    login(kiosk, "1042", PINS["1042"])
    item = SimpleNamespace(folio="F", amount_cents=0, voucher="EMO-01-V0001")
    first = done(kiosk.desk.resolve, item, "acknowledge", "")
    second = done(kiosk.desk.resolve, item, "acknowledge", "")
    assert first.ok and not second.ok and first.message != second.message


def test_collecting_cash_is_audited_and_carries_the_attendant(kiosk):
    login(kiosk, "1042", PINS["1042"])
    answer = done(kiosk.desk.collect_cash)
    assert answer.ok and answer.value.number == 12
    assert kiosk.service.calls == [("collect_cash", "1042")]
    assert "cash.collected" in kiosk.audit.actions()
    assert done(kiosk.desk.cash_totals).value.received_cents == 120_000


def test_no_record_no_action_and_the_attendant_is_told(kiosk, caplog):
    login(kiosk, "1042", PINS["1042"])
    kiosk.audit.broken = True
    answer = done(kiosk.desk.collect_cash)
    assert not answer.ok and "read-only" in answer.message
    assert kiosk.service.calls == [], "cash collected without an audit entry"
    # Its ".failed" entry cannot be written either: that is logged, not raised at the attendant.
    assert [r.fields["action"] for r in caplog.records if r.getMessage() == "staff.audit_failed"] \
        == ["cash.collected.failed"]


def test_a_reprint_with_nothing_to_reprint_says_so(kiosk):
    login(kiosk, "1042", PINS["1042"])
    answer = done(kiosk.desk.reprint_last)
    assert not answer.ok and answer.message == "No hay un recibo reciente que reimprimir."


def test_money_tasks_before_the_transaction_store_opens_say_it_is_not_there_yet(kiosk):
    kiosk.ctx.payments = None
    login(kiosk, "1042", PINS["1042"])
    answer = done(kiosk.desk.cash_totals)
    assert not answer.ok and "no está disponible" in answer.message


def test_answering_a_help_call_closes_it(kiosk):
    login(kiosk, "1042", PINS["1042"])
    assert len(kiosk.desk.help_requests()) == 1
    kiosk.desk.answer_help()
    assert kiosk.ctx.help.closed == ["answered_here"] and kiosk.desk.help_requests() == []
    assert "help.answered" in kiosk.audit.actions()


# -- what is refused ------------------------------------------------------------------------------
def test_nothing_without_a_staff_session(kiosk):
    for task in (kiosk.desk.collect_cash, kiosk.desk.cash_totals, kiosk.desk.reprint_last):
        with pytest.raises(PermissionError):
            done(task)
    with pytest.raises(PermissionError):
        kiosk.desk.start_assisted()
    assert kiosk.service.calls == []


def test_a_technician_handles_the_machine_never_the_money(kiosk):
    login(kiosk, "2077", PINS["2077"])
    for task in (kiosk.desk.collect_cash, kiosk.desk.cash_totals, kiosk.desk.reprint_last):
        with pytest.raises(PermissionError):
            done(task)
    with pytest.raises(PermissionError):
        kiosk.desk.start_assisted()
    assert kiosk.service.calls == []
    assert kiosk.audit.actions().count("staff.denied") == 4


def test_an_attendant_may_not_use_technician_tools(kiosk):
    ran: list[str] = []
    kiosk.desk.tools = {"test_print": lambda: ran.append("test_print")}
    login(kiosk, "1042", PINS["1042"])
    with pytest.raises(PermissionError):
        done(kiosk.desk.technician, "test_print")
    with pytest.raises(PermissionError):
        kiosk.desk.restart_app()
    assert ran == [] and "technician.test_print" not in kiosk.audit.actions()


def test_a_technician_tool_runs_audited_or_says_it_is_not_ready_yet(kiosk):
    login(kiosk, "2077", PINS["2077"])
    early = done(kiosk.desk.technician, "test_print")
    assert not early.ok and early.message
    kiosk.desk.tools = {"test_print": lambda: Outcome(True, "printed", "ticket")}
    answer = done(kiosk.desk.technician, "test_print")
    assert answer == Outcome(True, "printed", "ticket")
    assert "technician.test_print" in kiosk.audit.actions()


def test_a_restart_is_recorded_before_the_app_stops(kiosk):
    statuses: list[int] = []
    kiosk.desk.restart = lambda status: statuses.append((status, kiosk.audit.actions()[-1]))
    login(kiosk, "2077", PINS["2077"])
    kiosk.desk.restart_app()
    [(status, last_action)] = statuses
    assert status not in (0, 64) and last_action == "app.restart"  # systemd starts it again


def test_the_audit_head_is_what_the_heartbeat_sends(kiosk):
    login(kiosk, "1042", PINS["1042"])
    assert kiosk.desk.audit_head() == {"seq": len(kiosk.audit.entries), "mac": f"mac{len(kiosk.audit.entries)}"}
