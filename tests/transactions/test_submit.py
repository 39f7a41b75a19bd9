"""Idempotent submission against the real sandbox on loopback."""

from __future__ import annotations

import json
import random
from pathlib import Path

import requests

from kiosk.sandbox import Fault
from kiosk.transactions.api import ApiClient
from kiosk.transactions.submitter import Submitter, full_jitter
from offline_cache import outbox as ob
from offline_cache.outbox import Outbox


def _queued(box: Outbox, folio: str, ref: str = "001-002-003-0001", amount: int = 1000) -> ob.Record:
    body = {"kind": "payment", "account": {"kind": "clave_catastral", "ref": ref}, "amount_cents": amount,
            "folio": folio}
    record = box.create("payment", amount, folio=folio, account=("clave_catastral", ref), payload=body)
    for state in (ob.PAYING, ob.PAID, ob.QUEUED):
        box.transition(record.key, state)
    return record


def _ledger(url: str) -> dict[str, dict]:
    return {e["idempotency_key"]: e for e in requests.get(url + "/v1/sandbox/ledger", timeout=5).json()["transactions"]}


def test_sandbox_applies_a_key_once_and_replays_the_first_answer(sandbox) -> None:
    body = json.dumps({"kind": "payment", "account": {"kind": "clave_catastral", "ref": "001-004-010-0015"},
                       "amount_cents": 123000, "folio": "X1"}).encode()
    headers = {"Idempotency-Key": "key-1", "Content-Type": "application/json"}
    first = requests.post(sandbox.url + "/v1/transactions", data=body, headers=headers, timeout=5)
    again = requests.post(sandbox.url + "/v1/transactions", data=body, headers=headers, timeout=5)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = requests.post(sandbox.url + "/v1/transactions", data=body.replace(b"X1", b"X2"), headers=headers,
                          timeout=5)
    assert other.status_code == 422
    assert requests.post(sandbox.url + "/v1/transactions", data=body, timeout=5).status_code == 400
    entry = _ledger(sandbox.url)["key-1"]
    assert (entry["received"], entry["applied"]) == (3, 1)
    bill = requests.get(sandbox.url + "/v1/accounts/clave_catastral/001-004-010-0015", timeout=5).json()
    assert bill["paid_up"] is True  # applied once: 1,230.00 paid once, not twice


