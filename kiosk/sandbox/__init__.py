"""Sandbox municipal API (loopback test double of docs/municipal-api.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

from kiosk.catalog import signing
from kiosk.sandbox.server import Fault, Request, Response, SandboxApp, SandboxServer
from kiosk.sandbox.state import CatalogState

__all__ = ["EXTENSIONS", "CatalogState", "Fault", "Request", "Response", "SandboxApp", "SandboxServer",
           "create_app"]

# Other features' sandbox routes: "module:Class", where Class() has install(app) adding its routes
# to the route table. The `kiosk sandbox-api` command installs them next to the catalog routes;
# create_app does not, so tests can install their own instances.
EXTENSIONS: list[str] = ["kiosk.sandbox.help_requests:HelpRequests", "kiosk.sandbox.payments:Payments",
                         "kiosk.sandbox.fleet:Fleet"]


def install_extensions(app: SandboxApp, names: list[str] | None = None) -> list[str]:
    import importlib
    import logging

    installed = []
    for name in EXTENSIONS if names is None else names:
        module_name, _, class_name = name.partition(":")
        try:
            extension = getattr(importlib.import_module(module_name), class_name)()
        except (ImportError, AttributeError) as error:
            logging.getLogger("kiosk.sandbox").warning("sandbox extension %s not loaded: %s", name, error)
            continue
        extension.install(app)
        installed.append(name)
    return installed


def create_app(catalog_file: Path | None = None, data_dir: Path | None = None,
               signing_key: Path | None = None, retention: int = 50) -> SandboxApp:
    """Build the app: the catalog comes from DATA/catalog-state.json (kept across restarts), else
    from `catalog_file`, else the bundled sample; the key from `signing_key`, else DATA/signing.key
    (created with its signing.pub on first use)."""
    from kiosk.catalog.sample import load_sample

    state_path = None
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        state_path = data_dir / "catalog-state.json"
        if signing_key is None:
            signing_key = data_dir / "signing.key"
            if not signing_key.exists():
                signing.generate_keys(data_dir)
    if signing_key is None:
        raise ValueError("the sandbox needs --signing-key FILE or --data DIR to keep its key in")
    key = signing.load_private_key(signing_key)
    if catalog_file is not None:
        document = json.loads(catalog_file.read_text(encoding="utf-8"))
    elif state_path is not None and state_path.exists():
        document = json.loads(state_path.read_text(encoding="utf-8"))
    else:
        document = load_sample()
    return SandboxApp(CatalogState(document, key, retention=retention, state_path=state_path))
