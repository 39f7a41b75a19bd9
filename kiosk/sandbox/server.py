"""The sandbox municipal API: a small threaded HTTP server that implements docs/municipal-api.yaml.

Routes live in a table (`SandboxApp.route`) so later features (accounts, transactions, help
requests, heartbeats) add handlers without touching the server plumbing. Tests run it in-process
on 127.0.0.1 with port 0 and use `inject()` to make the next responses misbehave (HTTP errors,
slow or cut bodies, bad signatures, signed-but-invalid data) exactly as a broken or hostile
server would on the wire.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kiosk.catalog.model import Invalid, validate_procedure
from kiosk.core.logs import event
from kiosk.sandbox.state import CatalogState, Published

log = logging.getLogger("kiosk.sandbox")
JSON = "application/json"


class PathParams(dict[str, str]):
    """The route's named groups, percent-decoded (a path segment can carry any character once
    encoded, e.g. `sadv%3APRE-001`). Routes match the raw path, so an encoded '/' stays inside its
    segment."""

    @classmethod
    def of(cls, match: re.Match[str]) -> PathParams:
        return cls({name: unquote(value) for name, value in match.groupdict().items() if value is not None})

    def groupdict(self) -> dict[str, str]:
        return dict(self)


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: Any
    body: bytes
    client: str
    match: PathParams | None = None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON

    @classmethod
    def json(cls, status: int, value: Any, **headers: str) -> Response:
        return cls(status, json.dumps(value, ensure_ascii=False).encode("utf-8"), dict(headers))

    @classmethod
    def problem(cls, status: int, title: str, detail: str = "") -> Response:
        # RFC 9457 problem details, so every error has a machine-readable shape.
        body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        return cls(status, json.dumps(body, ensure_ascii=False).encode(), content_type="application/problem+json")


@dataclass
class Fault:
    """How the next matching response misbehaves (see tests/catalog for one test per fault)."""

    status: int | None = None            # answer with this HTTP status and a problem body
    delay_s: float = 0.0                 # wait before answering (client read timeout)
    truncate: bool = False               # promise the full Content-Length, send half, close
    content_type: str | None = None      # wrong Content-Type
    body: bytes | None = None            # replace the body ...
    sign_body: bool = True               # ... and sign the replacement (to reach the JSON/schema checks)
    revision: int | None = None          # manifest revision for the replacement body
    no_manifest: bool = False            # drop the Catalog-Manifest header
    bad_signature: bool = False          # sign with a key the kiosk does not trust
    expired: bool = False                # sign a manifest that expired an hour ago
    digest: str | None = None            # the catalog digest the re-signed manifest promises
    manifest: str | None = None          # replace the Catalog-Manifest header with this text (any answer, 304 too)
    stream_bytes: int | None = None      # send this many bytes with no Content-Length (size limit)
    path_prefix: str = "/v1/catalog"
    times: int = 1


Handler = Callable[[Request], Response]


class SandboxApp:
    def __init__(self, catalog: CatalogState):
        self.catalog = catalog
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[Fault] = []
        self._fault_lock = threading.Lock()
        self.stop_event = threading.Event()
        self.route("GET", r"/v1/health", self.health)
        self.route("GET", r"/v1/catalog", self.get_catalog)
        self.route("GET", r"/v1/catalog/changes", self.get_changes)
        self.route("GET", r"/v1/catalog/procedures/(?P<id>[^/]+)", self.get_procedure)
        self.route("PUT", r"/v1/admin/procedures/(?P<id>[^/]+)", self.put_procedure)
        self.route("DELETE", r"/v1/admin/procedures/(?P<id>[^/]+)", self.delete_procedure)

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern), handler))

    def inject(self, fault: Fault) -> None:
        with self._fault_lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._fault_lock:
            self._faults.clear()

    def take_fault(self, path: str) -> Fault | None:
        with self._fault_lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def dispatch(self, request: Request) -> Response:
        allowed: list[str] = []
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            request.match = PathParams.of(match)
            return handler(request)
        if allowed:  # RFC 9110 15.5.6: a 405 names the methods the resource does support
            if "GET" in allowed:
                allowed.append("HEAD")
            methods = ", ".join(sorted(set(allowed)))
            response = Response.problem(405, "Method Not Allowed", f"{request.method} is not allowed; use {methods}")
            response.headers["Allow"] = methods
            return response
        return Response.problem(404, "Not Found", request.path)

    # ---- catalog handlers -------------------------------------------------------------------

    def health(self, request: Request) -> Response:
        return Response.json(200, {"status": "ok", "catalog_revision": self.catalog.revision})

    def get_catalog(self, request: Request) -> Response:
        published = self.catalog.snapshot()
        if _etag_matches(request.headers.get("If-None-Match"), published.etag):
            return _not_modified(published)
        return _published(published)

    def get_changes(self, request: Request) -> Response:
        since_text = request.params.get("since", "")
        if not since_text.isdecimal() or not since_text.isascii() or len(since_text) > 18:
            return Response.problem(400, "Bad Request", "'since' must be a non-negative integer revision")
        since = int(since_text)
        if since == self.catalog.revision and _etag_matches(request.headers.get("If-None-Match"),
                                                            self.catalog.etag()):
            return _not_modified(self.catalog.snapshot())
        published = self.catalog.changes(since)
        if published is None:
            return Response.problem(410, "Gone", f"revision {since} is older than the kept change history "
                                                 f"(oldest {self.catalog.oldest_since}); fetch /v1/catalog")
        return _published(published)

    def get_procedure(self, request: Request) -> Response:
        record = self.catalog.procedures.get(request.match["id"]) if request.match else None
        if record is None:
            return Response.problem(404, "Not Found", "no such procedure")
        return Response.json(200, record)

    def put_procedure(self, request: Request) -> Response:
        if not _is_loopback(request.client):
            return Response.problem(403, "Forbidden", "admin routes answer loopback clients only")
        try:
            record = json.loads(request.body)
            if not isinstance(record, dict) or record.get("id") != (request.match["id"] if request.match else None):
                raise Invalid("the body's id must match the URL")
            record.setdefault("meta", {})["rev"] = self.catalog.revision + 1
            validate_procedure(record)
            revision = self.catalog.publish(upserts=[record])
        except (ValueError, Invalid) as error:
            return Response.problem(422, "Unprocessable Content", str(error))
        return Response.json(200, {"revision": revision})

    def delete_procedure(self, request: Request) -> Response:
        if not _is_loopback(request.client):
            return Response.problem(403, "Forbidden", "admin routes answer loopback clients only")
        record_id = request.match["id"] if request.match else ""
        if record_id not in self.catalog.procedures:
            return Response.problem(404, "Not Found", "no such procedure")
        return Response.json(200, {"revision": self.catalog.publish(deletions=[record_id])})


def _published(published: Published) -> Response:
    from kiosk.catalog.signing import MANIFEST_HEADER

    return Response(200, published.body, {"ETag": published.etag, MANIFEST_HEADER: published.manifest,
                                          "Cache-Control": "no-cache"})


def _not_modified(published: Published) -> Response:
    # A fresh signed manifest rides along so an idle kiosk can extend freshness (freeze defence).
    from kiosk.catalog.signing import MANIFEST_HEADER

    return Response(304, headers={"ETag": published.etag, MANIFEST_HEADER: published.manifest})


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    return header.strip() == "*" or etag in [part.strip().removeprefix("W/") for part in header.split(",")]


def _content_length(header: str | None) -> int:
    return int(header) if header and header.isdecimal() and header.isascii() and len(header) < 16 else 0


def _is_loopback(client: str) -> bool:
    return client.startswith("127.") or client == "::1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a 304 poll costs one round trip
    # Headers and body go out in two writes; with Nagle on, the body waits ~40 ms for the
    # client's delayed ACK on every answer.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:  # GET's headers without the body (see _write)
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler answers a method it has no do_X for with 501; any other method
        # (PATCH, OPTIONS, TRACE, or one nobody has heard of) goes through the route table, which
        # answers 405 with Allow on a known path and 404 elsewhere.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # route access logs to DEBUG
        log.debug("sandbox.request %s", format % args)

    def _serve(self) -> None:
        app = self.server.app
        parts = urlsplit(self.path)
        length = _content_length(self.headers.get("Content-Length"))
        body = self.rfile.read(min(length, 8 * 1024 * 1024)) if length else b""
        params = {key: values[0] for key, values in parse_qs(parts.query).items()}
        method = "GET" if self.command == "HEAD" else self.command
        request = Request(method, parts.path, params, self.headers, body, self.client_address[0])
        try:
            response = app.dispatch(request)
        except Exception as error:  # a handler bug must become a 500, not a dropped connection
            event(log, "sandbox.handler_failed", level=logging.ERROR, path=parts.path, error=type(error).__name__)
            response = Response.problem(500, "Internal Server Error", type(error).__name__)
        fault = app.take_fault(parts.path)
        if fault is not None:
            faulted = self._apply_fault(fault, response)
            if faulted is None:
                return
            response = faulted
        self._write(response)

    def _apply_fault(self, fault: Fault, response: Response) -> Response | None:
        app = self.server.app
        if fault.delay_s and app.stop_event.wait(fault.delay_s):
            return None
        if fault.status is not None:
            return Response.problem(fault.status, "Injected failure", f"sandbox fault {fault.status}")
        if fault.stream_bytes is not None:
            self._stream_unsized(fault.stream_bytes)
            return None
        if fault.content_type is not None:
            response.content_type = fault.content_type
        if fault.body is not None or fault.bad_signature or fault.expired or fault.revision is not None \
                or fault.digest is not None:
            response = self._resign(fault, response)
        if fault.no_manifest:
            response.headers.pop("Catalog-Manifest", None)
        if fault.manifest is not None:
            response.headers["Catalog-Manifest"] = fault.manifest
        if fault.truncate:
            self._write(response, cut=True)
            return None
        return response

    def _resign(self, fault: Fault, response: Response) -> Response:
        import datetime as dt

        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        catalog = self.server.app.catalog
        body = fault.body if fault.body is not None else response.body
        key = Ed25519PrivateKey.generate() if fault.bad_signature else None
        lifetime = dt.timedelta(hours=-1) if fault.expired else None
        kind = "changes" if self.path.startswith("/v1/catalog/changes") else "snapshot"
        since = int(parse_qs(urlsplit(self.path).query).get("since", ["0"])[0]) if kind == "changes" else None
        revision = fault.revision if fault.revision is not None else catalog.revision
        published = catalog.sign(body, kind, revision, len(catalog.procedures), since=since, key=key,
                                 lifetime=lifetime, digest=fault.digest)
        headers = dict(response.headers, ETag=published.etag)
        if fault.sign_body or fault.body is None:
            headers["Catalog-Manifest"] = published.manifest
        return Response(200, body, headers, response.content_type)

    def _write(self, response: Response, cut: bool = False) -> None:
        self.send_response(response.status)
        if response.status != 304:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if cut:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if response.status == 304 or self.command == "HEAD":
            return
        self.wfile.write(response.body[: len(response.body) // 2] if cut else response.body)
        self.wfile.flush()

    def _stream_unsized(self, size: int) -> None:
        # No Content-Length: the client can only enforce its limit while reading.
        self.send_response(200)
        self.send_header("Content-Type", JSON)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = b" " * 65536
        sent = 0
        try:
            while sent < size and not self.server.app.stop_event.is_set():
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the client hung up once it had seen enough, which is the point


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: SandboxApp

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up early (a kiosk giving up on a slow or oversized body) is normal
        # here; socketserver would print a traceback to stderr for it.
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("sandbox.client_gone %s", type(error).__name__)
            return
        event(log, "sandbox.connection_failed", level=logging.ERROR, error=type(error).__name__)


class SandboxServer:
    """Runs a SandboxApp on host:port in a background thread (port 0 picks a free port)."""

    def __init__(self, app: SandboxApp, host: str = "127.0.0.1", port: int = 8480):
        self.app = app
        self.httpd = _Server((host, port), _Handler)
        self.httpd.app = app
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        assert isinstance(host, str)  # a TCP server's address: (host, port), the host a str
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sandbox-api", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.app.stop_event.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