def test_submitter_confirms_and_keeps_the_key_through_failures(sandbox, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    records = [_queued(box, f"F{i}") for i in range(3)]
    # 503, then a response cut after the server applied the first POST, then a slow answer.
    sandbox.app.inject(Fault(status=503, path_prefix="/v1/transactions"))
    sandbox.app.inject(Fault(truncate=True, path_prefix="/v1/transactions"))
    submitter = Submitter(box, ApiClient(sandbox.url, timeout_s=2), base_s=0.01, cap_s=0.05)
    assert submitter.drain(20)
    ledger = _ledger(sandbox.url)
    assert {r.key for r in records} == set(ledger)
    assert all(entry["applied"] == 1 for entry in ledger.values())
    assert sum(entry["received"] for entry in ledger.values()) >= 4  # retries happened, same keys
    for record in records:
        done = box.get(record.key)
        assert done.state == ob.CONFIRMED and done.response["status"] == "applied"


def test_per_account_order_is_kept(sandbox, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    folios = [f"A{i}" for i in range(5)]
    for folio in folios:
        _queued(box, folio)
    sandbox.app.inject(Fault(status=503, path_prefix="/v1/transactions", times=3))
    assert Submitter(box, ApiClient(sandbox.url), base_s=0.01, cap_s=0.02).drain(20)
    applied = [e["folio"] for e in requests.get(sandbox.url + "/v1/sandbox/ledger", timeout=5).json()["transactions"]]
    assert applied == folios


def test_a_4xx_is_rejected_not_retried_and_does_not_block_the_account(sandbox, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    bad = _queued(box, "BAD", ref="no-such-account")
    good = _queued(box, "GOOD", ref="001-002-003-0002")
    assert Submitter(box, ApiClient(sandbox.url), base_s=0.01, cap_s=0.02).drain(10)
    assert box.get(bad.key).state == ob.REJECTED and box.get(bad.key).reason.startswith("api.rejected:422")
    assert box.get(good.key).state == ob.CONFIRMED


def test_a_refused_paid_transaction_goes_to_an_attendant(sandbox, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    body = {"kind": "payment", "account": {"kind": "clave_catastral", "ref": "gone"}, "amount_cents": 900}
    record = box.create("payment", 900, folio="PAID", account=("clave_catastral", "gone"), payload=body)
    box.transition(record.key, ob.PAYING)
    box.transition(record.key, ob.PAID, payment={"method": "card"}, paid_cents=900)
    box.transition(record.key, ob.QUEUED)
    assert Submitter(box, ApiClient(sandbox.url), base_s=0.01, cap_s=0.02).drain(10)
    done = box.get(record.key)
    assert done.state == ob.NEEDS_ATTENDANT and done.reason.startswith("api.rejected:422")


def test_a_body_cut_by_a_dying_client_is_not_stored_under_its_key(sandbox) -> None:
    import socket

    host, port = sandbox.url.removeprefix("http://").split(":")
    body = json.dumps({"kind": "payment", "account": {"kind": "clave_catastral", "ref": "001-002-003-0001"},
                       "amount_cents": 100, "folio": "CUT"}).encode()
    head = (f"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nIdempotency-Key: cut-1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(head + body[: len(body) // 2])  # then the kiosk process dies
    full = requests.post(sandbox.url + "/v1/transactions", data=body, timeout=5,
                         headers={"Idempotency-Key": "cut-1", "Content-Type": "application/json"})
    assert full.status_code == 201 and "Idempotent-Replayed" not in full.headers
    assert _ledger(sandbox.url)["cut-1"]["applied"] == 1


def test_an_answer_cut_inside_its_headers_is_not_a_success(sandbox, tmp_path: Path) -> None:
    from tests.transactions.faultproxy import FaultProxy

    proxy = FaultProxy(int(sandbox.url.rsplit(":", 1)[1]), faults={"cut": 1}).start()
    try:
        box = Outbox(tmp_path / "o.sqlite")
        record = _queued(box, "CUTHEAD")
        assert Submitter(box, ApiClient(proxy.url, timeout_s=1), base_s=0.01, cap_s=0.02).drain(0.5) is False
        assert box.get(record.key).state == ob.SUBMITTED  # applied upstream, outcome unknown here
    finally:
        proxy.stop()
    assert Submitter(box, ApiClient(sandbox.url), base_s=0.01, cap_s=0.02).drain(5)
    done = box.get(record.key)
    assert done.state == ob.CONFIRMED and done.response["receipt_number"].startswith("T-")
    assert _ledger(sandbox.url)[record.key]["received"] >= 2


def test_unreachable_api_backs_off_and_resumes(tmp_path: Path, sandbox) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    record = _queued(box, "OFF")
    offline = Submitter(box, ApiClient("http://127.0.0.1:9", timeout_s=0.5, connect_timeout_s=0.5),
                        base_s=0.01, cap_s=0.02)
    assert offline.drain(0.3) is False
    assert box.get(record.key).attempts >= 1 and box.get(record.key).last_error.startswith("network:")
    assert Submitter(box, ApiClient(sandbox.url), base_s=0.01, cap_s=0.02).drain(5)
    assert box.get(record.key).state == ob.CONFIRMED


def test_full_jitter_bounds() -> None:
    rng = random.Random(7)
    for attempt in range(40):
        for _ in range(50):
            delay = full_jitter(attempt, 2.0, 300.0, rng)
            assert 0.0 <= delay <= min(300.0, 2.0 * 2 ** attempt)
    spread = [full_jitter(5, 1.0, 300.0, rng) for _ in range(500)]
    assert max(spread) > 24 and min(spread) < 8  # jittered over the whole window, not a fixed delay
