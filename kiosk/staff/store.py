"""staff.sqlite: staff members and the lockout state.

The lockout counts attempts, not failures: `begin_attempt` records one attempt (a row in
`attempts`, under the typed staff number) and commits before the slow PIN check; only a success
takes it back. A process killed (or a kiosk rebooted) in the middle of a check therefore keeps
the attempt on the books, and an attacker cannot get free guesses by pulling the plug.

Wrong PINs count twice: against the staff number typed (known or not), and in a kiosk-wide
total. A good login clears its own number's count, never another number's and never the total:
someone who knows their own PIN cannot wipe the guesses they made at a colleague's number.
Attempts older than the window stop counting and are deleted, so the table never holds more rows
than the total limit. Reaching either limit locks the whole kiosk (whatever number is typed next)
until `locked_until`, a wall-clock time that survives restarts; a lock starts both counts afresh.

Typed numbers are stored as keyed hashes (StaffAccess makes them with the PIN pepper): a PIN
typed into the number field must not end up in the database.
"""

from __future__ import annotations

import math
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from kiosk.staff import db
from kiosk.staff.model import ROLES, InvalidStaff, Lockout, LockStatus, StaffMember

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS staff (
    staff_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN {ROLES!r}),
    pin_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS lock_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    attempts INTEGER NOT NULL DEFAULT 0,   -- before per-number counting: one kiosk-wide count (carried over below)
    locked_until REAL NOT NULL DEFAULT 0   -- wall-clock epoch seconds; 0: not locked
);
INSERT OR IGNORE INTO lock_state (id) VALUES (1);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a finishing check deletes its own row by id
    target TEXT,                           -- keyed hash of the typed number; NULL once that number logged in
    at REAL NOT NULL                       -- wall clock when the attempt was counted (before its check)
);
CREATE INDEX IF NOT EXISTS attempts_by_target ON attempts (target);
WITH RECURSIVE carried (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM carried
                               WHERE n < (SELECT attempts FROM lock_state))
INSERT INTO attempts (target, at)
    SELECT NULL, (julianday('now') - 2440587.5) * 86400.0 FROM carried WHERE (SELECT attempts FROM lock_state) > 0;
UPDATE lock_state SET attempts = 0 WHERE attempts != 0;
CREATE TABLE IF NOT EXISTS lockouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    locked_at REAL NOT NULL,
    locked_until REAL NOT NULL,
    cause TEXT NOT NULL,
    unlocked_at REAL,
    unlocked_by TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True)
class Policy:
    """The two limits, their lock times and the window (seconds); every value finite and positive."""

    per_number: int  # wrong PINs at one typed number that lock
    lock_s: float  # how long that lock lasts
    total: int  # wrong PINs at any numbers together that lock
    total_lock_s: float  # how long that lock lasts
    window_s: float  # how long a wrong PIN keeps counting

    def __post_init__(self) -> None:
        # A NaN lock time would make `locked_until > now` false forever: refuse it here too.
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                    or value <= 0:
                raise ValueError(f"lockout {spec.name} must be a finite number above 0, not {value!r}")

    @property
    def longest_lock_s(self) -> float:
        return max(self.lock_s, self.total_lock_s)

    def lock_after(self, at_number: int, in_total: int) -> tuple[float, str] | None:
        """(lock seconds, cause) when either count has reached its limit, else None."""
        reached = [(self.lock_s, "wrong PINs at one staff number")] if at_number >= self.per_number else []
        if in_total >= self.total:
            reached.append((self.total_lock_s, "wrong PINs in total"))
        return max(reached) if reached else None

    def left(self, at_number: int, in_total: int) -> int:
        return max(0, min(self.per_number - at_number, self.total - in_total))


