"""The service the screens call: bills, card, cash and certificate flows, offline rules, receipts."""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from devices.pan import mask_card_numbers
from devices.registry import create_adapter
from kiosk.catalog.sample import load_sample
from kiosk.core.config import load_config
from kiosk.sandbox import Fault
from kiosk.transactions import Identity, PaymentOutcome, Refused, TransactionService
from kiosk.transactions.api import ApiClient
from kiosk.transactions.service import new_folio
from offline_cache import outbox as ob
from offline_cache.outbox import Outbox
from tests.transactions.conftest import kiosk, write_config


class Pump:
    """A call_soon that queues callbacks for the test thread, like the Kivy clock would."""

    def __init__(self) -> None:
        self.calls: queue.Queue = queue.Queue()

    def __call__(self, fn: Any) -> None:
        self.calls.put(fn)

    def until(self, done: threading.Event, timeout: float = 15.0) -> None:
        deadline = dt.datetime.now() + dt.timedelta(seconds=timeout)
        while not done.is_set():
            left = (deadline - dt.datetime.now()).total_seconds()
            assert left > 0, "callback never arrived"
            with contextlib.suppress(queue.Empty):
                self.calls.get(timeout=min(left, 0.1))()


def _service(tmp_path: Path, url: str, devices: dict[str, str] | None = None, **settings: Any):
    config = load_config(write_config(tmp_path, url, **settings))
    pump = Pump()
    urls = devices or {"payment": "sim://", "cash": "sim://?poll_ms=10", "printer": "sim://"}
    drivers = {"payment": "transbank", "cash": "cctalk", "printer": "escpos"}
    adapters = {name: create_adapter(name, drivers[name], u, pump) for name, u in urls.items()}
    for adapter in adapters.values():
        adapter.open()
    box = Outbox(config.data_path / "outbox.sqlite", busy_timeout_ms=300)
    service = TransactionService(config, box, ApiClient(url, timeout_s=2, connect_timeout_s=0.5), adapters, pump)
    return service, pump, adapters


def _pay_card(service: TransactionService, pump: Pump, tx: Any) -> PaymentOutcome:
    done, box = threading.Event(), []
    service.pay_by_card(tx, lambda outcome: (box.append(outcome), done.set()))
    pump.until(done)
    return box[0]


def test_a_folio_never_passes_for_a_card_number() -> None:
    """A folio the card-number mask would hide cannot be found at the terminal (its echo of the
    ticket comes back masked) nor in filtered logs: such a draw is drawn again."""
    draws = iter(["12345678", "ABCD1234"])  # "261202-12345678": 14 digits that pass Luhn
    folio = new_folio("kiosk-demo-01", dt.date(2026, 12, 2), lambda: next(draws))
    assert folio == "EMO-01-261202-ABCD1234" and mask_card_numbers(folio) == folio
    assert mask_card_numbers("EMO-01-261202-12345678") != "EMO-01-261202-12345678"


def test_lookup_shows_concept_discount_and_card_fee(sandbox, tmp_path: Path) -> None:
    service, _pump, _ = _service(tmp_path, sandbox.url)
    january = service.lookup("clave_catastral", "001-001-001-0001", on=dt.date(dt.date.today().year, 1, 10))
    assert january.amount_cents == 300000 and january.total_cents == 255000
    assert january.discounts[0].percent == 15 and "enero" in january.discounts[0].text
    assert service.lookup("clave_catastral", "001-001-001-0001", on=dt.date(dt.date.today().year, 6, 1)).discounts == ()
    assert service.lookup("clave_catastral", "001-005-001-0007").paid_up
    water = service.lookup("numero_contrato_agua", "AGU-100234")
    assert water.card_fee_cents == 535 and water.due_date
    with pytest.raises(Refused) as refused:
        service.lookup("clave_catastral", "999-999")
    assert refused.value.code == "account.not_found"
    with pytest.raises(Refused) as paid_up:
        service.begin(service.lookup("clave_catastral", "001-005-001-0007"), "card")
    assert paid_up.value.code == "bill.paid_up"


def test_card_payment_end_to_end(sandbox, tmp_path: Path) -> None:
    service, pump, _ = _service(tmp_path, sandbox.url)
    bill = service.lookup("numero_contrato_agua", "AGU-100991")
    tx = service.begin(bill, "card")
    assert tx.state == ob.CREATED and tx.amount_cents == bill.total_cents + bill.card_fee_cents
    outcome = _pay_card(service, pump, tx)
    assert outcome.ok and outcome.state == ob.QUEUED
    provisional = service.receipt(tx)
    assert provisional.verification.startswith("KR1.") and "**** 4242" in provisional.payment_method
    assert service.submitter.drain(10)
    confirmed = service.receipt(tx)
    assert confirmed.verification.endswith(tx.folio) and confirmed.amount_cents == tx.amount_cents
    assert confirmed.issued_at == provisional.issued_at and confirmed.procedure == "Pago del recibo de agua"
    assert requests.get(sandbox.url + "/v1/accounts/numero_contrato_agua/AGU-100991", timeout=5).json()["paid_up"]
    states = [h[1] for h in service.outbox.history(tx.key)]
    assert states == ["created", "paying", "paid", "queued", "submitted", "confirmed"]


