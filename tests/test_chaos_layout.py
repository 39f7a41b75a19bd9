"""Chaos in the real process layout: SIGKILL a kiosk that holds every store, with shells beside it.

`kiosk run` opens the outbox, staff, audit, catalog and error-log files several times in one
process (fleet monitor, transaction service, staff desk) while technicians run `kiosk queue`,
`kiosk diag`, `kiosk cash totals`, `kiosk staff list` and `kiosk audit verify` beside it. Here a
child (tests/chaos_child.py) opens them the same way and takes payments with the
simulated devices while it counts wrong PINs and appends audit entries; a thread loops the shell
commands; the child is SIGKILLed at a random moment 0-1.5 s after it started, again and again.

After each kill, against the files on disk: every commit the child acknowledged is there (a
transaction, its state or a later one, its credits, its payment, each audit entry by seq and MAC,
the catalog beat), the wrong-PIN count is not below what was acknowledged (nor above it by more
than the one attempt a kill can interrupt), no lock happened, every database passes
integrity_check and every folio that took money has a transaction. At the end a clean restart
(recovery) drains the queue, and the sandbox ledger and the witness (what the simulated devices
took) must agree: everything paid applied exactly once, nothing left pending, the money journal
empty, no claims held, the credits recorded equal to the simulated acceptor's own tally.

`make test` runs a short chaos (about a minute, at least 20 kills); `make soak` runs it for
KIOSK_SOAK_SECONDS. bench/bench_chaos.py runs the same chaos for the bench table.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from offline_cache import outbox as ob
from tests.conftest import SOAK_SECONDS
from tests.transactions import invariant

ROOT = Path(__file__).resolve().parents[1]
SHORT_SECONDS, MIN_KILLS = 50.0, 20
RUN_AFTER_START_S = (0.0, 1.5)
STORES = ("outbox.sqlite", "staff.sqlite", "audit.sqlite", "catalog.sqlite", "diag/errors.sqlite")
SHELL_COMMANDS = (("queue", "--json"), ("diag", "--json"), ("cash", "totals", "--json"), ("staff", "list"),
                  ("audit", "verify"))
UNLOCK_AT, PIN_CEILING = 50, 90  # the test's lockout limits are 10 per number, 100 in total
ACTIVE = (ob.CREATED, ob.PAYING, ob.PAID, ob.QUEUED, ob.SUBMITTED)


# ---- the place: a sandbox API and a kiosk configuration --------------------------------------

class Sandbox:
    """The municipal API on loopback, with payments and the fleet view (heartbeats)."""

    def __init__(self, directory: Path):
        from kiosk.sandbox import SandboxServer, create_app
        from kiosk.sandbox.fleet import Fleet
        from kiosk.sandbox.payments import Payments

        app = create_app(data_dir=directory)
        Payments().install(app)
        Fleet().install(app)
        self.server = SandboxServer(app, "127.0.0.1", 0).start()
        self.url = self.server.url

    def ledger(self) -> list[dict[str, Any]]:
        return requests.get(self.url + "/v1/sandbox/ledger", timeout=10).json()["transactions"]

    def stop(self) -> None:
        self.server.stop()


def write_config(directory: Path, api_url: str) -> Path:
    """Limits the chaos stays under (10 wrong PINs per number, 100 in total, a week's window), the
    fleet monitor reporting every second, metrics off (several kiosks may run on this machine)."""
    path = directory / "kiosk.toml"
    path.write_text(f"""
[kiosk]
data_dir = "{directory / 'kiosk'}"
[api]
base_url = "{api_url}"
timeout_s = 2
connect_timeout_s = 1
[transactions]
retry_base_s = 0.05
retry_cap_s = 0.5
min_free_mb = 1
[staff]
lockout_attempts = 10
lockout_total_attempts = 100
lockout_window_minutes = 10080
[fleet]
metrics_port = 0
status_interval_s = 1
heartbeat_interval_s = 1
""", encoding="utf-8")
    return path


# ---- what the child acknowledged, and what must be on disk ------------------------------------

@dataclass
class Folio:
    key: str
    method: str
    amount: int
    state: str  # the latest acknowledged or observed state
    credits: int = 0  # acknowledged cash credits
    credit_cents: int = 0
    paid_cents: int = 0
    tally: int | None = None  # the simulated acceptor's own count for the whole payment
    interrupted: bool = False  # a kill fell while it was being paid


@dataclass
class Run:
    """One child's acknowledgements, in the order it printed them."""

    started: bool = False
    pins: int = 0
    member_pins: int = 0  # wrong PINs at the member's number since this run's last good login
    login: str = ""  # "", "begun" or "done" (the latest login)
    unlock: str = ""  # "", "begun" or "done"
    catalog: int | None = None
    in_flight: str = ""  # the folio being paid when the output stopped
    lines: int = 0


def reachable(state: str) -> frozenset[str]:
    """`state` and every state the outbox's transitions can lead to from it."""
    seen, todo = {state}, [state]
    while todo:
        for following in ob.TRANSITIONS[todo.pop()]:
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return frozenset(seen)


@dataclass
class Tracker:
    """Everything acknowledged so far, checked against the files after every kill."""

    data: Path
    folios: dict[str, Folio] = field(default_factory=dict)
    audits: dict[int, str] = field(default_factory=dict)
    acked: Counter = field(default_factory=Counter)  # acknowledged commits by kind
    lost: Counter = field(default_factory=Counter)  # acknowledged commits not found on disk, by kind
    lost_ids: set = field(default_factory=set)  # (kind, folio or seq): each counted once
    violations: list[str] = field(default_factory=list)
    pins_total: int = 0  # attempt rows found at the last check
    member_count: int = 0
    member_target: str = ""
    audit_head: tuple[int, str] | None = None
    unrecorded: set = field(default_factory=set)  # folios that took money without a transaction on disk
    starts: int = 0
    start_ms: Counter = field(default_factory=Counter)

    # ---- reading the child's lines ----------------------------------------------------------

    def take(self, line: str, run: Run) -> None:
        words = line.split()
        if not words:
            return
        run.lines += 1
        kind, args = words[0], words[1:]
        handler = getattr(self, f"_on_{kind.replace('-', '_')}", None)
        if handler is not None:
            handler(args, run)

    def _on_started(self, args: list[str], run: Run) -> None:
        run.started = True
        self.starts += 1
        for mark in args:  # how long each part of the child's start took, in ms
            name, _, ms = mark.partition("=")
            self.start_ms[name] += int(ms)

    def _on_member(self, _args: list[str], _run: Run) -> None:
        self.acked["member"] += 1

    def _on_created(self, args: list[str], run: Run) -> None:
        folio, key, method, cents = args
        self.folios[folio] = Folio(key, method, int(cents), ob.CREATED)
        self.acked["created"] += 1
        run.in_flight = folio

    def _on_credit(self, args: list[str], _run: Run) -> None:
        entry = self.folios[args[0]]
        entry.credits += 1
        entry.credit_cents += int(args[1])
        self.acked["credit"] += 1

    def _on_paid(self, args: list[str], run: Run) -> None:
        folio, _method, cents, tally = args
        entry = self.folios[folio]
        entry.state, entry.paid_cents = ob.QUEUED, int(cents)
        entry.tally = None if tally == "-" else int(tally)
        self.acked["paid"] += 1
        run.in_flight = ""

    def _on_attendant(self, args: list[str], run: Run) -> None:
        entry = self.folios[args[0]]
        entry.state = ob.NEEDS_ATTENDANT
        entry.tally = None if args[1] == "-" else int(args[1])
        self.acked["attendant"] += 1
        run.in_flight = ""

    def _on_back(self, args: list[str], run: Run) -> None:
        self.folios[args[0]].state = ob.CREATED
        self.acked["back"] += 1
        run.in_flight = ""

    def _on_audit(self, args: list[str], _run: Run) -> None:
        self.audits[int(args[0])] = args[1]
        self.audit_head = (int(args[0]), args[1])  # one assignment: the shells' thread reads it
        self.acked["audit"] += 1

    def _on_pin(self, args: list[str], run: Run) -> None:
        run.pins += 1
        run.member_pins += args[0] == "member"
        self.acked["pin"] += 1

    def _on_login_begin(self, _args: list[str], run: Run) -> None:
        run.login = "begun"

    def _on_login(self, _args: list[str], run: Run) -> None:
        run.login, run.member_pins = "done", 0
        self.acked["login"] += 1

    def _on_unlock_begin(self, _args: list[str], run: Run) -> None:
        run.unlock = "begun"

    def _on_unlock(self, _args: list[str], run: Run) -> None:
        run.unlock = "done"

    def _on_catalog(self, args: list[str], run: Run) -> None:
        run.catalog = int(args[0])
        self.acked["catalog"] += 1

    def _on_locked(self, args: list[str], _run: Run) -> None:
        self.violations.append(f"staff access locked ({args[0]} s): a wrong-PIN count went past what was typed")

    # ---- checking the files ------------------------------------------------------------------

    def check(self, run: Run, witness: Path) -> None:
        """After a kill (or at the end): every acknowledgement against the files."""
        if run.in_flight:
            self.folios[run.in_flight].interrupted = True
        self._check_integrity()
        self._check_outbox(witness)
        self._check_staff(run)
        self._check_audit()
        self._check_catalog(run)

    def _lose(self, kind: str, ident: object, problem: str, count: int = 1) -> None:
        """Count a loss once (a lost row stays lost in the checks after this one)."""
        if ident is None or (kind, ident) not in self.lost_ids:
            if ident is not None:
                self.lost_ids.add((kind, ident))
            self.lost[kind] += count
            self.violations.append(problem)

    def _connect(self, name: str) -> sqlite3.Connection:
        # Read-write like any shell (a killed writer may have left a hot journal to roll back),
        # but never created here.
        return sqlite3.connect(f"file:{self.data / name}?mode=rw", uri=True, timeout=30)

    def _rows(self, name: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows, or none while the store (or its table) does not exist yet."""
        if not (self.data / name).exists():
            return []
        with _closing(self._connect(name)) as conn:
            try:
                return conn.execute(sql, args).fetchall()
            except sqlite3.OperationalError as error:
                if "no such table" in str(error) or "no such column" in str(error):
                    return []
                raise

    def _check_integrity(self) -> None:
        for name in STORES:
            if not (self.data / name).exists():
                continue
            with _closing(self._connect(name)) as conn:
                verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                self.violations.append(f"{name}: integrity_check says {verdict}")

    def _check_outbox(self, witness: Path) -> None:
        rows = {folio: (state, paid) for folio, state, paid in self._rows(
            "outbox.sqlite", "SELECT folio, state, paid_cents FROM transactions")}
        credits = {folio: (n, cents) for folio, n, cents in self._rows(
            "outbox.sqlite", "SELECT t.folio, COUNT(c.id), COALESCE(SUM(c.cents), 0) FROM transactions t"
            " JOIN credits c ON c.seq = t.seq GROUP BY t.folio")}
        journalled = journal_credits(self.data / "outbox.sqlite")
        for folio, entry in self.folios.items():
            self._check_folio(folio, entry, rows.get(folio), credits.get(folio, (0, 0)),
                              journalled.get(entry.key, (0, 0)))
        for folio in invariant.read_witness(witness):
            if folio not in rows and folio not in self.unrecorded:
                self.unrecorded.add(folio)
                self.violations.append(f"{folio}: money taken, no transaction on disk")

    def _check_folio(self, folio: str, entry: Folio, row: tuple[str, int] | None, recorded: tuple[int, int],
                     journalled: tuple[int, int]) -> None:
        state, paid = row if row is not None else (None, 0)
        if state is None:
            self._lose("created", folio, f"{folio}: acknowledged as created, not on disk")
        if state is not None and state in reachable(entry.state):
            entry.state = state
        elif entry.state != ob.CREATED:
            kind = {ob.QUEUED: "paid", ob.NEEDS_ATTENDANT: "attendant"}.get(entry.state, "state")
            self._lose(kind, folio, f"{folio}: {state or 'nothing'} on disk, {entry.state} acknowledged")
        if entry.paid_cents and paid < entry.paid_cents:
            self._lose("paid", folio, f"{folio}: paid_cents {paid} on disk, {entry.paid_cents} acknowledged")
        count, cents = recorded[0] + journalled[0], recorded[1] + journalled[1]
        if count < entry.credits or cents < entry.credit_cents:
            self._lose("credit", folio, f"{folio}: {count} credits ({cents}) on disk or journalled, "
                                        f"{entry.credits} ({entry.credit_cents}) acknowledged",
                       max(1, entry.credits - count))

    def _check_staff(self, run: Run) -> None:
        total = len(self._rows("staff.sqlite", "SELECT id FROM attempts"))
        member = len(self._rows("staff.sqlite", "SELECT id FROM attempts WHERE target = ?", (self._target(),)))
        lockouts = len(self._rows("staff.sqlite", "SELECT id FROM lockouts"))
        members = len(self._rows("staff.sqlite", "SELECT staff_id FROM staff"))
        if self.acked["member"] and not members:
            self._lose("member", "1001", "the staff member acknowledged as added is not on disk")
        if lockouts:
            self.violations.append(f"{lockouts} lockouts recorded: the counts passed limits the chaos stays under")
        # The total: what the last check found (nothing after an unlock, even one cut short) plus
        # this run's acknowledged wrong PINs; at most one more, the attempt a kill cut short.
        floor = 0 if run.unlock else self.pins_total
        ceiling = (self.pins_total if run.unlock == "begun" else floor) + run.pins + 1
        if total > ceiling:
            self.violations.append(f"wrong-PIN total {total}: more than the {ceiling} that can have been counted")
        short = max(floor + run.pins - total, self._member_shortfall(run, member))
        if short > 0:
            self._lose("pin", None, f"wrong PINs: {total} in total and {member} at the member's number on disk, "
                                    f"{short} fewer than acknowledged", short)
        self.pins_total, self.member_count = total, member

    def _member_shortfall(self, run: Run, member: int) -> int:
        """At the member's number: what was acknowledged since the last good login (which cleared
        it), plus at most the one attempt a kill cut short; a login cut short may have cleared it.
        A count above that means an acknowledged login did not clear it (a lost login)."""
        if run.login == "done":
            low, high = run.member_pins, run.member_pins + 1
        elif run.login == "begun":
            low, high = 0, max(self.member_count, run.member_pins) + 1
        else:
            low, high = self.member_count, self.member_count + 1
        if member > high:
            problem = f"wrong PINs at the member's number: {member} on disk, at most {high} can be counted"
            if run.login == "done":
                self._lose("login", None, problem + " after the acknowledged login")
            else:
                self.violations.append(problem)
        return low - member

    def _target(self) -> str:
        """What the lockout counts the member's number under (a keyed hash; "" before the key exists)."""
        from kiosk.staff.secrets import PEPPER_FILE, load_pepper, staff_dir

        if not self.member_target and (staff_dir(self.data) / PEPPER_FILE).exists():
            from kiosk.staff.access import _target

            self.member_target = _target("1001", load_pepper(self.data).value)
        return self.member_target

    def _check_audit(self) -> None:
        found = dict(self._rows("audit.sqlite", "SELECT seq, mac FROM audit"))
        for seq, mac in self.audits.items():
            if found.get(seq) != mac:
                self._lose("audit", seq, f"audit entry {seq}: acknowledged, {'changed' if seq in found else 'gone'}")

    def _check_catalog(self, run: Run) -> None:
        if run.catalog is None:
            return
        rows = self._rows("catalog.sqlite", "SELECT value FROM sync_state WHERE key = 'chaos_beat'")
        beat = json.loads(rows[0][0]) if rows else None
        if beat not in (run.catalog, run.catalog + 1):
            self._lose("catalog", None, f"catalog beat {beat} on disk, {run.catalog} acknowledged")

    @property
    def survivors(self) -> int:
        return sum(self.acked.values()) - sum(self.lost.values())


class _closing:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *_exc: object) -> None:
        self.conn.close()


