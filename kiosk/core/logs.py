"""Structured log lines on stdout for journald, with personal data kept out.

Each record becomes one logfmt line: `level=INFO logger=kiosk.shell.idle event=session.wiped reason=idle`.
Callers pass an event name as the message and facts as `extra={"fields": {...}}`. Field values
that look like personal data (long digit runs such as card or ID numbers, e-mail addresses,
Mexican CURP/RFC codes) are masked as a second line of defence: the first is not logging them.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any, TextIO

# Card, phone or ID numbers, maybe spaced; not a part of a code such as a folio "EMO-01-261121-C0BA".
_NUMBER_RUN = re.compile(r"(?<![\w-])\d[\d -]{6,}\d(?![\w-])")
_PII_PATTERNS = (
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),                  # e-mail addresses
    re.compile(r"\b[A-Z]{4}\d{6}[HM][A-Z]{5}[A-Z0-9]\d\b"),   # CURP
    re.compile(r"\b[A-ZÑ&]{3,4}\d{6}[A-Z0-9]{3}\b"),           # RFC
)
_SAFE_VALUE = re.compile(r"^[\w.:/@+-]+$")


def _mask_long_numbers(match: re.Match[str]) -> str:
    # Eight or more digits is an identifier (a card or ID number); short groups such as the bytes
    # of a card's ATR ("96 00 80") or a folio are not.
    return "[redacted]" if sum(char.isdigit() for char in match.group()) >= 8 else match.group()


def redact(text: str) -> str:
    text = _NUMBER_RUN.sub(_mask_long_numbers, text)
    for pattern in _PII_PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


def _quote(value: Any) -> str:
    text = redact(str(value))
    if text and _SAFE_VALUE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        parts = [
            f"ts={stamp}.{int(record.msecs):03d}",
            f"level={record.levelname}",
            f"logger={record.name}",
            f"event={_quote(record.getMessage())}",
        ]
        for key, value in getattr(record, "fields", {}).items():
            parts.append(f"{key}={_quote(value)}")
        if record.exc_info:
            kind = record.exc_info[0].__name__ if record.exc_info[0] else "Exception"
            parts.append(f"error={_quote(kind + ': ' + str(record.exc_info[1]))}")
        return " ".join(parts)


_HANDLER_MARK = "_kiosk_handler"


def setup_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route every logger (ours and Kivy's) to one structured handler on stdout."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(LogfmtFormatter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party chatter stays at WARNING unless the technician asks for DEBUG.
    for noisy in ("urllib3", "PIL", "kivy"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event: `event(log, "session.wiped", reason="idle")`."""
    logger.log(level, name, extra={"fields": fields})
