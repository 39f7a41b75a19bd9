"""The technician's panel: the health report (devices, network, API, certificate, catalog,
queue, disk, memory, version, recent errors), paged, and the buttons to test each part.
The report and the tools come from kiosk.fleet through the staff desk."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kivy.properties import StringProperty

from kiosk.fleet.model import STATUS_WORDS
from screens.common import KioskScreen, load_kv, paginate, text_height, tr


class TechnicianScreen(KioskScreen):
    member_name = StringProperty("")
    result = StringProperty("")
    report_page = StringProperty("")

    def show(self, params: Mapping[str, Any]) -> None:
        member = self.ctx.staff.member
        self.member_name = member.name if member is not None else ""
        self.title = tr._("Modo técnico")
        self._lines: list[str] = []
        self._pages: list[list[int]] = [[]]
        self.refresh()

    def refresh(self) -> None:
        self.report_page = tr._("Revisando el kiosco…")
        self.ctx.staff.technician("report", self._reported)

    def _reported(self, outcome) -> None:
        if not outcome.ok:
            self.report_page, self._lines = outcome.message, []
            return
        self._lines = report_lines(outcome.value)
        label, font = self.ids.report, self.ctx.theme().body_px
        heights = [text_height(line, font, label.width) for line in self._lines]
        self._pages = paginate(heights, label.height, 0) if label.height > font else [list(range(len(heights)))]
        pager = self.ids.report_pager
        pager.count = len(self._pages)
        pager.page = min(pager.page, pager.count - 1)
        self.show_page(pager.page)

    def show_page(self, page: int) -> None:
        # One label per page: a single texture, cheap to draw on a software renderer.
        self.report_page = "\n".join(self._lines[index] for index in self._pages[page])

    def run_tool(self, tool: str) -> None:
        self.result = tr._("Probando…")
        self.ctx.staff.technician(tool, self._tool_done)

    def _tool_done(self, outcome) -> None:
        self.result = outcome.message or (tr._("Hecho.") if outcome.ok else tr._("Falló."))
        if outcome.ok:
            self.refresh()

    def reset(self) -> None:
        self._lines, self._pages = [], [[]]
        self.result = self.report_page = self.member_name = ""


def report_lines(report: Any) -> list[str]:
    """One line per check, the ones that need attention first (problems are what a technician
    came for), with the status in words as well as order; then the last errors, newest first."""
    checks = sorted(report.checks, key=lambda check: {"fail": 0, "warn": 1}.get(check.status, 2))
    marks = {status: f"[b]{tr._(word)}[/b]" for status, word in STATUS_WORDS.items()}
    lines = [f"{marks.get(check.status, check.status)} {check.name}: {check.value}"
             + (f" — {check.explanation}" if check.status != "ok" and check.explanation else "")
             for check in checks]
    if report.errors:
        lines.append(tr._("[b]Últimos errores ({count})[/b]").format(count=len(report.errors)))
        lines += [f"{time.strftime('%d/%m %H:%M:%S', time.localtime(entry.at))} {entry.level} {entry.event}"
                  for entry in report.errors]
    return lines


load_kv(__file__)
