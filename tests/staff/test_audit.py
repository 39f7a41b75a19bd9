"""The hash-chained audit log: intact logs verify; edits, deletions, moves, forged entries, a
cut-off tail (against an anchored head) and a wrong key are each named."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import sqlite3
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core.config import Config
from kiosk.staff.audit import GENESIS, AuditLog, AuditUnavailable, canonical
from tests.staff.conftest import PYTHON, ROOT, T0, Clock, child_env

KEY = b"k" * 32


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.sqlite", KEY, now=Clock())
    yield audit
    audit.close()


def _fill(log: AuditLog, count: int) -> None:
    for number in range(1, count + 1):
        log.append(f"staff:{1000 + number}", "receipt.reprint", folio=f"EMO-01-{number:04d}", amount_cents=number)


def _tamper(path: Path, *statements: str) -> None:
    """What someone with file access but without the key can do: drop the triggers and edit."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    conn.execute("DROP TRIGGER IF EXISTS audit_chain_only")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_an_intact_log_verifies_and_its_entries_chain(log: AuditLog) -> None:
    assert log.verify().ok and log.verify().entries == 0 and log.head() == (0, GENESIS)
    _fill(log, 5)
    verdict = log.verify()
    assert (verdict.ok, verdict.entries, verdict.first_bad_seq, verdict.problem) == (True, 5, None, "")
    entries = log.tail(10)
    assert [entry.seq for entry in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev == GENESIS
    assert all(later.prev == earlier.mac for earlier, later in itertools.pairwise(entries))
    assert log.head() == (5, entries[-1].mac) == verdict.head
    assert entries[0].ts == "2030-03-17T17:46:40.000Z"  # the injected clock, UTC
    assert [entry.seq for entry in log.tail(2)] == [4, 5]


def test_the_mac_is_hmac_sha256_over_the_canonical_fields(log: AuditLog) -> None:
    entry = log.append("shell:root", "staff.added", staff_id="1042", role="attendant")
    expected = hmac.new(KEY, canonical(1, entry.ts, "shell:root", "staff.added",
                                       {"role": "attendant", "staff_id": "1042"}, GENESIS), hashlib.sha256)
    assert entry.mac == expected.hexdigest()
    assert canonical(1, "t", "a", "b", {"z": 1, "a": "é"}, GENESIS) == (
        '{"action":"b","actor":"a","details":{"a":"é","z":1},"prev":"' + GENESIS + '","seq":1,"ts":"t"}'
    ).encode("utf-8")


def test_triggers_refuse_update_delete_and_out_of_chain_inserts(log: AuditLog) -> None:
    _fill(log, 3)
    conn = sqlite3.connect(log.path)
    for statement in ("UPDATE audit SET actor = 'staff:1' WHERE seq = 2", "DELETE FROM audit WHERE seq = 3",
                      "INSERT INTO audit VALUES (9, 't', 'kiosk', 'x', '{}', 'p', 'm')"):
        with pytest.raises(sqlite3.DatabaseError, match=r"append-only|continue the chain"):
            conn.execute(statement)
    conn.close()
    assert log.verify().ok


@pytest.mark.parametrize("column, value", [("details", '{"amount_cents":1,"folio":"EMO-01-9999"}'),
                                           ("actor", "'staff:1'"), ("ts", "'2030-03-17T17:46:41.000Z'"),
                                           ("action", "'staff.login'")])
def test_an_edited_entry_is_named(log: AuditLog, column: str, value: str) -> None:
    _fill(log, 6)
    literal = value if column != "details" else f"'{value}'"
    _tamper(log.path, f"UPDATE audit SET {column} = {literal} WHERE seq = 4")
    verdict = log.verify()
    assert not verdict.ok and verdict.first_bad_seq == 4 and verdict.entries == 3
    assert verdict.problem == "entry 4: its MAC does not match (edited?)"


def test_a_deleted_entry_is_named(log: AuditLog) -> None:
    _fill(log, 10)
    _tamper(log.path, "DELETE FROM audit WHERE seq = 7")
    verdict = log.verify()
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 7, "entry 7 is missing (deleted?)")
    _tamper(log.path, "DELETE FROM audit WHERE seq IN (2, 3)")
    assert log.verify().problem == "entries 2 to 3 are missing (deleted?)"
    _tamper(log.path, "DELETE FROM audit WHERE seq = 1")
    assert log.verify().problem == "entries 1 to 3 are missing (deleted?)"


def test_moved_entries_are_reported_out_of_order(log: AuditLog) -> None:
    _fill(log, 6)
    _tamper(log.path, "UPDATE audit SET seq = -4 WHERE seq = 4", "UPDATE audit SET seq = 4 WHERE seq = 3",
            "UPDATE audit SET seq = 3 WHERE seq = -4")
    verdict = log.verify()
    assert not verdict.ok and verdict.first_bad_seq == 3
    assert verdict.problem == "entries out of order: entry 3 holds what was written as entry 4 (moved?)"


