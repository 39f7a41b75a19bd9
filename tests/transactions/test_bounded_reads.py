"""Bounded reads: an answer from the API larger than the limit is refused, not read whole
(a 600 MB answer once took the process to 1.2 GB)."""

from __future__ import annotations

import pytest

from kiosk.core.http_limits import API_ANSWER_MAX_BYTES
from kiosk.sandbox import Fault
from kiosk.transactions import Refused
from kiosk.transactions.api import ApiClient, ApiUnreachable
from tests.transactions.test_service import _service

HUGE = 64 * API_ANSWER_MAX_BYTES  # 64 MiB: refused after the first MiB


@pytest.mark.parametrize("fault", [Fault(stream_bytes=HUGE, path_prefix="/v1/accounts"),
                                   Fault(body=b"{" + b" " * (2 * API_ANSWER_MAX_BYTES) + b"}",
                                         path_prefix="/v1/accounts")],
                         ids=["unsized-stream", "declared-length"])
def test_an_oversized_account_answer_is_refused_with_a_clear_reason(sandbox, tmp_path, fault) -> None:
    service, _pump, _ = _service(tmp_path, sandbox.url)
    sandbox.app.inject(fault)
    with pytest.raises(Refused) as refused:
        service.lookup("clave_catastral", "001-002-003-0001")
    assert refused.value.code == "network.lookup_needs_network" and "larger than" in refused.value.detail
    assert service.lookup("clave_catastral", "001-002-003-0001").amount_cents > 0  # the next answer is fine


def test_an_oversized_transaction_answer_is_an_unknown_outcome(sandbox) -> None:
    api = ApiClient(sandbox.url, timeout_s=5)
    sandbox.app.inject(Fault(stream_bytes=HUGE, path_prefix="/v1/transactions"))
    with pytest.raises(ApiUnreachable, match="larger than"):
        api.post_transaction("k-bounded", b'{"kind": "certificate", "amount_cents": 0}')