def test_declined_card_returns_to_created_and_takes_nothing(sandbox, tmp_path: Path) -> None:
    service, pump, _ = _service(tmp_path, sandbox.url, {"payment": "sim://?result=declined", "printer": "sim://"})
    tx = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    outcome = _pay_card(service, pump, tx)
    assert not outcome.ok and outcome.state == ob.CREATED and outcome.reason == "payment.declined"
    assert service.outbox.pending_count() == 0


def test_lost_card_answer_goes_to_an_attendant(sandbox, tmp_path: Path) -> None:
    service, pump, _ = _service(tmp_path, sandbox.url, {"payment": "sim://?result=timeout&sale_timeout=0.3",
                                                        "printer": "sim://"})
    tx = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    outcome = _pay_card(service, pump, tx)
    assert outcome.state == ob.NEEDS_ATTENDANT and "folio" in outcome.text()
    assert [r.key for r in service.attention()] == [tx.key]
    # The attendant finds the sale in the terminal's batch: the payment goes to the API after all.
    service.resolve(tx, "confirm", "staff-07", "venta encontrada en el lote de la terminal")
    assert service.submitter.drain(10) and service.outbox.get(tx.key).state == ob.CONFIRMED
    assert service.outbox.history(tx.key)[-3][3] == "attendant.confirmed_paid:staff-07"
    other = service.begin(service.lookup("clave_catastral", "001-002-003-0002"), "card")
    _pay_card(service, pump, other)
    assert service.resolve(other, "nothing_taken", "staff-07", "").transaction.state == ob.CANCELLED
    assert service.attention() == []


def test_cash_payment_records_each_credit(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    acceptance = service.cash_acceptance()
    assert 50000 in acceptance.denominations_cents
    bill = service.bill_from_reference("numero_contrato_agua", "AGU-100234", 35680, "Agua potable")
    tx = service.begin(bill, "cash")
    done, credits, box = threading.Event(), [], []
    service.pay_by_cash(tx, lambda p: credits.append((p.last_cents, p.inserted_cents)),
                        lambda outcome: (box.append(outcome), done.set()))
    for kind in (4, 4):  # two 200-peso bills
        adapters["cash"].simulator.insert_bill(kind)
    pump.until(done)
    assert credits == [(20000, 20000), (20000, 40000)]
    assert box[0].ok and service.outbox.get(tx.key).payment["change_due_cents"] == 40000 - 35680
    assert service.outbox.credits(tx.key) == [20000, 20000]


def test_cash_cancelled_midway_without_a_hopper_ends_with_a_voucher(sandbox, tmp_path: Path) -> None:
    """No hopper to give the $50 back: a kiosk voucher, printed, in the attendant's list."""
    service, pump, adapters = _service(tmp_path, sandbox.url)
    tx = service.begin(service.bill_from_reference("numero_contrato_agua", "AGU-100234", 35680, "Agua"), "cash")
    got = threading.Event()
    service.pay_by_cash(tx, lambda progress: got.set(), lambda outcome: None)
    adapters["cash"].simulator.insert_bill(2)
    pump.until(got)
    outcome = service.cancel_cash(tx)
    assert outcome.state == ob.CANCELLED and outcome.reason == "cash.refund_voucher"
    assert outcome.extra["owed_cents"] == 5000 and outcome.extra["returned_cents"] == 0
    voucher = service.outbox.voucher(outcome.extra["voucher"])
    assert (voucher.amount_cents, voucher.folio, voucher.attendant) == (5000, tx.folio, "kiosk")
    [item] = service.attention_items()
    assert item.outcomes == ("acknowledge",) and item.voucher == voucher.number and item.refund_cents == 5000
    assert service.acknowledge_voucher(voucher.number, "1042") and service.attention_items() == []
    assert not service.acknowledge_voucher(voucher.number, "1043")  # once


def test_certificate_request_receipt_points_to_the_download(sandbox, tmp_path: Path) -> None:
    service, pump, _ = _service(tmp_path, sandbox.url)
    procedure = next(p for p in load_sample()["procedures"] if p["id"] == "sadv:PRE-004")
    from devices.card_reader import Identity as CardIdentity

    person = Identity.from_card(CardIdentity("Pérez", "Ana", "PEXA800101MDFRRN09"))
    assert person == Identity("id_card", "Ana Pérez", "PEXA800101MDFRRN09")
    tx = service.begin(procedure, "card", person=person, account=("clave_catastral", "001-002-003-0001"),
                       today=dt.date(2026, 6, 1))
    assert tx.kind == "certificate" and tx.amount_cents == 20450
    assert _pay_card(service, pump, tx).ok
    assert service.submitter.drain(10)
    receipt = service.receipt(tx)
    assert "/v1/certificates/" in receipt.verification
    assert requests.get(receipt.verification, timeout=5).text.startswith("CONSTANCIA sadv:PRE-004")
    assert service.outbox.get(tx.key).payload["person"] == {"scrubbed": True}  # no personal data kept


def test_offline_rules_and_signed_provisional_receipt(tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, "http://127.0.0.1:9")
    with pytest.raises(Refused) as lookup:
        service.lookup("clave_catastral", "001-002-003-0001")
    assert lookup.value.code == "network.lookup_needs_network" and "efectivo" in lookup.value.message
    availability = service.availability()
    assert availability.card == "network.card_needs_network" and availability.cash == "ok"
    assert availability.request == "ok" and availability.message(availability.card)
    bill = service.bill_from_reference("numero_contrato_agua", "AGU-100234", 10000, "Agua potable")
    with pytest.raises(Refused):
        service.begin(bill, "card")
    tx = service.begin(bill, "cash")
    done = threading.Event()
    service.pay_by_cash(tx, lambda progress: None, lambda outcome: done.set())
    adapters["cash"].simulator.insert_bill(3)
    pump.until(done)
    payload = service.receipt(tx).verification
    config = str(tmp_path / "kiosk.toml")
    good = kiosk("receipt", "verify", payload, "--config", config)
    assert good.returncode == 0 and tx.folio in good.stdout and "100.00" in good.stdout
    head, body, signature = payload.split(".")
    forged = ".".join([head, body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1], signature])
    bad = kiosk("receipt", "verify", forged, "--config", config)
    assert bad.returncode == 1 and "NOT valid" in bad.stderr
    from kiosk.catalog.signing import generate_keys

    _, stranger = generate_keys(tmp_path / "stranger")
    other_kiosk = kiosk("receipt", "verify", payload, "--public-key", str(stranger))
    assert other_kiosk.returncode == 1 and "another kiosk" in other_kiosk.stderr
    assert service.queue_status()["storage"] == "storage.ok"


