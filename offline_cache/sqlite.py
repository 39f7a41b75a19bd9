"""Opening an SQLite store: one owner per database file per process, for every store here.

The rule, and why. On Linux, closing ANY descriptor of a file drops every POSIX lock the process
holds on it (SQLite, "How To Corrupt An SQLite Database File", §2.2). A store that opened and
closed a descriptor of its database file (to create it with mode 0600) while another handle in
the same process had it open left that process without its locks; a shell command's close then
saw no other user, checkpointed and deleted the -wal, and the app kept committing into an
unlinked file: after a SIGKILL the commits were gone. So:

- a process holds ONE owner (`Database`) per database file: `open_database` returns the same
  owner for the same file (by real path and inode) to every store that asks, counted, and the
  file is closed when the last holder releases it;
- nothing here opens a descriptor of an existing database file: a new file is created with
  O_EXCL (brand new, so no lock of this process can be on it) and its mode is set by path
  (`chmod`), never through a descriptor. SQLite gives -wal and -shm the database file's mode.

An owner has one shared connection, used under `lock` from any thread (the outbox, staff and
audit stores serialise on it), and, for stores whose readers must not wait behind a long write
(the catalog), a connection per thread from `thread_connection()`. SQLite itself keeps several
connections of one process on one file safe (it shares their locks per inode).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from offline_cache.errors import CacheError
from offline_cache.transactions import write_transaction

Setup = Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class Options:
    journal_mode: str = "wal"  # "delete" for a file that read-only shells must read without -shm
    synchronous: str = "FULL"  # a commit is on disk when it returns
    busy_timeout_ms: int = 5000
    private: bool = True  # mode 0600 (and so its -wal and -shm)
    secure_delete: bool = False  # overwritten and deleted content zeroed (personal data)
    quick_check: bool = True  # refuse a damaged file at open
    read_only: bool = False  # never create or write (a shell reading the app's file)


class Damaged(CacheError, sqlite3.DatabaseError):
    """quick_check did not answer "ok": the file must not be trusted (callers that catch
    sqlite3.Error still catch it)."""

    code = "storage.damaged"


_REGISTRY_LOCK = threading.Lock()
_OWNERS: dict[str, Database] = {}
Watch = Callable[[str], None]
_watch: Watch | None = None


def watch_statements(watch: Watch | None) -> None:
    """Call `watch(text)` in the thread that does it for every connection opened ("open PATH")
    and every statement run on connections opened from now on (sqlite3's trace callback);
    None stops. The tests use it to prove the UI thread never opens or writes a database."""
    global _watch
    _watch = watch


def open_database(path: Path | str, options: Options = Options(), setup: Setup | None = None,
                  setup_name: str = "") -> Database:
    """The process's owner of the database at `path`, opened (and created) on first use; `setup`
    (e.g. the schema) runs once per owner and setup (named by `setup_name`, else by the function).
    Every call is matched by one `release()`. Raises sqlite3.Error (Damaged for a corrupt file) or
    OSError."""
    key = os.path.realpath(path)
    with _REGISTRY_LOCK:
        owner = _OWNERS.get(key)
        if owner is None or not owner.serves(key, options):
            owner = Database(Path(key), options)
            _OWNERS[key] = owner
        else:
            owner.holders += 1
        try:
            if setup is not None:
                owner.setup_once(setup, setup_name)
        except BaseException:
            owner.release_locked()
            raise
        return owner


def owners() -> list[Path]:
    """The database files this process holds open (diagnostics and tests)."""
    with _REGISTRY_LOCK:
        return [owner.path for owner in _OWNERS.values() if owner.pid == os.getpid()]


def create_private(path: Path) -> None:
    """Create `path` 0600 if it does not exist, without ever opening a descriptor of an existing
    file (see the module docstring); an existing file gets its mode by path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(descriptor)  # brand new: no lock of this process can be on it
    with contextlib.suppress(PermissionError):  # someone else's file (root's shell): its mode stays
        os.chmod(path, 0o600)


class Database:
    """One SQLite file, owned once per process. `lock` serialises use of `connection`."""

    def __init__(self, path: Path, options: Options):
        self.path = path
        self.options = options
        self.pid = os.getpid()
        self.holders = 1
        self.lock = threading.RLock()
        self._setups: set[str] = set()
        self._local = threading.local()  # a thread's own connection goes with the thread
        if options.private and not options.read_only:
            create_private(path)
        self.connection = self._connect(check=options.quick_check)
        self.inode = _inode(path)

    # ---- opening ---------------------------------------------------------------------------

    def _connect(self, isolation_level: str | None = None, check: bool = False) -> sqlite3.Connection:
        options = self.options
        if options.read_only:
            target, uri = self.path.absolute().as_uri() + "?mode=ro", True
        else:
            target, uri = str(self.path), False
        watch = _watch
        if watch is not None:
            watch(f"open {self.path}")
        # typeshed leaves out "" (sqlite3's legacy implicit-BEGIN mode), which thread_connection uses
        conn = sqlite3.connect(target, uri=uri, isolation_level=isolation_level,  # type: ignore[arg-type]
                               check_same_thread=False, timeout=options.busy_timeout_ms / 1000)
        if watch is not None:
            conn.set_trace_callback(watch)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(options.busy_timeout_ms)}")
            if not options.read_only:
                conn.execute(f"PRAGMA journal_mode={options.journal_mode}").fetchone()
                conn.execute(f"PRAGMA synchronous={options.synchronous}")
                conn.execute("PRAGMA foreign_keys=ON")
            if options.secure_delete:
                conn.execute("PRAGMA secure_delete=ON")
            if check:
                verdict = conn.execute("PRAGMA quick_check").fetchone()
                if verdict is None or verdict[0] != "ok":
                    raise Damaged(f"the database is damaged ({verdict[0] if verdict else 'no answer'})")
        except BaseException:
            conn.close()
            raise
        return conn

    def setup_once(self, setup: Setup, name: str = "") -> None:
        name = name or f"{setup.__module__}.{setup.__qualname__}"
        with self.lock:
            if name not in self._setups:
                setup(self.connection)
                self._setups.add(name)

    def serves(self, key: str, options: Options) -> bool:
        """Whether this owner may be handed out again for `key` in this process: same process
        (not a forked child), still open, the same file (not deleted and re-created meanwhile),
        and writable when writing is asked for."""
        if self.pid != os.getpid() or self.holders <= 0:
            return False
        if self.options.read_only and not options.read_only:
            return False
        return _inode(Path(key)) == self.inode

    # ---- using -----------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT on the shared connection, holding `lock`."""
        with self.lock, write_transaction(self.connection) as conn:
            yield conn

    def thread_connection(self, isolation_level: str | None = "") -> sqlite3.Connection:
        """This thread's own connection (readers that must not wait behind the shared one). It is
        closed when the thread ends (or by `close_thread_connection`); SQLite keeps the locks of
        the file's other connections in this process when one of them closes."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(isolation_level)
            self._local.conn = conn
        return conn

    def close_thread_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # ---- releasing -------------------------------------------------------------------------

    def release(self) -> None:
        """This holder is done; the last one closes the file's connections."""
        with _REGISTRY_LOCK:
            self.release_locked()

    def release_locked(self) -> None:
        self.holders -= 1
        if self.holders > 0:
            return
        if _OWNERS.get(str(self.path)) is self:
            del _OWNERS[str(self.path)]
        self.close_thread_connection()
        with self.lock, contextlib.suppress(sqlite3.Error):
            self.connection.close()


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
