"""The transactional outbox: every kiosk transaction, durably, before any money is taken.

One SQLite file (WAL, synchronous=FULL, mode 0600) holds three tables:

- `transactions`: one row per logical transaction with its idempotency key (minted once, at
  creation, never regenerated), folio, account, amount, payment details (masked), the payload
  the submitter posts, its state and retry bookkeeping;
- `history`: every state transition with its time and reason (the electronic journal);
- `credits`: each cash credit as it arrives (value and coin/bill), so inserted money is on disk
  even if the session dies before the total is reached;
- `resolutions`: what an attendant decided for a transaction in needs_attendant (outcome, staff
  identifier, note), written in the same commit as the transition;
- `vouchers`: refund vouchers an attendant issued (number, folio, amount, method, staff, note);
- `collections`: each collection of the cash box with the high-water marks of the credits and
  vouchers it covered and a snapshot of its totals, so a period is never counted twice.

The schema carries a version (`PRAGMA user_version`); opening an older file upgrades it in one
`BEGIN IMMEDIATE … COMMIT` with the version bump (`MIGRATIONS`), so a kill mid-upgrade leaves the
old schema intact and the next open upgrades again. A file from a newer version is used as it is
(every upgrade is additive).

State machine (anything else raises `IllegalTransition`)::

    created ──► paying ──► paid ──► queued ──► submitted ──► confirmed
       │          │  ╲                │            ├──────► rejected          (API said no, 4xx)
       │          │   ╲► created      │            └──────► needs_attendant   (gave up / conflict)
       │          ├────► cancelled (cash given back by the hoppers and/or a kiosk voucher)
       │          └────► needs_attendant (outcome unknown, partial cash) ──► queued | confirmed | cancelled
       ├─► cancelled (citizen left before paying)
       └─► abandoned (found unpaid after a restart)

A transaction that takes no money (a free request) goes created → queued directly.

Every write is one `BEGIN IMMEDIATE … COMMIT` on an autocommit connection, so a kill -9 at any
instant leaves either the before- or the after-image of a transition, never half of one.
Storage problems (disk full or below the free-space floor, database locked by another process,
corrupted file) become `StorageError` with a stable code; `health()` reports them so the kiosk
can refuse to take money *before* the citizen pays.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline_cache.errors import CacheError
from offline_cache.money_journal import CREDIT, MoneyEvent
from offline_cache.sqlite import Damaged, Database, Options, open_database
from offline_cache.transactions import write_transaction

CREATED, PAYING, PAID, QUEUED, SUBMITTED = "created", "paying", "paid", "queued", "submitted"
CONFIRMED, REJECTED, NEEDS_ATTENDANT = "confirmed", "rejected", "needs_attendant"
CANCELLED, ABANDONED = "cancelled", "abandoned"
STATES = (CREATED, PAYING, PAID, QUEUED, SUBMITTED, CONFIRMED, REJECTED, NEEDS_ATTENDANT, CANCELLED, ABANDONED)
FINAL = frozenset({CONFIRMED, REJECTED, NEEDS_ATTENDANT, CANCELLED, ABANDONED})
PENDING = frozenset({PAID, QUEUED, SUBMITTED})  # money or a request the API has not confirmed yet
# Final states whose personal data the kiosk no longer needs: the API holds the request, or it
# will never be sent. (needs_attendant keeps it: the attendant may apply the request by hand.)
SCRUB_ON = frozenset({CONFIRMED, REJECTED, CANCELLED, ABANDONED})
SCRUBBED = {"scrubbed": True}
PAYOUT_REQUESTED = "requested"
KIOSK_ISSUER = "kiosk"  # the `attendant` of a voucher the kiosk issued by itself

PROBE_BYTES = 64 * 1024  # headroom health() proves by writing it

TRANSITIONS: dict[str, frozenset[str]] = {
    CREATED: frozenset({PAYING, QUEUED, CANCELLED, ABANDONED}),
    # cancelled from paying: the money taken went back (hoppers) and/or onto a kiosk voucher
    PAYING: frozenset({PAID, CREATED, NEEDS_ATTENDANT, CANCELLED}),
    PAID: frozenset({QUEUED, NEEDS_ATTENDANT}),
    QUEUED: frozenset({SUBMITTED, NEEDS_ATTENDANT}),
    SUBMITTED: frozenset({CONFIRMED, REJECTED, NEEDS_ATTENDANT}),
    CONFIRMED: frozenset(),
    REJECTED: frozenset(),
    # an attendant: money confirmed (sent again, or already applied per the API's lookup) / refunded or none
    NEEDS_ATTENDANT: frozenset({QUEUED, CONFIRMED, CANCELLED}),
    CANCELLED: frozenset(),
    ABANDONED: frozenset(),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    folio TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    procedure_id TEXT NOT NULL DEFAULT '',
    account_kind TEXT NOT NULL DEFAULT '',
    account_ref TEXT NOT NULL DEFAULT '',
    concept TEXT NOT NULL DEFAULT '',
    amount_cents INTEGER NOT NULL,
    method TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL DEFAULT '{}',
    payment TEXT NOT NULL DEFAULT '{}',
    response TEXT NOT NULL DEFAULT '{}',
    paid_cents INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_state ON transactions(state, seq);
CREATE INDEX IF NOT EXISTS transactions_pending ON transactions(account_kind, account_ref, seq)
    WHERE state IN ('paid', 'queued', 'submitted');
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL REFERENCES transactions(seq),
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    at REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS history_seq ON history(seq);
CREATE TABLE IF NOT EXISTS credits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL REFERENCES transactions(seq),
    cents INTEGER NOT NULL,
    at REAL NOT NULL
);
"""

