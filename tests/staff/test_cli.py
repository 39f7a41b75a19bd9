"""`kiosk staff …` and `kiosk audit …` as a technician runs them: real processes, real files."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from kiosk.core.config import load_config
from kiosk.staff.access import StaffAccess
from tests.staff.conftest import PIN, PYTHON, ROOT, T0, child_env, kiosk, python


def _add(config_path: Path, staff_id: str = "1042", role: str = "attendant", pin: str = PIN,
         name: str = "Ana Ruiz"):
    return kiosk("staff", "add", staff_id, "--name", name, "--role", role, "--pin-stdin", "--config",
                 str(config_path), stdin=pin + "\n")


def _one_line_error(result, status: int) -> str:
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith(("usage:", " "))]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_add_list_remove(config_path: Path) -> None:
    added = _add(config_path)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added attendant 1042 (Ana Ruiz)"
    assert _add(config_path, "7", "technician", "5550193", "Bo Díaz").returncode == 0
    listed = kiosk("staff", "list", "--json", "--config", str(config_path))
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    assert [(m["staff_id"], m["name"], m["role"]) for m in report["members"]] == [
        ("7", "Bo Díaz", "technician"), ("1042", "Ana Ruiz", "attendant")]
    assert report["lock"] == {"locked": False, "seconds_left": 0, "attempts_left": 5}
    assert "argon2" not in listed.stdout
    text = kiosk("staff", "list", "--config", str(config_path)).stdout
    assert "1042" in text and "Bo Díaz" in text and "staff access open" in text and "argon2" not in text
    removed = kiosk("staff", "remove", "7", "--config", str(config_path))
    assert removed.returncode == 0 and removed.stdout.strip() == "removed 7"
    assert [m["staff_id"] for m in json.loads(kiosk("staff", "list", "--json", "--config",
                                                     str(config_path)).stdout)["members"]] == ["1042"]
    tail = kiosk("audit", "tail", "--json", "--config", str(config_path))
    actions = [json.loads(line) for line in tail.stdout.splitlines()]
    user = __import__("pwd").getpwuid(os.getuid()).pw_name
    assert [(a["actor"], a["action"], a["details"].get("staff_id")) for a in actions] == [
        (f"shell:{user}", "staff.added", "1042"), (f"shell:{user}", "staff.added", "7"),
        (f"shell:{user}", "staff.removed", "7")]


def test_mistakes_are_one_line_with_the_right_status(config_path: Path) -> None:
    assert "too easy to guess" in _one_line_error(_add(config_path, pin="123456"), 2)
    assert "at least 6 digits" in _one_line_error(_add(config_path, pin="7391"), 2)
    assert _add(config_path).returncode == 0
    assert "already exists" in _one_line_error(_add(config_path), 1)
    assert "no staff member has id 99" in _one_line_error(
        kiosk("staff", "remove", "99", "--config", str(config_path)), 1)
    assert "1 to 8 digits" in _one_line_error(_add(config_path, staff_id="123456789"), 2)
    assert "invalid choice" in _one_line_error(_add(config_path, role="mayor"), 2)
    no_terminal = kiosk("staff", "add", "5", "--name", "X", "--role", "attendant", "--config", str(config_path))
    assert "use --pin-stdin" in _one_line_error(no_terminal, 2)
    assert "nothing on standard input" in _one_line_error(
        kiosk("staff", "pin", "1042", "--pin-stdin", "--config", str(config_path), stdin=""), 2)
    bad_config = kiosk("staff", "list", "--config", str(config_path.parent / "missing.toml"))
    assert "configuration error" in _one_line_error(bad_config, 2)


def test_pin_change_from_stdin(config_path: Path) -> None:
    assert _add(config_path).returncode == 0
    changed = kiosk("staff", "pin", "1042", "--pin-stdin", "--config", str(config_path), stdin="20481397\n")
    assert changed.returncode == 0 and changed.stdout.strip() == "new PIN set for 1042"
    access = StaffAccess(load_config(config_path))
    assert access.authenticate("1042", "20481397").staff_id == "1042"
    access.close()


def _interactive(args: list[str], answers: list[str], timeout: float = 30) -> tuple[int, str]:
    """Run `kiosk ARGS` on a pseudo-terminal (getpass reads /dev/tty), answering each prompt."""
    pid, master = pty.fork()
    if pid == 0:  # the child: becomes `kiosk` with the pty as its controlling terminal
        os.chdir(ROOT)
        os.execve(PYTHON, [PYTHON, "-m", "kiosk", *args], child_env())
    output, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            try:
                chunk = os.read(master, 1024)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if answers and output.endswith(b": "):  # a prompt, after getpass turned echo off
                os.write(master, answers.pop(0).encode() + b"\n")
        finished, status = os.waitpid(pid, os.WNOHANG)
        if not finished:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_pins_typed_at_a_terminal_are_asked_twice_and_not_echoed(config_path: Path) -> None:
    status, screen = _interactive(["staff", "add", "1042", "--name", "Ana Ruiz", "--role", "attendant",
                                   "--config", str(config_path)], [PIN, PIN])
    assert status == 0, screen
    assert "New PIN" in screen and "again" in screen and "added attendant 1042" in screen
    assert PIN not in screen  # no echo
    status, screen = _interactive(["staff", "pin", "1042", "--config", str(config_path)], ["20481397", "20481398"])
    assert status == 1 and "the two PINs differ" in screen
    status, screen = _interactive(["staff", "pin", "1042", "--config", str(config_path)], ["111111"])
    assert status == 2 and "too easy to guess" in screen  # refused before asking again


LOCK_SCRIPT = """
import sys
from kiosk.core.config import load_config
from kiosk.staff.access import StaffAccess
from kiosk.staff.model import StaffAccessError
access = StaffAccess(load_config(sys.argv[1]))
for _ in range(5):
    try:
        access.authenticate("1042", "550193")
    except StaffAccessError:
        pass