def test_printer_not_ready_refuses_before_money(sandbox, tmp_path: Path) -> None:
    service, _pump, _ = _service(tmp_path, sandbox.url, {"payment": "sim://", "printer": "sim://?paper=out"})
    with pytest.raises(Refused) as refused:
        service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    assert refused.value.code == "printer.not_ready"
    assert service.outbox.counts()["created"] == 0


def test_receipt_prints_on_the_simulated_printer(sandbox, tmp_path: Path) -> None:
    service, pump, _ = _service(tmp_path, sandbox.url)
    tx = service.begin(service.lookup("clave_catastral", "001-004-010-0015"), "card")
    assert _pay_card(service, pump, tx).ok
    done, box = threading.Event(), []
    service.print_receipt(tx, lambda result, error: (box.append((result, error)), done.set()))
    pump.until(done)
    result, error = box[0]
    assert error is None and result.completed


@pytest.mark.parametrize("old_folio", [None, "EMO-01-261202-12345678"])
def test_restart_reconciles_a_card_sale_approved_before_the_crash(sandbox, tmp_path: Path, old_folio) -> None:
    """(old_folio: one an earlier version could draw, whose digits pass for a card number; the
    terminal's echo of it comes back masked, and must still be found.)"""
    service, _pump, adapters = _service(tmp_path, sandbox.url)
    if old_folio:
        service._new_folio = lambda: old_folio
    tx = service.begin(service.lookup("clave_catastral", "001-002-003-0002"), "card")
    service.__dict__.pop("_new_folio", None)
    other = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    service.outbox.transition(tx.key, ob.PAYING, "card.sale_started")
    service.outbox.transition(other.key, ob.PAYING, "card.sale_started")
    assert adapters["payment"].sale(tx.amount_cents, tx.folio[-20:]).approved  # ...and the kiosk died here
    restarted = TransactionService(service.config, service.outbox, service.api, adapters)
    recovered = restarted.start()
    restarted.stop()
    assert recovered["reconciled"] == 1 and recovered["needs_attendant"] == 1
    paid = service.outbox.get(tx.key)
    assert paid.state in (ob.QUEUED, ob.SUBMITTED, ob.CONFIRMED)
    assert paid.payment["reconciled"] == "terminal.last_sale" and "**** 4242" in paid.payment["masked_card"]
    assert service.outbox.get(other.key).reason == "restart.payment_outcome_unknown"


def test_the_kiosk_notices_when_the_api_comes_back(sandbox, tmp_path: Path) -> None:
    service, _pump, _ = _service(tmp_path, sandbox.url)
    sandbox.app.inject(Fault(status=503, path_prefix="/v1/health", times=2))
    service.submitter.probe_s = 0.05
    service.online = False  # as after a failed lookup
    assert service.availability().lookup == "network.lookup_needs_network"
    service.start()
    try:
        deadline = time.monotonic() + 5
        while not service.online and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        service.stop()
    assert service.online and service.availability().lookup == "ok"
