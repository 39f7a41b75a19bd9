"""`kiosk devices [--json]` and `kiosk devices test NAME`: diagnostics for technicians."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import threading
from collections.abc import Iterator

from kiosk.core.command_line import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, add_config_option, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    devices = subparsers.add_parser("devices", help="list configured devices with state, supplies and last error")
    add_config_option(devices)
    devices.add_argument("--json", action="store_true", help="machine-readable output")
    devices.set_defaults(handler=_list)
    actions = devices.add_subparsers(dest="devices_command", metavar="ACTION")
    test = actions.add_parser("test", help="run a device's self-test; exits 1 when it fails")
    test.add_argument("name", metavar="NAME", help="the device's name in [devices.NAME]")
    # SUPPRESS: without it the sub-command's defaults would undo `kiosk devices --config X test NAME`.
    test.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    test.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                      help="configuration file (default: $KIOSK_CONFIG or config/kiosk.toml)")
    test.set_defaults(handler=_test)


def _adapters(args: argparse.Namespace):
    from devices.contract import DeviceError
    from devices.registry import create_adapter

    config = config_from_args(args)
    adapters = {}
    for name, entry in config.devices.items():
        try:
            adapters[name] = create_adapter(name, entry.driver, entry.url)
        except DeviceError as error:
            raise CommandError(f"device {name}: {error.detail or error.code}", EXIT_USAGE) from None
    return config, adapters


def _open_all(adapters) -> None:
    """Open in parallel: each open has its own deadline, so the slowest device bounds the wait."""
    threads = [threading.Thread(target=adapter.open, daemon=True) for adapter in adapters.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)


@contextlib.contextmanager
def _quiet_device_logs() -> Iterator[None]:
    """The report is the output; device log lines (e.g. a WARNING per failed device) would only
    interleave with it. Restored afterwards, so an app running in the same process keeps its logs."""
    logger = logging.getLogger("kiosk.devices")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _list(args: argparse.Namespace) -> int:
    with _quiet_device_logs():
        return _list_devices(args)


def _test(args: argparse.Namespace) -> int:
    with _quiet_device_logs():
        return _test_device(args)


def _list_devices(args: argparse.Namespace) -> int:
    config, adapters = _adapters(args)
    _open_all(adapters)
    statuses = {name: adapter.status() for name, adapter in adapters.items()}
    capabilities = {name: adapter.capabilities() for name, adapter in adapters.items()}
    diagnostics = {name: adapter.diagnostics() for name, adapter in adapters.items()}
    for adapter in adapters.values():
        adapter.close()
    if args.json:
        rows = []
        for name, status in statuses.items():
            row = status.to_dict()
            row["capabilities"] = capabilities[name].to_dict()
            row["diagnostics"] = diagnostics[name]
            rows.append(row)
        print(json.dumps({"devices": rows}, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not statuses:
        print("no devices configured (add [devices.<name>] tables to the configuration)")
        return EXIT_OK
    from kiosk.core.i18n import Translator

    gettext = Translator(config.kiosk.language).gettext
    header = ("NAME", "DRIVER", "STATE", "REASON", "ACTION", "SUPPLIES", "LAST ERROR", "MESSAGE")
    rows = [header]
    for name, status in statuses.items():
        supplies = ",".join(f"{key}={value}" for key, value in status.supplies) or "-"
        message = status.reason.text(gettext)
        rows.append((name, status.driver, str(status.state), status.reason.code, str(status.reason.action),
                     supplies, status.last_error or "-", message))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
    return EXIT_OK


def _test_device(args: argparse.Namespace) -> int:
    config, adapters = _adapters(args)
    if args.name not in adapters:
        known = ", ".join(adapters) or "none"
        raise CommandError(f"no device named {args.name!r} in the configuration (configured: {known})", EXIT_USAGE)
    adapter = adapters[args.name]
    adapter.open()
    report = adapter.self_test()
    adapter.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(f"{report.device}: {'PASS' if report.ok else 'FAIL'} ({report.duration_ms:.0f} ms)")
        for check in report.checks:
            print(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        if not report.ok:
            reason = report.reason
            print(f"  reason: {reason.code} (action: {reason.action})")
            from kiosk.core.i18n import Translator

            print(f"  {reason.text(Translator(config.kiosk.language).gettext)}")
    return EXIT_OK if report.ok else EXIT_FAILED
