"""Sandbox accounts, transactions and certificates: what the municipal treasury answers a kiosk.

- `GET /v1/accounts/{kind}/{ref}[?on=YYYY-MM-DD]`: a bill (concept, amount, discounts in force
  on that date, card fee, due date, paid-up flag). Realistic accounts are seeded (SAMPLE_ACCOUNTS):
  property-tax debts, one paid up, one with the January early-payment discount, water contracts.
- `POST /v1/transactions` with an `Idempotency-Key` header: applies a payment or a certificate
  request exactly once per key. A repeat with the same key and body gets the first answer again
  (status and body, marked `Idempotent-Replayed: true`); the same key with another body is 422;
  a missing or malformed key is 400.
- `GET /v1/transactions/{idempotency_key}`: what became of a key. 200 with the first answer when
  the key was stored (`applied` true: the payment went through and can only be confirmed; false:
  refused for good); 404 when it never was (the API did not apply it, so a refund is safe); 400
  for a malformed key. The kiosk asks this before it offers a refund.
- `GET /v1/certificates/{id}`: the issued certificate (the receipt's QR points here).
- `GET /v1/sandbox/ledger`: every key received, how many times it was received and applied.

State lives in SQLite: DATA/payments.sqlite when the sandbox has a data dir, else in memory.
Keys are kept forever here (the real API must keep them at least as long as a kiosk may stay
offline; see docs/transactions.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from kiosk.sandbox.server import Request, Response, SandboxApp

ACCOUNT_KINDS = ("clave_catastral", "numero_contrato_agua")
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_AMOUNT_CENTS = 10**12  # ten billion pesos: far above any municipal bill, far below SQLite's limit
CARD_FEE_PERMILLE = {"clave_catastral": 0, "numero_contrato_agua": 15}  # 1.5 % on water bills by card


def _year() -> int:
    return dt.date.today().year


def sample_accounts() -> list[dict[str, Any]]:
    """(kind, ref, concept, balance, due date, discounts) of the seeded sandbox accounts."""
    year = _year()
    january = [{"from": f"{year}-01-01", "to": f"{year}-01-31", "percent": 15, "text": "Pago anual en enero"}]
    return [
        {"kind": "clave_catastral", "ref": "001-002-003-0001", "concept": f"Impuesto predial {year}",
         "balance_cents": 245000, "due_date": f"{year}-03-31", "discounts": []},
        {"kind": "clave_catastral", "ref": "001-002-003-0002",
         "concept": f"Impuesto predial {year - 1}-{year} con recargos", "balance_cents": 891240,
         "due_date": f"{year}-03-31", "discounts": []},
        {"kind": "clave_catastral", "ref": "001-004-010-0015", "concept": f"Impuesto predial {year}",
         "balance_cents": 123000, "due_date": f"{year}-03-31", "discounts": []},
        {"kind": "clave_catastral", "ref": "001-001-001-0001", "concept": f"Impuesto predial {year} (anual)",
         "balance_cents": 300000, "due_date": f"{year}-03-31", "discounts": january},
        {"kind": "clave_catastral", "ref": "001-005-001-0007", "concept": f"Impuesto predial {year}",
         "balance_cents": 0, "due_date": f"{year}-03-31", "discounts": []},
        {"kind": "numero_contrato_agua", "ref": "AGU-100234", "concept": "Agua potable, bimestre 5",
         "balance_cents": 35680, "due_date": f"{year}-11-30", "discounts": []},
        {"kind": "numero_contrato_agua", "ref": "AGU-100991", "concept": "Agua potable, bimestres 4 y 5 vencidos",
         "balance_cents": 120450, "due_date": f"{year}-09-30", "discounts": []},
        {"kind": "numero_contrato_agua", "ref": "AGU-200017", "concept": "Agua potable, bimestre 5",
         "balance_cents": 0, "due_date": f"{year}-11-30", "discounts": []},
    ]


SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (kind TEXT, ref TEXT, concept TEXT, balance_cents INTEGER,
    due_date TEXT, discounts TEXT, PRIMARY KEY (kind, ref));
CREATE TABLE IF NOT EXISTS applied (key TEXT PRIMARY KEY, body_hash TEXT, status INTEGER, response TEXT,
    received INTEGER, applied INTEGER, kind TEXT, folio TEXT, account_kind TEXT, account_ref TEXT,
    amount_cents INTEGER, first_at REAL);
"""