print(access.status().locked)
"""


def test_unlock_from_the_shell_is_audited(config_path: Path) -> None:
    assert _add(config_path).returncode == 0
    assert python(LOCK_SCRIPT, str(config_path)).stdout.strip() == "True"
    listed = kiosk("staff", "list", "--config", str(config_path))
    assert "LOCKED for 30 more min" in listed.stdout and "lockouts in the last 24 h: 1" in listed.stdout
    assert json.loads(kiosk("staff", "list", "--json", "--config", str(config_path)).stdout)["lock"]["locked"]
    unlocked = kiosk("staff", "unlock", "--config", str(config_path))
    assert unlocked.returncode == 0 and unlocked.stdout.strip() == "staff access unlocked; 0 counted wrong PINs cleared"
    assert not json.loads(kiosk("staff", "list", "--json", "--config", str(config_path)).stdout)["lock"]["locked"]
    last = json.loads(kiosk("audit", "tail", "-n", "1", "--json", "--config", str(config_path)).stdout)
    assert last["action"] == "staff.unlocked" and last["actor"].startswith("shell:")
    assert last["details"]["was_locked"] is True


SPREAD_SCRIPT = """
import sys
from kiosk.core.config import load_config
from kiosk.staff.access import StaffAccess
from kiosk.staff.model import StaffAccessError
access = StaffAccess(load_config(sys.argv[1]))
for staff_id in ("7", "7", "7", "7", "55", "55", "1042"):
    try:
        access.authenticate(staff_id, "550193")
    except StaffAccessError:
        pass
