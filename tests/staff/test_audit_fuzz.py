"""verify() over audit files an attacker edited at random: with the triggers dropped (and the
table sometimes rebuilt without types), any column of any entry gets any value of any SQLite
type, including text that is not UTF-8. verify() must always return a verdict, never raise; it is
intact exactly when nothing changed, and otherwise it names the first entry that changed."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.staff.audit import AuditLog, AuditVerdict
from tests.conftest import count_example, fuzz_settings
from tests.staff.conftest import Clock

KEY = b"k" * 32
ENTRIES = 6
COLUMNS = ("seq", "ts", "actor", "action", "details", "prev", "mac")
RAW = "SELECT " + ", ".join(f"typeof({c}), CAST({c} AS BLOB)" for c in COLUMNS) + " FROM audit ORDER BY rowid"


@dataclass(frozen=True)
class NotUtf8:
    """Bytes stored as TEXT without validation (sqlite3's CAST(? AS TEXT) on a blob)."""

    data: bytes


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "audit.sqlite"
    log = AuditLog(path, KEY, now=Clock())
    log.append("shell:root", "staff.added", staff_id="1042", role="attendant")
    log.append("staff:1042", "staff.login", role="attendant")
    log.append("staff:1042", "cash.collected", number=3, received_cents=150000, items=[1, "dos", None, True])
    log.append("kiosk", "staff.login_failed", attempts_left=4)
    log.append("staff:1042", "receipt.reprint", folio="EMO-01-261121-C0BA", note="señora Núñez, ventanilla 2")
    log.append("shell:root", "staff.unlocked", was_locked=False, attempts_cleared=0)
    log.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one file holds the whole log
    conn.close()
    return path


JSON_LIKE = st.sampled_from(["{}", "[]", '"x"', "null", "NaN", "Infinity", "-Infinity", "1e999", "9" * 5000,
                             "[" * 3000, '{"a":' * 600 + "1" + "}" * 600, '{"role":"attendant"}',
                             '{"role": "attendant"}', '{"role":"attendant","role":"technician"}',
                             '{"a":"\\ud800"}'])  # (a lone surrogate: valid JSON, not encodable as UTF-8)
VALUES = st.one_of(st.none(), st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=80), st.binary(max_size=80),
                   st.builds(NotUtf8, st.binary(min_size=1, max_size=40)), JSON_LIKE)
ROWS = st.integers(min_value=1, max_value=ENTRIES)
COLUMN = st.sampled_from(COLUMNS)
MUTATIONS = st.lists(st.one_of(
    st.tuples(st.just("set"), ROWS, COLUMN, VALUES),
    st.tuples(st.just("copy"), ROWS, COLUMN, st.tuples(ROWS, COLUMN)),  # a value from elsewhere in the log
    st.tuples(st.just("append"), ROWS, st.just("seq"), VALUES),  # a copy of an entry under another number
), min_size=1, max_size=4)


def _attack(path: Path, rebuild: bool, mutations: list[tuple[str, int, str, Any]]) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")  # a throwaway copy: no need to wait for the disk
    for trigger in ("audit_no_update", "audit_no_delete", "audit_chain_only"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    if rebuild:  # no types, no constraints: seq can hold anything too
        conn.executescript("CREATE TABLE loose (seq, ts, actor, action, details, prev, mac);"
                           "INSERT INTO loose SELECT * FROM audit ORDER BY seq; DROP TABLE audit;"
                           "ALTER TABLE loose RENAME TO audit;")
    for kind, row, column, value in mutations:
        try:
            if kind == "copy":
                other_row, other_column = value
                conn.execute(f"UPDATE audit SET {column} = (SELECT {other_column} FROM audit WHERE rowid = ?) "
                             "WHERE rowid = ?", (other_row, row))
            elif kind == "append":
                conn.execute(f"INSERT INTO audit SELECT {_value_sql(value)}, ts, actor, action, details, prev, mac "
                             "FROM audit WHERE rowid = ?", (*_params(value), row))
            else:
                conn.execute(f"UPDATE audit SET {column} = {_value_sql(value)} WHERE rowid = ?", (*_params(value), row))
        except sqlite3.DatabaseError:
            pass  # refused by the table itself (a text seq in an INTEGER PRIMARY KEY, a duplicate number)
    conn.commit()
    conn.close()


def _value_sql(value: Any) -> str:
    return "CAST(? AS TEXT)" if isinstance(value, NotUtf8) else "?"


def _params(value: Any) -> tuple[Any, ...]:
    return (value.data,) if isinstance(value, NotUtf8) else (value,)


def _snapshot(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(RAW).fetchall()
    finally:
        conn.close()


@pytest.mark.fuzz
@fuzz_settings(short=200)
@given(rebuild=st.booleans(), mutations=MUTATIONS)
def test_verify_always_returns_a_verdict_naming_the_first_changed_entry(
        template: Path, rebuild: bool, mutations: list[tuple[str, int, str, Any]]) -> None:
    count_example("audit verify over edited rows")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "audit.sqlite"
        shutil.copyfile(template, path)
        before = _snapshot(path)
        _attack(path, rebuild, mutations)
        after = _snapshot(path)
        log = AuditLog(path, KEY)
        try:
            verdict = log.verify()
        finally:
            log.close()
    assert isinstance(verdict, AuditVerdict)
    changed = [position for position, rows in enumerate(zip(before, after, strict=False)) if rows[0] != rows[1]]
    if len(after) != len(before):
        changed.append(min(len(before), len(after)))
    assert verdict.ok == (not changed), (verdict, mutations)
    if changed:
        first = min(changed) + 1
        assert verdict.first_bad_seq == first and verdict.entries == first - 1, (verdict, mutations)
        assert verdict.problem and "\n" not in verdict.problem and "entr" in verdict.problem
