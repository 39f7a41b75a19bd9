"""docs/municipal-api-transactions.yaml lists exactly the routes the sandbox's payments extension serves."""

from __future__ import annotations

import re

import yaml

from kiosk.sandbox import SandboxApp
from kiosk.sandbox.payments import Payments
from tests.transactions.conftest import ROOT


def test_transactions_contract_matches_the_sandbox_routes() -> None:
    spec = yaml.safe_load((ROOT / "docs" / "municipal-api-transactions.yaml").read_text(encoding="utf-8"))
    assert spec["openapi"] == "3.1.0"
    documented = {(method.upper(), re.sub(r"\{[^}]+\}", "X", path)) for path, item in spec["paths"].items()
                  for method in item if method in ("get", "put", "delete", "post")}
    app = SandboxApp.__new__(SandboxApp)
    app.routes = []
    app.catalog = None
    Payments().install(app)
    served = {(method, re.sub(r"\(\?P<[^>]+>[^)]+\)", "X", pattern.pattern)) for method, pattern, _ in app.routes}
    assert documented == served
