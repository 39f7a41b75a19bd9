"""Attendant desk: resolving needs_attendant (confirm / refund voucher / nothing taken), reprints.

Real sandbox on loopback (its ledger is the treasury's view), simulated terminal, acceptor and
printer; printed documents are read back by decoding the ESC/POS bytes the printer received.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk.catalog.signing import parse_public_key
from kiosk.transactions import Printed, Refused, TransactionService
from kiosk.transactions.attendant import explain_item
from kiosk.transactions.receipts import VOUCHER_PREFIX, public_key_path, verify_document
from offline_cache import outbox as ob
from tests.transactions.conftest import kiosk
from tests.transactions.test_service import Pump, _pay_card, _service

NOTE = "Lote de la terminal revisado con supervisora turno matutino"


def ledger(sandbox: Any) -> dict[str, dict[str, Any]]:
    entries = requests.get(sandbox.url + "/v1/sandbox/ledger", timeout=5).json()["transactions"]
    return {entry["idempotency_key"]: entry for entry in entries}


def wait_printed(pump: Pump, start: Callable[[Callable[[Printed], None]], None]) -> Printed:
    done, box = threading.Event(), []
    start(lambda printed: (box.append(printed), done.set()))
    pump.until(done)
    return box[0]


def printed_text(adapters: dict[str, Any]) -> tuple[str, list[str]]:
    decoded = adapters["printer"].simulator.decoded()
    assert decoded.unknown == []
    return " ".join(decoded.lines), list(decoded.qr_codes)


def pay_cash(service: TransactionService, pump: Pump, adapters: dict[str, Any], amount: int,
             inserts: list[tuple[str, int]], ref: str = "AGU-100234", finish: bool = True) -> Any:
    """Insert coins ("coin", position) and bills ("bill", type) one at a time, each credited
    before the next goes in; returns the transaction (refreshed)."""
    tx = service.begin(service.bill_from_reference("numero_contrato_agua", ref, amount, "Agua potable"), "cash")
    credited, done = threading.Event(), threading.Event()
    service.pay_by_cash(tx, lambda progress: credited.set(), lambda outcome: done.set())
    simulator = adapters["cash"].simulator
    for kind, which in inserts:
        credited.clear()
        (simulator.insert_coin if kind == "coin" else simulator.insert_bill)(which)
        pump.until(credited)
    if finish:
        pump.until(done)
    return service.get(tx.key)


def partial_after_restart(service: TransactionService, amount: int, credits: list[tuple[str, int]]) -> Any:
    """Cash credits recorded, then the kiosk restarted before the payment ended: the recovery
    hands the transaction to an attendant with what was inserted (restart.partial_cash)."""
    box = service.outbox
    tx = box.create("payment", amount, folio=f"PARTIAL-{len(box.all()) + 1}", method="cash",
                    account=("numero_contrato_agua", "AGU-100234"), payload={"kind": "payment"})
    box.transition(tx.key, ob.PAYING, "cash.accepting")
    for kind, cents in credits:
        box.add_credit(tx.key, cents, kind)
    box.recover()
    return box.get(tx.key)


def unknown_card_outcome(tmp_path: Path, sandbox: Any) -> tuple[TransactionService, Pump, dict[str, Any], Any]:
    """A card sale whose outcome the terminal never reported (the attendant then checks its batch)."""
    service, pump, adapters = _service(tmp_path, sandbox.url, {
        "payment": "sim://?result=timeout&sale_timeout=0.3", "printer": "sim://", "cash": "sim://?poll_ms=10"})
    tx = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    outcome = _pay_card(service, pump, tx)
    assert outcome.state == ob.NEEDS_ATTENDANT and outcome.reason == "card.outcome_unknown"
    return service, pump, adapters, service.get(tx.key)


def test_confirmed_unknown_card_sale_is_applied_exactly_once(sandbox, tmp_path: Path, caplog) -> None:
    service, _pump, _adapters, tx = unknown_card_outcome(tmp_path, sandbox)
    [item] = service.attention_items()
    assert (item.folio, item.method, item.reason, item.amount_cents) == (tx.folio, "card", "card.outcome_unknown",
                                                                         245000)
    assert item.outcomes == ("confirm", "refund", "nothing_taken") and "terminal" in explain_item(item)
    assert tx.key not in ledger(sandbox)  # nothing reached the treasury yet

    caplog.set_level(logging.INFO)
    resolution = service.resolve(tx, "confirm", "1042", NOTE)
    assert resolution.transaction.state == ob.QUEUED and resolution.voucher is None
    assert service.submitter.drain(10)
    assert service.get(tx.key).state == ob.CONFIRMED
    with pytest.raises(Refused) as again:
        service.resolve(tx, "confirm", "1042", NOTE)
    assert again.value.code == "attendant.not_in_attention"
    assert service.submitter.drain(2)
    entry = ledger(sandbox)[tx.key]
    assert (entry["applied"], entry["received"], entry["amount_cents"]) == (1, 1, 245000)  # exactly once
    steps = [(before, after, reason) for before, after, _at, reason in service.outbox.history(tx.key)]
    assert steps[-3:] == [("needs_attendant", "queued", "attendant.confirmed_paid:1042"),
                          ("queued", "submitted", "submit.sent"), ("submitted", "confirmed", "api.applied")]
    assert service.outbox.resolutions(tx.key)[0][:3] == ("confirm", "1042", NOTE)
    assert service.receipt(service.get(tx.key)).payment_method == "Tarjeta"
    logged = " ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert "attendant.resolved" in logged and "turno matutino" not in logged  # the note is never logged


def test_nothing_taken_cancels_and_the_treasury_sees_nothing(sandbox, tmp_path: Path) -> None:
    service, _pump, _adapters, tx = unknown_card_outcome(tmp_path, sandbox)
    done = service.resolve(tx, "nothing_taken", "1042", "")  # a note is optional here
    assert done.transaction.state == ob.CANCELLED and done.transaction.reason == "attendant.nothing_taken:1042"
    assert service.submitter.drain(2) and tx.key not in ledger(sandbox)
    with pytest.raises(Refused) as twice:
        service.resolve(tx, "refund", "1042", NOTE)
    assert twice.value.code == "attendant.not_in_attention" and service.outbox.vouchers() == []


def test_notes_staff_ids_and_other_states_are_checked(sandbox, tmp_path: Path) -> None:
    service, pump, adapters, tx = unknown_card_outcome(tmp_path, sandbox)
    refusals = {
        "attendant.note_required": ("confirm", "1042", " \t\n"),
        "attendant.note_too_long": ("confirm", "1042", "x" * 201),
        "attendant.note_personal_data": ("refund", "1042", "tarjeta 4111 1111 1111 1111"),
        "attendant.staff_id": ("confirm", "staff 7; DROP", NOTE),
    }
    for code, (outcome, staff, note) in refusals.items():
        with pytest.raises(Refused) as refused:
            service.resolve(tx, outcome, staff, note)
        assert refused.value.code == code and refused.value.message
    for personal in ("correo ana.perez@example.com", "CURP PEXA800101MDFRRN09"):
        with pytest.raises(Refused):
            service.resolve(tx, "confirm", "1042", personal)
    with pytest.raises(ValueError):
        service.resolve(tx, "maybe", "1042", NOTE)
    assert service.get(tx.key).state == ob.NEEDS_ATTENDANT and service.outbox.resolutions(tx.key) == []
    paid = pay_cash(service, pump, adapters, 2000, [("bill", 1)])
    assert paid.state == ob.QUEUED
    with pytest.raises(Refused) as not_waiting:
        service.resolve(paid, "confirm", "1042", NOTE)
    assert not_waiting.value.code == "attendant.not_in_attention"
    # control characters go, the words stay
    service.resolve(tx, "confirm", "1042", "revisado\x1b[2J en\x00 terminal\u200b")
    assert service.outbox.resolutions(tx.key)[0][2] == "revisado [2J en terminal"


def test_refund_voucher_is_recorded_printed_signed_and_counted(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    tx = partial_after_restart(service, 35680, [("bill", 5000), ("coin", 1000)])  # $50 + $10
    assert tx.state == ob.NEEDS_ATTENDANT and tx.reason == "restart.partial_cash:6000"
    [item] = service.attention_items()
    assert item.outcomes == ("refund",) and item.refund_cents == 6000
    assert item.blocked == {"confirm": "attendant.partial_cash", "nothing_taken": "attendant.money_recorded"}
    with pytest.raises(Refused) as partial:
        service.resolve(tx, "confirm", "1042", NOTE)
    assert partial.value.code == "attendant.partial_cash"

    adapters["printer"].simulator.forget_output()
    done, box = threading.Event(), []
    resolution = service.resolve(tx, "refund", "1042", "Ciudadano desistió del pago",
                                 on_printed=lambda printed: (box.append(printed), done.set()))
    voucher = resolution.voucher
    assert voucher is not None and voucher.amount_cents == 6000 and voucher.folio == tx.folio
    assert voucher.method == "cash" and voucher.attendant == "1042" and voucher.number.endswith("-V000001")
    assert resolution.transaction.state == ob.CANCELLED
    assert resolution.transaction.reason == f"attendant.refunded:{voucher.number}:1042"
    assert service.outbox.voucher(voucher.number).note == "Ciudadano desistió del pago"
    pump.until(done)
    assert box[0].ok and box[0].copies == 2 and box[0].document == voucher.number

    text, qr_codes = printed_text(adapters)
    for expected in (voucher.number, tx.folio, "$60.00", "COPIA PARA EL CIUDADANO", "COPIA PARA CAJA"):
        assert expected in text
    assert text.count(voucher.number) == 2 and len(qr_codes) == 2 and qr_codes[0] == qr_codes[1]
    public = parse_public_key(str(public_key_path(service.config.data_path)))
    prefix, payload = verify_document(qr_codes[0], public)
    assert prefix == VOUCHER_PREFIX and (payload["v"], payload["f"], payload["a"]) == (voucher.number, tx.folio, 6000)
    checked = kiosk("receipt", "verify", qr_codes[0], "--config", str(tmp_path / "kiosk.toml"))
    assert checked.returncode == 0 and "refund voucher valid" in checked.stdout and voucher.number in checked.stdout

    totals = service.cash_totals()
    assert (totals.received_cents, totals.refunds_cents, totals.net_cents) == (6000, 6000, 0)
    assert totals.expected_in_box_cents == 6000  # the cash stays in the box until the cash office pays it
    reprinted = wait_printed(pump, lambda on_done: service.print_voucher(voucher.number, on_done))
    assert reprinted.ok and "REIMPRESIÓN" in printed_text(adapters)[0]


def test_a_payment_the_api_refused_can_only_be_refunded(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    tx = pay_cash(service, pump, adapters, 2000, [("bill", 1)], ref="AGU-NO-EXISTE")
    assert service.submitter.drain(10)
    record = service.get(tx.key)
    assert record.state == ob.NEEDS_ATTENDANT and record.reason.startswith("api.rejected:422")
    [item] = service.attention_items()
    assert item.outcomes == ("refund",) and item.blocked["confirm"] == "attendant.api_refused"
    with pytest.raises(Refused) as refused:
        service.resolve(record, "confirm", "1042", NOTE)
    assert refused.value.code == "attendant.api_refused"
    refund = service.resolve(record, "refund", "1042", "La tesorería no reconoce el contrato")
    assert refund.voucher is not None and refund.voucher.amount_cents == 2000
    assert ledger(sandbox)[tx.key]["applied"] == 0


def test_reprint_last_receipt_and_by_folio_are_marked_as_copies(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    assert service.last_receipt() is None
    nothing = wait_printed(pump, service.reprint_last)
    assert not nothing.ok and nothing.reason == "attendant.no_receipt" and nothing.message
    first = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    second = service.begin(service.lookup("numero_contrato_agua", "AGU-100991"), "card")
    assert _pay_card(service, pump, first).ok and _pay_card(service, pump, second).ok
    declined = service.begin(service.lookup("clave_catastral", "001-004-010-0015"), "cash")
    service.cancel(declined)  # no receipt: never the "last receipt"
    assert service.last_receipt().folio == second.folio

    adapters["printer"].simulator.forget_output()
    printed = wait_printed(pump, service.reprint_last)
    assert printed.ok and printed.document == second.folio
    text, qr_codes = printed_text(adapters)
    assert "*** COPIA / REIMPRESIÓN ***" in text and f"Folio: {second.folio}" in text and first.folio not in text
    assert qr_codes and qr_codes[0].startswith("KR1.")  # not yet confirmed: the signed provisional payload

    assert service.submitter.drain(10)
    adapters["printer"].simulator.forget_output()
    by_folio = wait_printed(pump, lambda on_done: service.reprint(first.folio, on_done))
    text, qr_codes = printed_text(adapters)
    assert by_folio.ok and f"Folio: {first.folio}" in text and "COPIA" in text and qr_codes[0].endswith(first.folio)
    adapters["printer"].simulator.forget_output()
    blocking = service.reprint_last()  # no callback: prints in this (worker) thread and returns
    assert blocking.ok and blocking.document == second.folio and "COPIA" in printed_text(adapters)[0]
    unknown = wait_printed(pump, lambda on_done: service.reprint("NO-EXISTE", on_done))
    assert unknown.reason == "attendant.unknown_folio"
    no_receipt = wait_printed(pump, lambda on_done: service.reprint(declined.folio, on_done))
    assert no_receipt.reason == "attendant.no_receipt_for_folio"


def test_reprint_reports_a_printer_without_paper(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    tx = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    assert _pay_card(service, pump, tx).ok
    adapters["printer"].simulator.paper = "out"
    printed = wait_printed(pump, service.reprint_last)
    assert not printed.ok and printed.reason == "printer.paper_out" and printed.copies == 0 and printed.message


def test_attendants_read_reason_codes_as_sentences_with_their_figures():
    from kiosk.core.i18n import Translator
    from kiosk.transactions.attendant import explain

    english = Translator("en").gettext
    assert explain("cash.partial_refund_due:5000") == ("Se recibieron $50.00 en efectivo sin completar el importe: "
                                                       "hay que devolverlos.")
    assert "$20.00" in explain("restart.cash_unread:2000:3") and "3 billetes" in explain("restart.cash_unread:2000:3")
    assert "$15.00" in explain("restart.cash_unread:1500:unknown")
    assert "did not answer in time" in explain("card.device_error:payment.timeout", english)
    assert "cash.partial_refund_due" not in explain("cash.partial_refund_due:5000", english)
    assert explain("vendor.surprise:7") == "Requiere revisión de un asesor (motivo: vendor.surprise:7)."