print(access.status().attempts_left)
"""


def test_unlock_clears_the_counts_of_every_number_and_the_total(config_path: Path) -> None:
    assert _add(config_path).returncode == 0
    assert python(SPREAD_SCRIPT, str(config_path)).stdout.strip() == "1"  # number 7 has four against it
    unlocked = kiosk("staff", "unlock", "--config", str(config_path))
    assert unlocked.stdout.strip() == "staff access was not locked; 7 counted wrong PINs cleared"
    assert json.loads(kiosk("staff", "list", "--json", "--config", str(config_path)).stdout)["lock"] == {
        "locked": False, "seconds_left": 0, "attempts_left": 5}
    last = json.loads(kiosk("audit", "tail", "-n", "1", "--json", "--config", str(config_path)).stdout)
    assert (last["action"], last["details"]["was_locked"], last["details"]["attempts_cleared"]) == (
        "staff.unlocked", False, 7)


def _three_entries(config_path: Path) -> Path:
    for staff_id, pin in (("1", "20481397"), ("2", "30592418"), ("3", "41603529")):
        assert _add(config_path, staff_id=staff_id, pin=pin).returncode == 0
    return load_config(config_path).data_path / "audit.sqlite"


def _tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for trigger in ("audit_no_update", "audit_no_delete", "audit_chain_only"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_audit_verify_passes_an_intact_log(config_path: Path) -> None:
    _three_entries(config_path)
    verified = kiosk("audit", "verify", "--config", str(config_path))
    assert verified.returncode == 0 and verified.stdout.strip() == "audit log OK (3 entries)"
    report = json.loads(kiosk("audit", "verify", "--json", "--config", str(config_path)).stdout)
    assert report["ok"] and report["entries"] == 3 and report["head"]["seq"] == 3


@pytest.mark.parametrize("statements, named", [
    (("UPDATE audit SET details = '{\"role\":\"technician\",\"staff_id\":\"2\"}' WHERE seq = 2",),
     "entry 2: its MAC does not match (edited?)"),
    (("DELETE FROM audit WHERE seq = 2",), "entry 2 is missing (deleted?)"),
    (("UPDATE audit SET seq = -2 WHERE seq = 2", "UPDATE audit SET seq = 2 WHERE seq = 3",
      "UPDATE audit SET seq = 3 WHERE seq = -2"), "entries out of order: entry 2 holds what was written as entry 3"),
])
def test_audit_verify_names_the_first_bad_entry(config_path: Path, statements: tuple[str, ...], named: str) -> None:
    _tamper(_three_entries(config_path), *statements)
    result = kiosk("audit", "verify", "--config", str(config_path))
    assert named in _one_line_error(result, 1)
    assert "1 entries before it are intact" in result.stderr
    report = kiosk("audit", "verify", "--json", "--config", str(config_path))
    assert report.returncode == 1 and json.loads(report.stdout)["first_bad_seq"] == 2


def test_a_cut_off_tail_fails_against_the_head_sent_earlier(config_path: Path) -> None:
    path = _three_entries(config_path)
    head = json.loads(kiosk("audit", "verify", "--json", "--config", str(config_path)).stdout)["head"]
    _tamper(path, "DELETE FROM audit WHERE seq = 3")
    assert kiosk("audit", "verify", "--config", str(config_path)).returncode == 0
    anchored = kiosk("audit", "verify", "--head", f"{head['seq']}:{head['mac']}", "--config", str(config_path))
    assert "cut off at the end" in _one_line_error(anchored, 1)


def test_the_service_credentials_must_be_used_from_the_shell(config_path: Path, tmp_path: Path) -> None:
    assert _add(config_path).returncode == 0
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "kiosk-staff-pepper").write_bytes(os.urandom(32))
    (credentials / "kiosk-audit-key").write_bytes(os.urandom(32))
    other = kiosk("staff", "add", "7", "--name", "Bo", "--role", "technician", "--pin-stdin", "--config",
                  str(config_path), stdin="5550193\n", CREDENTIALS_DIRECTORY=str(credentials))
    assert "not the one this log was written with" in _one_line_error(other, 1)
    verify = kiosk("audit", "verify", "--config", str(config_path), CREDENTIALS_DIRECTORY=str(credentials))
    assert "audit key (credential kiosk-audit-key)" in _one_line_error(verify, 1)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown the data directory")
def test_root_is_refused_in_the_kiosk_users_data_directory(config_path: Path) -> None:
    data = load_config(config_path).data_path
    data.mkdir(parents=True)
    os.chown(data, 65534, 65534)
    for args in (("staff", "list"), ("staff", "unlock"), ("audit", "verify")):
        assert "not as root" in _one_line_error(kiosk(*args, "--config", str(config_path)), 2)
    assert list(data.iterdir()) == []  # nothing was created there


def test_registration_stays_light() -> None:
    script = ("import sys\nfrom kiosk.cli import build_parser\nbuild_parser()\n"
              "print(sorted(m for m in sys.modules if m.startswith(('argon2', 'kiosk.staff', 'sqlite3'))))")
    result = python(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # the staff commands registered without the staff package


def test_help_lists_the_commands() -> None:
    for args, words in ((("staff", "--help"), ("add", "pin", "remove", "list", "unlock")),
                        (("audit", "--help"), ("verify", "tail"))):
        shown = kiosk(*args)
        assert shown.returncode == 0 and all(word in shown.stdout for word in words)
    assert T0 and sys.executable  # (shared constants stay imported for the helpers above)


def _rebuilt_without_types(path: Path, *statements: str) -> None:
    """What an attacker with sqlite3 can also do: rebuild the table without types or constraints."""
    _tamper(path, "CREATE TABLE loose (seq, ts, actor, action, details, prev, mac)",
            "INSERT INTO loose SELECT * FROM audit", "DROP TABLE audit", "ALTER TABLE loose RENAME TO audit",
            *statements)


@pytest.mark.parametrize("statements, named", [
    (("UPDATE audit SET details = 42 WHERE seq = 2",), "entry 2: its details are not a JSON object"),  # '42'
    (("UPDATE audit SET details = CAST(details AS BLOB) WHERE seq = 2",), "entry 2: its details are stored as a blob"),
    (("UPDATE audit SET mac = x'00ff' WHERE seq = 2",), "entry 2: its mac is stored as a blob"),
    (("UPDATE audit SET details = '{\"role\":' WHERE seq = 2",), "entry 2: its details are not valid JSON"),
    (("UPDATE audit SET details = 'NaN' WHERE seq = 2",), "entry 2: its details are not valid JSON"),
    (("UPDATE audit SET details = '[1]' WHERE seq = 2",), "entry 2: its details are not a JSON object"),
    (("UPDATE audit SET details = '" + "[" * 3000 + "' WHERE seq = 2",), "entry 2: its details are not valid JSON"),
    (("UPDATE audit SET actor = CAST(x'73746166663affff' AS TEXT) WHERE seq = 2",),
     "entry 2: its actor is not valid UTF-8 text"),
    (("UPDATE audit SET mac = 'é' || substr(mac, 2) WHERE seq = 2",), "entry 2: its MAC does not match"),
    (("UPDATE audit SET details = replace(details, ',', ', ') WHERE seq = 2",),
     "entry 2: its details are not written the way the kiosk writes them"),
])
def test_audit_verify_names_an_entry_whose_column_was_swapped(config_path: Path, statements: tuple[str, ...],
                                                              named: str) -> None:
    _tamper(_three_entries(config_path), *statements)
    result = kiosk("audit", "verify", "--config", str(config_path))
    assert named in _one_line_error(result, 1)
    report = kiosk("audit", "verify", "--json", "--config", str(config_path))
    assert report.returncode == 1 and json.loads(report.stdout)["first_bad_seq"] == 2


@pytest.mark.parametrize("statements, named", [
    (("UPDATE audit SET seq = '2' WHERE seq = 2",), "entry 2: its number is stored as text"),
    (("UPDATE audit SET seq = NULL WHERE seq = 2",), "entry 2: its number is stored as NULL"),
    (("UPDATE audit SET seq = x'02' WHERE seq = 2",), "entry 2: its number is stored as a blob"),
    (("UPDATE audit SET seq = 2.0 WHERE seq = 2",), "entry 2: its number is stored as a real number"),
    (("UPDATE audit SET ts = NULL WHERE seq = 2",), "entry 2: its ts is stored as NULL"),
    (("UPDATE audit SET details = 42 WHERE seq = 2",), "entry 2: its details are stored as an integer"),
    (("UPDATE audit SET actor = 3.5 WHERE seq = 2",), "entry 2: its actor is stored as a real number"),
    (("UPDATE audit SET prev = CAST(prev AS BLOB) WHERE seq = 2",), "entry 2: its prev is stored as a blob"),
])
def test_audit_verify_names_an_entry_of_a_table_rebuilt_without_types(config_path: Path,
                                                                      statements: tuple[str, ...], named: str) -> None:
    _rebuilt_without_types(_three_entries(config_path), *statements)
    assert named in _one_line_error(kiosk("audit", "verify", "--config", str(config_path)), 1)
    tail = kiosk("audit", "tail", "--config", str(config_path))  # still readable, one line per entry
    assert tail.returncode == 0 and "Traceback" not in tail.stderr and len(tail.stdout.splitlines()) == 3