def bill_for(account: dict[str, Any], on: dt.date) -> dict[str, Any]:
    """The bill as the API answers it: discounts in force on `on` applied to the balance."""
    balance = int(account["balance_cents"])
    in_force = [d for d in account["discounts"]
                if dt.date.fromisoformat(d["from"]) <= on <= dt.date.fromisoformat(d["to"])]
    discounts = [{"percent": d["percent"], "text": d["text"], "valid_to": d["to"],
                  "amount_cents": balance * int(d["percent"]) // 100} for d in in_force]
    total = max(0, balance - sum(d["amount_cents"] for d in discounts))
    fee = (total * CARD_FEE_PERMILLE.get(account["kind"], 0) + 500) // 1000
    return {"kind": account["kind"], "ref": account["ref"], "concept": account["concept"],
            "amount_cents": balance, "discounts": discounts, "total_cents": total, "card_fee_cents": fee,
            "due_date": account["due_date"], "paid_up": total == 0, "currency": "MXN", "as_of": on.isoformat()}


class Payments:
    def __init__(self, data_dir: Path | None = None):
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    # ---- install / storage -------------------------------------------------------------------

    def install(self, app: SandboxApp) -> None:
        state_path = getattr(app.catalog, "state_path", None)
        if self.data_dir is None and state_path is not None:
            self.data_dir = Path(state_path).parent
        self._open()
        app.route("GET", r"/v1/accounts/(?P<kind>[a-z_]{1,40})/(?P<ref>[A-Za-z0-9-]{1,40})", self.get_account)
        app.route("POST", r"/v1/transactions", self.post_transaction)
        app.route("GET", r"/v1/transactions/(?P<key>[^/]+)", self.get_transaction)
        app.route("GET", r"/v1/certificates/(?P<id>[0-9a-f]{8,64})", self.get_certificate)
        app.route("GET", r"/v1/sandbox/ledger", self.get_ledger)

    def _open(self) -> None:
        target = ":memory:" if self.data_dir is None else str(self.data_dir / "payments.sqlite")
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a test double: the ledger survives process kills
        db.executescript(SCHEMA)
        if not db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]:
            for account in sample_accounts():
                db.execute("INSERT INTO accounts VALUES (?,?,?,?,?,?)",
                           (account["kind"], account["ref"], account["concept"], account["balance_cents"],
                            account["due_date"], json.dumps(account["discounts"])))
        self._db = db

    def _account(self, kind: str, ref: str) -> dict[str, Any] | None:
        assert self._db is not None
        row = self._db.execute("SELECT kind, ref, concept, balance_cents, due_date, discounts FROM accounts"
                               " WHERE kind=? AND ref=?", (kind, ref)).fetchone()
        if row is None:
            return None
        return {"kind": row[0], "ref": row[1], "concept": row[2], "balance_cents": row[3], "due_date": row[4],
                "discounts": json.loads(row[5])}

    # ---- handlers ----------------------------------------------------------------------------

    def get_account(self, request: Request) -> Response:
        assert request.match is not None  # the router sets it before it calls a route's handler
        kind, ref = request.match["kind"], request.match["ref"]
        if kind not in ACCOUNT_KINDS:
            return Response.problem(404, "Not Found", f"unknown account kind {kind}")
        try:
            on = dt.date.fromisoformat(request.params["on"]) if "on" in request.params else dt.date.today()
        except ValueError:
            return Response.problem(400, "Bad Request", "'on' must be a date YYYY-MM-DD")
        with self._lock:
            account = self._account(kind, ref)
        if account is None:
            return Response.problem(404, "Not Found", "no such account")
        return Response.json(200, bill_for(account, on))

    def post_transaction(self, request: Request) -> Response:
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if not IDEMPOTENCY_KEY.fullmatch(key):
            return Response.problem(400, "Bad Request", "an Idempotency-Key header of 1-64 characters of "
                                                        "A-Z, a-z, 0-9, '_' and '-' is required")
        declared = request.headers.get("Content-Length") or ""
        if not declared.isdecimal() or not declared.isascii() or int(declared) != len(request.body):
            # The client died or was cut mid-body: nothing began, so nothing is stored for the key.
            return Response.problem(400, "Bad Request", "incomplete body")
        try:
            if not isinstance(json.loads(request.body), dict):
                raise ValueError
        except ValueError:  # malformed: refused before execution begins, so not stored (Stripe)
            return Response.problem(400, "Bad Request", "the body is not a JSON object")
        body_hash = hashlib.sha256(request.body).hexdigest()
        with self._lock:
            assert self._db is not None
            row = self._db.execute("SELECT body_hash, status, response FROM applied WHERE key=?", (key,)).fetchone()
            if row is not None:
                self._db.execute("UPDATE applied SET received=received+1 WHERE key=?", (key,))
                if row[0] != body_hash:
                    return Response.problem(422, "Unprocessable Content",
                                            "this Idempotency-Key was used with a different body")
                return _answer(row[1], row[2], {"Idempotent-Replayed": "true"})
            status, answer, applied, body = self._apply(request, key)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if applied and body.get("kind") == "payment":
                    self._db.execute("UPDATE accounts SET balance_cents=balance_cents-? WHERE kind=? AND ref=?",
                                     (body["amount_cents"], body["account"]["kind"], body["account"]["ref"]))
                self._db.execute(
                    "INSERT INTO applied VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (key, body_hash, status, answer, 1, int(applied), str(body.get("kind", "")),
                     str(body.get("folio", "")), str(body.get("account", {}).get("kind", "")),
                     str(body.get("account", {}).get("ref", "")), int(body.get("amount_cents") or 0), time.time()))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return _answer(status, answer)

    def get_transaction(self, request: Request) -> Response:
        """What became of an idempotency key: the kiosk asks before it offers a refund."""
        key = request.match["key"] if request.match else ""
        if not IDEMPOTENCY_KEY.fullmatch(key):
            return Response.problem(400, "Bad Request", "an idempotency key is 1-64 characters of "
                                                        "A-Z, a-z, 0-9, '_' and '-'")
        with self._lock:
            assert self._db is not None
            row = self._db.execute("SELECT status, response, applied, folio, amount_cents FROM applied WHERE key=?",
                                   (key,)).fetchone()
        if row is None:  # the problem names the key: a 404 from a server without this route does not
            problem = Response.problem(404, "Not Found", "this key was never stored: the API did not apply it")
            body = dict(json.loads(problem.body), idempotency_key=key)
            return Response(404, json.dumps(body).encode(), content_type="application/problem+json")
        status, answer, applied, folio, amount_cents = row
        return Response.json(200, {"id": key, "applied": bool(applied), "status": "applied" if applied else "rejected",
                                   "http_status": status, "folio": folio, "amount_cents": amount_cents,
                                   "answer": json.loads(answer)})

    def _apply(self, request: Request, key: str) -> tuple[int, str, bool, dict[str, Any]]:
        """Decide the first (and forever replayed) answer for a key: (status, body, applied, request body)."""
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return 400, _problem(400, "the body is not a JSON object"), False, {}
        kind, amount = body.get("kind"), body.get("amount_cents")
        raw_account = body.get("account")
        account = raw_account if isinstance(raw_account, dict) else {}
        if kind not in ("payment", "certificate") or type(amount) is not int or not 0 <= amount <= MAX_AMOUNT_CENTS:
            return 422, _problem(422, "kind must be payment or certificate; amount_cents an integer from 0 to "
                                      f"{MAX_AMOUNT_CENTS}"), False, {}
        texts = (body.get("folio", ""), body.get("procedure_id", ""), account.get("kind", ""), account.get("ref", ""))
        if not all(isinstance(text, str) for text in texts):
            return 422, _problem(422, "folio, procedure_id, account.kind and account.ref must be strings"), False, {}
        if kind == "payment" and (account.get("kind") not in ACCOUNT_KINDS or self._account(
                account.get("kind", ""), account.get("ref", "")) is None):
            return 422, _problem(422, "no such account"), False, dict(body, account=account)
        number = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 10**8
        answer: dict[str, Any] = {"id": key, "folio": body.get("folio", ""), "status": "applied",
                                  "receipt_number": f"T-{number:08d}", "amount_cents": amount,
                                  "applied_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        if kind == "certificate":
            certificate = hashlib.sha256(f"cert:{key}".encode()).hexdigest()[:24]
            host = request.headers.get("Host") or "127.0.0.1"
            answer["certificate"] = {"id": certificate, "procedure_id": body.get("procedure_id", ""),
                                     "download_url": f"http://{host}/v1/certificates/{certificate}"}
            account = {}
        return 201, json.dumps(answer), True, dict(body, account=account)

    def get_certificate(self, request: Request) -> Response:
        assert request.match is not None  # the router sets it before it calls a route's handler
        wanted = request.match["id"]
        with self._lock:
            assert self._db is not None
            rows = self._db.execute("SELECT response FROM applied WHERE kind='certificate' AND applied=1").fetchall()
        for (text,) in rows:
            answer = json.loads(text)
            if answer.get("certificate", {}).get("id") == wanted:
                document = (f"CONSTANCIA {answer['certificate']['procedure_id']}\nfolio {answer['folio']}\n"
                            f"emitida {answer['applied_at']}\n")
                return Response(200, document.encode(), content_type="text/plain; charset=utf-8")
        return Response.problem(404, "Not Found", "no such certificate")

    def get_ledger(self, request: Request) -> Response:
        with self._lock:
            assert self._db is not None
            rows = self._db.execute("SELECT key, kind, folio, account_kind, account_ref, amount_cents, status,"
                                    " received, applied FROM applied ORDER BY first_at").fetchall()
        entries = [{"idempotency_key": r[0], "kind": r[1], "folio": r[2], "account": {"kind": r[3], "ref": r[4]},
                    "amount_cents": r[5], "status": r[6], "received": r[7], "applied": r[8]} for r in rows]
        return Response.json(200, {"transactions": entries, "keys": len(entries),
                                   "applied": sum(e["applied"] for e in entries),
                                   "received": sum(e["received"] for e in entries)})


def _answer(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    """A stored first answer as sent: refusals are problem details (RFC 9457)."""
    content_type = "application/problem+json" if status >= 400 else "application/json"
    return Response(status, body.encode(), dict(headers or {}), content_type)


def _problem(status: int, detail: str) -> str:
    return json.dumps({"type": "about:blank", "title": "Rejected", "status": status, "detail": detail})