def test_an_entry_forged_with_another_key_is_named(log: AuditLog) -> None:
    _fill(log, 4)
    forged = AuditLog(log.path, b"f" * 32)
    prev = log.tail(2)[0].mac
    mac = hmac.new(b"f" * 32, canonical(4, "2030-03-17T17:46:40.000Z", "staff:1", "cash.count", {}, prev),
                   hashlib.sha256).hexdigest()
    _tamper(log.path, f"UPDATE audit SET actor='staff:1', action='cash.count', details='{{}}', mac='{mac}' "
                      "WHERE seq = 4")
    assert log.verify().problem == "entry 4: its MAC does not match (edited?)"
    forged.close()


def test_a_cut_off_tail_shows_against_an_anchored_head(log: AuditLog) -> None:
    _fill(log, 5)
    anchored = log.head()
    _tamper(log.path, "DELETE FROM audit WHERE seq >= 4")
    assert log.verify().ok  # the chain alone cannot tell
    verdict = log.verify(anchor=anchored)
    assert not verdict.ok and verdict.first_bad_seq == 4
    assert "ends at entry 3 but entry 5 was recorded elsewhere" in verdict.problem
    _fill(log, 3)  # rewritten with new entries up to 6: entry 5 is no longer the anchored one
    rewritten = log.verify(anchor=anchored)
    assert not rewritten.ok and rewritten.problem == "entry 5 is not the one recorded elsewhere (log rewritten?)"
    assert log.verify(anchor=log.head()).ok


def test_another_key_can_neither_append_nor_verify(log: AuditLog) -> None:
    _fill(log, 2)
    other = AuditLog(log.path, b"o" * 32)
    with pytest.raises(AuditUnavailable, match="not the one this log was written with"):
        other.append("shell:root", "staff.unlocked")
    with pytest.raises(AuditUnavailable):
        other.check_writable()
    verdict = other.verify()
    assert not verdict.ok and verdict.first_bad_seq == 1 and "audit key" in verdict.problem
    other.close()
    assert log.verify().entries == 2


def test_details_never_carry_pins_or_personal_data(log: AuditLog) -> None:
    for bad in ({"pin": "739184"}, {"new_pin": "1"}, {"Pin": "1"}, {"citizen_email": "a@b.mx"},
                {"nested": {"password": "x"}}, {"amount": float("nan")}, {"blob": b"x"}, {"text": "x" * 5000}):
        with pytest.raises(ValueError):
            log.append("staff:1042", "receipt.reprint", **bad)
    for actor, action in (("root", "x"), ("staff:1042", "Bad Action"), ("staff:10 42", "x")):
        with pytest.raises(ValueError):
            log.append(actor, action)
    entry = log.append("staff:12345678", "cash.count", staff_id="12345678", folio="EMO-01-261121-C0BA",
                       note="card 4111 1111 1111 1111", amount_cents=150000, items=[1, "x"])
    assert entry.details == {"staff_id": "12345678", "folio": "EMO-01-261121-C0BA", "note": "card [redacted]",
                             "amount_cents": 150000, "items": [1, "x"]}
    assert b"4111" not in log.path.read_bytes() + Path(f"{log.path}-wal").read_bytes()
    assert log.verify().entries == 1


def test_files_are_private(log: AuditLog) -> None:
    log.append("kiosk", "kiosk.started")
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600


APPEND_SCRIPT = """
import sys
from kiosk.core.config import load_config
from kiosk.staff.audit import AuditLog
log = AuditLog.open(load_config(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()  # start together with the test's threads
for number in range(int(sys.argv[2])):
    log.append("shell:child", "test.append", number=number)
print("done", flush=True)
"""


def test_threads_and_processes_append_concurrently_without_breaking_the_chain(
        config: Config, config_path: Path) -> None:
    log = AuditLog.open(config)
    log.append("kiosk", "test.start")
    children = [subprocess.Popen([PYTHON, "-c", APPEND_SCRIPT, str(config_path), "25"], cwd=ROOT, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=child_env()) for _ in range(2)]
    errors: list[BaseException] = []

    def append_many() -> None:
        try:
            for number in range(25):
                log.append("staff:1", "test.append", number=number)
        except BaseException as error:
            errors.append(error)

    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        threads = [threading.Thread(target=append_many) for _ in range(4)]
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        outputs = [child.communicate(timeout=60) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=10)
    assert not errors
    assert all(child.returncode == 0 for child in children), outputs
    verdict = log.verify()
    assert verdict.ok and verdict.entries == 1 + 4 * 25 + 2 * 25
    log.close()


def test_the_audit_log_starts_from_the_config(config: Config) -> None:
    log = AuditLog.open(config, now=Clock(T0))
    log.append("kiosk", "kiosk.started")
    assert (config.data_path / "audit.sqlite").exists() and (config.data_path / "staff" / "audit.key").exists()
    log.close()