@dataclass(frozen=True)
class Attempt:
    """What `begin_attempt` found: the member's hash to check and the attempt's row, or the lock
    that refuses it."""

    member: StaffMember | None = None
    pin_hash: str = ""
    ticket: int = 0
    locked_s: float = 0.0
    just_locked: bool = False
    cause: str = ""


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: refused by a lock (`locked_s` > 0) or with `attempts_left`."""

    locked_s: float = 0.0
    just_locked: bool = False
    attempts_left: int = 0
    cause: str = ""


# How long the current lock was set for (the latest lockout's length).
_LOCK_LENGTH = "SELECT locked_until - locked_at FROM lockouts ORDER BY id DESC LIMIT 1"


def _length(recorded: float | None, policy: Policy) -> float:
    """The current lock's length, never more than the policy's longest (nor unknown)."""
    if recorded is None or not 0 < recorded <= policy.longest_lock_s:
        return policy.longest_lock_s
    return float(recorded)


class StaffStore:
    """One connection on staff.sqlite; not thread-safe by itself (StaffAccess holds the lock)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._conn = db.connect(self.path, SCHEMA)

    def close(self) -> None:
        db.release(self._conn)

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return db.immediate(self._conn, self.path)

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.Error as error:
            raise db.StorageProblem(f"{self.path}: {error}") from None

    # ---- the lockout ---------------------------------------------------------------------

    def begin_attempt(self, staff_id: str, target: str, now: float, policy: Policy) -> Attempt:
        """Count one attempt at `target` (committed on return) unless staff access is locked."""
        with self._write() as conn:
            (locked_until,) = conn.execute("SELECT locked_until FROM lock_state").fetchone()
            if locked_until > now:
                return Attempt(locked_s=self._clamped(conn, now, locked_until, policy))
            self._forget_old(conn, now, policy)
            lock = policy.lock_after(*self._counts(conn, target, now, policy))
            if lock is not None:
                # The budget was spent by attempts that never finished (killed mid-check).
                cause = f"interrupted attempts ({lock[1]})"
                return Attempt(locked_s=self._lock(conn, now, lock[0], cause), just_locked=True, cause=cause)
            ticket = conn.execute("INSERT INTO attempts (target, at) VALUES (?, ?)", (target, now)).lastrowid
            row = conn.execute("SELECT staff_id, name, role, pin_hash FROM staff WHERE staff_id = ?",
                               (staff_id,)).fetchone()
        if row is None:
            return Attempt(ticket=int(ticket or 0))
        return Attempt(member=StaffMember(row[0], row[1], row[2]), pin_hash=row[3], ticket=int(ticket or 0))

    def finish_attempt(self, target: str, ticket: int, matched: bool, now: float, policy: Policy) -> Outcome:
        """Settle the attempt begun before: a match takes it back and clears its number's count
        (not the total: earlier wrong PINs stay there); a mismatch leaves it counted and locks at
        either limit. A lock set meanwhile by another process wins."""
        with self._write() as conn:
            (locked_until,) = conn.execute("SELECT locked_until FROM lock_state").fetchone()
            if locked_until > now:
                return Outcome(locked_s=locked_until - now)
            if matched:
                conn.execute("DELETE FROM attempts WHERE id = ?", (ticket,))
                conn.execute("UPDATE attempts SET target = NULL WHERE target = ?", (target,))
                return Outcome(attempts_left=policy.left(0, self._counts(conn, target, now, policy)[1]))
            at_number, in_total = self._counts(conn, target, now, policy)
            lock = policy.lock_after(at_number, in_total)
            if lock is not None:
                return Outcome(locked_s=self._lock(conn, now, lock[0], lock[1]), just_locked=True, cause=lock[1])
        return Outcome(attempts_left=policy.left(at_number, in_total))

    def status(self, now: float, policy: Policy) -> LockStatus:
        ((locked_until, length),) = self._read(f"SELECT locked_until, ({_LOCK_LENGTH}) FROM lock_state")
        if locked_until - now > _length(length, policy):  # the clock went back: a screen showing the lock
            with self._write() as conn:                    # must see it end, even if nobody types a PIN
                (locked_until,) = conn.execute("SELECT locked_until FROM lock_state").fetchone()
                if locked_until > now:  # (still locked: another process may have unlocked)
                    locked_until = now + self._clamped(conn, now, locked_until, policy)
        if locked_until > now:
            return LockStatus(True, locked_until - now, 0)
        since = now - policy.window_s
        ((in_total,),) = self._read("SELECT COUNT(*) FROM attempts WHERE at > ?", (since,))
        ((most_at_one,),) = self._read("SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM attempts "
                                       "WHERE at > ? AND target IS NOT NULL GROUP BY target)", (since,))
        return LockStatus(False, 0.0, policy.left(most_at_one, in_total))

    def unlock(self, now: float, by: str) -> tuple[bool, int]:
        """Lift a lock and clear every count; (whether staff access was locked, attempts cleared)."""
        with self._write() as conn:
            (locked_until,) = conn.execute("SELECT locked_until FROM lock_state").fetchone()
            cleared = conn.execute("DELETE FROM attempts").rowcount
            conn.execute("UPDATE lock_state SET locked_until = 0")
            conn.execute("UPDATE lockouts SET unlocked_at = ?, unlocked_by = ? "
                         "WHERE unlocked_at IS NULL AND locked_until > ?", (now, by, now))
        return locked_until > now, max(0, cleared)

    def lockouts(self, since: float) -> list[Lockout]:
        rows = self._read("SELECT locked_at, locked_until, unlocked_at, unlocked_by FROM lockouts "
                          "WHERE locked_at >= ? ORDER BY id", (since,))
        return [Lockout(*row) for row in rows]

    @staticmethod
    def _counts(conn: sqlite3.Connection, target: str, now: float, policy: Policy) -> tuple[int, int]:
        """(attempts at `target`, attempts in total) within the window."""
        at_number, in_total = conn.execute(
            "SELECT COALESCE(SUM(target = ?), 0), COUNT(*) FROM attempts WHERE at > ?",
            (target, now - policy.window_s)).fetchone()
        return int(at_number), int(in_total)

    @staticmethod
    def _forget_old(conn: sqlite3.Connection, now: float, policy: Policy) -> None:
        # An attempt stamped in the future means the clock went back: it counts from now, for a
        # whole window (neither forgotten at once nor kept for months).
        conn.execute("UPDATE attempts SET at = ? WHERE at > ?", (now, now))
        conn.execute("DELETE FROM attempts WHERE at <= ?", (now - policy.window_s,))

    @staticmethod
    def _lock(conn: sqlite3.Connection, now: float, lock_s: float, cause: str) -> float:
        conn.execute("DELETE FROM attempts")
        conn.execute("UPDATE lock_state SET locked_until = ?", (now + lock_s,))
        conn.execute("INSERT INTO lockouts (locked_at, locked_until, cause) VALUES (?, ?, ?)",
                     (now, now + lock_s, cause))
        return lock_s

    @staticmethod
    def _clamped(conn: sqlite3.Connection, now: float, locked_until: float, policy: Policy) -> float:
        # A lock that ends further away than its own length means the clock went back (an
        # RTC-less board booting with an old time, a technician's mistake): restart the period
        # from now rather than lock staff out for months.
        (length,) = conn.execute(_LOCK_LENGTH).fetchone() or (None,)
        length = _length(length, policy)
        if locked_until - now > length:
            conn.execute("UPDATE lock_state SET locked_until = ?", (now + length,))
            return length
        return locked_until - now

    # ---- members -------------------------------------------------------------------------

    def add(self, member: StaffMember, pin_hash: str, now: float) -> None:
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM staff WHERE staff_id = ?", (member.staff_id,)).fetchone():
                raise InvalidStaff(f"staff id {member.staff_id} already exists")
            conn.execute("INSERT INTO staff (staff_id, name, role, pin_hash, created_at) VALUES (?,?,?,?,?)",
                         (member.staff_id, member.name, member.role, pin_hash, now))

    def remove(self, staff_id: str) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM staff WHERE staff_id = ?", (staff_id,)).rowcount > 0

    def set_pin_hash(self, staff_id: str, pin_hash: str, only_if: str | None = None) -> bool:
        """Replace a member's hash; with `only_if`, only while it is still that hash (rehash)."""
        with self._write() as conn:
            if only_if is None:
                cursor = conn.execute("UPDATE staff SET pin_hash = ? WHERE staff_id = ?", (pin_hash, staff_id))
            else:
                cursor = conn.execute("UPDATE staff SET pin_hash = ? WHERE staff_id = ? AND pin_hash = ?",
                                      (pin_hash, staff_id, only_if))
            return cursor.rowcount > 0

    def members(self) -> list[tuple[StaffMember, float]]:
        rows = self._read("SELECT staff_id, name, role, created_at FROM staff ORDER BY CAST(staff_id AS INTEGER), "
                          "staff_id")
        return [(StaffMember(row[0], row[1], row[2]), row[3]) for row in rows]

    # ---- which pepper the hashes were made with -------------------------------------------

    def adopt_pepper(self, fingerprint: str) -> str | None:
        """Record the pepper's fingerprint; return the recorded one when it differs and there
        are members whose hashes need the old pepper (None: this pepper is the right one)."""
        with self._write() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'pepper_id'").fetchone()
            members = conn.execute("SELECT 1 FROM staff LIMIT 1").fetchone() is not None
            if row is not None and row[0] != fingerprint and members:
                return str(row[0])
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('pepper_id', ?)", (fingerprint,))
        return None
