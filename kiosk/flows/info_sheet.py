"""The printed information sheet for a procedure: the six answers on paper, with a QR code
to the procedure's page online. Free, and with no personal data on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devices.printer import InfoSheet
from kiosk.core.config import Config
from kiosk.flows.procedure_page import PageWriter

Record = Mapping[str, Any]


def online_url(record: Record) -> str:
    for channel in record.get("channels") or ():
        if channel.get("type") == "online" and channel.get("url"):
            return str(channel["url"])
    return ""


def make_sheet(record: Record, writer: PageWriter, config: Config, catalog: Callable[[str], Record | None],
               followers: Sequence[Record] = (), now: Callable[[], dt.datetime] = dt.datetime.now) -> InfoSheet:
    sections = tuple((section.title, section.lines) for section in writer.sections(record, catalog, followers))
    return InfoSheet(
        municipality=config.kiosk.municipality,
        title=writer.text(record.get("name")),
        sections=sections,
        qr=online_url(record),
        printed_at=now(),
        kiosk_id=config.kiosk.id,
        location=config.kiosk.location,
    )


class SheetPrinting:
    """'Imprimir esta información': build the sheet for the citizen's language and print it off
    the UI thread; `on_done(ok, problem)` gets a plain reason in that language when it fails."""

    def __init__(self, ctx: Any, printer: Any):
        self.ctx = ctx
        self.printer = printer

    def start(self, procedure_id: str, on_done: Callable[[bool, str], None]) -> bool:
        from devices.contract import reason

        catalog = self.ctx.catalog
        record = catalog.procedure(procedure_id)
        if record is None:
            return False
        sheet = make_sheet(record, PageWriter(self.ctx.translator), self.ctx.config, catalog.procedure,
                           catalog.followers(procedure_id))
        gettext = self.ctx.translator.gettext

        def printed(result: Any, error: Any) -> None:
            if result is not None and result.completed:
                on_done(True, "")
                return
            on_done(False, reason(error.code if error is not None else result.reason).text(gettext))

        self.printer.request(lambda: self.printer.print_sheet(sheet), printed)
        return True
