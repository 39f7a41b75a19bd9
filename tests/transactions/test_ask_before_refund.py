"""Ask before refunding: a refusal that comes back after an intermediary forwarded the POST (the
API applied it) must not become a refund, which would move the money twice. The kiosk asks the API
(GET /v1/transactions/{key}) what it did with the key: applied -> confirmed with the API's answer;
never stored, or stored as a refusal -> the attendant may refund; no answer -> no refund yet."""

from __future__ import annotations

from pathlib import Path

import requests

from kiosk.sandbox import Fault
from kiosk.transactions.api import ApiClient
from kiosk.transactions.submitter import Submitter
from offline_cache import outbox as ob
from offline_cache.outbox import Outbox
from tests.transactions.faultproxy import FaultProxy


def _paid(box: Outbox, folio: str, body: dict) -> str:
    record = box.create("payment", body["amount_cents"], folio=folio, payload=body, method="card",
                        account=(body["account"]["kind"], body["account"]["ref"]))
    box.transition(record.key, ob.PAYING)
    box.transition(record.key, ob.PAID, payment={"method": "card", "masked_card": "VISA **** 4242"},
                   paid_cents=body["amount_cents"])
    box.transition(record.key, ob.QUEUED)
    return record.key


def _body(folio: str, ref: str = "001-002-003-0001") -> dict:
    return {"kind": "payment", "folio": folio, "amount_cents": 1500, "account": {"kind": "clave_catastral",
                                                                                  "ref": ref}}


def test_a_refusal_after_the_api_applied_the_payment_confirms_it(sandbox, tmp_path: Path) -> None:
    proxy = FaultProxy(int(sandbox.url.rsplit(":", 1)[1]), faults={"refuse_after": 1}).start()
    try:
        box = Outbox(tmp_path / "o.sqlite")
        key = _paid(box, "R1", _body("R1"))
        submitter = Submitter(box, ApiClient(proxy.url, timeout_s=3), base_s=0.01, cap_s=0.05)
        for _ in range(10):
            submitter.run_once()
            if box.get(key).state not in ob.PENDING:
                break
            box.transition_many([ob.Change(key, None, fields={"next_at": 0})])
    finally:
        proxy.stop()
    record = box.get(key)
    assert record.state == ob.CONFIRMED and record.reason.startswith("api.applied_lookup")
    assert record.response["id"] == key
    ledger = {e["idempotency_key"]: e for e in requests.get(sandbox.url + "/v1/sandbox/ledger", timeout=5).json()[
        "transactions"]}
    assert ledger[key]["applied"] == 1


def test_a_refusal_the_api_stored_may_be_refunded_and_an_unanswered_lookup_may_not(sandbox, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    refused = _paid(box, "R2", _body("R2", ref="999-999-999-9999"))  # no such account: the API says 422
    submitter = Submitter(box, ApiClient(sandbox.url, timeout_s=3), base_s=0.01, cap_s=0.05)
    submitter.run_once()
    record = box.get(refused)
    assert record.state == ob.NEEDS_ATTENDANT and record.response["lookup"] == "not_applied"
    from kiosk.transactions.attendant import blocked_outcomes

    assert "refund" not in blocked_outcomes(record)
    unknown = _paid(box, "R3", _body("R3", ref="999-999-999-9998"))
    sandbox.app.inject(Fault(status=503, path_prefix="/v1/transactions/", times=50))  # the lookup fails
    sandbox.app.inject(Fault(status=422, path_prefix="/v1/transactions", times=1))
    submitter.run_once()
    assert box.get(unknown).state in ob.PENDING  # never handed over for a refund without an answer


def test_a_key_the_api_never_stored_may_be_refunded_but_a_bare_404_proves_nothing(sandbox) -> None:
    api = ApiClient(sandbox.url, timeout_s=3)
    assert api.transaction_status("never-posted-key") is None  # the sandbox's 404 names the key
    sandbox.app.inject(Fault(status=404, path_prefix="/v1/transactions/", times=1))  # a proxy's own 404
    from kiosk.transactions.api import ApiAnswer

    try:
        api.transaction_status("never-posted-key")
    except ApiAnswer as answer:
        assert answer.status == 404
    else:
        raise AssertionError("a 404 that does not name the key must not read as 'never stored'")
