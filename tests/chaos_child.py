"""The chaos test's child: the stores opened the way `kiosk run` opens them, in ONE process.

    python -m tests.chaos_child --config FILE --witness FILE --seed S [--pin-budget N]
                                             [--unlock] [--settle SECONDS] [--max-seconds S] [--wait-go]

As in `kiosk run` (kiosk/ui/app.py): the simulated devices, the fleet monitor (its report
collector opens its own outbox, catalog and error-log handles; the error-log handler writes
every warning; heartbeats go to the API), the catalog store, the staff sessions (StaffAccess and
the AuditLog, `open_staff_sessions`) and the transaction service (`open_transactions`, which
recovers what a killed run left). Then two threads work, as a citizen and a staff member would
at once: payments (card, cash in several notes, certificate requests with personal data) and the
staff desk (wrong PINs at the member's number and at unknown numbers, good logins, audit entries,
catalog sync bookkeeping).

Every line on stdout says that a commit RETURNED (printed after it, flushed), so the test knows
what was acknowledged before it SIGKILLs this process:

    ready                              --wait-go: imports done, devices open, no store touched yet
    started NAME=MS...                 everything open, recovery done (how long each part took)
    member ID                          the staff member was added (first start)
    login-begin / login                a good login is under way / committed (its number's count cleared)
    unlock-begin / unlock N            lifting the wrong-PIN counts (asked by the test) / done, N cleared
    pin member|other                   a wrong PIN was counted (before the check) and refused
    locked SECONDS                     staff access refused as locked (the test's limits never allow it)
    audit SEQ MAC                      an audit entry is on disk
    catalog N                          the catalog's sync state holds chaos_beat = N
    created FOLIO KEY METHOD CENTS     a transaction is recorded (no money yet)
    credit FOLIO CENTS                 a cash credit is recorded (outbox, or the fsynced money journal)
    paid FOLIO METHOD CENTS TALLY      paid and queued; TALLY: what the simulated acceptor itself took
    attendant FOLIO TALLY              handed to an attendant (needs_attendant is on disk)
    back FOLIO                         nothing was taken: back to created
    refused CODE                       the service refused before any money (not a commit)
    settled JSON                       --settle: recovered, drained, stopped cleanly

Money taken goes to the witness file the moment a simulated device takes it (as `kiosk load
--witness` does): the bank's view. The process ends by itself after --max-seconds whatever happens.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.contract import immediate
from devices.registry import create_adapter
from kiosk.catalog.sample import load_sample
from kiosk.catalog.service import store_path
from kiosk.catalog.store import CatalogStore
from kiosk.core.config import load_config
from kiosk.core.logs import event, setup_logging
from kiosk.fleet.monitor import FleetMonitor
from kiosk.fleet.report import Sources
from kiosk.flows.payment import open_transactions
from kiosk.flows.staff_desk import open_staff_sessions
from kiosk.staff.model import StaffAccessError, StaffLocked, StaffUnavailable, WrongPin
from kiosk.transactions.load import (
    BILL_KINDS,
    CARD_ACCOUNTS,
    CERTIFICATE,
    WATER_ACCOUNTS,
    _wait,
    _witness,
)
from kiosk.transactions.service import Bill, Identity, Refused
from offline_cache.outbox import CREATED, NEEDS_ATTENDANT, QUEUED

log = logging.getLogger("kiosk.chaos")
MEMBER_ID, MEMBER_PIN = "1001", "482915"
WRONG_AT_MEMBER = 3  # wrong PINs at the member's number before a good login clears them (limit: 10)
_PRINT = threading.Lock()


def ack(*words: object) -> None:
    """One line per acknowledged commit, flushed before anything else happens."""
    with _PRINT:
        sys.stdout.write(" ".join(str(word) for word in words) + "\n")
        sys.stdout.flush()


def open_payment_devices() -> dict[str, Any]:
    """The simulated terminal and cash acceptor (as `kiosk load` opens them). No printer: nothing is
    printed here, and its driver's import alone costs a second of CPU per child."""
    adapters = {"payment": create_adapter("payment", "transbank", "sim://"),
                "cash": create_adapter("cash", "cctalk", "sim://?poll_ms=10")}
    for adapter in adapters.values():
        adapter.open()
    return adapters


class Holder:
    """What the fleet monitor's sources read while the service is still opening (as in the app)."""

    service: Any = None


# ---- opening, in `kiosk run`'s order ---------------------------------------------------------

def open_catalog(config: Any) -> Any:
    """The catalog store the app's feed holds; a first start imports the bundled sample."""
    store = CatalogStore(store_path(config))
    if store.count() == 0:
        sample = load_sample()
        store.replace_all(sample["categories"], sample["procedures"], {"revision": 1})
    return store


