"""One owner per database file per process, and no stray descriptor on a live database file.

The kiosk opens several stores in one process (fleet monitor, transaction service, staff desk)
while technicians run shell commands beside it. On Linux, closing ANY descriptor of a file drops
all of the process's POSIX locks on it (SQLite, "How To Corrupt An SQLite Database File" §2.2):
a store that opened and closed a descriptor of its file when a second handle was made left the
app without its locks; the shell command's close then found no other holder, checkpointed and
deleted the -wal, and the app went on committing into an unlinked file. A SIGKILL later, the
commits were gone (5 of 6 payments in the case that was seen).

Each case here: a child process opens a store twice (two handles, as the app does), commits,
waits while a real `kiosk` shell command runs beside it, commits more, and is SIGKILLed. Every
commit must be in the file afterwards.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMITS_BEFORE, COMMITS_AFTER = 2, 5  # both handles commit before the shell runs

_PRELUDE = """
import sys
from kiosk.core.config import load_config
config = load_config(sys.argv[1])
"""

# Each store: how the child opens two handles, commits (`commit(i)`), and how the test counts.
CHILDREN = {
    "outbox": """
from offline_cache.outbox import Outbox
first = Outbox(config.data_path / "outbox.sqlite")
second = Outbox(config.data_path / "outbox.sqlite")  # the fleet report's handle, then the service's
def commit(i):
    (first if i % 2 else second).create("payment", 100 + i, folio=f"F{i}")
""",
    "staff": """
from kiosk.staff.access import StaffAccess
from kiosk.staff.model import WrongPin
first = StaffAccess(config)
if not first.members():
    first.add("1001", "Ana Ruiz", "attendant", "482915")
second = StaffAccess(config)  # the staff desk's handle beside another one
def commit(i):
    try:
        (first if i % 2 else second).authenticate("1001", "000000")
    except WrongPin:
        pass
""",
    "audit": """
from kiosk.staff.audit import AuditLog
first = AuditLog.open(config)
second = AuditLog.open(config)
def commit(i):
    (first if i % 2 else second).append("kiosk", "test.commit", number=i)
""",
    "catalog": """
from kiosk.catalog.store import CatalogStore
first = CatalogStore(config.data_path / "catalog.sqlite")
second = CatalogStore(config.data_path / "catalog.sqlite")
def commit(i):
    (first if i % 2 else second).update_state(**{f"commit_{i}": i})
""",
}

_LOOP = f"""
for i in range({COMMITS_BEFORE}):
    commit(i)
print("ready", flush=True)
sys.stdin.readline()  # the shell command runs beside this process now
for i in range({COMMITS_BEFORE}, {COMMITS_BEFORE + COMMITS_AFTER}):
    commit(i)
print("committed", flush=True)
sys.stdin.readline()  # SIGKILLed while waiting
"""


def _count(store: str, config: Path, data: Path) -> int:
    """Commits found in the file after the kill (read in a fresh process: the test's own)."""
    if store == "outbox":
        return sqlite3.connect(data / "outbox.sqlite").execute("SELECT COUNT(*) FROM transactions").fetchone()[0]
    if store == "audit":
        return sqlite3.connect(data / "audit.sqlite").execute(
            "SELECT COUNT(*) FROM audit WHERE action='test.commit'").fetchone()[0]
    if store == "catalog":
        return sqlite3.connect(data / "catalog.sqlite").execute(
            "SELECT COUNT(*) FROM sync_state WHERE key LIKE 'commit_%'").fetchone()[0]
    status = subprocess.run([sys.executable, "-c", textwrap.dedent(_PRELUDE) + textwrap.dedent("""
        from kiosk.staff.access import StaffAccess
        status = StaffAccess(config).status()
        print(config.staff.lockout_attempts - status.attempts_left)
        """), str(config)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    return int(status.stdout.strip())


def _write_config(tmp_path: Path) -> Path:
    data = tmp_path / "kiosk"
    config = tmp_path / "kiosk.toml"
    config.write_text(textwrap.dedent(f"""
        [kiosk]
        data_dir = "{data}"
        [api]
        base_url = "http://127.0.0.1:9"
        timeout_s = 1
        connect_timeout_s = 0.5
        public_key = ""
        [staff]
        lockout_attempts = 10
        [fleet]
        metrics_port = 0
        """), encoding="utf-8")
    return config


def _readline(child: subprocess.Popen, timeout_s: float) -> str:
    ready, _, _ = select.select([child.stdout], [], [], timeout_s)
    if not ready:
        raise AssertionError("the child did not answer in time")
    line = child.stdout.readline()
    if not line:
        raise AssertionError(f"the child died: {child.stderr.read()}")
    return line.strip()


SHELL_COMMANDS = {
    "outbox": [["queue", "--json"], ["cash", "totals", "--json"], ["diag", "--json"]],
    "staff": [["staff", "list"]],
    "audit": [["audit", "verify"]],
    "catalog": [["catalog", "status"]],
}
CASES = [(store, command) for store, commands in SHELL_COMMANDS.items() for command in commands]


@pytest.mark.parametrize(("store", "command"), CASES, ids=[f"{s}-{'-'.join(c)}" for s, c in CASES])
def test_commits_survive_a_shell_command_beside_two_handles_and_a_sigkill(tmp_path: Path, store: str,
                                                                          command: list[str]) -> None:
    config = _write_config(tmp_path)
    script = textwrap.dedent(_PRELUDE) + textwrap.dedent(CHILDREN[store]) + textwrap.dedent(_LOOP)
    child = subprocess.Popen([sys.executable, "-c", script, str(config)], cwd=ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _readline(child, 60) == "ready"
        shell = subprocess.run([sys.executable, "-m", "kiosk", *command], cwd=ROOT, capture_output=True, text=True,
                               timeout=120, env=dict(os.environ, KIOSK_CONFIG=str(config)))
        assert "Traceback" not in shell.stderr, shell.stderr
        child.stdin.write("go\n")
        child.stdin.flush()
        assert _readline(child, 60) == "committed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    assert _count(store, config, tmp_path / "kiosk") == COMMITS_BEFORE + COMMITS_AFTER


def test_no_store_opens_a_descriptor_of_its_database_file_after_it_is_live(tmp_path: Path) -> None:
    """Opening a second handle (and the first one, on an existing file) never opens the database
    file outside SQLite: the file's descriptors in this process are SQLite's own, counted in
    /proc/self/fd before and after."""
    config = _write_config(tmp_path)
    script = textwrap.dedent(_PRELUDE) + textwrap.dedent("""
        import json, os
        from offline_cache.outbox import Outbox
        path = config.data_path / "outbox.sqlite"
        first = Outbox(path)
        first.create("payment", 1, folio="F0")
        opened = []
        real_open = os.open
        def spy(name, *args, **kwargs):
            if os.fspath(name) == os.fspath(path):
                opened.append(os.fspath(name))
            return real_open(name, *args, **kwargs)
        os.open = spy
        second = Outbox(path)
        second.create("payment", 2, folio="F1")
        print(json.dumps(opened))
        """)
    result = subprocess.run([sys.executable, "-c", script, str(config)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