def journal_credits(store: Path) -> dict[str, tuple[int, int]]:
    """Cash credits in the money journal (offline_cache/money_journal.py) by transaction key."""
    found: dict[str, tuple[int, int]] = {}
    path = store.with_name(store.name + ".money-journal")
    if not path.exists():
        return found
    for line in path.read_bytes().splitlines(keepends=True):
        try:
            entry = json.loads(line) if line.endswith(b"\n") else {}
        except ValueError:
            continue
        if entry.get("kind") == "credit":
            count, cents = found.get(entry["key"], (0, 0))
            found[entry["key"]] = (count + 1, cents + int(entry["cents"]))
    return found


# ---- the shells beside the kiosk ---------------------------------------------------------------

class Shells:
    """Loops the technicians' commands beside the child; none may ever print a traceback."""

    def __init__(self, config: Path, tracker: Tracker):
        self.config, self.tracker = config, tracker
        self.stop = threading.Event()
        self.runs: Counter = Counter()
        self.refused: Counter = Counter()  # a one-line refusal (exit status other than expected)
        self.problems: list[str] = []
        self.slowest: dict[str, float] = {}  # seconds, start to exit (a Python start included)
        self.thread = threading.Thread(target=self._loop, name="chaos-shells", daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            for command in SHELL_COMMANDS:
                if self.stop.is_set():
                    return
                self.run(command)

    def run(self, command: tuple[str, ...]) -> None:
        args = list(command)
        head = self.tracker.audit_head
        if command == ("audit", "verify") and head is not None:
            args += ["--head", f"{head[0]}:{head[1]}"]  # the last acknowledged entry: a cut log shows
        began = time.monotonic()
        try:
            done = subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=ROOT, capture_output=True,
                                  text=True, timeout=60, env=dict(os.environ, KIOSK_CONFIG=str(self.config)))
        except subprocess.TimeoutExpired:
            self.problems.append(f"kiosk {' '.join(command)}: still running after 60 s (killed)")
            return
        name = " ".join(command[:2]) if command[0] != "diag" else "diag"
        self.runs[name] += 1
        self.slowest[name] = max(self.slowest.get(name, 0.0), round(time.monotonic() - began, 1))
        output = done.stdout + done.stderr
        if "Traceback" in output:
            self.problems.append(f"kiosk {' '.join(command)} printed a traceback: {output[-800:]}")
        elif "NOT intact" in output:
            self.problems.append(f"kiosk audit verify: {output.strip()[-400:]}")
        elif done.returncode not in ((0, 1) if command[0] == "diag" else (0,)):
            self.refused[f"{name}: {output.strip().splitlines()[-1][:120] if output.strip() else done.returncode}"] += 1


