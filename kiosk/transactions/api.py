"""HTTP client for the municipal API's account and transaction routes (docs/municipal-api.yaml).

Two failure kinds, kept apart because they mean different things for money:
`ApiUnreachable` (no answer: network down, timeout, cut response; the outcome of a POST is
unknown) and `ApiAnswer` (the server answered with a status; definitive unless retryable).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from kiosk.core.errors import TransactionError
from kiosk.core.http_limits import API_ANSWER_MAX_BYTES, BodyTooLarge, read_body

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class ApiUnreachable(TransactionError):
    """No usable answer (connection refused or reset, timeout, truncated body)."""

    code = "network.api_unreachable"


@dataclass
class ApiAnswer(TransactionError):
    """The API answered, with an error status; `body` is its problem document."""

    code = "network.api_answer"
    status: int
    body: dict[str, Any]
    retry_after_s: float | None = None

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.body.get('detail') or self.body.get('title') or ''}".strip()

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUSES


class ApiClient:
    def __init__(self, base_url: str, timeout_s: float = 10.0, connect_timeout_s: float = 5.0,
                 max_answer_bytes: int = API_ANSWER_MAX_BYTES):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout_s, timeout_s)
        self.max_answer_bytes = max_answer_bytes
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, stream=True,
                                            **kwargs)
            content = read_body(response, self.max_answer_bytes)  # reading it all surfaces a cut response
        except requests.RequestException as error:
            raise ApiUnreachable(type(error).__name__) from None
        except BodyTooLarge as error:  # a POST's outcome stays unknown: retried with the same key
            raise ApiUnreachable(str(error)) from None
        declared = response.headers.get("Content-Length")
        if response.status_code < 300 and (not content or declared is None or int(declared) != len(content)):
            # A success whose answer was cut (even inside its headers) is an unknown outcome, not
            # an empty success: the caller retries with the same key and gets the real answer.
            raise ApiUnreachable("incomplete answer")
        try:
            body = json.loads(content) if content else {}
        except ValueError:
            if response.status_code < 300:
                raise ApiUnreachable("unreadable body") from None  # a cut or garbled success
            body = {}
        if not isinstance(body, dict):
            raise ApiUnreachable("unexpected body")
        if response.status_code >= 300:
            raise ApiAnswer(response.status_code, body, _retry_after(response.headers.get("Retry-After")))
        return body

    def health(self) -> bool:
        try:
            self._call("GET", "/v1/health")
        except (ApiUnreachable, ApiAnswer):
            return False
        return True

    def account(self, kind: str, ref: str, on: str | None = None) -> dict[str, Any]:
        params = {"on": on} if on else None
        return self._call("GET", f"/v1/accounts/{kind}/{ref}", params=params)

    def post_transaction(self, key: str, body: bytes) -> dict[str, Any]:
        """POST the stored, byte-identical body with its Idempotency-Key (same on every retry)."""
        answer = self._call("POST", "/v1/transactions", data=body,
                            headers={"Idempotency-Key": key, "Content-Type": "application/json"})
        if answer.get("id") != key:
            raise ApiUnreachable("answer for another transaction")
        return answer

    def transaction_status(self, key: str) -> dict[str, Any] | None:
        """GET /v1/transactions/{key}: what the API did with this Idempotency-Key ({"applied":
        bool, "status", "http_status", "answer", ...}); None when it never stored the key, so it
        never applied it (a 404 whose problem names the key). Asked before any refund of a
        transaction the API answered with a refusal."""
        try:
            return self._call("GET", f"/v1/transactions/{quote(key, safe='')}")
        except ApiAnswer as error:
            # Only a 404 that names the key means "never stored": a 404 from a server or proxy
            # without this route must not pass for "not applied" (a refund would pay twice).
            if error.status == 404 and error.body.get("idempotency_key") == key:
                return None
            raise

    def ledger(self) -> dict[str, Any]:
        return self._call("GET", "/v1/sandbox/ledger")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
