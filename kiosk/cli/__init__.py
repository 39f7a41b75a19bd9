"""The `kiosk` command line.

Each feature has its module of subcommands here, listed in COMMAND_MODULES; each exposes
`register(subparsers)`, which adds parsers whose `handler` default is a function taking the
parsed arguments and returning an exit status. Registration must stay cheap (argparse only);
heavy imports (Kivy, requests) happen inside the handlers so `kiosk --version` is instant.

Exit statuses: 0 success, 1 the command ran and something failed, 2 bad configuration or bad
command-line use. Errors print one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from kiosk import __version__
from kiosk.core.command_line import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_config_option,
    config_from_args,
)
from kiosk.core.config import ConfigError, resolve_config_path

COMMAND_MODULES = (
    "kiosk.cli.commands",
    "kiosk.cli.catalog",
    "kiosk.cli.devices",
    "kiosk.cli.transactions",
    "kiosk.cli.staff",
    "kiosk.cli.fleet",
)

log = logging.getLogger("kiosk.cli")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's default exits 2 with usage; keep it short
        self.print_usage(sys.stderr)
        print(f"kiosk: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kiosk", description="Municipal self-service kiosk")
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args) or EXIT_OK)
    except ConfigError as error:
        print(f"kiosk: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as error:
        print(f"kiosk: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        return 130


__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "add_config_option",
    "config_from_args",
    "main",
    "resolve_config_path",
]
