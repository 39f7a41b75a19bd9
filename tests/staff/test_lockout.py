"""The lockout: wrong PINs counted per typed staff number and in total, before the slow check; a
lock holds for everyone, survives restarts and kills, and is lifted by time (an injected wall
clock) or by `unlock`. A good login clears only its own number's count."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from kiosk.core.config import Config, ConfigError, load_config
from kiosk.staff import pins
from kiosk.staff.access import StaffAccess
from kiosk.staff.model import InvalidStaff, LockStatus, StaffLocked, StaffMember, StaffUnavailable, WeakPin, WrongPin
from tests.staff.conftest import PIN, PYTHON, ROOT, T0, Clock, child_env, python, read_line, stop, write_config

WRONG = "550193"
ANA = StaffMember("1042", "Ana Ruiz", "attendant")
BO_PIN = "5550193"


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


def test_alternating_guesses_with_ones_own_good_login_still_lock(access: StaffAccess) -> None:
    """The issue's attack: an attendant who knows their own PIN guesses at another staff number
    four times, logs in as themselves, and starts again (240 guesses, no lock, before the fix)."""
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    access.add("7", "Bo Díaz", "technician", BO_PIN)
    guesses = 0
    with pytest.raises(StaffLocked) as locked:
        for _ in range(60):
            for _ in range(4):
                guesses += 1
                with pytest.raises(WrongPin):
                    access.authenticate("7", WRONG)
            assert access.authenticate("1042", PIN) == ANA
    assert guesses == 5 and locked.value.just_locked  # the fifth wrong PIN at number 7 locks
    with pytest.raises(StaffLocked):
        access.authenticate("1042", PIN)  # the whole kiosk: the attacker's own login too


def test_a_good_login_clears_its_own_count_but_not_anothers_nor_the_total(access: StaffAccess,
                                                                          clock: Clock) -> None:
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    access.add("7", "Bo Díaz", "technician", BO_PIN)
    assert _fail(access, 2, "1042") == [4, 3]
    assert _fail(access, 3, "7") == [4, 3, 2]
    access.authenticate("1042", PIN)
    assert access.status().attempts_left == 2  # number 7 still has three against it
    assert _fail(access, 1, "1042") == [4]  # 1042's own count starts again...
    assert _fail(access, 2, "31") == [3, 2]  # ...but every wrong PIN still counts in the total: 8 now
    access.authenticate("7", BO_PIN)  # even number 7's own login leaves the total as it is
    assert _fail(access, 1, "33") == [1]
    with pytest.raises(StaffLocked) as locked:
        access.authenticate("34", WRONG)  # the tenth wrong PIN in the hour, at a fifth number
    assert locked.value.just_locked and locked.value.seconds_left == 60 * 60  # the total's longer lock
    clock.advance(60 * 60)
    assert access.status() == LockStatus(False, 0.0, 5)  # a lock starts both counts afresh


def test_wrong_pins_stop_counting_after_the_window(access: StaffAccess, clock: Clock) -> None:
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    _fail(access, 4, "7")
    clock.advance(30 * 60)
    _fail(access, 4, "8")
    assert access.status().attempts_left == 1
    clock.advance(30 * 60)  # the first four are an hour old now: they no longer count
    assert access.status().attempts_left == 1  # (number 8's four still do)
    assert _fail(access, 1, "7") == [4]
    clock.advance(30 * 60)
    assert access.status().attempts_left == 4


def _attempt_rows(config: Config) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(config.data_path / "staff.sqlite")
    try:
        return conn.execute("SELECT target, at FROM attempts").fetchall()
    finally:
        conn.close()


def test_typed_numbers_are_kept_few_and_never_in_clear(access: StaffAccess, config: Config, clock: Clock) -> None:
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    for number in range(60):  # one wrong PIN every 7 minutes, each at another number: never 10 an hour
        _fail(access, 1, f"{90000000 + number}")
        clock.advance(7 * 60)
        assert len(_attempt_rows(config)) <= 9
    assert not access.status().locked
    typed = [target for target, _at in _attempt_rows(config)]
    assert all(isinstance(target, str) and len(target) == 32 for target in typed)
    # Keyed hashes, not the numbers: a PIN typed into the number field stays secret.
    contents = b"".join(path.read_bytes() for path in config.data_path.glob("staff.sqlite*"))
    assert b"90000059" not in contents


def test_every_lockout_setting_comes_from_the_configuration(tmp_path: Path, clock: Clock) -> None:
    path = write_config(tmp_path, lockout_attempts=2, lockout_minutes=2, lockout_total_attempts=3,
                        lockout_total_minutes=7, lockout_window_minutes=5)
    access = StaffAccess(load_config(path), now=clock)
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    assert _fail(access, 1) == [1]
    with pytest.raises(StaffLocked) as per_number:
        access.authenticate("1042", WRONG)
    assert per_number.value.seconds_left == 2 * 60
    clock.advance(2 * 60)
    assert _fail(access, 1, "7") == [1]
    clock.advance(5 * 60)  # the window: that one no longer counts
    assert _fail(access, 1, "7") == [1]
    assert _fail(access, 1, "8") == [1]
    with pytest.raises(StaffLocked) as total:
        access.authenticate("9", WRONG)
    assert total.value.seconds_left == 7 * 60
    access.close()


@pytest.mark.parametrize("key, value", [
    ("lockout_attempts", "11"), ("lockout_attempts", "0"), ("lockout_attempts", "nan"),
    ("lockout_minutes", "-5"), ("lockout_minutes", "0"),
    ("lockout_total_attempts", "-1"), ("lockout_total_attempts", "0"), ("lockout_total_attempts", "nan"),
    ("lockout_total_attempts", "101"), ("lockout_total_attempts", "10.5"), ("lockout_total_attempts", '"10"'),
    ("lockout_total_minutes", "-60"), ("lockout_total_minutes", "0"), ("lockout_total_minutes", "nan"),
    ("lockout_total_minutes", "inf"), ("lockout_window_minutes", "-1"), ("lockout_window_minutes", "0"),
    ("lockout_window_minutes", "nan"), ("lockout_window_minutes", "100000"),
])
def test_lockout_settings_out_of_range_are_refused(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write_config(tmp_path, **{key: value}))
    assert refused.value.key == f"staff.{key}"


@pytest.mark.parametrize("setting", ["lockout_minutes", "lockout_attempts"])
def test_a_lockout_setting_that_is_not_a_finite_positive_number_keeps_staff_out(
        config: Config, clock: Clock, setting: str) -> None:
    """Defence in depth: a NaN lock time would make `locked_until > now` false forever."""
    broken = dataclasses.replace(config, staff=dataclasses.replace(config.staff, **{setting: float("nan")}))
    access = StaffAccess(broken, now=clock)
    with pytest.raises(StaffUnavailable, match="lockout"):
        access.authenticate("1042", PIN)
    with pytest.raises(StaffUnavailable, match="lockout"):
        access.status()
    access.close()


def test_the_counter_of_an_older_staff_database_is_carried_over(tmp_path: Path) -> None:
    path = write_config(tmp_path, lockout_total_attempts=5)
    data = tmp_path / "data"
    data.mkdir()
    old = sqlite3.connect(data / "staff.sqlite")
    old.executescript("CREATE TABLE lock_state (id INTEGER PRIMARY KEY CHECK (id = 1), attempts INTEGER NOT NULL "
                      "DEFAULT 0, locked_until REAL NOT NULL DEFAULT 0); INSERT INTO lock_state VALUES (1, 3, 0);")
    old.close()
    access = StaffAccess(load_config(path))  # the real clock: the upgrade stamps them "now"
    assert access.status().attempts_left == 2  # the three counted before the upgrade still count
    access.close()
    assert StaffAccess(load_config(path)).status().attempts_left == 2  # carried over once, not at every start


def test_unknown_ids_count_and_answer_like_known_ones(access: StaffAccess) -> None:
    access.add("1042", "Ana Ruiz", "attendant", PIN)
    with pytest.raises(WrongPin) as known:
        access.authenticate("1042", WRONG)
    with pytest.raises(WrongPin) as unknown:
        access.authenticate("55", PIN)
    with pytest.raises(WrongPin):
        access.authenticate("not an id", PIN)
    assert str(known.value) == str(unknown.value)  # one wrong PIN at each number: 4 left at each
    assert (known.value.known_id, unknown.value.known_id) == ("1042", "")
    assert _fail(access, 3, "55") == [3, 2, 1]
    with pytest.raises(StaffLocked) as locked:  # an unknown number locks like a known one
        access.authenticate("55", WRONG)
    assert locked.value.just_locked and locked.value.known_id == ""


RESTART_SCRIPT = """
import sys
from kiosk.core.config import load_config
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
from kiosk.core.config import load_config
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