# ---- one child ----------------------------------------------------------------------------------

class Child:
    """The chaos child, started ahead (--wait-go: imports and simulated devices, no store yet) and
    told to go once the files of the last one are checked; its stdout is read without blocking."""

    def __init__(self, config: Path, witness: Path, log: Path, seed: int):
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos_child", "--config", str(config), "--witness",
             str(witness), "--seed", str(seed), "--max-seconds", "90", "--wait-go"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.buffer = b""
        self.ready = False

    def go(self, *options: str, timeout_s: float = 60) -> list[str]:
        """Wait for 'ready', then let it open the stores with `options`; lines already read after it."""
        early: list[str] = []
        deadline = time.monotonic() + timeout_s
        while not self.ready and time.monotonic() < deadline and self.process.poll() is None:
            for line in self.lines(deadline - time.monotonic()):
                self.ready = self.ready or line == "ready"
                early += [line] if self.ready and line != "ready" else []
        if self.ready:
            try:
                self.process.stdin.write((" ".join(options) + "\n").encode())
                self.process.stdin.flush()
            except BrokenPipeError:  # it died meanwhile: the caller sees it never start
                pass
        return early

    def lines(self, timeout_s: float) -> list[str]:
        """Complete lines that arrive within `timeout_s`."""
        ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, timeout_s))
        if ready:
            self.buffer += os.read(self.process.stdout.fileno(), 65536)
        return self._complete()

    def _complete(self) -> list[str]:
        if b"\n" not in self.buffer:
            return []
        head, _, self.buffer = self.buffer.rpartition(b"\n")
        return head.decode().splitlines()

    def kill(self) -> list[str]:
        """SIGKILL, reap, and the lines it wrote before it died (a cut last line is dropped)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        while chunk := os.read(self.process.stdout.fileno(), 1 << 20):
            self.buffer += chunk
        lines = self._complete()
        self.close()
        return lines

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.log.close()


# ---- the chaos ------------------------------------------------------------------------------------

@dataclass
class ChaosResult:
    kills: int
    runs: int
    acked: Counter
    survivors: int
    lost: int
    lost_by_kind: Counter
    applied_once: int
    violations: list[str]
    shells: Counter
    refused: Counter
    seconds: float
    details: dict[str, Any]

    @property
    def acknowledged(self) -> int:
        return sum(self.acked.values())

    def line(self) -> str:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.acked.items()))
        lost = f" ({', '.join(f'{kind} {n}' for kind, n in sorted(self.lost_by_kind.items()))})" if self.lost else ""
        return (f"chaos: {self.kills} kills in {self.runs} runs, {self.seconds:.0f} s; acknowledged "
                f"{self.acknowledged} ({kinds}); survivors {self.survivors}; lost {self.lost}{lost}; "
                f"applied once {self.applied_once}; violations {len(self.violations)}")


class Chaos:
    def __init__(self, directory: Path, seed: int, wait_for_leases: bool):
        self.directory = directory
        self.rng = random.Random(seed)
        self.seed = seed
        self.wait_for_leases = wait_for_leases
        self.sandbox = Sandbox(directory / "sandbox")
        self.config = write_config(directory, self.sandbox.url)
        self.data = directory / "kiosk"
        self.witness = directory / "witness"
        self.log = directory / "child.log"
        self.tracker = Tracker(self.data)
        self.shells = Shells(self.config, self.tracker)
        self.kills = self.runs = 0
        self.killed: set[int] = set()  # pids of the children SIGKILLed
        self.counts: Counter = Counter()  # where the kills fell, payments reconciled...
        self.details: dict[str, Any] = {}
        self.next: Child | None = None

    def spawn(self) -> Child:
        self.runs += 1
        return Child(self.config, self.witness, self.log, self.seed * 100000 + self.runs)

    def options(self) -> list[str]:
        """What the next child may count: the total stays under the lock (an unlock clears it)."""
        pins = self.tracker.pins_total
        if pins >= UNLOCK_AT:
            return ["--unlock", "--pin-budget", str(PIN_CEILING)]
        return ["--pin-budget", str(PIN_CEILING - pins)]

    def one_kill(self) -> None:
        run, child = Run(), self.next or self.spawn()
        self.next = None
        try:
            began = time.monotonic()
            for line in child.go(*self.options()):
                self.tracker.take(line, run)
            deadline = time.monotonic() + 60
            while not run.started and time.monotonic() < deadline and child.process.poll() is None:
                for line in child.lines(deadline - time.monotonic()):
                    self.tracker.take(line, run)
            if not run.started:
                self.tracker.violations.append(f"run {self.runs}: the child never started ({self._log_tail()})")
                return
            self.counts["start_ms"] += round((time.monotonic() - began) * 1000)
            self.next = self.spawn()  # imports while this one works
            until = time.monotonic() + self.rng.uniform(*RUN_AFTER_START_S)
            while time.monotonic() < until and child.process.poll() is None:
                for line in child.lines(until - time.monotonic()):
                    self.tracker.take(line, run)
            if child.process.poll() is not None:
                self.tracker.violations.append(f"run {self.runs}: the child died by itself ({self._log_tail()})")
            else:
                self.kills += 1
                self.killed.add(child.process.pid)
        finally:
            for line in child.kill():
                self.tracker.take(line, run)
        self.counts["killed_while_paying"] += bool(run.in_flight)
        self.tracker.check(run, self.witness)

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-1500:]

    def settle(self) -> dict[str, Any]:
        """A clean restart: recovery, a full drain, a clean stop."""
        run, child = Run(), self.spawn()
        settled: dict[str, Any] = {}
        lines = child.go("--settle", "30")
        try:
            deadline = time.monotonic() + 90
            while child.process.poll() is None and time.monotonic() < deadline:
                lines += child.lines(1.0)
        finally:
            lines += child.kill()
        for line in lines:
            self.tracker.take(line, run)
            if line.startswith("settled "):
                settled = json.loads(line.split(" ", 1)[1])
        self.tracker.check(run, self.witness)
        return settled

    def run(self, seconds: float, min_kills: int, cap_s: float) -> ChaosResult:
        started = time.monotonic()
        self.shells.thread.start()
        try:
            while (time.monotonic() - started < seconds or self.kills < min_kills) and \
                    time.monotonic() - started < cap_s:
                self.one_kill()
        finally:
            if self.next is not None:
                self.next.close()  # it never touched a store
            self.shells.stop.set()
            self.shells.thread.join(timeout=120)
        self.details["chaos_s"] = round(time.monotonic() - started, 1)
        try:
            self.end()
            self.details["end_s"] = round(time.monotonic() - started - self.details["chaos_s"], 1)
            return self.result(started)
        finally:
            self.sandbox.stop()

    # ---- the end ------------------------------------------------------------------------------

    def end(self) -> None:
        """A clean restart, then the checks. Rows a killed child had claimed are claimed again at
        once (their claimant is gone: offline_cache/outbox.py _claimant_gone), not after the lease."""
        self.details["claimed_by_killed"] = self.claims_of_the_killed()
        settled = self.settle()
        if not settled.get("drained"):
            self.tracker.violations.append(f"the clean restart did not drain the queue: {settled}")
        self.final_checks()

    def claims_of_the_killed(self) -> int:
        """Pending rows still claimed by a child that was SIGKILLed (owner host:pid:nonce)."""
        rows = self.tracker._rows("outbox.sqlite", "SELECT claimed_by FROM transactions WHERE claimed_by != ''"
                                  " AND state IN ('queued', 'submitted')")
        return sum(1 for (owner,) in rows if _pid(owner) in self.killed)

    def final_checks(self) -> None:
        violations = self.tracker.violations
        box = ob.Outbox(self.data / "outbox.sqlite")
        records = box.all()
        box.close()
        ledger = self.sandbox.ledger()
        money = invariant.read_witness(self.witness)
        checked = invariant.check(money, records, ledger)
        violations += checked["violations"] + invariant.order_violations(records, ledger)
        self.details.update(applied_once=checked["applied_once"], money_folios=checked["money_folios"],
                            states=checked["states"], redelivered_keys=checked["redelivered_keys"])
        journal = (self.data / "outbox.sqlite").with_name("outbox.sqlite.money-journal")
        if journal.exists() and journal.stat().st_size:
            violations.append(f"the money journal still holds {journal.stat().st_size} bytes after the restart")
        held = self.tracker._rows("outbox.sqlite", "SELECT folio FROM transactions WHERE claimed_by != ''"
                                  f" AND state IN ({','.join(repr(state) for state in ACTIVE)})")
        if held:
            violations.append(f"{len(held)} unfinished transactions still claimed after the clean restart")
        recorded = dict(self.tracker._rows("outbox.sqlite", "SELECT t.folio, SUM(c.cents) FROM credits c"
                                           " JOIN transactions t ON t.seq = c.seq GROUP BY t.folio"))
        self._check_cash(money, recorded)
        violations += self.shells.problems

    def _check_cash(self, money: Counter, recorded: dict[str, int]) -> None:
        """The credits recorded per cash payment against the witness and the acceptor's own tally:
        equal for every payment that finished; never more than was taken for one a kill cut."""
        for folio, entry in self.tracker.folios.items():
            if entry.method != "cash":
                continue
            taken, kept = money.get(folio, 0), recorded.get(folio, 0)
            if entry.interrupted:
                if kept > taken:
                    self.tracker.violations.append(f"{folio}: {kept} recorded, only {taken} taken")
                continue
            if entry.tally is not None:
                self.counts["cash_reconciled"] += 1
                if not kept == taken == entry.tally:
                    self.tracker.violations.append(
                        f"{folio}: credits recorded {kept}, witness {taken}, acceptor's own tally {entry.tally}")

    def result(self, started: float) -> ChaosResult:
        tracker = self.tracker
        details = {**self.details, **self.counts}
        details["start_ms"] = round(self.counts["start_ms"] / max(1, self.kills))  # mean, go to started
        details["shell_slowest_s"] = self.shells.slowest
        details["start_parts_ms"] = {name: round(ms / max(1, tracker.starts)) for name, ms in tracker.start_ms.items()}
        return ChaosResult(self.kills, self.runs, tracker.acked, tracker.survivors, sum(tracker.lost.values()),
                           tracker.lost, int(self.details.get("applied_once", 0)), tracker.violations, self.shells.runs,
                           self.shells.refused, time.monotonic() - started, details)


def _pid(owner: str) -> int | None:
    """The process id in a submitter's claim name (host:pid:nonce)."""
    parts = owner.split(":")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


