"""The health report's data: checks grouped in sections, with a plain-text and a JSON form.

A `Check` is one line a technician reads: a name, a status (`ok`, `warn`, `fail`), a short value
("ready, paper full"), an explanation that names the problem and what to do, and the raw numbers
behind it (for metrics, the heartbeat and `--json`). `warn` means the kiosk still works but needs
someone soon (paper low, catalog getting old); `fail` means part of its job cannot be done now.
Both need attention, and both make `kiosk diag` exit 1.

Nothing in a report is personal data or a secret: device URLs lose their query, the API URL its
user and query, and error lines were redacted when they were logged (kiosk/core/logs.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.core.i18n import N_
from kiosk.fleet.errorlog import ErrorEntry

Gettext = Callable[[str], str]  # a translator's gettext: Spanish msgid -> the reader's language


def spanish(message: str) -> str:
    """The gettext of the source language: the msgids are the Spanish texts."""
    return message


OK, WARN, FAIL = "ok", "warn", "fail"
STATUSES = (OK, WARN, FAIL)
_RANK = {OK: 0, WARN: 1, FAIL: 2}

# Section ids in display order, with their titles (Spanish msgids, translated where shown).
SECTIONS: dict[str, str] = {
    "devices": N_("Dispositivos"),
    "network": N_("Red y API"),
    "tls": N_("Certificado TLS"),
    "catalog": N_("Catálogo"),
    "queue": N_("Cola de transacciones"),
    "system": N_("Disco y memoria"),
    "application": N_("Aplicación y configuración"),
    "errors": N_("Errores recientes"),
}
# How a status reads in the text report.
STATUS_WORDS = {OK: N_("OK"), WARN: N_("AVISO"), FAIL: N_("FALLA")}


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=lambda status: _RANK[status], default=OK)


@dataclass(frozen=True)
class Check:
    section: str
    name: str  # stable id, e.g. "device.printer", "api", "catalog.age"
    status: str
    value: str  # short, for a table cell
    explanation: str = ""  # the problem and what to do; empty when ok
    raw: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.name}: status {self.status!r} is not one of {STATUSES}")
        if self.section not in SECTIONS:
            raise ValueError(f"check {self.name}: unknown section {self.section!r}")

    @property
    def needs_attention(self) -> bool:
        return self.status != OK

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "name": self.name, "status": self.status, "value": self.value,
                "explanation": self.explanation, "raw": dict(self.raw)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        return cls(str(data["section"]), str(data["name"]), str(data["status"]), str(data["value"]),
                   str(data.get("explanation", "")), dict(data.get("raw") or {}))


@dataclass(frozen=True)
class HealthReport:
    kiosk_id: str
    version: str
    generated_at: float  # Unix time
    checks: tuple[Check, ...]
    errors: tuple[ErrorEntry, ...] = ()  # the last 50 warnings and errors, newest first
    origin: str = "app"  # "app": collected inside the running kiosk; "shell": by `kiosk diag`

    @property
    def status(self) -> str:
        return worst(check.status for check in self.checks)

    @property
    def needs_attention(self) -> list[Check]:
        return [check for check in self.checks if check.needs_attention]

    def section(self, section: str) -> list[Check]:
        return [check for check in self.checks if check.section == section]

    def check(self, name: str) -> Check | None:
        return next((check for check in self.checks if check.name == name), None)

    def to_dict(self, _: Gettext = spanish) -> dict[str, Any]:
        return {
            "kiosk_id": self.kiosk_id,
            "version": self.version,
            "generated_at": self.generated_at,
            "generated_at_iso": _iso(self.generated_at),
            "origin": self.origin,
            "status": self.status,
            "needs_attention": [check.name for check in self.needs_attention],
            "sections": [{"id": section, "title": _(SECTIONS[section]),
                          "checks": [check.to_dict() for check in self.section(section)]}
                         for section in SECTIONS if self.section(section)],
            "errors": [entry.to_dict() for entry in self.errors],
        }

    def summary_line(self) -> str:
        """One line for systemd's STATUS= and logs, e.g. "ok" or "warn: device.printer, catalog.age"."""
        names = [check.name for check in self.needs_attention]
        return self.status if not names else f"{self.status}: {', '.join(names)}"

    def render_text(self, error_lines: int = 10, _: Gettext = spanish) -> str:
        """The report for a shell (`kiosk diag`), in the language of `_` (the texts of the checks
        were translated when they were made, by the Collector's translator)."""
        origin = _("aplicación") if self.origin == "app" else _("terminal")
        lines = [_("Kiosco {kiosk}  versión {version}  {when}  ({origin})").format(
                     kiosk=self.kiosk_id, version=self.version, when=_iso(self.generated_at), origin=origin),
                 _("General: {status}").format(status=_(STATUS_WORDS[self.status])), ""]
        width = max((len(check.name) for check in self.checks), default=10)
        words = {status: _(word) for status, word in STATUS_WORDS.items()}
        mark = max(len(word) for word in words.values())
        for section, title in SECTIONS.items():
            checks = self.section(section)
            if not checks:
                continue
            lines.append(_(title))
            for check in checks:
                lines.append(f"  [{words[check.status].ljust(mark)}] {check.name.ljust(width)}  {check.value}")
            lines.append("")
        if self.errors:
            lines.append(_("Últimos {shown} de {kept} avisos y errores guardados").format(
                shown=min(error_lines, len(self.errors)), kept=len(self.errors)))
            lines.extend(f"  {_iso(entry.at)} {entry.level:7} {entry.logger} {entry.event}"
                         for entry in self.errors[:error_lines])
            lines.append("")
        attention = self.needs_attention
        if attention:
            lines.append(_("Requiere atención ({count}):").format(count=len(attention)))
            lines.extend(f"  - {check.name}: {check.explanation or check.value}" for check in attention)
        else:
            lines.append(_("Nada requiere atención."))
        return "\n".join(lines)


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
