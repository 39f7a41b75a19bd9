"""`kiosk diag [--json] [--self-test]`: the technician's health report in a shell.

Exit status: 0 nothing needs attention, 1 something does (the report ends with the list, each
with what to do), 2 bad configuration. While the app runs (its status.json is younger than three
status intervals and its process exists) the devices are the app's, so their states come from
that file; otherwise this command opens the configured devices itself for a moment.

Registration stays cheap: requests, prometheus and the device drivers load in the handler.
"""

from __future__ import annotations

import argparse

from kiosk.core.command_line import EXIT_FAILED, EXIT_OK, add_config_option


def register(subparsers: argparse._SubParsersAction) -> None:
    diag = subparsers.add_parser(
        "diag", help="health report: devices, API, TLS, catalog, queue, disk, memory, errors "
                     "(exit 1 when something needs attention)")
    add_config_option(diag)
    diag.add_argument("--json", action="store_true", help="machine-readable output")
    diag.add_argument("--self-test", action="store_true",
                      help="also run every device's self-test (the printer prints a test page); "
                           "only when the app is not running")
    diag.set_defaults(handler=_diag)


def _diag(args: argparse.Namespace) -> int:
    from kiosk.cli.devices import _quiet_device_logs

    with _quiet_device_logs():
        return _run_diag(args)


def _run_diag(args: argparse.Namespace) -> int:
    import json
    import sys
    import time

    from kiosk.cli.devices import _adapters, _open_all
    from kiosk.core.i18n import Translator
    from kiosk.fleet.report import Sources, collect_report
    from kiosk.fleet.statusfile import read_status, status_path

    config, adapters = _adapters(args)  # also validates [devices]: a bad entry exits 2
    app = read_status(status_path(config.data_path), time.time())
    running = app is not None and app.fresh
    _ = Translator(config.kiosk.language).gettext  # the technician reads the kiosk's language
    sources = Sources(origin="shell", devices=lambda: adapters)
    if running:
        assert app is not None
        sources.app_checks, sources.app_state = app.checks, app.app_state(_)
        if args.self_test:
            print(_("kiosk: la aplicación está en marcha y tiene los dispositivos: se omiten las autopruebas"),
                  file=sys.stderr)
    else:
        sources.app_state = app.app_state(_) if app is not None else {
            "running": False,
            "text": _("no está en marcha (sin estado de la aplicación); dispositivos abiertos por este comando")}
        _open_all(adapters)
        if args.self_test:
            sources.self_tests = {name: adapter.self_test().to_dict() for name, adapter in adapters.items()}
    try:
        report = collect_report(config, sources)
    finally:
        if not running:
            for adapter in adapters.values():
                adapter.close()
    if args.json:
        print(json.dumps(report.to_dict(_), ensure_ascii=False, indent=2))
    else:
        print(report.render_text(_=_))
    return EXIT_FAILED if report.needs_attention else EXIT_OK