# Version 1 is SCHEMA above (files from before versioning read user_version 0 and have it).
# Each later version is a list of statements applied in one transaction with the version bump.
SCHEMA_VERSION = 4
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 4: change and refunds paid by the hoppers, ledger first: a payout row (with the hopper's
    # counters read before anything moved) is committed before the dispense is sent, and its
    # result after; kiosk vouchers ("saldo a favor") wait in the attendant's list until one
    # acknowledges them.
    4: ("""CREATE TABLE payouts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            seq INTEGER NOT NULL REFERENCES transactions(seq),
            purpose TEXT NOT NULL,
            request TEXT NOT NULL,
            state TEXT NOT NULL,
            paid_cents INTEGER NOT NULL DEFAULT 0,
            unpaid_cents INTEGER NOT NULL DEFAULT 0,
            result TEXT NOT NULL DEFAULT '{}',
            at REAL NOT NULL,
            done_at REAL)""",
        "CREATE INDEX payouts_open ON payouts(state) WHERE state = 'requested'",
        "ALTER TABLE vouchers ADD COLUMN acknowledged_at REAL",
        # refund: the transaction's money goes back; change: a paid transaction's change is owed
        "ALTER TABLE vouchers ADD COLUMN purpose TEXT NOT NULL DEFAULT 'refund'"),
    # 3: money events replayed from the money journal (offline_cache/money_journal.py), by id,
    # so a replay interrupted by a kill never records one twice.
    # A submitter claims rows before it posts them (claimed_by, claimed_until), so the app's
    # submitter and `kiosk queue drain` beside it never send the same row at the same time.
    3: ("CREATE TABLE journal_applied (id TEXT PRIMARY KEY, seq INTEGER, kind TEXT NOT NULL, cents INTEGER NOT NULL,"
        " at REAL NOT NULL)",
        "ALTER TABLE transactions ADD COLUMN claimed_by TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE transactions ADD COLUMN claimed_until REAL NOT NULL DEFAULT 0"),
    2: (
        # coin or bill: a $20 coin and a $20 bill are different denominations in the cash box
        "ALTER TABLE credits ADD COLUMN kind TEXT NOT NULL DEFAULT ''",
        """CREATE TABLE resolutions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            seq INTEGER NOT NULL REFERENCES transactions(seq),
            outcome TEXT NOT NULL,
            attendant TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            voucher TEXT NOT NULL DEFAULT '',
            at REAL NOT NULL)""",
        "CREATE INDEX resolutions_seq ON resolutions(seq)",
        # No foreign key: a voucher is a financial record that outlives its transaction's pruning.
        """CREATE TABLE vouchers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            number TEXT NOT NULL UNIQUE,
            seq INTEGER NOT NULL,
            folio TEXT NOT NULL,
            method TEXT NOT NULL,
            amount_cents INTEGER NOT NULL,
            attendant TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            at REAL NOT NULL)""",
        """CREATE TABLE collections (
            number INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            attendant TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            credit_mark INTEGER NOT NULL,
            voucher_mark INTEGER NOT NULL,
            started_at REAL,
            totals TEXT NOT NULL)""",
    ),
}

def N_(message: str) -> str:
    """Marks a message for the kiosk's translation catalogue without translating it (this package
    imports nothing of the kiosk; the kiosk translates the message where a person reads it)."""
    return message


# What the citizen and the attendant read per storage problem: Spanish msgids of the kiosk's
# catalogue (kiosk/locale), translated where they are shown.
STORAGE_MESSAGES: dict[str, str] = {
    "storage.ok": "",
    "storage.full": N_("Este cajero no puede registrar pagos ahora (memoria llena). No se cobró nada. "
                       "Un asesor ya fue avisado."),
    "storage.low_space": N_("Este cajero no puede registrar pagos ahora (poco espacio). No se cobró nada. "
                            "Un asesor ya fue avisado."),
    "storage.locked": N_("Este cajero está ocupado registrando otra operación. No se cobró nada. "
                         "Intente de nuevo en un momento."),
    "storage.corrupt": N_("Este cajero no puede registrar pagos ahora. No se cobró nada. Un asesor ya fue avisado."),
    "storage.io_error": N_("Este cajero no puede registrar pagos ahora. No se cobró nada. Un asesor ya fue avisado."),
}
# For logs only (developers and `str(error)`), never shown to people.
STORAGE_DETAILS: dict[str, str] = {
    "storage.ok": "",
    "storage.full": "disk full: the outbox cannot record transactions",
    "storage.low_space": "free disk space below the floor for the outbox",
    "storage.locked": "the outbox database is locked by another process",
    "storage.corrupt": "the outbox database file is damaged",
    "storage.io_error": "the outbox database cannot be written",
}


class OutboxError(CacheError):
    """Base class for outbox failures."""

    code = "outbox.error"


class IllegalTransition(OutboxError):
    code = "outbox.illegal_transition"

    def __init__(self, key: str, current: str, wanted: str):
        super().__init__(f"transaction {key[:8]}: {current} -> {wanted} is not allowed")
        self.current, self.wanted = current, wanted


