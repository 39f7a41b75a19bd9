"""staff.sqlite: staff members and the kiosk-wide lockout state.

The lockout counts attempts, not failures: `begin_attempt` adds one to the counter and commits
before the slow PIN check, and only a success takes it back to zero. A process killed (or a kiosk
rebooted) in the middle of a check therefore keeps the attempt on the books, and an attacker
cannot get free guesses by pulling the plug. When the counter reaches the limit the whole kiosk
is locked (whatever id is typed next) until `locked_until`, a wall-clock time that survives
restarts.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
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
    attempts INTEGER NOT NULL DEFAULT 0,   -- counted since the last success or lock, in-flight included
    locked_until REAL NOT NULL DEFAULT 0   -- wall-clock epoch seconds; 0: not locked
);
INSERT OR IGNORE INTO lock_state (id) VALUES (1);
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
    attempts: int  # attempts in a row that lock
    lock_s: float  # how long the lock lasts


@dataclass(frozen=True)
class Attempt:
    """What `begin_attempt` found: the member's hash to check, or the lock that refuses it."""

    member: StaffMember | None = None
    pin_hash: str = ""
    locked_s: float = 0.0
    just_locked: bool = False


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: refused by a lock (`locked_s` > 0) or with `attempts_left`."""

    locked_s: float = 0.0
    just_locked: bool = False
    attempts_left: int = 0


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

    def begin_attempt(self, staff_id: str, now: float, policy: Policy) -> Attempt:
        """Count one attempt (committed on return) unless staff access is locked."""
        with self._write() as conn:
            attempts, locked_until = conn.execute("SELECT attempts, locked_until FROM lock_state").fetchone()
            if locked_until > now:
                return Attempt(locked_s=self._clamped(conn, now, locked_until, policy))
            if attempts >= policy.attempts:
                # The budget was spent by attempts that never finished (killed mid-check).
                return Attempt(locked_s=self._lock(conn, now, policy, "interrupted attempts"), just_locked=True)
            conn.execute("UPDATE lock_state SET attempts = attempts + 1")
            row = conn.execute("SELECT staff_id, name, role, pin_hash FROM staff WHERE staff_id = ?",
                               (staff_id,)).fetchone()
        if row is None:
            return Attempt()
        return Attempt(member=StaffMember(row[0], row[1], row[2]), pin_hash=row[3])

    def finish_attempt(self, matched: bool, now: float, policy: Policy) -> Outcome:
        """Settle the attempt begun before: a match clears the counter (unless another process
        locked staff access meanwhile); a mismatch leaves it counted and locks at the limit."""
        with self._write() as conn:
            attempts, locked_until = conn.execute("SELECT attempts, locked_until FROM lock_state").fetchone()
            if locked_until > now:
                return Outcome(locked_s=locked_until - now)
            if matched:
                conn.execute("UPDATE lock_state SET attempts = 0")
                return Outcome(attempts_left=policy.attempts)
            if attempts >= policy.attempts:
                return Outcome(locked_s=self._lock(conn, now, policy, "wrong PINs"), just_locked=True)
        return Outcome(attempts_left=policy.attempts - attempts)

    def status(self, now: float, policy: Policy) -> LockStatus:
        attempts, locked_until = self._read("SELECT attempts, locked_until FROM lock_state")[0]
        if locked_until - now > policy.lock_s:  # the clock went back: a screen showing the lock
            with self._write() as conn:         # must see it end, even if nobody types a PIN
                (locked_until,) = conn.execute("SELECT locked_until FROM lock_state").fetchone()
                if locked_until > now:  # (still locked: another process may have unlocked)
                    locked_until = now + self._clamped(conn, now, locked_until, policy)
        if locked_until > now:
            return LockStatus(True, locked_until - now, 0)
        return LockStatus(False, 0.0, max(0, policy.attempts - attempts))

    def unlock(self, now: float, by: str) -> bool:
        """Lift a lock and clear the counter; True when staff access was locked."""
        with self._write() as conn:
            (locked_until,) = conn.execute("SELECT locked_until FROM lock_state").fetchone()
            conn.execute("UPDATE lock_state SET attempts = 0, locked_until = 0")
            conn.execute("UPDATE lockouts SET unlocked_at = ?, unlocked_by = ? "
                         "WHERE unlocked_at IS NULL AND locked_until > ?", (now, by, now))
        return locked_until > now

    def lockouts(self, since: float) -> list[Lockout]:
        rows = self._read("SELECT locked_at, locked_until, unlocked_at, unlocked_by FROM lockouts "
                          "WHERE locked_at >= ? ORDER BY id", (since,))
        return [Lockout(*row) for row in rows]

    @staticmethod
    def _lock(conn: sqlite3.Connection, now: float, policy: Policy, cause: str) -> float:
        conn.execute("UPDATE lock_state SET attempts = 0, locked_until = ?", (now + policy.lock_s,))
        conn.execute("INSERT INTO lockouts (locked_at, locked_until, cause) VALUES (?, ?, ?)",
                     (now, now + policy.lock_s, cause))
        return policy.lock_s

    @staticmethod
    def _clamped(conn: sqlite3.Connection, now: float, locked_until: float, policy: Policy) -> float:
        # A lock that ends further away than a whole lock period means the clock went back
        # (an RTC-less board booting with an old time, a technician's mistake): restart the
        # period from now rather than lock staff out for months.
        if locked_until - now > policy.lock_s:
            conn.execute("UPDATE lock_state SET locked_until = ?", (now + policy.lock_s,))
            return policy.lock_s
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
