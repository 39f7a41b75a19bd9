"""Kiosk configuration: a TOML file validated against a declarative schema.

Every section is a frozen dataclass; a field's metadata (built by `rule`) says what values are
allowed and how to describe them in an error. Validation collects nothing silently: the first
problem stops loading with a `ConfigError` that names the file, the key, the line when it can be
found, and what was expected. Every key has a default, so a file with a few keys is valid.

Other modules add sections by declaring a dataclass and listing it in `SECTIONS`; tables of
named tables (such as `[devices.printer]`) are listed in `NAMED_TABLES`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.registry import DRIVERS, TRANSPORT_SCHEMES, validate_entry
from kiosk.core.errors import KioskError

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = PACKAGE_ROOT / "config" / "kiosk.toml"
CONFIG_ENV = "KIOSK_CONFIG"


class ConfigError(KioskError):
    """A configuration problem, worded for the technician who must fix the file."""

    code = "config.invalid"

    def __init__(self, path: Path | str, problem: str, key: str = "", line: int | None = None):
        self.path = str(path)
        self.key = key
        self.line = line
        self.problem = problem
        where = self.path
        if line is not None:
            where += f", line {line}"
        if key:
            where += f", key '{key}'"
        super().__init__(f"{where}: {problem}")


def rule(
    help: str,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] | list[str] | None = None,
    pattern: str | None = None,
    path: bool = False,
) -> dict[str, Any]:
    """Field metadata: `help` says in words what a valid value is."""
    return {
        "help": help,
        "min": minimum,
        "max": maximum,
        "choices": choices,
        "pattern": pattern,
        "path": path,
    }


# A list, so kiosk.core.i18n.register_language can let a test pseudo-locale through.
LANGUAGE_CODES = ["es", "en"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class KioskSection:
    id: str = field(
        default="kiosk-demo-01",
        metadata=rule("a kiosk identifier of letters, digits, '-' or '_'", pattern=r"[A-Za-z0-9_-]{1,64}"),
    )
    location: str = field(
        default="Palacio Municipal, planta baja",
        metadata=rule("the place name shown to citizens and staff"),
    )
    municipality: str = field(
        default="Municipio de San Andrés del Valle",
        metadata=rule("the municipality's name, printed on receipts"),
    )
    data_dir: str = field(
        default="../var", metadata=rule("a directory for the kiosk's databases", path=True)
    )
    language: str = field(
        default="es", metadata=rule("the default language code", choices=LANGUAGE_CODES)
    )
    languages: tuple[str, ...] = field(
        default=("es", "en"),
        metadata=rule("the list of offered language codes", choices=LANGUAGE_CODES),
    )
    idle_timeout_s: float = field(
        default=60.0,
        metadata=rule("seconds without a touch before '¿Sigue ahí?'", minimum=10, maximum=3600),
    )
    idle_warning_s: float = field(
        default=30.0,
        metadata=rule("seconds the '¿Sigue ahí?' countdown lasts (WCAG 2.2.1: 20 or more)", minimum=20, maximum=300),
    )


@dataclass(frozen=True)
class DisplaySection:
    dpi: float = field(
        default=102.5,
        metadata=rule("the panel's real dots per inch (21.5 inch full HD is 102.5)", minimum=40, maximum=600),
    )
    viewing_distance_mm: float = field(
        default=600.0,
        metadata=rule("the citizen's eye-to-screen distance in millimetres", minimum=250, maximum=1500),
    )
    fullscreen: bool = field(default=True, metadata=rule("true or false"))
    width: int = field(
        default=1080, metadata=rule("window width in pixels when not full screen", minimum=320, maximum=7680)
    )
    height: int = field(
        default=1920, metadata=rule("window height in pixels when not full screen", minimum=320, maximum=7680)
    )


@dataclass(frozen=True)
class LogSection:
    level: str = field(default="INFO", metadata=rule("one of DEBUG, INFO, WARNING, ERROR", choices=LOG_LEVELS))


@dataclass(frozen=True)
class ApiSection:
    base_url: str = field(
        default="http://127.0.0.1:8480",
        metadata=rule("the municipal API's base URL (http:// or https://)", pattern=r"https?://[^\s]+"),
    )
    public_key: str = field(
        default="",
        metadata=rule("the catalog signing public key, or the path of the file holding it"),
    )
    timeout_s: float = field(
        default=10.0, metadata=rule("seconds to wait for the API before giving up", minimum=0.1, maximum=120)
    )
    sync_interval_s: float = field(
        default=300.0, metadata=rule("seconds between catalog syncs", minimum=5, maximum=86400)
    )
    max_catalog_bytes: int = field(
        default=64 * 1024 * 1024,
        metadata=rule("the largest catalog download accepted, in bytes", minimum=1024, maximum=2**32),
    )
    connect_timeout_s: float = field(
        default=5.0, metadata=rule("seconds to wait for the API's TCP connection", minimum=0.1, maximum=60)
    )
    retry_attempts: int = field(
        default=4, metadata=rule("tries per sync when the network or the server fails", minimum=1, maximum=10)
    )
    retry_backoff_s: float = field(
        default=1.0, metadata=rule("first retry delay ceiling (full jitter, doubling)", minimum=0.0, maximum=60)
    )
    retry_backoff_max_s: float = field(
        default=60.0, metadata=rule("largest retry delay ceiling in seconds", minimum=0.0, maximum=3600)
    )


@dataclass(frozen=True)
class RetentionSection:
    """How long the kiosk keeps what it stores; the stores prune themselves to these limits."""

    receipts_days: int = field(
        default=90,
        metadata=rule("days a copy of each receipt is kept for reprints and reconciliation", minimum=1, maximum=3650),
    )
    audit_days: int = field(
        default=365,
        metadata=rule("days the audit log is kept", minimum=30, maximum=3650),
    )
    queue_history_days: int = field(
        default=30,
        metadata=rule("days a delivered transaction stays in the queue history (undelivered: kept until sent)",
                      minimum=1, maximum=365),
    )


@dataclass(frozen=True)
class TransactionsSection:
    """Payments, certificate requests and the offline outbox (docs/transactions.md)."""

    min_free_mb: float = field(
        default=50.0,
        metadata=rule("free disk megabytes below which the kiosk stops taking money", minimum=0, maximum=100000),
    )
    busy_timeout_ms: int = field(
        default=2000, metadata=rule("milliseconds to wait for a locked outbox database", minimum=10, maximum=60000)
    )
    retry_base_s: float = field(
        default=2.0, metadata=rule("first submission retry delay ceiling (full jitter, doubling)", minimum=0.0,
                                   maximum=600)
    )
    retry_cap_s: float = field(
        default=300.0, metadata=rule("largest submission retry delay ceiling in seconds", minimum=0.0, maximum=86400)
    )
    give_up_after_days: float = field(
        default=25.0,
        metadata=rule("days of failed submissions before a transaction goes to an attendant (keep it below the "
                      "API's idempotency-key retention)", minimum=0.0, maximum=365),
    )
    offline_cash: bool = field(default=True, metadata=rule("accept cash against a bill reference while offline"))
    max_change_mxn: float = field(
        default=200.0,
        metadata=rule("the most change the kiosk gives, in pesos, before what its hoppers hold caps it (the CDMX "
                      "treasury kiosks give at most 200)", minimum=0, maximum=5000),
    )
    cash_idle_s: float = field(
        default=120.0,
        metadata=rule("seconds without a coin, a note or a touch while paying cash before the kiosk ends the "
                      "payment and gives the money back", minimum=30, maximum=1800),
    )
    verify_url: str = field(
        default="https://verifica.example.gob.mx/r/",
        metadata=rule("prefix of the receipt QR for confirmed transactions", pattern=r"https?://[^\s]+"),
    )


@dataclass(frozen=True)
class StaffSection:
    """Attendant and technician access (docs/staff.md)."""

    lockout_attempts: int = field(
        default=5, metadata=rule("wrong PINs at one staff number that lock staff access (PCI DSS: at most 10)",
                                 minimum=1, maximum=10)
    )
    lockout_minutes: float = field(
        default=30.0, metadata=rule("minutes staff access stays locked after too many wrong PINs at one number",
                                    minimum=1, maximum=1440)
    )
    lockout_total_attempts: int = field(
        default=10, metadata=rule("wrong PINs at any staff numbers together that lock staff access", minimum=1,
                                  maximum=100)
    )
    lockout_total_minutes: int = field(
        default=60, metadata=rule("minutes staff access stays locked after too many wrong PINs in total",
                                  minimum=1, maximum=1440)
    )
    lockout_window_minutes: int = field(
        default=60, metadata=rule("minutes a wrong PIN keeps counting towards either limit", minimum=1,
                                  maximum=10080)
    )
    pin_min_digits: int = field(
        default=6, metadata=rule("the fewest digits a staff PIN may have", minimum=4, maximum=12)
    )
    session_idle_s: float = field(
        default=120.0, metadata=rule("seconds without a touch before a staff session locks itself", minimum=15,
                                     maximum=3600)
    )
    assisted_idle_factor: float = field(
        default=3.0, metadata=rule("how many times longer the idle timeouts last in assisted mode", minimum=1,
                                   maximum=10)
    )


@dataclass(frozen=True)
class FleetSection:
    """Fleet health: local Prometheus metrics and the heartbeat to the municipal API."""

    metrics_port: int = field(
        default=9464, metadata=rule("the localhost port of the Prometheus metrics (0: no metrics)", minimum=0,
                                    maximum=65535)
    )
    heartbeat_interval_s: float = field(
        default=60.0, metadata=rule("seconds between heartbeats to the API (0: none)", minimum=0, maximum=86400)
    )
    status_interval_s: float = field(
        default=15.0, metadata=rule("seconds between refreshes of the health report and metrics", minimum=1,
                                    maximum=3600)
    )
    max_sync_age_s: float = field(
        default=3600.0, metadata=rule("catalog sync age in seconds after which diagnostics ask for attention",
                                      minimum=60, maximum=30 * 86400)
    )
    max_queue_age_s: float = field(
        default=900.0, metadata=rule("age in seconds of the oldest unsent transaction that asks for attention",
                                     minimum=10, maximum=30 * 86400)
    )
    min_free_mb: float = field(
        default=200.0, metadata=rule("free disk megabytes below which diagnostics ask for attention", minimum=0,
                                     maximum=1000000)
    )
    tls_warn_days: int = field(
        default=21, metadata=rule("days before the API's certificate expires that diagnostics warn", minimum=1,
                                  maximum=365)
    )


@dataclass(frozen=True)
class DeviceEntry:
    driver: str = field(
        default="",
        metadata=rule("the device protocol: " + ", ".join(DRIVERS), choices=tuple(DRIVERS)),
    )
    url: str = field(
        default="sim://",
        metadata=rule("the transport URL: " + ", ".join(s + "://" for s in TRANSPORT_SCHEMES) + " (docs/devices.md)",
                      pattern="(" + "|".join(TRANSPORT_SCHEMES) + ")://.*"),
    )


@dataclass(frozen=True)
class Config:
    """The whole validated configuration. `source` is the file it came from."""

    kiosk: KioskSection = field(default_factory=KioskSection)
    display: DisplaySection = field(default_factory=DisplaySection)
    log: LogSection = field(default_factory=LogSection)
    api: ApiSection = field(default_factory=ApiSection)
    retention: RetentionSection = field(default_factory=RetentionSection)
    transactions: TransactionsSection = field(default_factory=TransactionsSection)
    staff: StaffSection = field(default_factory=StaffSection)
    fleet: FleetSection = field(default_factory=FleetSection)
    devices: Mapping[str, DeviceEntry] = field(default_factory=dict)
    source: str = "(defaults)"

    @property
    def data_path(self) -> Path:
        return Path(self.kiosk.data_dir)


SECTIONS: dict[str, type] = {
    "kiosk": KioskSection,
    "display": DisplaySection,
    "log": LogSection,
    "api": ApiSection,
    "retention": RetentionSection,
    "transactions": TransactionsSection,
    "staff": StaffSection,
    "fleet": FleetSection,
}
NAMED_TABLES: dict[str, type] = {"devices": DeviceEntry}


def resolve_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--config beats KIOSK_CONFIG beats the bundled default."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return DEFAULT_CONFIG_PATH


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read, parse and validate a config file; raises ConfigError for any problem."""
    config_path = resolve_config_path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(config_path, "the file does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(config_path, f"the file cannot be read as UTF-8 text ({error})") from None
    return parse_config(text, config_path)


def parse_config(text: str, config_path: Path) -> Config:
    locator = _KeyLocator(text)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = _line_from_toml_error(str(error))
        problem = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise ConfigError(config_path, f"TOML syntax error: {problem}", line=line) from None
    except ValueError:  # tomllib reads integers with int(), which refuses over 4300 digits
        line = _line_of_long_number(text)
        raise ConfigError(config_path, f"a number too long to read: expected at most {MAX_DIGITS} digits",
                          key=locator.key_at(line) if line else "", line=line) from None
    base_dir = config_path.resolve().parent
    values: dict[str, Any] = {}
    for name, table in raw.items():
        if name in SECTIONS:
            values[name] = _build_section(SECTIONS[name], table, name, config_path, locator, base_dir)
        elif name in NAMED_TABLES:
            values[name] = _build_named_tables(NAMED_TABLES[name], table, name, config_path, locator, base_dir)
        else:
            known = ", ".join(sorted([*SECTIONS, *NAMED_TABLES]))
            raise ConfigError(
                config_path, f"unknown section; expected one of: {known}", key=name, line=locator.find(name)
            )
    for name, section_type in SECTIONS.items():
        if name not in values:
            values[name] = _defaults(section_type, base_dir)
    config = Config(**values, source=str(config_path))
    _check_cross_field(config, config_path, locator)
    return config


def _defaults(section_type: type, base_dir: Path) -> Any:
    instance = section_type()
    changes = {}
    for spec in dataclasses.fields(section_type):
        if spec.metadata.get("path"):
            changes[spec.name] = str((base_dir / getattr(instance, spec.name)).resolve())
    return dataclasses.replace(instance, **changes) if changes else instance


def _build_named_tables(entry_type: type, table: Any, name: str, config_path: Path, locator: _KeyLocator,
                        base_dir: Path) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(config_path, "expected a table of named tables, e.g. [devices.printer]", key=name,
                          line=locator.find(name))
    return {
        entry: _build_section(entry_type, body, f"{name}.{entry}", config_path, locator, base_dir)
        for entry, body in table.items()
    }


def _build_section(section_type: type, table: Any, name: str, config_path: Path, locator: _KeyLocator,
                   base_dir: Path) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(config_path, f"expected a table [{name}]", key=name, line=locator.find(name))
    fields_by_name = {spec.name: spec for spec in dataclasses.fields(section_type)}
    values = {}
    for key, value in table.items():
        dotted = f"{name}.{key}"
        spec = fields_by_name.get(key)
        if spec is None:
            known = ", ".join(fields_by_name)
            raise ConfigError(config_path, f"unknown key; [{name}] accepts: {known}", key=dotted,
                              line=locator.find(dotted))
        try:
            values[key] = _check_value(spec, value, base_dir)
        except ValueError as problem:
            raise ConfigError(config_path, str(problem), key=dotted, line=locator.find(dotted)) from None
    return _defaults(section_type, base_dir) if not values else dataclasses.replace(
        _defaults(section_type, base_dir), **values
    )


_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _check_value(spec: dataclasses.Field[Any], value: Any, base_dir: Path) -> Any:
    meta = spec.metadata
    expected = meta.get("help", "")
    kind = _field_kind(spec)
    if kind == "tuple":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"expected a list of strings: {expected}; got {_show(value)}")
        for item in value:
            _check_choices(item, meta, expected)
        return tuple(value)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false; got {_show(value)}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number: {expected}; got {_show(value)}")
        value = _finite(value, meta, expected)
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer: {expected}; got {_show(value)}")
        if not -(2**63) <= value < 2**63:  # TOML integers are 64-bit
            raise ValueError(f"expected an integer: {expected}; got {_show(value)}, beyond 64 bits")
    elif kind is str and not isinstance(value, str):
        raise ValueError(f"expected a string: {expected}; got {_show(value)}")
    _check_range(value, meta, expected)
    _check_choices(value, meta, expected)
    pattern = meta.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        raise ValueError(f"expected {expected}; got {_show(value)}")
    if meta.get("path"):
        return str((base_dir / value).resolve())
    return value


