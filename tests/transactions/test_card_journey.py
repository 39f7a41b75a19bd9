"""Card: declined says declined (nothing charged, another way to pay); "Cancelar" while the terminal
waits stops the sale and, when the terminal approved it meanwhile, cancels it there (1200) before
the outcome arrives; an unknown outcome goes to a person with the folio. Simulated Transbank
terminal (the adapter's real framing), real outbox and sandbox."""

from __future__ import annotations

import threading
from pathlib import Path

from offline_cache import outbox as ob
from tests.transactions.test_service import _pay_card, _service


def _card_service(tmp_path: Path, url: str, terminal: str):
    return _service(tmp_path, url, devices={"payment": terminal, "printer": "sim://", "cash": "sim://"})


def _pay_and_cancel(service, pump, tx, after_s: float = 0.3):
    done, box = threading.Event(), []
    service.pay_by_card(tx, lambda outcome: (box.append(outcome), done.set()))
    threading.Timer(after_s, service.cancel_card, args=(tx,)).start()
    pump.until(done, timeout=20)
    return box[0]


def test_a_declined_card_says_so_and_leaves_nothing_charged(sandbox, tmp_path: Path) -> None:
    service, pump, _ = _card_service(tmp_path, sandbox.url, "sim://?result=declined")
    tx = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    outcome = _pay_card(service, pump, tx)
    assert not outcome.ok and not outcome.needs_person and outcome.reason == "payment.declined"
    assert service.get(tx.key).state == ob.CREATED  # may be paid another way


def test_cancel_while_the_terminal_waits_stops_the_sale(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _card_service(tmp_path, sandbox.url, "sim://?result=timeout&sale_timeout=60")
    tx = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    outcome = _pay_and_cancel(service, pump, tx)
    assert not outcome.ok and not outcome.needs_person and outcome.reason == "payment.cancelled"
    assert service.get(tx.key).state == ob.CREATED
    requests = [r[0] for r in adapters["payment"].simulator.requests]
    assert requests[-1] == "0250" and "1200" not in requests  # asked, nothing to cancel


def test_a_sale_approved_at_the_moment_of_cancel_is_cancelled_at_the_terminal(sandbox, tmp_path: Path) -> None:
    """The terminal approved, but its answer did not reach the kiosk before "Cancelar"."""
    service, pump, adapters = _card_service(tmp_path, sandbox.url, "sim://?result=lost_answer&sale_timeout=60")
    tx = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    outcome = _pay_and_cancel(service, pump, tx)
    assert not outcome.ok and not outcome.needs_person and outcome.reason == "payment.cancelled"
    requests = [r[0] for r in adapters["payment"].simulator.requests]
    assert requests[-2:] == ["0250", "1200"]  # found approved, cancelled at the terminal
    assert service.get(tx.key).state == ob.CREATED


def test_an_unknown_outcome_goes_to_a_person_with_a_slip(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _card_service(tmp_path, sandbox.url, "sim://?result=timeout&sale_timeout=0.3")
    tx = service.begin(service.lookup("clave_catastral", "001-002-003-0001"), "card")
    outcome = _pay_card(service, pump, tx)
    assert outcome.needs_person and tx.folio in outcome.text()
    printed = service.print_slip(tx, on_done=None)
    assert printed.ok
    text = " ".join(adapters["printer"].simulator.decoded().lines)
    assert tx.folio in text and "Pago por verificar" in text
    assert tx.folio in {item.folio for item in service.attention_items()}
