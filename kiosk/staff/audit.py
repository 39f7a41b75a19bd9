"""audit.sqlite: an append-only, hash-chained log of what staff (and the shell) did.

Each entry is (seq, ts, actor, action, details, prev, mac) where `prev` is the previous entry's
mac (64 zeros for the first) and `mac = HMAC-SHA256(key, canonical JSON of seq, ts, actor,
action, details, prev)`. Editing, deleting, inserting or moving an entry breaks a MAC or the
chain, and `verify()` names the first entry where it breaks. Triggers refuse UPDATE and DELETE
(and any INSERT that does not continue the chain) so a mistake cannot rewrite history; someone
who drops them still cannot forge MACs without the key, which lives outside the database
(kiosk/staff/secrets.py). The chain cannot show that entries were cut off at the end: `head()`
is sent with the heartbeat so the server can notice a log that got shorter.

Details are facts for an auditor, never secrets or citizen data: keys naming a PIN, password or
personal identifier are refused, and string values go through the log redaction as a second line
of defence (folios, amounts and staff ids are fine).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.core.config import Config
from kiosk.core.logs import event, redact
from kiosk.staff import db
from kiosk.staff.model import StaffUnavailable
from kiosk.staff.secrets import Secret, SecretProblem, load_audit_key

log = logging.getLogger("kiosk.audit")

DATABASE_NAME = "audit.sqlite"
GENESIS = "0" * 64
MAX_DETAILS_BYTES = 4096
MOVE_SEARCH = 10_000
_ACTOR = re.compile(r"kiosk|[a-z]+:[^\s:]{1,64}")
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Words in a details key that mean a secret or a citizen's personal data.
_FORBIDDEN_KEY_WORDS = frozenset({"pin", "password", "passcode", "secret", "cvv", "pan", "curp", "rfc", "email",
                                  "phone", "address", "birth"})
_UNREDACTED_KEYS = frozenset({"staff_id", "folio"})  # long digit runs here are not personal data

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
    prev TEXT NOT NULL,
    mac TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_chain_only BEFORE INSERT ON audit
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit)
  OR NEW.prev IS NOT COALESCE((SELECT mac FROM audit ORDER BY seq DESC LIMIT 1), '""" + GENESIS + """')
BEGIN SELECT RAISE(ABORT, 'an audit entry must continue the chain'); END;
"""


class AuditUnavailable(StaffUnavailable):
    """The audit log cannot be written (or its key is not the one it was written with)."""

    code = "staff.audit_unavailable"


@dataclass(frozen=True)
class AuditEntry:
    seq: int | str  # text only when tail() shows a damaged entry whose number is not an integer
    ts: str  # UTC, ISO 8601 with milliseconds
    actor: str  # "staff:<id>", "shell:<unix user>" or "kiosk"
    action: str
    details: dict[str, Any] = field(default_factory=dict)
    prev: str = GENESIS
    mac: str = ""


@dataclass(frozen=True)
class AuditVerdict:
    ok: bool
    entries: int  # entries checked and found intact (all of them when ok)
    first_bad_seq: int | None = None
    problem: str = ""  # in words: "entry 4: its MAC does not match (edited?)"
    head: tuple[int, str] = (0, GENESIS)  # the last intact entry