def run_chaos(directory: Path, seconds: float, min_kills: int = 0, seed: int = 1,
              cap_s: float | None = None, wait_for_leases: bool = False) -> ChaosResult:
    """The whole chaos in `directory` (sandbox, kiosk data, witness, the child's log)."""
    directory.mkdir(parents=True, exist_ok=True)
    chaos = Chaos(directory, seed, wait_for_leases)
    return chaos.run(seconds, min_kills, cap_s if cap_s is not None else seconds + 120)


@pytest.mark.soak
def test_sigkill_in_the_real_layout_loses_no_acknowledged_commit(tmp_path: Path) -> None:
    seconds = SOAK_SECONDS or SHORT_SECONDS
    seed = int(os.environ.get("KIOSK_CHAOS_SEED", "1"))
    result = run_chaos(tmp_path, seconds, MIN_KILLS, seed, wait_for_leases=bool(SOAK_SECONDS))
    print(f"\n{result.line()}\nshell commands run: {dict(result.shells)}; refused: {dict(result.refused)}; "
          f"details: {result.details}")
    for violation in result.violations[:40]:
        print(f"violation: {violation}")
    assert result.violations == [], result.violations[:20]
    assert result.survivors == result.acknowledged
    assert result.kills >= MIN_KILLS
    assert result.acked["paid"] and result.acked["credit"] and result.acked["audit"] and result.acked["pin"]
    assert all(result.shells[name] for name in ("queue --json", "diag", "cash totals", "staff list",
                                                 "audit verify"))


def test_the_checks_catch_what_a_kill_lost(tmp_path: Path) -> None:
    """Negative control: acknowledgements the files do not hold are counted as lost, by kind."""
    data = tmp_path / "kiosk"
    box = ob.Outbox(data / "outbox.sqlite")
    box.create("payment", 100, folio="F1", key="K1")  # created, never paid
    box.close()
    tracker, run = Tracker(data), Run()
    for line in ("started catalog=1", "created F1 K1 card 100", "paid F1 card 100 -", "created F2 K2 cash 500",
                 "credit F2 500", "pin member", "pin other", "audit 1 " + "0" * 64):
        tracker.take(line, run)
    tracker.check(run, tmp_path / "witness")
    assert tracker.lost == Counter({"paid": 1, "created": 1, "credit": 1, "pin": 2, "audit": 1})
    assert tracker.survivors == sum(tracker.acked.values()) - 6
    assert any("F1: created on disk, queued acknowledged" in v for v in tracker.violations)
