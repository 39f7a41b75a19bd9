"""Placeholder: the subcommands of this package are registered here."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    return None
