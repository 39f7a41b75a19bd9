"""The kiosk-wide lockout: counted before the slow check, locked for everyone, survives restarts
and kills, lifted by time (an injected wall clock) or by `unlock`."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from kiosk.config import Config, load_config
from kiosk.staff import pins
from kiosk.staff.access import StaffAccess
from kiosk.staff.model import InvalidStaff, LockStatus, StaffLocked, StaffMember, StaffUnavailable, WeakPin, WrongPin
from tests.staff.conftest import PIN, PYTHON, ROOT, T0, Clock, child_env, python, read_line, stop, write_config

WRONG = "550193"
ANA = StaffMember("1042", "Ana Ruiz", "attendant")


def _fail(access: StaffAccess, times: int, staff_id: str = "1042") -> list[int]:
    left = []
    for _ in range(times):
        with pytest.raises(WrongPin) as wrong:
            access.authenticate(staff_id, WRONG)
        left.append(wrong.value.attempts_left)
    return left


def test_five_wrong_pins_lock_everyone_even_with_the_right_pin(access: StaffAccess, clock: Clock) -> None:
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    access.add("7", "Bo Díaz", "technician", "5550193")
    assert access.authenticate("1042", PIN) == ANA
    assert _fail(access, 4) == [4, 3, 2, 1]
    with pytest.raises(StaffLocked) as locked:
        access.authenticate("1042", WRONG)
    assert locked.value.just_locked and locked.value.seconds_left == 30 * 60
    for staff_id, pin in (("1042", PIN), ("7", "5550193"), ("999", PIN)):
        with pytest.raises(StaffLocked) as refused:
            access.authenticate(staff_id, pin)
        assert not refused.value.just_locked
    clock.advance(30 * 60 - 1)
    assert access.status().locked and access.status().seconds_left == pytest.approx(1)
    with pytest.raises(StaffLocked):
        access.authenticate("1042", PIN)
    clock.advance(1)
    assert access.status() == LockStatus(False, 0.0, 5)
    assert access.authenticate("1042", PIN) == ANA


def test_limit_and_duration_come_from_the_configuration(tmp_path: Path, clock: Clock) -> None:
    access = StaffAccess(load_config(write_config(tmp_path, lockout_attempts=3, lockout_minutes=2)), now=clock)
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    assert _fail(access, 2) == [2, 1]
    with pytest.raises(StaffLocked) as locked:
        access.authenticate("1042", WRONG)
    assert locked.value.seconds_left == 120
    clock.advance(120)
    assert access.authenticate("1042", PIN) == ANA
    access.close()


def test_a_success_clears_the_counter(access: StaffAccess) -> None:
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    _fail(access, 4)
    access.authenticate("1042", PIN)
    assert access.status().attempts_left == 5
    assert _fail(access, 4) == [4, 3, 2, 1]


def test_unknown_ids_count_and_answer_like_known_ones(access: StaffAccess) -> None:
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    with pytest.raises(WrongPin) as known:
        access.authenticate("1042", WRONG)
    with pytest.raises(WrongPin) as unknown:
        access.authenticate("55", PIN)
    with pytest.raises(WrongPin):
        access.authenticate("not an id", PIN)
    assert str(known.value).replace("4", "N") == str(unknown.value).replace("3", "N")
    assert (known.value.known_id, unknown.value.known_id) == ("1042", "")
    assert access.status().attempts_left == 2


RESTART_SCRIPT = """
import sys
from kiosk.config import load_config
from kiosk.staff.access import StaffAccess
from kiosk.staff.model import StaffAccessError
config, now, times, staff_id, pin = sys.argv[1:]
access = StaffAccess(load_config(config), now=lambda: float(now))
for _ in range(int(times)):
    try:
        access.authenticate(staff_id, pin)
        print("ok")
    except StaffAccessError as error:
        print(type(error).__name__)
"""


def test_the_lock_made_by_one_process_holds_in_the_next(config_path: Path, config: Config) -> None:
    setup = StaffAccess(config)
    setup.add("1042", "Ana Ruiz", "attendant", PIN)
    setup.close()
    child = python(RESTART_SCRIPT, str(config_path), str(T0), "5", "1042", WRONG)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["WrongPin"] * 4 + ["StaffLocked"]
    later = Clock(T0 + 29 * 60)
    restarted = StaffAccess(load_config(config_path), now=later)
    assert restarted.status().locked
    with pytest.raises(StaffLocked):
        restarted.authenticate("1042", PIN)
    again = python(RESTART_SCRIPT, str(config_path), str(T0 + 29 * 60), "1", "1042", PIN)
    assert again.stdout.split() == ["StaffLocked"]
    later.advance(60)
    assert restarted.authenticate("1042", PIN) == ANA
    restarted.close()


KILL_SCRIPT = """
import sys
from kiosk.config import load_config
from kiosk.staff import pins
from kiosk.staff.access import StaffAccess
from kiosk.staff.model import StaffAccessError
config, now, staff_id, pin = sys.argv[1:]
real_verify = pins.verify_pin

def held(*args):
    print("verifying", flush=True)
    sys.stdin.readline()  # never answered: the test kills this process here
    return real_verify(*args)

pins.verify_pin = held
try:
    StaffAccess(load_config(config), now=lambda: float(now)).authenticate(staff_id, pin)
    print("finished", flush=True)
except StaffAccessError as error:
    print(type(error).__name__, flush=True)
