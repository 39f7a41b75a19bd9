"""A loopback TCP proxy that misbehaves: one HTTP request per connection, one fault per connection.

Faults: pass; delay (answer late); cut (forward the request, so the server applies it, then
drop the answer); reset (TCP RST before forwarding); error5xx (answer 503 itself, never
forwarding); blackhole (hold the connection silently past the client's timeout); refuse_after
(a POST is forwarded, so the server applies it, and answered with a gateway's 400 instead).
Binds 127.0.0.1 only; `stop()` ends the accept loop and every handler within a deadline.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from collections import Counter

FAULTS = {"pass": 45, "delay": 15, "cut": 15, "reset": 10, "error5xx": 10, "blackhole": 5}


class FaultProxy:
    def __init__(self, upstream_port: int, seed: int = 0, faults: dict[str, int] | None = None):
        self.upstream = ("127.0.0.1", upstream_port)
        self.rng = random.Random(seed)
        self.faults = faults or FAULTS
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._cut_a_post = False
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="faultproxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                fault = self.rng.choices(list(self.faults), weights=list(self.faults.values()))[0]
                delay = self.rng.uniform(0.1, 0.6)
                self.counts[fault] += 1
            threading.Thread(target=self._handle, args=(client, fault, delay), daemon=True).start()

    def _handle(self, client: socket.socket, fault: str, delay: float) -> None:
        client.settimeout(5)
        try:
            request = _read_request(client)
            if request is None:
                return
            if request.startswith(b"POST"):
                with self._lock:
                    if not self._cut_a_post:  # at least one POST applied upstream, answer lost
                        self._cut_a_post, fault = True, "cut"
                    self.counts[f"{fault}:POST"] += 1
            if fault == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if fault == "error5xx":
                client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            if fault == "blackhole":
                self._stop.wait(3.0)
                return
            response = self._forward(request)
            if fault == "refuse_after" and request.startswith(b"POST"):
                body = b'{"type":"about:blank","title":"Bad Request","status":400,"detail":"gateway refused"}'
                client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\n"
                               b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
                               + body)
                return
            if fault == "cut":
                client.sendall(response[: len(response) // 3])  # applied upstream; the answer is lost
                return
            if fault == "delay" and self._stop.wait(delay):
                return
            client.sendall(response)
        except OSError:
            pass
        finally:
            client.close()

    def _forward(self, request: bytes) -> bytes:
        with socket.create_connection(self.upstream, timeout=5) as upstream:
            upstream.sendall(request)
            chunks = []
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        response = b"".join(chunks)
        head, _, body = response.partition(b"\r\n\r\n")
        return head + b"\r\nConnection: close\r\n\r\n" + body


def _read_request(client: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    lines = []
    for line in head.split(b"\r\n"):
        name = line.split(b":", 1)[0].strip().lower()
        if name == b"content-length":
            length = int(line.split(b":", 1)[1])
        if name != b"connection":
            lines.append(line)
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            return None
        body += chunk
    # One request per connection: the server closes after answering, so EOF ends the answer.
    return b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + body
