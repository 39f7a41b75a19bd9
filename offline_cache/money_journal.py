"""The money journal: where a money event goes when the outbox refuses to record it.

Once the terminal has approved a sale or the acceptor has stacked a note, the money has moved,
whatever the disk says. The service records the event in the outbox, retrying a few times; if the
database still refuses it (locked by another process for too long, disk full, an I/O error), the
event is appended here: one JSON line per event, written with one write(2) to a file opened
O_APPEND and fsynced (with its directory, when the file is new) before the citizen is told
anything. The file sits next to the outbox (`outbox.sqlite.money-journal`, mode 0600) and holds
no personal data: folio, idempotency key, amounts, the masked payment.

`Outbox.apply_journal` replays the entries in one commit each, exactly once (each entry has an
id that the outbox remembers), and hands the transactions to an attendant; the journal is emptied
only when every entry in it has been applied.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from offline_cache.errors import CacheError

CREDIT = "credit"  # a cash credit the acceptor stacked
CARD_APPROVED = "card_approved"  # a sale the terminal approved
MAX_LINE_BYTES = 16 * 1024  # a longer line is damaged, never an entry


class JournalError(CacheError):
    """The journal itself could not be written: the event lives only in memory (and the logs)."""

    code = "journal.unwritable"


@dataclass(frozen=True)
class MoneyEvent:
    key: str  # the transaction's idempotency key
    folio: str
    kind: str  # CREDIT or CARD_APPROVED
    cents: int
    detail: dict[str, Any] = field(default_factory=dict)  # coin/bill, masked payment (never a PAN)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: float = field(default_factory=time.time)

    def to_line(self) -> bytes:
        return (json.dumps(asdict(self), sort_keys=True, separators=(",", ":")) + "\n").encode()

    @classmethod
    def from_line(cls, line: bytes) -> MoneyEvent | None:
        """An entry, or None for a line a crash cut short (it was never acknowledged)."""
        if not line.endswith(b"\n") or len(line) > MAX_LINE_BYTES:
            return None
        try:
            data = json.loads(line)
            return cls(str(data["key"]), str(data["folio"]), str(data["kind"]), int(data["cents"]),
                       dict(data.get("detail") or {}), str(data["id"]), float(data["at"]))
        except (ValueError, KeyError, TypeError):
            return None


def journal_path(store: Path) -> Path:
    return store.with_name(store.name + ".money-journal")


class MoneyJournal:
    """Append-only, fsynced; thread-safe within a process."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, event: MoneyEvent) -> None:
        """On disk when this returns; raises JournalError when it cannot be."""
        line = event.to_line()
        with self._lock:
            try:
                created = not self.path.exists()
                descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    written = os.write(descriptor, line)
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
                if written != len(line):
                    raise OSError("short write")
                if created:
                    _fsync_directory(self.path.parent)
            except OSError as error:
                raise JournalError(f"{self.path}: {error}") from None

    def entries(self) -> list[MoneyEvent]:
        """Every complete entry, oldest first (a torn last line is skipped)."""
        with self._lock:
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                return []
        found = (MoneyEvent.from_line(line) for line in raw.splitlines(keepends=True))
        return [event for event in found if event is not None]

    def clear(self, applied: set[str]) -> bool:
        """Empty the journal if every entry in it is in `applied`; True when it is empty now."""
        with self._lock:
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                return True
            entries = [MoneyEvent.from_line(line) for line in raw.splitlines(keepends=True)]
            if any(entry is not None and entry.id not in applied for entry in entries):
                return False
            self.path.unlink()
            _fsync_directory(self.path.parent)
            return True


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