def canonical(seq: int, ts: str, actor: str, action: str, details: dict[str, Any], prev: str) -> bytes:
    """The bytes an entry's MAC covers (the server can recompute them from the same fields)."""
    record = {"seq": seq, "ts": ts, "actor": actor, "action": action, "details": details, "prev": prev}
    return _json(record).encode("utf-8")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _iso(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """Thread-safe; several processes may append to the same file (BEGIN IMMEDIATE)."""

    def __init__(self, path: Path | str, key: Secret | bytes, now: Callable[[], float] = time.time):
        self.path = Path(path)
        self._key = key if isinstance(key, Secret) else Secret(bytes(key), "(given)")
        self._now = now
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._key_checked = False

    @classmethod
    def open(cls, config: Config, now: Callable[[], float] = time.time) -> AuditLog:
        """The kiosk's log in `<data_dir>/audit.sqlite`, keyed by its credential or key file."""
        try:
            key = load_audit_key(config.data_path)
        except (SecretProblem, OSError) as error:
            raise AuditUnavailable(f"audit key: {error}") from None
        return cls(config.data_path / DATABASE_NAME, key, now)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                db.release(self._conn)
                self._conn = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self._conn = db.connect(self.path, SCHEMA)
            except db.StorageProblem as error:
                raise AuditUnavailable(str(error)) from None
        return self._conn

    def _mac(self, seq: int, ts: str, actor: str, action: str, details: dict[str, Any], prev: str) -> str:
        return hmac.new(self._key.value, canonical(seq, ts, actor, action, details, prev), hashlib.sha256).hexdigest()

    # ---- writing ---------------------------------------------------------------------------

    def append(self, actor: str, action: str, **details: Any) -> AuditEntry:
        """Add one entry (on disk when this returns). Raises ValueError for a malformed actor,
        action or details (a programming error) and AuditUnavailable when it cannot be written."""
        clean = _clean_details(actor, action, details)
        with self._lock:
            conn = self._db()
            try:
                with db.immediate(conn, self.path):
                    self._check_key(conn)
                    row = conn.execute("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                    seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
                    ts = _iso(self._now())
                    entry = AuditEntry(seq, ts, actor, action, clean, prev,
                                       self._mac(seq, ts, actor, action, clean, prev))
                    conn.execute("INSERT INTO audit (seq, ts, actor, action, details, prev, mac) "
                                 "VALUES (?,?,?,?,?,?,?)", (seq, ts, actor, action, _json(clean), prev, entry.mac))
            except db.StorageProblem as error:
                event(log, "audit.unwritable", logging.ERROR, problem=str(error))
                raise AuditUnavailable(str(error)) from None
        event(log, "audit.appended", logging.DEBUG, seq=entry.seq, actor=actor, action=action)
        return entry

    def check_writable(self) -> None:
        """Raise AuditUnavailable unless an append would work now (file writable, right key)."""
        with self._lock:
            try:
                with db.immediate(self._db(), self.path) as conn:
                    self._check_key(conn)
            except db.StorageProblem as error:
                raise AuditUnavailable(str(error)) from None

    def _check_key(self, conn: sqlite3.Connection) -> None:
        """Refuse to extend a log with another key than the one it was written with: every later
        entry would look forged (a shell command run without the service's credential)."""
        if self._key_checked:
            return
        fingerprint = self._key.fingerprint("audit")
        row = conn.execute("SELECT value FROM meta WHERE key = 'key_id'").fetchone()
        if row is None or conn.execute("SELECT 1 FROM audit LIMIT 1").fetchone() is None:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('key_id', ?)", (fingerprint,))
        elif row[0] != fingerprint:
            raise AuditUnavailable(f"the audit key ({self._key.source}) is not the one this log was written with; "
                                   "run with the kiosk's credentials (docs/staff.md)")
        self._key_checked = True

    # ---- reading ---------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """(seq, mac) of the last entry, (0, 64 zeros) when empty: anchor it outside the kiosk."""
        row = self._query("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1")
        return (row[0][0], row[0][1]) if row else (0, GENESIS)

    def tail(self, count: int = 20) -> list[AuditEntry]:
        """The last entries as they are stored, however damaged (for reading, not for trusting)."""
        rows = self._query(f"SELECT {_RAW_COLUMNS} FROM audit ORDER BY rowid DESC LIMIT ?", (max(0, count),))
        return [_entry(row) for row in reversed(rows)]

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM audit")[0][0])

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db().execute(sql, args).fetchall()
            except sqlite3.Error as error:
                raise AuditUnavailable(f"{self.path}: {error}") from None

    # ---- verifying -------------------------------------------------------------------------

    def verify(self, anchor: tuple[int, str] | None = None) -> AuditVerdict:
        """Walk the chain from the first entry; stop at the first entry that is not intact.
        `anchor` is a (seq, mac) head recorded elsewhere earlier: it reveals a cut-off tail.
        Any entry that cannot be read as the kiosk writes it (another type in a column, text
        that is not UTF-8, details that are not canonical JSON) is a verdict naming it, never
        an exception; AuditUnavailable only when the file cannot be opened at all."""
        with self._lock:
            try:
                verdict = self._walk(self._db())
            except sqlite3.Error as error:
                raise AuditUnavailable(f"{self.path}: {error}") from None
        if verdict.ok and anchor is not None:
            return self._check_anchor(verdict, anchor)
        return verdict

    def _walk(self, conn: sqlite3.Connection) -> AuditVerdict:
        expected, prev = 1, GENESIS
        try:
            # rowid: the order entries were written in, even in a table rebuilt with other numbers.
            for raw in conn.execute(f"SELECT {_RAW_COLUMNS} FROM audit ORDER BY rowid"):
                problem, mac = self._check_entry(raw, expected, prev)
                if problem:
                    return self._bad(expected, prev, problem)
                expected, prev = expected + 1, mac
        except sqlite3.DatabaseError as error:  # a damaged page: the entries from here cannot be read
            return self._bad(expected, prev, f"entry {expected} cannot be read ({error}): damaged or edited?")
        return AuditVerdict(True, expected - 1, head=(expected - 1, prev))

    def _check_entry(self, raw: tuple[Any, ...], expected: int, prev: str) -> tuple[str, str]:
        """("", its mac) when the entry read is intact and follows `prev`, else (the problem, "")."""
        try:
            seq, (ts, actor, action, details_text, row_prev, mac) = _decoded(raw, expected)
            if seq != expected:
                return _missing(expected, seq), ""
            details = _details(seq, details_text)
        except _Unreadable as unreadable:
            return str(unreadable), ""
        if not hmac.compare_digest(mac.encode(), self._mac(seq, ts, actor, action, details, row_prev).encode()):
            return self._mac_problem(seq, (ts, actor, action, details, row_prev, mac)), ""
        if row_prev != prev:
            return f"entry {seq} does not follow entry {seq - 1} (entries inserted, removed or out of order?)", ""
        return "", mac

    @staticmethod
    def _bad(seq: int, prev: str, problem: str) -> AuditVerdict:
        return AuditVerdict(False, max(0, seq - 1), seq, problem, (max(0, seq - 1), prev))

    def _mac_problem(self, seq: int, content: tuple[Any, ...]) -> str:
        ts, actor, action, details, prev, mac = content
        if seq == 1 and self._recorded_key_differs():
            return (f"entry 1: its MAC does not match: the audit key ({self._key.source}) is not the one this log "
                    "was written with")
        last = int(self._db().execute("SELECT COALESCE(MAX(seq), 0) FROM audit "
                                      "WHERE typeof(seq) = 'integer'").fetchone()[0])
        # Intact content under another number means the entry was moved, not edited (the search
        # stays near the entry so a damaged million-entry log is still diagnosed in seconds).
        nearby = range(max(1, seq - MOVE_SEARCH), min(last, seq + MOVE_SEARCH) + 1)
        for candidate in sorted(nearby, key=lambda other: abs(other - seq)):
            if candidate != seq and hmac.compare_digest(
                    mac.encode(), self._mac(candidate, ts, actor, action, details, prev).encode()):
                return f"entries out of order: entry {seq} holds what was written as entry {candidate} (moved?)"
        return f"entry {seq}: its MAC does not match (edited?)"

    def _recorded_key_differs(self) -> bool:
        row = self._db().execute("SELECT CAST(value AS BLOB) FROM meta WHERE key = 'key_id'").fetchone()
        return row is not None and row[0] != self._key.fingerprint("audit").encode()

    def _check_anchor(self, verdict: AuditVerdict, anchor: tuple[int, str]) -> AuditVerdict:
        anchored_seq, anchored_mac = anchor
        if anchored_seq > verdict.entries:
            return AuditVerdict(False, verdict.entries, verdict.entries + 1,
                                f"the log ends at entry {verdict.entries} but entry {anchored_seq} was recorded "
                                "elsewhere (entries cut off at the end?)", verdict.head)
        if anchored_seq > 0:
            row = self._query("SELECT mac FROM audit WHERE seq = ?", (anchored_seq,))
            if not row or row[0][0] != anchored_mac:
                return AuditVerdict(False, anchored_seq - 1, anchored_seq,
                                    f"entry {anchored_seq} is not the one recorded elsewhere (log rewritten?)",
                                    verdict.head)
        return verdict


def _missing(expected: int, found: int) -> str:
    if found < expected:
        return f"entry {found} is not where it should be (entries out of order?)"
    if found == expected + 1:
        return f"entry {expected} is missing (deleted?)"
    return f"entries {expected} to {found - 1} are missing (deleted?)"


# Every column as its SQLite type and its raw bytes: an entry edited with sqlite3 may hold any
# type, or text that is not UTF-8, and reading it must name the entry instead of failing.
_COLUMNS = ("seq", "ts", "actor", "action", "details", "prev", "mac")
_RAW_COLUMNS = ", ".join(f"typeof({name}), CAST({name} AS BLOB)" for name in _COLUMNS)
_KINDS = {"integer": "an integer", "real": "a real number", "text": "text", "blob": "a blob", "null": "NULL"}


class _Unreadable(Exception):
    """An entry that is not stored the way the kiosk writes entries; the message names it."""


def _decoded(raw: tuple[Any, ...], expected: int) -> tuple[int, list[str]]:
    """(seq, [ts, actor, action, details, prev, mac]) from a raw row, or _Unreadable."""
    kinds, values = raw[0::2], raw[1::2]
    if kinds[0] != "integer":
        raise _Unreadable(f"entry {expected}: its number is stored as {_KINDS.get(kinds[0], kinds[0])}, "
                          "not as an integer (edited?)")
    seq = int(values[0])
    texts = []
    for name, kind, value in zip(_COLUMNS[1:], kinds[1:], values[1:], strict=True):
        verb = "are" if name == "details" else "is"
        if kind != "text":
            raise _Unreadable(f"entry {seq}: its {name} {verb} stored as {_KINDS.get(kind, kind)}, not as text "
                              "(edited?)")
        try:
            texts.append(bytes(value).decode("utf-8"))
        except UnicodeDecodeError:
            raise _Unreadable(f"entry {seq}: its {name} {verb} not valid UTF-8 text (edited?)") from None
    return seq, texts


def _details(seq: int, text: str) -> dict[str, Any]:
    """An entry's details, only when they are exactly the canonical JSON object the kiosk writes."""
    if len(text.encode("utf-8")) > MAX_DETAILS_BYTES:
        raise _Unreadable(f"entry {seq}: its details are longer than the kiosk ever writes (edited?)")
    try:
        details = json.loads(text, parse_constant=_no_constant)
        canonical_text = _json(details)
    except (ValueError, RecursionError):  # (NaN, Infinity, nesting deeper than Python recurses)
        raise _Unreadable(f"entry {seq}: its details are not valid JSON (edited?)") from None
    if not isinstance(details, dict):
        raise _Unreadable(f"entry {seq}: its details are not a JSON object (edited?)")
    if canonical_text != text:
        raise _Unreadable(f"entry {seq}: its details are not written the way the kiosk writes them (edited?)")
    return details


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _entry(raw: tuple[Any, ...]) -> AuditEntry:
    """An entry for reading (`kiosk audit tail`), whatever its columns hold."""
    kinds, values = raw[0::2], raw[1::2]
    seq = int(values[0]) if kinds[0] == "integer" else _shown(kinds[0], values[0])
    ts, actor, action, details_text, prev, mac = (_shown(kind, value) for kind, value in zip(kinds[1:], values[1:],
                                                                                            strict=True))
    try:
        details = json.loads(details_text)
    except (ValueError, RecursionError):
        details = {"unreadable": details_text[:80]}
    return AuditEntry(seq, ts, actor, action, details if isinstance(details, dict) else {"value": details},
                      prev, mac)


def _shown(kind: str, value: bytes | None) -> str:
    if value is None:
        return "NULL"
    if kind == "blob":
        return f"x'{bytes(value).hex()[:64]}'"
    return bytes(value).decode("utf-8", "replace")


def _clean_details(actor: str, action: str, details: dict[str, Any]) -> dict[str, Any]:
    if not _ACTOR.fullmatch(actor):
        raise ValueError(f"audit actor {actor!r}: expected 'kiosk' or 'kind:name' such as 'staff:1042'")
    if not _ACTION.fullmatch(action) or len(action) > 64:
        raise ValueError(f"audit action {action!r}: expected dotted lower-case words such as 'staff.login'")
    clean = {key: _clean_value(key, value) for key, value in details.items() if _check_key_name(key)}
    if len(_json(clean).encode("utf-8")) > MAX_DETAILS_BYTES:
        raise ValueError(f"audit details for {action} exceed {MAX_DETAILS_BYTES} bytes")
    return clean


def _check_key_name(key: str) -> bool:
    if not _KEY.fullmatch(key):
        raise ValueError(f"audit detail {key!r}: expected a lower-case word such as 'folio'")
    if _FORBIDDEN_KEY_WORDS & set(key.split("_")):
        raise ValueError(f"audit detail {key!r} would record a secret or personal data")
    return True


def _clean_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        return value if key in _UNREDACTED_KEYS else redact(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"audit detail {key!r} is not a finite number")
        return value
    if isinstance(value, list | tuple):
        return [_clean_value(key, item) for item in value]
    if isinstance(value, dict):
        return {name: _clean_value(name, item) for name, item in value.items() if _check_key_name(name)}
    raise ValueError(f"audit detail {key!r}: {type(value).__name__} is not a JSON value")