def start_fleet_monitor(config: Any, adapters: dict[str, Any], holder: Holder, sessions: Any) -> Any:
    """The monitor as `_start_fleet_monitor` starts it; its first report is collected before the
    service exists, so the collector opens its own outbox handle (and keeps it)."""
    def audit_head() -> dict[str, Any]:
        seq, mac = sessions.audit.head()
        return {"seq": seq, "mac": mac}

    sources = Sources(devices=lambda: adapters, transactions=lambda: holder.service)
    monitor = FleetMonitor(config, sources, immediate, audit_head=audit_head)
    first = threading.Event()
    monitor.refresh(lambda _report: first.set())
    monitor.start()
    first.wait(15)
    return monitor


def member_ready(sessions: Any) -> None:
    access = sessions.access
    if not any(member.staff_id == MEMBER_ID for member in access.members()):
        access.add(MEMBER_ID, "Ana Ruiz", "attendant", MEMBER_PIN)
        ack("member", MEMBER_ID)


# ---- the staff desk ----------------------------------------------------------------------------

class StaffDeskWork:
    """Wrong PINs, good logins, audit entries and catalog bookkeeping, one at a time."""

    def __init__(self, sessions: Any, catalog: Any, rng: random.Random, pin_budget: int):
        self.sessions, self.catalog, self.rng = sessions, catalog, rng
        self.pins_left = pin_budget  # attempts that may still count towards the total
        self.at_member = 0
        self.beat = 0

    def unlock(self) -> None:
        ack("unlock-begin")
        cleared = self.sessions.access.unlock(by="shell:chaos")
        ack("unlock", cleared.attempts_cleared)

    def login(self) -> bool:
        ack("login-begin")
        self.pins_left -= 1  # a kill during the check leaves this attempt counted
        try:
            self.sessions.login(MEMBER_ID, MEMBER_PIN)
        except StaffAccessError as error:
            ack("refused", f"staff.{type(error).__name__}")
            return False
        self.at_member = 0
        ack("login")
        return True

    def wrong_pin(self, at_member: bool) -> None:
        typed = MEMBER_ID if at_member else str(self.rng.randint(2000000, 9999999))
        self.pins_left -= 1
        try:
            self.sessions.login(typed, "000000")
        except WrongPin:
            if at_member:
                self.at_member += 1
            ack("pin", "member" if at_member else "other")
        except StaffLocked as locked:
            ack("locked", round(locked.seconds_left))
        except StaffUnavailable as error:
            ack("refused", f"staff.unavailable:{type(error).__name__}")

    def step(self) -> None:
        roll = self.rng.random()
        if self.pins_left > 1 and self.at_member < WRONG_AT_MEMBER and roll < 0.35:
            self.wrong_pin(at_member=True)
        elif self.pins_left > 1 and roll < 0.6:
            self.wrong_pin(at_member=False)
        elif self.at_member >= WRONG_AT_MEMBER and self.pins_left > 1:
            self.login()
        elif self.sessions.current is not None:
            entry = self.sessions.record("chaos.beat", beat=self.beat)
            ack("audit", entry.seq, entry.mac)
        self.beat += 1
        self.catalog.update_state(chaos_beat=self.beat)
        ack("catalog", self.beat)

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.step()
                stop.wait(self.rng.uniform(0.0, 0.05))
        except Exception:  # the test reads the log: a failing desk must not hide the payments' lines
            log.exception("chaos.staff_failed")


# ---- payments ----------------------------------------------------------------------------------

def insert_notes(cash: Any, amount_cents: int) -> None:
    """Notes into the simulated validator until the amount is reached (a 20-peso note may overpay)."""
    remaining = amount_cents
    for value in sorted(BILL_KINDS, reverse=True):
        while remaining > 0 and (value <= remaining or value == min(BILL_KINDS)):
            cash.simulator.insert_bill(BILL_KINDS[value])
            remaining -= value


def report(outcome: Any, tx: Any, tally: object) -> None:
    state = outcome.transaction.state if outcome.transaction is not None else ""
    if outcome.ok and state == QUEUED:
        ack("paid", tx.folio, tx.method, outcome.transaction.paid_cents, tally)
    elif state == NEEDS_ATTENDANT:
        ack("attendant", tx.folio, tally)
    elif state == CREATED:
        ack("back", tx.folio)