def _killed_mid_verify(config_path: Path, pin: str, staff_id: str = "1042") -> str:
    child = subprocess.Popen([PYTHON, "-c", KILL_SCRIPT, str(config_path), str(T0), staff_id, pin], cwd=ROOT,
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


def test_checks_killed_at_another_number_survive_the_attackers_own_good_login(config_path: Path,
                                                                              config: Config) -> None:
    setup = StaffAccess(config)
    setup.add("1042", "Ana Ruiz", "attendant", PIN)
    setup.add("7", "Bo Díaz", "technician", BO_PIN)
    setup.close()
    check = StaffAccess(load_config(config_path), now=Clock(T0))
    for _ in range(4):
        assert _killed_mid_verify(config_path, WRONG, "7") == "verifying"
    assert check.authenticate("1042", PIN) == ANA  # clears 1042's count, not 7's
    assert check.status().attempts_left == 1
    assert _killed_mid_verify(config_path, WRONG, "7") == "verifying"
    with pytest.raises(StaffLocked) as locked:
        check.authenticate("7", BO_PIN)
    assert locked.value.just_locked
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
    assert access.unlock(by="shell:root").was_locked is True
    assert access.status() == LockStatus(False, 0.0, 5)
    assert access.authenticate("1042", PIN) == ANA
    history = access.lockouts(since=T0 - 1)
    assert len(history) == 1
    assert (history[0].locked_at, history[0].unlocked_at, history[0].unlocked_by) == (T0, T0 + 60, "shell:root")
    _fail(access, 3, "7")
    _fail(access, 2, "88")
    unlocked = access.unlock(by="shell:root")
    assert (unlocked.was_locked, unlocked.attempts_cleared) == (False, 5)
    assert access.status() == LockStatus(False, 0.0, 5)
    assert _fail(access, 1, "7") == [4]  # nothing of the number's count is left either


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