def _finite(value: int | float, meta: Mapping[str, Any], expected: str) -> float:
    """A float setting as a float; NaN and the infinities are refused because every comparison with
    NaN is false, so it passes any range check (an idle timeout of NaN ends every session at once)."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        low, high = meta.get("min"), meta.get("max")
        bounds = f", between {_num(low)} and {_num(high)}" if low is not None or high is not None else ""
        raise ValueError(f"expected a finite number: {expected}{bounds}; got {_show(value)}")
    return number


def _field_kind(spec: dataclasses.Field[Any]) -> Any:
    annotation = str(spec.type)
    if annotation.startswith("tuple"):
        return "tuple"
    return {"str": str, "int": int, "float": float, "bool": bool}[annotation]


def _check_range(value: Any, meta: Mapping[str, Any], expected: str) -> None:
    low, high = meta.get("min"), meta.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"expected {expected}, between {_num(low)} and {_num(high)}; got {_show(value)}")


def _check_choices(value: Any, meta: Mapping[str, Any], expected: str) -> None:
    choices = meta.get("choices")
    if choices and value not in choices:
        raise ValueError(f"expected one of {', '.join(choices)} ({expected}); got {_show(value)}")


def _check_cross_field(config: Config, config_path: Path, locator: _KeyLocator) -> None:
    for name, entry in config.devices.items():
        try:
            validate_entry(name, entry.driver, entry.url)  # e.g. a printer driver on a pcsc:// URL
        except ValueError as problem:
            key = f"devices.{name}.url"
            raise ConfigError(config_path, str(problem), key=key, line=locator.find(key)) from None
    if config.kiosk.language not in config.kiosk.languages:
        raise ConfigError(
            config_path,
            f"the default language must be one of kiosk.languages ({', '.join(config.kiosk.languages)})",
            key="kiosk.language",
            line=locator.find("kiosk.language"),
        )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10**18:
        return f"a number of {len(str(abs(value)))} digits"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else str(value)


MAX_DIGITS = 4300  # sys.int_info.default_max_str_digits


def _line_of_long_number(text: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.search(rf"[0-9_]{{{MAX_DIGITS + 1},}}", line):
            return number
    return None


def _line_from_toml_error(message: str) -> int | None:
    match = re.search(r"at line (\d+)", message)
    return int(match.group(1)) if match else None


class _KeyLocator:
    """Finds the line of a dotted key in TOML text (tomllib keeps no positions)."""

    _HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"']+)\s*=")

    def __init__(self, text: str):
        self._lines: dict[str, int] = {}
        table = ""
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                table = header.group(1).replace(" ", "")
                self._lines.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                name = key.group(1).strip("\"'")
                self._lines.setdefault(f"{table}.{name}" if table else name, number)

    def find(self, dotted: str) -> int | None:
        return self._lines.get(dotted)

    def key_at(self, line: int) -> str:
        """The dotted key defined on `line`, or ''."""
        return next((key for key, number in self._lines.items() if number == line and "." in key), "")