class StorageError(OutboxError):
    """The database cannot be trusted to record money right now; `code` is a STORAGE_MESSAGES key."""

    def __init__(self, code: str, detail: str = ""):
        self.code = code
        self.detail = detail
        self.message = STORAGE_MESSAGES[code]  # what the citizen or attendant reads: a Spanish msgid
        super().__init__(f"{code}: {STORAGE_DETAILS[code]}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class Health:
    ok: bool
    code: str  # "storage.ok" or a StorageError code
    detail: str = ""

    @property
    def message(self) -> str:
        """What the citizen or attendant reads, as a Spanish msgid (translate it where it is shown)."""
        return STORAGE_MESSAGES[self.code]


@dataclass(frozen=True)
class Record:
    """One transaction row, read-only (changes go through Outbox methods)."""

    seq: int
    key: str
    folio: str
    kind: str
    procedure_id: str
    account_kind: str
    account_ref: str
    concept: str
    amount_cents: int
    method: str
    state: str
    reason: str
    payload: dict[str, Any]
    payment: dict[str, Any]
    response: dict[str, Any]
    paid_cents: int
    attempts: int
    next_at: float
    last_error: str
    created_at: float
    updated_at: float

    @property
    def account(self) -> tuple[str, str]:
        return self.account_kind, self.account_ref


_SETTABLE = frozenset({"payment", "payload", "response", "method", "paid_cents", "attempts", "next_at",
                       "last_error", "amount_cents"})


@dataclass(frozen=True)
class Change:
    """One requested transition for `Outbox.transition_many`."""

    key: str
    to_state: str | None  # None: update fields only (no state change, no history row)
    reason: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    at: float | None = None


@dataclass(frozen=True)
class Voucher:
    """A refund voucher: the citizen takes it to the treasury's cash office to get `amount_cents` back."""

    id: int
    number: str
    seq: int
    folio: str
    method: str  # how the money was taken: "cash" or "card"
    amount_cents: int
    attendant: str
    note: str
    at: float
    purpose: str = "refund"  # "refund" (the money goes back) or "change" (a paid transaction's change)


@dataclass(frozen=True)
class Payout:
    """Change or a refund paid by a hopper: recorded before the dispense, concluded after."""

    id: int
    key: str
    folio: str
    purpose: str  # "change" or "refund"
    request: dict[str, Any]  # devices.hopper.PayoutRequest.to_dict()
    state: str  # "requested" until concluded, then what the counters proved
    paid_cents: int
    unpaid_cents: int
    at: float


@dataclass(frozen=True)
class Credit:
    id: int
    seq: int
    folio: str
    cents: int
    kind: str  # "coin", "bill", or "" (recorded before the kind was kept)
    at: float


@dataclass(frozen=True)
class CashLedger:
    """Everything a cash period is computed from, read in one snapshot.

    The period holds the credits with `credit_mark < id <= credit_end` and the vouchers with
    `voucher_mark < id <= voucher_end`; `payments` maps each transaction with credits in the
    period to its payment record (change due, change paid) and whether it was refunded."""

    since_collection: int  # number of the collection the period starts after (0: none yet)
    since_at: float | None  # when that collection was made
    credit_mark: int
    voucher_mark: int
    credit_end: int
    voucher_end: int
    credits: tuple[Credit, ...]
    vouchers: tuple[Voucher, ...]
    payments: dict[int, dict[str, Any]]  # seq -> payment (+ "last_credit_id", "refunded")


@dataclass(frozen=True)
class CollectionRecord:
    number: int
    at: float
    attendant: str
    note: str
    credit_mark: int
    voucher_mark: int
    started_at: float | None
    totals: dict[str, Any]


def classify(error: sqlite3.Error) -> StorageError:
    """Map an sqlite3 error to the storage problem it means for the kiosk."""
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error).lower()
    if "FULL" in name or "disk is full" in text or "too large" in text:
        return StorageError("storage.full", text)
    if "BUSY" in name or "LOCKED" in name or "locked" in text:
        return StorageError("storage.locked", text)
    if "CORRUPT" in name or "NOTADB" in name or "malformed" in text or "not a database" in text:
        return StorageError("storage.corrupt", text)
    return StorageError("storage.io_error", text)


