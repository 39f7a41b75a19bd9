"""From configuration to adapters: `[devices.<name>]` with `driver` and `url`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .contract import Adapter, CallSoon, DeviceError, immediate
from .urls import UrlError, parse_device_url

# driver name -> (module, class); imported lazily so the CLI stays quick.
DRIVERS: dict[str, tuple[str, str]] = {
    "escpos": ("devices.printer", "PrinterAdapter"),
    "pcsc": ("devices.card_reader", "CardReaderAdapter"),
    "transbank": ("devices.payment", "PaymentAdapter"),
    "cctalk": ("devices.cash", "CashAdapter"),
    "scanner": ("devices.scanner", "ScannerAdapter"),
}
# Which transports each driver can use (sim:// always).
TRANSPORTS: dict[str, tuple[str, ...]] = {
    "escpos": ("tcp", "serial", "usb", "file", "sim"),
    "pcsc": ("pcsc", "sim"),
    "transbank": ("serial", "tcp", "sim"),
    "cctalk": ("serial", "tcp", "sim"),
    "scanner": ("serial", "tcp", "sim"),
}
TRANSPORT_SCHEMES = tuple(dict.fromkeys(scheme for schemes in TRANSPORTS.values() for scheme in schemes))


def validate_entry(name: str, driver: str, url: str) -> None:
    """Raise ValueError with a technician-readable message if the pair cannot work."""
    if driver not in DRIVERS:
        raise ValueError(f"[devices.{name}] driver {driver!r}: expected one of {', '.join(DRIVERS)}")
    try:
        parsed = parse_device_url(url)
    except UrlError as error:
        raise ValueError(f"[devices.{name}] url {url!r}: {error}") from None
    if parsed.scheme not in TRANSPORTS[driver]:
        raise ValueError(f"[devices.{name}] driver {driver} cannot use {parsed.scheme}:// "
                         f"(use {', '.join(s + '://' for s in TRANSPORTS[driver])})")


def create_adapter(name: str, driver: str, url: str, call_soon: CallSoon = immediate) -> Adapter:
    import importlib

    try:
        validate_entry(name, driver, url)
    except ValueError as error:
        raise DeviceError("config.invalid", str(error)) from None
    module_name, class_name = DRIVERS[driver]
    adapter_class: Any = getattr(importlib.import_module(module_name), class_name)
    try:
        return adapter_class(name, driver, parse_device_url(url), call_soon)
    except (UrlError, ValueError) as error:  # e.g. timeout=abc, accept=x
        raise DeviceError("config.invalid", f"[devices.{name}] url {url!r}: {error}") from None


def create_adapters(entries: Mapping[str, Any], call_soon: CallSoon = immediate) -> dict[str, Adapter]:
    """One adapter per configured device (entries: name -> object with .driver and .url)."""
    return {name: create_adapter(name, entry.driver, entry.url, call_soon) for name, entry in entries.items()}