def pay_once(service: Any, rng: random.Random, catalog: dict[str, Any]) -> None:
    roll = rng.random()
    try:
        if roll < 0.2:
            person = Identity("typed", "Persona de Prueba", "XEXX010101HNEXXXA4")
            tx = service.begin(catalog[CERTIFICATE], "card", person=person,
                               account=("clave_catastral", rng.choice(CARD_ACCOUNTS)))
        elif roll < 0.55:
            bill = service.lookup("clave_catastral", rng.choice(CARD_ACCOUNTS))
            tx = service.begin(Bill(**{**bill.__dict__, "total_cents": rng.randint(1, 9) * 1000,
                                       "paid_up": False}), "card")
        else:
            bill = service.bill_from_reference("numero_contrato_agua", rng.choice(WATER_ACCOUNTS),
                                               rng.randint(3, 12) * 1000, "Agua potable")
            tx = service.begin(bill, "cash")
        ack("created", tx.folio, tx.key, tx.method, tx.amount_cents)
        if tx.method == "card":
            report(_wait(lambda done: service.pay_by_card(tx, done)), tx, "-")
            return
        cash = service._device("cash")
        before = cash.simulator.accepted_cents()

        def start(done: Callable[[Any], None]) -> None:
            service.pay_by_cash(tx, lambda progress: ack("credit", tx.folio, progress.last_cents), done)
            insert_notes(cash, tx.amount_cents)

        outcome = _wait(start)
        report(outcome, tx, cash.simulator.accepted_cents() - before)
    except Refused as refused:
        ack("refused", refused.code)


# ---- the process -------------------------------------------------------------------------------

class Stopwatch:
    """How long each part of the start took ("name=ms" on the started line: the test's figures)."""

    def __init__(self) -> None:
        self.marks: list[str] = []

    def __call__(self, name: str, work: Callable[[], Any]) -> Any:
        began = time.monotonic()
        result = work()
        self.marks.append(f"{name}={round((time.monotonic() - began) * 1000)}")
        return result


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chaos_child")
    parser.add_argument("--config", required=True)
    parser.add_argument("--witness", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pin-budget", type=int, default=0, help="attempts that may count towards the total")
    parser.add_argument("--unlock", action="store_true", help="clear the wrong-PIN counts first")
    parser.add_argument("--settle", type=float, default=0.0, metavar="SECONDS",
                        help="a clean restart: recover, drain for up to SECONDS, stop")
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--wait-go", action="store_true",
                        help="import and open the simulated devices, say 'ready', then wait for one line on "
                             "stdin (more options) before opening any store; end quietly on EOF")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _arguments(argv)
    setup_logging("WARNING", stream=sys.stderr)  # stdout carries the acknowledgements
    limit = threading.Timer(args.max_seconds, lambda: _exit_now(3))  # bounded whatever happens
    limit.daemon = True
    limit.start()
    config = load_config(args.config)
    procedures = {record["id"]: record for record in load_sample()["procedures"]}
    adapters = open_payment_devices()
    if args.wait_go:  # the test starts the next child while it checks the files of the last one
        ack("ready")
        more = sys.stdin.readline()
        if not more:
            return 0
        args = _arguments([*argv, *more.split()])
    rng = random.Random(args.seed)
    took = Stopwatch()
    catalog = took("catalog", lambda: open_catalog(config))
    sessions = took("staff", lambda: open_staff_sessions(config, time.monotonic))
    holder = Holder()
    monitor = took("fleet", lambda: start_fleet_monitor(config, adapters, holder, sessions))
    service = took("transactions", lambda: open_transactions(config, adapters, immediate))
    if service is None:
        print("the transaction service did not open (see the log)", file=sys.stderr)
        return 1
    service.money_hook = _witness(Path(args.witness))
    holder.service = service
    desk = StaffDeskWork(sessions, catalog, rng, args.pin_budget)
    took("member", lambda: member_ready(sessions))
    if args.unlock:
        desk.unlock()
    ack("started", *took.marks)
    if args.settle:
        return _settle(service, monitor, args.settle)
    desk.login()
    stop = threading.Event()
    threading.Thread(target=desk.run, args=(stop,), name="chaos-staff", daemon=True).start()
    beat = 0
    while True:
        pay_once(service, rng, procedures)
        beat += 1
        event(log, "chaos.payment_done", level=logging.WARNING, beat=beat)  # the error log's writer works too
        if beat % 3 == 0:
            monitor.refresh(lambda _report: None)


def _settle(service: Any, monitor: Any, seconds: float) -> int:
    service.submitter.stop()
    drained = service.submitter.drain(seconds)
    counts = service.outbox.counts()
    monitor.stop()
    service.stop()
    ack("settled", json.dumps({"drained": drained, "counts": counts}, sort_keys=True))
    return 0 if drained else 1


def _exit_now(status: int) -> None:
    import os

    print(f"chaos_child: over its time limit, exiting ({status})", file=sys.stderr, flush=True)
    os._exit(status)


if __name__ == "__main__":
    raise SystemExit(main())
