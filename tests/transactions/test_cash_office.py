"""Cash office: totals since the last collection, collections, their receipts, and the schema
upgrade that brought them (real SQLite files, the ccTalk simulator, the simulated printer)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from kiosk.catalog.signing import parse_public_key
from kiosk.transactions import Refused
from kiosk.transactions.cash_office import Denomination
from kiosk.transactions.receipts import COLLECTION_PREFIX, public_key_path, verify_document
from offline_cache import outbox as ob
from offline_cache.outbox import Outbox
from tests.devices.conftest import wait_until
from tests.transactions.conftest import kiosk, write_config
from tests.transactions.test_attendant import pay_cash, printed_text, wait_printed
from tests.transactions.test_service import _service


def test_totals_by_denomination_collection_receipt_and_a_fresh_period(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    assert service.cash_totals().empty and service.cash_totals().period_start is None
    # $356.80 with two $200 bills (change $43.20); $150 exactly with a $100 bill, a $20 bill,
    # a $20 coin and a $10 coin; $50 inserted and then refunded with a voucher.
    pay_cash(service, pump, adapters, 35680, [("bill", 4), ("bill", 4)])
    pay_cash(service, pump, adapters, 15000, [("bill", 3), ("bill", 1), ("coin", 6), ("coin", 5)], ref="AGU-100991")
    partial = pay_cash(service, pump, adapters, 35680, [("bill", 2)], finish=False)
    voucher = service.outbox.voucher(service.cancel_cash(partial).extra["voucher"])  # no hopper: a voucher

    totals = service.cash_totals()
    assert (totals.transactions, totals.received_cents, totals.change_due_cents) == (3, 60000, 4320)
    assert totals.denominations == (Denomination("bill", 20000, 2), Denomination("bill", 10000, 1),
                                    Denomination("bill", 5000, 1), Denomination("bill", 2000, 1),
                                    Denomination("coin", 2000, 1), Denomination("coin", 1000, 1))
    assert sum(d.total_cents for d in totals.denominations) == totals.received_cents
    # No hopper here: the $43.20 change went on a change voucher; the cancelled $50 on a refund voucher.
    assert [(v.purpose, v.amount_cents) for v in totals.vouchers] == [("change", 4320), ("refund", 5000)]
    assert totals.vouchers[-1].number == voucher.number and totals.refunds_cents == 5000
    assert totals.change_owed_cents == 4320 and totals.change_paid_cents == 0
    assert totals.expected_in_box_cents == 60000 and totals.net_cents == 60000 - 4320 - 5000
    assert totals.device is not None and totals.device.matches and totals.device.device_cents == 60000
    assert totals.since_collection == 0 and totals.period_start is not None
    shown = totals.describe()  # what the cash dialog shows
    assert "Efectivo recibido\n  Billete $200.00 x 2 = $400.00" in shown and "Neto para tesorería: $506.80" in shown
    english = {"Total recibido: {amount}": "Total received: {amount}"}
    assert "Total received: $600.00" in totals.describe(lambda text: english.get(text, text))

    # The refund voucher's two copies print on their own thread: on paper before the collection's
    # receipt is read (on a loaded machine they came after).
    assert wait_until(lambda: printed_text(adapters)[0].count(f"Vale No. {voucher.number}") == 2, timeout=15)
    adapters["printer"].simulator.forget_output()
    done, box = threading.Event(), []
    collection = service.collect_cash("1042", "Corte vespertino",
                                      on_printed=lambda printed: (box.append(printed), done.set()))
    assert collection.number == 1 and collection.totals.received_cents == 60000 and collection.attendant == "1042"
    pump.until(done)
    assert box[0].ok and box[0].copies == 2
    text, qr_codes = printed_text(adapters)
    for expected in ("Recolección de efectivo No. 000001", "Billete $200.00 x 2 = $400.00",
                     "Moneda $20.00 x 1 = $20.00", "Billete $20.00 x 1 = $20.00", "Total recibido: $600.00",
                     "Cambio por entregar: $43.20", voucher.number, "Esperado en caja: $600.00",
                     "Neto para tesorería: $506.80", "COINCIDE", "Asesor: 1042", "Nota: Corte vespertino",
                     "COPIA PARA QUIEN RECOLECTA", "COPIA PARA TESORERÍA"):
        assert expected in text, expected
    assert text.count("Total recibido: $600.00") == 2 and len(qr_codes) == 2
    prefix, payload = verify_document(qr_codes[0], parse_public_key(str(public_key_path(service.config.data_path))))
    assert prefix == COLLECTION_PREFIX and (payload["n"], payload["r"], payload["e"]) == (1, 60000, 60000)

    fresh = service.cash_totals()
    assert fresh.empty and fresh.received_cents == 0 and fresh.vouchers == () and fresh.since_collection == 1
    assert fresh.period_start == collection.at
    with pytest.raises(Refused) as double_tap:
        service.collect_cash("1042")
    assert double_tap.value.code == "cash.nothing_to_collect"
    assert [c.number for c in service.collections()] == [1]

    pay_cash(service, pump, adapters, 5000, [("bill", 2)], ref="AGU-200017")
    later = service.cash_totals()
    assert (later.received_cents, later.transactions, later.change_due_cents) == (5000, 1, 0)
    assert service.collect_cash("1042").number == 2
    assert service.collections()[0].totals.received_cents == 5000


def test_a_credit_the_kiosk_did_not_record_is_flagged(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    pay_cash(service, pump, adapters, 2000, [("bill", 1)])
    assert service.cash_totals().device.matches
    adapters["cash"].total_cents += 5000  # the acceptor stacked a $50 bill no transaction recorded
    check = service.cash_totals().device
    assert not check.matches and (check.device_cents, check.recorded_cents) == (7000, 2000)
    adapters["printer"].simulator.forget_output()
    done = threading.Event()
    assert not service.collect_cash("1042", on_printed=lambda printed: done.set()).totals.device.matches
    pump.until(done)
    assert "NO COINCIDE" in printed_text(adapters)[0]
    reprinted = wait_printed(pump, lambda on_done: service.print_collection(1, on_done))
    assert reprinted.ok and "(REIMPRESIÓN)" in printed_text(adapters)[0]


def test_prune_keeps_cash_until_it_is_collected(tmp_path: Path) -> None:
    now = [1000.0]
    box = Outbox(tmp_path / "outbox.sqlite", clock=lambda: now[0])
    record = box.create("payment", 3000, folio="P1", method="cash")
    box.transition(record.key, ob.PAYING)
    box.add_credit(record.key, 2000, "bill")
    box.add_credit(record.key, 1000, "coin")
    for state in (ob.PAID, ob.QUEUED, ob.SUBMITTED, ob.CONFIRMED):
        box.transition(record.key, state)
    partial = box.create("payment", 3000, folio="P2", method="cash")
    box.transition(partial.key, ob.PAYING)
    box.add_credit(partial.key, 500, "coin")
    box.transition(partial.key, ob.NEEDS_ATTENDANT, "cash.partial_refund_due:500")
    box.resolve(partial.key, ob.CANCELLED, "attendant.refunded:{voucher}:1042", outcome="refund", attendant="1042",
                note="", voucher=("K-V", 500, "cash"))
    now[0] = 10_000.0
    assert box.prune(before=5000) == 0  # confirmed and cancelled long ago, but the cash is still in the box
    assert box.cash_ledger().credits and len(box.vouchers()) == 1
    assert box.record_collection("1042", "", lambda ledger: {"received": sum(c.cents for c in ledger.credits)})
    assert box.prune(before=5000) == 2 and box.vouchers() == [] and box.all() == []
    assert box.collections()[0].totals == {"received": 3500}


def test_an_outbox_from_before_versioning_is_upgraded_in_one_commit(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "outbox.sqlite"
    old = sqlite3.connect(path)
    old.executescript(ob.SCHEMA)  # the version-1 schema, user_version 0, credits without a kind
    old.execute("INSERT INTO transactions (key, folio, kind, amount_cents, method, state, created_at, updated_at)"
                " VALUES ('k1', 'OLD-1', 'payment', 500, 'cash', 'paying', 1, 1)")
    old.execute("INSERT INTO credits (seq, cents, at) VALUES (1, 500, 1)")
    old.commit()
    old.close()

    # An upgrade that fails half-way leaves the old schema exactly as it was.
    broken = (*ob.MIGRATIONS[2], "CREATE TABLE collections (x)")  # collides with the step before it
    monkeypatch.setitem(ob.MIGRATIONS, 2, broken)
    assert Outbox(path).last_error is not None
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == 0
    assert "kind" not in [row[1] for row in check.execute("PRAGMA table_info(credits)")]
    assert check.execute("SELECT name FROM sqlite_master WHERE name='vouchers'").fetchone() is None
    check.close()

    monkeypatch.undo()
    box = Outbox(path)
    assert box.last_error is None
    assert box._read("PRAGMA user_version")[0][0] == ob.SCHEMA_VERSION
    [credit] = box.cash_ledger().credits
    assert (credit.folio, credit.cents, credit.kind) == ("OLD-1", 500, "")
    box.add_credit("k1", 1000, "coin")
    assert [c.kind for c in box.cash_ledger().credits] == ["", "coin"]
    box.close()
    reopened = Outbox(path)  # a current file opens as it is
    assert reopened.get("k1").paid_cents == 1000 and reopened._read("PRAGMA user_version")[0][0] == ob.SCHEMA_VERSION


def test_cli_lists_attention_and_cash_totals_without_personal_data(sandbox, tmp_path: Path) -> None:
    service, pump, adapters = _service(tmp_path, sandbox.url)
    pay_cash(service, pump, adapters, 35680, [("bill", 4), ("bill", 4)])
    partial = pay_cash(service, pump, adapters, 35680, [("bill", 2)], ref="AGU-100991", finish=False)
    voucher = service.cancel_cash(partial).extra["voucher"]
    config = str(write_config(tmp_path, sandbox.url))

    listed = kiosk("queue", "attention", "--json", "--config", config)
    assert listed.returncode == 0, listed.stderr
    change, item = json.loads(listed.stdout)["attention"]  # no hopper: the $43.20 change is on a voucher too
    assert (change["refund_cents"], change["outcomes"]) == (4320, ["acknowledge"])
    assert (item["folio"], item["reason"], item["refund_cents"], item["outcomes"], item["voucher"]) == (
        partial.folio, f"cash.voucher_issued:{voucher}", 5000, ["acknowledge"], voucher)
    assert "AGU-100991" not in listed.stdout and "account" not in listed.stdout
    text = kiosk("queue", "attention", "--config", config)
    assert text.returncode == 0 and partial.folio in text.stdout and "cash.voucher_issued" in text.stdout

    totals = kiosk("cash", "totals", "--json", "--config", config)
    assert totals.returncode == 0, totals.stderr
    shown = json.loads(totals.stdout)
    assert (shown["received_cents"], shown["change_due_cents"], shown["transactions"]) == (45000, 4320, 2)
    assert shown["device"] is None  # the acceptor's counter lives in the running kiosk
    plain = kiosk("cash", "totals", "--config", config)
    assert plain.returncode == 0 and "Total recibido: $450.00" in plain.stdout
    usage = kiosk("cash", "--config", config)
    assert usage.returncode == 2
