"""What every `kiosk` subcommand shares: exit statuses, the one error a command raises, and the
--config option. Argparse only, so any layer's commands can use it without importing the CLI.

Exit statuses: 0 success, 1 the command ran and something failed, 2 bad configuration or bad
command-line use.
"""

from __future__ import annotations

import argparse

from kiosk.core.config import Config, load_config
from kiosk.core.errors import KioskError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CommandError(KioskError):
    """A command failed in a way the user can understand; carries the exit status."""

    code = "command.failed"

    def __init__(self, message: str, status: int = EXIT_FAILED):
        super().__init__(message)
        self.status = status


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PATH", help="configuration file (default: $KIOSK_CONFIG or config/kiosk.toml)"
    )


def config_from_args(args: argparse.Namespace) -> Config:
    """Load the configuration named by --config/KIOSK_CONFIG; ConfigError becomes exit status 2."""
    return load_config(getattr(args, "config", None))
