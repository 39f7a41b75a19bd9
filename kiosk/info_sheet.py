"""The printed information sheet for a procedure: the six answers on paper, with a QR code
to the procedure's page online. Free, and with no personal data on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devices.printer import InfoSheet
from kiosk.config import Config
from kiosk.procedure_page import PageWriter

Record = Mapping[str, Any]


def online_url(record: Record) -> str:
    for channel in record.get("channels", ()):
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
