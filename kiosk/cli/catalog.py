"""Catalog subcommands: sandbox-api, sync, catalog status|search|import|export|synth|load, keys generate.

Registration is argparse only; requests, cryptography and sqlite-utils load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kiosk.core.command_line import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, add_config_option, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    sandbox = subparsers.add_parser("sandbox-api", help="run the sandbox municipal API on loopback")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8480, help="port (default 8480)")
    sandbox.add_argument("--catalog", metavar="FILE", help="catalog JSON to serve (default: the bundled sample)")
    sandbox.add_argument("--data", metavar="DIR", default="var/sandbox",
                         help="directory for the signing key and published revisions (default var/sandbox)")
    sandbox.add_argument("--signing-key", metavar="FILE", help="Ed25519 private key (default: DIR/signing.key)")
    sandbox.add_argument("--retention", type=int, default=50, help="revisions of change history kept (then 410)")
    sandbox.set_defaults(handler=_sandbox)

    sync = subparsers.add_parser("sync", help="sync the catalog from the municipal API once")
    sync.add_argument("--full", action="store_true", help="download the full snapshot even if a delta would do")
    add_config_option(sync)
    sync.set_defaults(handler=_sync)

    catalog = subparsers.add_parser("catalog", help="catalog tools")
    actions = catalog.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="revision, age, source, signature, records, last error")
    status.add_argument("--json", action="store_true", help="print JSON")
    add_config_option(status)
    status.set_defaults(handler=_status)

    search = actions.add_parser("search", help="search the stored catalog")
    search.add_argument("text", nargs="+", help="what the citizen typed")
    search.add_argument("--limit", type=int, default=10)
    add_config_option(search)
    search.set_defaults(handler=_search)

    imp = actions.add_parser("import", help="convert ChileAtiende fichas or CPSV-AP JSON-LD to a catalog file")
    imp.add_argument("--from", dest="source", required=True, choices=("chileatiende", "cpsv-ap"))
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--out", required=True, metavar="FILE")
    imp.set_defaults(handler=_import)

    exp = actions.add_parser("export", help="write the catalog as CPSV-AP 3.2 JSON-LD")
    exp.add_argument("--to", required=True, choices=("cpsv-ap",))
    exp.add_argument("--catalog", metavar="FILE", help="catalog JSON to export (default: the kiosk's stored catalog)")
    exp.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    add_config_option(exp)
    exp.set_defaults(handler=_export)

    synth = actions.add_parser("synth", help="write a large synthetic catalog (benchmarks)")
    synth.add_argument("--count", type=int, required=True)
    synth.add_argument("--out", required=True, metavar="FILE")
    synth.add_argument("--seed", type=int, default=7)
    synth.set_defaults(handler=_synth)

    load = actions.add_parser("load", help="install a local catalog file into the kiosk (unsigned; demos)")
    load.add_argument("file", nargs="?", metavar="FILE", help="catalog JSON (default: the bundled sample)")
    add_config_option(load)
    load.set_defaults(handler=_load)

    nav = actions.add_parser("nav-stats", help="touches from home to each procedure in the navigation tree")
    nav.add_argument("--json", action="store_true", help="machine-readable output")
    nav.add_argument("--catalog", metavar="FILE",
                     help="a catalog JSON file (default: the kiosk's stored catalog, else the bundled sample)")
    nav.add_argument("--language", default="es", help="the tree for this language (default: es)")
    add_config_option(nav)
    nav.set_defaults(handler=_nav_stats)

    keys = subparsers.add_parser("keys", help="catalog signing keys")
    keys_actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    generate = keys_actions.add_parser("generate", help="write DIR/signing.key and DIR/signing.pub")
    generate.add_argument("--out", required=True, metavar="DIR")
    generate.add_argument("--force", action="store_true", help="overwrite an existing key pair")
    generate.set_defaults(handler=_keys_generate)


# ---- helpers ------------------------------------------------------------------------------------

def _open_store(args: argparse.Namespace) -> Any:
    from kiosk.catalog.store import CatalogStore

    config = config_from_args(args)
    try:
        return CatalogStore(config.data_path / "catalog.sqlite")
    except OSError as error:
        raise CommandError(f"cannot open the catalog store in {config.data_path}: {error}") from None


def _read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file", EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CommandError(f"{path}: not readable JSON ({error})") from None


def _write_json(document: Any, out: str | None) -> None:
    text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
    except OSError as error:
        raise CommandError(f"cannot write {out}: {error}") from None


def _validated(document: Any, what: str) -> None:
    from kiosk.catalog.model import Invalid, validate_catalog

    try:
        validate_catalog(document)
    except Invalid as error:
        raise CommandError(f"{what} is not a valid catalog: {error}") from None


# ---- handlers -----------------------------------------------------------------------------------

def _sandbox(args: argparse.Namespace) -> int:
    from kiosk.sandbox import SandboxServer, create_app, install_extensions

    try:
        app = create_app(Path(args.catalog) if args.catalog else None, Path(args.data),
                         Path(args.signing_key) if args.signing_key else None, retention=args.retention)
    except (OSError, ValueError) as error:
        raise CommandError(f"sandbox-api: {error}") from None
    install_extensions(app)
    try:
        server = SandboxServer(app, args.host, args.port)
    except OSError as error:
        raise CommandError(f"sandbox-api: cannot listen on {args.host}:{args.port}: {error}") from None
    pub = Path(args.data) / "signing.pub"
    print(f"sandbox-api: serving catalog revision {app.catalog.revision} ({len(app.catalog.procedures)} procedures) "
          f"on {server.url}", flush=True)
    if pub.exists() and not args.signing_key:
        print(f"sandbox-api: pin this public key in [api] public_key: {pub.resolve()}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return EXIT_OK


def _sync(args: argparse.Namespace) -> int:
    from kiosk.catalog.sync import CatalogSync, SyncError, SyncSettings

    config = config_from_args(args)
    store = _open_store(args)
    try:
        settings = SyncSettings.from_config(config)
    except SyncError as error:
        store.record_failure(error.code, str(error), config.api.base_url)  # so `catalog status` shows it
        raise CommandError(f"sync failed ({error.code}): {error}") from None
    try:
        result = CatalogSync(settings, store).sync_once(full=args.full)
    except SyncError as error:
        kept = store.revision()
        keeping = f"keeping revision {kept}" if kept is not None else "no catalog stored yet"
        raise CommandError(f"sync failed ({error.code}): {error}; {keeping}", EXIT_FAILED) from None
    print(result.summary())
    for label, ids in (("added", result.added), ("updated", result.updated), ("removed", result.removed)):
        if ids and len(ids) <= 20:
            print(f"  {label}: {', '.join(ids)}")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    status = _open_store(args).status()
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=1))
    else:
        error = status["last_error"]
        age = status["age_s"]
        print(f"revision:   {status['revision'] if status['revision'] is not None else 'none (never synced)'}")
        print(f"age:        {'-' if age is None else _age(age)} (synced {status['synced_at'] or 'never'})")
        print(f"source:     {status['source'] or '-'}")
        print(f"signature:  {status['signature']}")
        expiry = status["expires_at"] or "-"
        print(f"expires:    {expiry}{'  EXPIRED: data may be out of date' if status['expired'] else ''}")
        print(f"records:    {status['records']} ({status['active']} active)")
        last = "none" if not error else f"{error['reason']} at {error['at']}: {error['message']}"
        print(f"last error: {last}")
    return EXIT_FAILED if status["revision"] is None else EXIT_OK


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def _nav_stats(args: argparse.Namespace) -> int:
    from kiosk.catalog.navtree import build_tree, nav_stats

    categories, procedures, source = _catalog_for_stats(args)
    tree = build_tree(categories, procedures, args.language)
    stats = nav_stats(tree, [p["id"] for p in procedures if p.get("status") == "active"])
    report = {"source": source, **asdict(stats)}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(f"catalog:                 {source}")
        print(f"procedures reachable:    {stats.procedures} (unreachable: {len(stats.unreachable)})")
        print(f"options on home:         {stats.widest_home} (at most 3); widest later screen {stats.widest_screen} "
              "(at most 6)")
        print(f"maximum touches:         {stats.max_touches}")
        print(f"weighted mean touches:   {stats.weighted_mean_touches}")
        print("most popular (touches):  " + "; ".join(f"{title} ({depth})" for depth, title in stats.popular[:5]))
        print("deepest (touches):       " + "; ".join(f"{title} ({depth})" for depth, title in stats.worst))
    return EXIT_FAILED if stats.unreachable else EXIT_OK


def _catalog_for_stats(args: argparse.Namespace) -> tuple[list, list, str]:
    if args.catalog:
        document = json.loads(Path(args.catalog).read_text(encoding="utf-8"))
        return document["categories"], document["procedures"], args.catalog
    store = _open_store(args)
    if store.revision() is not None:
        return store.categories(), store.list_active(), f"stored catalog, revision {store.revision()}"
    from kiosk.catalog.sample import load_sample

    document = load_sample()
    return document["categories"], document["procedures"], "bundled sample (nothing stored yet)"


def _search(args: argparse.Namespace) -> int:
    store = _open_store(args)
    if store.revision() is None:
        raise CommandError("no catalog stored yet: run `kiosk sync` (or `kiosk catalog load`) first")
    hits = store.search(" ".join(args.text), args.limit)
    if not hits:
        print("no results")
        return EXIT_FAILED
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank:2}. {hit.name}  [{hit.id}]  relevance {hit.score:g}, popularity {hit.popularity}")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from kiosk.catalog import interop

    data = _read_json(args.file)
    try:
        document = interop.import_chileatiende(data) if args.source == "chileatiende" else interop.import_cpsv(data)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CommandError(f"{args.file}: cannot import as {args.source}: {error}") from None
    _validated(document, f"the import of {args.file}")
    _write_json(document, args.out)
    print(f"imported {len(document['procedures'])} procedures from {args.file} into {args.out}")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from kiosk.catalog import interop

    if args.catalog:
        document = _read_json(args.catalog)
    else:
        store = _open_store(args)
        if store.revision() is None:
            raise CommandError("no catalog stored yet: run `kiosk sync` or pass --catalog FILE")
        state = store.state()
        document = {"format": "kiosk-catalog/1", "revision": state["revision"],
                    "generated_at": state.get("generated_at"), "municipality": state.get("municipality"),
                    "categories": store.categories(),
                    "procedures": [store.get(rid) for (rid,) in store.db.execute("SELECT id FROM procedures")]}
    _validated(document, "the catalog")
    _write_json(interop.export_cpsv(document), args.out)
    if args.out:
        print(f"exported {len(document['procedures'])} procedures to {args.out} (CPSV-AP 3.2 JSON-LD)")
    return EXIT_OK


def _synth(args: argparse.Namespace) -> int:
    from kiosk.catalog.sample import build_synthetic, write_json

    if args.count < 1:
        raise CommandError("--count must be at least 1", EXIT_USAGE)
    write_json(build_synthetic(args.count, seed=args.seed), Path(args.out))
    print(f"wrote {args.count} synthetic procedures to {args.out}")
    return EXIT_OK


def _load(args: argparse.Namespace) -> int:
    from kiosk.catalog.sample import SAMPLE_PATH
    from kiosk.catalog.sync import SyncError, load_local

    path = args.file or str(SAMPLE_PATH)
    store = _open_store(args)
    try:
        result = load_local(store, _read_json(path), f"file:{Path(path).resolve()}")
    except SyncError as error:
        raise CommandError(f"{path}: {error}") from None
    print(result.summary())
    return EXIT_OK


def _keys_generate(args: argparse.Namespace) -> int:
    from kiosk.catalog.signing import generate_keys

    try:
        private, public = generate_keys(Path(args.out), overwrite=args.force)
    except FileExistsError as error:
        raise CommandError(f"{error} (use --force to replace it)") from None
    except OSError as error:
        raise CommandError(f"cannot write keys to {args.out}: {error}") from None
    print(f"wrote {private} (keep secret, mode 0600) and {public}")
    print(f"public key: {public.read_text().strip()}")
    return EXIT_OK
