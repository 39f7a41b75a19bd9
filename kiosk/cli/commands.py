"""Foundation subcommands: run, tour, demo, config check."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kiosk.core.command_line import EXIT_OK, add_config_option, config_from_args
from kiosk.core.config import Config, load_config, resolve_config_path
from kiosk.core.logs import setup_logging
from kiosk.ui import kivyenv


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="open the kiosk full screen")
    add_config_option(run)
    run.set_defaults(handler=_run)

    tour = subparsers.add_parser("tour", help="visit every screen headless and write one PNG per screen")
    tour.add_argument("--out", required=True, metavar="DIR", help="directory for the screenshots")
    add_config_option(tour)
    tour.set_defaults(handler=_tour)

    demo = subparsers.add_parser(
        "demo", help="run the kiosk with the sample catalog and simulated devices (a tour when there is no display)"
    )
    demo.add_argument("--tour-out", default="tour", metavar="DIR", help="where a headless demo writes its tour")
    add_config_option(demo)
    demo.set_defaults(handler=_demo)

    config = subparsers.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_sub.add_parser("check", help="validate a configuration file and exit")
    check.add_argument("path", nargs="?", metavar="PATH", help="file to check (default: the active config)")
    check.set_defaults(handler=_config_check)


def _run(args: argparse.Namespace) -> int:
    return _run_kiosk(config_from_args(args))


def _run_kiosk(config: Config) -> int:
    setup_logging(config.log.level)
    kivyenv.prepare(config, headless=False)
    from kiosk.ui.app import run_kiosk

    return run_kiosk(config)


def _tour(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    from kiosk.ui.tour import run_tour

    written = run_tour(config, Path(args.out))
    print(f"tour: wrote {len(written)} screenshots to {Path(args.out).resolve()}")
    return EXIT_OK


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _demo(args: argparse.Namespace) -> int:
    from kiosk.ui.demo import sandbox_for_demo

    config = config_from_args(args)
    with sandbox_for_demo(config):
        if has_display():
            return _run_kiosk(config)
        from kiosk.ui.tour import run_tour

        out = Path(args.tour_out)
        written = run_tour(config, out)
    print("demo: no display found, so the kiosk ran headless through a scripted tour.")
    print(f"demo: {len(written)} screenshots are in {out.resolve()}/ ({', '.join(p.name for p in written)})")
    return EXIT_OK


def _config_check(args: argparse.Namespace) -> int:
    path = resolve_config_path(args.path)
    config = load_config(path)
    print(f"{path}: OK (kiosk {config.kiosk.id}, {len(config.devices)} devices)")
    return EXIT_OK
