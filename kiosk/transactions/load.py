"""`kiosk load`: scripted transactions, headless, through the same service the screens use.

Simulated devices (sim:// terminal, cash and printer) whatever the configuration says; the API
is the configured one (the sandbox in tests). A run first settles what a killed run left behind
(`TransactionService.start` → `Outbox.recover`), then performs N transactions (card payments of
property tax, cash payments of water bills, certificate requests), then drains the queue. It
can be killed at any instant and run again. `witness` (tests) is a file where each amount of
money taken is appended the moment the simulated device takes it: the bank's view of the truth.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from devices.registry import create_adapter
from kiosk.transactions.service import Bill, Identity, PaymentOutcome, Refused, TransactionService

CARD_ACCOUNTS = ("001-002-003-0001", "001-002-003-0002", "001-004-010-0015", "001-001-001-0001")
WATER_ACCOUNTS = ("AGU-100234", "AGU-100991")
CERTIFICATE = "sadv:PRE-004"
BILL_KINDS = {2000: 1, 5000: 2, 10000: 3, 20000: 4, 50000: 5}  # sim bill validator kind per value


def open_sim_devices() -> dict[str, Any]:
    adapters = {"payment": create_adapter("payment", "transbank", "sim://"),
                "cash": create_adapter("cash", "cctalk", "sim://?poll_ms=10"),
                "printer": create_adapter("printer", "escpos", "sim://")}
    for adapter in adapters.values():
        adapter.open()
    return adapters


def _witness(path: Path | None) -> Any:
    if path is None:
        return None
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def hook(folio: str, cents: int) -> None:
        os.write(descriptor, f"{folio} {cents}\n".encode())  # one write(2): survives SIGKILL whole

    return hook


def _wait(start: Any, timeout_s: float = 30.0) -> PaymentOutcome:
    done = threading.Event()
    box: list[PaymentOutcome] = []

    def on_done(outcome: PaymentOutcome) -> None:
        box.append(outcome)
        done.set()

    start(on_done)
    if not done.wait(timeout_s):
        raise TimeoutError("the device never answered")
    return box[0]


def one_transaction(service: TransactionService, rng: random.Random, catalog: dict[str, Any]) -> str:
    roll = rng.random()
    try:
        if roll < 0.15:
            person = Identity("typed", "Persona de Prueba", "XEXX010101HNEXXXA4")
            tx = service.begin(catalog[CERTIFICATE], "card", person=person,
                               account=("clave_catastral", rng.choice(CARD_ACCOUNTS)))
            return _wait(lambda done: service.pay_by_card(tx, done)).state
        if roll < 0.75:
            bill = service.lookup("clave_catastral", rng.choice(CARD_ACCOUNTS))
            # Small instalments, so that a long run never pays an account off.
            bill = Bill(**{**bill.__dict__, "total_cents": rng.randint(1, 9) * 1000, "paid_up": False})
            tx = service.begin(bill, "card")
            return _wait(lambda done: service.pay_by_card(tx, done)).state
        ref = rng.choice(WATER_ACCOUNTS)
        try:
            bill = service.lookup("numero_contrato_agua", ref)
            bill = Bill(**{**bill.__dict__, "total_cents": rng.randint(5, 30) * 1000, "paid_up": False})
        except Refused:  # offline: cash against the printed bill's reference
            bill = service.bill_from_reference("numero_contrato_agua", ref, rng.randint(5, 30) * 1000, "Agua potable")
        tx = service.begin(bill, "cash")
        return _wait(lambda done: _pay_cash(service, tx, done)).state
    except Refused as refused:
        return refused.code


def _pay_cash(service: TransactionService, tx: Any, done: Any) -> None:
    cash = service._device("cash")
    service.pay_by_cash(tx, lambda progress: None, done)
    remaining = tx.amount_cents
    for value in sorted(BILL_KINDS, reverse=True):
        while remaining > 0 and (value <= remaining or value == 2000):
            cash.simulator.insert_bill(BILL_KINDS[value])
            remaining -= value


def run_load(config: Any, transactions: int, seed: int, drain_timeout_s: float = 60.0,
             witness: Path | None = None, announce: bool = False) -> dict[str, Any]:
    from kiosk.catalog.sample import load_sample
    from kiosk.transactions.api import ApiClient
    from offline_cache.outbox import Outbox

    settings = config.transactions
    outbox = Outbox(config.data_path / "outbox.sqlite", busy_timeout_ms=settings.busy_timeout_ms,
                    min_free_bytes=int(settings.min_free_mb * 1024 * 1024))
    api = ApiClient(config.api.base_url, timeout_s=config.api.timeout_s,
                    connect_timeout_s=config.api.connect_timeout_s)
    adapters = open_sim_devices()
    service = TransactionService(config, outbox, api, adapters, money_hook=_witness(witness))
    catalog = {record["id"]: record for record in load_sample()["procedures"]}
    rng = random.Random(seed)
    started = time.monotonic()
    outcomes: dict[str, int] = {}
    try:
        recovered = service.start()
        if announce:  # tests time their kill from here, not from interpreter start-up
            print("started", flush=True)
        for _ in range(transactions):
            state = one_transaction(service, rng, catalog)
            outcomes[state] = outcomes.get(state, 0) + 1
        service.submitter.stop()
        drained = service.submitter.drain(drain_timeout_s)
    finally:
        service.stop()
        for adapter in adapters.values():
            adapter.close()
        api.close()
    return {"recovered": recovered, "outcomes": outcomes, "drained": drained,
            "counts": outbox.counts(), "seconds": round(time.monotonic() - started, 3)}