def _setup(conn: sqlite3.Connection) -> None:
    """The schema, then every migration up to SCHEMA_VERSION (run once per owner of the file)."""
    conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
    _migrate(conn)


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring the file to SCHEMA_VERSION, one version per commit (the version is re-read under the
    write lock: another process may have upgraded it meanwhile)."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = max(1, conn.execute("PRAGMA user_version").fetchone()[0])
            if version >= SCHEMA_VERSION:
                conn.execute("COMMIT")
                return
            for statement in MIGRATIONS[version + 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


class Outbox:
    """Thread-safe handle on the outbox file. Handles on one file in one process share its one
    owner (offline_cache/sqlite.py): the first opener's busy timeout applies to all of them."""

    def __init__(self, path: Path | str, busy_timeout_ms: int = 2000, min_free_bytes: int = 0,
                 clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.min_free_bytes = min_free_bytes
        self.clock = clock
        self._lock = threading.RLock()
        self._db: Database | None = None
        self._last_error: StorageError | None = None
        self._purge_pending = False  # scrubbed data may still be in the -wal
        try:
            self._connect()
        except StorageError as error:
            self._last_error = error

    # ---- connection ------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """The file's one owner in this process (offline_cache/sqlite.py), shared with every other
        Outbox on the same file; opened again after a failure or a close."""
        if self._db is not None:
            return self._db.connection
        options = Options(busy_timeout_ms=self.busy_timeout_ms, secure_delete=True)
        try:
            self._db = open_database(self.path, options, setup=_setup)
        except Damaged as error:
            raise StorageError("storage.corrupt", str(error)) from None
        except sqlite3.Error as error:
            raise classify(error) from None
        except OSError as error:
            raise StorageError("storage.io_error", str(error)) from None
        return self._db.connection

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.release()
                self._db = None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT; a storage failure is remembered and re-raised as StorageError."""
        with self._lock:
            try:
                conn = self._connect()
            except StorageError as error:
                self._last_error = error
                raise
            assert self._db is not None
            try:
                with self._db.lock, write_transaction(conn):  # the owner's lock: shared by every handle
                    yield conn
            except sqlite3.Error as error:
                storage_error = classify(error)
                self._last_error = storage_error
                if storage_error.code == "storage.corrupt":
                    self.close()
                raise storage_error from None
            self._last_error = None
        self._purge_wal()

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row | tuple[Any, ...]]:
        with self._lock:
            try:
                conn = self._connect()
                assert self._db is not None
                with self._db.lock:
                    return conn.execute(sql, args).fetchall()
            except sqlite3.Error as error:
                raise classify(error) from None

    # ---- health ----------------------------------------------------------------------------

    def health(self) -> Health:
        """Can money be recorded right now? Checks free space, then a real write transaction."""
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError as error:
            return Health(False, "storage.io_error", str(error))
        if free < self.min_free_bytes:
            return Health(False, "storage.low_space", f"{free} bytes free, {self.min_free_bytes} needed")
        try:
            # A real commit of PROBE_BYTES, then its removal: proves the file is not locked and
            # has headroom for a transaction's rows (a one-byte probe fits in pages SQLite
            # already has and would report a full disk as healthy).
            with self._transaction() as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS probe (at REAL, pad BLOB)")
                conn.execute("INSERT INTO probe VALUES (?, zeroblob(?))", (self.clock(), PROBE_BYTES))
            with self._transaction() as conn:
                conn.execute("DELETE FROM probe")
        except StorageError as error:
            return Health(False, error.code, error.detail)
        return Health(True, "storage.ok")

    @property
    def last_error(self) -> StorageError | None:
        return self._last_error

    # ---- writes ----------------------------------------------------------------------------

    def create(self, kind: str, amount_cents: int, *, folio: str, procedure_id: str = "",
               account: tuple[str, str] = ("", ""), concept: str = "", method: str = "",
               payload: dict[str, Any] | None = None, key: str | None = None) -> Record:
        """Record a new transaction in `created` with a fresh idempotency key (durable on return)."""
        if amount_cents < 0:
            raise ValueError("amount_cents must not be negative")
        key = key or str(uuid.uuid4())
        now = self.clock()
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO transactions (key, folio, kind, procedure_id, account_kind, account_ref, concept,"
                " amount_cents, method, state, payload, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (key, folio, kind, procedure_id, account[0], account[1], concept, amount_cents, method, CREATED,
                 json.dumps(payload or {}, sort_keys=True), now, now))
            conn.execute("INSERT INTO history (seq, from_state, to_state, at, reason) VALUES (?,?,?,?,?)",
                         (cursor.lastrowid, "", CREATED, now, "created"))
        return self.get(key)

    def transition(self, key: str, to_state: str, reason: str = "", **fields: Any) -> Record:
        """Move one transaction to `to_state` (refused unless TRANSITIONS allows it), updating
        `fields` (payment, payload, response, method, paid_cents, attempts, next_at, last_error)
        in the same database transaction as the history row."""
        self.transition_many([Change(key, to_state, reason, fields)])
        return self.get(key)

    def transition_many(self, changes: list[Change], skip_moved: bool = False) -> list[Change]:
        """Several transitions in ONE commit (the submitter settles a batch of answers with one
        fsync); all or none. `Change.at` keeps the time a step really happened (e.g. the POST).
        With `skip_moved`, a change the row's current state no longer allows (another process
        settled it meanwhile) is skipped instead of failing the batch; the skipped are returned."""
        skipped: list[Change] = []
        with self._transaction() as conn:
            for change in changes:
                try:
                    self._apply(conn, change)
                except IllegalTransition:
                    if not skip_moved:
                        raise
                    skipped.append(change)
        return skipped

    def _apply(self, conn: sqlite3.Connection, change: Change) -> None:
        unknown = set(change.fields) - _SETTABLE
        if unknown:
            raise ValueError(f"cannot set {sorted(unknown)}")
        now = change.at if change.at is not None else self.clock()
        row = conn.execute("SELECT seq, state FROM transactions WHERE key=?", (change.key,)).fetchone()
        if row is None:
            raise KeyError(change.key)
        seq, current = row
        values = [json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in change.fields.values()]
        if change.to_state is None:  # bookkeeping only (retry count, next attempt): no transition
            bookkeeping = ", ".join(f"{name}=?" for name in change.fields)
            conn.execute(f"UPDATE transactions SET {bookkeeping}, updated_at=? WHERE seq=?", (*values, now, seq))
            return
        if change.to_state not in TRANSITIONS[current]:
            raise IllegalTransition(change.key, current, change.to_state)
        sets = ["state=?", "updated_at=?", "reason=?", *(f"{name}=?" for name in change.fields)]
        args = [change.to_state, now, change.reason, *values]
        conn.execute(f"UPDATE transactions SET {', '.join(sets)} WHERE seq=?", (*args, seq))
        conn.execute("INSERT INTO history (seq, from_state, to_state, at, reason) VALUES (?,?,?,?,?)",
                     (seq, current, change.to_state, now, change.reason))
        if change.to_state in SCRUB_ON:
            self._scrub(conn, seq)

    def _scrub(self, conn: sqlite3.Connection, seq: int) -> None:
        """Drop the person's data from a row in this commit; the old pages are purged from the
        -wal once the commit is done (`_purge_wal`). secure_delete zeroes them in the file."""
        (text,) = conn.execute("SELECT payload FROM transactions WHERE seq=?", (seq,)).fetchone()
        payload = json.loads(text or "{}")
        if payload.get("person") and payload["person"] != SCRUBBED:
            payload["person"] = SCRUBBED
            conn.execute("UPDATE transactions SET payload=? WHERE seq=?", (json.dumps(payload, sort_keys=True), seq))
            self._purge_pending = True

    def _purge_wal(self) -> None:
        """Checkpoint the -wal and truncate it to nothing, so the pages that held scrubbed data
        are gone from it. A reader in another process (a shell command) can hold it back: then
        it is tried again after the next commit."""
        if not self._purge_pending or self._db is None:
            return
        with self._db.lock:
            try:
                busy, _frames, _copied = self._db.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error:
                return
        self._purge_pending = bool(busy)

    def add_credit(self, key: str, cents: int, kind: str = "", cursor: dict[str, int] | None = None,
                   states: tuple[str, ...] = (PAYING,)) -> int:
        """Record one cash credit (`kind`: "coin" or "bill") against a transaction that is paying;
        returns the new total. `cursor` ({acceptor address: event counter}) moves the payment's
        `acceptor_cursor` in the same commit: after a crash, only later events are unread. The
        restart also records unread credits of a payment the money journal has just handed to an
        attendant (`states`)."""
        now = self.clock()
        with self._transaction() as conn:
            row = conn.execute("SELECT seq, state, paid_cents, payment FROM transactions WHERE key=?",
                               (key,)).fetchone()
            if row is None:
                raise KeyError(key)
            seq, state, paid, payment_text = row
            if state not in states:
                raise IllegalTransition(key, state, "credit")
            conn.execute("INSERT INTO credits (seq, cents, kind, at) VALUES (?,?,?,?)", (seq, cents, kind, now))
            payment = json.dumps(_with_cursor(json.loads(payment_text or "{}"), cursor), sort_keys=True)
            conn.execute("UPDATE transactions SET paid_cents=?, updated_at=?, payment=? WHERE seq=?",
                         (paid + cents, now, payment, seq))
        return paid + cents

    def apply_money_event(self, event: MoneyEvent, reason: str = "money.recorded_late") -> bool:
        """Record a money event from the money journal in one commit, exactly once (False: it was
        already applied). A credit joins the transaction's credits (as change due when the
        transaction was already paid); a card approval records the payment. A transaction still
        `paying` goes to an attendant with `reason`: the citizen was told a person would help."""
        now = self.clock()
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM journal_applied WHERE id=?", (event.id,)).fetchone():
                return False
            row = conn.execute("SELECT seq, state, paid_cents, payment, payload FROM transactions WHERE key=?",
                               (event.key,)).fetchone()
            seq = row[0] if row else None
            if row is not None:
                self._apply_money(conn, event, row, reason, now)
            conn.execute("INSERT INTO journal_applied (id, seq, kind, cents, at) VALUES (?,?,?,?,?)",
                         (event.id, seq, event.kind, event.cents, now))
        return True

    def _apply_money(self, conn: sqlite3.Connection, event: MoneyEvent, row: tuple[Any, ...], reason: str,
                     now: float) -> None:
        seq, state, paid, payment_text, payload_text = row
        payment = json.loads(payment_text or "{}")
        fields: dict[str, Any] = {}
        if event.kind == CREDIT:
            conn.execute("INSERT INTO credits (seq, cents, kind, at) VALUES (?,?,?,?)",
                         (seq, event.cents, str(event.detail.get("kind", "")), event.at))
            fields["paid_cents"] = paid + event.cents
            if state not in (CREATED, PAYING):  # money beyond a settled amount is owed back
                payment["change_due_cents"] = int(payment.get("change_due_cents", 0)) + event.cents
                fields["payment"] = payment
            elif event.detail.get("cursor"):
                fields["payment"] = _with_cursor(payment, event.detail["cursor"])
        else:
            fields.update(paid_cents=event.cents, payment=dict(event.detail, method="card"))
            payload = json.loads(payload_text or "{}")
            payload["payment"] = {k: v for k, v in event.detail.items() if k != "authorization_code"}
            fields["payload"] = payload
        to_state = NEEDS_ATTENDANT if state == PAYING else None
        self._apply(conn, Change(event.key, to_state, reason if to_state else "", fields, now))

    def note_attempt(self, key: str, next_at: float, error: str) -> None:
        """A submission failed in a retryable way: count it and schedule the next one (state stays)."""
        with self._transaction() as conn:
            conn.execute("UPDATE transactions SET attempts=attempts+1, next_at=?, last_error=?, updated_at=?"
                         " WHERE key=?", (next_at, error[:200], self.clock(), key))

    def scrub_personal_data(self, key: str) -> None:
        """Drop the person's data from the kiosk now (every final state but needs_attendant does
        it by itself: the attendant may still need it to apply the request by hand)."""
        with self._transaction() as conn:
            row = conn.execute("SELECT seq FROM transactions WHERE key=?", (key,)).fetchone()
            if row is not None:
                self._scrub(conn, row[0])

    def recover(self) -> dict[str, int]:
        """After a restart of the process that runs sessions: settle what a crash left half-done.

        created (no money yet) → abandoned; paying (money may have been taken) → needs_attendant;
        paid → queued. Only the session owner calls this (the app, `kiosk load`), never a
        side command, which could otherwise abandon a live session."""
        counts = {ABANDONED: 0, NEEDS_ATTENDANT: 0, QUEUED: 0}
        for record in self.list_states((CREATED, PAYING, PAID)):
            if record.state == CREATED:
                self.transition(record.key, ABANDONED, "restart.unpaid")
                counts[ABANDONED] += 1
            elif record.state == PAYING:
                reason = (f"restart.partial_cash:{record.paid_cents}" if record.paid_cents else
                          "restart.payment_outcome_unknown")
                self.transition(record.key, NEEDS_ATTENDANT, reason)
                counts[NEEDS_ATTENDANT] += 1
            else:
                self.transition(record.key, QUEUED, "restart.resume")
                counts[QUEUED] += 1
        return counts

    def prune(self, before: float) -> int:
        """Delete settled rows (confirmed, rejected, cancelled, abandoned) last changed before
        `before`, with their history, credits and resolutions; undelivered and attendant rows are
        kept, and so is every row whose cash has not been collected yet (the cash totals need its
        credits and change). Collected vouchers older than `before` go too."""
        with self._transaction() as conn:
            seqs = ("SELECT seq FROM transactions WHERE state IN (?,?,?,?) AND updated_at < ? AND seq NOT IN"
                    " (SELECT seq FROM credits WHERE id > (SELECT COALESCE(MAX(credit_mark), 0) FROM collections))")
            args = (CONFIRMED, REJECTED, CANCELLED, ABANDONED, before)
            for table in ("history", "credits", "resolutions"):
                conn.execute(f"DELETE FROM {table} WHERE seq IN ({seqs})", args)
            conn.execute("DELETE FROM vouchers WHERE at < ? AND id <= (SELECT COALESCE(MAX(voucher_mark), 0)"
                         " FROM collections)", (before,))
            return conn.execute(f"DELETE FROM transactions WHERE seq IN ({seqs})", args).rowcount

    # ---- attendant: resolutions, vouchers, cash collections ----------------------------------

    def resolve(self, key: str, to_state: str, reason: str, *, outcome: str, attendant: str, note: str,
                fields: dict[str, Any] | None = None,
                voucher: tuple[str, int, str] | None = None) -> tuple[Record, Voucher | None]:
        """An attendant's decision on a transaction in needs_attendant, in ONE commit: the
        transition, the resolution row and, when `voucher` = (number prefix, amount_cents,
        method) is given, a refund voucher numbered prefix + its sequential id (`{voucher}` in
        `reason` becomes that number). Raises IllegalTransition unless the transaction is in
        needs_attendant at that moment, so a second tap or a second attendant changes nothing."""
        now = self.clock()
        issued: Voucher | None = None
        with self._transaction() as conn:
            row = conn.execute("SELECT seq, state, folio FROM transactions WHERE key=?", (key,)).fetchone()
            if row is None:
                raise KeyError(key)
            seq, state, folio = row
            if state != NEEDS_ATTENDANT:
                raise IllegalTransition(key, state, to_state)
            number = ""
            if voucher is not None:
                prefix, amount, method = voucher
                cursor = conn.execute(
                    "INSERT INTO vouchers (number, seq, folio, method, amount_cents, attendant, note, at)"
                    " VALUES (?,?,?,?,?,?,?,?)", (f"pending:{key}", seq, folio, method, amount, attendant, note, now))
                number = f"{prefix}{cursor.lastrowid:06d}"
                conn.execute("UPDATE vouchers SET number=? WHERE id=?", (number, cursor.lastrowid))
                issued = Voucher(int(cursor.lastrowid or 0), number, seq, folio, method, amount, attendant, note, now)
            self._apply(conn, Change(key, to_state, reason.replace("{voucher}", number), dict(fields or {}), now))
            conn.execute("INSERT INTO resolutions (seq, outcome, attendant, note, voucher, at) VALUES (?,?,?,?,?,?)",
                         (seq, outcome, attendant, note, number, now))
        return self.get(key), issued

    def resolutions(self, key: str) -> list[tuple[str, str, str, str, float]]:
        """(outcome, attendant, note, voucher number, time) of each resolution, oldest first."""
        return [tuple(row) for row in self._read(
            "SELECT r.outcome, r.attendant, r.note, r.voucher, r.at FROM resolutions r"
            " JOIN transactions t ON t.seq=r.seq WHERE t.key=? ORDER BY r.id", (key,))]

    # ---- payouts (change and refunds from the hoppers), ledger first ------------------------------

    def request_payout(self, key: str, purpose: str, request: dict[str, Any]) -> int:
        """Record a payout before the hopper is asked (durable on return); its id."""
        with self._transaction() as conn:
            row = conn.execute("SELECT seq FROM transactions WHERE key=?", (key,)).fetchone()
            if row is None:
                raise KeyError(key)
            cursor = conn.execute("INSERT INTO payouts (seq, purpose, request, state, at) VALUES (?,?,?,?,?)",
                                  (row[0], purpose, json.dumps(request, sort_keys=True), PAYOUT_REQUESTED,
                                   self.clock()))
            return int(cursor.lastrowid or 0)

    def finish_payout(self, payout_id: int, state: str, paid_cents: int, unpaid_cents: int,
                      result: dict[str, Any]) -> None:
        """What the hopper's counters proved about a payout (state: paid, short, unknown...)."""
        with self._transaction() as conn:
            conn.execute("UPDATE payouts SET state=?, paid_cents=?, unpaid_cents=?, result=?, done_at=?"
                         " WHERE id=? AND state=?", (state, paid_cents, unpaid_cents,
                                                     json.dumps(result, sort_keys=True), self.clock(), payout_id,
                                                     PAYOUT_REQUESTED))

    def open_payouts(self) -> list[Payout]:
        """Payouts recorded but not concluded (a crash between the request and its result)."""
        return [_payout(row) for row in self._read(
            f"SELECT {_PAYOUT_COLUMNS} FROM payouts p JOIN transactions t ON t.seq=p.seq"
            " WHERE p.state=? ORDER BY p.id", (PAYOUT_REQUESTED,))]

    def payouts(self, key: str) -> list[Payout]:
        return [_payout(row) for row in self._read(
            f"SELECT {_PAYOUT_COLUMNS} FROM payouts p JOIN transactions t ON t.seq=p.seq"
            " WHERE t.key=? ORDER BY p.id", (key,))]

    def issue_voucher(self, key: str, prefix: str, amount_cents: int, method: str, note: str,
                      purpose: str = "refund") -> Voucher:
        """A voucher the kiosk itself issues for money it cannot hand back (change or a refund the
        hoppers could not pay): numbered like the attendants' ones, waiting in the attendant's list
        until acknowledged."""
        now = self.clock()
        with self._transaction() as conn:
            row = conn.execute("SELECT seq, folio FROM transactions WHERE key=?", (key,)).fetchone()
            if row is None:
                raise KeyError(key)
            seq, folio = row
            cursor = conn.execute(
                "INSERT INTO vouchers (number, seq, folio, method, amount_cents, attendant, note, at, purpose)"
                " VALUES (?,?,?,?,?,?,?,?,?)", (f"pending:{key}:{now}", seq, folio, method, amount_cents,
                                                KIOSK_ISSUER, note, now, purpose))
            number = f"{prefix}{cursor.lastrowid:06d}"
            conn.execute("UPDATE vouchers SET number=? WHERE id=?", (number, cursor.lastrowid))
        return Voucher(int(cursor.lastrowid or 0), number, seq, folio, method, amount_cents, KIOSK_ISSUER, note, now,
                       purpose)

    def unacknowledged_vouchers(self) -> list[Voucher]:
        """Kiosk vouchers no attendant has acknowledged yet, oldest first."""
        rows = self._read(f"SELECT {_VOUCHER_COLUMNS} FROM vouchers WHERE attendant=? AND acknowledged_at IS NULL"
                          " ORDER BY id", (KIOSK_ISSUER,))
        return [Voucher(*row) for row in rows]

    def acknowledge_voucher(self, number: str, attendant: str, note: str) -> bool:
        """An attendant saw the citizen with a kiosk voucher (paid it, or sent them to the cash
        office); False when it was acknowledged already or is not a kiosk voucher."""
        now = self.clock()
        with self._transaction() as conn:
            row = conn.execute("SELECT seq FROM vouchers WHERE number=? AND attendant=? AND acknowledged_at IS NULL",
                               (number, KIOSK_ISSUER)).fetchone()
            if row is None:
                return False
            conn.execute("UPDATE vouchers SET acknowledged_at=? WHERE number=?", (now, number))
            conn.execute("INSERT INTO resolutions (seq, outcome, attendant, note, voucher, at) VALUES (?,?,?,?,?,?)",
                         (row[0], "acknowledge", attendant, note, number, now))
        return True

    def vouchers(self, limit: int = 50) -> list[Voucher]:
        """The newest vouchers first."""
        rows = self._read(f"SELECT {_VOUCHER_COLUMNS} FROM vouchers ORDER BY id DESC LIMIT ?", (limit,))
        return [Voucher(*row) for row in rows]

    def voucher(self, number: str) -> Voucher:
        rows = self._read(f"SELECT {_VOUCHER_COLUMNS} FROM vouchers WHERE number=?", (number,))
        if not rows:
            raise KeyError(number)
        return Voucher(*rows[0])

    def cash_ledger(self) -> CashLedger:
        """The credits and vouchers since the last collection, read in one snapshot."""
        with self._transaction() as conn:
            return _ledger(conn)

    def record_collection(self, attendant: str, note: str,
                          summarize: Callable[[CashLedger], dict[str, Any]]) -> CollectionRecord | None:
        """Close the current cash period: read it, summarise it and record the collection in ONE
        commit (a credit arriving meanwhile waits for the lock and falls in the next period).
        None, and nothing written, when the period is empty: a second tap never counts twice."""
        now = self.clock()
        with self._transaction() as conn:
            ledger = _ledger(conn)
            if not ledger.credits and not ledger.vouchers:
                return None
            totals = summarize(ledger)
            started = ledger.since_at if ledger.since_collection else (
                min(c.at for c in ledger.credits) if ledger.credits else min(v.at for v in ledger.vouchers))
            cursor = conn.execute(
                "INSERT INTO collections (at, attendant, note, credit_mark, voucher_mark, started_at, totals)"
                " VALUES (?,?,?,?,?,?,?)", (now, attendant, note, ledger.credit_end, ledger.voucher_end, started,
                                            json.dumps(totals, sort_keys=True)))
            return CollectionRecord(int(cursor.lastrowid or 0), now, attendant, note, ledger.credit_end,
                                    ledger.voucher_end, started, totals)

    def collections(self, limit: int = 20) -> list[CollectionRecord]:
        """The newest collections first."""
        rows = self._read("SELECT number, at, attendant, note, credit_mark, voucher_mark, started_at, totals"
                          " FROM collections ORDER BY number DESC LIMIT ?", (limit,))
        return [_collection_record(row) for row in rows]

    def collection(self, number: int) -> CollectionRecord:
        rows = self._read("SELECT number, at, attendant, note, credit_mark, voucher_mark, started_at, totals"
                          " FROM collections WHERE number=?", (number,))
        if not rows:
            raise KeyError(number)
        return _collection_record(rows[0])

    def credits_after(self, credit_id: int) -> tuple[int, int]:
        """(highest credit id, sum of the credits after `credit_id`): the kiosk's side of the
        cross-check against the acceptor's own counter."""
        row = self._read("SELECT COALESCE(MAX(id), 0), COALESCE(SUM(CASE WHEN id > ? THEN cents END), 0)"
                         " FROM credits", (credit_id,))[0]
        return max(int(row[0]), credit_id), int(row[1])

    # ---- reads -----------------------------------------------------------------------------

    def journal_applied(self, event_id: str) -> bool:
        """Whether a money-journal entry is recorded here already."""
        return bool(self._read("SELECT 1 FROM journal_applied WHERE id=?", (event_id,)))

    def get(self, key: str) -> Record:
        rows = self._read("SELECT * FROM transactions WHERE key=?", (key,))
        if not rows:
            raise KeyError(key)
        return _record(rows[0])

    def list_states(self, states: tuple[str, ...] | frozenset[str], limit: int = 100000) -> list[Record]:
        marks = ",".join("?" * len(states))
        rows = self._read(f"SELECT * FROM transactions WHERE state IN ({marks}) ORDER BY seq LIMIT ?",
                          (*states, limit))
        return [_record(row) for row in rows]

    def by_folio(self, folio: str) -> Record:
        rows = self._read("SELECT * FROM transactions WHERE folio=?", (folio,))
        if not rows:
            raise KeyError(folio)
        return _record(rows[0])

    def latest_queued(self, states: tuple[str, ...] | frozenset[str], since: float) -> Record | None:
        """The transaction in `states` that most recently entered `queued` (paid, a free request,
        or confirmed by an attendant) at or after `since`: the last receipt the kiosk produced."""
        marks = ",".join("?" * len(states))
        rows = self._read(
            "SELECT t.* FROM transactions t JOIN (SELECT seq, MAX(at) AS queued_at FROM history"
            " WHERE to_state='queued' AND at >= ? GROUP BY seq) h ON h.seq=t.seq"
            f" WHERE t.state IN ({marks}) ORDER BY h.queued_at DESC, t.seq DESC LIMIT 1", (since, *states))
        return _record(rows[0]) if rows else None

    def all(self) -> list[Record]:
        return [_record(row) for row in self._read("SELECT * FROM transactions ORDER BY seq")]

    def history(self, key: str) -> list[tuple[str, str, float, str]]:
        return [tuple(row) for row in self._read(
            "SELECT h.from_state, h.to_state, h.at, h.reason FROM history h JOIN transactions t ON t.seq=h.seq"
            " WHERE t.key=? ORDER BY h.id", (key,))]

    def credits(self, key: str) -> list[int]:
        return [row[0] for row in self._read(
            "SELECT c.cents FROM credits c JOIN transactions t ON t.seq=c.seq WHERE t.key=? ORDER BY c.id", (key,))]

    def due(self, now: float, limit: int = 50) -> list[Record]:
        """Queued or submitted transactions ready to send, oldest first, at most one per account:
        an account's later transaction waits while an earlier one is still pending, but a
        dead-lettered one (needs_attendant, rejected) does not block it."""
        with self._lock:
            conn = self._connect()
            assert self._db is not None
            with self._db.lock:
                try:
                    return [_record(row) for row in self._due_rows(conn, now, limit)]
                except sqlite3.Error as error:
                    raise classify(error) from None

    @staticmethod
    def _due_rows(conn: sqlite3.Connection, now: float, limit: int) -> list[dict[str, Any]]:
        # The head of each account is its oldest pending row (partial index: cheap even with
        # thousands queued); rows without an account are independent of each other.
        cursor = conn.execute(
            "SELECT t.* FROM transactions t WHERE t.seq IN ("
            "  SELECT MIN(seq) FROM transactions WHERE state IN ('paid','queued','submitted') AND account_ref != ''"
            "  GROUP BY account_kind, account_ref"
            "  UNION ALL SELECT seq FROM transactions WHERE state IN ('queued','submitted') AND account_ref = '')"
            " AND t.state IN ('queued','submitted') AND t.next_at <= ? ORDER BY t.seq LIMIT ?", (now, limit))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def claim_due(self, now: float, owner: str, lease_s: float, limit: int = 50) -> list[Record]:
        """`due()`, less the rows another submitter holds, claimed for `owner` until now+lease_s
        in one commit: two processes draining one outbox never post the same row at once."""
        with self._transaction() as conn:
            rows = [r for r in self._due_rows(conn, now, limit * 2)
                    if not r["claimed_by"] or r["claimed_by"] == owner or r["claimed_until"] <= now
                    or _claimant_gone(r["claimed_by"])][:limit]
            conn.executemany("UPDATE transactions SET claimed_by=?, claimed_until=? WHERE seq=?",
                             [(owner, now + lease_s, r["seq"]) for r in rows])
        return [_record(row) for row in rows]

    def release_claims(self, owner: str) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE transactions SET claimed_by='', claimed_until=0 WHERE claimed_by=?", (owner,))

    def next_due_at(self) -> float | None:
        rows = self._read("SELECT MIN(next_at) FROM transactions WHERE state IN ('queued','submitted')")
        return rows[0][0] if rows and rows[0][0] is not None else None

    def counts(self) -> dict[str, int]:
        found = {state: count for state, count in self._read("SELECT state, COUNT(*) FROM transactions GROUP BY state")}
        return {state: int(found.get(state, 0)) for state in STATES}

    def oldest_pending_age(self, now: float | None = None) -> float | None:
        rows = self._read("SELECT MIN(created_at) FROM transactions WHERE state IN ('paid','queued','submitted')")
        oldest = rows[0][0] if rows else None
        return None if oldest is None else max(0.0, (now or self.clock()) - oldest)

    def pending_count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM transactions WHERE state IN ('paid','queued','submitted')")[0][0])


