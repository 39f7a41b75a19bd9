"""Bounded reads of HTTP answers: no answer from the network may take the kiosk's memory.

Every answer the kiosk reads from the municipal API (accounts, transactions, help calls, the
heartbeat, health probes) is streamed and read up to a limit; a longer one is refused with
`BodyTooLarge` instead of being read whole (600 MB once took the process to 1.2 GB). The catalog
has its own, larger limit (`[api] max_catalog_bytes`, kiosk/catalog/sync.py).
"""

from __future__ import annotations

from typing import Any

from kiosk.core.errors import KioskError

API_ANSWER_MAX_BYTES = 1024 * 1024  # an account, a transaction answer: a few KiB in practice
CHUNK = 64 * 1024


class BodyTooLarge(KioskError):
    code = "network.body_too_large"

    def __init__(self, limit: int):
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


def read_body(response: Any, limit: int = API_ANSWER_MAX_BYTES) -> bytes:
    """The body of a `requests` response made with stream=True, at most `limit` bytes (a declared
    Content-Length above it is refused before reading). The connection is closed when refused."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        response.close()
        raise BodyTooLarge(limit)
    body = bytearray()
    for chunk in response.iter_content(CHUNK):
        body += chunk
        if len(body) > limit:
            response.close()
            raise BodyTooLarge(limit)
    return bytes(body)
