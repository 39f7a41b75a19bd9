"""The commands end to end, and the OpenAPI contract against the sandbox's routes."""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
from pathlib import Path

import yaml

from kiosk import cli
from kiosk.sandbox import Fault

from .conftest import write_config

ROOT = Path(__file__).resolve().parents[2]


def test_sync_and_status_commands(tmp_path, sandbox, key_dir, capsys):
    config = write_config(tmp_path / "k.toml", sandbox.url, key_dir / "signing.pub", tmp_path / "data")
    assert cli.main(["catalog", "status", "--config", str(config)]) == 1  # never synced yet
    assert "none (never synced)" in capsys.readouterr().out
    assert cli.main(["sync", "--config", str(config)]) == 0
    assert "catalog revision - -> 1 (snapshot): 158 added" in capsys.readouterr().out
    sandbox.app.inject(Fault(status=503, times=5))
    assert cli.main(["sync", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kiosk: sync failed (http_503)") and "keeping revision 1" in err
    assert cli.main(["catalog", "status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "revision:   1" in out and "verified (ed25519 key" in out and "last error: http_503" in out
    assert cli.main(["catalog", "search", "acta", "de", "nacimiento", "--config", str(config)]) == 0
    assert "Copia certificada de acta de nacimiento" in capsys.readouterr().out.splitlines()[0]


def test_sync_without_a_pinned_key_fails_clearly(tmp_path, sandbox, capsys):
    config = write_config(tmp_path / "k.toml", sandbox.url, "", tmp_path / "data")
    assert cli.main(["sync", "--config", str(config)]) == 1
    assert "no public key configured" in capsys.readouterr().err


def test_keys_generate_and_synth(tmp_path, capsys):
    assert cli.main(["keys", "generate", "--out", str(tmp_path / "k")]) == 0
    assert (tmp_path / "k" / "signing.key").exists() and (tmp_path / "k" / "signing.pub").exists()
    assert cli.main(["keys", "generate", "--out", str(tmp_path / "k")]) == 1
    assert cli.main(["catalog", "synth", "--count", "250", "--out", str(tmp_path / "s.json")]) == 0
    assert len(json.loads((tmp_path / "s.json").read_text())["procedures"]) == 250


def test_sandbox_api_command_serves_and_kiosk_syncs(tmp_path, capsys):
    # The real command in its own process, on a free port, stopped by the test.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "sandbox-api", "--port", str(port), "--data", str(tmp_path / "sb")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)  # bounded wait for the "serving" line
        assert ready, "sandbox-api printed nothing within 20 s"
        line = process.stdout.readline()
        assert f"on http://127.0.0.1:{port}" in line, line
        config = write_config(tmp_path / "k.toml", f"http://127.0.0.1:{port}", tmp_path / "sb" / "signing.pub",
                              tmp_path / "data")
        assert cli.main(["sync", "--config", str(config)]) == 0
        assert "158 added" in capsys.readouterr().out
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        process.stdout.close()


def test_openapi_contract_matches_the_sandbox_routes(sandbox):
    from kiosk.sandbox import install_extensions

    spec = yaml.safe_load((ROOT / "docs" / "municipal-api.yaml").read_text(encoding="utf-8"))
    assert spec["openapi"] == "3.1.0"
    documented = {(method.upper(), re.sub(r"\{[^}]+\}", "X", path)) for path, item in spec["paths"].items()
                  for method in item if method in ("get", "put", "delete", "post")}
    install_extensions(sandbox.app)  # every feature's routes, as `kiosk sandbox-api` serves them
    served = {(method, re.sub(r"\(\?P<[^>]+>[^)]+\)", "X", pattern.pattern)) for method, pattern, _ in
              sandbox.app.routes}
    assert documented == served
    procedure = spec["components"]["schemas"]["Procedure"]
    assert set(procedure["required"]) == {"id", "kind", "name", "summary", "authority", "categories", "status",
                                          "popularity", "meta"}


def test_docs_map_every_top_level_field():
    text = (ROOT / "docs" / "catalog.md").read_text(encoding="utf-8")
    spec = yaml.safe_load((ROOT / "docs" / "municipal-api.yaml").read_text(encoding="utf-8"))
    for field in spec["components"]["schemas"]["Procedure"]["properties"]:
        assert f"`{field}`" in text, field
    assert "CPSV-AP" in text and "GovernmentService" in text


def test_sandbox_admin_routes_publish_revisions(sandbox, synced, store):
    import requests

    record = dict(store.get("sadv:PRE-001"), popularity=1)
    url = f"{sandbox.url}/v1/admin/procedures/sadv:PRE-001"
    answer = requests.put(url, json=record, timeout=5)
    assert answer.status_code == 200 and answer.json() == {"revision": 2}
    bad = requests.put(url, json=dict(record, status="perdido"), timeout=5)
    assert bad.status_code == 422 and "status" in bad.json()["detail"]
    assert requests.delete(f"{sandbox.url}/v1/admin/procedures/sadv:AC-012", timeout=5).json() == {"revision": 3}
    assert requests.get(f"{sandbox.url}/v1/catalog/procedures/sadv:AC-012", timeout=5).status_code == 404
    assert requests.post(f"{sandbox.url}/v1/catalog", timeout=5).status_code == 405
    result = synced.sync_once()
    assert (result.revision, result.updated, result.removed) == (3, ["sadv:PRE-001"], ["sadv:AC-012"])
    gone = requests.get(f"{sandbox.url}/v1/catalog/changes", params={"since": "0"}, timeout=5)
    assert gone.status_code == 410  # history starts at revision 1: older kiosks need the snapshot
    assert gone.headers["Content-Type"] == "application/problem+json"


def test_sandbox_extensions_add_routes_to_the_table(tmp_path):
    from kiosk.sandbox import EXTENSIONS, create_app, install_extensions

    app = create_app(data_dir=tmp_path / "sb")
    catalog_routes = len(app.routes)
    assert install_extensions(app) == EXTENSIONS
    assert len(app.routes) > catalog_routes or not EXTENSIONS
    assert install_extensions(app, ["kiosk.sandbox.nothing_here:Missing"]) == []