"""


def _killed_mid_verify(config_path: Path, pin: str) -> str:
    child = subprocess.Popen([PYTHON, "-c", KILL_SCRIPT, str(config_path), str(T0), "1042", pin], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=child_env())
    try:
        line = read_line(child).strip()
        if line == "verifying":
            child.kill()  # SIGKILL: no finally, no atexit, no rollback
    finally:
        stop(child)
    return line


def test_sigkill_in_the_middle_of_the_check_still_counts_the_attempt(config_path: Path, config: Config) -> None:
    setup = StaffAccess(config)
    setup.add("1042", "Ana Ruiz", "attendant", PIN)
    setup.close()
    assert _killed_mid_verify(config_path, WRONG) == "verifying"
    check = StaffAccess(load_config(config_path), now=Clock(T0))
    assert check.status().attempts_left == 4
    for left in (3, 2, 1, 0):
        assert _killed_mid_verify(config_path, PIN) == "verifying"  # even the right PIN, if never finished
        assert check.status().attempts_left == left
    # Five attempts spent and none settled: the next one locks instead of being checked.
    with pytest.raises(StaffLocked) as locked:
        check.authenticate("1042", PIN)
    assert locked.value.just_locked
    assert _killed_mid_verify(config_path, PIN) == "StaffLocked"
    check.close()


def test_a_clock_set_back_does_not_lock_staff_out_for_months(access: StaffAccess, clock: Clock) -> None:
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    _fail(access, 4)
    with pytest.raises(StaffLocked):
        access.authenticate("1042", WRONG)
    clock.advance(-365 * 86400)
    assert access.status().seconds_left == 30 * 60
    clock.advance(29 * 60)  # a screen polling status() sees the lock end without anyone typing
    assert access.status().seconds_left == 60
    clock.advance(-365 * 86400)
    with pytest.raises(StaffLocked) as locked:
        access.authenticate("1042", PIN)
    assert locked.value.seconds_left == 30 * 60
    clock.advance(30 * 60)
    assert access.authenticate("1042", PIN) == ANA


def test_unlock_lifts_the_lock_and_is_remembered(access: StaffAccess, clock: Clock) -> None:
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    _fail(access, 4)
    with pytest.raises(StaffLocked):
        access.authenticate("1042", WRONG)
    clock.advance(60)
    assert access.unlock(by="shell:root") is True
    assert access.status() == LockStatus(False, 0.0, 5)
    assert access.authenticate("1042", PIN) == ANA
    history = access.lockouts(since=T0 - 1)
    assert len(history) == 1
    assert (history[0].locked_at, history[0].unlocked_at, history[0].unlocked_by) == (T0, T0 + 60, "shell:root")
    assert access.unlock(by="shell:root") is False


def test_attempts_from_many_threads_are_each_counted(access: StaffAccess) -> None:
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    errors: list[BaseException] = []

    def wrong() -> None:
        try:
            access.authenticate("1042", WRONG)
        except WrongPin:
            pass
        except BaseException as error:  # anything else is a bug
            errors.append(error)

    threads = [threading.Thread(target=wrong) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors and not any(thread.is_alive() for thread in threads)
    assert access.status().attempts_left == 1


def test_another_pepper_makes_staff_access_unavailable_without_counting(
        config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = StaffAccess(config)
    setup.add("1042", "Ana Ruiz", "attendant", PIN)
    setup.close()
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "kiosk-staff-pepper").write_bytes(b"another pepper, not the one used" * 2)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    other = StaffAccess(config)
    with pytest.raises(StaffUnavailable, match="not the one the staff PINs were made with"):
        other.authenticate("1042", PIN)
    with pytest.raises(StaffUnavailable):
        other.add("7", "Bo Díaz", "technician", "5550193")
    assert other.status().attempts_left == 5
    other.close()


def test_an_old_hash_is_upgraded_at_login(access: StaffAccess, config: Config) -> None:
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    pepper = access._checked_pepper()
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(pins._peppered(PIN, pepper))
    access._db().set_pin_hash("1042", weaker)
    assert access.authenticate("1042", PIN) == ANA
    (stored,) = access._db()._read("SELECT pin_hash FROM staff")[0]
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert access.authenticate("1042", PIN) == ANA


def test_a_damaged_database_makes_staff_unavailable_not_a_crash(config: Config) -> None:
    config.data_path.mkdir(parents=True)
    (config.data_path / "staff.sqlite").write_bytes(b"this is not a database" * 100)
    access = StaffAccess(config)  # constructing never fails: the citizen side must keep working
    with pytest.raises(StaffUnavailable, match=r"staff\.sqlite"):
        access.status()
    with pytest.raises(StaffUnavailable):
        access.authenticate("1042", PIN)


def test_members_are_added_checked_and_removed(access: StaffAccess) -> None:
    assert access.add("1042", " Ana Ruiz ", "attendant", PIN) == ANA
    access.add("7", "Bo Díaz", "technician", "5550193")
    assert [m.staff_id for m in access.members()] == ["7", "1042"]
    for staff_id, name, role in (("1042", "Ana", "attendant"), ("12345678 9", "X", "attendant"),
                                 ("", "X", "attendant"), ("8", "", "attendant"), ("8", "X", "cashier"),
                                 ("8", "X\n", "attendant")):
        with pytest.raises(InvalidStaff):
            access.add(staff_id, name, role, PIN)
    with pytest.raises(WeakPin):
        access.add("8", "Carla", "attendant", "111111")
    access.set_pin("7", "20481397")
    assert access.authenticate("7", "20481397").role == "technician"
    access.remove("7")
    with pytest.raises(InvalidStaff, match="no staff member"):
        access.remove("7")
    with pytest.raises(InvalidStaff, match="no staff member"):
        access.set_pin("7", "20481397")
    assert access.members() == [ANA]