_VOUCHER_COLUMNS = "id, number, seq, folio, method, amount_cents, attendant, note, at, purpose"
_PAYOUT_COLUMNS = "p.id, t.key, t.folio, p.purpose, p.request, p.state, p.paid_cents, p.unpaid_cents, p.at"


def _claimant_gone(owner: str) -> bool:
    """A claim ("host:pid:nonce", kiosk/transactions/submitter.py) by a process of this host that
    no longer exists (killed mid-pass): its rows need not wait for the lease. A reused pid keeps
    the claim until its lease ends, which is the safe direction."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (another user's process): keep the claim
        return False
    return False


def _payout(row: Any) -> Payout:
    return Payout(row[0], row[1], row[2], row[3], json.loads(row[4] or "{}"), row[5], row[6], row[7], row[8])


def _ledger(conn: sqlite3.Connection) -> CashLedger:
    last = conn.execute("SELECT number, at, credit_mark, voucher_mark FROM collections"
                        " ORDER BY number DESC LIMIT 1").fetchone()
    number, since_at, credit_mark, voucher_mark = last or (0, None, 0, 0)
    # AUTOINCREMENT ids never go back, even after pruning: the marks are safe period boundaries.
    credit_end = max(credit_mark, conn.execute("SELECT COALESCE(MAX(id), 0) FROM credits").fetchone()[0])
    voucher_end = max(voucher_mark, conn.execute("SELECT COALESCE(MAX(id), 0) FROM vouchers").fetchone()[0])
    credits = tuple(Credit(*row) for row in conn.execute(
        "SELECT c.id, c.seq, t.folio, c.cents, c.kind, c.at FROM credits c JOIN transactions t ON t.seq=c.seq"
        " WHERE c.id > ? AND c.id <= ? ORDER BY c.id", (credit_mark, credit_end)))
    vouchers = tuple(Voucher(*row) for row in conn.execute(
        f"SELECT {_VOUCHER_COLUMNS} FROM vouchers WHERE id > ? AND id <= ? ORDER BY id", (voucher_mark, voucher_end)))
    payments: dict[int, dict[str, Any]] = {}
    for seq, payment, last_credit, refunded in conn.execute(
            "SELECT t.seq, t.payment, (SELECT MAX(id) FROM credits WHERE seq=t.seq),"
            " EXISTS (SELECT 1 FROM vouchers v WHERE v.seq=t.seq AND v.id <= ? AND v.purpose='refund')"
            " FROM transactions t"
            " WHERE t.seq IN (SELECT seq FROM credits WHERE id > ? AND id <= ?)",
            (voucher_end, credit_mark, credit_end)):
        payments[seq] = dict(json.loads(payment or "{}"), last_credit_id=last_credit, refunded=bool(refunded))
    return CashLedger(number, since_at, credit_mark, voucher_mark, credit_end, voucher_end, credits, vouchers,
                      payments)


_COLUMNS = ("seq", "key", "folio", "kind", "procedure_id", "account_kind", "account_ref", "concept",
            "amount_cents", "method", "state", "reason", "payload", "payment", "response", "paid_cents",
            "attempts", "next_at", "last_error", "created_at", "updated_at")


def _record(row: Any) -> Record:
    # Columns added by migrations (claims...) come after these: a row may be longer.
    values = {name: row[name] for name in _COLUMNS} if isinstance(row, dict) else dict(
        zip(_COLUMNS, row[:len(_COLUMNS)], strict=True))
    for name in ("payload", "payment", "response"):
        values[name] = json.loads(values[name] or "{}")
    return Record(**values)


def _collection_record(row: Any) -> CollectionRecord:
    """A collections row (number, at, attendant, note, credit_mark, voucher_mark, started_at, totals)."""
    number, at, attendant, note, credit_mark, voucher_mark, started_at, totals = row
    return CollectionRecord(number, at, attendant, note, credit_mark, voucher_mark, started_at, json.loads(totals))


def _with_cursor(payment: dict[str, Any], cursor: dict[str, int] | None) -> dict[str, Any]:
    """The payment with its acceptors' event cursor moved to `cursor` (see `add_credit`)."""
    if not cursor:
        return payment
    return dict(payment, acceptor_cursor=dict(payment.get("acceptor_cursor") or {}, **cursor))
